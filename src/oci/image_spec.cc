#include "oci/image_spec.h"

#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

namespace berth::oci {

namespace {
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

std::string sub(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
}
std::string idx(std::string_view path, size_t i) { return fmt::format("{}[{}]", path, i); }

const char* type_name(const json& j) { return j.type_name(); }

// Returns the member or nullptr when absent or null.
const json* member(const json& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return nullptr;
  return &*it;
}

Status need_object(const json& j, std::string_view path) {
  if (!j.is_object())
    return fail(Errc::InvalidArgument, "{}: expected an object, got {}", path.empty() ? "document" : path,
                type_name(j));
  return ok();
}

Status get_string(const json& o, std::string_view key, std::string_view path, std::string& out,
                  bool required = false) {
  const json* v = member(o, key);
  if (!v) {
    if (required) return fail(Errc::InvalidArgument, "{}: required field missing", sub(path, key));
    return ok();
  }
  if (!v->is_string())
    return fail(Errc::InvalidArgument, "{}: expected a string, got {}", sub(path, key), type_name(*v));
  out = v->get<std::string>();
  return ok();
}

Status get_bool(const json& o, std::string_view key, std::string_view path, bool& out) {
  const json* v = member(o, key);
  if (!v) return ok();
  if (!v->is_boolean())
    return fail(Errc::InvalidArgument, "{}: expected a boolean, got {}", sub(path, key), type_name(*v));
  out = v->get<bool>();
  return ok();
}

Status get_int64(const json& o, std::string_view key, std::string_view path, int64_t& out, bool required = false) {
  const json* v = member(o, key);
  if (!v) {
    if (required) return fail(Errc::InvalidArgument, "{}: required field missing", sub(path, key));
    return ok();
  }
  if (v->is_number_unsigned()) {
    uint64_t u = v->get<uint64_t>();
    if (u > static_cast<uint64_t>(INT64_MAX))
      return fail(Errc::InvalidArgument, "{}: value {} out of range", sub(path, key), u);
    out = static_cast<int64_t>(u);
    return ok();
  }
  if (!v->is_number_integer())
    return fail(Errc::InvalidArgument, "{}: expected an integer, got {}", sub(path, key), type_name(*v));
  out = v->get<int64_t>();
  return ok();
}

Status get_string_array(const json& o, std::string_view key, std::string_view path, std::vector<std::string>& out) {
  const json* v = member(o, key);
  if (!v) return ok();
  auto p = sub(path, key);
  if (!v->is_array()) return fail(Errc::InvalidArgument, "{}: expected an array, got {}", p, type_name(*v));
  out.clear();
  for (size_t i = 0; i < v->size(); i++) {
    const json& e = (*v)[i];
    if (!e.is_string())
      return fail(Errc::InvalidArgument, "{}: expected a string, got {}", idx(p, i), type_name(e));
    out.push_back(e.get<std::string>());
  }
  return ok();
}

Status get_opt_string_array(const json& o, std::string_view key, std::string_view path,
                            std::optional<std::vector<std::string>>& out) {
  if (!member(o, key)) return ok();
  std::vector<std::string> v;
  BERTH_TRY(get_string_array(o, key, path, v));
  out = std::move(v);
  return ok();
}

Status get_string_map(const json& o, std::string_view key, std::string_view path,
                      std::map<std::string, std::string>& out) {
  const json* v = member(o, key);
  if (!v) return ok();
  auto p = sub(path, key);
  if (!v->is_object()) return fail(Errc::InvalidArgument, "{}: expected an object, got {}", p, type_name(*v));
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it.value().is_string())
      return fail(Errc::InvalidArgument, "{}.{}: expected a string, got {}", p, it.key(), type_name(it.value()));
    out[it.key()] = it.value().get<std::string>();
  }
  return ok();
}

// {"80/tcp": {}, ...} -> set of keys (ExposedPorts, Volumes).
Status get_key_set(const json& o, std::string_view key, std::string_view path, std::set<std::string>& out) {
  const json* v = member(o, key);
  if (!v) return ok();
  auto p = sub(path, key);
  if (!v->is_object()) return fail(Errc::InvalidArgument, "{}: expected an object, got {}", p, type_name(*v));
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it.value().is_object() && !it.value().is_null())
      return fail(Errc::InvalidArgument, "{}.{}: expected an object, got {}", p, it.key(), type_name(it.value()));
    out.insert(it.key());
  }
  return ok();
}

