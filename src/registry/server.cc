#include "registry/server.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "image/registry/auth.h"
#include "image/registry/reference.h"
#include "net/http/server.h"
#include "oci/image_spec.h"
#include "registry/htpasswd.h"

namespace berth::registry {

namespace http = berth::net::http;
using image::registry::valid_repository_name;
using image::registry::valid_tag;

namespace {

constexpr size_t kMaxManifestBytes = 4 << 20;
constexpr std::string_view kApiVersion = "registry/2.0";

struct Route {
  enum Kind { Base, Catalog, Tags, Manifest, Blob, UploadStart, Upload, Referrers, Unknown } kind = Unknown;
  std::string name;
  std::string rest;  // reference, digest or uuid
};

Route route(const std::string& path) {
  Route r;
  if (path == "/v2/" || path == "/v2") return {Route::Base, "", ""};
  if (path == "/v2/_catalog") return {Route::Catalog, "", ""};
  if (path.rfind("/v2/", 0) != 0) return r;
  std::string p = path.substr(4);
  struct Marker {
    const char* text;
    Route::Kind kind;
  };
  static const Marker markers[] = {{"/tags/list", Route::Tags}, {"/manifests/", Route::Manifest},
                                   {"/blobs/uploads/", Route::Upload}, {"/blobs/uploads", Route::UploadStart},
                                   {"/blobs/", Route::Blob}, {"/referrers/", Route::Referrers}};
  for (const auto& m : markers) {
    auto pos = p.rfind(m.text);
    if (pos == std::string::npos || pos == 0) continue;
    std::string name = p.substr(0, pos);
    std::string rest = p.substr(pos + strlen(m.text));
    if (m.kind == Route::Tags && !rest.empty()) continue;
    if (m.kind == Route::UploadStart && !rest.empty()) continue;
    if (m.kind == Route::Upload && rest.empty()) {
      r = {Route::UploadStart, name, ""};
      return r;
    }
    if ((m.kind == Route::Manifest || m.kind == Route::Blob || m.kind == Route::Referrers) &&
        (rest.empty() || rest.find('/') != std::string::npos))
      continue;
    return {m.kind, name, rest};
  }
  return r;
}

std::string error_body(std::string_view code, std::string_view message, const nlohmann::json& detail = nullptr) {
  nlohmann::json e = {{"code", code}, {"message", message}};
  if (!detail.is_null()) e["detail"] = detail;
  return nlohmann::json{{"errors", nlohmann::json::array({e})}}.dump();
}

std::string strip_params(std::string ct) {
  if (auto semi = ct.find(';'); semi != std::string::npos) ct.resize(semi);
  while (!ct.empty() && ct.back() == ' ') ct.pop_back();
  return ct;
}

// Records the status a handler sent, for the observer.
class RecordingResponse final : public http::ServerResponse {
 public:
  explicit RecordingResponse(http::ServerResponse& inner) : inner_(inner) {}
  Status send(int status, const http::Headers& h, std::string_view body,
              std::optional<uint64_t> head_length = std::nullopt) override {
    status_ = status;
    return inner_.send(status, h, body, head_length);
  }
  Status send_file(int status, const http::Headers& h, int fd, uint64_t off, uint64_t len) override {
    status_ = status;
    return inner_.send_file(status, h, fd, off, len);
  }
  bool sent() const override { return inner_.sent(); }
  int status() const { return status_; }

 private:
  http::ServerResponse& inner_;
  int status_ = 0;
};

class Impl final : public RegistryServer {
 public:
  Impl(ServeOptions o, std::unique_ptr<Storage> s, std::optional<Htpasswd> h)
      : opts_(std::move(o)), storage_(std::move(s)), htpasswd_(std::move(h)) {}
  ~Impl() override { stop(); }

  Status start() {
    http::ServerOptions so{.addr = opts_.addr, .tls_cert = opts_.tls_cert, .tls_key = opts_.tls_key};
    server_ = BERTH_TRY(http::Server::start(so, [this](http::ServerRequest& q, http::ServerResponse& r) {
      RecordingResponse rec(r);
      handle(q, rec);
      if (opts_.observer) opts_.observer(q.method(), q.target(), q.headers(), rec.status());
    }));
    return ok();
  }

  uint16_t port() const override { return server_->port(); }
  void stop() override {
    if (server_) server_->stop();
  }
  void wait() override { server_->wait(); }
  Storage& storage() override { return *storage_; }

