// ImageStore::save / ImageStore::load: docker-save archives and OCI image layouts, directory or tar.
//   https://github.com/opencontainers/image-spec/blob/v1.1.0/image-layout.md
//   docker save: manifest.json = [{"Config": path, "RepoTags": [...], "Layers": [paths...]}]
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "base/file.h"
#include "base/unique_fd.h"
#include "image/image_store.h"
#include "image/registry/reference.h"

namespace berth::image {

namespace {
using json = nlohmann::json;

std::string blob_rel(const oci::Digest& d) { return fmt::format("blobs/{}/{}", d.algorithm_name(), d.hex()); }

// Docker's short form: docker.io/library/x:t -> x:t, docker.io/u/x:t -> u/x:t.
std::string familiar(const std::string& full) {
  std::string s = full;
  if (s.starts_with("docker.io/library/")) return s.substr(18);
  if (s.starts_with("docker.io/")) return s.substr(10);
  return s;
}

class OutTree {
 public:
  virtual ~OutTree() = default;
  virtual Status add(const std::string& path, std::string_view data) = 0;
  virtual Status add_blob(const std::string& path, content::Provider& p, const oci::Digest& d) = 0;
  virtual Status close() = 0;
};

class DirTree final : public OutTree {
 public:
  explicit DirTree(std::string root) : root_(std::move(root)) {}
  Status add(const std::string& path, std::string_view data) override {
    auto full = root_ + "/" + path;
    BERTH_TRY(mkdir_all(full.substr(0, full.rfind('/')), 0755));
    return write_file_atomic(full, data, 0644);
  }
  Status add_blob(const std::string& path, content::Provider& p, const oci::Digest& d) override {
    auto full = root_ + "/" + path;
    BERTH_TRY(mkdir_all(full.substr(0, full.rfind('/')), 0755));
    std::string tmp = full + ".tmp";
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!fd) return fail_errno("create `{}`", tmp);
    BERTH_TRY(content::copy_blob_to_fd(p, d, fd.get()));
    if (::fsync(fd.get()) < 0) return fail_errno("fsync `{}`", tmp);
    if (::rename(tmp.c_str(), full.c_str()) < 0) return fail_errno("rename `{}`", full);
    return ok();
  }
  Status close() override { return fsync_dir(root_); }

 private:
  std::string root_;
};

class TarTree final : public OutTree {
 public:
  static Result<std::unique_ptr<TarTree>> open(const std::string& out) {
    std::unique_ptr<TarTree> t(new TarTree());
    if (out == "-") {
      t->fd_ = 1;
    } else {
      t->tmp_ = out + ".tmp";
      t->owned_.reset(::open(t->tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
      if (!t->owned_) return fail_errno("create `{}`", t->tmp_);
      t->fd_ = t->owned_.get();
      t->out_ = out;
    }
    t->a_ = archive_write_new();
    archive_write_set_format_pax_restricted(t->a_);
    if (archive_write_open_fd(t->a_, t->fd_) != ARCHIVE_OK)
      return fail(Errc::Internal, "tar: {}", archive_error_string(t->a_));
    return t;
  }
  ~TarTree() override {
    if (a_) archive_write_free(a_);
    if (!tmp_.empty() && !closed_) ::unlink(tmp_.c_str());
  }
  Status entry(const std::string& path, int64_t size) {
    auto* e = archive_entry_new();
    archive_entry_set_pathname(e, path.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, size);
    int r = archive_write_header(a_, e);
    archive_entry_free(e);
    if (r < ARCHIVE_WARN) return fail(Errc::Internal, "tar `{}`: {}", path, archive_error_string(a_));
    return ok();
  }
  Status add(const std::string& path, std::string_view data) override {
    BERTH_TRY(entry(path, static_cast<int64_t>(data.size())));
    if (!data.empty() && archive_write_data(a_, data.data(), data.size()) < 0)
      return fail(Errc::Internal, "tar `{}`: {}", path, archive_error_string(a_));
    return ok();
  }
  Status add_blob(const std::string& path, content::Provider& p, const oci::Digest& d) override {
    auto r = BERTH_TRY(p.reader(d));
    BERTH_TRY(entry(path, r->size()));
    std::vector<char> buf(1 << 20);
    int64_t off = 0;
    while (off < r->size()) {
      size_t n = BERTH_TRY(r->read_at(buf.data(), buf.size(), off));
      if (n == 0) return fail(Errc::Internal, "blob {}: short read", d);
      if (archive_write_data(a_, buf.data(), n) < 0)
        return fail(Errc::Internal, "tar `{}`: {}", path, archive_error_string(a_));
      off += static_cast<int64_t>(n);
    }
    return ok();
  }
  Status close() override {
    if (archive_write_close(a_) != ARCHIVE_OK) return fail(Errc::Internal, "tar: {}", archive_error_string(a_));
    if (!tmp_.empty()) {
      if (::fsync(fd_) < 0) return fail_errno("fsync `{}`", tmp_);
      if (::rename(tmp_.c_str(), out_.c_str()) < 0) return fail_errno("rename `{}`", out_);
    }
    closed_ = true;
    return ok();
  }

 private:
  TarTree() = default;
  struct archive* a_ = nullptr;
  UniqueFd owned_;
  int fd_ = -1;
  std::string tmp_, out_;
  bool closed_ = false;
};

Result<std::string> blob_media_guess(content::Provider& p, const oci::Digest& d) {
  auto r = BERTH_TRY(p.reader(d));
  unsigned char m[4] = {};
  size_t n = BERTH_TRY(r->read_at(m, 4, 0));
  if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) return std::string(oci::media::kOciLayerGzip);
  if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) return std::string(oci::media::kOciLayerZstd);
  return std::string(oci::media::kOciLayer);
}

// Copies a stream into the content store, returning its digest and size.
template <class ReadFn>
Result<oci::Descriptor> ingest(content::Store& store, const std::string& ref, ReadFn&& read_some) {
  content::WriterOptions o;
  o.ref = ref;
  auto w = BERTH_TRY(store.writer(o));
  BERTH_TRY(w->truncate());
  std::vector<char> buf(1 << 20);
  for (;;) {
    size_t n = BERTH_TRY(read_some(buf.data(), buf.size()));
    if (n == 0) break;
    BERTH_TRY(w->write(std::string_view(buf.data(), n)));
  }
  oci::Descriptor d;
  d.size = w->offset();
  d.digest = w->digest();
  auto c = w->commit(d.size, d.digest);
  if (!c && c.error().code() != Errc::AlreadyExists) return fail(std::move(c).error());
  return d;
}

}  // namespace

