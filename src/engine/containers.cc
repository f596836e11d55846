#include "engine/containers.h"

#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <set>

#include "base/file.h"
#include "base/log.h"
#include "engine/containers_impl.h"
#include "engine/monitor/json_log.h"
#include "engine/monitor/protocol.h"
#include "engine/monitor/shim_client.h"
#include "engine/spec/etc_files.h"
#include "engine/spec/spec_builder.h"
#include "image/snapshot/snapshotter.h"
#include "runtime/cgroup/manager.h"
#include "runtime/signals.h"
#include "oci/runtime_spec.h"

namespace berth::engine {

namespace mon = monitor;
using namespace std::chrono_literals;

std::string now_rfc3339_nano() { return mon::format_rfc3339_nano(mon::now_unix_nanos()); }

std::string docker_error_text(std::string m) {
  // strerror's capitals -> Go's syscall texts, which the docker CLI matches to pick 126 / 127
  for (auto [from, to] : {std::pair{"Permission denied", "permission denied"},
                          std::pair{"No such file or directory", "no such file or directory"},
                          std::pair{"Is a directory", "is a directory"}})
    for (size_t p = m.find(from); p != std::string::npos; p = m.find(from, p)) m.replace(p, std::strlen(from), to);
  return m;
}

int start_error_exit_code(std::string_view m) {
  if (m.find("executable file not found") != std::string_view::npos ||
      m.find("no such file or directory") != std::string_view::npos ||
      m.find("No such file or directory") != std::string_view::npos)
    return 127;
  if (m.find("permission denied") != std::string_view::npos || m.find("Permission denied") != std::string_view::npos ||
      m.find("is a directory") != std::string_view::npos)
    return 126;
  return 128;
}

uint32_t go_file_mode(uint32_t m) {
  uint32_t out = m & 0777;
  switch (m & S_IFMT) {
    case S_IFDIR: out |= 1u << 31; break;
    case S_IFLNK: out |= 1u << 27; break;
    case S_IFIFO: out |= 1u << 25; break;
    case S_IFSOCK: out |= 1u << 24; break;
    case S_IFBLK: out |= 1u << 26; break;
    case S_IFCHR: out |= (1u << 26) | (1u << 21); break;
    default: break;
  }
  if (m & S_ISUID) out |= 1u << 23;
  if (m & S_ISGID) out |= 1u << 22;
  if (m & S_ISVTX) out |= 1u << 20;
  return out;
}

std::string shell_join(const std::string& path, const std::vector<std::string>& args) {
  auto quote = [](const std::string& s) {
    if (!s.empty() && s.find_first_of(" \t\n'\"\\$`;&|<>()*?[]{}~#!") == std::string::npos) return s;
    std::string q = "'";
    for (char ch : s) {
      if (ch == '\'') q += "'\\''";
      else q += ch;
    }
    return q + "'";
  };
  std::string out = quote(path);
  for (auto& a : args) {
    out += ' ';
    out += quote(a);
  }
  return out;
}

namespace {

// A process is there (with a network namespace): not Restarting, whose process is gone.
bool live(const ContainerState& s) { return s.status == RunState::Running || s.status == RunState::Paused; }

// Bytes of regular files under dir (hard links once, no mount crossing): a container's SizeRw.
int64_t dir_usage(const std::string& dir) {
  static thread_local int64_t total;
  static thread_local std::set<std::pair<dev_t, ino_t>>* seen;
  std::set<std::pair<dev_t, ino_t>> s;
  seen = &s;
  total = 0;
  auto fn = [](const char*, const struct stat* st, int type, FTW*) -> int {
    if (type == FTW_F && S_ISREG(st->st_mode) && seen->insert({st->st_dev, st->st_ino}).second) total += st->st_size;
    return 0;
  };
  if (::nftw(dir.c_str(), fn, 64, FTW_PHYS | FTW_MOUNT) != 0) return 0;
  return total;
}

bool is_mountpoint(const std::string& path) {
  // statx says it in one call (Linux 5.8+); the mountinfo scan below grows with every running container.
  struct statx sx;
  if (::statx(AT_FDCWD, path.c_str(), AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, 0, &sx) == 0 &&
      (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
    return (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
  std::ifstream f("/proc/self/mountinfo");
  std::string line;
  while (std::getline(f, line)) {
    // id parent major:minor root mountpoint ...
    size_t pos = 0;
    for (int i = 0; i < 4 && pos != std::string::npos; i++) pos = line.find(' ', pos + 1);
    if (pos == std::string::npos) continue;
    size_t end = line.find(' ', pos + 1);
    if (line.compare(pos + 1, end - pos - 1, path) == 0) return true;
  }
  return false;
}

Status mount_snapshot(const std::vector<image::snapshot::Mount>& mounts, const std::string& target) {
  for (auto& m : mounts) {
    unsigned long flags = 0;
    std::string data;
    bool bind = m.type == "bind";
    for (auto& o : m.options) {
      if (o == "ro") flags |= MS_RDONLY;
      else if (o == "rw") continue;
      else if (o == "rbind") flags |= MS_BIND | MS_REC;
      else if (o == "bind") flags |= MS_BIND;
      else data += (data.empty() ? "" : ",") + o;
    }
    if (bind) flags |= MS_BIND;
    const char* type = bind ? nullptr : m.type.c_str();
    if (::mount(m.source.c_str(), target.c_str(), type, flags & ~MS_RDONLY, bind ? nullptr : data.c_str()) != 0)
      return fail_errno("mount {} on {}", m.type, target);
    if (bind && (flags & MS_RDONLY))
      if (::mount(nullptr, target.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) != 0)
        return fail_errno("remount {} read-only", target);
  }
  return ok();
}

std::string find_helper(const std::string& name) {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    std::string self(buf, static_cast<size_t>(n));
    std::string dir = self.substr(0, self.rfind('/'));
    for (auto cand : {dir + "/" + name, dir + "/../" + name + "/" + name})
      if (::access(cand.c_str(), X_OK) == 0) return cand;
  }
  for (auto cand : {"/usr/local/bin/" + name, "/usr/bin/" + name, "/usr/local/libexec/berth/" + name})
    if (::access(cand.c_str(), X_OK) == 0) return cand;
  return "";
}

// A shim of an older version wrote shim.pid; a current one answers on shim.sock while it lives.
bool shim_alive(const std::string& sdir) {
  if (auto pid_text = read_file(sdir + "/shim.pid", 64)) {
    int spid = std::atoi(pid_text->c_str());
    return spid > 0 && ::kill(spid, 0) == 0;
  }
  auto fd = mon::connect_unix(sdir + "/shim.sock");
  return fd || fd.error().code() != Errc::Unavailable;
}

std::string network_name(const std::string& mode) {
  if (mode.empty() || mode == "default") return "bridge";
  return mode;
}

class Waiter final : public ContainerWaiter {
 public:
  Waiter(ContainerService::Impl* impl, std::shared_ptr<Container> c, WaitCondition cond)
      : impl_(impl), c_(std::move(c)), cond_(cond) {
    std::lock_guard lk(c_->mu);
    seq0_ = c_->exit_seq;
  }
  void cancel() override {
    {
      std::lock_guard lk(c_->mu);
      cancelled_ = true;
    }
    c_->cv.notify_all();
  }
  WaitResult get() override {
    std::unique_lock lk(c_->mu);
    auto done = [&] {
      if (impl_->shutting_down || c_->removed || cancelled_) return true;
      switch (cond_) {
        case WaitCondition::NotRunning: return !c_->state.running_like() || c_->exit_seq != seq0_;
        case WaitCondition::NextExit: return c_->exit_seq != seq0_;
        case WaitCondition::Removed: return false;
      }
      return true;
    };
    c_->cv.wait(lk, done);
    if (cancelled_) return {-1, "client went away"};
    if (!c_->removed && cond_ == WaitCondition::Removed) return {-1, "daemon is shutting down"};
    if (impl_->shutting_down && !c_->removed && c_->exit_seq == seq0_ && c_->state.running_like())
      return {-1, "daemon is shutting down"};
    return {c_->state.exit_code, ""};
  }

 private:
  ContainerService::Impl* impl_;
  std::shared_ptr<Container> c_;
  WaitCondition cond_;
  uint64_t seq0_ = 0;
  bool cancelled_ = false;  // guarded by c_->mu
};

class Attach final : public AttachSession {
 public:
  Attach(ContainerService::Impl* impl, std::shared_ptr<Container> c, AttachOptions o)
      : impl_(impl), c_(std::move(c)), o_(o) {
    std::lock_guard lk(c_->mu);
    tty_ = c_->config.tty;
    o_.stdin = o_.stdin && c_->config.open_stdin;
    // Registered now, so a start that comes before connect() still waits for this attach.
    epoch0_ = c_->attach_epoch;
    if (!c_->shim_live || c_->state.status == RunState::Created) {
      c_->pending_attach++;
      pending_ = true;
    }
  }
  ~Attach() override { drop_pending(); }
  bool tty() const override { return tty_; }
  Result<UniqueFd> connect() override {
    std::unique_lock lk(c_->mu);
    c_->cv.wait(lk, [&] {
      return c_->shim_live || c_->attach_epoch != epoch0_ || c_->removed || impl_->shutting_down;
    });
    if (!c_->shim_live) {
      lk.unlock();
      drop_pending();
      return fail(Errc::Canceled, "container {} did not start", c_->id);
    }
    std::string dir = impl_->shim_dir(*c_);
    lk.unlock();
    auto fd = mon::ShimClient(dir).attach(o_.stdin, o_.stdout, o_.stderr);
    drop_pending();
    return fd;
  }

 private:
  void drop_pending() {
    std::lock_guard lk(c_->mu);
    if (pending_) {
      pending_ = false;
      c_->pending_attach--;
      c_->cv.notify_all();
    }
  }
  ContainerService::Impl* impl_;
  std::shared_ptr<Container> c_;
  AttachOptions o_;
  bool tty_ = false;
  bool pending_ = false;
  uint64_t epoch0_ = 0;
};

njson networks_to_json(const std::map<std::string, AttachedNetwork>& nets) {
  njson out = njson::object();
  for (auto& [name, a] : nets)
    out[name] = {{"NetworkID", a.network_id},   {"Aliases", a.aliases},         {"IPv4Requested", a.ipv4_requested},
                 {"EndpointID", a.endpoint_id}, {"IPv4Address", a.ipv4_address}, {"Gateway", a.gateway},
                 {"MacAddress", a.mac_address}};
  return out;
}

std::map<std::string, AttachedNetwork> networks_from_json(const njson& j) {
  std::map<std::string, AttachedNetwork> out;
  if (!j.is_object()) return out;
  for (auto& [name, e] : j.items()) {
    if (!e.is_object()) continue;
    AttachedNetwork a;
    a.network_id = e.value("NetworkID", "");
    a.aliases = e.value("Aliases", std::vector<std::string>{});
    a.ipv4_requested = e.value("IPv4Requested", "");
    a.endpoint_id = e.value("EndpointID", "");
    a.ipv4_address = e.value("IPv4Address", "");
    a.gateway = e.value("Gateway", "");
    a.mac_address = e.value("MacAddress", "");
    out[name] = std::move(a);
  }
  return out;
}

// inspect's NetworkSettings.Networks (and ps's): every attached network; address fields while it runs.
njson networks_inspect_json(const ContainerMeta& m) {
  njson out = njson::object();
  for (auto& [name, a] : m.networks) {
    std::string ip = a.ipv4_address.substr(0, a.ipv4_address.find('/'));
    int prefix = 0;
    if (auto slash = a.ipv4_address.find('/'); slash != std::string::npos) prefix = std::atoi(a.ipv4_address.c_str() + slash + 1);
    out[name] = {{"IPAMConfig", a.ipv4_requested.empty() ? njson(nullptr) : njson{{"IPv4Address", a.ipv4_requested}}},
                 {"Links", nullptr},
                 {"Aliases", a.aliases.empty() ? njson(nullptr) : njson(a.aliases)},
                 {"NetworkID", a.network_id},
                 {"EndpointID", a.endpoint_id},
                 {"Gateway", a.endpoint_id.empty() ? "" : a.gateway},
                 {"IPAddress", ip},
                 {"IPPrefixLen", prefix},
                 {"IPv6Gateway", ""},
                 {"GlobalIPv6Address", ""},
                 {"GlobalIPv6PrefixLen", 0},
                 {"MacAddress", a.mac_address},
                 {"DriverOpts", nullptr}};
  }
  return out;
}

njson meta_to_json(const ContainerMeta& m) {
  return njson{{"Path", m.path},
               {"Args", m.args},
               {"SnapshotKey", m.snapshot_key},
               {"LogType", m.log_type},
               {"LogMaxSize", m.log_max_size},
               {"LogMaxFiles", m.log_max_files},
               {"Mounts", m.mounts},
               {"Volumes", m.volumes},
               {"Anonymous", m.anonymous},
               {"ResolvedMounts", m.resolved_mounts_json},
               {"Network", m.network},
               {"Networks", networks_to_json(m.networks)},
               {"Hostname", m.hostname}};
}

ContainerMeta meta_from_json(const std::string& text) {
  ContainerMeta m;
  njson j = njson::parse(text, nullptr, false);
  if (!j.is_object()) return m;
  m.path = j.value("Path", "");
  m.args = j.value("Args", std::vector<std::string>{});
  m.snapshot_key = j.value("SnapshotKey", "");
  m.log_type = j.value("LogType", "json-file");
  m.log_max_size = j.value("LogMaxSize", uint64_t{10'000'000});
  m.log_max_files = j.value("LogMaxFiles", 3);
  if (j.contains("Mounts")) m.mounts = j["Mounts"];
  m.volumes = j.value("Volumes", std::vector<std::string>{});
  m.anonymous = j.value("Anonymous", std::vector<std::string>{});
  m.resolved_mounts_json = j.value("ResolvedMounts", std::vector<std::string>{});
  m.network = j.value("Network", "bridge");
  if (j.contains("Networks")) m.networks = networks_from_json(j["Networks"]);
  else if (!m.network.starts_with("container:")) m.networks[m.network] = {};  // a record of an older version
  m.hostname = j.value("Hostname", "");
  return m;
}

njson resolved_mount_json(const spec::ResolvedMount& m) {
  return njson{{"type", m.type}, {"source", m.source}, {"destination", m.destination}, {"options", m.options}};
}

spec::ResolvedMount resolved_mount_from(const std::string& text) {
  spec::ResolvedMount m;
  njson j = njson::parse(text, nullptr, false);
  if (!j.is_object()) return m;
  m.type = j.value("type", "bind");
  m.source = j.value("source", "");
  m.destination = j.value("destination", "");
  m.options = j.value("options", std::vector<std::string>{});
  return m;
}

}  // namespace

// ---- Impl: lookup, persistence ----

Result<std::shared_ptr<Container>> ContainerService::Impl::find(const std::string& ref) {
  std::lock_guard lk(mu);
  std::vector<IdName> all;
  all.reserve(containers.size());
  for (auto& [id, c] : containers) all.push_back({id, c->name});
  auto id = BERTH_TRY(resolve_ref(all, ref));
  return containers.at(id);
}

ContainerRecord ContainerService::Impl::record_locked(const Container& c) const {
  ContainerRecord r;
  r.id = c.id;
  r.name = c.name;
  r.created = c.created;
  r.image = c.image;
  r.image_id = c.image_id;
  r.config_json = spec::to_json(c.config).dump();
  r.host_config_json = spec::to_json(c.host).dump();
  r.network_json = spec::to_json(c.net).dump();
  r.state_json = state_to_json(c.state);
  r.meta_json = meta_to_json(c.meta).dump();
  r.restart_count = c.restart_count;
  return r;
}

void ContainerService::Impl::persist_locked(const Container& c) {
  if (c.removed) return;
  auto st = store->update(record_locked(c));
  if (!st) log::error("engine: persist container {}: {}", c.id, st.error().message());
}

void ContainerService::Impl::publish(const Container& c, const std::string& action,
                                     std::map<std::string, std::string> extra) {
  if (!hooks.publish) return;
  extra["name"] = c.name.substr(1);
  extra["image"] = c.image;
  for (auto& [k, v] : c.config.labels) extra.emplace(k, v);
  hooks.publish("container", action, c.id, extra);
}

// ---- Impl: rootfs and bundle ----

Status ContainerService::Impl::ensure_rootfs(Container& c) {
  std::string target = rootfs(c);
  BERTH_TRY(mkdir_all(target, 0755));
  if (is_mountpoint(target)) return ok();
  auto mounts = BERTH_TRY_CTX(images->snapshotter().mounts(c.meta.snapshot_key), "rootfs of {}", c.id);
  if (!c.host.auto_remove) return mount_snapshot(mounts, target);
  // The writable layer of an AutoRemove container dies with it: overlay's `volatile` skips every sync of the
  // upper dir, above all the sync of the whole upper filesystem at unmount (tens of ms on the removal path).
  // A host crash leaves the mount refused (work/incompat/volatile); such a container is removed at daemon start,
  // and a remount of its (throw-away) upper clears the marker first. Kernels without `volatile` mount without it.
  auto vol = mounts;
  for (auto& mt : vol) {
    if (mt.type != "overlay") continue;
    std::string work;
    for (auto& o : mt.options)
      if (o.starts_with("workdir=")) work = o.substr(8);
    if (work.empty()) continue;
    ::rmdir((work + "/work/incompat/volatile").c_str());
    ::rmdir((work + "/work/incompat").c_str());
    mt.options.push_back("volatile");
  }
  if (mount_snapshot(vol, target)) return ok();
  return mount_snapshot(mounts, target);
}

Status ContainerService::Impl::write_etc_files(Container& c, bool if_missing) {
  if (if_missing) {
    bool all_there = true;
    for (const char* f : {"/hosts", "/hostname", "/resolv.conf"}) {
      struct stat st;
      if (::stat((dir(c) + f).c_str(), &st) != 0 || st.st_size == 0) all_there = false;
    }
    if (all_there) return ok();
  }
  spec::HostsInput hi;
  hi.hostname = c.config.hostname;
  hi.domainname = c.config.domainname;
  if (c.host.extra_hosts) hi.extra_hosts = *c.host.extra_hosts;
  auto hosts = BERTH_TRY(spec::hosts_file(hi));
  auto host_resolv = read_file("/etc/resolv.conf", 1 << 20);
  auto resolv =
      BERTH_TRY(spec::resolv_conf_file(c.host, host_resolv ? *host_resolv : std::string(), c.host.network_mode == "host"));
  BERTH_TRY(write_file_replace(dir(c) + "/hosts", hosts, 0644));
  BERTH_TRY(write_file_replace(dir(c) + "/hostname", spec::hostname_file(c.config.hostname), 0644));
  BERTH_TRY(write_file_replace(dir(c) + "/resolv.conf", resolv, 0644));
  return ok();
}

Status ContainerService::Impl::write_bundle(Container& c) {
  spec::SpecInput in;
  {
    std::lock_guard lk(c.mu);
    in.id = c.id;
    in.request.config = c.config;
    in.request.host = c.host;
    in.request.net = c.net;
    for (auto& m : c.meta.resolved_mounts_json) in.mounts.push_back(resolved_mount_from(m));
  }
  in.rootfs = rootfs(c);
  in.hosts_path = dir(c) + "/hosts";
  in.hostname_path = dir(c) + "/hostname";
  in.resolv_conf_path = dir(c) + "/resolv.conf";
  const std::string& mode = c.host.network_mode;
  if (mode == "host") {
    in.network = spec::NetworkMode::Host;
  } else if (mode.starts_with("container:")) {
    auto other = BERTH_TRY(find(mode.substr(10)));
    std::lock_guard lk(other->mu);
    if (other->state.status != RunState::Running)
      return fail(Errc::Conflict, "cannot join network of a non running container: {}", other->id);
    in.network = spec::NetworkMode::Join;
    in.netns_path = fmt::format("/proc/{}/ns/net", other->state.pid);
  } else {
    in.network = spec::NetworkMode::Private;
  }
  in.cgroups_path = "/berth/" + c.id;
  in.init_path = init_path;
  auto s = BERTH_TRY(spec::build_spec(in));
  // Regenerated at every start from the record: no fsync. Unchanged since create (the usual start): left as is.
  // On this kind of ext4 (no journal) every new inode costs a scan past the recently deleted ones.
  std::string text = oci::to_json(s);
  std::string path = dir(c) + "/config.json";
  if (auto old = read_file(path, 4 << 20); old && *old == text) return ok();
  return write_file_replace(path, text, 0600);
}

// ---- Impl: lifecycle ----

bool ContainerService::Impl::wait_exit(Container& c, uint64_t seq, std::optional<std::chrono::milliseconds> timeout) {
  std::unique_lock lk(c.mu);
  auto pred = [&] { return c.exit_seq != seq || c.removed || shutting_down; };
  if (!timeout) {
    c.cv.wait(lk, pred);
    return true;
  }
  return c.cv.wait_for(lk, *timeout, pred);
}

void ContainerService::Impl::connect_networks(const std::shared_ptr<Container>& c, bool reuse) {
  if (!hooks.network_connect) return;
  std::map<std::string, AttachedNetwork> want;
  std::string cname;
  {
    std::lock_guard lk(c->mu);
    want = c->meta.networks;
    cname = c->name.substr(1);
  }
  for (auto& [name, a] : want) {
    EndpointRequest r;
    r.container_id = c->id;
    r.container_name = cname;
    r.aliases = a.aliases;
    r.ipv4_address = a.ipv4_requested;
    if (reuse && !a.endpoint_id.empty()) {
      r.endpoint_id = a.endpoint_id;
      r.ipv4_address = a.ipv4_address.substr(0, a.ipv4_address.find('/'));
    }
    // by name (docker resolves the attached networks by name at start); by ID when the name is gone
    auto ep = hooks.network_connect(name, r);
    if (!ep && !a.network_id.empty()) ep = hooks.network_connect(a.network_id, r);
    if (!ep && reuse && !r.endpoint_id.empty()) {  // the recorded address is taken now: a new endpoint
      r.endpoint_id.clear();
      r.ipv4_address = a.ipv4_requested;
      ep = hooks.network_connect(name, r);
    }
    if (!ep) {
      log::warn("engine: connect {} to network {}: {}", c->id.substr(0, 12), name, ep.error().message());
      a.endpoint_id = a.ipv4_address = a.gateway = a.mac_address = "";
      continue;
    }
    a.network_id = ep->network_id;
    a.endpoint_id = ep->endpoint_id;
    a.ipv4_address = ep->ipv4_address;
    a.gateway = ep->gateway;
    a.mac_address = ep->mac_address;
  }
  std::lock_guard lk(c->mu);
  for (auto& [name, a] : want)
    if (auto it = c->meta.networks.find(name); it != c->meta.networks.end()) it->second = a;
}

void ContainerService::Impl::start_failed(const std::shared_ptr<Container>& c, const std::string& message) {
  {
    std::lock_guard lk(c->mu);
    c->state.error = message;
    c->state.exit_code = start_error_exit_code(message);
    c->state.pid = 0;
    c->state.status = c->state.started_at == kGoZeroTime ? RunState::Created : RunState::Exited;
    if (c->state.status == RunState::Exited) c->state.finished_at = now_rfc3339_nano();
    c->shim_live = false;
    c->attach_epoch++;
    c->exit_seq++;
    persist_locked(*c);
    c->cv.notify_all();
  }
  if (c->host.auto_remove) {
    auto st = remove_op(c, true);
    if (!st) log::warn("engine: auto-remove of {} after a failed start: {}", c->id, st.error().message());
  }
}

Result<bool> ContainerService::Impl::start_op(const std::shared_ptr<Container>& c, bool from_api) {
  {
    std::lock_guard lk(c->mu);
    if (c->removing) return fail(Errc::Conflict, "container {} is marked for removal and cannot be started", c->id);
    if (c->state.status == RunState::Running || c->state.status == RunState::Paused) return false;
    if (from_api) {
      c->restart.reset();
      c->state.manually_stopped = false;
    }
  }
  auto prep = [&]() -> Status {
    BERTH_TRY(ensure_rootfs(*c));
    BERTH_TRY(write_etc_files(*c, true));  // after a host crash they may be empty (not fsync'd)
    BERTH_TRY(write_bundle(*c));
    return ok();
  }();
  if (!prep) {
    start_failed(c, prep.error().message());
    return fail(prep.error().code() == Errc::Internal ? Errc::Internal : Errc::InvalidArgument, "{}",
                prep.error().message());
  }
  mon::ShimSpawn s;
  s.shim_path = shim_path;
  s.id = c->id;
  s.bundle = dir(*c);
  s.shim_dir = shim_dir(*c);
  s.runtime_root = runtime_root();
  s.cgroup_root = opt.cgroup_root;
  {
    std::lock_guard lk(c->mu);
    s.log_path = c->meta.log_type == "none" ? "" : log_path(*c);
    s.log_max_size = c->meta.log_max_size;
    s.log_max_files = c->meta.log_max_files;
    s.tty = c->config.tty;
    s.open_stdin = c->config.open_stdin;
    s.stdin_once = c->config.stdin_once;
    if (c->host.console_size.size() == 2) {
      s.console_size.height = static_cast<uint16_t>(c->host.console_size[0]);
      s.console_size.width = static_cast<uint16_t>(c->host.console_size[1]);
    }
  }
  (void)remove_all(s.shim_dir);
  auto h = mon::spawn_shim(s);
  if (!h) {
    std::string msg = docker_error_text(h.error().message());
    start_failed(c, msg);
    return fail(Errc::InvalidArgument, "{}", msg);
  }
  {
    // Attaches made before start are connected before the process runs.
    std::unique_lock lk(c->mu);
    c->shim_live = true;
    c->cv.notify_all();
    c->cv.wait_for(lk, 10s, [&] { return c->pending_attach <= 0; });
  }
  mon::ShimClient sc(s.shim_dir);
  if (auto st = sc.start(); !st) {
    std::string msg = st.error().message();
    (void)sc.kill(SIGKILL, true);
    start_failed(c, msg);
    return fail(Errc::InvalidArgument, "{}", msg);
  }
  connect_networks(c, false);
  {
    std::lock_guard lk(c->mu);
    c->state.status = RunState::Running;
    c->state.pid = h->init_pid;
    c->state.started_at = now_rfc3339_nano();
    c->state.exit_code = 0;
    c->state.error.clear();
    c->state.oom_killed = false;
    c->started_mono = std::chrono::steady_clock::now();
    if (c->config.healthcheck && !c->config.healthcheck->test.empty() && c->config.healthcheck->test[0] != "NONE") {
      c->state.health.status = "starting";
      c->state.health.failing_streak = 0;
    }
    persist_locked(*c);
    c->cv.notify_all();
  }
  publish(*c, "start");
  if (from_api) ensure_monitor(c);
  start_health(c);
  return true;
}

Status ContainerService::Impl::stop_op(const std::shared_ptr<Container>& c, std::optional<int> timeout_s,
                                       const std::string& signal) {
  uint64_t seq;
  int sig = SIGTERM;
  int timeout = 10;
  bool paused;
  {
    std::lock_guard lk(c->mu);
    c->restart.cancel();
    c->state.manually_stopped = true;
    if (c->state.status == RunState::Restarting) {
      c->state.status = RunState::Exited;
      persist_locked(*c);
      c->cv.notify_all();
      return ok();
    }
    persist_locked(*c);
    seq = c->exit_seq;
    std::string s = !signal.empty() ? signal : c->config.stop_signal;
    if (!s.empty()) sig = BERTH_TRY(runtime::parse_signal(s));
    if (timeout_s) timeout = *timeout_s;
    else if (c->config.stop_timeout) timeout = *c->config.stop_timeout;
    paused = c->state.status == RunState::Paused;
  }
  mon::ShimClient sc(shim_dir(*c));
  if (sig != SIGKILL) {
    (void)sc.kill(sig, false);
    if (paused) (void)sc.resume();
    std::optional<std::chrono::milliseconds> t;
    if (timeout >= 0) t = std::chrono::milliseconds(int64_t{timeout} * 1000);
    if (wait_exit(*c, seq, t)) {
      publish(*c, "stop");
      return ok();
    }
  }
  publish(*c, "kill", {{"signal", "9"}});
  (void)sc.kill(SIGKILL, true);
  if (paused) (void)sc.resume();
  if (!wait_exit(*c, seq, 60s)) return fail(Errc::Internal, "container {} did not exit after SIGKILL", c->id);
  publish(*c, "stop");
  return ok();
}

Status ContainerService::Impl::remove_op(const std::shared_ptr<Container>& c, bool remove_volumes) {
  {
    std::lock_guard lk(c->mu);
    if (c->removed) return ok();
    c->removing = true;
    c->restart.cancel();
    c->state.status = RunState::Removing;
    c->cv.notify_all();
  }
  for (auto* t : {&c->monitor, &c->health}) {
    if (!t->joinable()) continue;
    if (t->get_id() == std::this_thread::get_id()) t->detach();
    else t->join();
  }
  std::string root = rootfs(*c);
  if (is_mountpoint(root) && ::umount2(root.c_str(), MNT_DETACH) != 0)
    log::warn("engine: unmount {}: {}", root, std::strerror(errno));
  if (!c->meta.snapshot_key.empty()) {
    auto st = images->snapshotter().remove(c->meta.snapshot_key);
    if (!st && st.error().code() != Errc::NotFound)
      log::warn("engine: remove snapshot of {}: {}", c->id, st.error().message());
  }
  (void)remove_all(shim_dir(*c));
  // The container's directory (log, bundle) is renamed into <data-root>/tmp (cleared at daemon start) and
  // deleted off the request path: unlinks on this kind of ext4 cost milliseconds each.
  std::string trash = opt.data_root + "/tmp/rm-container-" + c->id;
  if (mkdir_all(opt.data_root + "/tmp", 0700) && ::rename(dir(*c).c_str(), trash.c_str()) == 0) {
    std::thread([trash] {
      if (auto st = remove_all(trash); !st) log::warn("engine: remove {}: {}", trash, st.error().message());
    }).detach();
  } else if (auto st = remove_all(dir(*c)); !st) {
    log::warn("engine: remove {}: {}", dir(*c), st.error().message());
  }
  if (hooks.release_volumes) hooks.release_volumes(c->id, c->meta.anonymous, remove_volumes);
  if (hooks.network_disconnect) hooks.network_disconnect(c->id, "");
  BERTH_TRY(store->remove(c->id));
  {
    std::lock_guard lk(mu);
    containers.erase(c->id);
    for (auto& e : c->exec_ids) execs.erase(e);
  }
  {
    std::lock_guard lk(c->mu);
    c->removed = true;
    c->cv.notify_all();
  }
  publish(*c, "destroy");
  return ok();
}

// ---- Impl: monitor ----

void ContainerService::Impl::ensure_monitor(const std::shared_ptr<Container>& c) {
  std::unique_lock lk(c->mu);
  if (c->monitor_active) return;
  c->monitor_active = true;
  lk.unlock();
  if (c->monitor.joinable()) c->monitor.join();  // the previous run's thread has finished
  c->monitor = std::thread([this, c] { monitor_loop(c); });
}

RestartManager::Decision ContainerService::Impl::on_exit(const std::shared_ptr<Container>& c, int exit_code, bool oom,
                                                         const std::string& finished_at, const std::string& error,
                                                         bool* auto_remove) {
  RestartManager::Decision d;
  std::vector<int> fds;
  {
    std::lock_guard lk(c->mu);
    c->state.status = RunState::Exited;
    c->state.pid = 0;
    c->state.exit_code = exit_code;
    c->state.oom_killed = oom;
    c->state.finished_at = finished_at.empty() ? now_rfc3339_nano() : finished_at;
    c->state.error = error;
    c->shim_live = false;
    c->exit_seq++;
    c->attach_epoch++;
    auto ran = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - c->started_mono);
    d = c->restart.should_restart(exit_code, c->state.manually_stopped, c->restart_count, ran);
    if (c->removing || shutting_down) d.restart = false;
    if (oom) publish(*c, "oom");
    for (auto& [name, a] : c->meta.networks) a.endpoint_id = a.ipv4_address = a.gateway = a.mac_address = "";
    // An AutoRemove container that does not restart is removed next (monitor_run): its exit and its removal are
    // one engine.db commit (remove_op's DELETE). A daemon killed in between finds it running with its shim gone
    // (or its exit.json) at restart and removes it then: the same end state.
    // Marked removing here, under the same lock, so that nothing between this exit and the removal (an rm or a
    // restart that got op_mu first) can act on it: rm answers "already in progress", start "marked for removal".
    bool removal_follows = !d.restart && c->host.auto_remove && !c->removing;
    *auto_remove = removal_follows;
    if (removal_follows) c->removing = true;
    else persist_locked(*c);
    fds = c->exit_fds;
    c->cv.notify_all();
  }
  for (int fd : fds) {
    uint64_t one = 1;
    (void)!::write(fd, &one, sizeof one);
  }
  publish(*c, "die", {{"exitCode", std::to_string(exit_code)}});
  if (hooks.network_disconnect) hooks.network_disconnect(c->id, "");
  return d;
}

void ContainerService::Impl::monitor_loop(std::shared_ptr<Container> c) {
  for (;;) {
    if (!monitor_run(c)) return;  // shutdown, or removed
    // The run ended (no restart). A start that came meanwhile saw this thread still active and left the new
    // run to it: keep monitoring then; otherwise stand down (under c->mu, so ensure_monitor sees it).
    std::lock_guard lk(c->mu);
    if (shutting_down || c->removing || !c->shim_live ||
        (c->state.status != RunState::Running && c->state.status != RunState::Paused)) {
      c->monitor_active = false;
      return;
    }
  }
}

bool ContainerService::Impl::monitor_run(const std::shared_ptr<Container>& c) {
  for (;;) {
    std::string sdir = shim_dir(*c);
    mon::ShimClient sc(sdir);
    std::optional<mon::ExitInfo> info;
    for (int attempt = 0; attempt < 100 && !info; attempt++) {
      auto fd = sc.wait_begin();
      if (fd) {
        pollfd p[2] = {{fd->get(), POLLIN, 0}, {shutdown_fd.get(), POLLIN, 0}};
        while (::poll(p, 2, -1) < 0 && errno == EINTR) {
        }
        if (p[1].revents) {
          std::lock_guard lk(c->mu);
          c->monitor_active = false;
          return false;  // daemon shutdown: the container keeps running (live-restore)
        }
        auto r = mon::ShimClient::read_wait_reply(fd->get(), 5000);
        if (r) {
          info = *r;
          break;
        }
      }
      if (auto ef = mon::read_exit_file(sdir)) {
        info = *ef;
        break;
      }
      // No exit record: is the shim still there (busy, or between accept calls)? Its socket takes connections
      // (into the backlog while it is busy) as long as it lives; a dead shim's is refused or gone.
      if (!shim_alive(sdir)) break;
      if (shutting_down) {
        std::lock_guard lk(c->mu);
        c->monitor_active = false;
        return false;
      }
      std::this_thread::sleep_for(50ms);
    }
    if (!info) info = mon::ExitInfo{255, false, "", "", "shim gone"};
    bool auto_remove = false;
    auto d = on_exit(c, info->exit_code, info->oom_killed, info->finished_at, info->error, &auto_remove);
    if (!d.restart) {
      if (auto_remove) {
        std::lock_guard op(c->op_mu);
        auto st = remove_op(c, true);
        if (!st) {
          log::warn("engine: auto-remove of {}: {}", c->id, st.error().message());
          std::lock_guard lk(c->mu);
          persist_locked(*c);  // on_exit left the exit to this removal: record where it stopped (restart finishes it)
        }
        return false;
      }
      break;
    }
    {
      std::unique_lock lk(c->mu);
      c->state.status = RunState::Restarting;
      persist_locked(*c);
      c->cv.wait_for(lk, d.delay, [&] { return shutting_down || c->restart.canceled() || c->removing; });
      if (shutting_down || c->restart.canceled() || c->removing) {
        if (c->state.status == RunState::Restarting) c->state.status = RunState::Exited;
        persist_locked(*c);
        c->cv.notify_all();
        break;
      }
    }
    std::lock_guard op(c->op_mu);
    {
      std::lock_guard lk(c->mu);
      if (c->restart.canceled() || c->removing || c->state.status != RunState::Restarting) break;
      c->restart_count++;
    }
    publish(*c, "restart");
    auto st = start_op(c, false);
    if (!st) {
      log::warn("engine: restart of {}: {}", c->id, st.error().message());
      break;
    }
  }
  return true;
}

// ---- Impl: JSON ----

njson ContainerService::Impl::inspect_json(Container& c, bool size) {
  // sizes first, without c.mu (image_size takes the engine's image lock; info() holds that while counting)
  int64_t rw = 0, image_bytes = 0;
  if (size) {
    if (auto upper = images->snapshotter().upper_dir(c.meta.snapshot_key)) rw = dir_usage(*upper);
    image_bytes = images->image_size(c.image_id);
  }
  std::lock_guard lk(c.mu);
  njson networks = networks_inspect_json(c.meta);
  njson ns = {{"Bridge", ""},
              {"SandboxID", ""},
              {"HairpinMode", false},
              {"LinkLocalIPv6Address", ""},
              {"LinkLocalIPv6PrefixLen", 0},
              {"Ports", njson::object()},
              {"SandboxKey", c.state.pid > 0 ? fmt::format("/proc/{}/ns/net", c.state.pid) : ""},
              {"SecondaryIPAddresses", nullptr},
              {"SecondaryIPv6Addresses", nullptr},
              {"EndpointID", ""},
              {"Gateway", ""},
              {"GlobalIPv6Address", ""},
              {"GlobalIPv6PrefixLen", 0},
              {"IPAddress", ""},
              {"IPPrefixLen", 0},
              {"IPv6Gateway", ""},
              {"MacAddress", ""},
              {"Networks", networks}};
  njson exec_ids = nullptr;
  if (!c.exec_ids.empty()) exec_ids = njson(std::vector<std::string>(c.exec_ids.begin(), c.exec_ids.end()));
  std::string driver(images->snapshotter().name());
  njson gd_data = nullptr;
  if (driver == "overlay") {
    driver = "overlay2";
    auto upper = images->snapshotter().upper_dir(c.meta.snapshot_key);
    if (upper) {
      std::string base = upper->substr(0, upper->rfind('/'));
      gd_data = {{"MergedDir", rootfs(c)}, {"UpperDir", *upper}, {"WorkDir", base + "/work"}};
    }
  }
  njson j = {{"Id", c.id},
             {"Created", c.created},
             {"Path", c.meta.path},
             {"Args", c.meta.args},
             {"State", state_inspect_json(c.state)},
             {"Image", c.image_id},
             {"ResolvConfPath", dir(c) + "/resolv.conf"},
             {"HostnamePath", dir(c) + "/hostname"},
             {"HostsPath", dir(c) + "/hosts"},
             {"LogPath", c.meta.log_type == "none" ? "" : log_path(c)},
             {"Name", c.name},
             {"RestartCount", c.restart_count},
             {"Driver", driver},
             {"Platform", "linux"},
             {"MountLabel", ""},
             {"ProcessLabel", ""},
             {"AppArmorProfile", ""},
             {"ExecIDs", exec_ids},
             {"HostConfig", spec::to_json(c.host)},
             {"GraphDriver", {{"Data", gd_data}, {"Name", driver}}},
             {"Mounts", c.meta.mounts},
             {"Config", spec::to_json(c.config)},
             {"NetworkSettings", ns}};
  if (size) {
    j["SizeRw"] = rw;
    j["SizeRootFs"] = rw + image_bytes;
  }
  return j;
}

njson ContainerService::Impl::list_json(Container& c, bool size) {
  // sizes first, without c.mu (image_size takes the engine's image lock; info() holds that while counting)
  int64_t rw = 0, image_bytes = 0;
  if (size) {
    if (auto upper = images->snapshotter().upper_dir(c.meta.snapshot_key)) rw = dir_usage(*upper);
    image_bytes = images->image_size(c.image_id);
  }
  std::lock_guard lk(c.mu);
  njson networks = networks_inspect_json(c.meta);
  njson labels = njson::object();
  for (auto& [k, v] : c.config.labels) labels[k] = v;
  njson j = {{"Id", c.id},
             {"Names", {c.name}},
             {"Image", c.image},
             {"ImageID", c.image_id},
             {"Command", shell_join(c.meta.path, c.meta.args)},
             {"Created", parse_rfc3339(c.created)},
             {"Ports", njson::array()},
             {"Labels", labels},
             {"State", run_state_name(c.state.status)},
             {"Status", status_text(c.state, ::time(nullptr))},
             {"HostConfig", {{"NetworkMode", c.host.network_mode}}},
             {"NetworkSettings", {{"Networks", networks}}},
             {"Mounts", c.meta.mounts}};
  if (size) {
    j["SizeRw"] = rw;
    j["SizeRootFs"] = rw + image_bytes;
  }
  return j;
}

// ---- ContainerService ----

ContainerService::ContainerService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

void ContainerService::shutdown() {
  auto& m = *impl_;
  m.shutting_down = true;
  uint64_t one = 1;
  (void)!::write(m.shutdown_fd.get(), &one, sizeof one);
  std::vector<std::shared_ptr<Container>> all;
  {
    std::lock_guard lk(m.mu);
    for (auto& [id, c] : m.containers) all.push_back(c);
  }
  for (auto& c : all) {
    std::lock_guard lk(c->mu);
    for (int fd : c->exit_fds) (void)!::write(fd, &one, sizeof one);
    c->cv.notify_all();
  }
}

ContainerService::~ContainerService() {
  shutdown();
  std::vector<std::shared_ptr<Container>> all;
  {
    std::lock_guard lk(impl_->mu);
    for (auto& [id, c] : impl_->containers) all.push_back(c);
  }
  for (auto& c : all)
    for (auto* t : {&c->monitor, &c->health})
      if (t->joinable()) t->join();
}

Result<std::unique_ptr<ContainerService>> ContainerService::open(const ContainerServiceOptions& o, ImageAccess& images,
                                                                 ContainerHooks hooks) {
  auto impl = std::make_unique<Impl>();
  impl->opt = o;
  impl->images = &images;
  impl->hooks = std::move(hooks);
  impl->shim_path = o.shim_path.empty() ? find_helper("berth-shim") : o.shim_path;
  impl->init_path = o.init_path.empty() ? find_helper("berth-init") : o.init_path;
  if (impl->shim_path.empty()) log::warn("engine: berth-shim not found; containers cannot start (--shim PATH)");
  BERTH_TRY(mkdir_all(o.data_root + "/containers", 0710));
  BERTH_TRY(mkdir_all(o.exec_root + "/shims", 0700));
  BERTH_TRY(mkdir_all(o.exec_root + "/runtime", 0700));
  impl->shutdown_fd = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!impl->shutdown_fd) return fail_errno("eventfd");
  impl->store = BERTH_TRY(ContainerStore::open(o.data_root + "/engine.db"));
  auto recs = BERTH_TRY(impl->store->all());
  for (auto& r : recs) {
    auto c = std::make_shared<Container>();
    c->id = r.id;
    c->name = r.name;
    c->created = r.created;
    c->image = r.image;
    c->image_id = r.image_id;
    auto cfg = spec::parse_config(njson::parse(r.config_json, nullptr, false));
    auto host = spec::parse_host_config(njson::parse(r.host_config_json, nullptr, false));
    auto st = state_from_json(r.state_json);
    if (!cfg || !host || !st) {
      log::error("engine: container {} has unreadable state in engine.db; skipped", r.id);
      continue;
    }
    c->config = std::move(*cfg);
    c->host = std::move(*host);
    c->state = std::move(*st);
    c->meta = meta_from_json(r.meta_json);
    c->restart_count = static_cast<int>(r.restart_count);
    c->restart.set_policy({c->host.restart_policy.name, c->host.restart_policy.maximum_retry_count});
    impl->containers[c->id] = c;
  }
  return std::unique_ptr<ContainerService>(new ContainerService(std::move(impl)));
}

void ContainerService::restore() {
  auto& m = *impl_;
  std::vector<std::shared_ptr<Container>> all, to_start;
  {
    std::lock_guard lk(m.mu);
    for (auto& [id, c] : m.containers) all.push_back(c);
  }
  for (auto& c : all) {
    RunState s;
    {
      std::lock_guard lk(c->mu);
      s = c->state.status;
    }
    if (s == RunState::Removing) {
      std::lock_guard op(c->op_mu);
      auto st = m.remove_op(c, false);
      if (!st) log::warn("engine: finishing removal of {}: {}", c->id, st.error().message());
      continue;
    }
    if (s == RunState::Running || s == RunState::Paused || s == RunState::Restarting) {
      mon::ShimClient sc(m.shim_dir(*c));
      auto st = sc.state();
      if (st && st->status != "stopped") {
        m.connect_networks(c, true);
        {
          std::lock_guard lk(c->mu);
          c->shim_live = true;
          c->state.pid = st->pid;
          c->state.status = st->status == "paused" ? RunState::Paused : RunState::Running;
          int64_t started = parse_rfc3339(c->state.started_at);
          c->started_mono = std::chrono::steady_clock::now() - std::chrono::seconds(std::max<int64_t>(0, ::time(nullptr) - started));
          m.persist_locked(*c);
        }
        log::info("engine: live-restore: {} ({}) still running, pid {}", c->id.substr(0, 12), c->name, st->pid);
        m.ensure_monitor(c);
        m.start_health(c);
        continue;
      }
      // The shim is gone (or finishing): its exit record, or 255.
      m.ensure_monitor(c);  // reads exit.json (or "shim gone"), then applies the restart policy / AutoRemove
      continue;
    }
    std::lock_guard lk(c->mu);
    if (s == RunState::Exited && start_on_daemon_start(c->restart.policy(), c->state.manually_stopped))
      to_start.push_back(c);
  }
  if (!to_start.empty()) {
    std::thread([this, to_start] {
      for (auto& c : to_start) {
        std::lock_guard op(c->op_mu);
        auto st = impl_->start_op(c, false);
        if (st) impl_->ensure_monitor(c);
        else log::warn("engine: starting {} on daemon start: {}", c->id, st.error().message());
      }
    }).detach();
  }
}

ContainerService::Counts ContainerService::counts() {
  Counts n;
  std::lock_guard lk(impl_->mu);
  for (auto& [id, c] : impl_->containers) {
    std::lock_guard cl(c->mu);
    n.total++;
    if (c->state.status == RunState::Paused) n.paused++;
    else if (c->state.running_like()) n.running++;
    else n.stopped++;
  }
  return n;
}

std::vector<std::string> ContainerService::containers_using_image(const std::string& image_id) {
  std::vector<std::string> out;
  std::lock_guard lk(impl_->mu);
  for (auto& [id, c] : impl_->containers)
    if (c->image_id == image_id) out.push_back(id);
  return out;
}

Result<ContainerCreateResult> ContainerService::create(const std::string& name_in, const std::string& body) {
  auto& m = *impl_;
  if (!name_in.empty()) BERTH_TRY(validate_name(name_in));
  auto req = BERTH_TRY(spec::parse_create_request(body));
  if (req.config.image.empty()) return fail(Errc::InvalidArgument, "Config.Image: no image specified");
  auto img = BERTH_TRY(m.images->image_for_container(req.config.image));
  spec::merge_image_config(req.config, img.config.config);
  auto args = BERTH_TRY(spec::process_args(req.config));
  ContainerCreateResult out;

  auto c = std::make_shared<Container>();
  c->id = new_container_id();
  c->created = now_rfc3339_nano();
  c->image = req.config.image;
  c->image_id = img.id;
  c->meta.path = args.front();
  c->meta.args.assign(args.begin() + 1, args.end());
  c->meta.snapshot_key = "container-" + c->id;
  if (req.config.hostname.empty()) req.config.hostname = c->id.substr(0, 12);
  c->meta.hostname = req.config.hostname;

  // network: none and host work; bridge and user networks are a private netns with loopback only for now
  // (the network service logs that once)
  std::string nm = req.host.network_mode;
  if (nm.empty()) nm = req.host.network_mode = "default";
  c->meta.network = network_name(nm);
  if (!nm.starts_with("container:")) {
    AttachedNetwork a;
    auto ep = req.net.endpoints.find(c->meta.network);
    if (ep == req.net.endpoints.end() && nm == "default") ep = req.net.endpoints.find("default");
    if (ep != req.net.endpoints.end()) {
      a.aliases = ep->second.aliases;
      a.ipv4_address.clear();
      a.ipv4_requested = ep->second.ipv4_address;
    }
    c->meta.networks[c->meta.network] = std::move(a);
  }

  // logging
  auto& lc = req.host.log_config;
  if (lc.type.empty()) lc.type = "json-file";
  if (lc.type != "json-file" && lc.type != "none")
    return fail(Errc::InvalidArgument, "logger: no log driver named '{}' is registered", lc.type);
  c->meta.log_type = lc.type;
  if (auto it = lc.config.find("max-size"); it != lc.config.end()) {
    auto n = spec::parse_size(it->second);
    if (!n || *n < 0) return fail(Errc::InvalidArgument, "invalid max-size: {}", it->second);
    c->meta.log_max_size = static_cast<uint64_t>(*n);
  }
  if (auto it = lc.config.find("max-file"); it != lc.config.end()) {
    int n = std::atoi(it->second.c_str());
    if (n < 1) return fail(Errc::InvalidArgument, "invalid max-file: {}", it->second);
    c->meta.log_max_files = n;
  }

  c->config = std::move(req.config);
  c->host = std::move(req.host);
  c->net = std::move(req.net);
  c->restart.set_policy({c->host.restart_policy.name, c->host.restart_policy.maximum_retry_count});
  if (c->host.auto_remove && c->host.restart_policy.name != "no" && !c->host.restart_policy.name.empty())
    return fail(Errc::InvalidArgument, "conflicting options: AutoRemove and restart policy");

  // the name is reserved (in memory) before the slow part
  {
    std::lock_guard lk(m.mu);
    std::string want = name_in.empty() ? "" : canonical_name(name_in);
    auto taken = [&](const std::string& n) {
      for (auto& [id, o] : m.containers)
        if (o->name == n) return o->id;
      return std::string();
    };
    if (want.empty()) {
      do want = "/" + random_name();
      while (!taken(want).empty());
    } else if (auto holder = taken(want); !holder.empty()) {
      return fail(Errc::AlreadyExists,
                  "Conflict. The container name \"{}\" is already in use by container \"{}\". You have to remove (or "
                  "rename) that container to be able to reuse that name.",
                  want, holder);
    }
    c->name = want;
    c->removing = true;  // not usable until created
    m.containers[c->id] = c;
  }
  auto cleanup = [&] {
    std::string root = m.rootfs(*c);
    if (is_mountpoint(root)) ::umount2(root.c_str(), MNT_DETACH);
    (void)m.images->snapshotter().remove(c->meta.snapshot_key);
    (void)remove_all(m.dir(*c));
    if (m.hooks.release_volumes) m.hooks.release_volumes(c->id, c->meta.anonymous, true);
    std::lock_guard lk(m.mu);
    m.containers.erase(c->id);
  };
  auto made = [&]() -> Status {
    BERTH_TRY(mkdir_all(m.dir(*c), 0710));
    // An AutoRemove container's writable layer dies with it: its snapshot metadata needs no fsync either.
    auto& snaps = m.images->snapshotter();
    BERTH_TRY_CTX(c->host.auto_remove ? snaps.prepare_ephemeral(c->meta.snapshot_key, img.top_chain)
                                      : snaps.prepare(c->meta.snapshot_key, img.top_chain),
                  "snapshot for {}", c->id);
    BERTH_TRY(m.ensure_rootfs(*c));
    // mounts
    auto reqs = BERTH_TRY(spec::mount_requests(c->config, c->host));
    for (auto& r : reqs) {
      std::string host_path;
      njson mj;
      if (r.kind == spec::MountKind::Bind) {
        struct stat st {};
        if (::stat(r.source.c_str(), &st) != 0) {
          if (!r.create_host_path)
            return fail(Errc::InvalidArgument, "invalid mount config for type \"bind\": bind source path does not exist: {}",
                        r.source);
          BERTH_TRY(mkdir_all(r.source, 0755));
        }
        host_path = r.source;
        mj = {{"Type", "bind"}, {"Source", r.source}, {"Destination", r.destination}, {"Mode", r.mode},
              {"RW", !r.read_only}, {"Propagation", r.propagation}};
      } else if (r.kind == spec::MountKind::Volume) {
        std::string vname = r.source, vpath;
        bool anonymous = vname.empty();
        if (m.hooks.acquire_volume) {
          auto v = BERTH_TRY(m.hooks.acquire_volume(vname, c->id));
          vname = v.first;
          vpath = v.second;
        } else {
          if (anonymous) vname = new_container_id();
          vpath = m.opt.data_root + "/volumes/" + vname + "/_data";
          BERTH_TRY(mkdir_all(vpath, 0755));
        }
        c->meta.volumes.push_back(vname);
        if (anonymous) c->meta.anonymous.push_back(vname);
        host_path = vpath;
        mj = {{"Type", "volume"}, {"Name", vname}, {"Source", vpath}, {"Destination", r.destination},
              {"Driver", "local"}, {"Mode", r.mode}, {"RW", !r.read_only}, {"Propagation", ""}};
      } else {
        mj = {{"Type", "tmpfs"}, {"Source", ""}, {"Destination", r.destination}, {"Mode", ""}, {"RW", !r.read_only},
              {"Propagation", ""}};
      }
      auto rm = spec::resolve_mount(r, host_path);
      c->meta.resolved_mounts_json.push_back(resolved_mount_json(rm).dump());
      c->meta.mounts.push_back(mj);
    }
    BERTH_TRY(m.write_etc_files(*c, false));
    BERTH_TRY(m.write_bundle(*c));  // validates user, capabilities, ... now rather than at start
    std::lock_guard lk(c->mu);
    BERTH_TRY(m.store->insert(m.record_locked(*c)));
    c->removing = false;
    return ok();
  }();
  if (!made) {
    cleanup();
    // A 404 here (a user missing from the image, ...) would make the CLI pull the image: it is a bad request.
    if (made.error().code() == Errc::NotFound) return fail(Errc::InvalidArgument, "{}", made.error().message());
    return tl::unexpected(made.error());
  }
  m.publish(*c, "create");
  out.id = c->id;
  return out;
}

Result<ContainerRef> ContainerService::resolve(const std::string& ref) {
  auto c = BERTH_TRY(impl_->find(ref));
  std::lock_guard lk(c->mu);
  return ContainerRef{c->id, c->name, c->config.tty, c->config.open_stdin, std::string(run_state_name(c->state.status))};
}

Result<bool> ContainerService::start(const std::string& ref) {
  auto c = BERTH_TRY(impl_->find(ref));
  std::lock_guard op(c->op_mu);
  return impl_->start_op(c, true);
}

Result<bool> ContainerService::stop(const std::string& ref, std::optional<int> timeout_s, const std::string& signal) {
  auto c = BERTH_TRY(impl_->find(ref));
  std::lock_guard op(c->op_mu);
  {
    std::lock_guard lk(c->mu);
    if (!c->state.running_like()) return false;
  }
  BERTH_TRY(impl_->stop_op(c, timeout_s, signal));
  return true;
}

Status ContainerService::restart(const std::string& ref, std::optional<int> timeout_s, const std::string& signal) {
  auto c = BERTH_TRY(impl_->find(ref));
  std::lock_guard op(c->op_mu);
  bool running;
  {
    std::lock_guard lk(c->mu);
    running = c->state.running_like();
  }
  if (running) BERTH_TRY(impl_->stop_op(c, timeout_s, signal));
  auto r = BERTH_TRY(impl_->start_op(c, true));
  (void)r;
  impl_->publish(*c, "restart");
  return ok();
}

Status ContainerService::kill(const std::string& ref, const std::string& signal) {
  auto c = BERTH_TRY(impl_->find(ref));
  int sig = SIGKILL;
  if (!signal.empty()) sig = BERTH_TRY(runtime::parse_signal(signal));
  bool paused;
  {
    std::lock_guard lk(c->mu);
    if (c->state.status != RunState::Running && c->state.status != RunState::Paused)
      return fail(Errc::Conflict, "Cannot kill container: {}: Container {} is not running", ref, c->id);
    int stop_sig = SIGTERM;
    if (!c->config.stop_signal.empty())
      if (auto s = runtime::parse_signal(c->config.stop_signal)) stop_sig = *s;
    if (sig == SIGKILL || sig == stop_sig) c->restart.cancel();
    c->state.manually_stopped = true;
    impl_->persist_locked(*c);
    paused = c->state.status == RunState::Paused;
  }
  impl_->publish(*c, "kill", {{"signal", std::to_string(sig)}});
  mon::ShimClient sc(impl_->shim_dir(*c));
  auto st = sc.kill(sig, false);
  if (!st && st.error().code() == Errc::FailedPrecondition)
    return fail(Errc::Conflict, "Cannot kill container: {}: Container {} is not running", ref, c->id);
  if (!st) return st;
  if (paused && sig == SIGKILL) (void)sc.resume();
  return ok();
}

Status ContainerService::pause(const std::string& ref) {
  auto c = BERTH_TRY(impl_->find(ref));
  std::lock_guard op(c->op_mu);
  {
    std::lock_guard lk(c->mu);
    if (c->state.status == RunState::Paused) return fail(Errc::Conflict, "Container {} is already paused", c->id);
    if (c->state.status != RunState::Running) return fail(Errc::Conflict, "Container {} is not running", c->id);
  }
  BERTH_TRY(mon::ShimClient(impl_->shim_dir(*c)).pause());
  std::lock_guard lk(c->mu);
  c->state.status = RunState::Paused;
  impl_->persist_locked(*c);
  impl_->publish(*c, "pause");
  return ok();
}

Status ContainerService::unpause(const std::string& ref) {
  auto c = BERTH_TRY(impl_->find(ref));
  std::lock_guard op(c->op_mu);
  {
    std::lock_guard lk(c->mu);
    if (c->state.status != RunState::Paused) return fail(Errc::Conflict, "Container {} is not paused", c->id);
  }
  BERTH_TRY(mon::ShimClient(impl_->shim_dir(*c)).resume());
  std::lock_guard lk(c->mu);
  c->state.status = RunState::Running;
  impl_->persist_locked(*c);
  impl_->publish(*c, "unpause");
  return ok();
}

Result<std::unique_ptr<ContainerWaiter>> ContainerService::wait(const std::string& ref, WaitCondition cond) {
  auto c = BERTH_TRY(impl_->find(ref));
  return std::unique_ptr<ContainerWaiter>(new Waiter(impl_.get(), c, cond));
}

Result<std::unique_ptr<AttachSession>> ContainerService::attach(const std::string& ref, const AttachOptions& o) {
  auto c = BERTH_TRY(impl_->find(ref));
  {
    std::lock_guard lk(c->mu);
    if (c->state.status == RunState::Paused)
      return fail(Errc::Conflict, "You cannot attach to a paused container, unpause it first");
  }
  impl_->publish(*c, "attach");
  return std::unique_ptr<AttachSession>(new Attach(impl_.get(), c, o));
}

Status ContainerService::resize(const std::string& ref, int height, int width) {
  auto c = BERTH_TRY(impl_->find(ref));
  {
    std::lock_guard lk(c->mu);
    if (!c->shim_live) return fail(Errc::Conflict, "Container {} is not running", c->id);
  }
  auto st = mon::ShimClient(impl_->shim_dir(*c))
                .resize({static_cast<uint16_t>(height), static_cast<uint16_t>(width)});
  if (!st && st.error().code() == Errc::FailedPrecondition) return ok();  // no tty: docker ignores it too
  return st;
}

Status ContainerService::logs(const std::string& ref, const LogsOptions& o, int cancel_fd, const ByteSink& sink) {
  auto c = BERTH_TRY(impl_->find(ref));
  mon::LogReadOptions lo;
  lo.stdout_stream = o.stdout_stream;
  lo.stderr_stream = o.stderr_stream;
  lo.timestamps = o.timestamps;
  if (!o.since.empty() && o.since != "0") lo.since = BERTH_TRY(mon::parse_unix_timestamp(o.since));
  if (!o.until.empty() && o.until != "0") lo.until = BERTH_TRY(mon::parse_unix_timestamp(o.until));
  if (o.tail != "all") {
    char* end = nullptr;
    long n = std::strtol(o.tail.c_str(), &end, 10);
    lo.tail = (end && *end == '\0' && n >= 0) ? n : -1;
  }
  lo.cancel_fd = cancel_fd;
  UniqueFd efd;
  std::string path;
  int max_files;
  {
    std::lock_guard lk(c->mu);
    if (c->meta.log_type == "none")
      return fail(Errc::InvalidArgument, "configured logging driver does not support reading");
    lo.raw = c->config.tty;
    path = impl_->log_path(*c);
    max_files = c->meta.log_max_files;
    if (o.follow && c->state.running_like()) {
      efd = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      if (efd) {
        lo.follow = true;
        lo.stop_fd = efd.get();
        c->exit_fds.push_back(efd.get());
      }
    }
  }
  auto st = mon::read_json_log(path, max_files, lo, sink);
  if (efd) {
    std::lock_guard lk(c->mu);
    std::erase(c->exit_fds, efd.get());
  }
  return st;
}

Result<std::string> ContainerService::inspect(const std::string& ref, bool size) {
  auto c = BERTH_TRY(impl_->find(ref));
  return impl_->inspect_json(*c, size).dump();
}

Result<std::string> ContainerService::list(const ListOptions& o) {
  auto& m = *impl_;
  BERTH_TRY(validate_filters(o.filters));
  std::string before, since;
  auto bound = [&](const char* key, std::string& out) -> Status {
    auto it = o.filters.find(key);
    if (it == o.filters.end() || it->second.empty()) return ok();
    auto c = BERTH_TRY(m.find(it->second.front()));
    std::lock_guard lk(c->mu);
    out = c->created;
    return ok();
  };
  BERTH_TRY(bound("before", before));
  BERTH_TRY(bound("since", since));
  std::vector<std::shared_ptr<Container>> all;
  {
    std::lock_guard lk(m.mu);
    for (auto& [id, c] : m.containers)
      if (!c->removed) all.push_back(c);
  }
  std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a->created > b->created; });
  bool has_status = o.filters.count("status") || o.filters.count("exited");
  njson out = njson::array();
  for (auto& c : all) {
    FilterView v;
    {
      std::lock_guard lk(c->mu);
      if (c->removing && c->state.status == RunState::Created) continue;  // still being created
      if (!o.all && !has_status && !c->state.running_like() && before.empty() && since.empty()) continue;
      v.id = c->id;
      v.name = c->name;
      v.status = c->state.status;
      v.exit_code = c->state.exit_code;
      v.labels = c->config.labels;
      v.image = c->image;
      v.image_id = c->image_id;
      v.health = c->state.health.status;
      v.volumes = c->meta.volumes;
      for (auto& mj : c->meta.mounts) v.volumes.push_back(mj.value("Source", ""));
      v.networks.clear();
      for (auto& [name, a] : c->meta.networks) {
        v.networks.push_back(name);
        if (!a.network_id.empty()) v.networks.push_back(a.network_id);
      }
      v.created = c->created;
    }
    if (o.filters.count("ancestor")) v.image_names = m.images->image_names(v.image_id);
    if (!filter_match(v, o.filters, before, since)) continue;
    out.push_back(m.list_json(*c, o.size));
    if (o.limit > 0 && static_cast<int>(out.size()) >= o.limit) break;
  }
  return out.dump();
}

