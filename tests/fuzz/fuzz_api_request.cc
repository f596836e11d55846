// libFuzzer target for the Engine API's request parsing and routing (api/server): the input is one request
// written like HTTP/1.1 text with '\n' line ends —
//     METHOD TARGET\n
//     Name: value\n        (headers, any number)
//     \n
//     body...              (the rest; "Transfer-Encoding: chunked" makes it a body without Content-Length)
// — driven through api::ApiHandler over in-memory request/response objects and an engine whose operations
// accept anything they are handed but run the real validators on the way (spec::parse_create_request for
// create bodies, container/volume/network name rules, list filters, event filters).
//
// Oracle: no crash, UB or leak (sanitizers); exactly one reply (a response, a stream that was ended, or a
// hijack) with a status in 100..499 — the engine never fails with Internal or Unimplemented, so a 5xx means
// the API layer let an exception or an unchecked error through; every 4xx carries {"message": "..."}; and the
// classes the API promises: a too-new or too-old version prefix is 400, unparsable JSON for a route that reads
// a JSON body is 400.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "api/server/api_server.h"
#include "api/server/testing/fakes.h"
#include "base/log.h"
#include "engine/container.h"
#include "engine/events.h"
#include "engine/spec/container_config.h"

namespace {

using namespace berth;
using api::testing::FakeRequest;
using api::testing::FakeResponse;

// A connected socket whose peer is closed: reads give EOF at once, so a pump over it ends immediately.
UniqueFd closed_stream() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) abort();
  ::close(sv[1]);
  return UniqueFd(sv[0]);
}

Status drain(const engine::ByteSource& src) {
  char buf[4096];
  size_t total = 0;
  for (;;) {
    size_t n = BERTH_TRY(src(buf, sizeof buf));
    if (n == 0) return ok();
    total += n;
    if (total > (1u << 20)) return fail(Errc::InvalidArgument, "too much");
  }
}

class Waiter final : public engine::ContainerWaiter {
 public:
  engine::WaitResult get() override { return {0, ""}; }
};

class Attach final : public engine::AttachSession {
 public:
  bool tty() const override { return false; }
  Result<UniqueFd> connect() override { return closed_stream(); }
};

// Accepts every operation, after the checks the real engine makes on its arguments.
class AnyEngine final : public api::testing::FakeEngine {
 public:
  AnyEngine() {
    for (int i = 1; i <= 3; ++i) {
      engine::Event e{"container", "start", std::string(64, 'a'), {{"name", "web"}, {"image", "busybox"}}};
      e.time = i;
      e.time_nano = int64_t{i} * 1'000'000'000;
      bus_.publish(e);
    }
  }

  Result<engine::ContainerCreateResult> container_create(const std::string& name, const std::string& body) override {
    if (!name.empty()) BERTH_TRY(engine::validate_name(name));
    auto req = BERTH_TRY(engine::spec::parse_create_request(body));
    (void)engine::spec::to_json(req.config).dump();
    (void)engine::spec::to_json(req.host).dump();
    return engine::ContainerCreateResult{kId, {}};
  }
  Result<engine::ContainerRef> container_resolve(const std::string& ref) override {
    if (ref.empty()) return fail(Errc::NotFound, "No such container: ");
    return engine::ContainerRef{kId, "/web", false, false, "running"};
  }
  Result<bool> container_start(const std::string&) override { return true; }
  Result<bool> container_stop(const std::string&, std::optional<int>, const std::string&) override { return true; }
  Status container_restart(const std::string&, std::optional<int>, const std::string&) override { return ok(); }
  Status container_kill(const std::string&, const std::string&) override { return ok(); }
  Status container_pause(const std::string&) override { return ok(); }
  Status container_unpause(const std::string&) override { return ok(); }
  Result<std::unique_ptr<engine::ContainerWaiter>> container_wait(const std::string&, engine::WaitCondition) override {
    return std::unique_ptr<engine::ContainerWaiter>(new Waiter);
  }
  Result<std::unique_ptr<engine::AttachSession>> container_attach(const std::string&,
                                                                   const engine::AttachOptions&) override {
    return std::unique_ptr<engine::AttachSession>(new Attach);
  }
  Status container_resize(const std::string&, int, int) override { return ok(); }
  Status container_logs(const std::string&, const engine::LogsOptions&, int, const engine::ByteSink& sink) override {
    (void)sink(std::string_view("\x01\0\0\0\0\0\0\x03hi\n", 11));
    return ok();
  }
  Result<std::string> container_inspect(const std::string&, bool) override { return std::string("{}"); }
  Result<std::string> container_list(const engine::ListOptions& o) override {
    BERTH_TRY(engine::validate_filters(o.filters));
    return std::string("[]");
  }
  Result<std::string> container_top(const std::string&, const std::string&) override {
    return std::string(R"({"Titles":["PID"],"Processes":[["1"]]})");
  }
  Status container_stats(const std::string&, bool, const engine::ByteSink& sink) override {
    (void)sink("{}\n");
    return ok();
  }
  Status container_rename(const std::string&, const std::string& n) override { return engine::validate_name(n); }
  Result<std::vector<std::string>> container_update(const std::string&, const std::string& body) override {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (!body.empty() && (j.is_discarded() || !j.is_object())) return fail(Errc::InvalidArgument, "bad update body");
    return std::vector<std::string>{};
  }
  Result<engine::ContainerPruneReport> container_prune(const std::map<std::string, std::vector<std::string>>&) override {
    return engine::ContainerPruneReport{{kId}, 1};
  }
  Status container_remove(const std::string&, bool, bool) override { return ok(); }
  Result<std::string> container_changes(const std::string&) override { return std::string("[]"); }
  Status container_export(const std::string&, const engine::ByteSink& sink) override {
    (void)sink(std::string(1024, '\0'));
    return ok();
  }
  Result<engine::PathStat> container_archive_stat(const std::string&, const std::string& path) override {
    return engine::PathStat{path, 3, 0644, "2026-01-01T00:00:00Z", ""};
  }
  Status container_archive_get(const std::string&, const std::string&, const engine::ByteSink& sink) override {
    (void)sink(std::string(1024, '\0'));
    return ok();
  }
  Status container_archive_put(const std::string&, const std::string&, bool, const engine::ByteSource& tar) override {
    return drain(tar);
  }
  Result<std::string> exec_create(const std::string&, const std::string& body) override {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return fail(Errc::InvalidArgument, "bad exec body");
    return std::string(64, 'e');
  }
  Result<engine::ExecStream> exec_start(const std::string&, bool detach) override {
    engine::ExecStream s;
    if (!detach) s.fd = closed_stream();
    return s;
  }
  Result<std::string> exec_inspect(const std::string&) override { return std::string("{}"); }
  Status exec_resize(const std::string&, int, int) override { return ok(); }

