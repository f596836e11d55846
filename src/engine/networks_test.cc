// NetworkStore on a temp dir: predefined networks, create rules, IPAM, resolution, endpoints, durability.
#include "engine/networks.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/file.h"
#include "base/testing/temp_dir.h"
#include "engine/events.h"

namespace berth::engine {
namespace {

TEST(NetworkStore, PredefinedNetworksExistAndKeepTheirIds) {
  testing::TempDir tmp;
  std::string bridge_id;
  {
    auto ns = *NetworkStore::open(tmp / "networks", nullptr);
    auto list = *ns->list();
    ASSERT_EQ(list.size(), 3u);
    auto b = *ns->get("bridge");
    bridge_id = b.id;
    EXPECT_EQ(b.id.size(), 64u);
    EXPECT_EQ(b.driver, "bridge");
    ASSERT_EQ(b.ipam_config.size(), 1u);
    EXPECT_EQ(b.ipam_config[0].subnet, "172.17.0.0/16");
    EXPECT_EQ(b.options.at("com.docker.network.bridge.default_bridge"), "true");
    EXPECT_EQ(ns->get("none")->driver, "null");
    EXPECT_EQ(ns->get("host")->driver, "host");
  }
  auto ns = *NetworkStore::open(tmp / "networks", nullptr);
  EXPECT_EQ(ns->list()->size(), 3u);
  EXPECT_EQ(ns->get("bridge")->id, bridge_id);
  for (auto n : {"bridge", "host", "none"}) {
    auto rm = ns->remove(n);
    ASSERT_FALSE(rm);
    EXPECT_EQ(rm.error().code(), Errc::PermissionDenied);
    EXPECT_EQ(rm.error().message(), std::string(n) + " is a pre-defined network and cannot be removed");
    auto cr = ns->create({.name = n});
    ASSERT_FALSE(cr);
    EXPECT_EQ(cr.error().code(), Errc::PermissionDenied);
  }
}

TEST(NetworkStore, CreateRulesAndSubnetAllocation) {
  testing::TempDir tmp;
  EventBus bus;
  auto ns = *NetworkStore::open(tmp / "networks", &bus);
  auto a = ns->create({.name = "n1", .labels = {{"team", "x"}}});
  ASSERT_TRUE(a) << a.error().message();
  auto n1 = *ns->get("n1");
  EXPECT_EQ(n1.id, a->id);
  ASSERT_EQ(n1.ipam_config.size(), 1u);
  EXPECT_EQ(n1.ipam_config[0].subnet, "172.18.0.0/16");
  EXPECT_EQ(n1.ipam_config[0].gateway, "172.18.0.1");
  auto b = *ns->create({.name = "n2"});
  EXPECT_EQ(ns->get("n2")->ipam_config[0].subnet, "172.19.0.0/16");
  auto dup = ns->create({.name = "n1"});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), Errc::Conflict);
  EXPECT_EQ(dup.error().message(), "network with name n1 already exists");
  EXPECT_EQ(ns->create({.name = "bad name"}).error().code(), Errc::InvalidArgument);
  EXPECT_EQ(ns->create({.name = "ov", .driver = "overlay"}).error().code(), Errc::NotFound);
  // explicit IPAM: kept; gateway defaulted to .1; overlaps refused; bad CIDR refused
  auto c = ns->create({.name = "n3", .ipam_config = {{"10.9.0.0/24", "", "", {}}}});
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(ns->get("n3")->ipam_config[0].gateway, "10.9.0.1");
  EXPECT_EQ(ns->create({.name = "n4", .ipam_config = {{"10.9.0.128/25", "", "", {}}}}).error().code(), Errc::Conflict);
  EXPECT_EQ(ns->create({.name = "n5", .ipam_config = {{"10.9.1.0/33", "", "", {}}}}).error().code(),
            Errc::InvalidArgument);
  EXPECT_EQ(ns->create({.name = "n6", .ipam_config = {{"10.9.2.0/24", "", "10.9.3.1", {}}}}).error().code(),
            Errc::InvalidArgument);
  auto evs = bus.recent(EventFilter{{{"type", {"network"}}, {"event", {"create"}}}}, 1, 0);
  ASSERT_EQ(evs.size(), 3u);
  EXPECT_EQ(evs[0].attributes.at("name"), "n1");
  EXPECT_EQ(evs[0].attributes.at("type"), "bridge");
  (void)b;
}

