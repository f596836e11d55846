#include "image/registry/client.h"

#include <atomic>
#include <mutex>
#include <set>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/log.h"
#include "net/http/client.h"

namespace berth::image::registry {

namespace http = berth::net::http;

std::string_view progress_state_name(ProgressState s) {
  switch (s) {
    case ProgressState::Waiting: return "Waiting";
    case ProgressState::Downloading: return "Downloading";
    case ProgressState::Verifying: return "Verifying Checksum";
    case ProgressState::DownloadComplete: return "Download complete";
    case ProgressState::AlreadyExists: return "Already exists";
    case ProgressState::Pushing: return "Pushing";
    case ProgressState::Pushed: return "Pushed";
    case ProgressState::Mounted: return "Mounted";
  }
  return "?";
}

namespace {

constexpr size_t kMaxManifestBytes = 4 << 20;
constexpr int kDownloadAttempts = 3;

const std::string kManifestAccept = fmt::format("{}, {}, {}, {}", oci::media::kOciIndex, oci::media::kOciManifest,
                                                oci::media::kDockerManifestList, oci::media::kDockerManifest);

std::string short_id(const Digest& d) { return std::string(d.hex().substr(0, 12)); }

// Maps a registry's error response to an Error with the spec's code and message.
Error response_error(const http::ClientResponse& r, std::string_view what) {
  std::string detail;
  try {
    auto j = nlohmann::json::parse(r.body);
    for (const auto& e : j.at("errors")) {
      if (!detail.empty()) detail += "; ";
      detail += e.value("code", "") + ": " + e.value("message", "");
    }
  } catch (...) {
    detail = r.body.substr(0, 200);
  }
  Errc code = Errc::Internal;
  switch (r.status) {
    case 400: code = Errc::InvalidArgument; break;
    case 401: case 403: code = Errc::PermissionDenied; break;
    case 404: code = Errc::NotFound; break;
    case 405: code = Errc::Unimplemented; break;
    case 409: code = Errc::Conflict; break;
    case 416: code = Errc::FailedPrecondition; break;
    case 429: case 502: case 503: case 504: code = Errc::Unavailable; break;
    default: break;
  }
  return Error(code, fmt::format("{}: HTTP {}{}{}", what, r.status, detail.empty() ? "" : ": ", detail));
}

std::string with_query(const std::string& target, std::string_view kv) {
  return target + (target.find('?') == std::string::npos ? "?" : "&") + std::string(kv);
}

// Runs fn(i) for i in [0, n) on up to `parallel` threads; returns the first error.
Status run_bounded(size_t n, int parallel, const std::function<Status(size_t)>& fn, std::atomic<bool>& cancel) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::optional<Error> first;
  auto worker = [&] {
    for (;;) {
      size_t i = next++;
      if (i >= n || cancel) return;
      auto st = fn(i);
      if (!st) {
        std::lock_guard lk(mu);
        if (!first) first = std::move(st).error();
        cancel = true;
        return;
      }
    }
  };
  size_t threads = std::min<size_t>(n, static_cast<size_t>(std::max(1, parallel)));
  std::vector<std::thread> ts;
  for (size_t t = 1; t < threads; ++t) ts.emplace_back(worker);
  worker();
  for (auto& t : ts) t.join();
  if (first) return fail(std::move(*first));
  return ok();
}

}  // namespace

struct RegistryClient::Impl {
  ClientOptions opts;
  std::unique_ptr<http::Client> http;         // verifying
  std::unique_ptr<http::Client> http_noverify;  // for insecure registries
  std::mutex mu;
  std::mutex progress_mu;
  std::mutex token_fetch_mu;  // serialises token fetches (held without mu)

  struct Endpoint {
    std::string base;  // scheme://host[:port]
    bool insecure = false;
    std::optional<Challenge> challenge;  // from the ping; empty = no auth required
    std::map<std::string, std::string> tokens;  // scope -> bearer token
  };
  std::map<std::string, Endpoint> endpoints;  // by registry

  explicit Impl(ClientOptions o) : opts(std::move(o)) {
    http = http::Client::make({.tls_verify = true, .ca_file = opts.ca_file,
                               .connect_timeout_ms = opts.connect_timeout_ms, .io_timeout_ms = opts.io_timeout_ms});
    http_noverify = http::Client::make({.tls_verify = false, .connect_timeout_ms = opts.connect_timeout_ms,
                                        .io_timeout_ms = opts.io_timeout_ms});
  }

