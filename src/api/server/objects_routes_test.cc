// Volume, network, event, system-df, auth and image-transfer routes against a fake engine, through in-memory
// request/response objects (no sockets): paths, query parsing, JSON shapes, status codes, streams.
#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "api/server/api_server.h"
#include "api/server/testing/fakes.h"
#include "image/registry/auth.h"

namespace berth::api {
namespace {

using nlohmann::json;

using Resp = testing::FakeResponse;

// Small reads, like a chunked body arriving in pieces.
struct Req : testing::FakeRequest {
  Req(std::string method, std::string target, std::string body = "", net::http::Headers h = {})
      : FakeRequest(std::move(method), std::move(target), std::move(body), std::move(h), false, 1000) {}
};

class Fake final : public engine::Engine {
 public:
  engine::VersionInfo version() override { return {}; }
  Result<engine::SystemInfo> info() override { return engine::SystemInfo{}; }
  Result<std::vector<engine::ImageSummary>> images() override { return std::vector<engine::ImageSummary>{}; }
  Result<engine::ImageDetail> image_inspect(const std::string&) override { return fail(Errc::NotFound, "no"); }
  Result<std::vector<engine::HistoryEntry>> image_history(const std::string&) override {
    return fail(Errc::NotFound, "no");
  }
  Status image_tag(const std::string&, const std::string&, const std::string&) override { return ok(); }
  Result<std::vector<engine::DeleteItem>> image_remove(const std::string&, bool) override {
    return std::vector<engine::DeleteItem>{};
  }
  Result<engine::PruneReport> image_prune(bool) override { return engine::PruneReport{}; }