 private:
  // ---- responses -------------------------------------------------------------------------------------------
  static http::Headers base_headers() {
    http::Headers h;
    h.add("Docker-Distribution-API-Version", std::string(kApiVersion));
    return h;
  }
  void error(http::ServerResponse& r, int status, std::string_view code, std::string_view msg,
             const nlohmann::json& detail = nullptr, http::Headers h = base_headers()) {
    h.set("Content-Type", "application/json");
    (void)r.send(status, h, error_body(code, msg, detail));
  }
  void empty(http::ServerResponse& r, int status, http::Headers h) { (void)r.send(status, h, ""); }

  bool authorized(http::ServerRequest& q, http::ServerResponse& r) {
    if (!htpasswd_) return true;
    auto a = q.headers().get("Authorization");
    if (a && a->size() > 6 && http::iequals(a->substr(0, 6), "Basic ")) {
      auto dec = image::registry::base64_decode(a->substr(6));
      if (dec) {
        auto colon = dec->find(':');
        if (colon != std::string::npos && htpasswd_->check(dec->substr(0, colon), dec->substr(colon + 1)))
          return true;
      }
    }
    auto h = base_headers();
    h.add("WWW-Authenticate", "Basic realm=\"berth-registry\"");
    error(r, 401, "UNAUTHORIZED", "authentication required", nullptr, h);
    return false;
  }

  void handle(http::ServerRequest& q, http::ServerResponse& r) {
    if (!authorized(q, r)) return;
    auto t = http::parse_target(q.target());
    Route rt = route(t.path);
    const std::string& m = q.method();
    if (rt.kind == Route::Unknown) return error(r, 404, "NAME_UNKNOWN", "no such endpoint");
    if (rt.kind == Route::Base) {
      if (m != "GET" && m != "HEAD") return error(r, 405, "UNSUPPORTED", "method not allowed");
      auto h = base_headers();
      h.add("Content-Type", "application/json");
      (void)r.send(200, h, "{}");
      return;
    }
    if (rt.kind == Route::Catalog) return catalog(q, r, t);
    if (!valid_repository_name(rt.name))
      return error(r, 400, "NAME_INVALID", "invalid repository name", rt.name);
    switch (rt.kind) {
      case Route::Tags:
        if (m != "GET") break;
        return tags(r, rt, t);
      case Route::Manifest:
        if (m == "GET" || m == "HEAD") return get_manifest(q, r, rt);
        if (m == "PUT") return put_manifest(q, r, rt, t);
        if (m == "DELETE") return delete_manifest(r, rt);
        break;
      case Route::Blob:
        if (m == "GET" || m == "HEAD") return get_blob(q, r, rt);
        if (m == "DELETE") return delete_blob(r, rt);
        break;
      case Route::UploadStart:
        if (m == "POST") return start_upload(q, r, rt, t);
        break;
      case Route::Upload:
        if (m == "GET") return upload_status(r, rt);
        if (m == "PATCH") return patch_upload(q, r, rt);
        if (m == "PUT") return put_upload(q, r, rt, t);
        if (m == "DELETE") return delete_upload(r, rt);
        break;
      case Route::Referrers:
        if (m == "GET") return referrers(r, rt, t);
        break;
      default:
        break;
    }
    error(r, 405, "UNSUPPORTED", fmt::format("{} not allowed here", m));
  }

  // Shared n=/last= pagination; sets Link when more remain.
  void paginate(std::vector<std::string>& items, const http::Target& t, const std::string& path, http::Headers& h,
                http::ServerResponse& r, bool& bad) {
    bad = false;
    if (auto last = t.param("last")) {
      auto it = std::upper_bound(items.begin(), items.end(), *last);
      items.erase(items.begin(), it);
    }
    if (auto n = t.param("n")) {
      size_t lim = 0;
      try {
        long v = std::stol(*n);
        if (v < 0) throw std::invalid_argument("n");
        lim = static_cast<size_t>(v);
      } catch (...) {
        bad = true;
        return error(r, 400, "PAGINATION_NUMBER_INVALID", "invalid n", *n);
      }
      if (items.size() > lim) {
        items.resize(lim);
        if (lim > 0)
          h.add("Link", fmt::format("<{}?n={}&last={}>; rel=\"next\"", path, lim, http::percent_encode(items.back())));
      }
    }
  }