  bool is_insecure(const std::string& registry) const {
    for (const auto& r : opts.insecure_registries)
      if (normalize_registry_key(r) == registry) return true;
    return false;
  }

  http::Client& client_for(const Endpoint& e) { return e.insecure ? *http_noverify : *http; }

  void emit(const ProgressFn& fn, const Digest& d, ProgressState st, int64_t current, int64_t total,
            std::string detail = {}) {
    if (!fn) return;
    ProgressEvent ev{short_id(d), st, current, total, d, std::move(detail)};
    std::lock_guard lk(progress_mu);
    fn(ev);
  }

  std::optional<Credentials> creds(const std::string& registry) {
    auto it = opts.credentials.find(normalize_registry_key(registry));
    if (it == opts.credentials.end()) return std::nullopt;
    return it->second;
  }

  Result<Endpoint> ensure_endpoint(const std::string& registry) {
    {
      std::lock_guard lk(mu);
      if (auto it = endpoints.find(registry); it != endpoints.end()) return it->second;
    }
    if (registry == kDockerHub)
      return fail(Errc::FailedPrecondition,
                  "{} (Docker Hub) is not reachable from this machine; name a registry explicitly "
                  "(host[:port]/repository[:tag])", registry);
    bool loopback = is_loopback_registry(registry);
    bool insecure = is_insecure(registry);
    std::vector<std::string> schemes = {"https"};
    if (loopback || insecure) schemes.push_back("http");
    std::optional<Error> last;
    for (const auto& scheme : schemes) {
      Endpoint e;
      e.base = scheme + "://" + registry;
      e.insecure = insecure || (loopback && scheme == "https");
      http::ClientRequest req;
      req.method = "GET";
      auto url = http::parse_url(e.base + "/v2/");
      if (!url) return fail(std::move(url).error());
      req.url = *url;
      auto r = client_for(e).send(req);
      if (!r) {
        last = std::move(r).error();
        continue;
      }
      if (r->status == 401) {
        auto chs = parse_challenges(r->headers.get("WWW-Authenticate").value_or(""));
        if (!chs || chs->empty())
          return fail(Errc::PermissionDenied, "{}: 401 without a usable WWW-Authenticate challenge", registry);
        e.challenge = chs->front();
        for (const auto& c : *chs)
          if (c.scheme == "bearer") e.challenge = c;
      } else if (r->status != 200) {
        last = response_error(*r, fmt::format("ping {}", e.base));
        continue;
      }
      std::lock_guard lk(mu);
      // A concurrent ping may have won; keep its entry (and the tokens cached on it since).
      return endpoints.emplace(registry, e).first->second;
    }
    return fail(last ? std::move(*last).wrap(fmt::format("registry {}", registry))
                     : Error(Errc::Unavailable, fmt::format("registry {} unreachable", registry)));
  }

  Result<std::string> fetch_token(const std::string& registry, Endpoint& e, const std::vector<std::string>& scopes) {
    const Challenge& ch = *e.challenge;
    std::string realm = ch.param("realm");
    if (realm.empty()) return fail(Errc::PermissionDenied, "{}: bearer challenge without realm", registry);
    std::string target;
    if (auto s = ch.param("service"); !s.empty()) target += "service=" + http::percent_encode(s);
    for (const auto& sc : scopes) target += (target.empty() ? "" : "&") + ("scope=" + http::percent_encode(sc));
    auto url = BERTH_TRY(http::parse_url(realm));
    url.target = target.empty() ? url.target : with_query(url.target, target);
    http::ClientRequest req;
    req.url = url;
    if (auto c = creds(registry); c && !c->username.empty())
      req.headers.add("Authorization", "Basic " + base64_encode(c->username + ":" + c->password));
    auto r = BERTH_TRY(client_for(e).send(req));
    if (r.status != 200) return fail(response_error(r, fmt::format("token from {}", realm)));
    try {
      auto j = nlohmann::json::parse(r.body);
      std::string tok = j.value("token", "");
      if (tok.empty()) tok = j.value("access_token", "");
      if (tok.empty()) return fail(Errc::PermissionDenied, "token from {}: no token in response", realm);
      return tok;
    } catch (const std::exception& ex) {
      return fail(Errc::PermissionDenied, "token from {}: {}", realm, ex.what());
    }
  }