  Result<engine::Volume> volume_create(const engine::VolumeCreateRequest& r) override {
    if (!r.name.empty() && !engine::valid_volume_name(r.name))
      return fail(Errc::InvalidArgument, "invalid volume name {}", r.name);
    return volume(r.name.empty() ? std::string(64, 'f') : r.name);
  }
  Result<std::vector<engine::Volume>> volumes() override { return std::vector<engine::Volume>{volume("v1")}; }
  Result<engine::Volume> volume_inspect(const std::string& n) override { return volume(n); }
  Status volume_remove(const std::string&, bool) override { return ok(); }
  Result<engine::VolumePruneReport> volume_prune(bool, const std::vector<std::string>&) override {
    return engine::VolumePruneReport{{"v1"}, 1};
  }

  Result<engine::NetworkCreateResult> network_create(const engine::NetworkCreateRequest& r) override {
    if (!engine::valid_network_name(r.name)) return fail(Errc::InvalidArgument, "invalid network name {}", r.name);
    return engine::NetworkCreateResult{std::string(64, 'n'), ""};
  }
  Result<std::vector<engine::Network>> networks() override { return std::vector<engine::Network>{network("bridge")}; }
  Result<engine::Network> network_inspect(const std::string& ref) override { return network(ref); }
  Status network_remove(const std::string&) override { return ok(); }
  Status network_connect(const std::string&, const std::string&, const engine::EndpointRequest&) override { return ok(); }
  Status network_disconnect(const std::string&, const std::string&, bool) override { return ok(); }
  Result<std::vector<std::string>> network_prune(const std::vector<std::string>&, int64_t) override {
    return std::vector<std::string>{"n1"};
  }

  Result<std::unique_ptr<engine::EventSubscription>> events_subscribe(const engine::EventFilter& f, int64_t since_ns,
                                                                      int64_t until_ns) override {
    BERTH_TRY(f.validate());
    // Always a subscription that ends after its replay: the route would otherwise wait for live events.
    if (until_ns <= 0 || until_ns > kEventsEnd) until_ns = kEventsEnd;
    return bus_.subscribe(f, since_ns, until_ns);
  }
  Result<std::vector<engine::ContainerDiskUsage>> container_disk_usage() override {
    return std::vector<engine::ContainerDiskUsage>{};
  }
  Result<engine::DiskUsage> system_df() override {
    engine::DiskUsage d;
    d.images.push_back({images_[0], 0, 1});
    d.volumes.push_back({volume("v1"), 10, 1});
    return d;
  }
  Status registry_login(const engine::RegistryAuth&) override { return ok(); }
  Status image_pull(const engine::PullRequest& r, const engine::ProgressFn& progress) override {
    engine::JsonMessage m;
    m.status = "Pulling from " + r.from_image;
    m.id = r.tag.empty() ? "latest" : r.tag;
    BERTH_TRY(progress(m));
    engine::JsonMessage d;
    d.status = "Downloading";
    d.id = "abc";
    d.current = 1;
    d.total = 2;
    return progress(d);
  }
  Status image_push(const std::string& name, const std::string&, const engine::RegistryAuth&,
                    const engine::ProgressFn& progress) override {
    engine::JsonMessage m;
    m.status = "The push refers to repository [" + name + "]";
    return progress(m);
  }
  Result<std::string> image_import(const engine::BodyReader& body, const std::string&, const std::string&) override {
    BERTH_TRY(drain(body));
    return std::string("sha256:") + std::string(64, '1');
  }
  Result<UniqueFd> image_save(const std::vector<std::string>&) override {
    int fd = ::memfd_create("save", MFD_CLOEXEC);
    if (fd < 0) abort();
    if (::write(fd, "tar", 3) != 3) abort();
    ::lseek(fd, 0, SEEK_SET);
    return UniqueFd(fd);
  }
  Result<std::vector<std::string>> image_load(const engine::BodyReader& body) override {
    BERTH_TRY(drain(body));
    return std::vector<std::string>{"busybox:latest", "sha256:" + std::string(64, '2')};
  }
  Result<engine::GcReport> disk_gc(bool) override { return engine::GcReport{}; }