  // volumes
  Result<engine::Volume> volume_create(const engine::VolumeCreateRequest& r) override {
    created_volume = r;
    engine::Volume v;
    v.name = r.name.empty() ? std::string(64, 'f') : r.name;
    v.mountpoint = "/data/volumes/" + v.name + "/_data";
    v.created_at = "2026-11-25T12:00:00Z";
    v.labels = r.labels;
    v.options = r.options;
    return v;
  }
  Result<std::vector<engine::Volume>> volumes() override { return vols; }
  Result<engine::Volume> volume_inspect(const std::string& n) override {
    for (auto& v : vols)
      if (v.name == n) return v;
    return fail(Errc::NotFound, "get {}: no such volume", n);
  }
  Status volume_remove(const std::string& n, bool force) override {
    if (n == "busy" && !force) return fail(Errc::Conflict, "remove busy: volume is in use - [c1]");
    removed.push_back(n);
    return ok();
  }
  Result<engine::VolumePruneReport> volume_prune(bool all, const std::vector<std::string>& labels) override {
    prune_all = all;
    prune_labels = labels;
    return engine::VolumePruneReport{{"a", "b"}, 42};
  }
  // networks
  Result<engine::NetworkCreateResult> network_create(const engine::NetworkCreateRequest& r) override {
    created_network = r;
    if (r.name == "dup") return fail(Errc::Conflict, "network with name dup already exists");
    return engine::NetworkCreateResult{std::string(64, 'n'), ""};
  }
  Result<std::vector<engine::Network>> networks() override { return nets; }
  Result<engine::Network> network_inspect(const std::string& ref) override {
    for (auto& n : nets)
      if (n.name == ref || n.id == ref) return n;
    return fail(Errc::NotFound, "network {} not found", ref);
  }
  Status network_remove(const std::string& ref) override {
    if (ref == "bridge") return fail(Errc::PermissionDenied, "bridge is a pre-defined network and cannot be removed");
    return ok();
  }
  Status network_connect(const std::string& ref, const std::string& c, const engine::EndpointRequest& r) override {
    connected = ref + " " + c + " " + r.ipv4_address + " " + (r.aliases.empty() ? "" : r.aliases[0]);
    return ok();
  }
  Result<std::vector<std::string>> network_prune(const std::vector<std::string>& labels, int64_t until_ns) override {
    prune_labels = labels;
    prune_until = until_ns;
    return std::vector<std::string>{"old"};
  }
  Status network_disconnect(const std::string& ref, const std::string& c, bool force) override {
    connected = "-" + ref + " " + c + (force ? " force" : "");
    return ok();
  }
  // events
  Result<std::unique_ptr<engine::EventSubscription>> events_subscribe(const engine::EventFilter& f, int64_t since,
                                                                      int64_t until) override {
    BERTH_TRY(f.validate());
    sub_since = since;
    sub_until = until;
    return bus.subscribe(f, since, until);
  }
  // system df
  Result<engine::DiskUsage> system_df() override {
    engine::DiskUsage df;
    df.layers_size = 1000;
    engine::ImageDiskUsage iu;
    iu.summary.id = "sha256:" + std::string(64, 'a');
    iu.summary.repo_tags = {"busybox:latest"};
    iu.summary.size = 1000;
    iu.shared_size = 400;
    iu.containers = 2;
    df.images.push_back(iu);
    engine::VolumeDiskUsage vu;
    vu.volume.name = "v1";
    vu.volume.mountpoint = "/m";
    vu.size = 300;
    vu.ref_count = 1;
    df.volumes.push_back(vu);
    engine::ContainerDiskUsage cu;
    cu.id = std::string(64, 'c');
    cu.names = {"/web"};
    cu.size_rw = 12;
    cu.size_root_fs = 1012;
    df.containers.push_back(cu);
    return df;
  }
  Status registry_login(const engine::RegistryAuth& a) override {
    login = a;
    if (a.password != "good") return fail(Errc::PermissionDenied, "unauthorized: incorrect username or password");
    return ok();
  }
  // image transfer
  Status image_pull(const engine::PullRequest& r, const engine::ProgressFn& p) override {
    pulled = r;
    engine::JsonMessage m;
    m.status = "Pulling from bb";
    m.id = r.tag;
    BERTH_TRY(p(m));
    if (r.tag == "missing") return fail(Errc::NotFound, "manifest for bb:missing not found");
    engine::JsonMessage l;
    l.status = "Downloading";
    l.id = "0123456789ab";
    l.current = 10;
    l.total = 20;
    l.progress = "[==>  ]";
    BERTH_TRY(p(l));
    if (r.tag == "broken") return fail(Errc::Internal, "connection reset");
    engine::JsonMessage d;
    d.status = "Status: Downloaded newer image for bb:" + r.tag;
    return p(d);
  }
  Status image_push(const std::string& name, const std::string& tag, const engine::RegistryAuth&,
                    const engine::ProgressFn& p) override {
    if (name == "nosuch") return fail(Errc::NotFound, "An image does not exist locally with the tag: nosuch");
    engine::JsonMessage m;
    m.status = tag + ": digest: sha256:ab size: 527";
    BERTH_TRY(p(m));
    engine::JsonMessage a;
    a.empty_detail = true;
    a.aux_json = R"({"Tag":"v1","Digest":"sha256:ab","Size":527})";
    return p(a);
  }
  Result<std::string> image_import(const engine::BodyReader& body, const std::string& repo, const std::string& tag) override {
    std::string all;
    char buf[64];
    for (;;) {
      size_t n = BERTH_TRY(body(buf, sizeof buf));
      if (n == 0) break;
      all.append(buf, n);
    }
    imported = all + "|" + repo + "|" + tag;
    return std::string("sha256:") + std::string(64, 'e');
  }
  Result<UniqueFd> image_save(const std::vector<std::string>& names) override {
    saved = names;
    FILE* f = ::tmpfile();
    std::string data(300000, 't');
    ::fwrite(data.data(), 1, data.size(), f);
    ::fflush(f);
    UniqueFd fd(::dup(::fileno(f)));
    ::fclose(f);
    ::lseek(fd.get(), 0, SEEK_SET);
    return fd;
  }
  Result<std::vector<std::string>> image_load(const engine::BodyReader& body) override {
    loaded.clear();
    char buf[4096];
    for (;;) {
      size_t n = BERTH_TRY(body(buf, sizeof buf));
      if (n == 0) break;
      loaded.append(buf, n);
    }
    if (loaded == "garbage") return fail(Errc::InvalidArgument, "load: neither index.json nor manifest.json");
    return std::vector<std::string>{"busybox:latest", "sha256:" + std::string(64, 'd')};
  }