  // Sends a request to registry with auth. scopes are "repository:<name>:<actions>".
  Result<http::ClientResponse> send(const std::string& registry, const std::vector<std::string>& scopes,
                                    http::ClientRequest req, const http::BodySink& sink = {}) {
    auto e = BERTH_TRY(ensure_endpoint(registry));
    std::string scope_key;
    for (const auto& s : scopes) scope_key += s + " ";
    for (int attempt = 0; attempt < 2; ++attempt) {
      req.headers.remove("Authorization");
      if (e.challenge && e.challenge->scheme == "bearer") {
        std::string tok;
        {
          std::lock_guard lk(mu);
          auto& ep = endpoints[registry];
          if (auto it = ep.tokens.find(scope_key); it != ep.tokens.end() && attempt == 0) tok = it->second;
        }
        if (tok.empty()) {
          // One fetch per scope even when parallel uploads all miss the cache at once.
          std::lock_guard fl(token_fetch_mu);
          {
            std::lock_guard lk(mu);
            auto& ep = endpoints[registry];
            if (auto it = ep.tokens.find(scope_key); it != ep.tokens.end()) tok = it->second;
          }
          if (tok.empty()) {
            tok = BERTH_TRY(fetch_token(registry, e, scopes));
            std::lock_guard lk(mu);
            endpoints[registry].tokens[scope_key] = tok;
          }
        }
        req.headers.add("Authorization", "Bearer " + tok);
      } else if (e.challenge && e.challenge->scheme == "basic") {
        auto c = creds(registry);
        if (!c) return fail(Errc::PermissionDenied, "{} requires credentials (berth login {})", registry, registry);
        req.headers.add("Authorization", "Basic " + base64_encode(c->username + ":" + c->password));
      }
      auto r = BERTH_TRY(client_for(e).send(req, sink));
      if (r.status == 401 && attempt == 0 && !req.body_reader) {
        // Token expired or the scope grew; refresh the challenge and try again once.
        auto chs = parse_challenges(r.headers.get("WWW-Authenticate").value_or(""));
        if (chs && !chs->empty()) {
          e.challenge = chs->front();
          std::lock_guard lk(mu);
          endpoints[registry].challenge = e.challenge;
          endpoints[registry].tokens.erase(scope_key);
          continue;
        }
      }
      if (r.status == 401) {
        return fail(response_error(r, fmt::format("{} {}", req.method, req.url.target))
                        .wrap(creds(registry) ? "credentials rejected" : "authentication required"));
      }
      return r;
    }
    return fail(Errc::PermissionDenied, "{}: authentication failed", registry);
  }

  Result<http::Url> url(const std::string& registry, const std::string& target) {
    auto e = BERTH_TRY(ensure_endpoint(registry));
    return http::parse_url(e.base + target);
  }

