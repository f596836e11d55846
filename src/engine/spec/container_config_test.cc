#include "engine/spec/container_config.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "engine/spec/spec_builder.h"

namespace berth::engine::spec {
namespace {

using nlohmann::json;

// The body docker CLI v28 sends for `docker run -it --rm busybox:local sh` (captured against dockerd 20.10).
constexpr const char* kRunItBody = R"({"Hostname":"","Domainname":"","User":"","AttachStdin":true,"AttachStdout":true,
"AttachStderr":true,"Tty":true,"OpenStdin":true,"StdinOnce":true,"Env":null,"Cmd":["sh"],"Image":"busybox:local",
"Volumes":{},"WorkingDir":"","Entrypoint":null,"OnBuild":null,"Labels":{},"HostConfig":{"Binds":null,
"ContainerIDFile":"","LogConfig":{"Type":"","Config":{}},"NetworkMode":"default","PortBindings":{},
"RestartPolicy":{"Name":"no","MaximumRetryCount":0},"AutoRemove":true,"VolumeDriver":"","VolumesFrom":null,
"ConsoleSize":[40,120],"CapAdd":null,"CapDrop":null,"CgroupnsMode":"","Dns":[],"DnsOptions":[],"DnsSearch":[],
"ExtraHosts":null,"GroupAdd":null,"IpcMode":"","Cgroup":"","Links":null,"OomScoreAdj":0,"PidMode":"",
"Privileged":false,"PublishAllPorts":false,"ReadonlyRootfs":false,"SecurityOpt":null,"UTSMode":"","UsernsMode":"",
"ShmSize":0,"Isolation":"","CpuShares":0,"Memory":0,"NanoCpus":0,"CgroupParent":"","BlkioWeight":0,
"BlkioWeightDevice":[],"BlkioDeviceReadBps":[],"BlkioDeviceWriteBps":[],"BlkioDeviceReadIOps":[],
"BlkioDeviceWriteIOps":[],"CpuPeriod":0,"CpuQuota":0,"CpuRealtimePeriod":0,"CpuRealtimeRuntime":0,"CpusetCpus":"",
"CpusetMems":"","Devices":[],"DeviceCgroupRules":null,"DeviceRequests":null,"MemoryReservation":0,"MemorySwap":0,
"MemorySwappiness":-1,"OomKillDisable":false,"PidsLimit":0,"Ulimits":[],"CpuCount":0,"CpuPercent":0,
"IOMaximumIOps":0,"IOMaximumBandwidth":0,"MaskedPaths":null,"ReadonlyPaths":null},"NetworkingConfig":
{"EndpointsConfig":{"default":{"IPAMConfig":null,"Links":null,"Aliases":null,"MacAddress":"","DriverOpts":null,
"GwPriority":0,"NetworkID":"","EndpointID":"","Gateway":"","IPAddress":"","IPPrefixLen":0,"IPv6Gateway":"",
"GlobalIPv6Address":"","GlobalIPv6PrefixLen":0,"DNSNames":null}}}}
)";

// Builds a body from the captured one with a JSON-pointer-ish patch on HostConfig or the top level.
std::string body_with(const std::function<void(json&)>& patch) {
  json j = json::parse(kRunItBody);
  patch(j);
  return j.dump();
}

void expect_invalid(const std::string& body, std::string_view needle) {
  auto r = parse_create_request(body);
  ASSERT_FALSE(r) << "accepted: " << body.substr(0, 200);
  EXPECT_EQ(r.error().code(), Errc::InvalidArgument) << r.error().message();
  EXPECT_NE(r.error().message().find(needle), std::string::npos)
      << "message \"" << r.error().message() << "\" lacks \"" << needle << "\"";
}

TEST(ParseCreateRequest, CapturedDockerCliBody) {
  auto r = parse_create_request(kRunItBody);
  ASSERT_TRUE(r) << r.error().message();
  const Config& c = r->config;
  EXPECT_TRUE(c.tty);
  EXPECT_TRUE(c.open_stdin);
  EXPECT_TRUE(c.stdin_once);
  EXPECT_TRUE(c.attach_stdin);
  EXPECT_EQ(c.image, "busybox:local");
  ASSERT_TRUE(c.cmd);
  EXPECT_EQ(*c.cmd, std::vector<std::string>{"sh"});
  EXPECT_FALSE(c.env);
  EXPECT_FALSE(c.entrypoint);
  const HostConfig& h = r->host;
  EXPECT_TRUE(h.auto_remove);
  EXPECT_EQ(h.console_size, (std::vector<uint32_t>{40, 120}));
  // Daemon-side defaults, as dockerd's inspect shows them.
  EXPECT_EQ(h.shm_size, 64 << 20);
  EXPECT_EQ(h.log_config.type, "json-file");
  EXPECT_EQ(h.ipc_mode, "private");
  EXPECT_EQ(h.restart_policy.name, "no");
  EXPECT_FALSE(h.pids_limit);          // 0 -> unlimited (null)
  EXPECT_FALSE(h.memory_swappiness);   // -1 -> unset (null)
  ASSERT_TRUE(h.masked_paths);
  EXPECT_EQ(*h.masked_paths, default_masked_paths());
  ASSERT_TRUE(h.readonly_paths);
  EXPECT_EQ(*h.readonly_paths, default_readonly_paths());
  ASSERT_EQ(r->net.endpoints.count("default"), 1u);
}