  std::vector<engine::Volume> vols;
  std::vector<engine::Network> nets;
  engine::EventBus bus;
  engine::VolumeCreateRequest created_volume;
  engine::NetworkCreateRequest created_network;
  std::vector<std::string> removed, prune_labels, saved;
  bool prune_all = false;
  std::string connected, imported, loaded;
  int64_t sub_since = -1, sub_until = -1, prune_until = -1;
  engine::RegistryAuth login;
  engine::PullRequest pulled;
};

struct ObjectsRoutes : ::testing::Test {
  Fake fake;
  ApiHandler handler{fake};
  Resp call(const std::string& method, const std::string& target, const std::string& body = "",
            net::http::Headers h = {}) {
    Req q(method, target, body, std::move(h));
    Resp r;
    handler(q, r);
    return r;
  }
};

TEST_F(ObjectsRoutes, VolumeCreateInspectDelete) {
  auto r = call("POST", "/v1.41/volumes/create",
                R"({"Name":"v1","Driver":"local","Labels":{"a":"b"},"DriverOpts":{"type":"tmpfs"}})" "\n");
  ASSERT_EQ(r.status, 201) << r.body;
  auto j = r.body_json();
  EXPECT_EQ(j["Name"], "v1");
  EXPECT_EQ(j["Mountpoint"], "/data/volumes/v1/_data");
  EXPECT_EQ(j["Labels"], (json{{"a", "b"}}));
  EXPECT_EQ(j["Options"], (json{{"type", "tmpfs"}}));
  EXPECT_EQ(j["Scope"], "local");
  EXPECT_EQ(fake.created_volume.driver, "local");
  r = call("POST", "/volumes/create", "{}");
  ASSERT_EQ(r.status, 201);
  EXPECT_TRUE(r.body_json()["Labels"].is_null());
  r = call("POST", "/volumes/create", "{not json");
  EXPECT_EQ(r.status, 400);
  r = call("GET", "/v1.41/volumes/nosuch");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body_json()["message"], "get nosuch: no such volume");
  EXPECT_EQ(call("DELETE", "/v1.41/volumes/busy").status, 409);
  EXPECT_EQ(call("DELETE", "/v1.41/volumes/busy?force=1").status, 204);
  EXPECT_EQ(fake.removed, std::vector<std::string>{"busy"});
}

TEST_F(ObjectsRoutes, VolumeListFilters) {
  engine::Volume a, b, c;
  a.name = "alpha";
  a.labels = {{"tier", "db"}};
  b.name = "beta";
  b.refs = {"c1"};
  c.name = "gamma";
  fake.vols = {a, b, c};
  auto names = [&](const std::string& q) {
    auto r = call("GET", "/v1.41/volumes" + q);
    std::vector<std::string> out;
    if (r.status != 200) return std::vector<std::string>{std::to_string(r.status)};
    auto j = r.body_json();
    for (auto& v : j["Volumes"]) out.push_back(v["Name"]);
    EXPECT_TRUE(j["Warnings"].is_null());
    return out;
  };
  EXPECT_EQ(names(""), (std::vector<std::string>{"alpha", "beta", "gamma"}));
  EXPECT_EQ(names("?filters=%7B%22dangling%22%3A%7B%22true%22%3Atrue%7D%7D"), (std::vector<std::string>{"alpha", "gamma"}));
  EXPECT_EQ(names("?filters=%7B%22dangling%22%3A%7B%22false%22%3Atrue%7D%7D"), (std::vector<std::string>{"beta"}));
  EXPECT_EQ(names("?filters=%7B%22label%22%3A%7B%22tier%3Ddb%22%3Atrue%7D%7D"), (std::vector<std::string>{"alpha"}));
  EXPECT_EQ(names("?filters=%7B%22name%22%3A%7B%22amm%22%3Atrue%7D%7D"), (std::vector<std::string>{"gamma"}));
  EXPECT_EQ(names("?filters=%7B%22colour%22%3A%7B%22x%22%3Atrue%7D%7D"), (std::vector<std::string>{"400"}));
}

TEST_F(ObjectsRoutes, VolumePruneFollowsTheApiVersion) {
  auto r = call("POST", "/v1.41/volumes/prune");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(fake.prune_all);  // 1.41: every unused volume
  EXPECT_EQ(r.body_json(), (json{{"VolumesDeleted", {"a", "b"}}, {"SpaceReclaimed", 42}}));
  call("POST", "/volumes/prune");
  EXPECT_FALSE(fake.prune_all);  // current API: anonymous only
  call("POST", "/v1.41/volumes/prune?filters=%7B%22all%22%3A%7B%22false%22%3Atrue%7D%2C%22label%21%22%3A%7B%22k%22%3Atrue%7D%7D");
  EXPECT_FALSE(fake.prune_all);
  EXPECT_EQ(fake.prune_labels, std::vector<std::string>{"!k"});
}

TEST_F(ObjectsRoutes, NetworkCreateParsesDockersRequest) {
  auto r = call("POST", "/v1.41/networks/create",
                R"({"Name":"n1","Driver":"bridge","CheckDuplicate":true,"IPAM":{"Driver":"default","Options":{},)"
                R"("Config":[{"Subnet":"10.1.0.0/24","Gateway":"10.1.0.9"}]},"Internal":true,"Attachable":false,)"
                R"("Ingress":false,"ConfigOnly":false,"ConfigFrom":null,"Options":{"mtu":"1400"},"Labels":{"l":"v"},"Scope":""})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.body_json(), (json{{"Id", std::string(64, 'n')}, {"Warning", ""}}));
  auto& c = fake.created_network;
  EXPECT_EQ(c.name, "n1");
  EXPECT_TRUE(c.internal);
  ASSERT_EQ(c.ipam_config.size(), 1u);
  EXPECT_EQ(c.ipam_config[0].subnet, "10.1.0.0/24");
  EXPECT_EQ(c.ipam_config[0].gateway, "10.1.0.9");
  EXPECT_EQ(c.options.at("mtu"), "1400");
  EXPECT_EQ(c.labels.at("l"), "v");
  r = call("POST", "/v1.41/networks/create", R"({"Name":"dup"})");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body_json()["message"], "network with name dup already exists");
}

TEST_F(ObjectsRoutes, NetworkListInspectDeleteConnect) {
  engine::Network br, user;
  br.name = "bridge";
  br.id = std::string(64, '1');
  br.ipam_options_null = true;
  br.ipam_config = {{"172.17.0.0/16", "", "", {}}};
  user.name = "app";
  user.id = std::string(64, '2');
  user.ipam_config = {{"172.18.0.0/16", "", "172.18.0.1", {}}};
  engine::NetworkEndpoint ep;
  ep.container_id = std::string(64, 'c');
  ep.name = "web";
  ep.ipv4_address = "172.18.0.2/16";
  user.containers[ep.container_id] = ep;
  fake.nets = {br, user};

  auto r = call("GET", "/v1.41/networks");
  ASSERT_EQ(r.status, 200);
  auto list = r.body_json();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_TRUE(list[0]["IPAM"]["Options"].is_null());
  EXPECT_EQ(list[0]["IPAM"]["Config"], (json::array({{{"Subnet", "172.17.0.0/16"}}})));
  EXPECT_EQ(list[1]["Containers"], json::object());  // list does not show endpoints
  r = call("GET", "/v1.41/networks?filters=%7B%22type%22%3A%7B%22custom%22%3Atrue%7D%7D");
  ASSERT_EQ(r.body_json().size(), 1u);
  EXPECT_EQ(r.body_json()[0]["Name"], "app");
  r = call("GET", "/v1.41/networks/app");
  ASSERT_EQ(r.status, 200);
  auto n = r.body_json();
  EXPECT_EQ(n["IPAM"]["Options"], json::object());
  EXPECT_EQ(n["ConfigFrom"], (json{{"Network", ""}}));
  EXPECT_EQ(n["Containers"][std::string(64, 'c')]["IPv4Address"], "172.18.0.2/16");
  EXPECT_EQ(n["Containers"][std::string(64, 'c')]["Name"], "web");
  EXPECT_EQ(call("GET", "/v1.41/networks/nosuch").status, 404);
  r = call("DELETE", "/v1.41/networks/bridge");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(call("DELETE", "/v1.41/networks/app").status, 204);
  r = call("POST", "/v1.41/networks/app/connect",
           R"({"Container":"web","EndpointConfig":{"IPAMConfig":{"IPv4Address":"172.18.0.9"},"Aliases":["w"]}})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(fake.connected, "app web 172.18.0.9 w");
  r = call("POST", "/v1.41/networks/app/disconnect", R"({"Container":"web","Force":true})");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(fake.connected, "-app web force");
  EXPECT_EQ(call("POST", "/v1.41/networks/app/connect", "{}").status, 400);
}

TEST_F(ObjectsRoutes, NetworkPruneWithLabelsAndUntil) {
  auto r = call("POST", "/v1.41/networks/prune?filters=%7B%22until%22%3A%7B%221700000000%22%3Atrue%7D%2C%22label%22%3A%7B%22a%22%3Atrue%7D%7D");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body_json(), (json{{"NetworksDeleted", {"old"}}}));
  EXPECT_EQ(fake.prune_until, 1'700'000'000'000'000'000);
  EXPECT_EQ(fake.prune_labels, std::vector<std::string>{"a"});
  int64_t before = engine::now_unix_nano();
  r = call("POST", "/v1.41/networks/prune?filters=%7B%22until%22%3A%7B%221h30m%22%3Atrue%7D%7D");
  ASSERT_EQ(r.status, 200);
  EXPECT_NEAR(static_cast<double>(before - fake.prune_until), 5400e9, 60e9);
  EXPECT_EQ(call("POST", "/v1.41/networks/prune?filters=%7B%22until%22%3A%7B%22soon%22%3Atrue%7D%7D").status, 400);
}

TEST_F(ObjectsRoutes, EventsReplayWithLegacyFieldsAndEndAtUntil) {
  engine::Event e;
  e.type = "container";
  e.action = "start";
  e.actor_id = std::string(64, 'c');
  e.attributes = {{"image", "busybox"}, {"name", "web"}};
  e.time_nano = 1'700'000'000'500'000'000;
  e.time = 1'700'000'000;
  fake.bus.publish(e);
  engine::Event v;
  v.type = "volume";
  v.action = "create";
  v.actor_id = "v1";
  v.time_nano = 1'700'000'001'000'000'000;
  fake.bus.publish(v);
  auto r = call("GET", "/v1.41/events?since=1700000000&until=1700000002");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.streaming);
  EXPECT_TRUE(r.ended);
  EXPECT_EQ(fake.sub_since, 1'700'000'000'000'000'000);
  EXPECT_EQ(fake.sub_until, 1'700'000'002'000'000'000);
  ASSERT_EQ(r.chunks.size(), 2u);  // one JSON object per chunk
  auto lines = r.lines();
  EXPECT_EQ(lines[0]["status"], "start");
  EXPECT_EQ(lines[0]["id"], std::string(64, 'c'));
  EXPECT_EQ(lines[0]["from"], "busybox");
  EXPECT_EQ(lines[0]["Type"], "container");
  EXPECT_EQ(lines[0]["Actor"]["Attributes"]["name"], "web");
  EXPECT_EQ(lines[0]["scope"], "local");
  EXPECT_EQ(lines[0]["timeNano"], 1'700'000'000'500'000'000);
  EXPECT_FALSE(lines[1].contains("status"));  // volume events have no legacy fields
  EXPECT_EQ(lines[1]["Action"], "create");
  r = call("GET", "/v1.41/events?since=1700000000&until=1700000002&filters=%7B%22type%22%3A%7B%22volume%22%3Atrue%7D%7D");
  ASSERT_EQ(r.lines().size(), 1u);
  EXPECT_EQ(call("GET", "/v1.41/events?filters=%7B%22colour%22%3A%7B%22x%22%3Atrue%7D%7D").status, 400);
  EXPECT_EQ(call("GET", "/v1.41/events?since=later").status, 400);
  EXPECT_EQ(call("GET", "/v1.41/events?since=20&until=10").status, 400);
}

