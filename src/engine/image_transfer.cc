#include "engine/image_transfer.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/file.h"
#include "image/registry/auth.h"
#include "image/registry/reference.h"

namespace berth::engine {

std::vector<JsonMessage> to_json_messages(const image::ProgressEvent& ev) {
  std::vector<JsonMessage> out;
  JsonMessage m;
  m.status = ev.status.empty() ? std::string(image::progress_status(ev.state)) : ev.status;
  m.id = ev.id;
  if (ev.state == image::ProgressState::PushResult) {
    out.push_back(m);
    JsonMessage aux;
    aux.empty_detail = true;
    if (ev.aux)
      aux.aux_json = nlohmann::json{{"Tag", ev.aux->tag}, {"Digest", ev.aux->digest}, {"Size", ev.aux->size}}.dump();
    out.push_back(aux);
    return out;
  }
  if (ev.has_progress) {
    m.current = ev.current;
    m.total = ev.total;
    m.progress = image::progress_bar(ev.current, ev.total);
  } else if (ev.layer_line()) {
    m.empty_detail = true;
  }
  out.push_back(m);
  return out;
}

Result<std::string> pull_reference(const std::string& from_image, const std::string& tag) {
  if (tag.empty()) return from_image;
  // Does from_image already carry a tag or digest? (a ':' after the last '/')
  auto slash = from_image.rfind('/');
  bool has_digest = from_image.find('@') != std::string::npos;
  bool has_tag = from_image.find(':', slash == std::string::npos ? 0 : slash) != std::string::npos;
  if (has_digest || has_tag) {
    auto want = tag.starts_with("sha256:") ? "@" + tag : ":" + tag;
    if (from_image.ends_with(want)) return from_image;
    return fail(Errc::InvalidArgument, "invalid reference: {} with tag {}", from_image, tag);
  }
  return from_image + (tag.starts_with("sha256:") ? "@" : ":") + tag;
}

image::RegistryAccess registry_access(const RegistryAuth& auth, const std::string& ref,
                                      const std::vector<std::string>& insecure) {
  image::RegistryAccess a;
  a.docker_config = image::default_docker_config();
  a.insecure_registries = insecure;
  if (!auth.username.empty() || !auth.password.empty() || !auth.identity_token.empty()) {
    std::string key = auth.server_address;
    if (key.empty()) {
      auto r = image::registry::parse_reference(ref);
      key = r ? r->registry : std::string(image::registry::kDockerHub);
    }
    a.credentials[image::registry::normalize_registry_key(key)] = {auth.username, auth.password, auth.identity_token};
  }
  return a;
}

Result<std::string> spool_to_file(const BodyReader& body, const std::string& dir, const std::string& prefix) {
  BERTH_TRY(mkdir_all(dir, 0700));
  std::string path = dir + "/" + prefix + "-XXXXXX";
  UniqueFd fd(::mkostemp(path.data(), O_CLOEXEC));
  if (!fd) return fail_errno("create a temp file in `{}`", dir);
  std::string buf(1 << 20, '\0');
  for (;;) {
    auto n = body(buf.data(), buf.size());
    if (!n) {
      ::unlink(path.c_str());
      return fail(n.error().wrap("read request body"));
    }
    if (*n == 0) break;
    if (auto st = write_all(fd.get(), std::string_view(buf.data(), *n)); !st) {
      ::unlink(path.c_str());
      return fail(st.error().wrap(fmt::format("write `{}`", path)));
    }
  }
  return path;
}

}  // namespace berth::engine