Status get_digest(const json& o, std::string_view key, std::string_view path, Digest& out, bool required) {
  std::string s;
  BERTH_TRY(get_string(o, key, path, s, required));
  if (s.empty() && !required) return ok();
  auto d = Digest::parse(s);
  if (!d) return fail(std::move(d).error().wrap(sub(path, key)));
  out = *d;
  return ok();
}

Result<json> parse_doc(std::string_view text) {
  if (text.size() > (16u << 20)) return fail(Errc::InvalidArgument, "document larger than 16 MiB");
  json j = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(Errc::InvalidArgument, "malformed JSON");
  BERTH_TRY(need_object(j, ""));
  return j;
}

Status read_platform(const json& j, std::string_view path, Platform& p) {
  BERTH_TRY(need_object(j, path));
  BERTH_TRY(get_string(j, "architecture", path, p.architecture, true));
  BERTH_TRY(get_string(j, "os", path, p.os, true));
  BERTH_TRY(get_string(j, "os.version", path, p.os_version));
  BERTH_TRY(get_string_array(j, "os.features", path, p.os_features));
  BERTH_TRY(get_string(j, "variant", path, p.variant));
  BERTH_TRY(get_string_array(j, "features", path, p.features));
  return ok();
}

Status read_descriptor(const json& j, std::string_view path, Descriptor& d) {
  BERTH_TRY(need_object(j, path));
  BERTH_TRY(get_string(j, "mediaType", path, d.media_type, true));
  if (d.media_type.empty()) return fail(Errc::InvalidArgument, "{}: must not be empty", sub(path, "mediaType"));
  BERTH_TRY(get_digest(j, "digest", path, d.digest, true));
  BERTH_TRY(get_int64(j, "size", path, d.size, true));
  if (d.size < 0) return fail(Errc::InvalidArgument, "{}: negative size {}", sub(path, "size"), d.size);
  BERTH_TRY(get_string_array(j, "urls", path, d.urls));
  BERTH_TRY(get_string_map(j, "annotations", path, d.annotations));
  if (const json* p = member(j, "platform")) {
    Platform pl;
    BERTH_TRY(read_platform(*p, sub(path, "platform"), pl));
    d.platform = std::move(pl);
  }
  BERTH_TRY(get_string(j, "artifactType", path, d.artifact_type));
  if (member(j, "data")) {
    std::string data;
    BERTH_TRY(get_string(j, "data", path, data));
    d.data = std::move(data);
  }
  return ok();
}

Status check_schema_version(const json& j) {
  int64_t v = 0;
  BERTH_TRY(get_int64(j, "schemaVersion", "", v, true));
  if (v == 1)
    return fail(Errc::Unimplemented,
                "Docker image manifest schema 1 is not supported (deprecated since 2017); re-push the image with a "
                "current client to get schema 2 or OCI");
  if (v != 2) return fail(Errc::InvalidArgument, "schemaVersion: unsupported value {} (want 2)", v);
  return ok();
}

Status read_subject(const json& j, std::optional<Descriptor>& subject) {
  if (const json* s = member(j, "subject")) {
    Descriptor d;
    BERTH_TRY(read_descriptor(*s, "subject", d));
    subject = std::move(d);
  }
  return ok();
}

Result<Manifest> manifest_from(const json& j) {
  BERTH_TRY(check_schema_version(j));
  Manifest m;
  BERTH_TRY(get_string(j, "mediaType", "", m.media_type));
  if (!m.media_type.empty() && !is_manifest_media_type(m.media_type))
    return fail(Errc::InvalidArgument, "mediaType: `{}` is not an image manifest type", m.media_type);
  BERTH_TRY(get_string(j, "artifactType", "", m.artifact_type));
  const json* c = member(j, "config");
  if (!c) return fail(Errc::InvalidArgument, "config: required field missing");
  BERTH_TRY(read_descriptor(*c, "config", m.config));
  const json* ls = member(j, "layers");
  if (!ls) return fail(Errc::InvalidArgument, "layers: required field missing");
  if (!ls->is_array()) return fail(Errc::InvalidArgument, "layers: expected an array, got {}", type_name(*ls));
  for (size_t i = 0; i < ls->size(); i++) {
    Descriptor d;
    BERTH_TRY(read_descriptor((*ls)[i], idx("layers", i), d));
    m.layers.push_back(std::move(d));
  }
  BERTH_TRY(read_subject(j, m.subject));
  BERTH_TRY(get_string_map(j, "annotations", "", m.annotations));
  return m;
}