// An events stream with nothing to report whose client hangs up (closes, or only shuts its write side) ends
// at once: the route watches the client's socket and cancels the subscription. The fake's peer_gone() stays
// false, so only the watch can end the stream; a route that missed the hang-up would never return.
TEST_F(ObjectsRoutes, EventsEndWhenTheClientHangsUp) {
  for (bool half_close : {false, true}) {
    Req q("GET", "/v1.41/events?filters=%7B%22type%22%3A%7B%22volume%22%3Atrue%7D%7D");
    Resp r;
    ASSERT_TRUE(testing::hang_up_mid_stream(
        r, [&] { handler(q, r); }, half_close, [&] { EXPECT_EQ(fake.bus.subscribers(), 1u); }));
    EXPECT_EQ(r.status, 200);
    EXPECT_TRUE(r.ended);
    EXPECT_TRUE(r.chunks.empty());
    EXPECT_EQ(fake.bus.subscribers(), 0u) << "half_close " << half_close;
  }
}

TEST_F(ObjectsRoutes, SystemDfShape) {
  auto r = call("GET", "/v1.41/system/df");
  ASSERT_EQ(r.status, 200);
  auto j = r.body_json();
  EXPECT_EQ(j["LayersSize"], 1000);
  EXPECT_EQ(j["Images"][0]["SharedSize"], 400);
  EXPECT_EQ(j["Images"][0]["Containers"], 2);
  EXPECT_EQ(j["Images"][0]["RepoTags"], (json::array({"busybox:latest"})));
  EXPECT_EQ(j["Containers"][0]["SizeRw"], 12);
  EXPECT_EQ(j["Containers"][0]["SizeRootFs"], 1012);
  EXPECT_EQ(j["Containers"][0]["Names"], (json::array({"/web"})));
  EXPECT_EQ(j["Volumes"][0]["UsageData"], (json{{"RefCount", 1}, {"Size", 300}}));
  EXPECT_EQ(j["BuildCache"], json::array());
}

