#include "runtime/state_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "oci/runtime_spec.h"
#include "oci/state.h"

namespace berth::runtime {

using nlohmann::json;

std::string_view status_name(ContainerStatus s) {
  switch (s) {
    case ContainerStatus::Creating: return "creating";
    case ContainerStatus::Created: return "created";
    case ContainerStatus::Running: return "running";
    case ContainerStatus::Paused: return "paused";
    case ContainerStatus::Stopped: return "stopped";
  }
  return "unknown";
}

std::string state_to_json(const ContainerState& s) {
  json j;
  j["id"] = s.id;
  j["pid"] = s.pid;
  j["start_time"] = s.start_time;
  j["bundle"] = s.bundle;
  j["rootfs"] = s.rootfs;
  j["created"] = s.created;
  j["owner"] = s.owner;
  j["annotations"] = s.annotations;
  j["cgroups_path"] = s.cgroups_path;
  j["cgroup_paths"] = s.cgroup_paths;
  j["new_pid_ns"] = s.new_pid_ns;
  std::string out = j.dump();
  // The config is spliced in verbatim: it was produced by our own serialiser or validated by the parser.
  if (!s.config_json.empty()) {
    out.pop_back();
    out += ",\"config\":";
    out += s.config_json;
    out += "}";
  }
  return out;
}

Result<ContainerState> state_from_json(std::string_view text) {
  try {
    json j = json::parse(text);
    ContainerState s;
    s.id = j.at("id").get<std::string>();
    s.pid = j.at("pid").get<pid_t>();
    s.start_time = j.at("start_time").get<uint64_t>();
    s.bundle = j.at("bundle").get<std::string>();
    s.rootfs = j.value("rootfs", "");
    s.created = j.value("created", "");
    s.owner = j.value("owner", 0u);
    if (j.contains("annotations")) s.annotations = j["annotations"].get<std::map<std::string, std::string>>();
    s.cgroups_path = j.value("cgroups_path", "");
    if (j.contains("cgroup_paths")) s.cgroup_paths = j["cgroup_paths"].get<std::map<std::string, std::string>>();
    s.new_pid_ns = j.value("new_pid_ns", false);
    if (j.contains("config")) s.config_json = j["config"].dump();
    return s;
  } catch (const json::exception& e) {
    return fail(Errc::InvalidArgument, "corrupt state file: {}", e.what());
  }
}

std::string oci_state_json(const ContainerState& s, ContainerStatus status, int indent) {
  oci::State st;
  st.oci_version = std::string(oci::kOciVersion);
  st.id = s.id;
  st.status = static_cast<oci::ContainerStatus>(status);
  st.pid = status == ContainerStatus::Stopped ? 0 : s.pid;
  st.bundle = s.bundle;
  st.annotations = s.annotations;
  st.rootfs = s.rootfs;
  st.created = s.created;
  st.owner = "";
  return oci::to_json(st, indent);
}

Result<std::pair<char, uint64_t>> parse_proc_stat(std::string_view stat) {
  auto rp = stat.rfind(')');
  if (rp == std::string_view::npos) return fail(Errc::InvalidArgument, "malformed /proc stat");
  std::string_view rest = stat.substr(rp + 1);
  // Fields after comm: 3=state ... 22=starttime, i.e. the 20th field after ')'.
  int field = 2;
  char state = 0;
  size_t i = 0;
  while (i < rest.size()) {
    while (i < rest.size() && rest[i] == ' ') ++i;
    size_t j = i;
    while (j < rest.size() && rest[j] != ' ' && rest[j] != '\n') ++j;
    if (j == i) break;
    ++field;
    std::string_view tok = rest.substr(i, j - i);
    if (field == 3) state = tok[0];
    if (field == 22) {
      uint64_t v = 0;
      auto [p, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
      if (ec != std::errc() || p != tok.data() + tok.size())
        return fail(Errc::InvalidArgument, "malformed /proc stat start time");
      return std::make_pair(state, v);
    }
    i = j;
  }
  return fail(Errc::InvalidArgument, "malformed /proc stat: too few fields");
}

namespace {
Result<std::pair<char, uint64_t>> read_stat(pid_t pid, const std::string& proc_root) {
  char path[64];
  snprintf(path, sizeof path, "/%d/stat", pid);
  UniqueFd fd(::open((proc_root + path).c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno("open /proc/{}/stat", pid);
  char buf[1024];
  ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n < 0) return fail_errno("read /proc/{}/stat", pid);
  return parse_proc_stat(std::string_view(buf, static_cast<size_t>(n)));
}
}  // namespace

Result<uint64_t> process_start_time(pid_t pid, const std::string& proc_root) {
  auto r = BERTH_TRY(read_stat(pid, proc_root));
  return r.second;
}

bool process_matches(pid_t pid, uint64_t start_time) {
  if (pid <= 0) return false;
  auto r = read_stat(pid, "/proc");
  if (!r) return false;
  if (r->first == 'Z' || r->first == 'X') return false;
  return r->second == start_time;
}

std::string now_rfc3339() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec);
}

Status StateStore::create_dir(const std::string& id) {
  if (::mkdir(root_.c_str(), 0700) < 0 && errno != EEXIST) {
    BERTH_TRY_CTX(mkdir_all(root_, 0700), "create state root");
  }
  std::string d = dir(id);
  if (::mkdir(d.c_str(), 0700) < 0) {
    if (errno == EEXIST) return fail(Errc::AlreadyExists, "container with id `{}` already exists", id);
    return fail_errno("create state directory `{}`", d);
  }
  return ok();
}

Status write_file_replace(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) return fail_errno("create `{}`", tmp);
  if (auto st = write_all(fd.get(), data); !st) {
    ::unlink(tmp.c_str());
    return fail(std::move(st).error().wrap(fmt::format("write `{}`", tmp)));
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) < 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    return fail_errno_n(e, "rename `{}`", path);
  }
  return ok();
}