Result<Index> index_from(const json& j) {
  BERTH_TRY(check_schema_version(j));
  Index x;
  BERTH_TRY(get_string(j, "mediaType", "", x.media_type));
  if (!x.media_type.empty() && !is_index_media_type(x.media_type))
    return fail(Errc::InvalidArgument, "mediaType: `{}` is not an image index type", x.media_type);
  BERTH_TRY(get_string(j, "artifactType", "", x.artifact_type));
  const json* ms = member(j, "manifests");
  if (!ms) return fail(Errc::InvalidArgument, "manifests: required field missing");
  if (!ms->is_array()) return fail(Errc::InvalidArgument, "manifests: expected an array, got {}", type_name(*ms));
  for (size_t i = 0; i < ms->size(); i++) {
    Descriptor d;
    BERTH_TRY(read_descriptor((*ms)[i], idx("manifests", i), d));
    x.manifests.push_back(std::move(d));
  }
  BERTH_TRY(read_subject(j, x.subject));
  BERTH_TRY(get_string_map(j, "annotations", "", x.annotations));
  return x;
}

ojson platform_json(const Platform& p) {
  ojson j;
  j["architecture"] = p.architecture;
  j["os"] = p.os;
  if (!p.os_version.empty()) j["os.version"] = p.os_version;
  if (!p.os_features.empty()) j["os.features"] = p.os_features;
  if (!p.variant.empty()) j["variant"] = p.variant;
  if (!p.features.empty()) j["features"] = p.features;
  return j;
}

ojson descriptor_json(const Descriptor& d) {
  ojson j;
  j["mediaType"] = d.media_type;
  j["digest"] = d.digest.str();
  j["size"] = d.size;
  if (!d.urls.empty()) j["urls"] = d.urls;
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  if (d.platform) j["platform"] = platform_json(*d.platform);
  if (!d.artifact_type.empty()) j["artifactType"] = d.artifact_type;
  if (d.data) j["data"] = *d.data;
  return j;
}

std::string normalize_arch(std::string_view a) {
  if (a == "x86_64" || a == "x86-64") return "amd64";
  if (a == "aarch64") return "arm64";
  if (a == "armhf" || a == "armel") return "arm";
  if (a == "i386" || a == "i686") return "386";
  return std::string(a);
}
}  // namespace

Result<Compression> layer_compression(std::string_view mt) {
  if (mt == media::kOciLayer || mt == media::kOciLayerNd) return Compression::None;
  if (mt == media::kOciLayerGzip || mt == media::kOciLayerNdGzip || mt == media::kDockerLayerGzip ||
      mt == media::kDockerLayerForeignGzip)
    return Compression::Gzip;
  if (mt == media::kOciLayerZstd || mt == media::kOciLayerNdZstd) return Compression::Zstd;
  return fail(Errc::Unimplemented, "unsupported layer media type `{}`", mt);
}

bool is_index_media_type(std::string_view mt) {
  return mt == media::kOciIndex || mt == media::kDockerManifestList;
}
bool is_manifest_media_type(std::string_view mt) {
  return mt == media::kOciManifest || mt == media::kDockerManifest;
}

Result<Platform> Platform::parse(std::string_view s) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (true) {
    auto j = s.find('/', i);
    parts.emplace_back(s.substr(i, j == std::string_view::npos ? std::string_view::npos : j - i));
    if (j == std::string_view::npos) break;
    i = j + 1;
  }
  if (parts.size() < 2 || parts.size() > 3)
    return fail(Errc::InvalidArgument, "platform `{}`: want os/arch[/variant]", s);
  for (auto& p : parts)
    if (p.empty()) return fail(Errc::InvalidArgument, "platform `{}`: empty component", s);
  Platform p;
  p.os = parts[0];
  p.architecture = normalize_arch(parts[1]);
  if (parts.size() == 3) p.variant = parts[2];
  return p;
}

Platform Platform::host() {
  Platform p;
  p.os = "linux";
#if defined(__x86_64__)
  p.architecture = "amd64";
#elif defined(__aarch64__)
  p.architecture = "arm64";
#else
  p.architecture = "amd64";
#endif
  return p;
}

std::string Platform::str() const {
  return variant.empty() ? fmt::format("{}/{}", os, architecture) : fmt::format("{}/{}/{}", os, architecture, variant);
}

bool platform_matches(const Platform& want, const Platform& have) {
  if (want.os != have.os) return false;
  auto wa = normalize_arch(want.architecture);
  if (wa != normalize_arch(have.architecture)) return false;
  if (want.variant.empty()) return true;
  auto hv = have.variant;
  if (wa == "arm64" && hv.empty()) hv = "v8";
  return want.variant == hv;
}