TEST(NetworkStore, ResolutionByIdNameAndPrefix) {
  testing::TempDir tmp;
  auto ns = *NetworkStore::open(tmp / "networks", nullptr);
  auto id = ns->create({.name = "web"})->id;
  EXPECT_EQ(ns->get(id)->name, "web");
  EXPECT_EQ(ns->get("web")->id, id);
  EXPECT_EQ(ns->get(id.substr(0, 12))->name, "web");
  auto nf = ns->get("nosuch");
  ASSERT_FALSE(nf);
  EXPECT_EQ(nf.error().code(), Errc::NotFound);
  EXPECT_EQ(nf.error().message(), "network nosuch not found");
  EXPECT_FALSE(ns->get("../../etc"));
}

TEST(NetworkStore, EndpointsAllocateAddressesAndBlockRemoval) {
  testing::TempDir tmp;
  std::string c1(64, '1'), c2(64, '2');
  auto ns = *NetworkStore::open(tmp / "networks", nullptr);
  ASSERT_TRUE(ns->create({.name = "app", .ipam_config = {{"10.5.0.0/29", "", "", {}}}}));
  auto e1 = ns->connect("app", {.container_id = c1, .container_name = "one"});
  ASSERT_TRUE(e1) << e1.error().message();
  EXPECT_EQ(e1->ipv4_address, "10.5.0.2/29");
  EXPECT_EQ(e1->mac_address, "02:42:0a:05:00:02");
  EXPECT_EQ(e1->gateway, "10.5.0.1");
  EXPECT_EQ(e1->network_name, "app");
  EXPECT_EQ(e1->network_id, ns->get("app")->id);
  EXPECT_EQ(ns->connect("app", {.container_id = c1})->endpoint_id, e1->endpoint_id);  // idempotent
  auto taken = ns->connect("app", {.container_id = c2, .ipv4_address = "10.5.0.2"});
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code(), Errc::Conflict);
  auto e2 = ns->connect("app", {.container_id = c2, .ipv4_address = "10.5.0.5"});
  ASSERT_TRUE(e2);
  EXPECT_EQ(e2->ipv4_address, "10.5.0.5/29");
  auto rm = ns->remove("app");
  ASSERT_FALSE(rm);
  EXPECT_EQ(rm.error().code(), Errc::PermissionDenied);
  EXPECT_NE(rm.error().message().find("has active endpoints"), std::string::npos);
  EXPECT_EQ(ns->get("app")->containers.at(c1).name, "one");
  // a /29 has 6 hosts: .1 gateway, .2 and .5 taken -> .3, .4, .6, then full
  std::vector<std::string> got;
  for (char c = 'a'; c <= 'd'; c++) {
    auto e = ns->connect("app", {.container_id = std::string(64, c)});
    got.push_back(e ? e->ipv4_address : "full");
  }
  EXPECT_EQ(got, (std::vector<std::string>{"10.5.0.3/29", "10.5.0.4/29", "10.5.0.6/29", "full"}));
  EXPECT_EQ(ns->disconnect("app", std::string(64, 'z'), false).error().code(), Errc::FailedPrecondition);
  EXPECT_TRUE(ns->disconnect("app", std::string(64, 'z'), true));
  ASSERT_TRUE(ns->disconnect("app", c1, false));
  ASSERT_TRUE(ns->disconnect_all(c2));
  for (char c = 'a'; c <= 'c'; c++) ASSERT_TRUE(ns->disconnect("app", std::string(64, c), false));
  EXPECT_TRUE(ns->get("app")->containers.empty());
  EXPECT_TRUE(ns->remove("app"));
  EXPECT_FALSE(ns->get("app"));
}