Status ImageStore::save(const std::vector<std::string>& names, const std::string& out, bool as_dir,
                        const std::set<std::string>& unnamed) {
  if (names.empty()) return fail(Errc::InvalidArgument, "save: no images named");
  std::unique_ptr<OutTree> tree;
  if (as_dir) {
    BERTH_TRY(mkdir_all(out, 0755));
    tree = std::make_unique<DirTree>(out);
  } else {
    tree = BERTH_TRY(TarTree::open(out));
  }
  BERTH_TRY(tree->add("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  oci::Index index;
  index.media_type = std::string(oci::media::kOciIndex);
  json docker = json::array();
  std::set<oci::Digest> written;
  for (auto& name : names) {
    auto r = BERTH_TRY(resolve(name));
    auto top = r.record.target;
    auto all = BERTH_TRY(metadata::reachable(*content_, top));
    bool complete = true;
    for (auto& d : all) complete = complete && static_cast<bool>(content_->info(d.digest));
    if (!complete) {  // an index whose other platforms were never pulled: save the platform we have
      top = r.manifest_desc;
      all = BERTH_TRY(metadata::reachable(*content_, top));
    }
    for (auto& d : all) {
      if (!written.insert(d.digest).second) continue;
      BERTH_TRY_CTX(tree->add_blob(blob_rel(d.digest), *content_, d.digest), "save `{}`", name);
    }
    auto ref = BERTH_TRY(registry::parse_reference(r.record.name));
    bool keep_name = !unnamed.count(name);
    oci::Descriptor entry = top;
    if (keep_name) {
      entry.annotations["io.containerd.image.name"] = r.record.name;
      if (!ref.tag.empty()) entry.annotations["org.opencontainers.image.ref.name"] = ref.tag;
    }
    index.manifests.push_back(entry);
    json layers = json::array();
    for (auto& l : r.manifest.layers) layers.push_back(blob_rel(l.digest));
    json repo_tags = !keep_name ? json(nullptr) : ref.tag.empty() ? json::array() : json::array({familiar(r.record.name)});
    docker.push_back({{"Config", blob_rel(r.config_digest)}, {"RepoTags", repo_tags}, {"Layers", layers}});
  }
  BERTH_TRY(tree->add("index.json", oci::to_json(index)));
  BERTH_TRY(tree->add("manifest.json", docker.dump()));
  return tree->close();
}

Result<std::vector<std::string>> ImageStore::load(const std::string& in, const std::string& name_for_untagged,
                                                  std::mutex* store_lock) {
  auto record = [&](const std::string& n, const oci::Descriptor& d) -> Status {
    std::unique_lock<std::mutex> held;
    if (store_lock) held = std::unique_lock(*store_lock);
    return put_image(n, d);
  };
  std::string lease = fmt::format("load-{}-{}", ::getpid(), std::random_device{}());
  BERTH_TRY(meta_->create_lease(lease, int64_t{3600} * 1000000000));
  struct LeaseGuard {
    metadata::Metadata& m;
    std::string id;
    ~LeaseGuard() { (void)m.delete_lease(id); }
  } guard{*meta_, lease};

  std::map<std::string, std::string> small;       // manifest.json, index.json, ...
  std::map<std::string, oci::Descriptor> blobs;   // archive path -> ingested blob
  auto add_lease = [&](const oci::Digest& d) {
    return meta_->add_lease_resource(lease, {metadata::ResourceKind::Content, d.str()});
  };
  auto wanted = [](const std::string& p) {
    return p.starts_with("blobs/") || p.ends_with(".tar") || p.ends_with(".json") || p.ends_with("layer.tar.gz");
  };
  auto clean = [](std::string p) {
    while (p.starts_with("./")) p = p.substr(2);
    return p;
  };

  struct stat st;
  if (::stat(in.c_str(), &st) < 0 && in != "-") return fail_errno("load: `{}`", in);
  bool is_dir = in != "-" && S_ISDIR(st.st_mode);
  if (!is_dir) {
    std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_read_new(), archive_read_free);
    archive_read_support_format_tar(a.get());
    archive_read_support_filter_gzip(a.get());
    archive_read_support_filter_zstd(a.get());
    int rc = in == "-" ? archive_read_open_fd(a.get(), 0, 1 << 20) : archive_read_open_filename(a.get(), in.c_str(), 1 << 20);
    if (rc != ARCHIVE_OK) return fail(Errc::InvalidArgument, "load `{}`: {}", in, archive_error_string(a.get()));
    struct archive_entry* e;
    while ((rc = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK) {
      if (archive_entry_filetype(e) != AE_IFREG) continue;
      std::string p = clean(archive_entry_pathname(e));
      if (p == "manifest.json" || p == "index.json" || p == "oci-layout" || p == "repositories") {
        if (archive_entry_size(e) > (16 << 20)) return fail(Errc::InvalidArgument, "load: `{}` too large", p);
        std::string s(static_cast<size_t>(archive_entry_size(e)), '\0');
        if (!s.empty() && archive_read_data(a.get(), s.data(), s.size()) != static_cast<la_ssize_t>(s.size()))
          return fail(Errc::InvalidArgument, "load: read `{}`: {}", p, archive_error_string(a.get()));
        small[p] = std::move(s);
        continue;
      }
      if (!wanted(p)) continue;
      auto d = BERTH_TRY_CTX(ingest(*content_, lease + "-" + p, [&](char* buf, size_t n) -> Result<size_t> {
                               la_ssize_t r = archive_read_data(a.get(), buf, n);
                               if (r < 0) return fail(Errc::InvalidArgument, "{}", archive_error_string(a.get()));
                               return static_cast<size_t>(r);
                             }),
                             "load `{}`", p);
      BERTH_TRY(add_lease(d.digest));
      blobs[p] = d;
    }
    if (rc != ARCHIVE_EOF) return fail(Errc::InvalidArgument, "load `{}`: {}", in, archive_error_string(a.get()));
  } else {
    for (const char* f : {"manifest.json", "index.json", "oci-layout"}) {
      auto s = read_file(in + "/" + f, 16 << 20);
      if (s) small[f] = *s;
    }
  }
  // A path from the archive's own metadata, ingested (verifying digest when the path names one).
  auto blob_at = [&](const std::string& rel_in) -> Result<oci::Descriptor> {
    std::string rel = clean(rel_in);
    if (rel.find("..") != std::string::npos || rel.starts_with("/"))
      return fail(Errc::PermissionDenied, "load: path `{}` escapes the archive", rel);
    if (auto it = blobs.find(rel); it != blobs.end()) return it->second;
    if (!is_dir) return fail(Errc::NotFound, "load: `{}` is not in the archive", rel);
    UniqueFd fd(::open((in + "/" + rel).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return fail_errno("load: open `{}`", rel);
    auto d = BERTH_TRY(ingest(*content_, lease + "-" + rel, [&](char* buf, size_t n) -> Result<size_t> {
      ssize_t r = ::read(fd.get(), buf, n);
      if (r < 0) return fail_errno("read `{}`", rel);
      return static_cast<size_t>(r);
    }));
    BERTH_TRY(add_lease(d.digest));
    blobs[rel] = d;
    return d;
  };

  std::vector<std::string> created;
  auto name_for = [&](const std::map<std::string, std::string>& ann, const oci::Digest& target) -> Result<std::string> {
    if (auto it = ann.find("io.containerd.image.name"); it != ann.end()) return normalize_name(it->second);
    auto rn = ann.find("org.opencontainers.image.ref.name");
    if (rn != ann.end() && (rn->second.find('/') != std::string::npos || rn->second.find(':') != std::string::npos))
      return normalize_name(rn->second);
    if (name_for_untagged.ends_with("@")) {  // unnamed: kept under <repo>@<digest> (a digest name only)
      auto base = BERTH_TRY(registry::parse_reference(name_for_untagged.substr(0, name_for_untagged.size() - 1)));
      return base.name() + "@" + target.str();
    }
    if (name_for_untagged.empty())
      return fail(Errc::InvalidArgument, "load: an image in `{}` has no name; pass one (--name)", in);
    auto base = BERTH_TRY(registry::parse_reference(name_for_untagged));
    if (rn != ann.end() && registry::valid_tag(rn->second)) return base.name() + ":" + rn->second;
    return base.str();
  };

  if (small.count("index.json")) {
    auto idx = BERTH_TRY_CTX(oci::parse_index(small["index.json"]), "load: index.json");
    for (auto& top : idx.manifests) {
      // Ingest the top document and everything it reaches that the layout holds.
      std::vector<oci::Descriptor> queue{top};
      while (!queue.empty()) {
        auto d = queue.back();
        queue.pop_back();
        auto got = blob_at(blob_rel(d.digest));
        if (!got) {
          if (got.error().code() == Errc::NotFound && d.digest != top.digest) continue;  // other platforms
          return fail(std::move(got).error());
        }
        if (got->digest != d.digest)
          return fail(Errc::InvalidArgument, "load: blob `{}` hashes to {}", blob_rel(d.digest), got->digest);
        if (oci::is_index_media_type(d.media_type) || oci::is_manifest_media_type(d.media_type)) {
          auto text = BERTH_TRY(content::read_blob(*content_, d.digest));
          auto doc = BERTH_TRY_CTX(oci::parse_manifest_or_index(text, d.media_type), "load: {}", d.digest);
          if (auto* m = std::get_if<oci::Manifest>(&doc)) {
            queue.push_back(m->config);
            for (auto& l : m->layers) queue.push_back(l);
          } else {
            for (auto& c : std::get<oci::Index>(doc).manifests) queue.push_back(c);
          }
        }
      }
      auto n = BERTH_TRY(name_for(top.annotations, top.digest));
      BERTH_TRY(record(n, top));
      created.push_back(n);
    }
    return created;
  }
  if (!small.count("manifest.json"))
    return fail(Errc::InvalidArgument, "load `{}`: neither index.json (OCI layout) nor manifest.json (docker save)", in);
  auto j = json::parse(small["manifest.json"], nullptr, false);
  if (!j.is_array()) return fail(Errc::InvalidArgument, "load: manifest.json is not an array");
  for (auto& img : j) {
    if (!img.is_object() || !img["Config"].is_string() || !img["Layers"].is_array())
      return fail(Errc::InvalidArgument, "load: manifest.json entry lacks Config or Layers");
    oci::Manifest m;
    m.media_type = std::string(oci::media::kOciManifest);
    m.config = BERTH_TRY(blob_at(img["Config"].get<std::string>()));
    m.config.media_type = std::string(oci::media::kOciConfig);
    auto cfg_text = BERTH_TRY(content::read_blob(*content_, m.config.digest));
    BERTH_TRY_CTX(oci::parse_image_config(cfg_text), "load: config `{}`", img["Config"].get<std::string>());
    for (auto& l : img["Layers"]) {
      if (!l.is_string()) return fail(Errc::InvalidArgument, "load: manifest.json Layers holds a non-string");
      auto d = BERTH_TRY(blob_at(l.get<std::string>()));
      d.media_type = BERTH_TRY(blob_media_guess(*content_, d.digest));
      m.layers.push_back(d);
    }
    auto mdesc = BERTH_TRY(write_json_blob(oci::to_json(m), oci::media::kOciManifest, lease));
    std::vector<std::string> tags;
    if (img["RepoTags"].is_array())
      for (auto& t : img["RepoTags"])
        if (t.is_string()) tags.push_back(t.get<std::string>());
    if (tags.empty()) tags.push_back(BERTH_TRY(name_for({}, mdesc.digest)));
    for (auto& t : tags) {
      auto n = BERTH_TRY(normalize_name(t));
      BERTH_TRY(record(n, mdesc));
      created.push_back(n);
    }
  }
  return created;
}

}  // namespace berth::image
