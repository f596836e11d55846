#include "runtime/cgroup/device_filter.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "base/unique_fd.h"

namespace berth::runtime::cgroup {
namespace {

bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i;
  std::memset(&i, 0, sizeof i);
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}

bpf_insn ldx_w(uint8_t dst, uint8_t src, int16_t off) { return insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0); }
bpf_insn mov_reg(uint8_t dst, uint8_t src) { return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0); }
bpf_insn mov_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm); }
bpf_insn and_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_AND | BPF_K, dst, 0, 0, imm); }
bpf_insn rsh_imm(uint8_t dst, int32_t imm) { return insn(BPF_ALU64 | BPF_RSH | BPF_K, dst, 0, 0, imm); }
bpf_insn jne_imm(uint8_t dst, int32_t imm, int16_t off) { return insn(BPF_JMP | BPF_JNE | BPF_K, dst, 0, off, imm); }
bpf_insn jeq_imm(uint8_t dst, int32_t imm, int16_t off) { return insn(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, off, imm); }
bpf_insn exit_insn() { return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

int32_t access_bits(const std::string& access) {
  if (access.empty()) return BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE;
  int32_t bits = 0;
  for (char c : access) {
    if (c == 'm') bits |= BPF_DEVCG_ACC_MKNOD;
    if (c == 'r') bits |= BPF_DEVCG_ACC_READ;
    if (c == 'w') bits |= BPF_DEVCG_ACC_WRITE;
  }
  return bits;
}

long sys_bpf(int cmd, bpf_attr* attr) { return ::syscall(SYS_bpf, cmd, attr, sizeof(*attr)); }

}  // namespace

std::vector<bpf_insn> build_device_program(const std::vector<oci::DeviceCgroupRule>& rules) {
  std::vector<bpf_insn> p;
  p.push_back(ldx_w(2, 1, offsetof(bpf_cgroup_dev_ctx, access_type)));
  p.push_back(mov_reg(3, 2));
  p.push_back(and_imm(3, 0xffff));
  p.push_back(mov_reg(4, 2));
  p.push_back(rsh_imm(4, 16));
  p.push_back(ldx_w(5, 1, offsetof(bpf_cgroup_dev_ctx, major)));
  p.push_back(ldx_w(6, 1, offsetof(bpf_cgroup_dev_ctx, minor)));
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    const auto& r = *it;
    // Build the block with jump offsets meaning "to the end of this block", then fix them up.
    std::vector<bpf_insn> b;
    std::vector<size_t> jumps;
    if (r.type == "b" || r.type == "c") {
      jumps.push_back(b.size());
      b.push_back(jne_imm(3, r.type == "b" ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0));
    }
    int32_t acc = access_bits(r.access);
    if (acc != (BPF_DEVCG_ACC_MKNOD | BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE) || !r.allow) {
      b.push_back(mov_reg(7, 4));
      if (r.allow) {
        b.push_back(and_imm(7, ~acc & 0x7));  // a requested bit outside the rule: no match
        jumps.push_back(b.size());
        b.push_back(jne_imm(7, 0, 0));
      } else {
        b.push_back(and_imm(7, acc));  // no requested bit inside the rule: no match
        jumps.push_back(b.size());
        b.push_back(jeq_imm(7, 0, 0));
      }
    }
    if (r.major && *r.major >= 0) {
      jumps.push_back(b.size());
      b.push_back(jne_imm(5, static_cast<int32_t>(*r.major), 0));
    }
    if (r.minor && *r.minor >= 0) {
      jumps.push_back(b.size());
      b.push_back(jne_imm(6, static_cast<int32_t>(*r.minor), 0));
    }
    b.push_back(mov_imm(0, r.allow ? 1 : 0));
    b.push_back(exit_insn());
    for (size_t j : jumps) b[j].off = static_cast<int16_t>(b.size() - j - 1);
    p.insert(p.end(), b.begin(), b.end());
  }
  p.push_back(mov_imm(0, 1));
  p.push_back(exit_insn());
  return p;
}

Status install_device_filter(const std::string& dir, const std::vector<oci::DeviceCgroupRule>& rules) {
  UniqueFd cg(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cg) return fail_errno("open cgroup `{}`", dir);

  // Programs attached before (an update replaces them).
  uint32_t old_ids[64];
  uint32_t old_count = 0;
  {
    bpf_attr q;
    std::memset(&q, 0, sizeof q);
    q.query.target_fd = static_cast<uint32_t>(cg.get());
    q.query.attach_type = BPF_CGROUP_DEVICE;
    q.query.prog_ids = reinterpret_cast<uint64_t>(old_ids);
    q.query.prog_cnt = 64;
    if (sys_bpf(BPF_PROG_QUERY, &q) == 0) old_count = q.query.prog_cnt;
  }

  std::vector<bpf_insn> prog = build_device_program(rules);
  char log_buf[8192];
  log_buf[0] = 0;
  bpf_attr load;
  std::memset(&load, 0, sizeof load);
  load.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  load.insns = reinterpret_cast<uint64_t>(prog.data());
  load.insn_cnt = static_cast<uint32_t>(prog.size());
  load.license = reinterpret_cast<uint64_t>("Apache");
  std::memcpy(load.prog_name, "berth_dev", 10);
  UniqueFd pfd(static_cast<int>(sys_bpf(BPF_PROG_LOAD, &load)));
  if (!pfd) {
    int e = errno;
    // Retry with the verifier log only on failure: logging costs time on the hot path (and the kernel
    // refuses a log buffer with log_level 0).
    load.log_buf = reinterpret_cast<uint64_t>(log_buf);
    load.log_size = sizeof log_buf;
    load.log_level = 1;
    UniqueFd again(static_cast<int>(sys_bpf(BPF_PROG_LOAD, &load)));
    return fail_errno_n(e, "load cgroup device eBPF program ({} instructions){}{}", prog.size(),
                        log_buf[0] ? ": " : "", log_buf);
  }

  bpf_attr at;
  std::memset(&at, 0, sizeof at);
  at.target_fd = static_cast<uint32_t>(cg.get());
  at.attach_bpf_fd = static_cast<uint32_t>(pfd.get());
  at.attach_type = BPF_CGROUP_DEVICE;
  at.attach_flags = BPF_F_ALLOW_MULTI;
  if (sys_bpf(BPF_PROG_ATTACH, &at) != 0) return fail_errno("attach device eBPF program to `{}`", dir);

  for (uint32_t i = 0; i < old_count; ++i) {
    bpf_attr g;
    std::memset(&g, 0, sizeof g);
    g.prog_id = old_ids[i];
    UniqueFd old(static_cast<int>(sys_bpf(BPF_PROG_GET_FD_BY_ID, &g)));
    if (!old) continue;  // already gone
    bpf_attr d;
    std::memset(&d, 0, sizeof d);
    d.target_fd = static_cast<uint32_t>(cg.get());
    d.attach_bpf_fd = static_cast<uint32_t>(old.get());
    d.attach_type = BPF_CGROUP_DEVICE;
    if (sys_bpf(BPF_PROG_DETACH, &d) != 0 && errno != ENOENT)
      return fail_errno("detach old device eBPF program {} from `{}`", old_ids[i], dir);
  }
  return ok();
}

}  // namespace berth::runtime::cgroup