  Result<FetchedManifest> get_manifest(const Reference& ref, const std::string& reference) {
    http::ClientRequest req;
    req.url = BERTH_TRY(url(ref.registry, fmt::format("/v2/{}/manifests/{}", ref.repository, reference)));
    req.headers.add("Accept", kManifestAccept);
    auto r = BERTH_TRY(send(ref.registry, {"repository:" + ref.repository + ":pull"}, req));
    if (r.status != 200) return fail(response_error(r, fmt::format("manifest {}@{}", ref.name(), reference)));
    if (r.body.size() > kMaxManifestBytes) return fail(Errc::InvalidArgument, "manifest larger than 4 MiB");
    FetchedManifest m;
    m.body = std::move(r.body);
    m.media_type = r.headers.get("Content-Type").value_or("");
    if (auto semi = m.media_type.find(';'); semi != std::string::npos) m.media_type.resize(semi);
    if (m.media_type == oci::media::kDockerSchema1 || m.media_type == oci::media::kDockerSchema1Signed)
      return fail(Errc::Unimplemented, "{}: Docker image manifest schema 1 is not supported", ref.str());
    m.digest = Digest::sha256_of(m.body);
    if (auto want = oci::Digest::parse(reference); want) {
      if (want->algorithm() != oci::DigestAlgorithm::Sha256)
        return fail(Errc::Unimplemented, "manifest digest {}: only sha256 is verified", *want);
      if (*want != m.digest)
        return fail(Errc::FailedPrecondition, "manifest {}: content digest is {}", *want, m.digest);
    } else if (auto hd = r.headers.get("Docker-Content-Digest")) {
      auto d = oci::Digest::parse(*hd);
      if (d && d->algorithm() == oci::DigestAlgorithm::Sha256 && *d != m.digest)
        return fail(Errc::FailedPrecondition, "manifest {}: registry says {}, content is {}", reference, *d, m.digest);
    }
    // Parse early to refuse schema 1 sent with a generic content type.
    auto parsed = oci::parse_manifest_or_index(m.body, m.media_type);
    if (!parsed) return fail(std::move(parsed).error().wrap(fmt::format("manifest {}", ref.str())));
    if (m.media_type.empty() || m.media_type == "application/json") {
      if (auto* mi = std::get_if<oci::Manifest>(&*parsed)) m.media_type = mi->media_type.empty() ? std::string(oci::media::kOciManifest) : mi->media_type;
      if (auto* ix = std::get_if<oci::Index>(&*parsed)) m.media_type = ix->media_type.empty() ? std::string(oci::media::kOciIndex) : ix->media_type;
    }
    return m;
  }

  // Downloads one blob into the store, resuming a previous partial ingest with Range.
  Result<int64_t> download_blob(const Reference& ref, content::Store& store, const oci::Descriptor& d,
                                const ProgressFn& progress, std::atomic<bool>& cancel, const DataFn& on_data = {}) {
    int64_t fetched = 0;
    std::optional<Error> last;
    for (int attempt = 0; attempt < kDownloadAttempts; ++attempt) {
      if (cancel) return fail(Errc::Canceled, "canceled");
      auto w = BERTH_TRY(store.writer({.ref = "pull-" + d.digest.str()}));
      int64_t off = w->offset();
      if (off > d.size) {
        BERTH_TRY(w->truncate());
        off = 0;
      }
      if (off < d.size) {
        http::ClientRequest req;
        req.url = BERTH_TRY(url(ref.registry, fmt::format("/v2/{}/blobs/{}", ref.repository, d.digest.str())));
        if (off > 0) req.headers.add("Range", fmt::format("bytes={}-", off));
        int64_t last_report = 0;
        auto sink = [&](std::string_view chunk) -> Status {
          if (cancel) return fail(Errc::Canceled, "canceled");
          if (on_data) on_data(d.digest, w->offset(), chunk);
          BERTH_TRY(w->write(chunk));
          fetched += static_cast<int64_t>(chunk.size());
          if (w->offset() - last_report >= (512 << 10) || w->offset() == d.size) {
            last_report = w->offset();
            emit(progress, d.digest, ProgressState::Downloading, w->offset(), d.size);
          }
          return ok();
        };
        // Decide from the status line, before any body byte lands, whether the bytes continue the ingest.
        req.on_headers = [&](int status, const http::Headers& h) -> Status {
          if (status == 200 && w->offset() > 0) return w->truncate();  // Range ignored: start over
          if (status == 206) {
            auto cr = http::parse_response_content_range(h.get("Content-Range").value_or(""));
            if (!cr || static_cast<int64_t>(cr->first.first) != w->offset())
              return fail(Errc::Unavailable, "registry answered Range with another range");
          }
          return ok();
        };
        auto r = send(ref.registry, {"repository:" + ref.repository + ":pull"}, req, sink);
        if (!r) {
          last = std::move(r).error();
          if (last->code() == Errc::Unavailable) continue;  // connection dropped: resume from the ingest
          return fail(std::move(*last));
        }
        if (r->status == 416) {
          BERTH_TRY(w->truncate());
          last = Error(Errc::Unavailable, "registry refused Range");
          continue;
        }
        if (r->status != 200 && r->status != 206) return fail(response_error(*r, fmt::format("blob {}", d.digest)));
      }
      emit(progress, d.digest, ProgressState::Verifying, w->offset(), d.size);
      auto c = w->commit(d.size, d.digest);
      if (!c && c.error().code() != Errc::AlreadyExists) {
        (void)w->abort();
        return fail(std::move(c).error().wrap(fmt::format("blob {}", d.digest)));
      }
      emit(progress, d.digest, ProgressState::DownloadComplete, d.size, d.size);
      return fetched;
    }
    return fail(last ? std::move(*last).wrap(fmt::format("blob {}", d.digest))
                     : Error(Errc::Unavailable, fmt::format("blob {}: download failed", d.digest)));
  }

