// The real engine on a temp data root with busybox (from ImageStore::bootstrap_busybox) and the real
// berth-shim: create / wait / start / logs / inspect / exec / stop / rm, start errors, name conflicts, and
// live-restore (a second engine on the same roots finds the running container).
#include <stdlib.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/testing/root.h"
#include "base/testing/temp_dir.h"
#include "engine/engine.h"
#include "engine/monitor/stdcopy.h"
#include "image/image_store.h"

namespace berth::engine {
namespace {

using nlohmann::json;

std::string build_dir() {
  const char* b = getenv("BERTH_BUILD_DIR");
  return b ? b : "build";
}

class EngineRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    BERTH_REQUIRE_ROOT();
    shim_ = build_dir() + "/cmd/berth-shim/berth-shim";
    if (::access(shim_.c_str(), X_OK) != 0) GTEST_SKIP() << "berth-shim not built: " << shim_;
    if (::access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "no /bin/busybox";
    {
      image::ImageStoreOptions o;
      o.root = data_.path();
      auto st = image::ImageStore::open(o);
      ASSERT_TRUE(st) << st.error().message();
      auto b = (*st)->bootstrap_busybox("docker.io/library/busybox:latest");
      ASSERT_TRUE(b) << b.error().message();
    }
    cfg_.data_root = data_.path();
    char tmpl[] = "/tmp/bxrtXXXXXX";  // short: shim sockets live under it
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    exec_root_ = tmpl;
    cfg_.exec_root = exec_root_;
    cfg_.shim_path = shim_;
    cfg_.gc_high_watermark = 0;
    open();
  }
  void TearDown() override {
    if (eng_) {
      auto list = eng_->container_list(ListOptions{true});
      if (list)
        for (auto& c : json::parse(*list)) (void)eng_->container_remove(c["Id"], true, true);
    }
    eng_.reset();
    if (!exec_root_.empty()) (void)remove_all(exec_root_);
  }
  void open() {
    eng_.reset();
    auto e = open_engine(cfg_);
    ASSERT_TRUE(e) << e.error().message();
    eng_ = std::move(*e);
  }
  std::string create(const json& body, const std::string& name = "") {
    auto r = eng_->container_create(name, body.dump());
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return r ? r->id : "";
  }
  json inspect(const std::string& id) {
    auto r = eng_->container_inspect(id, false);
    EXPECT_TRUE(r) << (r ? "" : r.error().message());
    return r ? json::parse(*r) : json();
  }

  testing::TempDir data_;
  std::string exec_root_, shim_;
  DaemonConfig cfg_;
  std::unique_ptr<Engine> eng_;
};

TEST_F(EngineRoot, CreateWaitStartLogsInspectRemove) {
  auto id = create({{"Image", "busybox"}, {"Cmd", {"sh", "-c", "echo out; echo err >&2; exit 3"}}}, "runonce");
  ASSERT_EQ(id.size(), 64u);
  auto dup = eng_->container_create("runonce", json{{"Image", "busybox"}}.dump());
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code(), Errc::AlreadyExists);
  EXPECT_EQ(inspect("runonce")["State"]["Status"], "created");
  auto w = eng_->container_wait(id, WaitCondition::NextExit);
  ASSERT_TRUE(w);
  auto started = eng_->container_start(id.substr(0, 12));
  ASSERT_TRUE(started) << started.error().message();
  EXPECT_TRUE(*started);
  auto res = (*w)->get();
  EXPECT_EQ(res.status_code, 3);
  auto j = inspect(id);
  EXPECT_EQ(j["State"]["Status"], "exited");
  EXPECT_EQ(j["State"]["ExitCode"], 3);
  EXPECT_EQ(j["Name"], "/runonce");
  EXPECT_EQ(j["Path"], "sh");
  // logs: stdcopy frames of both streams
  std::string raw;
  LogsOptions lo;
  lo.stdout_stream = lo.stderr_stream = true;
  ASSERT_TRUE(eng_->container_logs(id, lo, -1, [&](std::string_view d) {
    raw += d;
    return true;
  }));
  monitor::StdcopyDecoder dec;
  dec.feed(raw);
  std::string out, err;
  for (;;) {
    auto f = dec.next();
    ASSERT_TRUE(f);
    if (!*f) break;
    ((*f)->stream == monitor::StdStream::Stdout ? out : err) += (*f)->payload;
  }
  EXPECT_EQ(out, "out\n");
  EXPECT_EQ(err, "err\n");
  // not-running wait returns at once with the last exit code
  auto w2 = eng_->container_wait(id, WaitCondition::NotRunning);
  ASSERT_TRUE(w2);
  EXPECT_EQ((*w2)->get().status_code, 3);
  auto kill = eng_->container_kill(id, "");
  ASSERT_FALSE(kill);
  EXPECT_EQ(kill.error().code(), Errc::Conflict);
  ASSERT_TRUE(eng_->container_remove(id, false, true));
  EXPECT_EQ(eng_->container_resolve(id).error().code(), Errc::NotFound);
}

