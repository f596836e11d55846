#include "registry/storage.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "base/file.h"
#include "base/log.h"
#include "image/content/local/local_store.h"
#include "image/registry/reference.h"
#include "oci/image_spec.h"

namespace berth::registry {

namespace fs = std::filesystem;
using image::registry::valid_repository_name;
using image::registry::valid_tag;

namespace {

bool exists(const std::string& p) {
  struct stat st;
  return ::stat(p.c_str(), &st) == 0;
}

Status touch_durable(const std::string& path, std::string_view content = {}) {
  auto slash = path.rfind('/');
  BERTH_TRY(mkdir_all(path.substr(0, slash)));
  return write_file_atomic(path, content);
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string n = it->path().filename().string();
    if (!n.empty() && n[0] != '.') out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string new_uuid() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  uint64_t a = rng(), b = rng();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     ((b >> 48) & 0x3fff) | 0x8000, b & 0xffffffffffffULL);
}

bool valid_uuid(std::string_view u) {
  if (u.size() != 36) return false;
  for (size_t i = 0; i < u.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (u[i] != '-') return false;
    } else if (!isxdigit(static_cast<unsigned char>(u[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<std::unique_ptr<Storage>> Storage::open(const std::string& root) {
  BERTH_TRY(mkdir_all(root + "/repositories"));
  BERTH_TRY(mkdir_all(root + "/uploads"));
  auto b = BERTH_TRY(image::content::LocalStore::open(root));
  return std::unique_ptr<Storage>(new Storage(root, std::move(b)));
}

Result<image::content::Info> Storage::stat_blob(const std::string& repo, const Digest& d) {
  if (!valid_repository_name(repo)) return fail(Errc::InvalidArgument, "invalid repository name");
  if (!exists(fmt::format("{}/_layers/{}/{}", repo_dir(repo), d.algorithm_name(), d.hex())))
    return fail(Errc::NotFound, "blob {} unknown to repository {}", d, repo);
  return blobs_->info(d);
}

Status Storage::link_blob(const std::string& repo, const Digest& d) {
  std::string p = fmt::format("{}/_layers/{}/{}", repo_dir(repo), d.algorithm_name(), d.hex());
  if (exists(p)) return ok();
  return touch_durable(p);
}

Status Storage::unlink_blob(const std::string& repo, const Digest& d) {
  std::string p = fmt::format("{}/_layers/{}/{}", repo_dir(repo), d.algorithm_name(), d.hex());
  if (::unlink(p.c_str()) < 0) {
    if (errno == ENOENT) return fail(Errc::NotFound, "blob {} unknown to repository {}", d, repo);
    return fail_errno("unlink `{}`", p);
  }
  return ok();
}

Result<std::shared_ptr<Storage::Upload>> Storage::start_upload(const std::string& repo) {
  auto u = std::make_shared<Upload>();
  u->uuid = new_uuid();
  u->repo = repo;
  u->writer = BERTH_TRY(blobs_->writer({.ref = "upload-" + u->uuid}));
  BERTH_TRY(write_file_atomic(root_ + "/uploads/" + u->uuid, repo));
  std::lock_guard lk(mu_);
  uploads_[u->uuid] = u;
  return u;
}

Result<std::shared_ptr<Storage::Upload>> Storage::find_upload(const std::string& repo, const std::string& uuid) {
  if (!valid_uuid(uuid)) return fail(Errc::NotFound, "upload {} unknown", uuid);
  {
    std::lock_guard lk(mu_);
    if (auto it = uploads_.find(uuid); it != uploads_.end()) {
      if (it->second->repo != repo) return fail(Errc::NotFound, "upload {} unknown", uuid);
      return it->second;
    }
  }
  // A session from before a restart: its bytes are still in the ingest.
  auto owner = read_file(root_ + "/uploads/" + uuid, 4096);
  if (!owner || *owner != repo) return fail(Errc::NotFound, "upload {} unknown", uuid);
  auto u = std::make_shared<Upload>();
  u->uuid = uuid;
  u->repo = repo;
  u->writer = BERTH_TRY(blobs_->writer({.ref = "upload-" + uuid}));
  std::lock_guard lk(mu_);
  auto [it, inserted] = uploads_.emplace(uuid, u);
  return it->second;
}

Status Storage::finish_upload(Upload& u, const Digest& d) {
  auto c = u.writer->commit(-1, d);
  u.writer.reset();
  {
    std::lock_guard lk(mu_);
    uploads_.erase(u.uuid);
  }
  ::unlink((root_ + "/uploads/" + u.uuid).c_str());
  if (!c && c.error().code() != Errc::AlreadyExists) {
    (void)blobs_->abort_ingest("upload-" + u.uuid);
    return fail(std::move(c).error());
  }
  return link_blob(u.repo, d);
}

Status Storage::cancel_upload(Upload& u) {
  if (u.writer) (void)u.writer->abort();
  u.writer.reset();
  std::lock_guard lk(mu_);
  uploads_.erase(u.uuid);
  ::unlink((root_ + "/uploads/" + u.uuid).c_str());
  return ok();
}

Result<Digest> Storage::put_manifest(const std::string& repo, const std::string& tag, const std::string& body,
                                     const std::string& media_type, const std::optional<Digest>& subject,
                                     const std::string& referrer_descriptor_json) {
  Digest d = BERTH_TRY(image::content::write_blob(*blobs_, body));
  std::lock_guard lk(mu_);
  std::string dir = repo_dir(repo);
  BERTH_TRY(touch_durable(fmt::format("{}/_manifests/revisions/sha256/{}", dir, d.hex()), media_type));
  if (subject)
    BERTH_TRY(touch_durable(fmt::format("{}/_referrers/sha256/{}/{}", dir, subject->hex(), d.hex()),
                            referrer_descriptor_json));
  if (!tag.empty()) BERTH_TRY(touch_durable(fmt::format("{}/_manifests/tags/{}", dir, tag), d.str()));
  return d;
}

Result<std::optional<Digest>> Storage::resolve(const std::string& repo, const std::string& reference) {
  if (!valid_repository_name(repo)) return fail(Errc::InvalidArgument, "invalid repository name");
  if (reference.find(':') != std::string::npos) {
    auto d = BERTH_TRY(Digest::parse(reference));
    return std::optional<Digest>(d);
  }
  if (!valid_tag(reference)) return fail(Errc::InvalidArgument, "invalid tag `{}`", reference);
  auto text = read_file(fmt::format("{}/_manifests/tags/{}", repo_dir(repo), reference), 256);
  if (!text) return std::optional<Digest>();
  auto d = Digest::parse(*text);
  if (!d) return fail(Errc::Internal, "tag {}:{} holds a bad digest", repo, reference);
  return std::optional<Digest>(*d);
}

bool Storage::has_manifest(const std::string& repo, const Digest& d) {
  return exists(fmt::format("{}/_manifests/revisions/{}/{}", repo_dir(repo), d.algorithm_name(), d.hex()));
}

Result<ManifestRecord> Storage::get_manifest(const std::string& repo, const std::string& reference) {
  auto d = BERTH_TRY(resolve(repo, reference));
  if (!d) return fail(Errc::NotFound, "manifest {}:{} unknown", repo, reference);
  auto mt = read_file(fmt::format("{}/_manifests/revisions/{}/{}", repo_dir(repo), d->algorithm_name(), d->hex()), 4096);
  if (!mt) return fail(Errc::NotFound, "manifest {}@{} unknown", repo, *d);
  ManifestRecord r;
  r.digest = *d;
  r.media_type = *mt;
  r.body = BERTH_TRY(image::content::read_blob(*blobs_, *d, 4 << 20));
  return r;
}

Status Storage::delete_manifest(const std::string& repo, const std::string& reference) {
  bool by_digest = reference.find(':') != std::string::npos;
  auto d = BERTH_TRY(resolve(repo, reference));
  if (!d) return fail(Errc::NotFound, "manifest {}:{} unknown", repo, reference);
  std::lock_guard lk(mu_);
  std::string dir = repo_dir(repo);
  if (!by_digest) {
    if (::unlink(fmt::format("{}/_manifests/tags/{}", dir, reference).c_str()) < 0)
      return fail(Errc::NotFound, "tag {}:{} unknown", repo, reference);
    return ok();
  }
  std::string rev = fmt::format("{}/_manifests/revisions/sha256/{}", dir, d->hex());
  if (!exists(rev)) return fail(Errc::NotFound, "manifest {}@{} unknown", repo, *d);
  for (const auto& t : list_dir(dir + "/_manifests/tags")) {
    auto text = read_file(fmt::format("{}/_manifests/tags/{}", dir, t), 256);
    if (text && *text == d->str()) ::unlink(fmt::format("{}/_manifests/tags/{}", dir, t).c_str());
  }
  for (const auto& s : list_dir(dir + "/_referrers/sha256"))
    ::unlink(fmt::format("{}/_referrers/sha256/{}/{}", dir, s, d->hex()).c_str());
  if (::unlink(rev.c_str()) < 0) return fail_errno("unlink `{}`", rev);
  return fsync_dir(dir + "/_manifests/revisions/sha256");
}

bool Storage::repo_exists(const std::string& repo) {
  return valid_repository_name(repo) && (exists(repo_dir(repo) + "/_manifests") || exists(repo_dir(repo) + "/_layers"));
}

Result<std::vector<std::string>> Storage::tags(const std::string& repo) {
  if (!repo_exists(repo)) return fail(Errc::NotFound, "repository {} unknown", repo);
  return list_dir(repo_dir(repo) + "/_manifests/tags");
}

Result<std::vector<std::string>> Storage::repositories() {
  std::vector<std::string> out;
  std::string base = root_ + "/repositories";
  std::error_code ec;
  for (fs::recursive_directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
    std::string n = it->path().filename().string();
    if (!n.empty() && n[0] == '_') {
      if (n == "_manifests" || n == "_layers") {
        std::string repo = fs::relative(it->path().parent_path(), base).string();
        if (valid_repository_name(repo)) out.push_back(repo);
      }
      it.disable_recursion_pending();
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Result<std::vector<std::string>> Storage::referrers(const std::string& repo, const Digest& subject) {
  std::vector<std::string> out;
  if (!valid_repository_name(repo)) return fail(Errc::InvalidArgument, "invalid repository name");
  std::string dir = fmt::format("{}/_referrers/sha256/{}", repo_dir(repo), subject.hex());
  for (const auto& n : list_dir(dir)) {
    auto d = Digest::from_hex(oci::DigestAlgorithm::Sha256, n);
    if (!d || !has_manifest(repo, *d)) continue;
    auto text = read_file(dir + "/" + n, 1 << 20);
    if (text) out.push_back(*text);
  }
  return out;
}

Result<GcStats> Storage::gc(bool delete_untagged) {
  std::lock_guard lk(mu_);
  GcStats st;
  std::set<std::string> marked;  // digest strings
  auto repos = BERTH_TRY(repositories());
  for (const auto& repo : repos) {
    std::string dir = repo_dir(repo);
    std::vector<Digest> revisions;
    for (const auto& n : list_dir(dir + "/_manifests/revisions/sha256"))
      if (auto d = Digest::from_hex(oci::DigestAlgorithm::Sha256, n)) revisions.push_back(*d);
    std::set<std::string> keep;
    if (!delete_untagged) {
      for (const auto& d : revisions) keep.insert(d.str());
    } else {
      // Roots: tagged manifests; then close over index children and referrers of kept manifests.
      std::vector<Digest> work;
      for (const auto& t : list_dir(dir + "/_manifests/tags"))
        if (auto text = read_file(dir + "/_manifests/tags/" + t, 256))
          if (auto d = Digest::parse(*text)) work.push_back(*d);
      while (!work.empty()) {
        Digest d = work.back();
        work.pop_back();
        if (!keep.insert(d.str()).second) continue;
        if (auto body = image::content::read_blob(*blobs_, d, 4 << 20)) {
          if (auto p = oci::parse_manifest_or_index(*body); p)
            if (auto* ix = std::get_if<oci::Index>(&*p))
              for (const auto& m : ix->manifests) work.push_back(m.digest);
        }
        for (const auto& n : list_dir(fmt::format("{}/_referrers/sha256/{}", dir, d.hex())))
          if (auto r = Digest::from_hex(oci::DigestAlgorithm::Sha256, n)) work.push_back(*r);
      }
    }
    for (const auto& d : revisions) {
      if (!keep.count(d.str())) {
        ::unlink(fmt::format("{}/_manifests/revisions/sha256/{}", dir, d.hex()).c_str());
        ++st.manifests_removed;
        continue;
      }
      marked.insert(d.str());
      auto body = image::content::read_blob(*blobs_, d, 4 << 20);
      if (!body) continue;
      auto p = oci::parse_manifest_or_index(*body);
      if (!p) continue;
      if (auto* m = std::get_if<oci::Manifest>(&*p)) {
        marked.insert(m->config.digest.str());
        for (const auto& l : m->layers) marked.insert(l.digest.str());
      }
    }
  }
  std::vector<image::content::Info> doomed;
  BERTH_TRY(blobs_->walk([&](const image::content::Info& i) -> Status {
    if (marked.count(i.digest.str())) {
      ++st.blobs_kept;
    } else {
      doomed.push_back(i);
    }
    return ok();
  }));
  for (const auto& i : doomed) {
    if (blobs_->remove(i.digest)) {
      ++st.blobs_removed;
      st.bytes_removed += i.size;
    }
  }
  // Links to blobs that are gone would make HEAD answer for content that no longer exists.
  for (const auto& repo : repos) {
    std::string ldir = repo_dir(repo) + "/_layers/sha256";
    for (const auto& n : list_dir(ldir))
      if (auto d = Digest::from_hex(oci::DigestAlgorithm::Sha256, n); !d || !blobs_->info(*d))
        ::unlink((ldir + "/" + n).c_str());
  }
  for (const auto& u : list_dir(root_ + "/uploads")) {
    (void)blobs_->abort_ingest("upload-" + u);
    ::unlink((root_ + "/uploads/" + u).c_str());
    ++st.uploads_removed;
  }
  uploads_.clear();
  return st;
}

}  // namespace berth::registry