  // --- push -------------------------------------------------------------------------------------------------

  Result<http::Url> resolve_location(const std::string& registry, const http::ClientResponse& r) {
    auto loc = r.headers.get("Location");
    if (!loc) return fail(Errc::Internal, "upload response without Location");
    auto base = BERTH_TRY(url(registry, "/"));
    return http::resolve_url(base, *loc);
  }

  // GET on an upload session: the offset the registry holds (from "Range: 0-<last>") and the URL to continue at.
  Result<std::pair<int64_t, http::Url>> upload_offset(const std::string& registry, const std::string& scope,
                                                      const http::Url& upload) {
    http::ClientRequest req;
    req.url = upload;
    auto r = BERTH_TRY(send(registry, {scope}, req));
    if (r.status != 204 && r.status != 200) return fail(response_error(r, "upload status"));
    int64_t next = 0;
    if (auto range = r.headers.get("Range")) {
      auto dash = range->find('-');
      if (dash != std::string::npos) {
        int64_t last = std::strtoll(range->c_str() + dash + 1, nullptr, 10);
        next = last > 0 ? last + 1 : 0;  // "0-0" is also what an empty session reports
      }
    }
    http::Url at = upload;
    if (r.headers.get("Location")) at = BERTH_TRY(resolve_location(registry, r));
    return std::make_pair(next, at);
  }