TEST_F(EngineRoot, StartErrorsExecStopAndLiveRestore) {
  auto missing = eng_->container_create("", json{{"Image", "nosuch:img"}}.dump());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code(), Errc::NotFound);
  EXPECT_EQ(missing.error().message(), "No such image: nosuch:img");

  auto bad = create({{"Image", "busybox"}, {"Cmd", {"nosuchcmd"}}});
  auto st = eng_->container_start(bad);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::InvalidArgument);
  EXPECT_NE(st.error().message().find("executable file not found"), std::string::npos) << st.error().message();
  EXPECT_EQ(inspect(bad)["State"]["ExitCode"], 127);

  auto id = create({{"Image", "busybox"}, {"Cmd", {"sh", "-c", "while true; do sleep 1; done"}}}, "longrun");
  ASSERT_TRUE(eng_->container_start(id));
  auto again = eng_->container_start(id);
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again) << "already running: 304";
  int pid = inspect(id)["State"]["Pid"];
  EXPECT_GT(pid, 0);

  auto eid = eng_->exec_create(id, json{{"Cmd", {"sh", "-c", "echo from-exec; exit 5"}}, {"AttachStdout", true}}.dump());
  ASSERT_TRUE(eid) << eid.error().message();
  auto es = eng_->exec_start(*eid, false);
  ASSERT_TRUE(es) << es.error().message();
  std::string raw;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(es->fd.get(), buf, sizeof buf);
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(raw, monitor::stdcopy_frame(monitor::StdStream::Stdout, "from-exec\n"));
  auto ei = eng_->exec_inspect(*eid);
  ASSERT_TRUE(ei);
  EXPECT_EQ(json::parse(*ei)["ExitCode"], 5) << "recorded before the stream closed";

  // a second engine on the same roots (the daemon restarted) finds the container still running
  open();
  auto j = inspect("longrun");
  EXPECT_EQ(j["State"]["Status"], "running");
  EXPECT_EQ(j["State"]["Pid"], pid);
  auto stopped = eng_->container_stop("longrun", 1, "");
  ASSERT_TRUE(stopped) << stopped.error().message();
  EXPECT_TRUE(*stopped);
  j = inspect("longrun");
  EXPECT_EQ(j["State"]["Status"], "exited");
  EXPECT_EQ(j["State"]["ExitCode"], 137) << "sh as PID 1 ignores SIGTERM: killed after the timeout";
  auto s2 = eng_->container_stop("longrun", 1, "");
  ASSERT_TRUE(s2);
  EXPECT_FALSE(*s2) << "not running: 304";
}

