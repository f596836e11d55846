#pragma once
// CVE-2019-5736: a container must never be able to overwrite the runtime binary. The attack needs a
// writable handle on the file behind /proc/<runtime>/exe, reachable (a) from other container processes
// while a runtime process works inside the container, and (b) from the container's own entrypoint when it
// is `#!/proc/self/exe`, which makes the kernel load the runtime binary into the container.
//
// Defences, both applied to every runtime process that clones into a container (create, run, exec):
//   - PR_SET_DUMPABLE 0 (container.cc): /proc/<pid>/exe, /proc/<pid>/fd and ptrace of the runtime and of
//     the container init before its execve are refused to container processes without CAP_SYS_PTRACE.
//   - ensure_readonly_exe(): the running binary must sit on a read-only mount. If it does not (the usual
//     install), the process enters a private mount namespace (slave, so the host's mounts still propagate
//     in, nothing propagates out), bind-mounts its own binary read-only onto itself and re-executes it once.
//     Every handle a container can ever get to the binary (through /proc/self/exe of the init's clone or
//     the shebang trick) then refers to a read-only mount: open for writing fails with EROFS. Cost measured
//     in docs/design/runtime.md; installing the binary on a read-only mount skips the re-exec entirely.

#include "base/error.h"

namespace berth::runtime {

// True if /proc/self/exe resolves to a file on a read-only mount.
Result<bool> exe_is_readonly();

// If the binary is writable, re-executes it from a read-only bind (see above); returns only when the
// running binary is read-only (or with an error, and then nothing was changed). argv/envp as given to main.
Status ensure_readonly_exe(char** argv, char** envp);

}  // namespace berth::runtime