TEST(ParseCreateRequest, InspectShapesMatchDockerd) {
  auto r = parse_create_request(kRunItBody);
  ASSERT_TRUE(r);
  // Key sets of dockerd 20.10's inspect (examples/container_inspect_running.resp.json).
  std::set<std::string> want_host = {
      "AutoRemove", "Binds", "BlkioDeviceReadBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteBps",
      "BlkioDeviceWriteIOps", "BlkioWeight", "BlkioWeightDevice", "CapAdd", "CapDrop", "Cgroup", "CgroupParent",
      "CgroupnsMode", "ConsoleSize", "ContainerIDFile", "CpuCount", "CpuPercent", "CpuPeriod", "CpuQuota",
      "CpuRealtimePeriod", "CpuRealtimeRuntime", "CpuShares", "CpusetCpus", "CpusetMems", "DeviceCgroupRules",
      "DeviceRequests", "Devices", "Dns", "DnsOptions", "DnsSearch", "ExtraHosts", "GroupAdd", "IOMaximumBandwidth",
      "IOMaximumIOps", "IpcMode", "Isolation", "KernelMemory", "KernelMemoryTCP", "Links", "LogConfig", "MaskedPaths",
      "Memory", "MemoryReservation", "MemorySwap", "MemorySwappiness", "NanoCpus", "NetworkMode", "OomKillDisable",
      "OomScoreAdj", "PidMode", "PidsLimit", "PortBindings", "Privileged", "PublishAllPorts", "ReadonlyPaths",
      "ReadonlyRootfs", "RestartPolicy", "Runtime", "SecurityOpt", "ShmSize", "UTSMode", "Ulimits", "UsernsMode",
      "VolumeDriver", "VolumesFrom"};
  std::set<std::string> got_host;
  json hj = to_json(r->host);
  for (auto it = hj.begin(); it != hj.end(); ++it) got_host.insert(it.key());
  EXPECT_EQ(got_host, want_host);
  EXPECT_TRUE(hj["PidsLimit"].is_null());
  EXPECT_TRUE(hj["MemorySwappiness"].is_null());
  EXPECT_TRUE(hj["Binds"].is_null());
  EXPECT_TRUE(hj["Devices"].is_array());
  EXPECT_EQ(hj["ShmSize"], 67108864);
  EXPECT_EQ(hj["LogConfig"], json::parse(R"({"Type":"json-file","Config":{}})"));
  EXPECT_EQ(hj["RestartPolicy"], json::parse(R"({"Name":"no","MaximumRetryCount":0})"));

  std::set<std::string> want_config = {"AttachStderr", "AttachStdin", "AttachStdout", "Cmd",       "Domainname",
                                       "Entrypoint",   "Env",         "Hostname",     "Image",     "Labels",
                                       "OnBuild",      "OpenStdin",   "StdinOnce",    "Tty",       "User",
                                       "Volumes",      "WorkingDir"};
  std::set<std::string> got_config;
  json cj = to_json(r->config);
  for (auto it = cj.begin(); it != cj.end(); ++it) got_config.insert(it.key());
  EXPECT_EQ(got_config, want_config);
  EXPECT_TRUE(cj["Volumes"].is_null());  // {} in the request prints null, as dockerd does
  EXPECT_TRUE(cj["Env"].is_null());
  EXPECT_TRUE(cj["Labels"].is_object());
}

TEST(ParseCreateRequest, RoundTripThroughStoredJson) {
  std::string body = body_with([](json& j) {
    j["Env"] = {"A=1", "B=2"};
    j["Entrypoint"] = "/bin/sh";  // StrSlice: a plain string
    j["ExposedPorts"] = {{"80", json::object()}, {"53/udp", json::object()}};
    j["Healthcheck"] = {{"Test", {"CMD-SHELL", "true"}}, {"Interval", 2000000000}, {"Retries", 2}};
    j["StopSignal"] = "SIGINT";
    j["StopTimeout"] = 3;
    auto& h = j["HostConfig"];
    h["Binds"] = {"v1:/data", "/tmp:/host:ro"};
    h["Memory"] = 64 << 20;
    h["PidsLimit"] = 100;
    h["Ulimits"] = {{{"Name", "nofile"}, {"Soft", 1024}, {"Hard", 2048}}};
    h["Mounts"] = {{{"Type", "tmpfs"}, {"Target", "/scratch"}, {"TmpfsOptions", {{"SizeBytes", 1 << 20}}}}};
    h["Init"] = true;
    h["Sysctls"] = {{"net.ipv4.ip_forward", "1"}};
    h["Tmpfs"] = {{"/run", "size=1m"}};
    h["RestartPolicy"] = {{"Name", "on-failure"}, {"MaximumRetryCount", 3}};
    h["AutoRemove"] = false;
  });
  auto r = parse_create_request(body);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r->config.entrypoint, std::vector<std::string>{"/bin/sh"});
  EXPECT_EQ(r->config.exposed_ports, (std::set<std::string>{"80/tcp", "53/udp"}));
  EXPECT_EQ(r->host.memory_swap, 2 * (64 << 20));  // dockerd's default: swap = 2 x memory
  json c1 = to_json(r->config), h1 = to_json(r->host);
  auto c2 = parse_config(c1);
  auto h2 = parse_host_config(h1);
  ASSERT_TRUE(c2) << c2.error().message();
  ASSERT_TRUE(h2) << h2.error().message();
  EXPECT_EQ(to_json(*c2), c1);
  EXPECT_EQ(to_json(*h2), h1);
  EXPECT_EQ(h1["Mounts"][0]["TmpfsOptions"]["SizeBytes"], 1 << 20);
  EXPECT_EQ(h1["Init"], true);
  EXPECT_EQ(c1["Healthcheck"]["Interval"], 2000000000);
}