TEST_F(ObjectsRoutes, AuthSucceedsOr401) {
  auto r = call("POST", "/v1.41/auth", R"({"username":"u","password":"good","serveraddress":"127.0.0.1:5000"})");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body_json()["Status"], "Login Succeeded");
  EXPECT_EQ(fake.login.server_address, "127.0.0.1:5000");
  r = call("POST", "/v1.41/auth", R"({"username":"u","password":"bad","serveraddress":"127.0.0.1:5000"})");
  EXPECT_EQ(r.status, 401);
  EXPECT_NE(r.body_json()["message"].get<std::string>().find("unauthorized"), std::string::npos);
}

TEST_F(ObjectsRoutes, PullStreamsProgressAndHonoursRegistryAuth) {
  net::http::Headers h;
  std::string auth = image::registry::base64_encode(R"({"username":"me","password":"pw","serveraddress":"h:5000"})");
  for (auto& c : auth)  // docker sends base64url
    if (c == '+') c = '-';
    else if (c == '/') c = '_';
  h.add("X-Registry-Auth", auth);
  auto r = call("POST", "/v1.41/images/create?fromImage=h%3A5000%2Fbb&tag=v1", "", h);
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.streaming);
  EXPECT_EQ(fake.pulled.from_image, "h:5000/bb");
  EXPECT_EQ(fake.pulled.tag, "v1");
  EXPECT_EQ(fake.pulled.auth.username, "me");
  EXPECT_EQ(fake.pulled.auth.password, "pw");
  auto l = r.lines();
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0], (json{{"status", "Pulling from bb"}, {"id", "v1"}}));
  EXPECT_EQ(l[1]["progressDetail"], (json{{"current", 10}, {"total", 20}}));
  EXPECT_EQ(l[1]["progress"], "[==>  ]");
  EXPECT_EQ(l[2]["status"], "Status: Downloaded newer image for bb:v1");
  EXPECT_NE(r.body.find("}\r\n"), std::string::npos);
}

