#pragma once
// `berth registry serve`: an OCI distribution-spec 1.1 registry over Storage.
//
// Endpoints (all answer with Docker-Distribution-API-Version: registry/2.0; errors as
// {"errors":[{"code","message","detail"}]} with the spec's codes):
//   GET/HEAD /v2/                                   200 {}
//   GET      /v2/_catalog?n=&last=                  repositories, Link rel="next" pagination
//   GET      /v2/<name>/tags/list?n=&last=          tags, Link rel="next" pagination
//   GET/HEAD /v2/<name>/manifests/<ref>             Content-Type = stored media type, Docker-Content-Digest
//   PUT      /v2/<name>/manifests/<ref>             validates (parse, referenced blobs/manifests present, digest
//                                                   matches a digest ref), 201 + Location; OCI-Subject on subject
//   DELETE   /v2/<name>/manifests/<ref>             202
//   GET/HEAD /v2/<name>/blobs/<digest>              Range -> 206 / 416; sendfile on plain TCP
//   DELETE   /v2/<name>/blobs/<digest>              202 (unlinks from the repository)
//   POST     /v2/<name>/blobs/uploads/              ?digest= monolithic (201), ?mount=&from= (201, else a
//                                                   session), otherwise 202 + Location of a session
//   GET      /v2/<name>/blobs/uploads/<uuid>        204 + Range of bytes received
//   PATCH    /v2/<name>/blobs/uploads/<uuid>        append (Content-Range must start at the offset, else 416)
//   PUT      /v2/<name>/blobs/uploads/<uuid>?digest= final bytes, verify (400 DIGEST_INVALID), 201
//   DELETE   /v2/<name>/blobs/uploads/<uuid>        204
//   GET      /v2/<name>/referrers/<digest>?artifactType=   OCI index of referrers (OCI-Filters-Applied)
// Auth: with an htpasswd file every request needs valid Basic credentials (401 + WWW-Authenticate: Basic).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "base/error.h"
#include "net/http/http.h"
#include "registry/storage.h"

namespace berth::registry {

struct ServeOptions {
  std::string addr = "127.0.0.1:5000";
  std::string root;
  std::string tls_cert;
  std::string tls_key;
  std::string htpasswd;  // path; empty = no auth
  // Called after every request (access log, tests). Runs on connection threads.
  std::function<void(const std::string& method, const std::string& target, const net::http::Headers& request_headers,
                     int status)>
      observer;
};

class RegistryServer {
 public:
  virtual ~RegistryServer() = default;
  static Result<std::unique_ptr<RegistryServer>> start(const ServeOptions& opts);
  virtual uint16_t port() const = 0;
  virtual void stop() = 0;
  virtual void wait() = 0;
  virtual Storage& storage() = 0;
};

}  // namespace berth::registry
