#pragma once
// The Docker Engine API (advertising 1.41) over net/http, in front of an engine::Engine. This is the only
// place that maps HTTP to the engine: routes, API-version prefixes, JSON shapes and Errc -> HTTP status.
//
// Every reply carries Api-Version, Docker-Experimental, Ostype and Server headers (the docker CLI falls back
// to API 1.24 without Api-Version); errors are {"message": "..."} with the status docker uses.

#include <string>
#include <string_view>

#include "base/error.h"
#include "engine/engine.h"
#include "net/http/server.h"

namespace berth::api {

// "/v1.41/images/json" -> {"1.41", "/images/json"}; "/images/json" -> {"", "/images/json"}.
// InvalidArgument for a version above kApiVersion or below kMinApiVersion (docker's messages).
struct ApiPath {
  std::string version;
  std::string path;
};
Result<ApiPath> split_version(std::string_view path);

// The one Errc -> HTTP status mapping of the API.
int http_status(Errc c);

// Serves one request (thread-safe as long as the engine is).
class ApiHandler {
 public:
  explicit ApiHandler(engine::Engine& e) : engine_(e) {}
  void operator()(net::http::ServerRequest& req, net::http::ServerResponse& resp);

 private:
  engine::Engine& engine_;
};

}  // namespace berth::api