Result<ManifestOrIndex> parse_manifest_or_index(std::string_view text, std::string_view hint) {
  auto j = BERTH_TRY(parse_doc(text));
  std::string mt;
  BERTH_TRY(get_string(j, "mediaType", "", mt));
  if (mt == media::kDockerSchema1 || mt == media::kDockerSchema1Signed || hint == media::kDockerSchema1 ||
      hint == media::kDockerSchema1Signed)
    return fail(Errc::Unimplemented,
                "Docker image manifest schema 1 is not supported (deprecated since 2017); re-push the image with a "
                "current client to get schema 2 or OCI");
  if (!mt.empty() && !hint.empty() && mt != hint &&
      (is_index_media_type(hint) || is_manifest_media_type(hint)))
    return fail(Errc::InvalidArgument, "mediaType: document says `{}` but it was served as `{}`", mt, hint);
  std::string_view kind = mt.empty() ? hint : std::string_view(mt);
  if (is_index_media_type(kind)) return ManifestOrIndex(BERTH_TRY(index_from(j)));
  if (is_manifest_media_type(kind)) return ManifestOrIndex(BERTH_TRY(manifest_from(j)));
  if (!kind.empty() && !mt.empty())
    return fail(Errc::Unimplemented, "mediaType: unsupported manifest type `{}`", kind);
  // No usable media type: decide by shape.
  if (j.contains("manifests")) return ManifestOrIndex(BERTH_TRY(index_from(j)));
  if (j.contains("config") || j.contains("layers")) return ManifestOrIndex(BERTH_TRY(manifest_from(j)));
  BERTH_TRY(check_schema_version(j));
  return fail(Errc::InvalidArgument, "document is neither an image manifest nor an index");
}

Result<Manifest> parse_manifest(std::string_view text) {
  auto j = BERTH_TRY(parse_doc(text));
  std::string mt;
  BERTH_TRY(get_string(j, "mediaType", "", mt));
  if (mt == media::kDockerSchema1 || mt == media::kDockerSchema1Signed) BERTH_TRY(check_schema_version(json{{"schemaVersion", 1}}));
  return manifest_from(j);
}

Result<Index> parse_index(std::string_view text) {
  auto j = BERTH_TRY(parse_doc(text));
  return index_from(j);
}

Result<Descriptor> parse_descriptor(std::string_view text) {
  auto j = BERTH_TRY(parse_doc(text));
  Descriptor d;
  BERTH_TRY(read_descriptor(j, "", d));
  return d;
}