// Every field family at once (also the fuzz seed corpus/create_request/full.json).
constexpr const char* kRichBody = R"json({
 "Hostname": "web",
 "Domainname": "example.org",
 "User": "app:extra",
 "Env": [
  "A=1",
  "B"
 ],
 "Cmd": "sh -c true",
 "Entrypoint": [
  ""
 ],
 "Image": "busybox",
 "Volumes": {
  "/data": {}
 },
 "WorkingDir": "/srv",
 "Labels": {
  "a": "b"
 },
 "ExposedPorts": {
  "80": {},
  "53/udp": {}
 },
 "Healthcheck": {
  "Test": [
   "CMD-SHELL",
   "true"
  ],
  "Interval": 1000000000,
  "Retries": 3
 },
 "StopSignal": "SIGINT",
 "StopTimeout": 5,
 "HostConfig": {
  "Binds": [
   "v1:/v1",
   "/tmp:/tmp2:ro,rslave",
   "/anon"
  ],
  "Memory": 67108864,
  "MemorySwap": -1,
  "MemoryReservation": 33554432,
  "NanoCpus": 500000000,
  "CpuShares": 512,
  "CpusetCpus": "0",
  "PidsLimit": 64,
  "Ulimits": [
   {
    "Name": "nofile",
    "Soft": 1024,
    "Hard": 2048
   }
  ],
  "CapAdd": [
   "SYS_ADMIN"
  ],
  "CapDrop": [
   "NET_RAW"
  ],
  "Privileged": false,
  "ReadonlyRootfs": true,
  "SecurityOpt": [
   "no-new-privileges",
   "seccomp={\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}}]}"
  ],
  "RestartPolicy": {
   "Name": "on-failure",
   "MaximumRetryCount": 3
  },
  "AutoRemove": false,
  "Init": true,
  "ShmSize": 1048576,
  "Sysctls": {
   "net.ipv4.ip_forward": "1",
   "kernel.shmmax": "4096"
  },
  "Devices": [
   {
    "PathOnHost": "/dev/null",
    "PathInContainer": "/dev/n",
    "CgroupPermissions": "rw"
   }
  ],
  "ExtraHosts": [
   "db:10.0.0.2"
  ],
  "Dns": [
   "1.1.1.1"
  ],
  "DnsSearch": [
   "example.org"
  ],
  "DnsOptions": [
   "ndots:2"
  ],
  "LogConfig": {
   "Type": "json-file",
   "Config": {
    "max-size": "10m",
    "max-file": "3"
   }
  },
  "NetworkMode": "none",
  "GroupAdd": [
   "audio"
  ],
  "Mounts": [
   {
    "Type": "tmpfs",
    "Target": "/scratch",
    "TmpfsOptions": {
     "SizeBytes": 1048576,
     "Mode": 448
    }
   },
   {
    "Type": "volume",
    "Source": "named",
    "Target": "/named",
    "VolumeOptions": {
     "NoCopy": true,
     "Labels": {
      "x": "y"
     }
    }
   }
  ],
  "Tmpfs": {
   "/run": "size=64k,exec"
  },
  "OomScoreAdj": 100,
  "BlkioWeight": 300,
  "DeviceCgroupRules": [
   "c 1:3 mr"
  ],
  "PortBindings": {
   "80/tcp": [
    {
     "HostIp": "127.0.0.1",
     "HostPort": "8080"
    }
   ]
  }
 },
 "NetworkingConfig": {
  "EndpointsConfig": {
   "n1": {
    "Aliases": [
     "a"
    ],
    "IPAMConfig": {
     "IPv4Address": "10.1.0.5"
    }
   }
  }
 }
})json";

TEST(ParseCreateRequest, RichBodyRoundTrips) {
  auto r = parse_create_request(kRichBody);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r->config.cmd, std::vector<std::string>{"sh -c true"});
  EXPECT_EQ(r->host.memory_swap, -1);
  EXPECT_EQ(r->host.mounts.size(), 2u);
  ASSERT_TRUE(r->host.security_opt);
  EXPECT_EQ(r->net.endpoints.at("n1").ipv4_address, "10.1.0.5");
  json c1 = to_json(r->config), h1 = to_json(r->host);
  auto c2 = parse_config(c1);
  auto h2 = parse_host_config(h1);
  ASSERT_TRUE(c2) << c2.error().message();
  ASSERT_TRUE(h2) << h2.error().message();
  EXPECT_EQ(to_json(*c2), c1);
  EXPECT_EQ(to_json(*h2), h1);
  auto m = mount_requests(r->config, r->host);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->size(), 7u);  // 3 binds, 2 mounts, 1 tmpfs, Config.Volumes /data
}

TEST(ParseCreateRequest, EmptyEntrypointIsExplicit) {
  auto r = parse_create_request(body_with([](json& j) { j["Entrypoint"] = {""}; }));
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->config.entrypoint);
  EXPECT_TRUE(r->config.entrypoint->empty());
  // Stored as dockerd prints it, [""], so a reloaded config keeps the image's entrypoint out.
  json stored = to_json(r->config);
  EXPECT_EQ(stored["Entrypoint"], json::array({""}));
  auto back = parse_config(stored);
  ASSERT_TRUE(back);
  ASSERT_TRUE(back->entrypoint);
  EXPECT_TRUE(back->entrypoint->empty());
}

