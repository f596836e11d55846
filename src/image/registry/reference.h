#pragma once
// Docker-style image references: [registry/]path[:tag][@digest].
//
//   registry    "host", "host:port", "[v6]:port" or "localhost[:port]". The first path component is a registry
//               when it contains '.' or ':' or is "localhost"; otherwise the name belongs to Docker Hub
//               ("docker.io", with "library/" added to single-component names), which this client cannot
//               reach, so callers fail clearly for it (see is_docker_hub()).
//   path        components matching [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*, joined by '/'; registry + path <= 255.
//   tag         [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; defaults to "latest" when neither tag nor digest is given.
//   digest      strict oci::Digest.
// Parse errors are Errc::InvalidArgument naming the offending part.

#include <string>
#include <string_view>

#include "base/error.h"
#include "oci/digest.h"

namespace berth::image::registry {

inline constexpr std::string_view kDockerHub = "docker.io";

struct Reference {
  std::string registry;    // "127.0.0.1:5000", "docker.io"
  std::string repository;  // "library/busybox", "team/app"
  std::string tag;         // may be empty when digest is set
  oci::Digest digest;

  bool is_docker_hub() const { return registry == kDockerHub; }
  // What to ask the registry for: the digest if present, else the tag.
  std::string reference() const { return digest ? digest.str() : tag; }
  // "registry/repository[:tag][@digest]"
  std::string str() const;
  // "registry/repository"
  std::string name() const { return registry + "/" + repository; }
};

Result<Reference> parse_reference(std::string_view s);

// Repository path alone (what a registry server accepts in /v2/<name>/...).
bool valid_repository_name(std::string_view name);
bool valid_tag(std::string_view tag);

// True for "localhost", 127.0.0.0/8 and ::1, with or without a port.
bool is_loopback_registry(std::string_view registry);

}  // namespace berth::image::registry
