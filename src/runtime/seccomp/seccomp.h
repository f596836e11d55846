#pragma once
// Seccomp for containers: the profile from config.json (linux.seccomp) is compiled to a classic-BPF program
// in the runtime *parent* with libseccomp, and installed in the container child right before exec with the
// raw seccomp(2) syscall — the child makes no libseccomp calls and does not allocate on the success path.
//
//   parent:  Program prog = BERTH_TRY(compile(spec.linux->seccomp.value()));
//   child:   ... setup, caps ... ; int listener = BERTH_TRY(install(prog)); ... execve
//
// Semantics follow runc (and the OCI runtime-spec, config-linux.md#seccomp):
//  - Actions SCMP_ACT_{KILL,KILL_THREAD,KILL_PROCESS,TRAP,ERRNO,TRACE,ALLOW,LOG,NOTIFY}; SCMP_ACT_KILL means
//    kill the thread. ERRNO and TRACE take errnoRet (default EPERM); errnoRet on any other action fails.
//  - Syscall names libseccomp does not know are skipped (a profile may list syscalls newer than this
//    libseccomp/kernel); rules whose action equals the default action are skipped as redundant.
//  - Argument conditions of one rule are ANDed. If two conditions name the same argument index, every
//    condition becomes its own rule (ORed), as runc does.
//  - Flags: SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
//    (only meaningful with a listener, ignored without one) and SECCOMP_FILTER_FLAG_TSYNC (accepted and
//    ignored, as runc does: the child is single-threaded).
//  - Unless the default action is ALLOW/LOG/TRACE (or its errno is already ENOSYS), a stub in front of the
//    filter makes syscall numbers above the largest one the profile names (per listed architecture; x86_64
//    and x32 separately) fail with ENOSYS instead of the default errno, so libc falls back to older
//    syscalls (clone3 -> clone) instead of failing with EPERM.
//  - SCMP_ACT_NOTIFY requires listenerPath; it cannot be the default action nor be used for `write`
//    (runc's rules) or `sendmsg` (the container's init hands the listener fd to the agent with sendmsg right
//    after installing the filter: a notification on it could never be answered). install() then returns
//    the listener fd, which the runtime passes to the agent at listenerPath (connect_listener() on the
//    host before clone, send_listener_fd_on() in the init; send_listener_fd() does both).
// Errors from compile(): InvalidArgument naming the field, e.g.
//   `linux.seccomp.syscalls[2].args[0].op: unknown operator "SCMP_CMP_FOO"`.
// Installing requires no_new_privs or CAP_SYS_ADMIN in the caller's user namespace (kernel rule); a runtime
// that does not set noNewPrivileges must install while it still holds CAP_SYS_ADMIN.

#include <linux/filter.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "oci/runtime_spec.h"

namespace berth::runtime::seccomp {

struct Program {
  std::vector<sock_filter> insns;  // the BPF program, as the kernel takes it
  unsigned int flags = 0;          // SECCOMP_FILTER_FLAG_* for seccomp(SECCOMP_SET_MODE_FILTER)
  bool uses_notify = false;        // flags include SECCOMP_FILTER_FLAG_NEW_LISTENER
  std::string listener_path;       // from the config, when uses_notify
  std::string listener_metadata;
};

// Compiles the profile for the architectures listed (plus the native one). Thread-safe (each call has its
// own libseccomp context).
Result<Program> compile(const oci::Seccomp& config);

// compile() through an on-disk cache of compiled programs (libseccomp needs ~2.5 ms of CPU for a
// docker-sized profile on one architecture and ~20 ms for the x86_64+x86+x32 set docker lists; a cache
// hit is one small file read). The key is the SHA-256 of a canonical encoding of everything compile()
// reads plus the libseccomp version and native architecture, so a changed profile or library never hits a
// stale entry. Entries are written to a temp name and renamed (no fsync: a lost entry is just recompiled);
// unreadable or malformed entries are ignored and rewritten. cache_dir is created (0700) if missing and
// must be writable only by the runtime (e.g. "<--root>/seccomp-cache"): whoever can write it decides the
// filter. Cache I/O failures never fail the call; they only cost a recompilation.
Result<Program> compile_cached(const oci::Seccomp& config, const std::string& cache_dir);
// The cache key (hex SHA-256) compile_cached uses for config.
std::string cache_key(const oci::Seccomp& config);
// The SHA-256 behind cache_key (a local implementation: the static berth-runtime does not link libcrypto).
std::string sha256_hex_for_test(std::string_view data);

// Installs the program on the calling thread with seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog).
// Returns the listener fd (close-on-exec) when the program uses SCMP_ACT_NOTIFY, otherwise -1.
// Errors: from the kernel, e.g. EACCES (PermissionDenied) without no_new_privs/CAP_SYS_ADMIN, EINVAL for a
// flag this kernel does not support. No allocation, no libseccomp, on the success path.
Result<int> install(const Program& program);

// The OCI "container process state" sent with the listener fd
// (config-linux.md#seccomp, "listenerPath"): {"ociVersion","fds":["seccompFd"],"pid","metadata","state"}.
// state_json is the container state JSON (as `state` prints it), embedded verbatim.
std::string container_process_state(std::string_view oci_version, pid_t pid, std::string_view metadata,
                                    std::string_view state_json);

// Connects to the unix socket at listener_path (a stream socket, close-on-exec).
// Errors: Unavailable if nothing listens there; InvalidArgument if the path does not fit a sockaddr_un.
Result<UniqueFd> connect_listener(const std::string& listener_path);
// Sends process_state_json with the listener fd attached (SCM_RIGHTS) on a socket from connect_listener().
// No allocation on the success path.
Status send_listener_fd_on(int sock, std::string_view process_state_json, int listener_fd);
// connect_listener() + send_listener_fd_on().
Status send_listener_fd(const std::string& listener_path, std::string_view process_state_json, int listener_fd);

// For `features`: the names this implementation accepts.
std::vector<std::string> known_actions();
std::vector<std::string> known_operators();
std::vector<std::string> known_architectures();
std::vector<std::string> known_flags();

}  // namespace berth::runtime::seccomp