 private:
  static constexpr int64_t kEventsEnd = 5'000'000'000;
  static inline const std::string kId = std::string(64, 'c');

  static engine::Volume volume(const std::string& name) {
    engine::Volume v;
    v.name = name;
    v.mountpoint = "/data/volumes/" + name + "/_data";
    return v;
  }
  static engine::Network network(const std::string& name) {
    engine::Network n;
    n.name = name;
    n.id = std::string(64, 'n');
    return n;
  }

  engine::EventBus bus_;
};

// Routes whose body the API layer itself parses (or hands to spec::parse_create_request), so garbage there must
// be a 400. (exec create and update pass the body to the engine as text.)
bool json_body_route(std::string_view method, std::string_view path) {
  if (method != "POST") return false;
  if (path == "/containers/create" || path == "/volumes/create" || path == "/networks/create" || path == "/auth")
    return true;
  if (path.starts_with("/networks/") && (path.ends_with("/connect") || path.ends_with("/disconnect")))
    return path.size() > 10 + 8;
  return false;
}

[[noreturn]] void failure(const std::string& what, const std::string& method, const std::string& target,
                          const FakeResponse& r) {
  fprintf(stderr, "oracle: %s\n  request: %s %s\n  reply: %d %s\n", what.c_str(), method.c_str(), target.c_str(),
          r.status, r.body.substr(0, 2000).c_str());
  abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The API logs errors (a 500 says why); the oracle reports them instead.
  static int devnull = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  berth::log::set_fd(devnull);
  berth::log::set_level(berth::log::Level::Error);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto line = [&in]() {
    auto e = in.find('\n');
    std::string_view l = in.substr(0, e);
    in = e == std::string_view::npos ? std::string_view() : in.substr(e + 1);
    if (l.ends_with('\r')) l.remove_suffix(1);
    return l;
  };
  std::string_view first = line();
  auto sp = first.find(' ');
  std::string method(first.substr(0, sp));
  std::string target(sp == std::string_view::npos ? "/" : first.substr(sp + 1));
  if (method.empty() || target.empty()) return 0;  // the HTTP parser never hands these over
  if (target.front() != '/') target.insert(target.begin(), '/');  // nor a target that is not origin-form
  net::http::Headers headers;
  bool chunked = false;
  while (!in.empty()) {
    std::string_view h = line();
    if (h.empty()) break;
    auto colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    std::string name(h.substr(0, colon));
    std::string_view v = h.substr(colon + 1);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    if (net::http::iequals(name, "Transfer-Encoding") && v == "chunked") chunked = true;
    headers.add(std::move(name), std::string(v));
  }
  std::string body(in);

  AnyEngine e;
  FakeRequest q(method, target, body, headers, chunked, chunked ? 1000 : 0);
  FakeResponse r;
  api::ApiHandler h(e);
  h(q, r);

  // Exactly one reply.
  if (!r.sent()) failure("no reply", method, target, r);
  if (r.sends + (r.streaming ? 1 : 0) + (r.hijacked ? 1 : 0) != 1) failure("more than one reply", method, target, r);
  if (r.streaming && !r.ended) failure("stream not ended", method, target, r);
  if (r.status < 100 || r.status > 599) failure("status out of range", method, target, r);
  if (r.status >= 500) failure("5xx although the engine accepts everything", method, target, r);
  // Errors are {"message": "..."}.
  if (r.status >= 400) {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("message") || !j["message"].is_string())
      failure("error without a JSON message", method, target, r);
  }
  // The classes the API promises for malformed input.
  auto parsed = net::http::parse_target(target);
  auto ap = api::split_version(parsed.path);
  if (!ap) {
    if (r.status != 400) failure("bad API version is not 400", method, target, r);
    return 0;
  }
  if (json_body_route(method, ap->path) && body.find_first_not_of(" \t\r\n") != std::string::npos) {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() && r.status != 400) failure("malformed JSON body is not 400", method, target, r);
    if (!j.is_discarded() && !j.is_object() && (r.status < 400 || r.status >= 500))
      failure("a JSON body that is not an object is accepted", method, target, r);
  }
  return 0;
}