Status ContainerService::rename(const std::string& ref, const std::string& new_name) {
  auto& m = *impl_;
  BERTH_TRY(validate_name(new_name));
  auto c = BERTH_TRY(m.find(ref));
  std::string want = canonical_name(new_name);
  std::string old;
  {
    std::lock_guard lk(m.mu);
    for (auto& [id, o] : m.containers)
      if (o->name == want && o != c)
        return fail(Errc::AlreadyExists,
                    "Conflict. The container name \"{}\" is already in use by container \"{}\". You have to remove "
                    "(or rename) that container to be able to reuse that name.",
                    want, o->id);
    std::lock_guard cl(c->mu);
    if (c->name == want) return fail(Errc::InvalidArgument, "Renaming a container with the same name as its current name");
    old = c->name;
    c->name = want;
    auto st = m.store->update(m.record_locked(*c));
    if (!st) {
      c->name = old;
      return st;
    }
  }
  m.publish(*c, "rename", {{"oldName", old}});
  return ok();
}

Result<std::vector<std::string>> ContainerService::update(const std::string& ref, const std::string& body) {
  auto& m = *impl_;
  auto c = BERTH_TRY(m.find(ref));
  njson j = njson::parse(body, nullptr, false);
  if (!j.is_object()) return fail(Errc::InvalidArgument, "invalid JSON body");
  std::lock_guard op(c->op_mu);
  spec::HostConfig h;
  {
    std::lock_guard lk(c->mu);
    h = c->host;
  }
  // The update body has the HostConfig resource fields and RestartPolicy at the top level.
  njson cur = spec::to_json(h);
  for (auto& [k, v] : j.items()) cur[k] = v;
  auto nh = BERTH_TRY(spec::parse_host_config(cur));
  BERTH_TRY(spec::validate_host_config(nh));
  if (nh.auto_remove && nh.restart_policy.name != "no" && !nh.restart_policy.name.empty())
    return fail(Errc::InvalidArgument, "Restart policy cannot be updated because AutoRemove is enabled for the container");
  {
    std::lock_guard lk(c->mu);
    c->host = nh;
    c->restart.set_policy({nh.restart_policy.name, nh.restart_policy.maximum_retry_count});
    m.persist_locked(*c);
  }
  BERTH_TRY(m.write_bundle(*c));
  std::vector<std::string> warnings;
  bool running;
  {
    std::lock_guard lk(c->mu);
    running = c->state.running_like();
  }
  if (running) {
    // Live resources through the cgroup (same path the runtime used).
    auto spec_text = BERTH_TRY(read_file(m.dir(*c) + "/config.json"));
    auto s = BERTH_TRY(oci::parse_runtime_spec(spec_text));
    if (s.linux && s.linux->resources) {
      auto layout = runtime::cgroup::detect_layout(m.opt.cgroup_root);
      if (layout) {
        auto mgr = runtime::cgroup::make_manager(*layout, "/berth/" + c->id, c->id);
        if (mgr) BERTH_TRY((*mgr)->apply(*s.linux->resources));
      }
    }
  }
  m.publish(*c, "update");
  return warnings;
}