TEST(ParseCreateRequest, KeysMatchCaseInsensitivelyLikeGo) {
  auto r = parse_create_request(R"({"image":"x","cmd":["a"],"hostconfig":{"memory":8388608}})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->config.image, "x");
  EXPECT_EQ(r->host.memory, 8388608);
}

TEST(ParseCreateRequest, NullLabelValuesReadAsEmpty) {
  auto r = parse_create_request(R"({"Image":"b","Labels":{"a":null,"b":"x"}})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->config.labels, (std::map<std::string, std::string>{{"a", ""}, {"b", "x"}}));
}

TEST(ParseCreateRequest, RejectsMalformedJsonAndWrongTypes) {
  expect_invalid("{", "invalid JSON");
  expect_invalid("[]", "body");
  expect_invalid(R"({"Cmd":5})", "Cmd");
  expect_invalid(R"({"Env":[1]})", "Env[0]");
  expect_invalid(R"({"Tty":"yes"})", "Tty");
  // dockerd's text for Labels
  expect_invalid(R"({"Labels":{"a":1}})",
                 "json: cannot unmarshal number into Go struct field ContainerConfigWrapper.Labels of type string");
  expect_invalid(R"({"Labels":{"a":"x","b":true}})",
                 "json: cannot unmarshal bool into Go struct field ContainerConfigWrapper.Labels of type string");
  expect_invalid(R"({"Labels":["a"]})",
                 "json: cannot unmarshal array into Go struct field ContainerConfigWrapper.Labels of type map[string]string");
  expect_invalid(R"({"HostConfig":{"Mounts":[{"Type":"volume","Target":"/d","VolumeOptions":{"Labels":{"a":1}}}]}})",
                 "Labels[a]: cannot unmarshal number into string");
  expect_invalid(R"({"HostConfig":"x"})", "HostConfig");
  expect_invalid(R"({"HostConfig":{"Memory":"1g"}})", "HostConfig.Memory");
  expect_invalid(R"({"HostConfig":{"Memory":1.5}})", "HostConfig.Memory");
  expect_invalid(R"({"HostConfig":{"Memory":1e30}})", "HostConfig.Memory");
  expect_invalid(R"({"HostConfig":{"Memory":99999999999999999999}})", "HostConfig.Memory");
  expect_invalid(R"({"HostConfig":{"BlkioWeight":70000}})", "HostConfig.BlkioWeight");
  expect_invalid(R"({"HostConfig":{"Binds":"/a:/b"}})", "HostConfig.Binds");
  expect_invalid(R"({"HostConfig":{"Ulimits":[{"Name":"nofile","Soft":"1"}]}})", "HostConfig.Ulimits[0].Soft");
  expect_invalid(R"({"HostConfig":{"ConsoleSize":[1]}})", "HostConfig.ConsoleSize");
  expect_invalid(R"({"HostConfig":{"RestartPolicy":[]}})", "HostConfig.RestartPolicy");
  expect_invalid(R"({"NetworkingConfig":{"EndpointsConfig":[]}})", "NetworkingConfig.EndpointsConfig");
  expect_invalid(R"({"HostConfig":{"Mounts":[{"Type":"bind","Source":"/a","Target":"/b","ReadOnly":1}]}})",
                 "HostConfig.Mounts[0].ReadOnly");
}

TEST(ParseCreateRequest, RejectsInvalidResources) {
  auto hc = [](const char* k, json v) { return body_with([&](json& j) { j["HostConfig"][k] = v; }); };
  expect_invalid(hc("Memory", -1), "HostConfig.Memory: invalid value -1");
  expect_invalid(hc("Memory", 1 << 20), "Minimum memory limit allowed is 6MB");
  expect_invalid(body_with([](json& j) {
                   j["HostConfig"]["Memory"] = 64 << 20;
                   j["HostConfig"]["MemorySwap"] = 32 << 20;
                 }),
                 "Minimum memoryswap limit should be larger than memory limit");
  expect_invalid(hc("MemorySwap", 64 << 20), "You should always set the Memory limit when using Memoryswap limit");
  expect_invalid(hc("MemorySwap", -2), "HostConfig.MemorySwap");
  expect_invalid(hc("MemoryReservation", -5), "HostConfig.MemoryReservation");
  expect_invalid(hc("MemorySwappiness", 101), "valid memory swappiness range is 0-100");
  expect_invalid(hc("CpuShares", -2), "HostConfig.CpuShares");
  expect_invalid(hc("NanoCpus", -1), "HostConfig.NanoCpus");
  expect_invalid(hc("NanoCpus", 1000000000000LL), "Range of CPUs is from 0.01");
  expect_invalid(body_with([](json& j) {
                   j["HostConfig"]["NanoCpus"] = 500000000;
                   j["HostConfig"]["CpuPeriod"] = 100000;
                 }),
                 "Nano CPUs and CPU Period cannot both be set");
  expect_invalid(hc("CpuPeriod", 10), "CPU cfs period can not be less than 1ms");
  expect_invalid(hc("CpuQuota", 10), "CPU cfs quota can not be less than 1ms");
  expect_invalid(hc("CpusetCpus", "0-x"), "Invalid value 0-x for cpuset cpus");
  expect_invalid(hc("CpusetCpus", "3-1"), "cpuset cpus");
  expect_invalid(hc("CpusetMems", "a"), "cpuset mems");
  expect_invalid(hc("BlkioWeight", 5), "Range of blkio weight is from 10 to 1000");
  expect_invalid(hc("OomScoreAdj", 1001), "range for oom score adj is [-1000, 1000]");
  expect_invalid(hc("ShmSize", -1), "SHM size can not be less than 0");
  expect_invalid(hc("KernelMemory", 1 << 30), "HostConfig.KernelMemory");
  expect_invalid(hc("BlkioDeviceReadBps", json::array({{{"Path", "/dev/sda"}, {"Rate", 1}}})),
                 "HostConfig.BlkioDeviceReadBps");
  expect_invalid(hc("DeviceRequests", json::array({{{"Driver", "nvidia"}}})), "HostConfig.DeviceRequests");
}

TEST(ParseCreateRequest, RejectsBadRestartPolicies) {
  auto rp = [](json v) { return body_with([&](json& j) {
    j["HostConfig"]["RestartPolicy"] = v;
    j["HostConfig"]["AutoRemove"] = false;
  }); };
  expect_invalid(rp({{"Name", "on-failure:x"}}), "invalid restart policy 'on-failure:x'");
  expect_invalid(rp({{"Name", "sometimes"}}), "invalid restart policy 'sometimes'");
  expect_invalid(rp({{"Name", "always"}, {"MaximumRetryCount", 3}}),
                 "maximum retry count cannot be used with restart policy 'always'");
  expect_invalid(rp({{"Name", "on-failure"}, {"MaximumRetryCount", -1}}), "maximum retry count cannot be negative");
  expect_invalid(body_with([](json& j) { j["HostConfig"]["RestartPolicy"] = {{"Name", "always"}}; }),
                 "can't create 'AutoRemove' container with restart policy");
  auto ok1 = parse_create_request(rp({{"Name", "on-failure"}, {"MaximumRetryCount", 5}}));
  ASSERT_TRUE(ok1) << ok1.error().message();
  EXPECT_EQ(ok1->host.restart_policy.maximum_retry_count, 5);
  ASSERT_TRUE(parse_create_request(rp({{"Name", "unless-stopped"}})));
  auto empty = parse_create_request(rp({{"Name", ""}}));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->host.restart_policy.name, "no");
}

TEST(ParseCreateRequest, RejectsBadMounts) {
  auto binds = [](std::vector<std::string> b) { return body_with([&](json& j) { j["HostConfig"]["Binds"] = b; }); };
  expect_invalid(binds({"v1:data"}), "mount path must be absolute");
  expect_invalid(binds({"/a:/b:/c:/d"}), "invalid volume specification: '/a:/b:/c:/d'");
  expect_invalid(binds({"/a:/b:xx"}), "invalid mode: xx");
  expect_invalid(binds({"/a:/b:ro,rw"}), "invalid mode: ro,rw");
  expect_invalid(binds({"/data:rw"}), "invalid volume specification");
  expect_invalid(binds({"/a:/"}), "destination can't be '/'");
  expect_invalid(binds({"bad$name:/data"}), "includes invalid characters for a local volume name");
  expect_invalid(binds({"v1:/data", "/tmp:/data/"}), "Duplicate mount point: /data");
  expect_invalid(binds({""}), "invalid volume specification");
  auto mounts = [](json m) { return body_with([&](json& j) { j["HostConfig"]["Mounts"] = json::array({m}); }); };
  expect_invalid(mounts({{"Type", "bind"}, {"Target", "/b"}}), "field Source must not be empty");
  expect_invalid(mounts({{"Type", "bind"}, {"Source", "rel"}, {"Target", "/b"}}), "mount path must be absolute");
  expect_invalid(mounts({{"Type", "bind"}, {"Source", "/a"}, {"Target", "b"}}), "mount path must be absolute");
  expect_invalid(mounts({{"Type", "tmpfs"}, {"Source", "x"}, {"Target", "/t"}}), "field Source must not be specified");
  expect_invalid(mounts({{"Type", "nfs"}, {"Target", "/t"}}), "mount type unknown");
  expect_invalid(mounts({{"Type", "bind"}, {"Source", "/a"}, {"Target", "/t"}, {"VolumeOptions", json::object()}}),
                 "field VolumeOptions must not be specified");
  expect_invalid(mounts({{"Type", "bind"}, {"Source", "/a"}, {"Target", "/t"}, {"BindOptions", {{"Propagation", "odd"}}}}),
                 "invalid propagation mode");
  expect_invalid(mounts({{"Type", "tmpfs"}, {"Target", "/t"}, {"TmpfsOptions", {{"SizeBytes", -1}}}}),
                 "invalid tmpfs size");
  expect_invalid(body_with([](json& j) { j["HostConfig"]["Tmpfs"] = {{"run", ""}}; }), "mount path must be absolute");
  expect_invalid(body_with([](json& j) { j["HostConfig"]["Tmpfs"] = {{"/run", "size=lots"}}; }), "invalid tmpfs option");
  expect_invalid(body_with([](json& j) { j["Volumes"] = {{"data", json::object()}}; }), "Volumes");
  expect_invalid(body_with([](json& j) { j["WorkingDir"] = "rel/dir"; }),
                 "the working directory 'rel/dir' is invalid, it needs to be an absolute path");
}

TEST(ParseCreateRequest, RejectsBadSecurityAndNamespaces) {
  auto hc = [](const char* k, json v) { return body_with([&](json& j) { j["HostConfig"][k] = v; }); };
  expect_invalid(hc("CapAdd", {"CAP_FOO"}), "HostConfig.CapAdd: unknown capability: \"CAP_FOO\"");
  expect_invalid(hc("CapDrop", {"nope"}), "HostConfig.CapDrop");
  expect_invalid(hc("Ulimits", json::array({{{"Name", "nofile"}, {"Soft", 10}, {"Hard", 5}}})),
                 "ulimit soft limit must be less than or equal to hard limit: 10 > 5");
  expect_invalid(hc("Ulimits", json::array({{{"Name", "files"}, {"Soft", 1}, {"Hard", 1}}})), "invalid ulimit type: files");
  expect_invalid(hc("Ulimits", json::array({{{"Name", "nofile"}, {"Soft", -2}, {"Hard", 1}}})), "must not be negative");
  expect_invalid(hc("Ulimits", json::array({{{"Name", "core"}, {"Soft", -1}, {"Hard", 1}}})), "soft limit must be less");
  expect_invalid(hc("ExtraHosts", {"gw:host-gateway"}), "host-gateway");
  expect_invalid(body_with([](json& j) {
                   j["HostConfig"]["NetworkMode"] = "container:abc";
                   j["HostConfig"]["Sysctls"] = {{"net.ipv4.ip_forward", "1"}};
                 }),
                 "not allowed in host network namespace");
  expect_invalid(hc("Sysctls", {{"kernel.hostname", "x"}}), "sysctl \"kernel.hostname\" is not allowed");
  expect_invalid(hc("Sysctls", {{"net/../../x", "1"}}), "invalid sysctl key");
  expect_invalid(body_with([](json& j) {
                   j["HostConfig"]["NetworkMode"] = "host";
                   j["HostConfig"]["Sysctls"] = {{"net.ipv4.ip_forward", "1"}};
                 }),
                 "not allowed in host network namespace");
  expect_invalid(hc("SecurityOpt", {"bogus"}), "Invalid --security-opt: \"bogus\"");
  expect_invalid(hc("SecurityOpt", {"foo=bar"}), "invalid --security-opt 2: \"foo=bar\"");
  expect_invalid(hc("SecurityOpt", {"no-new-privileges=maybe"}), "no-new-privileges=maybe");
  expect_invalid(hc("SecurityOpt", {"seccomp=/etc/profile.json"}), "seccomp profile must be");
  expect_invalid(hc("SecurityOpt", {R"(seccomp={"defaultAction":"SCMP_ACT_NOPE"})"}), "Decoding seccomp profile failed");
  expect_invalid(hc("SecurityOpt", {R"(seccomp={"defaultAction":)"}), "Decoding seccomp profile failed");
  expect_invalid(hc("PidMode", "container:abc"), "HostConfig.PidMode");
  expect_invalid(hc("IpcMode", "container:abc"), "HostConfig.IpcMode");
  expect_invalid(hc("UsernsMode", "private"), "HostConfig.UsernsMode");
  expect_invalid(hc("UTSMode", "weird"), "HostConfig.UTSMode");
  expect_invalid(hc("CgroupnsMode", "weird"), "HostConfig.CgroupnsMode");
  expect_invalid(hc("NetworkMode", "container:"), "HostConfig.NetworkMode");
  expect_invalid(hc("Isolation", "hyperv"), "HostConfig.Isolation");
  expect_invalid(hc("Runtime", "kata"), "unknown or invalid runtime name: kata");
  expect_invalid(hc("LogConfig", {{"Type", "syslog"}}), "logger: no log driver named 'syslog' is registered");
  expect_invalid(hc("LogConfig", {{"Type", "json-file"}, {"Config", {{"max-size", "ten"}}}}), "invalid max-size");
  expect_invalid(hc("LogConfig", {{"Type", "json-file"}, {"Config", {{"max-file", "0"}}}}), "max-file cannot be less than 1");
  expect_invalid(hc("LogConfig", {{"Type", "json-file"}, {"Config", {{"colour", "red"}}}}), "unknown log opt 'colour'");
  expect_invalid(hc("ExtraHosts", {"db:300.1.1.1"}), "invalid IP address in add-host: \"300.1.1.1\"");
  expect_invalid(hc("ExtraHosts", {"nocolon"}), "bad format for add-host");
  expect_invalid(hc("Dns", {"dns.example"}), "dns.example is not an ip address");
  expect_invalid(hc("Devices", json::array({{{"PathOnHost", "/dev/null"}, {"CgroupPermissions", "rwx"}}})),
                 "invalid device mode: rwx");
  expect_invalid(hc("Devices", json::array({{{"PathOnHost", "dev/null"}}})), "invalid device path on host");
  expect_invalid(hc("DeviceCgroupRules", {"c 1:3"}), "invalid device cgroup rule format");
  expect_invalid(hc("MaskedPaths", {"proc/kcore"}), "MaskedPaths");
  expect_invalid(hc("VolumesFrom", {"other"}), "VolumesFrom");
  expect_invalid(hc("GroupAdd", {"a:b"}), "GroupAdd");
  expect_invalid(body_with([](json& j) {
                   j["HostConfig"]["NetworkMode"] = "host";
                   j["HostConfig"]["PortBindings"] = {{"80/tcp", {{{"HostPort", "8080"}}}}};
                 }),
                 "port publishing");
  expect_invalid(hc("PortBindings", {{"80/icmp", json::array()}}), "invalid proto: icmp");
  expect_invalid(body_with([](json& j) { j["Env"] = {"=x"}; }), "invalid environment variable");
  expect_invalid(body_with([](json& j) { j["Hostname"] = "a b"; }), "invalid hostname");
  expect_invalid(body_with([](json& j) { j["StopSignal"] = "SIGFOO"; }), "StopSignal: Invalid signal: SIGFOO");
  expect_invalid(body_with([](json& j) { j["StopSignal"] = "99"; }), "Invalid signal");
  for (const char* ok : {"SIGTERM", "term", "9", "SIGRTMIN+3", "SIGRTMAX-1"}) {
    EXPECT_TRUE(parse_create_request(body_with([&](json& j) { j["StopSignal"] = ok; }))) << ok;
  }
  {
    json big = json::object();
    for (int i = 0; i < 5000; ++i) big[fmt::format("k{}", i)] = i;
    expect_invalid(big.dump(), "too many fields");
  }
  expect_invalid(body_with([](json& j) { j["Healthcheck"] = {{"Test", {"RUN", "x"}}}; }), "unknown health check type");
  expect_invalid(body_with([](json& j) { j["Healthcheck"] = {{"Interval", 5}}; }), "cannot be less than 1ms");
}

TEST(ParseCreateRequest, AcceptsDockerSpellings) {
  auto r = parse_create_request(body_with([](json& j) {
    auto& h = j["HostConfig"];
    h["CapAdd"] = {"sys_admin", "CAP_NET_ADMIN"};
    h["CapDrop"] = {"ALL"};
    h["SecurityOpt"] = {"no-new-privileges", "seccomp=unconfined", "label=disable", "apparmor=unconfined",
                        "no-new-privileges:true"};
    h["Sysctls"] = {{"kernel.shmmax", "1000000"}, {"fs.mqueue.msg_max", "20"}, {"net.core.somaxconn", "1024"}};
    h["ExtraHosts"] = {"db:10.0.0.2", "v6:fe80::1"};
    h["Dns"] = {"1.1.1.1", "2606:4700::1111"};
    h["Devices"] = json::array({{{"PathOnHost", "/dev/null"}, {"PathInContainer", "/dev/n2"}, {"CgroupPermissions", "rw"}}});
    h["DeviceCgroupRules"] = {"c 1:3 mr", "a *:* m"};
    h["PidMode"] = "host";
    h["Runtime"] = "runc";
    h["Ulimits"] = json::array({{{"Name", "core"}, {"Soft", -1}, {"Hard", -1}}});
  }));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->host.runtime, "berth");
}

