#include "runtime/seccomp/seccomp.h"

#include <fcntl.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <memory>

#include "base/file.h"
#include "base/json_escape.h"
#include "sys/fd_passing.h"

namespace berth::runtime::seccomp {
namespace {

struct ActionName {
  const char* name;
  uint32_t action;  // without the errno part
  bool takes_errno;
};
constexpr ActionName kActions[] = {
    {"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, false},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, false},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true},
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, false},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, false},
};

struct OpName {
  const char* name;
  scmp_compare op;
};
constexpr OpName kOps[] = {
    {"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_LE", SCMP_CMP_LE},
    {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
};

struct ArchName {
  const char* name;
  uint32_t token;
};
constexpr ArchName kArchs[] = {
    {"SCMP_ARCH_X86", SCMP_ARCH_X86},
    {"SCMP_ARCH_X86_64", SCMP_ARCH_X86_64},
    {"SCMP_ARCH_X32", SCMP_ARCH_X32},
    {"SCMP_ARCH_ARM", SCMP_ARCH_ARM},
    {"SCMP_ARCH_AARCH64", SCMP_ARCH_AARCH64},
    {"SCMP_ARCH_MIPS", SCMP_ARCH_MIPS},
    {"SCMP_ARCH_MIPS64", SCMP_ARCH_MIPS64},
    {"SCMP_ARCH_MIPS64N32", SCMP_ARCH_MIPS64N32},
    {"SCMP_ARCH_MIPSEL", SCMP_ARCH_MIPSEL},
    {"SCMP_ARCH_MIPSEL64", SCMP_ARCH_MIPSEL64},
    {"SCMP_ARCH_MIPSEL64N32", SCMP_ARCH_MIPSEL64N32},
    {"SCMP_ARCH_PPC", SCMP_ARCH_PPC},
    {"SCMP_ARCH_PPC64", SCMP_ARCH_PPC64},
    {"SCMP_ARCH_PPC64LE", SCMP_ARCH_PPC64LE},
    {"SCMP_ARCH_S390", SCMP_ARCH_S390},
    {"SCMP_ARCH_S390X", SCMP_ARCH_S390X},
    {"SCMP_ARCH_PARISC", SCMP_ARCH_PARISC},
    {"SCMP_ARCH_PARISC64", SCMP_ARCH_PARISC64},
    {"SCMP_ARCH_RISCV64", SCMP_ARCH_RISCV64},
#ifdef SCMP_ARCH_LOONGARCH64
    {"SCMP_ARCH_LOONGARCH64", SCMP_ARCH_LOONGARCH64},
#endif
};

constexpr const char* kFlagTsync = "SECCOMP_FILTER_FLAG_TSYNC";
constexpr const char* kFlagLog = "SECCOMP_FILTER_FLAG_LOG";
constexpr const char* kFlagSpecAllow = "SECCOMP_FILTER_FLAG_SPEC_ALLOW";
constexpr const char* kFlagWaitKillable = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV";

// Linux syscalls take at most 6 arguments.
constexpr uint32_t kMaxArgs = 6;
// Beyond MAX_ERRNO (4095) the kernel's errno semantics break; libseccomp keeps 16 bits.
constexpr uint32_t kMaxErrno = 4095;

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Ctx = std::unique_ptr<void, CtxDeleter>;

Result<uint32_t> action_for(std::string_view field, const std::string& name, const std::optional<uint32_t>& errno_ret,
                            std::string_view errno_field) {
  for (const auto& a : kActions) {
    if (name != a.name) continue;
    if (!a.takes_errno) {
      if (errno_ret)
        return fail(Errc::InvalidArgument, "{}: {} does not take an errno, but {} is set", field, name,
                    errno_field);
      return a.action;
    }
    uint32_t e = errno_ret.value_or(EPERM);
    if (e > kMaxErrno) return fail(Errc::InvalidArgument, "{}: {} out of range (0-{})", errno_field, e, kMaxErrno);
    return a.action == SCMP_ACT_ERRNO(0) ? SCMP_ACT_ERRNO(e) : SCMP_ACT_TRACE(e);
  }
  return fail(Errc::InvalidArgument, "{}: unknown action \"{}\"", field, name);
}

std::string lib_error(int rc) { return std::strerror(-rc); }

// ---- The -ENOSYS stub (runc's behaviour, our own code) ----
// With a deny-by-default profile, a syscall newer than anything the profile mentions would get the default
// errno (usually EPERM), and glibc/musl treat EPERM as a real failure instead of falling back to an older
// syscall (clone3 -> clone, faccessat2 -> faccessat, ...). So, per architecture, syscall numbers above the
// largest one named in the profile return ENOSYS before the libseccomp filter runs.
constexpr uint32_t kX32Bit = 0x40000000;  // __X32_SYSCALL_BIT

struct ArchMax {
  uint32_t audit_arch;  // what seccomp_data.arch holds
  bool has_x64 = false, has_x32 = false;
  uint32_t max_x64 = 0, max_x32 = 0;  // for x86_64; other arches use max_x64
};

sock_filter stmt(uint16_t code, uint32_t k) { return sock_filter{code, 0, 0, k}; }
sock_filter jump(uint16_t code, uint32_t k, uint8_t jt, uint8_t jf) { return sock_filter{code, jt, jf, k}; }

std::vector<sock_filter> enosys_stub(const oci::Seccomp& config) {
  std::vector<ArchMax> arches;
  for (const auto& name : config.architectures) {
    const ArchName* a = nullptr;
    for (const auto& x : kArchs)
      if (name == x.name) a = &x;
    if (!a) continue;
    const bool x32 = a->token == SCMP_ARCH_X32;
    const uint32_t audit = x32 ? SCMP_ARCH_X86_64 : a->token;
    int max = 0;
    for (const auto& sc : config.syscalls)
      for (const auto& n : sc.names) {
        int nr = seccomp_syscall_resolve_name_arch(a->token, n.c_str());
        if (nr > max) max = nr;  // pseudo-syscalls (negative) and unknown names do not count
      }
    if (max <= 0) continue;
    ArchMax* m = nullptr;
    for (auto& e : arches)
      if (e.audit_arch == audit) m = &e;
    if (!m) m = &arches.emplace_back(ArchMax{audit});
    if (x32) {
      m->has_x32 = true;
      m->max_x32 = static_cast<uint32_t>(max);
    } else {
      m->has_x64 = true;
      m->max_x64 = static_cast<uint32_t>(max);
    }
  }
  if (arches.empty()) return {};

  const uint32_t ret_enosys = SCMP_ACT_ERRNO(ENOSYS);
  std::vector<sock_filter> out;
  std::vector<size_t> to_filter;  // indexes of `ja` instructions that must land on the filter's first insn
  auto ja_filter = [&] {
    to_filter.push_back(out.size());
    out.push_back(stmt(BPF_JMP | BPF_JA, 0));
  };
  // "nr > max ? ENOSYS : filter" in 3 instructions.
  auto check = [&](uint32_t max) {
    out.push_back(jump(BPF_JMP | BPF_JGT | BPF_K, max, 0, 1));
    out.push_back(stmt(BPF_RET | BPF_K, ret_enosys));
    ja_filter();
  };

  out.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  for (const auto& m : arches) {
    const bool x86_64 = m.audit_arch == SCMP_ARCH_X86_64;
    // Section length: ld nr + (x86_64: jset + two parts) or one check.
    const size_t part64 = m.has_x64 ? 3 : 1, part32 = m.has_x32 ? 3 : 1;
    const size_t section = 1 + (x86_64 ? 1 + part64 + part32 : 3);
    out.push_back(jump(BPF_JMP | BPF_JEQ | BPF_K, m.audit_arch, 0, static_cast<uint8_t>(section)));
    out.push_back(stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)));
    if (!x86_64) {
      check(m.max_x64);
      continue;
    }
    out.push_back(jump(BPF_JMP | BPF_JSET | BPF_K, kX32Bit, static_cast<uint8_t>(part64), 0));
    if (m.has_x64) check(m.max_x64); else ja_filter();
    if (m.has_x32) check(m.max_x32); else ja_filter();
  }
  ja_filter();  // any other architecture: straight to the filter (its bad-arch action applies)
  for (size_t i : to_filter) out[i].k = static_cast<uint32_t>(out.size() - (i + 1));
  return out;
}