  // Uploads one blob; returns the state reached (Pushed, AlreadyExists, Mounted).
  Result<ProgressState> push_blob(const Reference& ref, content::Store& store, const oci::Descriptor& d,
                                  const PushOptions& po) {
    std::string pushpull = "repository:" + ref.repository + ":pull,push";
    http::ClientRequest head;
    head.method = "HEAD";
    head.url = BERTH_TRY(url(ref.registry, fmt::format("/v2/{}/blobs/{}", ref.repository, d.digest.str())));
    auto hr = BERTH_TRY(send(ref.registry, {pushpull}, head));
    if (hr.status == 200) {
      emit(po.progress, d.digest, ProgressState::AlreadyExists, d.size, d.size);
      return ProgressState::AlreadyExists;
    }
    if (hr.status != 404) return fail(response_error(hr, fmt::format("HEAD blob {}", d.digest)));

    std::optional<http::Url> upload;
    for (const auto& from : po.mount_from) {
      if (from == ref.repository) continue;
      http::ClientRequest mreq;
      mreq.method = "POST";
      mreq.url = BERTH_TRY(url(ref.registry, fmt::format("/v2/{}/blobs/uploads/?mount={}&from={}", ref.repository,
                                                        http::percent_encode(d.digest.str()),
                                                        http::percent_encode(from))));
      auto mr = BERTH_TRY(send(ref.registry, {pushpull, "repository:" + from + ":pull"}, mreq));
      if (mr.status == 201) {
        emit(po.progress, d.digest, ProgressState::Mounted, d.size, d.size, from);
        return ProgressState::Mounted;
      }
      if (mr.status == 202) {
        upload = BERTH_TRY(resolve_location(ref.registry, mr));
        break;
      }
    }
    if (!upload) {
      http::ClientRequest post;
      post.method = "POST";
      post.url = BERTH_TRY(url(ref.registry, fmt::format("/v2/{}/blobs/uploads/", ref.repository)));
      auto pr = BERTH_TRY(send(ref.registry, {pushpull}, post));
      if (pr.status != 202) return fail(response_error(pr, fmt::format("start upload of {}", d.digest)));
      upload = BERTH_TRY(resolve_location(ref.registry, pr));
    }

    auto reader = BERTH_TRY(store.reader(d.digest));
    int64_t total = reader->size();
    emit(po.progress, d.digest, ProgressState::Pushing, 0, total);
    int64_t last_report = 0;
    auto body_from = [&](int64_t start, int64_t len) {
      auto pos = std::make_shared<int64_t>(start);
      int64_t end = start + len;
      return [&, pos, end](char* buf, size_t n) -> Result<size_t> {
        if (*pos >= end) return size_t{0};
        size_t want = static_cast<size_t>(std::min<int64_t>(static_cast<int64_t>(n), end - *pos));
        size_t got = BERTH_TRY(reader->read_at(buf, want, *pos));
        if (got == 0) return fail(Errc::Internal, "blob {} shrank while pushing", d.digest);
        *pos += static_cast<int64_t>(got);
        if (*pos - last_report >= (512 << 10) || *pos == total) {
          last_report = *pos;
          emit(po.progress, d.digest, ProgressState::Pushing, *pos, total);
        }
        return got;
      };
    };
    int64_t chunk = po.chunk_size > 0 ? po.chunk_size : total;
    int64_t off = 0;
    if (po.chunk_size > 0) {
      int failures = 0;
      while (off < total) {
        int64_t len = std::min(chunk, total - off);
        http::ClientRequest patch;
        patch.method = "PATCH";
        patch.url = *upload;
        patch.headers.add("Content-Type", "application/octet-stream");
        patch.headers.add("Content-Range", fmt::format("{}-{}", off, off + len - 1));
        patch.body_length = static_cast<uint64_t>(len);
        patch.body_reader = body_from(off, len);
        auto r = send(ref.registry, {pushpull}, patch);
        if (r && r->status == 202) {
          upload = BERTH_TRY(resolve_location(ref.registry, *r));
          off += len;
          continue;
        }
        Error err = r ? response_error(*r, fmt::format("upload chunk of {}", d.digest)) : std::move(r).error();
        bool again = r ? (r->status == 416 || r->status >= 500) : err.code() == Errc::Unavailable;
        if (!again || ++failures >= opts.upload_attempts) return fail(std::move(err));
        // The connection dropped (or the registry lost track): ask where the session stands, continue there.
        auto at = upload_offset(ref.registry, pushpull, *upload);
        if (!at) return fail(std::move(err).wrap(at.error().message()));
        log::info("push {}: chunk at {} failed ({}); resuming at the registry's offset {}", d.digest, off,
                  err.message(), at->first);
        off = at->first;
        upload = at->second;
      }
    }
    http::ClientRequest put;
    put.method = "PUT";
    put.url = *upload;
    put.url.target = with_query(put.url.target, "digest=" + http::percent_encode(d.digest.str()));
    put.headers.add("Content-Type", "application/octet-stream");
    if (off < total) {
      put.body_length = static_cast<uint64_t>(total - off);
      put.body_reader = body_from(off, total - off);
    }
    auto r = BERTH_TRY(send(ref.registry, {pushpull}, put));
    if (r.status != 201) return fail(response_error(r, fmt::format("finish upload of {}", d.digest)));
    emit(po.progress, d.digest, ProgressState::Pushed, total, total);
    return ProgressState::Pushed;
  }

  Status put_manifest(const Reference& ref, const std::string& reference, const std::string& body,
                      const std::string& media_type, const Digest& digest) {
    http::ClientRequest req;
    req.method = "PUT";
    req.url = BERTH_TRY(url(ref.registry, fmt::format("/v2/{}/manifests/{}", ref.repository, reference)));
    req.headers.add("Content-Type", media_type);
    req.body = body;
    auto r = BERTH_TRY(send(ref.registry, {"repository:" + ref.repository + ":pull,push"}, req));
    if (r.status != 201) return fail(response_error(r, fmt::format("PUT manifest {}", reference)));
    if (auto hd = r.headers.get("Docker-Content-Digest"); hd && *hd != digest.str())
      return fail(Errc::Internal, "registry stored manifest as {}, expected {}", *hd, digest);
    return ok();
  }