TEST(ParseBind, Forms) {
  auto v = parse_bind("v1:/data");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->kind, MountKind::Volume);
  EXPECT_EQ(v->source, "v1");
  EXPECT_EQ(v->destination, "/data");
  EXPECT_FALSE(v->read_only);

  auto b = parse_bind("/host/dir/:/dst/:ro,z");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->kind, MountKind::Bind);
  EXPECT_EQ(b->source, "/host/dir");
  EXPECT_EQ(b->destination, "/dst");
  EXPECT_TRUE(b->read_only);
  EXPECT_EQ(b->mode, "ro,z");
  EXPECT_EQ(b->propagation, "rprivate");
  EXPECT_TRUE(b->create_host_path);

  auto p = parse_bind("/h:/d:rw,rslave");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->propagation, "rslave");
  EXPECT_FALSE(p->read_only);

  auto a = parse_bind("/anon");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->kind, MountKind::Volume);
  EXPECT_EQ(a->source, "");

  auto nc = parse_bind("vol:/x:nocopy");
  ASSERT_TRUE(nc);
  EXPECT_TRUE(nc->no_copy);
  EXPECT_FALSE(parse_bind("/h:/x:nocopy"));  // nocopy is for volumes
}

TEST(MountRequests, OrderAndConfigVolumes) {
  Config c;
  c.volumes = std::set<std::string>{"/data", "/cache"};
  HostConfig h;
  h.binds = std::vector<std::string>{"named:/data"};
  h.tmpfs = {{"/run", "size=64k,exec"}};
  MountSpec m;
  m.type = "bind";
  m.source = "/srv";
  m.target = "/srv";
  m.bind_propagation = "rshared";
  h.mounts.push_back(m);
  auto r = mount_requests(c, h);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].destination, "/data");
  EXPECT_EQ((*r)[0].source, "named");
  EXPECT_EQ((*r)[1].destination, "/srv");
  EXPECT_EQ((*r)[1].propagation, "rshared");
  EXPECT_FALSE((*r)[1].create_host_path);  // --mount never creates the source
  EXPECT_EQ((*r)[2].kind, MountKind::Tmpfs);
  // exec overrides the default noexec; size in KiB.
  EXPECT_EQ((*r)[2].tmpfs_options, (std::vector<std::string>{"nosuid", "nodev", "size=64k", "exec"}));
  EXPECT_EQ((*r)[3].destination, "/cache");  // /data from Config.Volumes is covered by the bind
  EXPECT_TRUE((*r)[3].from_config_volumes);
}

