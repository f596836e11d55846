#pragma once
// Shared between the files of runtime/rootfs; not an interface for other modules.

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/unique_fd.h"
#include "oci/runtime_spec.h"
#include "runtime/rootfs/mount_options.h"
#include "runtime/rootfs/rootfs.h"

namespace berth::runtime::rootfs::detail {

// State of one prepare() call.
struct Context {
  const oci::Spec& spec;
  const Options& opts;
  std::string rootfs;  // absolute, clean host path of the rootfs (after the self-bind it is a mount point)
  UniqueFd root;       // O_PATH fd of the rootfs mount; every target is resolved relative to it
  bool userns = false;
  bool netns = false;
  bool cgroupns = false;
};

// Opens the mount point for dest inside the rootfs, creating a directory (or, with want_file, an empty
// file) when it is missing, then checks that the kernel's name for it lies strictly inside the rootfs and
// that it is not a forbidden place under /proc. bind_src_fd (or -1) is the bind source, consulted only for
// a mount on /proc itself (allowed only from a procfs).
Result<UniqueFd> open_mountpoint(Context& c, std::string_view dest, std::string_view fstype, bool want_file,
                                 int bind_src_fd);

// Bind mount of a host path onto dest, honouring o (flags, propagation, recursive attrs).
Status bind_mount(Context& c, const std::string& source, const std::string& dest, const MountOptions& o);

// The flag handling and attach of bind_mount, for a target the caller resolved itself (tree: open_tree
// clone).
Status bind_prepared(int tree, int target, const MountOptions& o);

// Attaches mnt (detached) onto target and applies o's propagation and recursive attributes.
Status attach_with_options(int mnt, int target, const MountOptions& o);

// "cgroup" mounts: v2 (cgroup2, bind fallback) or v1 (tmpfs + one bind or mount per hierarchy).
Status mount_cgroup(Context& c, const oci::Mount& m, const MountOptions& o, const std::string& dest);

// /dev: spec.linux.devices plus the defaults, /dev/ptmx -> pts/ptmx, /dev/fd, stdin, stdout, stderr, core.
Status setup_dev(Context& c);

// Copies the directory tree of src_dir (fd of a directory) into dst_dir (fd of a fresh tmpfs root).
Status copy_tree(int src_dir, int dst_dir, int depth = 0);

// True when the process runs in a user namespace other than the initial one.
bool running_in_user_namespace();

struct MountInfo {
  std::string root;        // field 4
  std::string mountpoint;  // field 5
  std::string fstype;
  std::string source;
  std::string super_options;
};
Result<std::vector<MountInfo>> read_mountinfo(const std::string& path = "/proc/self/mountinfo");

}  // namespace berth::runtime::rootfs::detail
