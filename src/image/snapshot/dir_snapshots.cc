#include "image/snapshot/dir_snapshots.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <random>

#include "base/file.h"
#include "oci/digest.h"

namespace berth::image::snapshot {

namespace {
std::mutex g_mu;

int64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

Result<Kind> kind_from(const std::string& s) {
  if (s == "active") return Kind::Active;
  if (s == "view") return Kind::View;
  if (s == "committed") return Kind::Committed;
  return fail(Errc::Internal, "snapshot: unknown kind `{}`", s);
}

std::string info_json(const Info& i) {
  nlohmann::json j{{"key", i.key}, {"parent", i.parent}, {"kind", kind_name(i.kind)}, {"created", i.created_at_ns}};
  return j.dump();
}

Result<Info> read_info(const std::string& dir) {
  auto text = BERTH_TRY(read_file(dir + "/info.json", 1 << 20));
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object() || !j["key"].is_string() || !j["parent"].is_string() || !j["kind"].is_string())
    return fail(Errc::Internal, "snapshot: corrupt `{}/info.json`", dir);
  Info i;
  i.key = j["key"].get<std::string>();
  i.parent = j["parent"].get<std::string>();
  i.kind = BERTH_TRY(kind_from(j["kind"].get<std::string>()));
  if (j["created"].is_number_integer()) i.created_at_ns = j["created"].get<int64_t>();
  return i;
}
}  // namespace

std::string_view kind_name(Kind k) {
  switch (k) {
    case Kind::Active: return "active";
    case Kind::View: return "view";
    case Kind::Committed: return "committed";
  }
  return "?";
}

RootLock::RootLock(const std::string& root) : l_(g_mu) {
  fd_ = ::open((root + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ >= 0) ::flock(fd_, LOCK_EX);
}
RootLock::~RootLock() {
  if (fd_ >= 0) ::close(fd_);
}

Result<DirSnapshots> DirSnapshots::open(const std::string& root) {
  BERTH_TRY(mkdir_all(root + "/snapshots", 0700));
  BERTH_TRY(mkdir_all(root + "/tmp", 0700));
  return DirSnapshots(root);
}

std::string DirSnapshots::id(const std::string& key) const { return std::string(oci::Digest::sha256_of(key).hex()); }

Result<Info> DirSnapshots::stat(const std::string& key) const {
  if (key.empty()) return fail(Errc::InvalidArgument, "snapshot key must not be empty");
  auto i = read_info(dir(key));
  if (!i) {
    if (i.error().code() == Errc::NotFound) return fail(Errc::NotFound, "snapshot `{}` not found", key);
    return fail(std::move(i).error());
  }
  if (i->key != key) return fail(Errc::NotFound, "snapshot `{}` not found", key);  // crash debris
  return i;
}

Status DirSnapshots::create(const Info& info, bool with_work,
                            const std::function<Status(const std::string& fs)>& fill, bool durable) {
  if (info.key.empty()) return fail(Errc::InvalidArgument, "snapshot key must not be empty");
  if (stat(info.key)) return fail(Errc::AlreadyExists, "snapshot `{}` already exists", info.key);
  std::string tmp = fmt::format("{}/tmp/{}-{}", root_, id(info.key).substr(0, 16), std::random_device{}());
  BERTH_TRY(mkdir_all(tmp + "/fs", 0755));
  if (with_work) BERTH_TRY(mkdir_all(tmp + "/work", 0700));
  Info i = info;
  i.created_at_ns = now_ns();
  auto fill_and_move = [&]() -> Status {
    if (fill) BERTH_TRY(fill(tmp + "/fs"));
    if (durable) BERTH_TRY(write_file_atomic(tmp + "/info.json", info_json(i), 0600));
    else BERTH_TRY(write_file_replace(tmp + "/info.json", info_json(i), 0600));
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir(info.key).c_str(), RENAME_NOREPLACE) < 0) {
      if (errno == EEXIST || errno == ENOTEMPTY) {
        // Debris of a crash under the same id (info names another key) is replaced; a live one is not.
        if (stat(info.key)) return fail(Errc::AlreadyExists, "snapshot `{}` already exists", info.key);
        BERTH_TRY(remove_all(dir(info.key)));
        if (::rename(tmp.c_str(), dir(info.key).c_str()) < 0) return fail_errno("snapshot `{}`: rename", info.key);
      } else {
        return fail_errno("snapshot `{}`: rename", info.key);
      }
    }
    return durable ? fsync_dir(root_ + "/snapshots") : ok();
  };
  auto st = fill_and_move();
  if (!st) (void)remove_all(tmp);
  return st;
}