TEST_F(ObjectsRoutes, PullErrorsBeforeProgressAreHttpErrorsAfterAreInStream) {
  auto r = call("POST", "/v1.41/images/create?fromImage=bb&tag=missing");
  EXPECT_EQ(r.status, 404);
  EXPECT_FALSE(r.streaming);
  EXPECT_EQ(r.body_json()["message"], "manifest for bb:missing not found");
  r = call("POST", "/v1.41/images/create?fromImage=bb&tag=broken");
  ASSERT_EQ(r.status, 200);
  auto l = r.lines();
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[2]["error"], "connection reset");
  EXPECT_EQ(l[2]["errorDetail"]["message"], "connection reset");
  EXPECT_EQ(call("POST", "/v1.41/images/create").status, 400);
}

TEST_F(ObjectsRoutes, PushStreamsDigestAndAux) {
  auto r = call("POST", "/v1.41/images/127.0.0.1:5000/bb/push?tag=v1");
  ASSERT_EQ(r.status, 200);
  auto l = r.lines();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0]["status"], "v1: digest: sha256:ab size: 527");
  EXPECT_EQ(l[1]["aux"]["Digest"], "sha256:ab");
  EXPECT_EQ(l[1]["progressDetail"], json::object());
  EXPECT_EQ(call("POST", "/v1.41/images/nosuch/push?tag=v1").status, 404);
}