Result<ImageConfig> parse_image_config(std::string_view text) {
  auto j = BERTH_TRY(parse_doc(text));
  ImageConfig c;
  BERTH_TRY(get_string(j, "created", "", c.created));
  BERTH_TRY(get_string(j, "author", "", c.author));
  BERTH_TRY(get_string(j, "architecture", "", c.architecture, true));
  BERTH_TRY(get_string(j, "os", "", c.os, true));
  BERTH_TRY(get_string(j, "os.version", "", c.os_version));
  BERTH_TRY(get_string(j, "variant", "", c.variant));
  if (const json* cc = member(j, "config")) {
    BERTH_TRY(need_object(*cc, "config"));
    auto& o = c.config;
    BERTH_TRY(get_string(*cc, "User", "config", o.user));
    BERTH_TRY(get_key_set(*cc, "ExposedPorts", "config", o.exposed_ports));
    BERTH_TRY(get_string_array(*cc, "Env", "config", o.env));
    for (size_t i = 0; i < o.env.size(); i++)
      if (o.env[i].find('=') == std::string::npos || o.env[i][0] == '=')
        return fail(Errc::InvalidArgument, "config.Env[{}]: `{}` is not NAME=value", i, o.env[i]);
    BERTH_TRY(get_opt_string_array(*cc, "Entrypoint", "config", o.entrypoint));
    BERTH_TRY(get_opt_string_array(*cc, "Cmd", "config", o.cmd));
    BERTH_TRY(get_key_set(*cc, "Volumes", "config", o.volumes));
    BERTH_TRY(get_string(*cc, "WorkingDir", "config", o.working_dir));
    BERTH_TRY(get_string_map(*cc, "Labels", "config", o.labels));
    BERTH_TRY(get_string(*cc, "StopSignal", "config", o.stop_signal));
    BERTH_TRY(get_bool(*cc, "ArgsEscaped", "config", o.args_escaped));
    BERTH_TRY(get_string_array(*cc, "OnBuild", "config", o.on_build));
    BERTH_TRY(get_string_array(*cc, "Shell", "config", o.shell));
    if (const json* h = member(*cc, "Healthcheck")) {
      BERTH_TRY(need_object(*h, "config.Healthcheck"));
      Healthcheck hc;
      const std::string p = "config.Healthcheck";
      BERTH_TRY(get_string_array(*h, "Test", p, hc.test));
      BERTH_TRY(get_int64(*h, "Interval", p, hc.interval_ns));
      BERTH_TRY(get_int64(*h, "Timeout", p, hc.timeout_ns));
      BERTH_TRY(get_int64(*h, "StartPeriod", p, hc.start_period_ns));
      BERTH_TRY(get_int64(*h, "StartInterval", p, hc.start_interval_ns));
      int64_t r = 0;
      BERTH_TRY(get_int64(*h, "Retries", p, r));
      if (r < 0 || r > INT32_MAX) return fail(Errc::InvalidArgument, "{}.Retries: out of range ({})", p, r);
      hc.retries = static_cast<int>(r);
      if (!hc.test.empty() && hc.test[0] != "NONE" && hc.test[0] != "CMD" && hc.test[0] != "CMD-SHELL")
        return fail(Errc::InvalidArgument, "{}.Test[0]: `{}` is not NONE, CMD or CMD-SHELL", p, hc.test[0]);
      if (hc.interval_ns < 0 || hc.timeout_ns < 0 || hc.start_period_ns < 0 || hc.start_interval_ns < 0)
        return fail(Errc::InvalidArgument, "{}: durations must not be negative", p);
      o.healthcheck = std::move(hc);
    }
  }
  const json* rf = member(j, "rootfs");
  if (!rf) return fail(Errc::InvalidArgument, "rootfs: required field missing");
  BERTH_TRY(need_object(*rf, "rootfs"));
  BERTH_TRY(get_string(*rf, "type", "rootfs", c.rootfs_type, true));
  if (c.rootfs_type != "layers")
    return fail(Errc::InvalidArgument, "rootfs.type: `{}` is not supported (want \"layers\")", c.rootfs_type);
  std::vector<std::string> ids;
  BERTH_TRY(get_string_array(*rf, "diff_ids", "rootfs", ids));
  for (size_t i = 0; i < ids.size(); i++) {
    auto d = Digest::parse(ids[i]);
    if (!d) return fail(std::move(d).error().wrap(fmt::format("rootfs.diff_ids[{}]", i)));
    c.diff_ids.push_back(*d);
  }
  if (const json* hs = member(j, "history")) {
    if (!hs->is_array()) return fail(Errc::InvalidArgument, "history: expected an array, got {}", type_name(*hs));
    for (size_t i = 0; i < hs->size(); i++) {
      const json& h = (*hs)[i];
      auto p = idx("history", i);
      BERTH_TRY(need_object(h, p));
      History e;
      BERTH_TRY(get_string(h, "created", p, e.created));
      BERTH_TRY(get_string(h, "created_by", p, e.created_by));
      BERTH_TRY(get_string(h, "author", p, e.author));
      BERTH_TRY(get_string(h, "comment", p, e.comment));
      BERTH_TRY(get_bool(h, "empty_layer", p, e.empty_layer));
      c.history.push_back(std::move(e));
    }
  }
  return c;
}

std::string to_json(const Descriptor& d) { return descriptor_json(d).dump(); }

std::string to_json(const Manifest& m) {
  ojson j;
  j["schemaVersion"] = m.schema_version;
  if (!m.media_type.empty()) j["mediaType"] = m.media_type;
  if (!m.artifact_type.empty()) j["artifactType"] = m.artifact_type;
  j["config"] = descriptor_json(m.config);
  j["layers"] = ojson::array();
  for (auto& l : m.layers) j["layers"].push_back(descriptor_json(l));
  if (m.subject) j["subject"] = descriptor_json(*m.subject);
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  return j.dump();
}

std::string to_json(const Index& x) {
  ojson j;
  j["schemaVersion"] = x.schema_version;
  if (!x.media_type.empty()) j["mediaType"] = x.media_type;
  if (!x.artifact_type.empty()) j["artifactType"] = x.artifact_type;
  j["manifests"] = ojson::array();
  for (auto& d : x.manifests) j["manifests"].push_back(descriptor_json(d));
  if (x.subject) j["subject"] = descriptor_json(*x.subject);
  if (!x.annotations.empty()) j["annotations"] = x.annotations;
  return j.dump();
}