  Status push_image(const Reference& ref, content::Store& store, const oci::Manifest& m, const PushOptions& po,
                    PushResult& res) {
    std::vector<oci::Descriptor> blobs = m.layers;
    blobs.push_back(m.config);
    PushOptions cpo = po;
    if (po.progress)
      cpo.progress = [&, cfg = m.config.digest](const ProgressEvent& e) {
        ProgressEvent c = e;
        c.config = e.digest == cfg;
        po.progress(c);
      };
    std::mutex rmu;
    std::atomic<bool> cancel{false};
    return run_bounded(blobs.size(), opts.max_concurrent_uploads, [&](size_t i) -> Status {
      auto st = BERTH_TRY(push_blob(ref, store, blobs[i], cpo));
      std::lock_guard lk(rmu);
      if (st == ProgressState::Pushed) ++res.blobs_uploaded;
      if (st == ProgressState::AlreadyExists) ++res.blobs_existing;
      if (st == ProgressState::Mounted) ++res.blobs_mounted;
      return ok();
    }, cancel);
  }
};

RegistryClient::RegistryClient(ClientOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}
RegistryClient::~RegistryClient() = default;

Status RegistryClient::ping(const std::string& registry) {
  BERTH_TRY(impl_->ensure_endpoint(registry));
  return ok();
}

Status RegistryClient::login(const std::string& registry) {
  auto& im = *impl_;
  auto e = BERTH_TRY(im.ensure_endpoint(registry));
  if (!e.challenge) return ok();  // the registry asks for no credentials
  auto c = im.creds(registry);
  if (!c || c->username.empty()) return fail(Errc::PermissionDenied, "{}: no credentials given", registry);
  if (e.challenge->scheme == "bearer") {
    BERTH_TRY(im.fetch_token(registry, e, {}));
    return ok();
  }
  http::ClientRequest req;
  req.url = BERTH_TRY(http::parse_url(e.base + "/v2/"));
  req.headers.add("Authorization", "Basic " + base64_encode(c->username + ":" + c->password));
  auto r = BERTH_TRY(im.client_for(e).send(req));
  if (r.status != 200) return fail(response_error(r, fmt::format("login to {}", registry)));
  return ok();
}

Result<RegistryClient::FetchedManifest> RegistryClient::get_manifest(const Reference& ref) {
  return impl_->get_manifest(ref, ref.reference());
}

Result<std::vector<std::string>> RegistryClient::list_tags(const Reference& ref) {
  std::vector<std::string> out;
  std::string target = fmt::format("/v2/{}/tags/list", ref.repository);
  for (int page = 0; page < 10000; ++page) {
    http::ClientRequest req;
    req.url = BERTH_TRY(impl_->url(ref.registry, target));
    auto r = BERTH_TRY(impl_->send(ref.registry, {"repository:" + ref.repository + ":pull"}, req));
    if (r.status != 200) return fail(response_error(r, fmt::format("tags of {}", ref.name())));
    try {
      auto j = nlohmann::json::parse(r.body);
      if (j.contains("tags") && j["tags"].is_array())
        for (const auto& t : j["tags"]) out.push_back(t.get<std::string>());
    } catch (const std::exception& e) {
      return fail(Errc::InvalidArgument, "tags of {}: {}", ref.name(), e.what());
    }
    auto link = r.headers.get("Link");
    if (!link) break;
    auto lt = link->find('<'), gt = link->find('>');
    if (lt == std::string::npos || gt == std::string::npos || gt < lt) break;
    target = link->substr(lt + 1, gt - lt - 1);
  }
  return out;
}

