#pragma once
// A temp directory posing as cgroupfs for unit tests, v1 or v2. Plain files stand in for the kernel's;
// options() returns the hooks through which the fake plays the kernel: populating a directory when the
// manager makes one, emptying it before rmdir, and settling the freezer after `settle_after` polls.
//
// v1 tree:  <root>/{cpu,cpuacct,cpuset,memory,pids,blkio,devices,freezer}/ (+ hugetlb when asked) and
//           <root>/unified/ (the hybrid layout's empty cgroup2, which detect_layout must skip)
// v2 tree:  <root>/{cgroup.controllers, cgroup.subtree_control, ...}
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "runtime/cgroup/manager.h"

namespace berth::runtime::cgroup::testing {

class FakeCgroupfs {
 public:
  enum class Kind { V1, V2 };

  FakeCgroupfs(std::string root, Kind kind, bool hugetlb = false) : root_(std::move(root)), kind_(kind) {
    if (kind_ == Kind::V1) {
      std::vector<std::string> ctrls = {"cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "devices", "freezer"};
      if (hugetlb) ctrls.push_back("hugetlb");
      for (const auto& c : ctrls) {
        ::mkdir((root_ + "/" + c).c_str(), 0755);
        populate(root_ + "/" + c);
      }
      write(root_ + "/cpuset/cpuset.cpus", "0-1\n");
      write(root_ + "/cpuset/cpuset.mems", "0\n");
      ::mkdir((root_ + "/unified").c_str(), 0755);
      write(root_ + "/unified/cgroup.procs", "");
      write(root_ + "/unified/cgroup.controllers", "");
    } else {
      write(root_ + "/cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
      write(root_ + "/cgroup.subtree_control", "");
      write(root_ + "/cgroup.procs", "");
    }
  }

  const std::string& root() const { return root_; }

  Options options() {
    Options o;
    o.after_mkdir_for_test = [this](const std::string& dir) { populate(dir); };
    o.before_rmdir_for_test = [](const std::string& dir) { unlink_files(dir); };
    o.wait = [this](int attempt) { play_freezer(attempt); };
    return o;
  }

  int settle_after = 0;     // polls before the fake freezer reaches the requested state (-1: never)
  int polls = 0;            // how often the manager polled
  std::string freezer_dir;  // the container dir whose freezer the fake plays

  // Fills dir with the files the kernel would show (for v1 by controller, from the path under root).
  void populate(const std::string& dir) {
    if (kind_ == Kind::V2) {
      std::string parent = dir.substr(0, dir.rfind('/'));
      std::istringstream in(read(parent + "/cgroup.subtree_control"));
      std::string ctrls;
      for (std::string w; in >> w;) {
        if (!ctrls.empty()) ctrls.push_back(' ');
        ctrls.append(w, w[0] == '+' ? 1 : 0);
      }
      put(dir, {{"cgroup.procs", ""}, {"cgroup.controllers", ctrls + "\n"}, {"cgroup.subtree_control", ""},
                {"cgroup.events", "populated 0\nfrozen 0\n"}, {"cgroup.freeze", "0\n"}, {"cgroup.kill", ""},
                {"cgroup.type", "domain\n"}, {"memory.max", "max\n"}, {"memory.low", "0\n"},
                {"memory.swap.max", "max\n"}, {"memory.current", "0\n"}, {"memory.peak", "0\n"},
                {"memory.swap.current", "0\n"}, {"memory.stat", "anon 0\nfile 0\n"},
                {"memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n"}, {"cpu.weight", "100\n"},
                {"cpu.max", "max 100000\n"}, {"cpu.max.burst", "0\n"}, {"cpu.idle", "0\n"},
                {"cpu.stat", "usage_usec 0\nuser_usec 0\nsystem_usec 0\n"}, {"cpuset.cpus", "\n"},
                {"cpuset.mems", "\n"}, {"pids.max", "max\n"}, {"pids.current", "0\n"},
                {"io.weight", "default 100\n"}, {"io.max", ""}, {"io.stat", ""}, {"hugetlb.2MB.max", "max\n"},
                {"hugetlb.1GB.max", "max\n"}});
      return;
    }
    std::string rel = dir.substr(root_.size() + 1);
    std::string ctrl = rel.substr(0, rel.find('/'));
    put(dir, {{"cgroup.procs", ""}, {"tasks", ""}, {"notify_on_release", "0\n"}});
    const std::string unlimited = "9223372036854771712\n";
    if (ctrl == "memory") {
      put(dir, {{"memory.limit_in_bytes", unlimited}, {"memory.memsw.limit_in_bytes", unlimited},
                {"memory.soft_limit_in_bytes", unlimited}, {"memory.swappiness", "60\n"},
                {"memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n"},
                {"memory.usage_in_bytes", "0\n"}, {"memory.max_usage_in_bytes", "0\n"}, {"memory.failcnt", "0\n"},
                {"memory.memsw.usage_in_bytes", "0\n"}, {"memory.kmem.tcp.limit_in_bytes", unlimited},
                {"memory.stat", "cache 0\nrss 0\n"}, {"memory.use_hierarchy", "1\n"}});
    } else if (ctrl == "cpu") {
      put(dir, {{"cpu.shares", "1024\n"}, {"cpu.cfs_period_us", "100000\n"}, {"cpu.cfs_quota_us", "-1\n"},
                {"cpu.cfs_burst_us", "0\n"}, {"cpu.rt_period_us", "1000000\n"}, {"cpu.rt_runtime_us", "0\n"},
                {"cpu.idle", "0\n"}, {"cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n"}});
    } else if (ctrl == "cpuacct") {
      put(dir, {{"cpuacct.usage", "0\n"}, {"cpuacct.usage_percpu", "0 0 \n"}, {"cpuacct.stat", "user 0\nsystem 0\n"}});
    } else if (ctrl == "cpuset") {
      put(dir, {{"cpuset.cpus", "\n"}, {"cpuset.mems", "\n"}});
    } else if (ctrl == "pids") {
      put(dir, {{"pids.max", "max\n"}, {"pids.current", "0\n"}});
    } else if (ctrl == "blkio") {
      put(dir, {{"blkio.weight", "100\n"}, {"blkio.weight_device", ""}, {"blkio.leaf_weight", "100\n"},
                {"blkio.leaf_weight_device", ""}, {"blkio.throttle.read_bps_device", ""},
                {"blkio.throttle.write_bps_device", ""}, {"blkio.throttle.read_iops_device", ""},
                {"blkio.throttle.write_iops_device", ""}, {"blkio.io_service_bytes_recursive", "Total 0\n"},
                {"blkio.io_serviced_recursive", "Total 0\n"},
                {"blkio.throttle.io_service_bytes_recursive", "Total 0\n"},
                {"blkio.throttle.io_serviced_recursive", "Total 0\n"}});
    } else if (ctrl == "devices") {
      put(dir, {{"devices.allow", ""}, {"devices.deny", ""}, {"devices.list", "a *:* rwm\n"}});
    } else if (ctrl == "freezer") {
      put(dir, {{"freezer.state", "THAWED\n"}});
    } else if (ctrl == "hugetlb") {
      put(dir, {{"hugetlb.2MB.limit_in_bytes", unlimited}, {"hugetlb.1GB.limit_in_bytes", unlimited}});
    }
  }

  // The freezer "kernel": right after the manager's write the file holds the requested state; until
  // settle_after polls have passed the fake shows the transitional state instead.
  void play_freezer(int attempt) {
    ++polls;
    if (freezer_dir.empty()) return;
    bool settled = settle_after >= 0 && attempt >= settle_after;
    if (kind_ == Kind::V1) {
      std::string path = freezer_dir + "/freezer.state";
      std::string cur = trim(read(path));
      if (attempt == 0) target_ = cur;
      if (target_ != "FROZEN") return;  // thawing is immediate
      write(path, settled ? "FROZEN\n" : "FREEZING\n");
    } else {
      std::string want = trim(read(freezer_dir + "/cgroup.freeze"));
      std::string frozen = settled ? want : (want == "1" ? "0" : "1");
      write(freezer_dir + "/cgroup.events", "populated 1\nfrozen " + frozen + "\n");
    }
  }

  static void write(const std::string& path, const std::string& data) {
    std::ofstream f(path, std::ios::trunc);
    f << data;
  }
  static std::string read(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  static std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }
  static bool exists(const std::string& path) {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0;
  }

 private:
  static void put(const std::string& dir, const std::vector<std::pair<std::string, std::string>>& files) {
    for (const auto& [name, content] : files) write(dir + "/" + name, content);
  }
  static void unlink_files(const std::string& dir) {
    DIR* d = ::opendir(dir.c_str());
    if (!d) return;
    std::vector<std::string> files;
    while (dirent* e = ::readdir(d))
      if (e->d_type == DT_REG) files.push_back(dir + "/" + e->d_name);
    ::closedir(d);
    for (const auto& f : files) ::unlink(f.c_str());
  }

  std::string root_;
  Kind kind_;
  std::string target_;
};

}  // namespace berth::runtime::cgroup::testing