  void catalog(http::ServerRequest& q, http::ServerResponse& r, const http::Target& t) {
    if (q.method() != "GET") return error(r, 405, "UNSUPPORTED", "method not allowed");
    auto repos = storage_->repositories();
    if (!repos) return error(r, 500, "UNKNOWN", repos.error().message());
    auto h = base_headers();
    bool bad;
    paginate(*repos, t, "/v2/_catalog", h, r, bad);
    if (bad) return;
    h.add("Content-Type", "application/json");
    (void)r.send(200, h, nlohmann::json{{"repositories", *repos}}.dump());
  }

  void tags(http::ServerResponse& r, const Route& rt, const http::Target& t) {
    auto tags = storage_->tags(rt.name);
    if (!tags) return error(r, 404, "NAME_UNKNOWN", "repository name not known to registry", rt.name);
    auto h = base_headers();
    bool bad;
    paginate(*tags, t, "/v2/" + rt.name + "/tags/list", h, r, bad);
    if (bad) return;
    h.add("Content-Type", "application/json");
    (void)r.send(200, h, nlohmann::json{{"name", rt.name}, {"tags", *tags}}.dump());
  }

  // ---- manifests ---------------------------------------------------------------------------------------------
  void get_manifest(http::ServerRequest& q, http::ServerResponse& r, const Route& rt) {
    bool by_digest = rt.rest.find(':') != std::string::npos;
    if (by_digest && !oci::Digest::parse(rt.rest)) return error(r, 400, "DIGEST_INVALID", "invalid digest", rt.rest);
    if (!by_digest && !valid_tag(rt.rest)) return error(r, 400, "TAG_INVALID", "invalid tag", rt.rest);
    auto rec = storage_->get_manifest(rt.name, rt.rest);
    if (!rec) return error(r, 404, "MANIFEST_UNKNOWN", "manifest unknown", rt.rest);
    // Content negotiation: a client that accepts only single-image manifests cannot use an index.
    if (auto accept = q.headers().get_all("Accept"); !accept.empty() && oci::is_index_media_type(rec->media_type)) {
      std::string all;
      for (const auto& a : accept) all += a + ",";
      bool ok_index = all.find(rec->media_type) != std::string::npos || all.find("*/*") != std::string::npos;
      bool wants_manifest = all.find("manifest") != std::string::npos;
      if (!ok_index && wants_manifest)
        return error(r, 404, "MANIFEST_UNKNOWN", "manifest is an index; client does not accept it", rt.rest);
    }
    auto h = base_headers();
    h.add("Content-Type", rec->media_type);
    h.add("Docker-Content-Digest", rec->digest.str());
    h.add("ETag", "\"" + rec->digest.str() + "\"");
    (void)r.send(200, h, rec->body);
  }