Result<PullResult> RegistryClient::pull(const Reference& ref, content::Store& store, const PullOptions& po) {
  auto& im = *impl_;
  PullResult res;
  auto top = BERTH_TRY(im.get_manifest(ref, ref.reference()));
  res.resolved_digest = top.digest;
  res.resolved_media_type = top.media_type;
  auto parsed = BERTH_TRY(oci::parse_manifest_or_index(top.body, top.media_type));
  FetchedManifest image = top;
  if (auto* idx = std::get_if<oci::Index>(&parsed)) {
    auto desc = BERTH_TRY_CTX(oci::select_platform(*idx, po.platform), "{}", ref.str());
    image = BERTH_TRY(im.get_manifest(ref, desc.digest.str()));
    BERTH_TRY(content::write_blob(store, top.body));
    parsed = BERTH_TRY(oci::parse_manifest_or_index(image.body, image.media_type));
    if (!std::holds_alternative<oci::Manifest>(parsed))
      return fail(Errc::InvalidArgument, "{}: index entry {} is not an image manifest", ref.str(), desc.digest);
  }
  res.manifest = std::get<oci::Manifest>(parsed);
  res.manifest_digest = image.digest;
  res.manifest_media_type = image.media_type;

  ProgressFn progress;
  if (po.progress)
    progress = [&, cfg = res.manifest.config.digest](const ProgressEvent& e) {
      ProgressEvent c = e;
      c.config = e.digest == cfg;
      po.progress(c);
    };
  std::vector<oci::Descriptor> want;
  if (po.on_config) {
    // The config first (one small blob), so the caller can plan work on the layers as they arrive.
    const auto& c = res.manifest.config;
    if (auto info = store.info(c.digest); info && info->size == c.size) {
      ++res.blobs_present;
      im.emit(progress, c.digest, ProgressState::AlreadyExists, c.size, c.size);
    } else {
      std::atomic<bool> cancel{false};
      res.bytes_downloaded += BERTH_TRY_CTX(im.download_blob(ref, store, c, progress, cancel), "pull {}", ref.str());
      ++res.blobs_downloaded;
    }
    BERTH_TRY(po.on_config(res.manifest));
  } else {
    want.push_back(res.manifest.config);
  }
  for (const auto& l : res.manifest.layers) want.push_back(l);
  std::vector<oci::Descriptor> missing;
  std::set<std::string> seen;
  for (const auto& d : want) {
    if (!seen.insert(d.digest.str()).second) continue;  // a layer listed twice is fetched once
    if (auto info = store.info(d.digest); info && info->size == d.size) {
      ++res.blobs_present;
      im.emit(progress, d.digest, ProgressState::AlreadyExists, d.size, d.size);
      continue;
    }
    missing.push_back(d);
  }
  for (const auto& d : missing) im.emit(progress, d.digest, ProgressState::Waiting, 0, d.size);
  std::atomic<bool> cancel{false};
  std::mutex rmu;
  auto fetch_one = [&](size_t i) -> Status {
    auto n = BERTH_TRY(im.download_blob(ref, store, missing[i], progress, cancel, po.on_data));
    std::lock_guard lk(rmu);
    ++res.blobs_downloaded;
    res.bytes_downloaded += n;
    return ok();
  };
  auto fetched = run_bounded(missing.size(), im.opts.max_concurrent_downloads, fetch_one, cancel);
  BERTH_TRY_CTX(std::move(fetched), "pull {}", ref.str());
  // The manifest goes in last: its presence means every blob it names is present.
  BERTH_TRY(content::write_blob(store, image.body));
  return res;
}

Result<PushResult> RegistryClient::push(const Reference& ref, content::Store& store, const Digest& manifest,
                                        const PushOptions& po) {
  auto& im = *impl_;
  PushResult res;
  res.digest = manifest;
  auto body = BERTH_TRY(content::read_blob(store, manifest, kMaxManifestBytes));
  auto parsed = BERTH_TRY(oci::parse_manifest_or_index(body));
  auto media_of = [](const oci::ManifestOrIndex& p) {
    if (auto* m = std::get_if<oci::Manifest>(&p))
      return m->media_type.empty() ? std::string(oci::media::kOciManifest) : m->media_type;
    const auto& i = std::get<oci::Index>(p);
    return i.media_type.empty() ? std::string(oci::media::kOciIndex) : i.media_type;
  };
  if (auto* idx = std::get_if<oci::Index>(&parsed)) {
    for (const auto& child : idx->manifests) {
      auto cbody = BERTH_TRY_CTX(content::read_blob(store, child.digest, kMaxManifestBytes), "index entry {}", child.digest);
      auto cparsed = BERTH_TRY(oci::parse_manifest_or_index(cbody, child.media_type));
      auto* cm = std::get_if<oci::Manifest>(&cparsed);
      if (!cm) return fail(Errc::Unimplemented, "push: nested index {} is not supported", child.digest);
      BERTH_TRY(im.push_image(ref, store, *cm, po, res));
      BERTH_TRY(im.put_manifest(ref, child.digest.str(), cbody, media_of(cparsed), child.digest));
    }
  } else {
    BERTH_TRY(im.push_image(ref, store, std::get<oci::Manifest>(parsed), po, res));
  }
  BERTH_TRY(im.put_manifest(ref, ref.tag.empty() ? manifest.str() : ref.tag, body, media_of(parsed), manifest));
  return res;
}

}  // namespace berth::image::registry
