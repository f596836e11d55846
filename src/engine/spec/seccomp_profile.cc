#include "engine/spec/seccomp_profile.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/spec/json_reader.h"

namespace berth::engine::spec {

namespace {

// ---- Docker's default profile, as data --------------------------------------------------------------------
// One row per rule: syscall names (space separated), action, errno (0 = none), argument conditions,
// includes/excludes. Kept in Docker's order; the conversion (profile_to_oci) applies the conditions.

struct ArgRow {
  uint32_t index;
  uint64_t value;
  const char* op;
};

struct RuleRow {
  const char* names;
  const char* action;
  uint32_t errno_ret;
  std::vector<ArgRow> args;
  const char* include_caps;    // space separated
  const char* include_arches;  // space separated, Go spelling
  const char* min_kernel;
  const char* exclude_caps;
  const char* exclude_arches;
};

constexpr const char* kAllow = "SCMP_ACT_ALLOW";
constexpr uint32_t kCloneNsFlags = 2114060288;  // CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET

const char* const kDefaultAllowed =
    "accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 clock_adjtime "
    "clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep "
    "clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 epoll_create "
    "epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 "
    "execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir "
    "fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork "
    "fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex "
    "futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 "
    "getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority "
    "getrandom getresgid getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid "
    "getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch "
    "inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents "
    "io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit io_uring_enter io_uring_register "
    "io_uring_setup ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self lchown lchown32 "
    "lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 "
    "madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap "
    "mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend "
    "mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap "
    "name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal "
    "pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 "
    "prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink "
    "readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename "
    "renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo "
    "rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity "
    "sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min sched_getscheduler "
    "sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam "
    "sched_setscheduler sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send "
    "sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 "
    "setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid "
    "setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area "
    "set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 "
    "sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync "
    "sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime "
    "timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 "
    "timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat "
    "utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev";

const std::vector<RuleRow>& default_rows() {
  static const std::vector<RuleRow> rows = {
      {kDefaultAllowed, kAllow, 0, {}, "", "", "", "", ""},
      {"process_vm_readv process_vm_writev ptrace", kAllow, 0, {}, "", "", "4.8", "", ""},
      // AF_VSOCK (40) sockets are refused.
      {"socket", kAllow, 0, {{0, 40, "SCMP_CMP_NE"}}, "", "", "", "", ""},
      // personality: only PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32 and the query (0xffffffff).
      {"personality", kAllow, 0, {{0, 0, "SCMP_CMP_EQ"}}, "", "", "", "", ""},
      {"personality", kAllow, 0, {{0, 8, "SCMP_CMP_EQ"}}, "", "", "", "", ""},
      {"personality", kAllow, 0, {{0, 131072, "SCMP_CMP_EQ"}}, "", "", "", "", ""},
      {"personality", kAllow, 0, {{0, 131080, "SCMP_CMP_EQ"}}, "", "", "", "", ""},
      {"personality", kAllow, 0, {{0, 4294967295u, "SCMP_CMP_EQ"}}, "", "", "", "", ""},
      {"sync_file_range2 swapcontext", kAllow, 0, {}, "", "ppc64le", "", "", ""},
      {"arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls", kAllow, 0, {}, "",
       "arm arm64", "", "", ""},
      {"arch_prctl", kAllow, 0, {}, "", "amd64 x32", "", "", ""},
      {"modify_ldt", kAllow, 0, {}, "", "amd64 x32 x86", "", "", ""},
      {"s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr", kAllow, 0, {}, "", "s390 s390x", "", "", ""},
      {"riscv_flush_icache", kAllow, 0, {}, "", "riscv64", "", "", ""},
      {"open_by_handle_at", kAllow, 0, {}, "CAP_DAC_READ_SEARCH", "", "", "", ""},
      {"bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr "
       "move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog umount "
       "umount2 unshare",
       kAllow, 0, {}, "CAP_SYS_ADMIN", "", "", "", ""},
      // Without CAP_SYS_ADMIN: clone only without namespace flags (s390 swaps the first two arguments).
      {"clone", kAllow, 0, {{0, kCloneNsFlags, "SCMP_CMP_MASKED_EQ"}}, "", "", "", "CAP_SYS_ADMIN", "s390 s390x"},
      {"clone", kAllow, 0, {{1, kCloneNsFlags, "SCMP_CMP_MASKED_EQ"}}, "", "s390 s390x", "", "CAP_SYS_ADMIN", ""},
      // clone3 cannot be filtered by flags (they are behind a pointer): ENOSYS makes libc fall back to clone.
      {"clone3", "SCMP_ACT_ERRNO", 38, {}, "", "", "", "CAP_SYS_ADMIN", ""},
      {"reboot", kAllow, 0, {}, "CAP_SYS_BOOT", "", "", "", ""},
      {"chroot", kAllow, 0, {}, "CAP_SYS_CHROOT", "", "", "", ""},
      {"delete_module init_module finit_module", kAllow, 0, {}, "CAP_SYS_MODULE", "", "", "", ""},
      {"acct", kAllow, 0, {}, "CAP_SYS_PACCT", "", "", "", ""},
      {"kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace", kAllow, 0, {},
       "CAP_SYS_PTRACE", "", "", "", ""},
      {"iopl ioperm", kAllow, 0, {}, "CAP_SYS_RAWIO", "", "", "", ""},
      {"settimeofday stime clock_settime clock_settime64", kAllow, 0, {}, "CAP_SYS_TIME", "", "", "", ""},
      {"vhangup", kAllow, 0, {}, "CAP_SYS_TTY_CONFIG", "", "", "", ""},
      {"get_mempolicy mbind set_mempolicy set_mempolicy_home_node", kAllow, 0, {}, "CAP_SYS_NICE", "", "", "", ""},
      {"syslog", kAllow, 0, {}, "CAP_SYSLOG", "", "", "", ""},
      {"bpf", kAllow, 0, {}, "CAP_BPF", "", "", "", ""},
      {"perf_event_open", kAllow, 0, {}, "CAP_PERFMON", "", "", "", ""},
  };
  return rows;
}

std::vector<std::string> words(const char* s) {
  std::vector<std::string> r;
  std::istringstream in(s);
  std::string w;
  while (in >> w) r.push_back(w);
  return r;
}

SeccompProfile build_default() {
  SeccompProfile p;
  p.default_action = "SCMP_ACT_ERRNO";
  p.default_errno_ret = 1;  // EPERM
  p.arch_map = {
      {"SCMP_ARCH_X86_64", {"SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
      {"SCMP_ARCH_AARCH64", {"SCMP_ARCH_ARM"}},
      {"SCMP_ARCH_MIPS64", {"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"}},
      {"SCMP_ARCH_MIPS64N32", {"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"}},
      {"SCMP_ARCH_MIPSEL64", {"SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"}},
      {"SCMP_ARCH_MIPSEL64N32", {"SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"}},
      {"SCMP_ARCH_S390X", {"SCMP_ARCH_S390"}},
      {"SCMP_ARCH_RISCV64", {}},
  };
  for (const auto& row : default_rows()) {
    ProfileRule r;
    r.names = words(row.names);
    r.action = row.action;
    if (row.errno_ret) r.errno_ret = row.errno_ret;
    for (const auto& a : row.args) r.args.push_back(oci::SeccompArg{a.index, a.value, 0, a.op});
    r.includes.caps = words(row.include_caps);
    r.includes.arches = words(row.include_arches);
    r.includes.min_kernel = row.min_kernel;
    r.excludes.caps = words(row.exclude_caps);
    r.excludes.arches = words(row.exclude_arches);
    p.syscalls.push_back(std::move(r));
  }
  return p;
}

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool known(std::span<const std::string_view> table, std::string_view s) {
  return std::find(table.begin(), table.end(), s) != table.end();
}

Result<ProfileConditions> parse_conditions(const nlohmann::json& j, const std::string& path, bool allow_kernel) {
  auto r = BERTH_TRY(JsonReader::object(j, path));
  ProfileConditions c;
  BERTH_TRY(r.str_list("caps", c.caps));
  BERTH_TRY(r.str_list("arches", c.arches));
  if (allow_kernel) {
    BERTH_TRY(r.str("minKernel", c.min_kernel));
    if (!c.min_kernel.empty() && parse_kernel_version(c.min_kernel) == std::pair<int, int>{0, 0})
      return fail(Errc::InvalidArgument, "{}.minKernel: invalid kernel version \"{}\"", path, c.min_kernel);
  }
  for (const auto& cap : c.caps)
    if (!oci::capability_number(cap)) return fail(Errc::InvalidArgument, "{}.caps: unknown capability \"{}\"", path, cap);
  return c;
}

}  // namespace

const SeccompProfile& default_seccomp_profile() {
  static const SeccompProfile p = build_default();
  return p;
}

std::string_view native_go_arch() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__i386__)
  return "386";
#elif defined(__arm__)
  return "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#else
  return "unknown";
#endif
}

std::string_view native_scmp_arch() {
#if defined(__x86_64__)
  return "SCMP_ARCH_X86_64";
#elif defined(__aarch64__)
  return "SCMP_ARCH_AARCH64";
#elif defined(__i386__)
  return "SCMP_ARCH_X86";
#elif defined(__arm__)
  return "SCMP_ARCH_ARM";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "SCMP_ARCH_PPC64LE";
#elif defined(__s390x__)
  return "SCMP_ARCH_S390X";
#elif defined(__riscv) && __riscv_xlen == 64
  return "SCMP_ARCH_RISCV64";
#else
  return "";
#endif
}

std::pair<int, int> parse_kernel_version(std::string_view release) {
  int major = 0, minor = 0;
  size_t i = 0;
  auto num = [&](int& out) {
    size_t start = i;
    while (i < release.size() && release[i] >= '0' && release[i] <= '9' && i - start < 6) out = out * 10 + (release[i++] - '0');
    return i > start;
  };
  if (!num(major) || i >= release.size() || release[i] != '.') return {0, 0};
  ++i;
  if (!num(minor)) return {0, 0};
  return {major, minor};
}

Result<SeccompProfile> parse_seccomp_profile(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) return fail(Errc::InvalidArgument, "Decoding seccomp profile failed: invalid JSON");
  if (!j.is_object()) return type_error("seccomp profile", j, "object");
  JsonReader r(j, "seccomp");
  SeccompProfile p;
  BERTH_TRY(r.str("defaultAction", p.default_action));
  if (!known(oci::known_seccomp_actions(), p.default_action))
    return fail(Errc::InvalidArgument, "seccomp.defaultAction: unknown action \"{}\"", p.default_action);
  std::optional<int64_t> de;
  BERTH_TRY(r.opt_i64("defaultErrnoRet", de));
  if (de) {
    if (*de < 0 || *de > 4095) return fail(Errc::InvalidArgument, "seccomp.defaultErrnoRet: invalid errno {}", *de);
    p.default_errno_ret = static_cast<uint32_t>(*de);
  }
  BERTH_TRY(r.str_list("architectures", p.architectures));
  for (const auto& a : p.architectures)
    if (!known(oci::known_seccomp_archs(), a))
      return fail(Errc::InvalidArgument, "seccomp.architectures: unknown architecture \"{}\"", a);
  BERTH_TRY(r.str_list("flags", p.flags));
  for (const auto& f : p.flags)
    if (!known(oci::known_seccomp_flags(), f))
      return fail(Errc::InvalidArgument, "seccomp.flags: unknown flag \"{}\"", f);
  if (const auto* am = r.find("archMap")) {
    if (!am->is_array()) return type_error("seccomp.archMap", *am, "array");
    for (size_t i = 0; i < am->size() && i < 64; ++i) {
      auto ar = BERTH_TRY(JsonReader::object((*am)[i], fmt::format("seccomp.archMap[{}]", i)));
      ArchMapEntry e;
      BERTH_TRY(ar.str("architecture", e.architecture));
      BERTH_TRY(ar.str_list("subArchitectures", e.sub_architectures));
      if (!known(oci::known_seccomp_archs(), e.architecture))
        return fail(Errc::InvalidArgument, "{}.architecture: unknown architecture \"{}\"", ar.path(), e.architecture);
      for (const auto& s : e.sub_architectures)
        if (!known(oci::known_seccomp_archs(), s))
          return fail(Errc::InvalidArgument, "{}.subArchitectures: unknown architecture \"{}\"", ar.path(), s);
      p.arch_map.push_back(std::move(e));
    }
    if (am->size() > 64) return fail(Errc::InvalidArgument, "seccomp.archMap: too many entries");
  }
  if (!p.arch_map.empty() && !p.architectures.empty())
    return fail(Errc::InvalidArgument, "seccomp: use either 'architectures' or 'archMap'");
  const auto* sc = r.find("syscalls");
  if (sc) {
    if (!sc->is_array()) return type_error("seccomp.syscalls", *sc, "array");
    if (sc->size() > 4096) return fail(Errc::InvalidArgument, "seccomp.syscalls: too many entries");
    for (size_t i = 0; i < sc->size(); ++i) {
      std::string path = fmt::format("seccomp.syscalls[{}]", i);
      auto sr = BERTH_TRY(JsonReader::object((*sc)[i], path));
      ProfileRule rule;
      BERTH_TRY(sr.str_list("names", rule.names));
      std::string name;
      BERTH_TRY(sr.str("name", name));  // the older single-name form
      if (!name.empty()) {
        if (!rule.names.empty())
          return fail(Errc::InvalidArgument, "{}: use either 'name' or 'names'", path);
        rule.names.push_back(name);
      }
      if (rule.names.empty()) return fail(Errc::InvalidArgument, "{}.names: must not be empty", path);
      BERTH_TRY(sr.str("action", rule.action));
      if (!known(oci::known_seccomp_actions(), rule.action))
        return fail(Errc::InvalidArgument, "{}.action: unknown action \"{}\"", path, rule.action);
      std::optional<int64_t> er;
      BERTH_TRY(sr.opt_i64("errnoRet", er));
      if (er) {
        if (*er < 0 || *er > 4095) return fail(Errc::InvalidArgument, "{}.errnoRet: invalid errno {}", path, *er);
        rule.errno_ret = static_cast<uint32_t>(*er);
      }
      if (const auto* args = sr.find("args")) {
        if (!args->is_array()) return type_error(path + ".args", *args, "array");
        if (args->size() > 6) return fail(Errc::InvalidArgument, "{}.args: at most 6 conditions", path);
        for (size_t k = 0; k < args->size(); ++k) {
          auto arr = BERTH_TRY(JsonReader::object((*args)[k], fmt::format("{}.args[{}]", path, k)));
          oci::SeccompArg a;
          BERTH_TRY(arr.u32("index", a.index));
          BERTH_TRY(arr.u64("value", a.value));
          BERTH_TRY(arr.u64("valueTwo", a.value_two));
          BERTH_TRY(arr.str("op", a.op));
          if (a.index > 5) return fail(Errc::InvalidArgument, "{}.index: {} out of range 0..5", arr.path(), a.index);
          if (!known(oci::known_seccomp_operators(), a.op))
            return fail(Errc::InvalidArgument, "{}.op: unknown operator \"{}\"", arr.path(), a.op);
          rule.args.push_back(std::move(a));
        }
      }
      if (const auto* inc = sr.find("includes")) rule.includes = BERTH_TRY(parse_conditions(*inc, path + ".includes", true));
      if (const auto* exc = sr.find("excludes")) rule.excludes = BERTH_TRY(parse_conditions(*exc, path + ".excludes", false));
      p.syscalls.push_back(std::move(rule));
    }
  }
  return p;
}