Status DirSnapshots::commit(const std::string& name, const std::string& key, const std::string* new_parent) {
  auto i = BERTH_TRY(stat(key));
  if (i.kind != Kind::Active) return fail(Errc::InvalidArgument, "snapshot `{}` is {}, not active", key, kind_name(i.kind));
  if (name.empty()) return fail(Errc::InvalidArgument, "commit name must not be empty");
  if (stat(name)) {
    BERTH_TRY(remove_all(dir(key)));
    return fail(Errc::AlreadyExists, "snapshot `{}` already exists", name);
  }
  (void)remove_all(dir(key) + "/work");
  Info c = i;
  c.key = name;
  c.kind = Kind::Committed;
  if (new_parent) c.parent = *new_parent;
  BERTH_TRY(write_file_atomic(dir(key) + "/info.json", info_json(c), 0600));
  if (::renameat2(AT_FDCWD, dir(key).c_str(), AT_FDCWD, dir(name).c_str(), RENAME_NOREPLACE) < 0) {
    int e = errno;
    if (e == EEXIST || e == ENOTEMPTY) {
      BERTH_TRY(remove_all(dir(key)));
      return fail(Errc::AlreadyExists, "snapshot `{}` already exists", name);
    }
    return fail_errno_n(e, "commit snapshot `{}` as `{}`", key, name);
  }
  return fsync_dir(root_ + "/snapshots");
}

Status DirSnapshots::walk(const std::function<Status(const Info&)>& fn) const {
  std::string d = root_ + "/snapshots";
  DIR* dp = ::opendir(d.c_str());
  if (!dp) return fail_errno("open `{}`", d);
  std::vector<std::string> names;
  while (auto* de = ::readdir(dp))
    if (de->d_name[0] != '.') names.emplace_back(de->d_name);
  ::closedir(dp);
  for (auto& n : names) {
    auto i = read_info(d + "/" + n);
    if (!i || id(i->key) != n) continue;
    BERTH_TRY(fn(*i));
  }
  return ok();
}

Status DirSnapshots::remove(const std::string& key) {
  auto st = stat(key);
  // info.json that reads but does not parse: debris of a throw-away snapshot (committed ones are durable). An
  // I/O error reading it is returned as it is: it says nothing about the snapshot, and a committed one may have
  // children that this path would not look for.
  if (!st && st.error().code() == Errc::Internal && !key.empty() && read_file(dir(key) + "/info.json", 1 << 20)) {
    std::string trash = fmt::format("{}/tmp/rm-{}-{}", root_, id(key).substr(0, 16), std::random_device{}());
    if (::rename(dir(key).c_str(), trash.c_str()) < 0) return fail_errno("remove snapshot `{}`", key);
    return remove_all(trash);
  }
  auto self = BERTH_TRY(std::move(st));
  bool has_children = false;
  // Only committed snapshots can be parents: removing an active one (a container's) scans nothing.
  if (self.kind == Kind::Committed)
    BERTH_TRY(walk([&](const Info& i) {
      if (i.parent == key) has_children = true;
      return ok();
    }));
  if (has_children) return fail(Errc::FailedPrecondition, "snapshot `{}` has children", key);
  // Rename away first so a half-removed tree is never visible under its key.
  std::string trash = fmt::format("{}/tmp/rm-{}-{}", root_, id(key).substr(0, 16), std::random_device{}());
  if (::rename(dir(key).c_str(), trash.c_str()) < 0) return fail_errno("remove snapshot `{}`", key);
  return remove_all(trash);
}

Result<std::vector<Info>> DirSnapshots::parents(const std::string& key) const {
  std::vector<Info> out;
  auto cur = BERTH_TRY(stat(key));
  while (!cur.parent.empty()) {
    if (out.size() > 500) return fail(Errc::InvalidArgument, "snapshot `{}`: parent chain too long", key);
    cur = BERTH_TRY_CTX(stat(cur.parent), "parent of `{}`", cur.key);
    out.push_back(cur);
  }
  return out;
}

}  // namespace berth::image::snapshot
