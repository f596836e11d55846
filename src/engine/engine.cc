#include "engine/engine.h"

#include <fcntl.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "base/file.h"
#include "base/log.h"
#include "engine/containers.h"
#include "engine/gc.h"
#include "engine/image_transfer.h"
#include "image/image_store.h"
#include "image/registry/client.h"
#include "image/registry/reference.h"

namespace berth::engine {

namespace registry = image::registry;

std::string familiar_name(std::string_view n) {
  constexpr std::string_view kLib = "docker.io/library/";
  constexpr std::string_view kHub = "docker.io/";
  if (n.starts_with(kLib)) return std::string(n.substr(kLib.size()));
  if (n.starts_with(kHub)) return std::string(n.substr(kHub.size()));
  return std::string(n);
}

int64_t parse_rfc3339(std::string_view s) {
  if (s.size() < 19) return 0;
  std::tm tm{};
  std::string head(s.substr(0, 19));
  if (!strptime(head.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  int64_t t = static_cast<int64_t>(timegm(&tm));
  size_t i = 19;
  if (i < s.size() && s[i] == '.')
    for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i) {
    }
  if (i < s.size() && (s[i] == '+' || s[i] == '-') && s.size() >= i + 6) {
    int sign = s[i] == '+' ? 1 : -1;
    int hh = std::atoi(std::string(s.substr(i + 1, 2)).c_str());
    int mm = std::atoi(std::string(s.substr(i + 4, 2)).c_str());
    t -= sign * (hh * 3600 + mm * 60);
  }
  return t;
}


// ---- container defaults (Unimplemented unless an engine overrides them) ----
namespace {
tl::unexpected<Error> unimpl(std::string_view what) { return fail(Errc::Unimplemented, "{} is not implemented", what); }
}  // namespace

Result<ContainerCreateResult> Engine::container_create(const std::string&, const std::string&) { return unimpl("container create"); }
Result<ContainerRef> Engine::container_resolve(const std::string&) { return unimpl("containers"); }
Result<bool> Engine::container_start(const std::string&) { return unimpl("container start"); }
Result<bool> Engine::container_stop(const std::string&, std::optional<int>, const std::string&) { return unimpl("container stop"); }
Status Engine::container_restart(const std::string&, std::optional<int>, const std::string&) { return unimpl("container restart"); }
Status Engine::container_kill(const std::string&, const std::string&) { return unimpl("container kill"); }
Status Engine::container_pause(const std::string&) { return unimpl("container pause"); }
Status Engine::container_unpause(const std::string&) { return unimpl("container unpause"); }
Result<std::unique_ptr<ContainerWaiter>> Engine::container_wait(const std::string&, WaitCondition) { return unimpl("container wait"); }
Result<std::unique_ptr<AttachSession>> Engine::container_attach(const std::string&, const AttachOptions&) { return unimpl("container attach"); }
Status Engine::container_resize(const std::string&, int, int) { return unimpl("container resize"); }
Status Engine::container_logs(const std::string&, const LogsOptions&, int, const ByteSink&) { return unimpl("container logs"); }
Result<std::string> Engine::container_inspect(const std::string&, bool) { return unimpl("container inspect"); }
Result<std::string> Engine::container_list(const ListOptions&) { return unimpl("container list"); }
Result<std::string> Engine::container_top(const std::string&, const std::string&) { return unimpl("container top"); }
Status Engine::container_stats(const std::string&, bool, const ByteSink&) { return unimpl("container stats"); }
Status Engine::container_rename(const std::string&, const std::string&) { return unimpl("container rename"); }
Result<std::vector<std::string>> Engine::container_update(const std::string&, const std::string&) { return unimpl("container update"); }
Result<ContainerPruneReport> Engine::container_prune(const std::map<std::string, std::vector<std::string>>&) { return unimpl("container prune"); }
Status Engine::container_remove(const std::string&, bool, bool) { return unimpl("container remove"); }
Result<std::string> Engine::container_changes(const std::string&) { return unimpl("container changes"); }
Status Engine::container_export(const std::string&, const ByteSink&) { return unimpl("container export"); }
Result<PathStat> Engine::container_archive_stat(const std::string&, const std::string&) { return unimpl("container archive"); }
Status Engine::container_archive_get(const std::string&, const std::string&, const ByteSink&) { return unimpl("container archive"); }
Status Engine::container_archive_put(const std::string&, const std::string&, bool, const ByteSource&) { return unimpl("container archive"); }
Result<std::string> Engine::exec_create(const std::string&, const std::string&) { return unimpl("exec"); }
Result<ExecStream> Engine::exec_start(const std::string&, bool) { return unimpl("exec"); }
Result<std::string> Engine::exec_inspect(const std::string&) { return unimpl("exec"); }
Status Engine::exec_resize(const std::string&, int, int) { return unimpl("exec"); }
// ---- objects operations: default bodies (fakes override what they exercise) ----
namespace {
tl::unexpected<Error> unimplemented(std::string_view what) {
  return fail(Errc::Unimplemented, "{} is not implemented by this engine", what);
}
}  // namespace

Result<Volume> Engine::volume_create(const VolumeCreateRequest&) { return unimplemented("volume create"); }
Result<std::vector<Volume>> Engine::volumes() { return unimplemented("volume list"); }
Result<Volume> Engine::volume_inspect(const std::string&) { return unimplemented("volume inspect"); }
Status Engine::volume_remove(const std::string&, bool) { return unimplemented("volume remove"); }
Result<VolumePruneReport> Engine::volume_prune(bool, const std::vector<std::string>&) {
  return unimplemented("volume prune");
}
Result<NetworkCreateResult> Engine::network_create(const NetworkCreateRequest&) { return unimplemented("network create"); }
Result<std::vector<Network>> Engine::networks() { return unimplemented("network list"); }
Result<Network> Engine::network_inspect(const std::string&) { return unimplemented("network inspect"); }
Status Engine::network_remove(const std::string&) { return unimplemented("network remove"); }
Status Engine::network_connect(const std::string&, const std::string&, const EndpointRequest&) {
  return unimplemented("network connect");
}
Status Engine::network_disconnect(const std::string&, const std::string&, bool) {
  return unimplemented("network disconnect");
}
Result<std::vector<std::string>> Engine::network_prune(const std::vector<std::string>&, int64_t) {
  return unimplemented("network prune");
}
Result<std::unique_ptr<EventSubscription>> Engine::events_subscribe(const EventFilter&, int64_t, int64_t) {
  return unimplemented("events");
}
Result<std::vector<ContainerDiskUsage>> Engine::container_disk_usage() { return unimplemented("container sizes"); }
Result<DiskUsage> Engine::system_df() { return unimplemented("system df"); }
Status Engine::registry_login(const RegistryAuth&) { return unimplemented("login"); }
Status Engine::image_pull(const PullRequest&, const ProgressFn&) { return unimplemented("image pull"); }
Status Engine::image_push(const std::string&, const std::string&, const RegistryAuth&, const ProgressFn&) {
  return unimplemented("image push");
}
Result<std::string> Engine::image_import(const BodyReader&, const std::string&, const std::string&) {
  return unimplemented("image import");
}
Result<UniqueFd> Engine::image_save(const std::vector<std::string>&) { return unimplemented("image save"); }
Result<std::vector<std::string>> Engine::image_load(const BodyReader&) { return unimplemented("image load"); }
Result<GcReport> Engine::disk_gc(bool) { return unimplemented("disk gc"); }
// ---- end of the objects defaults ----

namespace {

// Repository of the digest-only names under which images without a name (untagged load) are kept.
constexpr std::string_view kLoadedUntagged = "berth.local/loaded";

std::string read_small(const std::string& path) {
  std::ifstream f(path);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  return s;
}

std::string os_release_field(const std::string& text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + pos, end - pos);
    if (line.starts_with(key) && line.size() > key.size() && line[key.size()] == '=') {
      auto v = line.substr(key.size() + 1);
      if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'')) v = v.substr(1, v.size() - 2);
      return std::string(v);
    }
    pos = end + 1;
  }
  return "";
}