TEST(NetworkStore, EndpointsAreRuntimeStateNotWrittenToTheFile) {
  testing::TempDir tmp;
  std::string c1(64, '1');
  std::string id, ep_id;
  {
    auto ns = *NetworkStore::open(tmp / "networks", nullptr);
    id = ns->create({.name = "app", .ipam_config = {{"10.6.0.0/24", "", "", {}}}})->id;
    auto file = tmp / ("networks/" + id + ".json");
    auto before = read_file(file);
    ASSERT_TRUE(before);
    struct stat st0 {};
    ASSERT_EQ(::stat(file.c_str(), &st0), 0);
    auto e = ns->connect("app", {.container_id = c1, .container_name = "one"});
    ASSERT_TRUE(e);
    ep_id = e->endpoint_id;
    struct stat st1 {};
    ASSERT_EQ(::stat(file.c_str(), &st1), 0);
    EXPECT_EQ(st1.st_ino, st0.st_ino);  // not replaced
    EXPECT_EQ(*read_file(file), *before);
    EXPECT_EQ(before->find(c1), std::string::npos);
  }
  // a restarted daemon knows the definition only; the container service registers its running containers again
  auto ns = *NetworkStore::open(tmp / "networks", nullptr);
  auto app = *ns->get("app");
  EXPECT_EQ(app.id, id);
  EXPECT_EQ(app.ipam_config.at(0).subnet, "10.6.0.0/24");
  EXPECT_TRUE(app.containers.empty());
  auto again = ns->connect("app", {.container_id = c1, .container_name = "one", .ipv4_address = "10.6.0.7", .endpoint_id = ep_id});
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->endpoint_id, ep_id);
  EXPECT_EQ(again->ipv4_address, "10.6.0.7/24");
  EXPECT_EQ(ns->get("app")->containers.at(c1).endpoint_id, ep_id);
}

TEST(NetworkStore, OlderFilesWithEndpointsLoadWithoutThem) {
  testing::TempDir tmp;
  std::string id(64, 'e');
  ASSERT_TRUE(mkdir_all(tmp / "networks", 0700));
  ASSERT_TRUE(write_file_replace(tmp / ("networks/" + id + ".json"),
                         R"({"Name":"old","Id":")" + id + R"(","Created":"2026-01-01T00:00:00.000000000Z","Driver":"bridge",)"
                         R"("IPAMConfig":[{"Subnet":"10.7.0.0/24","Gateway":"10.7.0.1"}],)"
                         R"("Containers":{")" + std::string(64, '1') + R"(":{"Name":"gone","IPv4Address":"10.7.0.2/24"}}})"));
  auto ns = *NetworkStore::open(tmp / "networks", nullptr);
  auto old = ns->get("old");
  ASSERT_TRUE(old) << old.error().message();
  EXPECT_TRUE(old->containers.empty());
  EXPECT_EQ(ns->connect("old", {.container_id = std::string(64, '2')})->ipv4_address, "10.7.0.2/24");
  EXPECT_TRUE(ns->disconnect_all(std::string(64, '2')));
  EXPECT_TRUE(ns->remove("old"));
}

TEST(NetworkStore, PruneRemovesUnusedUserNetworksOnly) {
  testing::TempDir tmp;
  auto ns = *NetworkStore::open(tmp / "networks", nullptr);
  ASSERT_TRUE(ns->create({.name = "idle"}));
  ASSERT_TRUE(ns->create({.name = "kept", .labels = {{"keep", "1"}}}));
  ASSERT_TRUE(ns->create({.name = "busy"}));
  ASSERT_TRUE(ns->connect("busy", {.container_id = "c"}));
  EXPECT_TRUE(ns->prune({}, 1)->empty());  // everything is newer than 1970
  EXPECT_EQ(*ns->prune({"!keep"}, now_unix_nano() + 1'000'000'000), std::vector<std::string>{"idle"});
  EXPECT_EQ(*ns->prune(), std::vector<std::string>{"kept"});
  auto left = *ns->list();
  EXPECT_EQ(left.size(), 4u);  // bridge, host, none, busy
}

}  // namespace
}  // namespace berth::engine