TEST(InspectMountJson, DockerdShapes) {
  auto b = parse_bind("/tmp:/host:ro");
  ASSERT_TRUE(b);
  EXPECT_EQ(inspect_mount_json(*b, "/tmp", ""),
            json::parse(R"({"Type":"bind","Source":"/tmp","Destination":"/host","Mode":"ro","RW":false,"Propagation":"rprivate"})"));
  auto v = parse_bind("v1:/data");
  ASSERT_TRUE(v);
  EXPECT_EQ(inspect_mount_json(*v, "/var/lib/berth/volumes/v1/_data", "v1"),
            json::parse(R"({"Type":"volume","Name":"v1","Source":"/var/lib/berth/volumes/v1/_data","Destination":"/data",
                            "Driver":"local","Mode":"z","RW":true,"Propagation":""})"));
}

TEST(ParseSize, DockerUnits) {
  EXPECT_EQ(*parse_size("100"), 100);
  EXPECT_EQ(*parse_size("1k"), 1024);
  EXPECT_EQ(*parse_size("10m"), 10 << 20);
  EXPECT_EQ(*parse_size("10MB"), 10 << 20);
  EXPECT_EQ(*parse_size("1g"), 1LL << 30);
  EXPECT_EQ(*parse_size("1GiB"), 1LL << 30);
  EXPECT_EQ(*parse_size("1.5k"), 1536);
  EXPECT_EQ(*parse_size("2b"), 2);
  for (const char* bad : {"", "m", "1x", "1.2.3m", "-1", "1kk", ".5m", "99999999999p"}) EXPECT_FALSE(parse_size(bad)) << bad;
}