std::string goarch(std::string_view m) {
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  if (m == "i686" || m == "i386") return "386";
  if (m.starts_with("armv7")) return "arm";
  return std::string(m);
}

bool is_hex(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'a' && c <= 'f'); });
}

std::string now_rfc3339() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - secs).count();
  std::time_t t = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:09d}Z", buf, ns);
}

// One image as the engine sees it: all names pointing at the same config digest.
struct ImageEntry {
  std::string id;                  // sha256:<hex> of the config
  std::vector<std::string> names;  // normalized record names
  image::ResolvedImage resolved;
};

class RealEngine final : public Engine, public ImageAccess {
 public:
  Status init(const DaemonConfig& c) {
    cfg_ = c;
    BERTH_TRY(mkdir_all(c.data_root, 0711));
    image::ImageStoreOptions o;
    o.root = c.data_root;  // shared with `berth image --root` (same default)
    o.snapshotter = c.snapshotter;
    store_ = BERTH_TRY(image::ImageStore::open(o));
    std::string idfile = c.data_root + "/engine-id";
    id_ = read_small(idfile);
    while (!id_.empty() && std::isspace(static_cast<unsigned char>(id_.back()))) id_.pop_back();
    if (id_.empty()) {
      std::string rnd = read_small("/proc/sys/kernel/random/uuid");
      id_ = oci::Digest::sha256_of(rnd + c.data_root).str().substr(7, 48);
      BERTH_TRY(write_file_atomic(idfile, id_ + "\n"));
    }
    BERTH_TRY(init_objects());
    BERTH_TRY(init_containers());
    return ok();
  }

  VersionInfo version() override {
    VersionInfo v;
    utsname u{};
    ::uname(&u);
    v.arch = goarch(u.machine);
    v.kernel_version = u.release;
    return v;
  }

  Result<SystemInfo> info() override {
    SystemInfo s;
    utsname u{};
    ::uname(&u);
    s.id = id_;
    s.name = u.nodename;
    s.kernel_version = u.release;
    s.architecture = u.machine;
    std::string osr = read_small("/etc/os-release");
    s.operating_system = os_release_field(osr, "PRETTY_NAME");
    s.os_version = os_release_field(osr, "VERSION_ID");
    s.ncpu = ::sysconf(_SC_NPROCESSORS_ONLN);
    s.mem_total = static_cast<int64_t>(::sysconf(_SC_PHYS_PAGES)) * ::sysconf(_SC_PAGESIZE);
    struct statfs fs {};
    s.cgroup_version = (::statfs("/sys/fs/cgroup", &fs) == 0 && fs.f_type == 0x63677270 /* CGROUP2_SUPER_MAGIC */)
                           ? "2"
                           : "1";
    s.data_root = cfg_.data_root;
    s.exec_root = cfg_.exec_root;
    s.runtimes["berth"] = runtime_path();
    if (::access("/usr/bin/runc", X_OK) == 0 || ::access("/usr/sbin/runc", X_OK) == 0) s.runtimes["runc"] = "runc";
    s.security_options = {"name=seccomp,profile=builtin"};
    if (s.cgroup_version == "2") s.security_options.push_back("name=cgroupns");
    s.system_time = now_rfc3339();
    std::lock_guard lk(mu_);
    std::string sn(store_->snapshotter().name());
    s.driver = sn == "overlay" ? "overlay2" : sn;
    s.driver_status = {{"Backing Filesystem", backing_fs(cfg_.data_root)}, {"Snapshotter", sn}};
    auto all = BERTH_TRY(entries_locked());
    s.images = static_cast<int64_t>(all.size());
    if (containers_) {
      auto n = containers_->counts();
      s.containers = n.total;
      s.containers_running = n.running;
      s.containers_paused = n.paused;
      s.containers_stopped = n.stopped;
    }
    return s;
  }