TEST_F(EngineRoot, NetworkConnectIsRecordedOnTheContainerAndEndpointsAreRuntimeState) {
  auto net = eng_->network_create({.name = "perfnet", .ipam_config = {{"10.77.0.0/24", "", "", {}}}});
  ASSERT_TRUE(net) << net.error().message();
  auto id = create({{"Image", "busybox"}, {"Cmd", {"sh", "-c", "while true; do sleep 1; done"}}}, "netted");
  // connected while created: recorded, no endpoint yet
  auto c1 = eng_->network_connect("perfnet", "netted", {.aliases = {"web"}});
  ASSERT_TRUE(c1) << c1.error().message();
  auto nets = inspect(id)["NetworkSettings"]["Networks"];
  ASSERT_TRUE(nets.contains("bridge")) << nets.dump();
  ASSERT_TRUE(nets.contains("perfnet")) << nets.dump();
  EXPECT_EQ(nets["perfnet"]["NetworkID"], net->id);
  EXPECT_EQ(nets["perfnet"]["EndpointID"], "");
  EXPECT_EQ(nets["perfnet"]["Aliases"], json({"web"}));
  EXPECT_TRUE(eng_->network_inspect("perfnet")->containers.empty());
  auto twice = eng_->network_connect("perfnet", "netted", {});
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().code(), Errc::PermissionDenied);
  // running: an endpoint on each network, the same in both inspects
  ASSERT_TRUE(eng_->container_start(id));
  nets = inspect(id)["NetworkSettings"]["Networks"];
  EXPECT_EQ(nets["perfnet"]["IPAddress"], "10.77.0.2");
  EXPECT_EQ(nets["perfnet"]["IPPrefixLen"], 24);
  EXPECT_EQ(nets["perfnet"]["Gateway"], "10.77.0.1");
  EXPECT_EQ(nets["perfnet"]["MacAddress"], "02:42:0a:4d:00:02");
  std::string ep = nets["perfnet"]["EndpointID"];
  EXPECT_EQ(ep.size(), 64u);
  EXPECT_EQ(eng_->network_inspect("perfnet")->containers.at(id).endpoint_id, ep);
  EXPECT_TRUE(eng_->network_inspect("bridge")->containers.count(id));
  // the network files hold no endpoints: a restarted daemon gets them back from the container records
  open();
  auto after = eng_->network_inspect("perfnet");
  ASSERT_TRUE(after);
  ASSERT_TRUE(after->containers.count(id)) << "live-restore registers the running container's endpoint again";
  EXPECT_EQ(after->containers.at(id).endpoint_id, ep);
  EXPECT_EQ(after->containers.at(id).ipv4_address, "10.77.0.2/24");
  EXPECT_EQ(inspect(id)["NetworkSettings"]["Networks"]["perfnet"]["EndpointID"], ep);
  // disconnect at runtime: gone from both; connect again with a requested address
  ASSERT_TRUE(eng_->network_disconnect("perfnet", "netted", false));
  EXPECT_FALSE(inspect(id)["NetworkSettings"]["Networks"].contains("perfnet"));
  EXPECT_TRUE(eng_->network_inspect("perfnet")->containers.empty());
  EXPECT_EQ(eng_->network_disconnect("perfnet", "netted", false).error().code(), Errc::FailedPrecondition);
  EXPECT_TRUE(eng_->network_disconnect("perfnet", "netted", true));
  ASSERT_TRUE(eng_->network_connect("perfnet", id.substr(0, 12), {.ipv4_address = "10.77.0.9"}));
  nets = inspect(id)["NetworkSettings"]["Networks"];
  EXPECT_EQ(nets["perfnet"]["IPAddress"], "10.77.0.9");
  EXPECT_EQ(nets["perfnet"]["IPAMConfig"]["IPv4Address"], "10.77.0.9");
  auto busy = eng_->network_remove("perfnet");
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code(), Errc::PermissionDenied);
  // stopped: still attached, no endpoint; the network can go
  ASSERT_TRUE(eng_->container_stop(id, 0, ""));
  nets = inspect(id)["NetworkSettings"]["Networks"];
  EXPECT_TRUE(nets.contains("perfnet"));
  EXPECT_EQ(nets["perfnet"]["IPAddress"], "");
  EXPECT_EQ(nets["perfnet"]["EndpointID"], "");
  EXPECT_TRUE(eng_->network_inspect("perfnet")->containers.empty());
  EXPECT_TRUE(eng_->network_inspect("bridge")->containers.empty());
  auto list = json::parse(*eng_->container_list(ListOptions{true}));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_TRUE(list[0]["NetworkSettings"]["Networks"].contains("perfnet"));
  EXPECT_TRUE(eng_->network_remove("perfnet"));
}

}  // namespace
}  // namespace berth::engine