TEST(MergeImageConfig, DockerRules) {
  oci::ContainerConfig img;
  img.env = {"PATH=/img/bin", "LANG=C"};
  img.entrypoint = std::vector<std::string>{"/entry"};
  img.cmd = std::vector<std::string>{"serve"};
  img.working_dir = "/app";
  img.user = "app";
  img.labels = {{"a", "img"}, {"b", "img"}};
  img.volumes = {"/var/data"};
  img.stop_signal = "SIGQUIT";
  img.exposed_ports = {"80/tcp"};

  {  // nothing in the request: the image's everything
    Config c;
    merge_image_config(c, img);
    EXPECT_EQ(*process_args(c), (std::vector<std::string>{"/entry", "serve"}));
    EXPECT_EQ(*c.env, img.env);
    EXPECT_EQ(c.working_dir, "/app");
    EXPECT_EQ(c.user, "app");
    EXPECT_EQ(c.stop_signal, "SIGQUIT");
    EXPECT_EQ(c.volumes->count("/var/data"), 1u);
    EXPECT_EQ(c.exposed_ports.count("80/tcp"), 1u);
  }
  {  // request Cmd only: image entrypoint + request cmd
    Config c;
    c.cmd = std::vector<std::string>{"debug"};
    merge_image_config(c, img);
    EXPECT_EQ(*process_args(c), (std::vector<std::string>{"/entry", "debug"}));
  }
  {  // request Entrypoint: replaces the image's, and Cmd is the request's only (none here)
    Config c;
    c.entrypoint = std::vector<std::string>{"/bin/sh", "-c"};
    merge_image_config(c, img);
    EXPECT_EQ(*process_args(c), (std::vector<std::string>{"/bin/sh", "-c"}));
  }
  {  // --entrypoint "" and a cmd: only the cmd
    Config c;
    c.entrypoint = std::vector<std::string>{};
    c.cmd = std::vector<std::string>{"ls"};
    merge_image_config(c, img);
    EXPECT_EQ(*process_args(c), std::vector<std::string>{"ls"});
  }
  {  // --entrypoint "" without cmd: nothing to run
    Config c;
    c.entrypoint = std::vector<std::string>{};
    merge_image_config(c, img);
    auto a = process_args(c);
    ASSERT_FALSE(a);
    EXPECT_EQ(a.error().message(), "No command specified");
  }
  {  // Env merged by key, request first; labels: request wins
    Config c;
    c.env = std::vector<std::string>{"LANG=de_DE", "X=1"};
    c.labels = {{"a", "req"}};
    c.user = "1000:1000";
    merge_image_config(c, img);
    EXPECT_EQ(*c.env, (std::vector<std::string>{"LANG=de_DE", "X=1", "PATH=/img/bin"}));
    EXPECT_EQ(c.labels["a"], "req");
    EXPECT_EQ(c.labels["b"], "img");
    EXPECT_EQ(c.user, "1000:1000");
    // Idempotent.
    Config again = c;
    merge_image_config(again, img);
    EXPECT_EQ(to_json(again), to_json(c));
  }
  {  // healthcheck: zero fields from the image
    oci::ContainerConfig hi;
    hi.healthcheck = oci::Healthcheck{{"CMD", "check"}, 5, 6, 7, 0, 8};
    Config c;
    c.healthcheck = HealthConfig{{}, 100, 0, 0, 0};
    c.cmd = std::vector<std::string>{"x"};
    merge_image_config(c, hi);
    EXPECT_EQ(c.healthcheck->test, (std::vector<std::string>{"CMD", "check"}));
    EXPECT_EQ(c.healthcheck->interval, 100);
    EXPECT_EQ(c.healthcheck->timeout, 6);
    EXPECT_EQ(c.healthcheck->retries, 8);
  }
}

}  // namespace
}  // namespace berth::engine::spec
