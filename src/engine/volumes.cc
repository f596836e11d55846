#include "engine/volumes.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "base/file.h"
#include "base/log.h"
#include "engine/events.h"

namespace berth::engine {

using json = nlohmann::json;

bool valid_volume_name(std::string_view n) {
  if (n.size() < 2 || n.size() > 255) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); };
  if (!alnum(n[0])) return false;
  return std::all_of(n.begin() + 1, n.end(), [&](char c) { return alnum(c) || c == '_' || c == '.' || c == '-'; });
}

namespace {

constexpr const char* kMeta = "volume.json";

std::string now_rfc3339_seconds() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<std::string> random_hex64() {
  unsigned char b[32];
  UniqueFd fd(::open("/dev/urandom", O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno("open /dev/urandom");
  size_t got = 0;
  while (got < sizeof b) {
    ssize_t n = ::read(fd.get(), b + got, sizeof b - got);
    if (n <= 0) return fail_errno("read /dev/urandom");
    got += static_cast<size_t>(n);
  }
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += kHex[c >> 4];
    s += kHex[c & 15];
  }
  return s;
}

json to_json(const Volume& v) {
  return json{{"Name", v.name},         {"Driver", v.driver}, {"CreatedAt", v.created_at}, {"Labels", v.labels},
              {"Options", v.options},   {"Anonymous", v.anonymous}, {"Refs", v.refs}};
}

Result<Volume> from_json(const std::string& text) {
  try {
    auto j = json::parse(text);
    Volume v;
    v.name = j.at("Name").get<std::string>();
    v.driver = j.value("Driver", "local");
    v.created_at = j.value("CreatedAt", "");
    if (j.contains("Labels") && j["Labels"].is_object()) v.labels = j["Labels"].get<std::map<std::string, std::string>>();
    if (j.contains("Options") && j["Options"].is_object())
      v.options = j["Options"].get<std::map<std::string, std::string>>();
    v.anonymous = j.value("Anonymous", false);
    if (j.contains("Refs") && j["Refs"].is_array()) v.refs = j["Refs"].get<std::vector<std::string>>();
    return v;
  } catch (const std::exception& e) {
    return fail(Errc::Internal, "corrupt volume metadata: {}", e.what());
  }
}

// label filters: "k", "k=v" must match; "!k", "!k=v" must not.
bool labels_match(const std::map<std::string, std::string>& labels, const std::vector<std::string>& filters) {
  for (auto f : filters) {
    bool neg = !f.empty() && f[0] == '!';
    if (neg) f = f.substr(1);
    auto eq = f.find('=');
    auto it = labels.find(f.substr(0, eq));
    bool m = it != labels.end() && (eq == std::string::npos || it->second == f.substr(eq + 1));
    if (m == neg) return false;
  }
  return true;
}

// Sums regular-file sizes under dirfd (hard links once, same device only, no symlinks followed).
void du_at(int dirfd, dev_t dev, std::set<std::pair<dev_t, ino_t>>& seen, int64_t& total, int depth) {
  if (depth > 256) return;
  int fd = ::dup(dirfd);
  if (fd < 0) return;
  DIR* d = ::fdopendir(fd);
  if (!d) {
    ::close(fd);
    return;
  }
  while (auto* ent = ::readdir(d)) {
    std::string_view n = ent->d_name;
    if (n == "." || n == "..") continue;
    struct stat st {};
    if (::fstatat(dirfd, ent->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (st.st_dev != dev) continue;
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(::openat(dirfd, ent->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub) du_at(sub.get(), dev, seen, total, depth + 1);
    } else if (S_ISREG(st.st_mode)) {
      if (st.st_nlink > 1 && !seen.insert({st.st_dev, st.st_ino}).second) continue;
      total += st.st_size;
    }
  }
  ::closedir(d);
}

// /proc/self/mountinfo escapes ' ', '\t', '\n' and '\\' as octal.
std::string unescape_mountinfo(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
      out += static_cast<char>(v);
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool is_mountpoint(const std::string& path) {
  auto text = read_file("/proc/self/mountinfo", 16 << 20);
  if (!text) return false;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t end = text->find('\n', pos);
    if (end == std::string::npos) end = text->size();
    std::string_view line(text->data() + pos, end - pos);
    // id parent major:minor root mountpoint ...
    size_t f = 0, start = 0;
    for (size_t i = 0; i <= line.size() && f < 5; i++) {
      if (i == line.size() || line[i] == ' ') {
        if (f == 4 && unescape_mountinfo(line.substr(start, i - start)) == path) return true;
        f++;
        start = i + 1;
      }
    }
    pos = end + 1;
  }
  return false;
}

// docker's local driver options -> mount(2) arguments: "o" is a comma list of flags (ro, nosuid, bind, ...)
// and filesystem data (size=64m, addr=...).
struct MountSpec {
  std::string device, type, data;
  unsigned long flags = 0;
};

Result<MountSpec> mount_spec(const std::map<std::string, std::string>& opts) {
  MountSpec m;
  auto get = [&](const char* k) {
    auto it = opts.find(k);
    return it == opts.end() ? std::string() : it->second;
  };
  m.device = get("device");
  m.type = get("type");
  static const std::pair<const char*, unsigned long> kFlags[] = {
      {"ro", MS_RDONLY},   {"rw", 0},           {"nosuid", MS_NOSUID},     {"nodev", MS_NODEV},
      {"noexec", MS_NOEXEC}, {"sync", MS_SYNCHRONOUS}, {"noatime", MS_NOATIME}, {"nodiratime", MS_NODIRATIME},
      {"relatime", MS_RELATIME}, {"bind", MS_BIND},  {"rbind", MS_BIND | MS_REC}, {"dirsync", MS_DIRSYNC}};
  std::string o = get("o");
  size_t p = 0;
  while (p <= o.size() && !o.empty()) {
    size_t c = o.find(',', p);
    std::string item = o.substr(p, c == std::string::npos ? std::string::npos : c - p);
    bool flag = false;
    for (auto& [n, f] : kFlags)
      if (item == n) {
        m.flags |= f;
        flag = true;
      }
    if (!flag && !item.empty()) m.data += (m.data.empty() ? "" : ",") + item;
    if (c == std::string::npos) break;
    p = c + 1;
  }
  if (get("size").size()) m.data += (m.data.empty() ? "size=" : ",size=") + get("size");
  if (m.flags & MS_BIND) {
    if (m.device.empty() || m.device.front() != '/')
      return fail(Errc::InvalidArgument, "a bind volume needs an absolute device path (got \"{}\")", m.device);
  } else if (m.type.empty() || m.type == "none") {
    return fail(Errc::InvalidArgument, "volume options need type (and device), or o=bind with an absolute device");
  }
  if (m.device.empty()) m.device = m.type;
  return m;
}

}  // namespace

struct VolumeStore::Impl {
  std::string root;
  UniqueFd dirfd;
  EventBus* events = nullptr;
  std::mutex mu;

  std::string mountpoint(const std::string& name) const { return root + "/" + name + "/_data"; }

  // Volumes with driver options are mounted while referenced (docker mounts them for their containers).
  Status mount_locked(const Volume& v) {
    if (v.options.empty()) return ok();
    std::string mp = mountpoint(v.name);
    if (is_mountpoint(mp)) return ok();
    auto m = BERTH_TRY(mount_spec(v.options));
    if (::mount(m.device.c_str(), mp.c_str(), m.type.empty() ? nullptr : m.type.c_str(), m.flags & ~MS_RDONLY,
                m.data.empty() ? nullptr : m.data.c_str()) != 0)
      return fail_errno("mount volume {} ({} {} {})", v.name, m.type, m.device, m.data);
    if ((m.flags & MS_BIND) && (m.flags & MS_RDONLY) &&
        ::mount(nullptr, mp.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
      int e = errno;
      ::umount2(mp.c_str(), MNT_DETACH);
      return fail_errno_n(e, "remount volume {} read-only", v.name);
    }
    if (!(m.flags & MS_BIND) && (m.flags & MS_RDONLY))
      (void)::mount(nullptr, mp.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, m.data.empty() ? nullptr : m.data.c_str());
    return ok();
  }

  void unmount_locked(const Volume& v) {
    if (v.options.empty()) return;
    std::string mp = mountpoint(v.name);
    while (is_mountpoint(mp))
      if (::umount2(mp.c_str(), MNT_DETACH) != 0) {
        log::warn("volumes: unmount {}: {}", v.name, strerror(errno));
        return;
      }
  }

  void publish(const std::string& action, const Volume& v) {
    if (events) events->publish("volume", action, v.name, {{"driver", v.driver}});
  }

  Result<UniqueFd> open_vol_dir(const std::string& name) {
    UniqueFd fd(::openat(dirfd.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) return fail(Errc::NotFound, "get {}: no such volume", name);
      return fail_errno("open volume `{}`", name);
    }
    return fd;
  }

  Result<Volume> load_locked(const std::string& name) {
    if (!valid_volume_name(name)) return fail(Errc::NotFound, "get {}: no such volume", name);
    auto vd = BERTH_TRY(open_vol_dir(name));
    UniqueFd mf(::openat(vd.get(), kMeta, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!mf) return fail(Errc::NotFound, "get {}: no such volume", name);
    auto text = BERTH_TRY(read_fd(mf.get(), 1 << 20));
    auto v = BERTH_TRY(from_json(text));
    v.name = name;
    v.mountpoint = mountpoint(name);
    return v;
  }

  Status store_locked(const Volume& v) {
    auto vd = BERTH_TRY(open_vol_dir(v.name));
    return write_file_atomic_at(vd.get(), kMeta, to_json(v).dump() + "\n", 0600);
  }

  Status remove_locked(const std::string& name) {
    if (auto v = load_locked(name)) unmount_locked(*v);
    // Drop the metadata first so a crash mid-delete leaves an ignored directory, not a half volume.
    {
      auto vd = BERTH_TRY(open_vol_dir(name));
      if (::unlinkat(vd.get(), kMeta, 0) != 0 && errno != ENOENT) return fail_errno("remove volume `{}` metadata", name);
      (void)::fsync(vd.get());
    }
    return remove_all(root + "/" + name);
  }

  Result<std::vector<std::string>> names_locked() {
    std::vector<std::string> out;
    int fd = ::dup(dirfd.get());
    if (fd < 0) return fail_errno("dup");
    DIR* d = ::fdopendir(fd);
    if (!d) {
      ::close(fd);
      return fail_errno("opendir `{}`", root);
    }
    ::rewinddir(d);
    while (auto* ent = ::readdir(d)) {
      std::string n = ent->d_name;
      if (n == "." || n == ".." || !valid_volume_name(n)) continue;
      if (::faccessat(dirfd.get(), (n + "/" + kMeta).c_str(), F_OK, AT_SYMLINK_NOFOLLOW) != 0) continue;
      out.push_back(n);
    }
    ::closedir(d);
    std::sort(out.begin(), out.end());
    return out;
  }
};

Result<std::unique_ptr<VolumeStore>> VolumeStore::open(const std::string& root, EventBus* events) {
  BERTH_TRY(mkdir_all(root, 0701));
  std::unique_ptr<VolumeStore> s(new VolumeStore());
  s->root_ = root;
  s->impl_ = std::make_shared<Impl>();
  s->impl_->root = root;
  s->impl_->events = events;
  s->impl_->dirfd.reset(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!s->impl_->dirfd) return fail_errno("open `{}`", root);
  // After a reboot the mounts of referenced volumes with driver options are gone: put them back.
  std::lock_guard lk(s->impl_->mu);
  for (auto& n : BERTH_TRY(s->impl_->names_locked())) {
    auto v = s->impl_->load_locked(n);
    if (!v || v->refs.empty() || v->options.empty()) continue;
    if (auto st = s->impl_->mount_locked(*v); !st) log::warn("volumes: {}: {}", n, st.error().message());
  }
  return s;
}

Result<Volume> VolumeStore::create(const VolumeCreateRequest& req) {
  std::string driver = req.driver.empty() ? "local" : req.driver;
  if (driver != "local")
    return fail(Errc::NotFound, "error looking up volume plugin {}: plugin \"{}\" not found", driver, driver);
  for (auto& [k, v] : req.options)
    if (k != "type" && k != "device" && k != "o" && k != "size")
      return fail(Errc::InvalidArgument, "invalid option key: \"{}\"", k);
  if (!req.options.empty()) BERTH_TRY(mount_spec(req.options));
  std::string name = req.name;
  bool anonymous = req.anonymous || name.empty();
  if (name.empty()) name = BERTH_TRY(random_hex64());
  if (!valid_volume_name(name))
    return fail(Errc::InvalidArgument,
                "create {}: \"{}\" includes invalid characters for a local volume name, only "
                "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path",
                name, name);
  auto& im = *impl_;
  std::lock_guard lk(im.mu);
  if (auto existing = im.load_locked(name)) {  // docker: create of an existing name is a no-op
    if (!req.driver.empty() && existing->driver != driver)
      return fail(Errc::Conflict, "volume name {} already in use with driver {}", name, existing->driver);
    return *existing;
  }
  // Leftover directory without metadata (crash during an earlier create or remove): start afresh.
  if (::faccessat(im.dirfd.get(), name.c_str(), F_OK, AT_SYMLINK_NOFOLLOW) == 0) BERTH_TRY(remove_all(root_ + "/" + name));
  if (::mkdirat(im.dirfd.get(), name.c_str(), 0701) != 0) return fail_errno("create volume `{}`", name);
  auto vd = BERTH_TRY(im.open_vol_dir(name));
  if (::mkdirat(vd.get(), "_data", 0755) != 0 && errno != EEXIST) return fail_errno("create volume `{}` data", name);
  Volume v;
  v.name = name;
  v.driver = driver;
  v.created_at = now_rfc3339_seconds();
  v.labels = req.labels;
  v.options = req.options;
  v.anonymous = anonymous;
  v.mountpoint = im.mountpoint(name);
  BERTH_TRY(im.store_locked(v));
  BERTH_TRY(fsync_dir(root_));
  im.publish("create", v);
  return v;
}

Result<Volume> VolumeStore::get(const std::string& name) {
  std::lock_guard lk(impl_->mu);
  return impl_->load_locked(name);
}

Result<std::vector<Volume>> VolumeStore::list() {
  std::lock_guard lk(impl_->mu);
  std::vector<Volume> out;
  for (auto& n : BERTH_TRY(impl_->names_locked())) {
    auto v = impl_->load_locked(n);
    if (!v) {
      log::warn("volumes: skipping {}: {}", n, v.error().message());
      continue;
    }
    out.push_back(std::move(*v));
  }
  return out;
}

Status VolumeStore::remove(const std::string& name, bool force) {
  auto& im = *impl_;
  std::lock_guard lk(im.mu);
  auto v = im.load_locked(name);
  if (!v) {
    if (force && v.error().code() == Errc::NotFound) return ok();
    return fail(v.error());
  }
  if (!v->refs.empty() && !force) {
    std::string ids;
    for (auto& r : v->refs) ids += (ids.empty() ? "" : " ") + r;
    return fail(Errc::Conflict, "remove {}: volume is in use - [{}]", name, ids);
  }
  BERTH_TRY(im.remove_locked(name));
  im.publish("destroy", *v);
  return ok();
}

Result<VolumePruneReport> VolumeStore::prune(bool all, const std::vector<std::string>& label_filters) {
  VolumePruneReport rep;
  std::vector<Volume> victims;
  {
    std::lock_guard lk(impl_->mu);
    for (auto& n : BERTH_TRY(impl_->names_locked())) {
      auto v = impl_->load_locked(n);
      if (!v || !v->refs.empty()) continue;
      if (!all && !v->anonymous) continue;
      if (!labels_match(v->labels, label_filters)) continue;
      victims.push_back(std::move(*v));
    }
  }
  for (auto& v : victims) {
    auto size = usage(v.name);
    std::lock_guard lk(impl_->mu);
    auto cur = impl_->load_locked(v.name);
    if (!cur || !cur->refs.empty()) continue;  // taken meanwhile
    BERTH_TRY(impl_->remove_locked(v.name));
    impl_->publish("destroy", v);
    rep.deleted.push_back(v.name);
    if (size) rep.space_reclaimed += static_cast<uint64_t>(*size);
  }
  return rep;
}

Status VolumeStore::acquire(const std::string& name, const std::string& container_id) {
  std::lock_guard lk(impl_->mu);
  auto v = BERTH_TRY(impl_->load_locked(name));
  if (std::find(v.refs.begin(), v.refs.end(), container_id) != v.refs.end()) return ok();
  if (v.refs.empty()) BERTH_TRY(impl_->mount_locked(v));
  v.refs.push_back(container_id);
  auto st = impl_->store_locked(v);
  if (!st && v.refs.size() == 1) impl_->unmount_locked(v);
  return st;
}

Status VolumeStore::release(const std::string& name, const std::string& container_id) {
  std::lock_guard lk(impl_->mu);
  auto v = impl_->load_locked(name);
  if (!v) return v.error().code() == Errc::NotFound ? ok() : Status(fail(v.error()));
  auto it = std::find(v->refs.begin(), v->refs.end(), container_id);
  if (it == v->refs.end()) return ok();
  v->refs.erase(it);
  BERTH_TRY(impl_->store_locked(*v));
  if (v->refs.empty()) impl_->unmount_locked(*v);
  return ok();
}

Result<std::vector<std::string>> VolumeStore::release_all(const std::string& container_id) {
  std::lock_guard lk(impl_->mu);
  std::vector<std::string> out;
  for (auto& n : BERTH_TRY(impl_->names_locked())) {
    auto v = impl_->load_locked(n);
    if (!v) continue;
    auto it = std::find(v->refs.begin(), v->refs.end(), container_id);
    if (it == v->refs.end()) continue;
    v->refs.erase(it);
    BERTH_TRY(impl_->store_locked(*v));
    if (v->refs.empty()) impl_->unmount_locked(*v);
    out.push_back(n);
  }
  return out;
}

Result<int64_t> directory_usage(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return fail_errno("open `{}`", path);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("stat `{}`", path);
  std::set<std::pair<dev_t, ino_t>> seen;
  int64_t total = 0;
  du_at(fd.get(), st.st_dev, seen, total, 0);
  return total;
}

Result<int64_t> VolumeStore::usage(const std::string& name) {
  UniqueFd data;
  {
    std::lock_guard lk(impl_->mu);
    BERTH_TRY(impl_->load_locked(name));
    auto vd = BERTH_TRY(impl_->open_vol_dir(name));
    data.reset(::openat(vd.get(), "_data", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!data) return fail_errno("open volume `{}` data", name);
  }
  struct stat st {};
  if (::fstat(data.get(), &st) != 0) return fail_errno("stat volume `{}`", name);
  std::set<std::pair<dev_t, ino_t>> seen;
  int64_t total = 0;
  du_at(data.get(), st.st_dev, seen, total, 0);
  return total;
}

}  // namespace berth::engine