Status StateStore::save(const ContainerState& s) {
  // Atomic for readers (rename) but not fsynced: the state describes processes, which cannot outlive a
  // reboot, and an fsync on a disk-backed --root costs milliseconds per container (measured: 8-18 ms
  // under load on this host's ext4).
  return write_file_replace(dir(s.id) + "/state.json", state_to_json(s), 0600);
}

bool StateStore::exists(const std::string& id) const {
  struct stat st;
  return ::stat((dir(id) + "/state.json").c_str(), &st) == 0;
}

Result<ContainerState> StateStore::load(const std::string& id) const {
  auto text = read_file(dir(id) + "/state.json", 16 << 20);
  if (!text) {
    if (text.error().sys_errno() == ENOENT) return fail(Errc::NotFound, "container `{}` does not exist", id);
    return fail(std::move(text).error().wrap(fmt::format("load state of `{}`", id)));
  }
  return state_from_json(*text).map_error([&](Error e) { return std::move(e).wrap(fmt::format("container `{}`", id)); });
}

Status StateStore::remove(const std::string& id) { return remove_all(dir(id)); }

Result<std::vector<std::string>> StateStore::list() const {
  std::vector<std::string> ids;
  DIR* d = ::opendir(root_.c_str());
  if (!d) {
    if (errno == ENOENT) return ids;
    return fail_errno("open state root `{}`", root_);
  }
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || name.starts_with(".")) continue;
    if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;
    ids.push_back(std::move(name));
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  return ids;
}

Result<UniqueFd> StateStore::lock(const std::string& id) const {
  UniqueFd fd(::open(dir(id).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return fail(Errc::NotFound, "container `{}` does not exist", id);
    return fail_errno("open `{}`", dir(id));
  }
  while (::flock(fd.get(), LOCK_EX) < 0) {
    if (errno != EINTR) return fail_errno("lock `{}`", dir(id));
  }
  return fd;
}

}  // namespace berth::runtime