oci::Seccomp profile_to_oci(const SeccompProfile& p, const ProfileTarget& t) {
  oci::Seccomp s;
  s.default_action = p.default_action;
  s.default_errno_ret = p.default_errno_ret;
  s.flags = p.flags;
  std::string_view go_arch = t.go_arch.empty() ? native_go_arch() : std::string_view(t.go_arch);
  if (!p.arch_map.empty()) {
    std::string_view native = native_scmp_arch();
    for (const auto& e : p.arch_map) {
      if (e.architecture != native) continue;
      s.architectures.push_back(e.architecture);
      for (const auto& sub : e.sub_architectures) s.architectures.push_back(sub);
    }
  } else {
    s.architectures = p.architectures;
  }
  for (const auto& r : p.syscalls) {
    const auto& inc = r.includes;
    const auto& exc = r.excludes;
    if (!inc.arches.empty() && !contains(inc.arches, go_arch)) continue;
    if (!inc.caps.empty() &&
        !std::all_of(inc.caps.begin(), inc.caps.end(), [&](const std::string& c) { return contains(t.capabilities, c); }))
      continue;
    if (!inc.min_kernel.empty() && t.kernel.first != 0 && t.kernel < parse_kernel_version(inc.min_kernel)) continue;
    if (!exc.arches.empty() && contains(exc.arches, go_arch)) continue;
    if (!exc.caps.empty() &&
        std::any_of(exc.caps.begin(), exc.caps.end(), [&](const std::string& c) { return contains(t.capabilities, c); }))
      continue;
    oci::SeccompSyscall sys;
    sys.names = r.names;
    sys.action = r.action;
    sys.errno_ret = r.errno_ret;
    sys.args = r.args;
    s.syscalls.push_back(std::move(sys));
  }
  return s;
}

}  // namespace berth::engine::spec