bool is_permissive(const std::string& action) {
  // A tracer or a logging/allowing default should see new syscalls as they are.
  return action == "SCMP_ACT_ALLOW" || action == "SCMP_ACT_LOG" || action == "SCMP_ACT_TRACE";
}

}  // namespace

Result<Program> compile(const oci::Seccomp& config) {
  constexpr std::string_view kField = "linux.seccomp";
  Program prog;
  const uint32_t def = BERTH_TRY(action_for(fmt::format("{}.defaultAction", kField), config.default_action,
                                            config.default_errno_ret, "linux.seccomp.defaultErrnoRet"));
  if (def == SCMP_ACT_NOTIFY)
    return fail(Errc::InvalidArgument, "{}.defaultAction: SCMP_ACT_NOTIFY cannot be the default action", kField);

  Ctx ctx(seccomp_init(def));
  if (!ctx) return fail(Errc::Internal, "seccomp_init failed");
  // The filter is loaded by install(), not libseccomp; NO_NEW_PRIVS is the runtime's business.
  if (int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0); rc != 0)
    return fail(Errc::Internal, "seccomp: unset NNP attribute: {}", lib_error(rc));

  for (size_t i = 0; i < config.architectures.size(); ++i) {
    const std::string& name = config.architectures[i];
    const ArchName* found = nullptr;
    for (const auto& a : kArchs)
      if (name == a.name) found = &a;
    if (!found)
      return fail(Errc::InvalidArgument, "{}.architectures[{}]: unknown architecture \"{}\"", kField, i, name);
    int rc = seccomp_arch_add(ctx.get(), found->token);
    if (rc != 0 && rc != -EEXIST)
      return fail(Errc::InvalidArgument, "{}.architectures[{}]: cannot add {}: {}", kField, i, name, lib_error(rc));
  }

  bool wait_killable = false;
  for (size_t i = 0; i < config.flags.size(); ++i) {
    const std::string& f = config.flags[i];
    if (f == kFlagTsync) continue;
    if (f == kFlagLog)
      prog.flags |= SECCOMP_FILTER_FLAG_LOG;
    else if (f == kFlagSpecAllow)
      prog.flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    else if (f == kFlagWaitKillable)
      wait_killable = true;
    else
      return fail(Errc::InvalidArgument, "{}.flags[{}]: unknown flag \"{}\"", kField, i, f);
  }

  // libseccomp's binary-tree optimisation pays off for long profiles (docker's default has ~360 syscalls);
  // runc enables it above 32 rules (we count names: one rule may list hundreds).
  size_t n_names = 0;
  for (const auto& sc : config.syscalls) n_names += sc.names.size();
  if (n_names > 32) (void)seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_OPTIMIZE, 2);

  for (size_t i = 0; i < config.syscalls.size(); ++i) {
    const oci::SeccompSyscall& sc = config.syscalls[i];
    const std::string field = fmt::format("{}.syscalls[{}]", kField, i);
    const uint32_t act =
        BERTH_TRY(action_for(field + ".action", sc.action, sc.errno_ret, field + ".errnoRet"));
    if (sc.names.empty()) return fail(Errc::InvalidArgument, "{}.names: empty", field);

    scmp_arg_cmp conds[16];
    uint32_t per_index[kMaxArgs] = {};
    bool repeated_index = false;
    if (sc.args.size() > sizeof conds / sizeof conds[0])
      return fail(Errc::InvalidArgument, "{}.args: more than {} conditions", field, sizeof conds / sizeof conds[0]);
    for (size_t j = 0; j < sc.args.size(); ++j) {
      const oci::SeccompArg& a = sc.args[j];
      if (a.index >= kMaxArgs)
        return fail(Errc::InvalidArgument, "{}.args[{}].index: {} out of range (0-{})", field, j, a.index, kMaxArgs - 1);
      const OpName* op = nullptr;
      for (const auto& o : kOps)
        if (a.op == o.name) op = &o;
      if (!op) return fail(Errc::InvalidArgument, "{}.args[{}].op: unknown operator \"{}\"", field, j, a.op);
      conds[j] = scmp_arg_cmp{a.index, op->op, a.value, a.value_two};
      if (++per_index[a.index] > 1) repeated_index = true;
    }

    if (act == SCMP_ACT_NOTIFY) {
      prog.uses_notify = true;
      for (size_t k = 0; k < sc.names.size(); ++k)
        if (sc.names[k] == "write" || sc.names[k] == "sendmsg")
          return fail(Errc::InvalidArgument, "{}.names[{}]: SCMP_ACT_NOTIFY cannot be used for {}", field, k,
                      sc.names[k]);
    }
    if (act == def) continue;  // redundant; libseccomp would refuse it

    for (size_t k = 0; k < sc.names.size(); ++k) {
      const std::string& name = sc.names[k];
      if (name.empty()) return fail(Errc::InvalidArgument, "{}.names[{}]: empty syscall name", field, k);
      int nr = seccomp_syscall_resolve_name(name.c_str());
      if (nr == __NR_SCMP_ERROR) continue;  // unknown to libseccomp: skipped, as runc does
      auto add = [&](unsigned n, const scmp_arg_cmp* c) -> Status {
        int rc = seccomp_rule_add_array(ctx.get(), act, nr, n, c);
        if (rc != 0)
          return fail(Errc::InvalidArgument, "{}.names[{}]: cannot add rule for {}: {}", field, k, name,
                      lib_error(rc));
        return ok();
      };
      if (sc.args.empty() || !repeated_index) {
        BERTH_TRY(add(static_cast<unsigned>(sc.args.size()), conds));
      } else {
        for (size_t j = 0; j < sc.args.size(); ++j) BERTH_TRY(add(1, &conds[j]));
      }
    }
  }

  if (prog.uses_notify) {
    if (config.listener_path.empty())
      return fail(Errc::InvalidArgument, "{}.listenerPath: required when SCMP_ACT_NOTIFY is used", kField);
    prog.flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
    if (wait_killable) prog.flags |= SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
    prog.listener_path = config.listener_path;
    prog.listener_metadata = config.listener_metadata;
  }

  UniqueFd mem(static_cast<int>(::syscall(SYS_memfd_create, "berth-seccomp", MFD_CLOEXEC)));
  if (!mem) return fail_errno("seccomp: memfd_create");
  if (int rc = seccomp_export_bpf(ctx.get(), mem.get()); rc != 0)
    return fail(Errc::Internal, "seccomp: export BPF: {}", lib_error(rc));
  if (::lseek(mem.get(), 0, SEEK_SET) != 0) return fail_errno("seccomp: lseek");
  std::string bytes = BERTH_TRY(read_fd(mem.get(), 16 << 20));
  if (bytes.empty() || bytes.size() % sizeof(sock_filter) != 0)
    return fail(Errc::Internal, "seccomp: exported program has odd size {}", bytes.size());
  std::vector<sock_filter> stub;
  if (!is_permissive(config.default_action) && config.default_errno_ret.value_or(EPERM) != ENOSYS)
    stub = enosys_stub(config);
  const size_t n = bytes.size() / sizeof(sock_filter);
  if (stub.size() + n > BPF_MAXINSNS)
    return fail(Errc::InvalidArgument, "{}: profile compiles to {} BPF instructions, above the kernel limit {}", kField,
                stub.size() + n, BPF_MAXINSNS);
  prog.insns = std::move(stub);
  prog.insns.resize(prog.insns.size() + n);
  std::memcpy(prog.insns.data() + (prog.insns.size() - n), bytes.data(), bytes.size());
  return prog;
}