Result<ContainerPruneReport> ContainerService::prune(const std::map<std::string, std::vector<std::string>>& filters) {
  auto& m = *impl_;
  for (auto& [k, v] : filters)
    if (k != "label" && k != "until") return fail(Errc::InvalidArgument, "invalid filter '{}'", k);
  std::vector<std::shared_ptr<Container>> all;
  {
    std::lock_guard lk(m.mu);
    for (auto& [id, c] : m.containers) all.push_back(c);
  }
  ContainerPruneReport rep;
  for (auto& c : all) {
    std::lock_guard op(c->op_mu);
    {
      std::lock_guard lk(c->mu);
      if (c->state.running_like() || c->removing) continue;
      FilterView v;
      v.labels = c->config.labels;
      std::map<std::string, std::vector<std::string>> lf;
      if (filters.count("label")) lf["label"] = filters.at("label");
      if (!filter_match(v, lf, "", "")) continue;
      if (auto it = filters.find("until"); it != filters.end() && !it->second.empty()) {
        auto t = mon::parse_unix_timestamp(it->second.front());
        int64_t until = t ? *t / 1'000'000'000 : parse_rfc3339(it->second.front());
        if (parse_rfc3339(c->created) >= until) continue;
      }
    }
    if (m.remove_op(c, false)) rep.deleted.push_back(c->id);
  }
  return rep;
}