TEST_F(ObjectsRoutes, SaveStreamsATarOfEveryNamedImage) {
  auto r = call("GET", "/v1.41/images/get?names=busybox%3Alatest&names=127.0.0.1%3A5000%2Fbb%3Av1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(fake.saved, (std::vector<std::string>{"busybox:latest", "127.0.0.1:5000/bb:v1"}));
  EXPECT_EQ(r.headers.get("Content-Type"), "application/x-tar");
  EXPECT_EQ(r.body, std::string(300000, 't'));
  EXPECT_GT(r.chunks.size(), 1u);
  EXPECT_TRUE(r.ended);
  r = call("GET", "/v1.41/images/127.0.0.1:5000/bb:v1/get");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(fake.saved, std::vector<std::string>{"127.0.0.1:5000/bb:v1"});
  EXPECT_EQ(call("GET", "/v1.41/images/get").status, 400);
}

TEST_F(ObjectsRoutes, LoadReadsTheWholeBodyPastTheJsonLimit) {
  std::string tar(3 << 20, 'x');  // bigger than the 1 MiB JSON body limit
  auto r = call("POST", "/v1.41/images/load?quiet=1", tar);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(fake.loaded.size(), tar.size());
  auto l = r.lines();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0]["stream"], "Loaded image: busybox:latest\n");
  EXPECT_EQ(l[1]["stream"], "Loaded image ID: sha256:" + std::string(64, 'd') + "\n");
  r = call("POST", "/v1.41/images/load", "garbage");
  EXPECT_EQ(r.status, 400);
}

