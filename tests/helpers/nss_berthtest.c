// libnss_berthtest.so.2: a glibc NSS module that only reports that it was loaded. The security tests put it
// into a container's /lib with an /etc/nsswitch.conf naming it ("passwd: berthtest"). If a runtime asked
// glibc for a user after entering the container's root, glibc would load this library from the container
// (code from the container running in the runtime); the constructor leaves /nss-loaded as evidence.
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void berthtest_nss_loaded(void) {
  int fd = open("/nss-loaded", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd >= 0) {
    char line[64];
    int n = 0;
    const char* msg = "loaded by pid ";
    n = (int)strlen(msg);
    memcpy(line, msg, (size_t)n);
    pid_t p = getpid();
    char digits[16];
    int d = 0;
    do {
      digits[d++] = (char)('0' + p % 10);
      p /= 10;
    } while (p && d < 15);
    while (d) line[n++] = digits[--d];
    line[n++] = '\n';
    (void)!write(fd, line, (size_t)n);
    close(fd);
  }
}

// The entry points glibc looks up; they find nothing.
enum nss_status { NSS_STATUS_NOTFOUND = 0 };
enum nss_status _nss_berthtest_getpwnam_r(void) { return NSS_STATUS_NOTFOUND; }
enum nss_status _nss_berthtest_getpwuid_r(void) { return NSS_STATUS_NOTFOUND; }
enum nss_status _nss_berthtest_getgrnam_r(void) { return NSS_STATUS_NOTFOUND; }
enum nss_status _nss_berthtest_getgrgid_r(void) { return NSS_STATUS_NOTFOUND; }
enum nss_status _nss_berthtest_initgroups_dyn(void) { return NSS_STATUS_NOTFOUND; }