std::string to_json(const ImageConfig& c) {
  ojson j;
  if (!c.created.empty()) j["created"] = c.created;
  if (!c.author.empty()) j["author"] = c.author;
  j["architecture"] = c.architecture;
  j["os"] = c.os;
  if (!c.os_version.empty()) j["os.version"] = c.os_version;
  if (!c.variant.empty()) j["variant"] = c.variant;
  ojson cc = ojson::object();
  const auto& o = c.config;
  if (!o.user.empty()) cc["User"] = o.user;
  if (!o.exposed_ports.empty()) {
    ojson ports = ojson::object();
    for (auto& p : o.exposed_ports) ports[p] = ojson::object();
    cc["ExposedPorts"] = ports;
  }
  if (!o.env.empty()) cc["Env"] = o.env;
  if (o.entrypoint) cc["Entrypoint"] = *o.entrypoint;
  if (o.cmd) cc["Cmd"] = *o.cmd;
  if (!o.volumes.empty()) {
    ojson vols = ojson::object();
    for (auto& v : o.volumes) vols[v] = ojson::object();
    cc["Volumes"] = vols;
  }
  if (!o.working_dir.empty()) cc["WorkingDir"] = o.working_dir;
  if (!o.labels.empty()) cc["Labels"] = o.labels;
  if (!o.stop_signal.empty()) cc["StopSignal"] = o.stop_signal;
  if (o.args_escaped) cc["ArgsEscaped"] = true;
  if (!o.on_build.empty()) cc["OnBuild"] = o.on_build;
  if (!o.shell.empty()) cc["Shell"] = o.shell;
  if (o.healthcheck) {
    ojson h;
    h["Test"] = o.healthcheck->test;
    if (o.healthcheck->interval_ns) h["Interval"] = o.healthcheck->interval_ns;
    if (o.healthcheck->timeout_ns) h["Timeout"] = o.healthcheck->timeout_ns;
    if (o.healthcheck->start_period_ns) h["StartPeriod"] = o.healthcheck->start_period_ns;
    if (o.healthcheck->start_interval_ns) h["StartInterval"] = o.healthcheck->start_interval_ns;
    if (o.healthcheck->retries) h["Retries"] = o.healthcheck->retries;
    cc["Healthcheck"] = h;
  }
  j["config"] = cc;
  ojson rf;
  rf["type"] = c.rootfs_type;
  rf["diff_ids"] = ojson::array();
  for (auto& d : c.diff_ids) rf["diff_ids"].push_back(d.str());
  j["rootfs"] = rf;
  if (!c.history.empty()) {
    ojson hs = ojson::array();
    for (auto& h : c.history) {
      ojson e;
      if (!h.created.empty()) e["created"] = h.created;
      if (!h.created_by.empty()) e["created_by"] = h.created_by;
      if (!h.author.empty()) e["author"] = h.author;
      if (!h.comment.empty()) e["comment"] = h.comment;
      if (h.empty_layer) e["empty_layer"] = true;
      hs.push_back(e);
    }
    j["history"] = hs;
  }
  return j.dump();
}

Result<Descriptor> select_platform(const Index& index, const Platform& want) {
  std::vector<std::string> seen;
  for (auto& d : index.manifests) {
    if (d.annotations.count("vnd.docker.reference.type")) continue;
    if (!d.platform) continue;
    if (!is_manifest_media_type(d.media_type) && !d.media_type.empty()) continue;
    if (platform_matches(want, *d.platform)) return d;
    seen.push_back(d.platform->str());
  }
  return fail(Errc::NotFound, "no manifest for platform {} in index (available: {})", want.str(),
              seen.empty() ? std::string("none") : fmt::format("{}", fmt::join(seen, ", ")));
}

Status validate_image(const Manifest& m, const ImageConfig& c) {
  if (m.config.media_type != media::kOciConfig && m.config.media_type != media::kDockerConfig)
    return fail(Errc::InvalidArgument, "config.mediaType: `{}` is not an image config", m.config.media_type);
  if (m.layers.size() != c.diff_ids.size())
    return fail(Errc::InvalidArgument, "manifest has {} layers but config rootfs.diff_ids has {}", m.layers.size(),
                c.diff_ids.size());
  for (size_t i = 0; i < m.layers.size(); i++) BERTH_TRY_CTX(layer_compression(m.layers[i].media_type), "layers[{}]", i);
  return ok();
}

}  // namespace berth::oci