Status ContainerService::network_connect(const std::string& ref, const Network& net, const EndpointRequest& req) {
  auto& m = *impl_;
  auto c = BERTH_TRY(m.find(ref));
  std::lock_guard op(c->op_mu);
  bool running;
  std::string cname;
  {
    std::lock_guard lk(c->mu);
    const std::string& mode = c->host.network_mode;
    if (mode == "host")
      return fail(Errc::PermissionDenied, "container cannot be disconnected from host network or connected to host network");
    if (mode == "none")
      return fail(Errc::PermissionDenied, "container cannot be connected to multiple networks with one of the networks in private (none) mode");
    if (mode.starts_with("container:"))
      return fail(Errc::PermissionDenied, "container sharing network namespace with another container or host cannot be connected to any other network");
    for (auto& [name, a] : c->meta.networks)
      if (name == net.name || (!a.network_id.empty() && a.network_id == net.id))
        return fail(Errc::PermissionDenied, "endpoint with name {} already exists in network {}", c->name.substr(1), net.name);
    // Only a live process has a network namespace to plug into: a container waiting to restart gets its
    // endpoints when it starts, like a stopped one.
    running = live(c->state);
    cname = c->name.substr(1);
  }
  AttachedNetwork a;
  a.network_id = net.id;
  a.aliases = req.aliases;
  a.ipv4_requested = req.ipv4_address;
  if (running && m.hooks.network_connect) {
    EndpointRequest r = req;
    r.container_id = c->id;
    if (r.container_name.empty()) r.container_name = cname;
    auto ep = BERTH_TRY(m.hooks.network_connect(net.id, r));
    a.endpoint_id = ep.endpoint_id;
    a.ipv4_address = ep.ipv4_address;
    a.gateway = ep.gateway;
    a.mac_address = ep.mac_address;
  }
  std::lock_guard lk(c->mu);
  if (running && !live(c->state)) {
    // it exited meanwhile (its exit dropped its endpoints before this one was recorded)
    if (m.hooks.network_disconnect) m.hooks.network_disconnect(c->id, net.id);
    a.endpoint_id = a.ipv4_address = a.gateway = a.mac_address = "";
  }
  c->meta.networks[net.name] = std::move(a);
  if (auto st = m.store->update(m.record_locked(*c)); !st) {  // acknowledged only once it is durable
    c->meta.networks.erase(net.name);
    if (running && m.hooks.network_disconnect) m.hooks.network_disconnect(c->id, net.id);
    return st;
  }
  return ok();
}

