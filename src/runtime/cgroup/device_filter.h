#pragma once
// cgroup v2 device control: a BPF_PROG_TYPE_CGROUP_DEVICE program built from the spec's rule list,
// loaded with the raw bpf(2) syscall and attached to the container's cgroup directory.
//
// Semantics match the v1 devices.allow/deny lists: rules apply in order, the last matching rule decides,
// and a request no rule matches is allowed (a v1 child inherits the root's "allow all"; configs start with
// a deny-all rule). An allow rule matches when it covers every requested access bit, a deny rule when it
// covers any of them.
//
// Program shape (r1 = struct bpf_cgroup_dev_ctx*):
//   r2 = ctx->access_type; r3 = r2 & 0xffff (type); r4 = r2 >> 16 (access); r5 = major; r6 = minor
//   for each rule, last first:  [if r3 != type goto next] [access test] [if r5 != major goto next]
//                               [if r6 != minor goto next] r0 = allow; exit
//   r0 = 1; exit
#include <linux/bpf.h>

#include <string>
#include <vector>

#include "base/error.h"
#include "oci/runtime_spec.h"

namespace berth::runtime::cgroup {

std::vector<bpf_insn> build_device_program(const std::vector<oci::DeviceCgroupRule>& rules);

// Loads the program and attaches it to `dir` (a cgroup2 directory) with BPF_F_ALLOW_MULTI, then detaches
// the device programs that were attached before, so an update never leaves a window without a filter.
// Errc::PermissionDenied without CAP_SYS_ADMIN/CAP_BPF; the verifier log is appended to load errors.
Status install_device_filter(const std::string& dir, const std::vector<oci::DeviceCgroupRule>& rules);

}  // namespace berth::runtime::cgroup