  Result<std::vector<ImageSummary>> images() override {
    std::lock_guard lk(mu_);
    auto all = BERTH_TRY(entries_locked());
    std::vector<ImageSummary> out;
    for (auto& e : all) out.push_back(summary(e));
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.created > b.created; });
    return out;
  }

  Result<ImageDetail> image_inspect(const std::string& ref) override {
    std::lock_guard lk(mu_);
    auto e = BERTH_TRY(find_locked(ref));
    ImageDetail d;
    d.summary = summary(e);
    d.created_text = e.resolved.config.created;
    d.config_json = oci::to_json(e.resolved.config);
    for (auto& id : e.resolved.config.diff_ids) d.diff_ids.push_back(id.str());
    return d;
  }

  Result<std::vector<HistoryEntry>> image_history(const std::string& ref) override {
    std::lock_guard lk(mu_);
    auto e = BERTH_TRY(find_locked(ref));
    const auto& cfg = e.resolved.config;
    const auto& layers = e.resolved.manifest.layers;
    std::vector<HistoryEntry> out;
    size_t layer = 0;
    if (cfg.history.empty()) {
      // No history recorded: one entry per layer.
      for (auto& l : layers) out.push_back({"<missing>", parse_rfc3339(cfg.created), "", "", static_cast<int64_t>(l.size), {}});
    } else {
      for (auto& h : cfg.history) {
        HistoryEntry he{"<missing>", parse_rfc3339(h.created), h.created_by, h.comment, 0, {}};
        if (!h.empty_layer && layer < layers.size()) he.size = static_cast<int64_t>(layers[layer++].size);
        out.push_back(std::move(he));
      }
    }
    std::reverse(out.begin(), out.end());  // newest first, as docker prints it
    if (!out.empty()) {
      out.front().id = e.id;
      for (auto& n : e.names)
        if (n.find('@') == std::string::npos) out.front().tags.push_back(familiar_name(n));
    }
    return out;
  }

  Status image_tag(const std::string& ref, const std::string& repo, const std::string& tag) override {
    if (repo.empty()) return fail(Errc::InvalidArgument, "repository name must have at least one component");
    std::string target = repo;
    if (!tag.empty()) target += ":" + tag;
    auto parsed = BERTH_TRY(registry::parse_reference(target));
    if (parsed.digest) return fail(Errc::InvalidArgument, "refusing to create a tag with a digest reference");
    std::lock_guard lk(mu_);
    auto e = BERTH_TRY(find_locked(ref));
    BERTH_TRY(store_->tag(e.names.front(), parsed.str()));
    events_->publish("image", "tag", e.id, {{"name", familiar_name(parsed.str())}});
    return ok();
  }

  Result<std::vector<DeleteItem>> image_remove(const std::string& ref, bool force) override {
    std::lock_guard lk(mu_);
    auto e = BERTH_TRY(find_locked(ref));
    std::vector<DeleteItem> out;
    std::vector<std::string> to_untag;
    auto named = named_match(ref);
    if (named && std::find(e.names.begin(), e.names.end(), *named) != e.names.end()) {
      to_untag.push_back(*named);  // by name: only that name goes
    } else {
      if (e.names.size() > 1 && !force)
        return fail(Errc::Conflict, "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                    e.id.substr(7, 12));
      to_untag = e.names;
    }
    // an image a container was created from keeps its last name unless forced (docker's rule)
    if (to_untag.size() == e.names.size() && !force && containers_) {
      auto users = containers_->containers_using_image(e.id);
      if (!users.empty()) {
        if (named)
          return fail(Errc::Conflict,
                      "conflict: unable to remove repository reference \"{}\" (must force) - container {} is using its "
                      "referenced image {}",
                      ref, users.front().substr(0, 12), e.id.substr(7, 12));
        return fail(Errc::Conflict, "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
                    e.id.substr(7, 12), users.front().substr(0, 12));
      }
    }
    for (auto& n : to_untag) {
      BERTH_TRY(store_->remove(n));
      out.push_back({familiar_name(n), ""});
      events_->publish("image", "untag", e.id, {{"name", familiar_name(n)}});
    }
    if (to_untag.size() == e.names.size()) {
      out.push_back({"", e.id});
      events_->publish("image", "delete", e.id, {{"name", e.id}});
      auto pr = store_->prune();
      if (!pr) log::warn("engine: content gc after removing {}: {}", e.id, pr.error().message());
    }
    return out;
  }

  Result<PruneReport> image_prune(bool dangling_only) override {
    std::lock_guard lk(mu_);
    PruneReport rep;
    auto all = BERTH_TRY(entries_locked());
    for (auto& e : all) {
      bool tagged = std::any_of(e.names.begin(), e.names.end(), [](auto& n) { return n.find('@') == std::string::npos; });
      if (dangling_only && tagged) continue;
      if (containers_ && !containers_->containers_using_image(e.id).empty()) continue;  // in use
      for (auto& n : e.names) {
        BERTH_TRY(store_->remove(n));
        rep.images_deleted.push_back({familiar_name(n), ""});
      }
      rep.images_deleted.push_back({"", e.id});
    }
    auto pr = BERTH_TRY(store_->prune());
    rep.space_reclaimed = static_cast<uint64_t>(pr.content.bytes_freed);
    return rep;
  }

  // ---- objects: volumes, networks, events, system df, image transfer, disk GC ----
  // The GC thread calls into the whole engine (container sizes, the image store): stop it before any member
  // goes, whatever their declaration order.
  ~RealEngine() override { gc_runner_.reset(); }

  Status init_objects() {
    events_ = std::make_unique<EventBus>();
    volumes_ = BERTH_TRY(VolumeStore::open(cfg_.data_root + "/volumes", events_.get()));
    networks_ = BERTH_TRY(NetworkStore::open(cfg_.data_root + "/networks", events_.get()));
    // Spooled uploads and save archives of a previous run (a crash or kill mid-transfer) are garbage now.
    if (auto st = remove_all(tmp_dir()); !st) log::warn("engine: clearing {}: {}", tmp_dir(), st.error().message());
    gc_policy_ = GcPolicy{cfg_.gc_high_watermark, cfg_.gc_low_watermark};
    BERTH_TRY(gc_policy_.validate());
    if (gc_policy_.high_watermark > 0)
      log::info("disk gc: collecting unreferenced content when {} is more than {}% full (down to {}%){}", cfg_.data_root,
                gc_policy_.high_watermark, gc_policy_.low_watermark,
                cfg_.gc_interval_seconds > 0 ? fmt::format(", checked every {} s and after pulls, loads and imports",
                                                           cfg_.gc_interval_seconds)
                                             : ", checked after pulls, loads and imports");
    // interval 0: no timer, only the checks after pulls, loads and imports
    if (gc_policy_.high_watermark > 0)
      gc_runner_ = std::make_unique<DiskGcRunner>(
          std::chrono::seconds(cfg_.gc_interval_seconds > 0 ? cfg_.gc_interval_seconds : int64_t{10} * 365 * 86400), [this] {
        auto r = disk_gc(false);
        if (!r) log::warn("disk gc: {}", r.error().message());
      });
    return ok();
  }

  std::string tmp_dir() const { return cfg_.data_root + "/tmp"; }

  // ---- system df ----
  // Per-container sizes from the container operations' list with sizes (docker's JSON).
  Result<std::vector<ContainerDiskUsage>> container_disk_usage() override {
    ListOptions lo;
    lo.all = true;
    lo.size = true;
    auto text = BERTH_TRY(container_list(lo));
    std::vector<ContainerDiskUsage> out;
    try {
      auto j = nlohmann::json::parse(text);
      for (auto& c : j) {
        ContainerDiskUsage u;
        u.id = c.value("Id", "");
        if (c.contains("Names") && c["Names"].is_array()) u.names = c["Names"].get<std::vector<std::string>>();
        u.image = c.value("Image", "");
        u.image_id = c.value("ImageID", "");
        u.command = c.value("Command", "");
        u.state = c.value("State", "");
        u.status = c.value("Status", "");
        u.created = c.value("Created", int64_t{0});
        u.size_rw = c.value("SizeRw", int64_t{0});
        u.size_root_fs = c.value("SizeRootFs", int64_t{0});
        if (c.contains("Labels") && c["Labels"].is_object())
          for (auto& [k, v] : c["Labels"].items())
            if (v.is_string()) u.labels[k] = v.get<std::string>();
        out.push_back(std::move(u));
      }
    } catch (const std::exception& ex) {
      return fail(Errc::Internal, "container list: {}", ex.what());
    }
    // Sizes the list does not carry: the writable layer (snapshot "container-<id>") measured here, plus the
    // image's layers for SizeRootFs.
    std::vector<std::string> uppers(out.size());
    std::map<std::string, int64_t> image_size;
    {
      std::lock_guard lk(mu_);
      for (size_t i = 0; i < out.size(); i++)
        if (out[i].size_rw == 0)
          if (auto u = store_->snapshotter().upper_dir("container-" + out[i].id)) uppers[i] = *u;
      if (auto all = entries_locked())
        for (auto& e : *all) image_size[e.id] = summary(e).size;
    }
    for (size_t i = 0; i < out.size(); i++) {
      if (!uppers[i].empty()) out[i].size_rw = directory_usage(uppers[i]).value_or(0);
      if (out[i].size_root_fs == 0) out[i].size_root_fs = out[i].size_rw + image_size[out[i].image_id];
    }
    return out;
  }

  Result<DiskUsage> system_df() override {
    DiskUsage df;
    auto cs = container_disk_usage();
    if (cs) {
      df.containers = std::move(*cs);
      df.container_sizes_known = true;
    } else if (cs.error().code() != Errc::Unimplemented) {
      return fail(cs.error());
    } else {
      static std::once_flag once;
      std::call_once(once, [] { log::warn("system df: per-container sizes are not reported by this engine yet (shown as none)"); });
    }
    {
      std::lock_guard lk(mu_);
      auto all = BERTH_TRY(entries_locked());
      std::map<std::string, int> layer_users;  // layer blob digest -> images using it
      std::map<std::string, int64_t> layer_size;
      for (auto& e : all) {
        std::set<std::string> mine;
        for (auto& l : e.resolved.manifest.layers)
          if (mine.insert(l.digest.str()).second) {
            layer_users[l.digest.str()]++;
            layer_size[l.digest.str()] = static_cast<int64_t>(l.size);
          }
      }
      for (auto& [d, sz] : layer_size) df.layers_size += sz;
      for (auto& e : all) {
        ImageDiskUsage iu;
        iu.summary = summary(e);
        std::set<std::string> mine;
        for (auto& l : e.resolved.manifest.layers)
          if (mine.insert(l.digest.str()).second && layer_users[l.digest.str()] > 1) iu.shared_size += static_cast<int64_t>(l.size);
        for (auto& c : df.containers)
          if (c.image_id == e.id) iu.containers++;
        df.images.push_back(std::move(iu));
      }
    }
    for (auto& v : BERTH_TRY(volumes_->list())) {
      VolumeDiskUsage vu;
      vu.size = volumes_->usage(v.name).value_or(-1);
      vu.ref_count = static_cast<int64_t>(v.refs.size());
      vu.volume = std::move(v);
      df.volumes.push_back(std::move(vu));
    }
    return df;
  }

  // ---- registry login ----
  Status registry_login(const RegistryAuth& auth) override {
    std::string key = image::registry::normalize_registry_key(auth.server_address.empty() ? "docker.io" : auth.server_address);
    image::registry::ClientOptions co;
    co.insecure_registries = cfg_.insecure_registries;
    co.credentials[key] = {auth.username, auth.password, auth.identity_token};
    image::registry::RegistryClient client(co);
    auto st = client.login(key);
    if (!st) {
      if (st.error().code() == Errc::PermissionDenied)
        return fail(Errc::PermissionDenied, "Get \"https://{}/v2/\": unauthorized: incorrect username or password", key);
      return st;
    }
    return ok();
  }

  // ---- image transfer ----
  Status image_pull(const PullRequest& req, const ProgressFn& progress) override {
    std::string ref = BERTH_TRY(pull_reference(req.from_image, req.tag));
    image::PullOptions po;
    if (!req.platform.empty()) po.platform = BERTH_TRY(oci::Platform::parse(req.platform));
    po.access = registry_access(req.auth, ref, cfg_.insecure_registries);
    bool gone = false;
    po.progress = [&](const image::ProgressEvent& ev) {
      if (gone) return;
      for (auto& m : to_json_messages(ev))
        if (!progress(m)) gone = true;  // the client left: the pull still completes
    };
    // The engine's image lock only around the pull's final record and commit steps: a slow download does not
    // hold up `images`, inspect, `run` of other images or another pull.
    po.commit_lock = &mu_;
    auto res = BERTH_TRY(store_->pull(ref, po));
    events_->publish("image", "pull", familiar_name(res.name), {{"name", familiar_name(res.name)}});
    if (gc_runner_) gc_runner_->kick();
    return ok();
  }

  Status image_push(const std::string& name, const std::string& tag, const RegistryAuth& auth,
                    const ProgressFn& progress) override {
    std::vector<std::string> refs;
    {
      std::lock_guard lk(mu_);
      if (!tag.empty()) {
        refs.push_back(BERTH_TRY(find_locked(name + ":" + tag)).names.front());
        auto n = BERTH_TRY(registry::parse_reference(name + ":" + tag));
        refs.back() = n.str();
      } else {
        // every tag of the repository
        auto repo = BERTH_TRY(registry::parse_reference(name));
        for (auto& rec : BERTH_TRY(store_->list()))
          if (rec.name.starts_with(repo.name() + ":")) refs.push_back(rec.name);
        if (refs.empty()) return fail(Errc::NotFound, "An image does not exist locally with the tag: {}", name);
      }
    }
    bool gone = false;
    for (auto& ref : refs) {
      image::PushOptions po;
      po.access = registry_access(auth, ref, cfg_.insecure_registries);
      po.progress = [&](const image::ProgressEvent& ev) {
        if (gone) return;
        for (auto& m : to_json_messages(ev))
          if (!progress(m)) gone = true;
      };
      {
        std::lock_guard lk(mu_);
        if (!store_->metadata().get_image(ref))
          return fail(Errc::NotFound, "An image does not exist locally with the tag: {}", familiar_name(ref));
      }
      // The engine's image lock only while the push leases the image's blobs: the upload does not hold up
      // other image operations. (Untagged meanwhile: push fails with the store's NotFound.)
      po.store_lock = &mu_;
      BERTH_TRY(store_->push(ref, po));
      events_->publish("image", "push", familiar_name(ref), {{"name", familiar_name(ref)}});
    }
    return ok();
  }

  Result<std::string> image_import(const BodyReader& body, const std::string& repo, const std::string& tag) override {
    std::string name;
    if (!repo.empty()) {
      auto n = BERTH_TRY(pull_reference(repo, tag));
      name = BERTH_TRY(image::normalize_name(n));
    }
    std::string path = BERTH_TRY(spool_to_file(body, tmp_dir(), "import"));
    struct Unlink {
      std::string p;
      ~Unlink() { ::unlink(p.c_str()); }
    } cleanup{path};
    std::lock_guard lk(mu_);
    // An untagged import still needs a record name in the image store: a digest-less placeholder that the
    // engine shows as dangling (<none>:<none>).
    std::string record = name.empty() ? fmt::format("berth.local/imported:{}", id_.substr(0, 12) + std::to_string(::time(nullptr))) : name;
    auto desc = BERTH_TRY(store_->import_rootfs(path, record));
    if (name.empty()) {  // keep it under a digest name only: the engine shows it as <none>:<none>
      std::string digest_name = "berth.local/imported@" + desc.digest.str();
      if (store_->tag(record, digest_name) && store_->remove(record)) record = digest_name;
    }
    auto r = BERTH_TRY(store_->resolve(record));
    std::string id = r.config_digest.str();
    events_->publish("image", "import", id, {{"name", name.empty() ? id : familiar_name(name)}});
    if (gc_runner_) gc_runner_->kick();
    return id;
  }

  Result<UniqueFd> image_save(const std::vector<std::string>& names) override {
    BERTH_TRY(mkdir_all(tmp_dir(), 0700));
    std::string path = tmp_dir() + "/save-XXXXXX";
    UniqueFd tmp(::mkostemp(path.data(), O_CLOEXEC));
    if (!tmp) return fail_errno("create a temp file in `{}`", tmp_dir());
    tmp.reset();
    struct Unlink {
      std::string p;
      ~Unlink() { ::unlink(p.c_str()); }
    } cleanup{path};
    std::vector<std::string> records;
    {
      std::lock_guard lk(mu_);
      std::set<std::string> unnamed;
      for (auto& n : names) {
        auto e = BERTH_TRY(find_locked(n));
        auto nm = named_match(n);
        bool by_name = nm && std::find(e.names.begin(), e.names.end(), *nm) != e.names.end();
        records.push_back(by_name ? *nm : e.names.front());
        // saved by its ID (or a digest): without a name, as docker does (RepoTags null)
        if (!by_name) unnamed.insert(e.names.front());
      }
      BERTH_TRY(store_->save(records, path, false, unnamed));
    }
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return fail_errno("open `{}`", path);
    for (auto& r : records) events_->publish("image", "save", familiar_name(r), {{"name", familiar_name(r)}});
    return fd;  // the file is unlinked on return; the fd keeps it until the stream is done
  }

  Result<std::vector<std::string>> image_load(const BodyReader& body) override {
    std::string path = BERTH_TRY(spool_to_file(body, tmp_dir(), "load"));
    struct Unlink {
      std::string p;
      ~Unlink() { ::unlink(p.c_str()); }
    } cleanup{path};
    std::vector<std::string> out;
    {
      // An image without a name (docker save of an ID) is kept under a digest name only: dangling, shown
      // as <none>:<none> and reported by its ID, as dockerd does. The image lock only for the records: a
      // big archive does not hold up other image operations while its blobs are ingested.
      auto names = BERTH_TRY(store_->load(path, std::string(kLoadedUntagged) + "@", &mu_));
      std::lock_guard lk(mu_);
      for (auto& n : names) {
        if (n.starts_with(std::string(kLoadedUntagged) + "@")) {
          auto r = BERTH_TRY(store_->resolve(n));
          out.push_back(r.config_digest.str());
        } else {
          out.push_back(familiar_name(n));
        }
      }
    }
    for (auto& n : out) events_->publish("image", "load", n, {{"name", n}});
    if (gc_runner_) gc_runner_->kick();
    return out;
  }

  // ---- disk GC ----
  class StoreGcActions final : public GcActions {
   public:
    explicit StoreGcActions(RealEngine& e) : e_(e) {}
    Result<uint64_t> collect_unreferenced() override {
      auto pr = BERTH_TRY(e_.store_->prune());
      return static_cast<uint64_t>(pr.content.bytes_freed);
    }
    Result<std::vector<std::string>> dangling_images() override {
      auto all = BERTH_TRY(e_.entries_locked());
      std::vector<std::pair<int64_t, std::string>> d;
      for (auto& en : all) {
        bool tagged = std::any_of(en.names.begin(), en.names.end(), [](auto& n) { return n.find('@') == std::string::npos; });
        if (!tagged && !in_use.count(en.id)) d.push_back({parse_rfc3339(en.resolved.config.created), en.id});
      }
      std::sort(d.begin(), d.end());
      std::vector<std::string> out;
      for (auto& [t, id] : d) out.push_back(id);
      return out;
    }
    Status remove_image(const std::string& id) override {
      auto en = BERTH_TRY(e_.find_locked(id));
      for (auto& n : en.names) BERTH_TRY(e_.store_->remove(n));
      e_.events_->publish("image", "delete", id, {{"name", id}});
      return ok();
    }

    std::set<std::string> in_use;  // image IDs containers use: never collected

   private:
    RealEngine& e_;
  };

  Result<GcReport> disk_gc(bool force) override {
    StoreGcActions actions(*this);
    auto cs = container_disk_usage();  // before the image lock: the container operations may take it
    if (cs) {
      for (auto& c : *cs) actions.in_use.insert(c.image_id);
    } else if (cs.error().code() != Errc::Unimplemented) {
      return fail(cs.error().wrap("disk gc: which images containers use"));
    }
    std::lock_guard lk(mu_);
    std::string root = cfg_.data_root;
    auto rep = BERTH_TRY(run_disk_gc(gc_policy_, [root] { return statvfs_usage(root); }, actions, force));
    if (rep.ran)
      log::info("disk gc: {:.1f}% -> {:.1f}% used, {} bytes freed, {} dangling images removed", rep.used_percent_before,
                rep.used_percent_after, rep.bytes_freed, rep.images_removed.size());
    return rep;
  }

  Result<Volume> volume_create(const VolumeCreateRequest& req) override { return volumes_->create(req); }
  Result<std::vector<Volume>> volumes() override { return volumes_->list(); }
  Result<Volume> volume_inspect(const std::string& name) override { return volumes_->get(name); }
  Status volume_remove(const std::string& name, bool force) override { return volumes_->remove(name, force); }
  Result<VolumePruneReport> volume_prune(bool all, const std::vector<std::string>& labels) override {
    return volumes_->prune(all, labels);
  }

  Result<NetworkCreateResult> network_create(const NetworkCreateRequest& req) override {
    return networks_->create(req);
  }
  Result<std::vector<Network>> networks() override { return networks_->list(); }
  Result<Network> network_inspect(const std::string& ref) override { return networks_->get(ref); }
  Status network_remove(const std::string& ref) override { return networks_->remove(ref); }
  // The container by name, ID or prefix through the container operations; a raw ID while they are absent.
  Result<std::pair<std::string, std::string>> network_container(const std::string& container) {
    auto c = container_resolve(container);
    if (c) return std::pair{c->id, c->name.starts_with("/") ? c->name.substr(1) : c->name};
    if (c.error().code() != Errc::Unimplemented) return fail(c.error());
    return std::pair{container, std::string()};
  }
  Status network_connect(const std::string& ref, const std::string& container, const EndpointRequest& req) override {
    auto net = BERTH_TRY(networks_->get(ref));
    if (net.name == "host" || net.name == "none")
      return fail(Errc::PermissionDenied, "container cannot be disconnected from host network or connected to host network");
    if (containers_) return containers_->network_connect(container, net, req);  // recorded on the container
    auto [id, name] = BERTH_TRY(network_container(container));
    EndpointRequest r = req;
    r.container_id = id;
    if (r.container_name.empty()) r.container_name = name;
    BERTH_TRY(networks_->connect(net.id, r));
    return ok();
  }
  Status network_disconnect(const std::string& ref, const std::string& container, bool force) override {
    if (containers_) {
      auto net = BERTH_TRY(networks_->get(ref));
      auto st = containers_->network_disconnect(container, net, force);
      if (!st && force && st.error().code() == Errc::NotFound) return networks_->disconnect(net.id, container, true);
      return st;
    }
    auto c = network_container(container);
    if (!c) {
      if (force && c.error().code() == Errc::NotFound) return ok();
      return fail(c.error());
    }
    return networks_->disconnect(ref, c->first, force);
  }
  Result<std::vector<std::string>> network_prune(const std::vector<std::string>& labels, int64_t until_ns) override {
    return networks_->prune(labels, until_ns);
  }

  Result<std::unique_ptr<EventSubscription>> events_subscribe(const EventFilter& filter, int64_t since_ns,
                                                              int64_t until_ns) override {
    BERTH_TRY(filter.validate());
    return events_->subscribe(filter, since_ns, until_ns);
  }

  // ---- end of objects ----

  // ---- containers (containers.h does the work) ----
  Status init_containers() {
    ContainerServiceOptions o;
    o.data_root = cfg_.data_root;
    o.exec_root = cfg_.exec_root;
    o.shim_path = cfg_.shim_path;
    o.init_path = cfg_.init_path;
    ContainerHooks h;
    h.publish = [this](const std::string& type, const std::string& action, const std::string& id,
                       const std::map<std::string, std::string>& attrs) { events_->publish(type, action, id, attrs); };
    h.acquire_volume = [this](const std::string& name,
                              const std::string& cid) -> Result<std::pair<std::string, std::string>> {
      std::string n = name;
      if (n.empty() || !volumes_->get(n)) {
        VolumeCreateRequest req;
        req.name = n;
        req.anonymous = n.empty();
        auto v = BERTH_TRY(volumes_->create(req));
        n = v.name;
      }
      BERTH_TRY(volumes_->acquire(n, cid));
      auto v = BERTH_TRY(volumes_->get(n));
      return std::pair<std::string, std::string>{v.name, v.mountpoint};
    };
    h.release_volumes = [this](const std::string& cid, const std::vector<std::string>& anonymous, bool remove_anon) {
      if (auto r = volumes_->release_all(cid); !r) log::warn("engine: release volumes of {}: {}", cid, r.error().message());
      if (remove_anon)
        for (auto& n : anonymous)
          if (auto st = volumes_->remove(n, false); !st) log::debug("engine: anonymous volume {}: {}", n, st.error().message());
    };
    h.network_connect = [this](const std::string& network, const EndpointRequest& r) {
      return networks_->connect(network, r);
    };
    h.network_disconnect = [this](const std::string& cid, const std::string& network) {
      if (network.empty()) (void)networks_->disconnect_all(cid);
      else (void)networks_->disconnect(network, cid, true);
    };
    containers_ = BERTH_TRY(ContainerService::open(o, *this, std::move(h)));
    if (cfg_.live_restore) containers_->restore();
    return ok();
  }

  // ImageAccess
  Result<ImageForContainer> image_for_container(const std::string& ref) override {
    std::lock_guard lk(mu_);
    auto e = BERTH_TRY(find_locked(ref));
    ImageForContainer out;
    out.id = e.id;
    out.config = e.resolved.config;
    out.top_chain = BERTH_TRY(store_->unpack(e.names.front()));
    return out;
  }
  std::vector<std::string> image_names(const std::string& image_id) override {
    std::lock_guard lk(mu_);
    std::vector<std::string> out;
    auto all = entries_locked();
    if (!all) return out;
    for (auto& e : *all)
      if (e.id == image_id)
        for (auto& n : e.names) out.push_back(familiar_name(n));
    return out;
  }
  image::snapshot::Snapshotter& snapshotter() override { return store_->snapshotter(); }
  int64_t image_size(const std::string& image_id) override {
    std::lock_guard lk(mu_);
    auto all = entries_locked();
    if (!all) return 0;
    for (auto& e : *all)
      if (e.id == image_id) return summary(e).size;
    return 0;
  }

  Result<ContainerCreateResult> container_create(const std::string& name, const std::string& body) override {
    return containers_->create(name, body);
  }
  Result<ContainerRef> container_resolve(const std::string& ref) override { return containers_->resolve(ref); }
  Result<bool> container_start(const std::string& ref) override { return containers_->start(ref); }
  Result<bool> container_stop(const std::string& ref, std::optional<int> t, const std::string& sig) override {
    return containers_->stop(ref, t, sig);
  }
  Status container_restart(const std::string& ref, std::optional<int> t, const std::string& sig) override {
    return containers_->restart(ref, t, sig);
  }
  Status container_kill(const std::string& ref, const std::string& sig) override { return containers_->kill(ref, sig); }
  Status container_pause(const std::string& ref) override { return containers_->pause(ref); }
  Status container_unpause(const std::string& ref) override { return containers_->unpause(ref); }
  Result<std::unique_ptr<ContainerWaiter>> container_wait(const std::string& ref, WaitCondition c) override {
    return containers_->wait(ref, c);
  }
  Result<std::unique_ptr<AttachSession>> container_attach(const std::string& ref, const AttachOptions& o) override {
    return containers_->attach(ref, o);
  }
  Status container_resize(const std::string& ref, int h, int w) override { return containers_->resize(ref, h, w); }
  Status container_logs(const std::string& ref, const LogsOptions& o, int cancel_fd, const ByteSink& sink) override {
    return containers_->logs(ref, o, cancel_fd, sink);
  }
  Result<std::string> container_inspect(const std::string& ref, bool size) override {
    return containers_->inspect(ref, size);
  }
  Result<std::string> container_list(const ListOptions& o) override { return containers_->list(o); }
  Result<std::string> container_top(const std::string& ref, const std::string& ps_args) override {
    return containers_->top(ref, ps_args);
  }
  Status container_stats(const std::string& ref, bool stream, const ByteSink& sink) override {
    return containers_->stats(ref, stream, sink);
  }
  Status container_rename(const std::string& ref, const std::string& n) override { return containers_->rename(ref, n); }
  Result<std::vector<std::string>> container_update(const std::string& ref, const std::string& body) override {
    return containers_->update(ref, body);
  }
  Result<ContainerPruneReport> container_prune(const std::map<std::string, std::vector<std::string>>& f) override {
    return containers_->prune(f);
  }
  Status container_remove(const std::string& ref, bool force, bool v) override {
    return containers_->remove(ref, force, v);
  }
  Result<std::string> container_changes(const std::string& ref) override { return containers_->changes(ref); }
  Status container_export(const std::string& ref, const ByteSink& sink) override {
    return containers_->export_rootfs(ref, sink);
  }
  Result<PathStat> container_archive_stat(const std::string& ref, const std::string& path) override {
    return containers_->archive_stat(ref, path);
  }
  Status container_archive_get(const std::string& ref, const std::string& path, const ByteSink& sink) override {
    return containers_->archive_get(ref, path, sink);
  }
  Status container_archive_put(const std::string& ref, const std::string& path, bool nodir,
                               const ByteSource& tar) override {
    return containers_->archive_put(ref, path, nodir, tar);
  }
  Result<std::string> exec_create(const std::string& ref, const std::string& body) override {
    return containers_->exec_create(ref, body);
  }
  Result<ExecStream> exec_start(const std::string& id, bool detach) override {
    return containers_->exec_start(id, detach);
  }
  Result<std::string> exec_inspect(const std::string& id) override { return containers_->exec_inspect(id); }
  Status exec_resize(const std::string& id, int h, int w) override { return containers_->exec_resize(id, h, w); }
  void shutdown() override {
    if (containers_) containers_->shutdown();
  }
  // ---- end of containers ----

 private:
  std::string runtime_path() {
    char buf[4096];
    ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) {
      std::string self(buf, static_cast<size_t>(n));
      auto slash = self.rfind('/');
      std::string cand = self.substr(0, slash) + "/../berth-runtime/berth-runtime";
      if (::access(cand.c_str(), X_OK) == 0) return cand;
      cand = self.substr(0, slash) + "/berth-runtime";
      if (::access(cand.c_str(), X_OK) == 0) return cand;
    }
    return "berth-runtime";
  }

  static std::string backing_fs(const std::string& path) {
    struct statfs fs {};
    if (::statfs(path.c_str(), &fs) != 0) return "unknown";
    switch (static_cast<unsigned long>(fs.f_type)) {
      case 0xEF53: return "extfs";
      case 0x58465342: return "xfs";
      case 0x9123683E: return "btrfs";
      case 0x01021994: return "tmpfs";
      case 0x794c7630: return "overlayfs";
      default: return fmt::format("0x{:x}", static_cast<unsigned long>(fs.f_type));
    }
  }

  ImageSummary summary(const ImageEntry& e) {
    ImageSummary s;
    s.id = e.id;
    for (auto& n : e.names) {
      auto at = n.find('@');
      if (at == std::string::npos) {
        s.repo_tags.push_back(familiar_name(n));
      } else if (!n.starts_with("berth.local/")) {  // the digest names of untagged imports and loads are internal
        s.repo_digests.push_back(familiar_name(n));
      }
    }
    s.created = parse_rfc3339(e.resolved.config.created);
    for (auto& l : e.resolved.manifest.layers) s.size += static_cast<int64_t>(l.size);
    s.labels = e.resolved.config.config.labels;
    return s;
  }

  // Every image in the store, grouped by ID. Records that do not resolve (missing blobs, foreign platform)
  // are skipped with a debug line.
  Result<std::vector<ImageEntry>> entries_locked() {
    auto recs = BERTH_TRY(store_->list());
    std::vector<ImageEntry> out;
    for (auto& r : recs) {
      auto res = store_->resolve(r.name);
      if (!res) {
        log::debug("engine: image {}: {}", r.name, res.error().message());
        continue;
      }
      std::string id = res->config_digest.str();
      auto it = std::find_if(out.begin(), out.end(), [&](auto& e) { return e.id == id; });
      if (it == out.end()) {
        out.push_back({id, {r.name}, std::move(*res)});
      } else {
        it->names.push_back(r.name);
      }
    }
    return out;
  }

  // The normalized name if `ref` parses as a reference.
  std::optional<std::string> named_match(const std::string& ref) {
    if (ref.starts_with("sha256:")) return std::nullopt;
    auto p = registry::parse_reference(ref);
    if (!p) return std::nullopt;
    return p->str();
  }

  Result<ImageEntry> find_locked(const std::string& ref) {
    auto all = BERTH_TRY(entries_locked());
    if (ref.starts_with("sha256:") && is_hex(ref.substr(7))) {
      for (auto& e : all)
        if (e.id.starts_with(ref)) return e;
      return fail(Errc::NotFound, "No such image: {}", ref);
    }
    if (auto n = named_match(ref)) {
      for (auto& e : all)
        if (std::find(e.names.begin(), e.names.end(), *n) != e.names.end()) return e;
      // repo@digest also matches a tagged name of that repository whose manifest has that digest
      auto p = registry::parse_reference(ref);
      if (p && p->digest)
        for (auto& e : all) {
          if (e.resolved.manifest_desc.digest != p->digest && e.resolved.record.target.digest != p->digest) continue;
          for (auto& name : e.names)
            if (name.starts_with(p->name() + ":")) return e;
        }
    }
    if (is_hex(ref) && ref.size() <= 64) {
      const ImageEntry* found = nullptr;
      for (auto& e : all)
        if (e.id.compare(7, ref.size(), ref) == 0) {
          if (found && found->id != e.id) return fail(Errc::InvalidArgument, "image ID prefix `{}` is ambiguous", ref);
          found = &e;
        }
      if (found) return *found;
    }
    return fail(Errc::NotFound, "No such image: {}", ref);
  }

  DaemonConfig cfg_;
  std::string id_;
  std::mutex mu_;
  std::unique_ptr<image::ImageStore> store_;
  // objects (created by init_objects before anything that publishes or takes volume references)
  std::unique_ptr<EventBus> events_;
  std::unique_ptr<VolumeStore> volumes_;
  std::unique_ptr<NetworkStore> networks_;
  GcPolicy gc_policy_;
  std::unique_ptr<DiskGcRunner> gc_runner_;  // stopped (joined) before the stores go
  // containers last: destroyed first (its threads use the stores above)
  std::unique_ptr<ContainerService> containers_;
};

}  // namespace

Result<std::unique_ptr<Engine>> open_engine(const DaemonConfig& config) {
  auto e = std::make_unique<RealEngine>();
  BERTH_TRY_CTX(e->init(config), "engine on {}", config.data_root);
  return std::unique_ptr<Engine>(std::move(e));
}

}  // namespace berth::engine