Status ContainerService::network_disconnect(const std::string& ref, const Network& net, bool force) {
  auto& m = *impl_;
  auto c = BERTH_TRY(m.find(ref));
  std::lock_guard op(c->op_mu);
  {
    std::lock_guard lk(c->mu);
    if (c->host.network_mode == "host" && net.name == "host")
      return fail(Errc::PermissionDenied, "container cannot be disconnected from host network or connected to host network");
    auto it = c->meta.networks.begin();
    for (; it != c->meta.networks.end(); ++it)
      if (it->first == net.name || (!it->second.network_id.empty() && it->second.network_id == net.id)) break;
    if (it == c->meta.networks.end()) {
      if (!force) return fail(Errc::FailedPrecondition, "container {} is not connected to network {}", c->id, net.name);
    } else {
      auto kept = *it;
      c->meta.networks.erase(it);
      if (auto st = m.store->update(m.record_locked(*c)); !st) {  // acknowledged only once it is durable
        c->meta.networks.insert(std::move(kept));
        return st;
      }
    }
  }
  if (m.hooks.network_disconnect) m.hooks.network_disconnect(c->id, net.id);
  return ok();
}

Status ContainerService::remove(const std::string& ref, bool force, bool remove_volumes) {
  auto& m = *impl_;
  auto c = BERTH_TRY(m.find(ref));
  std::lock_guard op(c->op_mu);
  uint64_t seq;
  bool paused, direct;
  {
    std::lock_guard lk(c->mu);
    if (c->removing) return fail(Errc::Conflict, "removal of container {} is already in progress", c->id);
    direct = !c->state.running_like() || c->state.status == RunState::Restarting;
    if (!direct && !force)
      return fail(Errc::Conflict,
                  "You cannot remove a running container {}. Stop the container before attempting removal or force "
                  "remove",
                  c->id);
    c->restart.cancel();
    c->removing = true;  // no auto-remove / restart from the monitor meanwhile
    c->cv.notify_all();
    seq = c->exit_seq;
    paused = c->state.status == RunState::Paused;
  }
  if (direct) return m.remove_op(c, remove_volumes);
  m.publish(*c, "kill", {{"signal", "9"}});
  mon::ShimClient sc(m.shim_dir(*c));
  (void)sc.kill(SIGKILL, true);
  if (paused) (void)sc.resume();
  if (!m.wait_exit(*c, seq, 60s)) return fail(Errc::Internal, "container {} did not exit after SIGKILL", c->id);
  return m.remove_op(c, remove_volumes);
}

}  // namespace berth::engine
