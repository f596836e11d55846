// The eBPF device program is checked by running it in a small interpreter of the instructions it uses
// (the kernel verifier and a real attach are in cgroup_root_test.cc).
#include "runtime/cgroup/device_filter.h"

#include <gtest/gtest.h>

#include <cstring>

namespace berth::runtime::cgroup {
namespace {

// Returns r0, or -1 for an instruction outside the subset (or a jump out of the program).
int64_t run(const std::vector<bpf_insn>& prog, uint32_t type, uint32_t access, uint32_t major, uint32_t minor) {
  bpf_cgroup_dev_ctx ctx{(access << 16) | type, major, minor};
  uint64_t r[11] = {};
  for (size_t pc = 0; pc < prog.size(); ++pc) {
    const bpf_insn& i = prog[pc];
    switch (i.code) {
      case BPF_LDX | BPF_W | BPF_MEM: {
        if (i.src_reg != 1 || i.off < 0 || static_cast<size_t>(i.off) + 4 > sizeof ctx) return -1;
        uint32_t v;
        std::memcpy(&v, reinterpret_cast<const char*>(&ctx) + i.off, 4);
        r[i.dst_reg] = v;
        break;
      }
      case BPF_ALU64 | BPF_MOV | BPF_X: r[i.dst_reg] = r[i.src_reg]; break;
      case BPF_ALU64 | BPF_MOV | BPF_K: r[i.dst_reg] = static_cast<uint64_t>(static_cast<int64_t>(i.imm)); break;
      case BPF_ALU64 | BPF_AND | BPF_K: r[i.dst_reg] &= static_cast<uint64_t>(static_cast<int64_t>(i.imm)); break;
      case BPF_ALU64 | BPF_RSH | BPF_K: r[i.dst_reg] >>= i.imm; break;
      case BPF_JMP | BPF_JNE | BPF_K:
        if (r[i.dst_reg] != static_cast<uint64_t>(static_cast<int64_t>(i.imm))) pc += i.off;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        if (r[i.dst_reg] == static_cast<uint64_t>(static_cast<int64_t>(i.imm))) pc += i.off;
        break;
      case BPF_JMP | BPF_EXIT: return static_cast<int64_t>(r[0]);
      default: return -1;
    }
    if (pc >= prog.size()) return -1;
  }
  return -1;
}

constexpr uint32_t C = BPF_DEVCG_DEV_CHAR, B = BPF_DEVCG_DEV_BLOCK;
constexpr uint32_t R = BPF_DEVCG_ACC_READ, W = BPF_DEVCG_ACC_WRITE, M = BPF_DEVCG_ACC_MKNOD;

oci::DeviceCgroupRule rule(bool allow, std::string type, std::optional<int64_t> major, std::optional<int64_t> minor,
                           std::string access) {
  return {allow, std::move(type), major, minor, std::move(access)};
}

TEST(DeviceFilter, NoRulesAllowsEverything) {
  auto p = build_device_program({});
  EXPECT_EQ(run(p, C, R | W, 1, 3), 1);
  EXPECT_EQ(run(p, B, M, 8, 0), 1);
}

TEST(DeviceFilter, DenyAllThenAllowList) {
  auto p = build_device_program({rule(false, "a", std::nullopt, std::nullopt, "rwm"), rule(true, "c", 1, 3, "rwm"),
                                 rule(true, "c", 1, 5, "r"), rule(true, "c", 136, std::nullopt, "rw")});
  EXPECT_EQ(run(p, C, R | W, 1, 3), 1);
  EXPECT_EQ(run(p, C, M, 1, 3), 1);
  EXPECT_EQ(run(p, C, R, 1, 5), 1);
  EXPECT_EQ(run(p, C, W, 1, 5), 0);
  EXPECT_EQ(run(p, C, R | W, 1, 5), 0);  // an allow must cover every requested bit
  EXPECT_EQ(run(p, C, R | W, 136, 7), 1);
  EXPECT_EQ(run(p, C, M, 136, 7), 0);
  EXPECT_EQ(run(p, B, R, 1, 3), 0);  // type matters
  EXPECT_EQ(run(p, C, R, 1, 7), 0);
  EXPECT_EQ(run(p, B, R | W, 8, 0), 0);
}

TEST(DeviceFilter, LastMatchingRuleWins) {
  auto p = build_device_program({rule(true, "c", 1, 3, "rwm"), rule(false, "c", 1, 3, "w")});
  EXPECT_EQ(run(p, C, R, 1, 3), 1);
  EXPECT_EQ(run(p, C, W, 1, 3), 0);
  EXPECT_EQ(run(p, C, R | W, 1, 3), 0);  // a deny matches when it covers any requested bit
  auto q = build_device_program({rule(false, "c", 1, 3, "w"), rule(true, "c", 1, 3, "rwm")});
  EXPECT_EQ(run(q, C, W, 1, 3), 1);
}

TEST(DeviceFilter, WildcardsAndEmptyFields) {
  // "" type = all, "" access = rwm, absent or -1 numbers = any.
  auto p = build_device_program({rule(false, "", std::nullopt, std::nullopt, ""), rule(true, "c", -1, -1, "m"),
                                 rule(true, "b", 8, std::nullopt, "")});
  EXPECT_EQ(run(p, C, M, 4, 64), 1);
  EXPECT_EQ(run(p, C, R, 4, 64), 0);
  EXPECT_EQ(run(p, B, R | W | M, 8, 16), 1);
  EXPECT_EQ(run(p, B, R, 9, 0), 0);
}

TEST(DeviceFilter, ProgramOnlyUsesTheInterpretedSubsetAndEndsInExit) {
  std::vector<oci::DeviceCgroupRule> rules;
  for (int i = 0; i < 200; ++i) rules.push_back(rule(i % 2 == 0, "c", i, i, "rw"));
  auto p = build_device_program(rules);
  EXPECT_EQ(p.back().code, BPF_JMP | BPF_EXIT);
  for (int i = 0; i < 200; ++i) EXPECT_EQ(run(p, C, R, i, i), i % 2 == 0 ? 1 : 0) << i;
  EXPECT_EQ(run(p, C, R, 500, 500), 1);
}

}  // namespace
}  // namespace berth::runtime::cgroup