namespace {

// SHA-256 (FIPS 180-4) for the cache key. Local on purpose: berth-runtime is linked statically and must not
// pull libcrypto in through oci/digest.
class Sha256 {
 public:
  void update(std::string_view d) {
    for (char c : d) {
      buf_[n_++] = static_cast<uint8_t>(c);
      if (n_ == 64) block();
    }
    len_ += d.size();
  }
  std::string hex() {
    uint64_t bits = len_ * 8;
    buf_[n_++] = 0x80;
    if (n_ > 56) {
      while (n_ < 64) buf_[n_++] = 0;
      block();
    }
    while (n_ < 56) buf_[n_++] = 0;
    for (int i = 7; i >= 0; --i) buf_[n_++] = static_cast<uint8_t>(bits >> (i * 8));
    block();
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (uint32_t w : h_)
      for (int i = 28; i >= 0; i -= 4) out += kHex[(w >> i) & 0xf];
    return out;
  }

 private:
  static uint32_t rotr(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
  void block() {
    static constexpr uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
    uint32_t w[64];
    for (int i = 0; i < 16; ++i)
      w[i] = (uint32_t{buf_[4 * i]} << 24) | (uint32_t{buf_[4 * i + 1]} << 16) | (uint32_t{buf_[4 * i + 2]} << 8) |
             uint32_t{buf_[4 * i + 3]};
    for (int i = 16; i < 64; ++i) {
      uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h_[0], b = h_[1], c = h_[2], d = h_[3], e = h_[4], f = h_[5], g = h_[6], h = h_[7];
    for (int i = 0; i < 64; ++i) {
      uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      h = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h_[0] += a;
    h_[1] += b;
    h_[2] += c;
    h_[3] += d;
    h_[4] += e;
    h_[5] += f;
    h_[6] += g;
    h_[7] += h;
    n_ = 0;
  }

  uint32_t h_[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  uint8_t buf_[64] = {};
  size_t n_ = 0;
  uint64_t len_ = 0;
};

std::string sha256_hex(std::string_view data) {
  Sha256 h;
  h.update(data);
  return h.hex();
}

// Cache file layout (host byte order; the cache never leaves the machine):
//   CacheHeader | sock_filter[n_insns]
struct CacheHeader {
  char magic[8];  // "BERTHBPF"
  uint32_t version;
  uint32_t flags;
  uint32_t uses_notify;
  uint32_t n_insns;
  char key[64];  // hex SHA-256, must match the file name
};
constexpr char kCacheMagic[8] = {'B', 'E', 'R', 'T', 'H', 'B', 'P', 'F'};
constexpr uint32_t kCacheVersion = 1;

std::optional<Program> cache_load(const std::string& path, const std::string& key) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return std::nullopt;
  struct stat st;
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  const size_t max = sizeof(CacheHeader) + size_t{BPF_MAXINSNS} * sizeof(sock_filter);
  if (st.st_size < static_cast<off_t>(sizeof(CacheHeader)) || static_cast<size_t>(st.st_size) > max) return std::nullopt;
  auto bytes = read_fd(fd.get(), max);
  if (!bytes || bytes->size() < sizeof(CacheHeader)) return std::nullopt;
  CacheHeader h;
  std::memcpy(&h, bytes->data(), sizeof h);
  if (std::memcmp(h.magic, kCacheMagic, sizeof h.magic) != 0 || h.version != kCacheVersion) return std::nullopt;
  if (key.size() != sizeof h.key || std::memcmp(h.key, key.data(), sizeof h.key) != 0) return std::nullopt;
  if (h.n_insns == 0 || h.n_insns > BPF_MAXINSNS ||
      bytes->size() != sizeof h + size_t{h.n_insns} * sizeof(sock_filter))
    return std::nullopt;
  Program p;
  p.flags = h.flags;
  p.uses_notify = h.uses_notify != 0;
  p.insns.resize(h.n_insns);
  std::memcpy(p.insns.data(), bytes->data() + sizeof h, h.n_insns * sizeof(sock_filter));
  return p;
}

void cache_store(const std::string& dir, const std::string& key, const Program& p) {
  CacheHeader h{};
  std::memcpy(h.magic, kCacheMagic, sizeof h.magic);
  h.version = kCacheVersion;
  h.flags = p.flags;
  h.uses_notify = p.uses_notify ? 1 : 0;
  h.n_insns = static_cast<uint32_t>(p.insns.size());
  std::memcpy(h.key, key.data(), std::min(key.size(), sizeof h.key));
  std::string data(reinterpret_cast<const char*>(&h), sizeof h);
  data.append(reinterpret_cast<const char*>(p.insns.data()), p.insns.size() * sizeof(sock_filter));
  if (!mkdir_all(dir, 0700)) return;
  std::string tmp = fmt::format("{}/.{}.tmp.{}", dir, key, ::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return;
  bool ok_write = static_cast<bool>(write_all(fd.get(), data));
  fd.reset();
  if (!ok_write || ::rename(tmp.c_str(), fmt::format("{}/{}.bpf", dir, key).c_str()) != 0) ::unlink(tmp.c_str());
}

}  // namespace

std::string cache_key(const oci::Seccomp& c) {
  std::string m;
  auto put = [&](std::string_view v) {
    m += std::to_string(v.size());
    m += ':';
    m += v;
  };
  auto put_num = [&](uint64_t v) { put(std::to_string(v)); };
  const scmp_version* v = seccomp_version();
  put("berth-seccomp-1");
  put(fmt::format("libseccomp {}.{}.{} native {:#x}", v->major, v->minor, v->micro, seccomp_arch_native()));
  put(c.default_action);
  put(c.default_errno_ret ? std::to_string(*c.default_errno_ret) : "-");
  put_num(c.architectures.size());
  for (const auto& a : c.architectures) put(a);
  put_num(c.flags.size());
  for (const auto& f : c.flags) put(f);
  put(c.listener_path.empty() ? "no-listener" : "listener");
  put_num(c.syscalls.size());
  for (const auto& sc : c.syscalls) {
    put_num(sc.names.size());
    for (const auto& n : sc.names) put(n);
    put(sc.action);
    put(sc.errno_ret ? std::to_string(*sc.errno_ret) : "-");
    put_num(sc.args.size());
    for (const auto& a : sc.args) {
      put_num(a.index);
      put_num(a.value);
      put_num(a.value_two);
      put(a.op);
    }
  }
  return sha256_hex(m);
}

std::string sha256_hex_for_test(std::string_view data) { return sha256_hex(data); }

Result<Program> compile_cached(const oci::Seccomp& config, const std::string& cache_dir) {
  const std::string key = cache_key(config);
  if (auto hit = cache_load(fmt::format("{}/{}.bpf", cache_dir, key), key)) {
    if (hit->uses_notify) {
      hit->listener_path = config.listener_path;
      hit->listener_metadata = config.listener_metadata;
    }
    return std::move(*hit);
  }
  Program p = BERTH_TRY(compile(config));
  cache_store(cache_dir, key, p);
  return p;
}

Result<int> install(const Program& program) {
  sock_fprog fprog{};
  fprog.len = static_cast<unsigned short>(program.insns.size());
  fprog.filter = const_cast<sock_filter*>(program.insns.data());
  long rc = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, program.flags, &fprog);
  if (rc < 0) {
    if (errno == EACCES)
      return fail(Error(Errc::PermissionDenied,
                        "install seccomp filter: needs no_new_privs or CAP_SYS_ADMIN (Permission denied)", EACCES));
    return fail_errno("install seccomp filter (flags {:#x})", program.flags);
  }
  if (!program.uses_notify) return -1;
  // The listener fd is created close-on-exec by the kernel.
  return static_cast<int>(rc);
}

std::string container_process_state(std::string_view oci_version, pid_t pid, std::string_view metadata,
                                    std::string_view state_json) {
  return fmt::format(R"({{"ociVersion":"{}","fds":["seccompFd"],"pid":{},"metadata":"{}","state":{}}})",
                     json_escape(oci_version), pid, json_escape(metadata), state_json.empty() ? "{}" : state_json);
}

Result<UniqueFd> connect_listener(const std::string& listener_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (listener_path.empty() || listener_path.size() >= sizeof addr.sun_path)
    return fail(Errc::InvalidArgument, "seccomp listenerPath `{}`: empty or too long for a unix socket",
                listener_path);
  std::memcpy(addr.sun_path, listener_path.data(), listener_path.size());
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return fail_errno("socket");
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    if (e == ENOENT || e == ECONNREFUSED)
      return fail(Error(Errc::Unavailable,
                        fmt::format("connect to seccomp agent at `{}`: {}", listener_path, std::strerror(e)), e));
    return fail_errno_n(e, "connect to seccomp agent at `{}`", listener_path);
  }
  return s;
}

Status send_listener_fd_on(int sock, std::string_view process_state_json, int listener_fd) {
  auto n = sys::send_with_fd(sock, process_state_json, listener_fd);
  if (!n) return fail(std::move(n).error().wrap("send seccomp listener fd to the agent"));
  // The fd went with the first byte; send whatever did not fit.
  if (*n < process_state_json.size()) BERTH_TRY(write_all(sock, process_state_json.substr(*n)));
  return ok();
}

Status send_listener_fd(const std::string& listener_path, std::string_view process_state_json, int listener_fd) {
  UniqueFd s = BERTH_TRY(connect_listener(listener_path));
  if (auto st = send_listener_fd_on(s.get(), process_state_json, listener_fd); !st)
    return fail(std::move(st).error().wrap(fmt::format("seccomp agent at `{}`", listener_path)));
  return ok();
}

std::vector<std::string> known_actions() {
  std::vector<std::string> v;
  for (const auto& a : kActions) v.emplace_back(a.name);
  return v;
}
std::vector<std::string> known_operators() {
  std::vector<std::string> v;
  for (const auto& o : kOps) v.emplace_back(o.name);
  return v;
}
std::vector<std::string> known_architectures() {
  std::vector<std::string> v;
  for (const auto& a : kArchs) v.emplace_back(a.name);
  return v;
}
std::vector<std::string> known_flags() { return {kFlagTsync, kFlagLog, kFlagSpecAllow, kFlagWaitKillable}; }

}  // namespace berth::runtime::seccomp