  void put_manifest(http::ServerRequest& q, http::ServerResponse& r, const Route& rt, const http::Target&) {
    bool by_digest = rt.rest.find(':') != std::string::npos;
    std::optional<oci::Digest> want;
    if (by_digest) {
      auto d = oci::Digest::parse(rt.rest);
      if (!d) return error(r, 400, "DIGEST_INVALID", "invalid digest", rt.rest);
      want = *d;
    } else if (!valid_tag(rt.rest)) {
      return error(r, 400, "TAG_INVALID", "invalid tag", rt.rest);
    }
    auto body = q.read_all(kMaxManifestBytes);
    if (!body) return error(r, 413, "SIZE_INVALID", "manifest too large");
    std::string ct = strip_params(q.headers().get("Content-Type").value_or(""));
    if (ct == oci::media::kDockerSchema1 || ct == oci::media::kDockerSchema1Signed)
      return error(r, 400, "MANIFEST_INVALID", "Docker schema 1 manifests are not supported");
    auto parsed = oci::parse_manifest_or_index(*body, ct == "application/json" ? "" : ct);
    if (!parsed) return error(r, 400, "MANIFEST_INVALID", "manifest invalid", parsed.error().message());
    oci::Digest got = oci::Digest::sha256_of(*body);
    if (want && *want != got)
      return error(r, 400, "DIGEST_INVALID", "provided digest did not match uploaded content",
                   nlohmann::json{{"expected", want->str()}, {"actual", got.str()}});
    std::string media_type;
    std::optional<oci::Descriptor> subject;
    nlohmann::json desc = {{"digest", got.str()}, {"size", body->size()}};
    if (auto* mf = std::get_if<oci::Manifest>(&*parsed)) {
      media_type = mf->media_type.empty() ? (ct.empty() ? std::string(oci::media::kOciManifest) : ct) : mf->media_type;
      std::vector<const oci::Descriptor*> refs = {&mf->config};
      for (const auto& l : mf->layers) refs.push_back(&l);
      for (const auto* d : refs) {
        if (!d->urls.empty()) continue;  // foreign layers live elsewhere
        if (!storage_->stat_blob(rt.name, d->digest))
          return error(r, 400, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry", d->digest.str());
      }
      subject = mf->subject;
      desc["artifactType"] = mf->artifact_type.empty() ? mf->config.media_type : mf->artifact_type;
      if (!mf->annotations.empty()) desc["annotations"] = mf->annotations;
    } else {
      auto& ix = std::get<oci::Index>(*parsed);
      media_type = ix.media_type.empty() ? (ct.empty() ? std::string(oci::media::kOciIndex) : ct) : ix.media_type;
      for (const auto& d : ix.manifests)
        if (!storage_->has_manifest(rt.name, d.digest))
          return error(r, 400, "MANIFEST_BLOB_UNKNOWN", "manifest unknown to repository", d.digest.str());
      subject = ix.subject;
      if (!ix.artifact_type.empty()) desc["artifactType"] = ix.artifact_type;
      if (!ix.annotations.empty()) desc["annotations"] = ix.annotations;
    }
    desc["mediaType"] = media_type;
    std::optional<oci::Digest> subject_digest;
    if (subject) subject_digest = subject->digest;
    auto d = storage_->put_manifest(rt.name, by_digest ? "" : rt.rest, *body, media_type, subject_digest, desc.dump());
    if (!d) return error(r, 500, "UNKNOWN", d.error().message());
    auto h = base_headers();
    h.add("Location", fmt::format("/v2/{}/manifests/{}", rt.name, d->str()));
    h.add("Docker-Content-Digest", d->str());
    if (subject) h.add("OCI-Subject", subject->digest.str());
    empty(r, 201, h);
  }

  void delete_manifest(http::ServerResponse& r, const Route& rt) {
    auto st = storage_->delete_manifest(rt.name, rt.rest);
    if (!st) {
      if (st.error().code() == Errc::InvalidArgument) return error(r, 400, "MANIFEST_INVALID", st.error().message());
      return error(r, 404, "MANIFEST_UNKNOWN", "manifest unknown", rt.rest);
    }
    empty(r, 202, base_headers());
  }

  // ---- blobs ---------------------------------------------------------------------------------------------------
  void get_blob(http::ServerRequest& q, http::ServerResponse& r, const Route& rt) {
    auto d = oci::Digest::parse(rt.rest);
    if (!d) return error(r, 400, "DIGEST_INVALID", "invalid digest", rt.rest);
    auto info = storage_->stat_blob(rt.name, *d);
    if (!info) return error(r, 404, "BLOB_UNKNOWN", "blob unknown to registry", d->str());
    auto reader = storage_->blobs().reader(*d);
    if (!reader) return error(r, 404, "BLOB_UNKNOWN", "blob unknown to registry", d->str());
    uint64_t total = static_cast<uint64_t>((*reader)->size());
    auto h = base_headers();
    h.add("Content-Type", "application/octet-stream");
    h.add("Docker-Content-Digest", d->str());
    h.add("Accept-Ranges", "bytes");
    h.add("ETag", "\"" + d->str() + "\"");
    if (auto range = q.headers().get("Range")) {
      auto pr = http::parse_range(*range, total);
      if (pr) {
        if (!*pr) {
          h.add("Content-Range", fmt::format("bytes */{}", total));
          return error(r, 416, "RANGE_INVALID", "requested range not satisfiable", *range, h);
        }
        h.add("Content-Range", fmt::format("bytes {}-{}/{}", (*pr)->first, (*pr)->last, total));
        (void)r.send_file(206, h, (*reader)->fd(), (*pr)->first, (*pr)->size());
        return;
      }
      // A Range we do not understand (several ranges, another unit) is ignored: the whole blob, 200.
    }
    (void)r.send_file(200, h, (*reader)->fd(), 0, total);
  }

  void delete_blob(http::ServerResponse& r, const Route& rt) {
    auto d = oci::Digest::parse(rt.rest);
    if (!d) return error(r, 400, "DIGEST_INVALID", "invalid digest", rt.rest);
    if (!storage_->unlink_blob(rt.name, *d)) return error(r, 404, "BLOB_UNKNOWN", "blob unknown", d->str());
    empty(r, 202, base_headers());
  }

  // ---- uploads -------------------------------------------------------------------------------------------------
  void upload_accepted(http::ServerResponse& r, const std::string& name, const Storage::Upload& u, int64_t offset,
                       int status = 202) {
    auto h = base_headers();
    h.add("Location", fmt::format("/v2/{}/blobs/uploads/{}", name, u.uuid));
    h.add("Range", fmt::format("0-{}", offset > 0 ? offset - 1 : 0));
    h.add("Docker-Upload-UUID", u.uuid);
    h.add("OCI-Chunk-Min-Length", "0");
    empty(r, status, h);
  }

  void blob_created(http::ServerResponse& r, const std::string& name, const oci::Digest& d) {
    auto h = base_headers();
    h.add("Location", fmt::format("/v2/{}/blobs/{}", name, d.str()));
    h.add("Docker-Content-Digest", d.str());
    empty(r, 201, h);
  }

  // Streams the request body into the upload; false if an error response was sent.
  bool append_body(http::ServerRequest& q, http::ServerResponse& r, Storage::Upload& u) {
    std::vector<char> buf(1 << 20);
    for (;;) {
      auto n = q.read_body(buf.data(), buf.size());
      if (!n) {
        error(r, 400, "BLOB_UPLOAD_INVALID", "reading the upload body failed", n.error().message());
        return false;
      }
      if (*n == 0) return true;
      if (auto st = u.writer->write(std::string_view(buf.data(), *n)); !st) {
        error(r, 500, "UNKNOWN", st.error().message());
        return false;
      }
    }
  }

  // Checks Content-Range against the session's offset (416 if it does not continue it).
  bool check_content_range(http::ServerRequest& q, http::ServerResponse& r, const std::string& name,
                           Storage::Upload& u) {
    auto cr = q.headers().get("Content-Range");
    if (!cr) return true;
    auto range = http::parse_content_range(*cr);
    int64_t off = u.writer->offset();
    if (!range || static_cast<int64_t>(range->first) != off ||
        (q.content_length() && *q.content_length() != range->size())) {
      auto h = base_headers();
      h.add("Location", fmt::format("/v2/{}/blobs/uploads/{}", name, u.uuid));
      h.add("Range", fmt::format("0-{}", off > 0 ? off - 1 : 0));
      h.add("Docker-Upload-UUID", u.uuid);
      error(r, 416, "BLOB_UPLOAD_INVALID", "chunk out of order", *cr, h);
      return false;
    }
    return true;
  }

  void start_upload(http::ServerRequest& q, http::ServerResponse& r, const Route& rt, const http::Target& t) {
    if (auto mount = t.param("mount")) {
      auto d = oci::Digest::parse(*mount);
      if (!d) return error(r, 400, "DIGEST_INVALID", "invalid digest", *mount);
      auto from = t.param("from");
      if (from && valid_repository_name(*from) && storage_->stat_blob(*from, *d)) {
        if (auto st = storage_->link_blob(rt.name, *d); !st) return error(r, 500, "UNKNOWN", st.error().message());
        return blob_created(r, rt.name, *d);
      }
      // Not mountable: fall through to a regular upload session, as the spec allows.
    }
    auto u = storage_->start_upload(rt.name);
    if (!u) return error(r, 500, "UNKNOWN", u.error().message());
    std::lock_guard lk((*u)->mu);
    if (auto digest = t.param("digest")) {
      auto d = oci::Digest::parse(*digest);
      if (!d) {
        (void)storage_->cancel_upload(**u);
        return error(r, 400, "DIGEST_INVALID", "invalid digest", *digest);
      }
      if (!append_body(q, r, **u)) return (void)storage_->cancel_upload(**u);
      return finish(r, rt.name, **u, *d);
    }
    upload_accepted(r, rt.name, **u, 0);
  }

  void finish(http::ServerResponse& r, const std::string& name, Storage::Upload& u, const oci::Digest& d) {
    auto st = storage_->finish_upload(u, d);
    if (!st) {
      if (st.error().code() == Errc::FailedPrecondition)
        return error(r, 400, "DIGEST_INVALID", "provided digest did not match uploaded content", d.str());
      return error(r, 500, "UNKNOWN", st.error().message());
    }
    blob_created(r, name, d);
  }

  void upload_status(http::ServerResponse& r, const Route& rt) {
    auto u = storage_->find_upload(rt.name, rt.rest);
    if (!u) return error(r, 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", rt.rest);
    std::lock_guard lk((*u)->mu);
    if (!(*u)->writer) return error(r, 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", rt.rest);
    upload_accepted(r, rt.name, **u, (*u)->writer->offset(), 204);
  }

  void patch_upload(http::ServerRequest& q, http::ServerResponse& r, const Route& rt) {
    auto u = storage_->find_upload(rt.name, rt.rest);
    if (!u) return error(r, 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", rt.rest);
    std::lock_guard lk((*u)->mu);
    if (!(*u)->writer) return error(r, 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", rt.rest);
    if (!check_content_range(q, r, rt.name, **u)) return;
    if (!append_body(q, r, **u)) return;
    upload_accepted(r, rt.name, **u, (*u)->writer->offset());
  }

  void put_upload(http::ServerRequest& q, http::ServerResponse& r, const Route& rt, const http::Target& t) {
    auto digest = t.param("digest");
    if (!digest) return error(r, 400, "DIGEST_INVALID", "digest parameter missing");
    auto d = oci::Digest::parse(*digest);
    if (!d) return error(r, 400, "DIGEST_INVALID", "invalid digest", *digest);
    auto u = storage_->find_upload(rt.name, rt.rest);
    if (!u) return error(r, 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", rt.rest);
    std::lock_guard lk((*u)->mu);
    if (!(*u)->writer) return error(r, 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", rt.rest);
    if (!check_content_range(q, r, rt.name, **u)) return;
    if (!append_body(q, r, **u)) return;
    finish(r, rt.name, **u, *d);
  }

  void delete_upload(http::ServerResponse& r, const Route& rt) {
    auto u = storage_->find_upload(rt.name, rt.rest);
    if (!u) return error(r, 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", rt.rest);
    std::lock_guard lk((*u)->mu);
    (void)storage_->cancel_upload(**u);
    empty(r, 204, base_headers());
  }

  // ---- referrers -----------------------------------------------------------------------------------------------
  void referrers(http::ServerResponse& r, const Route& rt, const http::Target& t) {
    auto d = oci::Digest::parse(rt.rest);
    if (!d) return error(r, 400, "DIGEST_INVALID", "invalid digest", rt.rest);
    auto list = storage_->referrers(rt.name, *d);
    if (!list) return error(r, 500, "UNKNOWN", list.error().message());
    auto filter = t.param("artifactType");
    nlohmann::json manifests = nlohmann::json::array();
    for (const auto& text : *list) {
      try {
        auto j = nlohmann::json::parse(text);
        if (filter && j.value("artifactType", "") != *filter) continue;
        manifests.push_back(j);
      } catch (...) {
        continue;
      }
    }
    auto h = base_headers();
    h.add("Content-Type", std::string(oci::media::kOciIndex));
    if (filter) h.add("OCI-Filters-Applied", "artifactType");
    nlohmann::json idx = {{"schemaVersion", 2}, {"mediaType", oci::media::kOciIndex}, {"manifests", manifests}};
    (void)r.send(200, h, idx.dump());
  }

  ServeOptions opts_;
  std::unique_ptr<Storage> storage_;
  std::optional<Htpasswd> htpasswd_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace

Result<std::unique_ptr<RegistryServer>> RegistryServer::start(const ServeOptions& opts) {
  if (opts.root.empty()) return fail(Errc::InvalidArgument, "registry: --root is required");
  auto storage = BERTH_TRY(Storage::open(opts.root));
  std::optional<Htpasswd> hp;
  if (!opts.htpasswd.empty()) hp.emplace(BERTH_TRY(Htpasswd::load(opts.htpasswd)));
  auto s = std::make_unique<Impl>(opts, std::move(storage), std::move(hp));
  BERTH_TRY(s->start());
  return std::unique_ptr<RegistryServer>(std::move(s));
}

}  // namespace berth::registry