TEST_F(ObjectsRoutes, ImportFromTheRequestBody) {
  std::string tar(2 << 20, 'r');
  auto r = call("POST", "/v1.41/images/create?fromSrc=-&repo=imp&tag=1", tar);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(fake.imported, tar + "|imp|1");
  EXPECT_EQ(r.lines()[0]["status"], "sha256:" + std::string(64, 'e'));
  EXPECT_EQ(call("POST", "/v1.41/images/create?fromSrc=http%3A%2F%2Fx").status, 400);
}

TEST_F(ObjectsRoutes, StringMapsWithNonStringValuesAreRefusedLikeDockerd) {
  struct Case {
    const char* target;
    const char* body;
    const char* message;
  };
  const Case cases[] = {
      {"/v1.41/volumes/create", R"({"Name":"v1","Labels":{"a":1}})",
       "json: cannot unmarshal number into Go struct field VolumeCreateBody.Labels of type string"},
      {"/v1.41/volumes/create", R"({"Name":"v1","DriverOpts":{"a":true}})",
       "json: cannot unmarshal bool into Go struct field VolumeCreateBody.DriverOpts of type string"},
      {"/v1.41/volumes/create", R"({"Name":"v1","Labels":{"a":{}}})",
       "json: cannot unmarshal object into Go struct field VolumeCreateBody.Labels of type string"},
      {"/v1.41/volumes/create", R"({"Name":"v1","Labels":"x"})",
       "json: cannot unmarshal string into Go struct field VolumeCreateBody.Labels of type map[string]string"},
      {"/v1.41/networks/create", R"({"Name":"n1","Labels":{"a":1}})",
       "json: cannot unmarshal number into Go struct field NetworkCreateRequest.Labels of type string"},
      {"/v1.41/networks/create", R"({"Name":"n1","Labels":[1]})",
       "json: cannot unmarshal array into Go struct field NetworkCreateRequest.Labels of type map[string]string"},
      {"/v1.41/networks/create", R"({"Name":"n1","Options":{"mtu":1500}})",
       "json: cannot unmarshal number into Go struct field NetworkCreateRequest.Options of type string"},
      {"/v1.41/networks/create", R"({"Name":"n1","IPAM":{"Options":{"a":1}}})",
       "json: cannot unmarshal number into Go struct field IPAM.IPAM.Options of type string"},
      {"/v1.41/networks/create", R"({"Name":"n1","IPAM":{"Config":[{"AuxiliaryAddresses":{"a":[1]}}]}})",
       "json: cannot unmarshal array into Go struct field IPAMConfig.IPAM.Config.AuxiliaryAddresses of type string"},
  };
  for (const auto& c : cases) {
    fake.created_volume = {};
    fake.created_network = {};
    auto r = call("POST", c.target, c.body);
    EXPECT_EQ(r.status, 400) << c.body;
    EXPECT_EQ(r.body_json()["message"], c.message) << c.body;
    EXPECT_TRUE(fake.created_volume.name.empty()) << "nothing created for " << c.body;
    EXPECT_TRUE(fake.created_network.name.empty()) << "nothing created for " << c.body;
  }
  // null values read as "" (Go's zero value), as dockerd stores them
  auto r = call("POST", "/v1.41/volumes/create", R"({"Name":"v2","Labels":{"a":null,"b":"c"}})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(fake.created_volume.labels, (std::map<std::string, std::string>{{"a", ""}, {"b", "c"}}));
}

}  // namespace
}  // namespace berth::api
