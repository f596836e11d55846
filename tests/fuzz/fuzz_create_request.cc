// POST /containers/create body parser: never crashes, fails only with InvalidArgument (with a message), and
// whatever it accepts serialises (inspect JSON) to documents that parse again and serialise identically;
// the accepted request's mounts normalise without error. Docker-format seccomp profiles embedded in
// SecurityOpt go through the same parser as a profile read from the body directly.
#include <stdio.h>
#include <stdlib.h>

#include <string>
#include <string_view>

#include "engine/spec/container_config.h"
#include "engine/spec/seccomp_profile.h"

namespace {

[[noreturn]] void die(const char* what, const std::string& detail) {
  fprintf(stderr, "fuzz_create_request: %s\n%s\n", what, detail.c_str());
  abort();
}

void check_error(const berth::Error& e) {
  if (e.code() != berth::Errc::InvalidArgument) die("error class is not InvalidArgument", e.message());
  if (e.message().empty()) die("empty error message", "");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace berth::engine::spec;
  auto req = parse_create_request(text);
  if (!req) {
    check_error(req.error());
  } else {
    auto c1 = to_json(req->config).dump();
    auto h1 = to_json(req->host).dump();
    auto c2 = parse_config(nlohmann::json::parse(c1));
    if (!c2) die("stored Config does not parse again", c2.error().message() + "\n" + c1);
    auto h2 = parse_host_config(nlohmann::json::parse(h1));
    if (!h2) die("stored HostConfig does not parse again", h2.error().message() + "\n" + h1);
    if (to_json(*c2).dump() != c1) die("Config round trip changed the document", c1);
    if (to_json(*h2).dump() != h1) die("HostConfig round trip changed the document", h1);
    auto v = validate_host_config(*h2);
    if (!v) die("stored HostConfig no longer validates", v.error().message() + "\n" + h1);
    auto m = mount_requests(req->config, req->host);
    if (!m) die("accepted request has invalid mounts", m.error().message());
    (void)to_json(req->net).dump();
  }
  auto prof = parse_seccomp_profile(text);
  if (!prof) {
    check_error(prof.error());
  } else {
    (void)profile_to_oci(*prof, {{"CAP_SYS_ADMIN"}, "amd64", {6, 1}});
  }
  return 0;
}
