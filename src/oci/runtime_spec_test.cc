#include "oci/runtime_spec.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/testing/temp_dir.h"

namespace berth::oci {
namespace {

using json = nlohmann::json;

// Every field the parser understands, with non-default values.
const char* kFullConfig = R"({
  "ociVersion": "1.1.0",
  "process": {
    "terminal": true,
    "consoleSize": {"height": 25, "width": 80},
    "user": {"uid": 1000, "gid": 1001, "umask": 18, "additionalGids": [5, 6], "username": "me"},
    "args": ["/bin/sh", "-c", "echo hi"],
    "env": ["PATH=/bin", "TERM=xterm"],
    "cwd": "/work",
    "capabilities": {
      "bounding": ["CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"],
      "effective": ["CAP_KILL"],
      "inheritable": ["CAP_NET_RAW"],
      "permitted": ["CAP_KILL", "CAP_BPF"],
      "ambient": ["CAP_PERFMON"]
    },
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 4096, "soft": 1024}, {"type": "RLIMIT_CORE", "hard": 0, "soft": 0}],
    "noNewPrivileges": true,
    "apparmorProfile": "berth-default",
    "oomScoreAdj": -500,
    "selinuxLabel": "system_u:system_r:container_t:s0"
  },
  "root": {"path": "rootfs", "readonly": true},
  "hostname": "box",
  "domainname": "example.org",
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/data", "type": "bind", "source": "/srv/data", "options": ["rbind", "ro", "rslave"],
     "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
     "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}
  ],
  "hooks": {
    "prestart": [{"path": "/usr/bin/hook", "args": ["hook", "prestart"], "env": ["A=1"], "timeout": 5}],
    "createRuntime": [{"path": "/bin/cr"}],
    "createContainer": [{"path": "/bin/cc"}],
    "startContainer": [{"path": "/bin/sc"}],
    "poststart": [{"path": "/bin/ps"}],
    "poststop": [{"path": "/bin/pst", "timeout": 1}]
  },
  "annotations": {"org.example.key": "value", "empty": ""},
  "linux": {
    "namespaces": [{"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"}, {"type": "mount"},
                   {"type": "ipc"}, {"type": "uts"}, {"type": "user"}, {"type": "cgroup"}, {"type": "time"}],
    "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 1000}, {"containerID": 1000, "hostID": 1000, "size": 1}],
    "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    "devices": [{"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0},
                {"type": "p", "path": "/dev/myfifo"}],
    "cgroupsPath": "/berth/box",
    "resources": {
      "devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw"}],
      "memory": {"limit": 536870912, "reservation": 268435456, "swap": 1073741824, "kernel": -1, "kernelTCP": 0,
                 "swappiness": 60, "disableOOMKiller": false, "useHierarchy": true, "checkBeforeUpdate": true},
      "cpu": {"shares": 1024, "quota": 50000, "burst": 10000, "period": 100000, "realtimeRuntime": 950000,
              "realtimePeriod": 1000000, "cpus": "0-1", "mems": "0", "idle": 0},
      "pids": {"limit": 64},
      "blockIO": {"weight": 500, "leafWeight": 300,
                  "weightDevice": [{"major": 8, "minor": 0, "weight": 600, "leafWeight": 200}],
                  "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                  "throttleWriteBpsDevice": [{"major": 8, "minor": 0, "rate": 2097152}],
                  "throttleReadIOPSDevice": [{"major": 8, "minor": 0, "rate": 100}],
                  "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 200}]},
      "hugepageLimits": [{"pageSize": "2MB", "limit": 209715200}],
      "unified": {"memory.high": "400000000", "io.max": "8:0 rbps=1048576"}
    },
    "sysctl": {"net.ipv4.ip_forward": "1", "kernel.msgmax": "8192", "net/ipv4/conf/eth0.100/forwarding": "0"},
    "timeOffsets": {"monotonic": {"secs": 86400, "nanosecs": 5}, "boottime": {"secs": -3, "nanosecs": 0}},
    "seccomp": {
      "defaultAction": "SCMP_ACT_ERRNO",
      "defaultErrnoRet": 1,
      "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
      "listenerPath": "/run/seccomp.sock",
      "listenerMetadata": "meta",
      "syscalls": [
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 255, "valueTwo": 3, "op": "SCMP_CMP_MASKED_EQ"}]},
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        {"names": ["openat2"], "action": "SCMP_ACT_NOTIFY"}
      ]
    },
    "rootfsPropagation": "rslave",
    "maskedPaths": ["/proc/kcore"],
    "readonlyPaths": ["/proc/sys"],
    "mountLabel": "system_u:object_r:container_file_t:s0"
  }
})";

// Smallest config that parses.
const char* kMinimalConfig = R"({"ociVersion": "1.1.0", "root": {"path": "rootfs"}})";

TEST(RuntimeSpec, ParsesFullConfig) {
  auto r = parse_runtime_spec(kFullConfig);
  ASSERT_TRUE(r) << r.error().message();
  const Spec& s = *r;
  EXPECT_EQ(s.oci_version, "1.1.0");
  EXPECT_EQ(s.root.path, "rootfs");
  EXPECT_TRUE(s.root.readonly);
  EXPECT_EQ(s.hostname, "box");
  EXPECT_EQ(s.domainname, "example.org");
  ASSERT_TRUE(s.process);
  const Process& p = *s.process;
  EXPECT_TRUE(p.terminal);
  ASSERT_TRUE(p.console_size);
  EXPECT_EQ(p.console_size->height, 25u);
  EXPECT_EQ(p.console_size->width, 80u);
  EXPECT_EQ(p.user.uid, 1000u);
  EXPECT_EQ(p.user.gid, 1001u);
  EXPECT_EQ(p.user.umask, 18u);
  EXPECT_EQ(p.user.additional_gids, (std::vector<uint32_t>{5, 6}));
  EXPECT_EQ(p.args, (std::vector<std::string>{"/bin/sh", "-c", "echo hi"}));
  EXPECT_EQ(p.cwd, "/work");
  ASSERT_TRUE(p.capabilities);
  EXPECT_EQ(p.capabilities->bounding, (std::vector<std::string>{"CAP_CHOWN", "CAP_CHECKPOINT_RESTORE"}));
  EXPECT_EQ(p.capabilities->ambient, (std::vector<std::string>{"CAP_PERFMON"}));
  ASSERT_EQ(p.rlimits.size(), 2u);
  EXPECT_EQ(p.rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(p.rlimits[0].hard, 4096u);
  EXPECT_EQ(p.rlimits[0].soft, 1024u);
  EXPECT_TRUE(p.no_new_privileges);
  EXPECT_EQ(p.oom_score_adj, -500);
  ASSERT_EQ(s.mounts.size(), 2u);
  EXPECT_EQ(s.mounts[1].options, (std::vector<std::string>{"rbind", "ro", "rslave"}));
  ASSERT_EQ(s.mounts[1].uid_mappings.size(), 1u);
  EXPECT_EQ(s.mounts[1].uid_mappings[0].host_id, 100000u);
  ASSERT_EQ(s.hooks.prestart.size(), 1u);
  EXPECT_EQ(s.hooks.prestart[0].timeout, 5);
  EXPECT_EQ(s.hooks.poststop[0].path, "/bin/pst");
  EXPECT_EQ(s.annotations.at("org.example.key"), "value");
  ASSERT_TRUE(s.linux);
  const Linux& l = *s.linux;
  EXPECT_EQ(l.namespaces.size(), 8u);
  EXPECT_TRUE(s.has_namespace(NamespaceType::Time));
  ASSERT_NE(s.find_namespace(NamespaceType::Network), nullptr);
  EXPECT_EQ(s.find_namespace(NamespaceType::Network)->path, "/proc/1/ns/net");
  EXPECT_EQ(l.uid_mappings.size(), 2u);
  ASSERT_EQ(l.devices.size(), 2u);
  EXPECT_EQ(l.devices[0].file_mode, 438u);
  EXPECT_EQ(l.devices[1].type, "p");
  ASSERT_TRUE(l.resources);
  ASSERT_TRUE(l.resources->memory);
  EXPECT_EQ(l.resources->memory->limit, 536870912);
  EXPECT_EQ(l.resources->memory->kernel, -1);
  EXPECT_EQ(l.resources->memory->swappiness, 60u);
  ASSERT_TRUE(l.resources->cpu);
  EXPECT_EQ(l.resources->cpu->cpus, "0-1");
  EXPECT_EQ(l.resources->cpu->quota, 50000);
  ASSERT_TRUE(l.resources->pids);
  EXPECT_EQ(l.resources->pids->limit, 64);
  ASSERT_TRUE(l.resources->block_io);
  EXPECT_EQ(l.resources->block_io->weight, 500);
  EXPECT_EQ(l.resources->block_io->throttle_write_iops_device.at(0).rate, 200u);
  EXPECT_EQ(l.resources->hugepage_limits.at(0).page_size, "2MB");
  EXPECT_EQ(l.resources->unified.at("io.max"), "8:0 rbps=1048576");
  EXPECT_EQ(l.resources->devices.at(1).major, 10);
  EXPECT_EQ(l.sysctl.at("kernel.msgmax"), "8192");
  EXPECT_EQ(l.time_offsets.at("monotonic").secs, 86400);
  EXPECT_EQ(l.time_offsets.at("monotonic").nanosecs, 5u);
  EXPECT_EQ(l.time_offsets.at("boottime").secs, -3);
  ASSERT_TRUE(l.seccomp);
  EXPECT_EQ(l.seccomp->default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(l.seccomp->default_errno_ret, 1u);
  ASSERT_EQ(l.seccomp->syscalls.size(), 4u);
  EXPECT_EQ(l.seccomp->syscalls[1].args.at(1).value_two, 3u);
  EXPECT_EQ(l.seccomp->syscalls[2].errno_ret, 38u);
  EXPECT_EQ(l.rootfs_propagation, "rslave");
  EXPECT_EQ(l.mount_label, "system_u:object_r:container_file_t:s0");
}

TEST(RuntimeSpec, FullConfigRoundTrips) {
  auto a = parse_runtime_spec(kFullConfig);
  ASSERT_TRUE(a) << a.error().message();
  std::string text = to_json(*a);
  auto b = parse_runtime_spec(text);
  ASSERT_TRUE(b) << b.error().message() << "\n" << text;
  EXPECT_EQ(to_json(*b), text);
  // Same document as the input, key order aside.
  EXPECT_EQ(json::parse(text), json::parse(kFullConfig));
}

TEST(RuntimeSpec, AbsentOptionalFieldsStayUnset) {
  auto r = parse_runtime_spec(kMinimalConfig);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->process);
  EXPECT_FALSE(r->linux);
  EXPECT_FALSE(r->root.readonly);
  EXPECT_TRUE(r->mounts.empty());
  EXPECT_FALSE(r->has_namespace(NamespaceType::Pid));

  auto s = parse_runtime_spec(R"({"ociVersion": "1.1.0", "root": {"path": "r"},
      "process": {"cwd": "/", "user": {"uid": 0, "gid": 0}},
      "linux": {"resources": {"memory": {"limit": 100}}}})");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_FALSE(s->process->capabilities);
  EXPECT_FALSE(s->process->oom_score_adj);
  EXPECT_FALSE(s->process->user.umask);
  EXPECT_FALSE(s->process->console_size);
  EXPECT_FALSE(s->linux->seccomp);
  EXPECT_FALSE(s->linux->resources->cpu);
  EXPECT_FALSE(s->linux->resources->memory->swap);
  EXPECT_FALSE(s->linux->resources->memory->reservation);
  EXPECT_EQ(s->linux->resources->memory->limit, 100);
}

TEST(RuntimeSpec, IgnoresUnknownKeysAndNull) {
  auto r = parse_runtime_spec(R"({"ociVersion": "1.2.0", "root": {"path": "r", "future": 1},
      "vm": {"hypervisor": {}}, "process": null, "hostname": null,
      "linux": {"intelRdt": {"closID": "x"}, "personality": {"domain": "LINUX"}, "namespaces": [{"type": "pid", "new": true}]}})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_FALSE(r->process);
  EXPECT_TRUE(r->has_namespace(NamespaceType::Pid));
}

TEST(RuntimeSpec, ParsesLargeAndNegativeNumbers) {
  auto r = parse_runtime_spec(R"({"ociVersion": "1.1.0", "root": {"path": "r"},
      "process": {"cwd": "/", "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 18446744073709551615, "soft": 18446744073709551615}]},
      "linux": {"resources": {"memory": {"limit": -1, "swap": -1}, "pids": {"limit": -1}}}})");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->process->rlimits[0].hard, UINT64_MAX);
  EXPECT_EQ(r->linux->resources->memory->limit, -1);
  EXPECT_EQ(r->linux->resources->pids->limit, -1);
}

struct BadCase {
  const char* name;
  const char* pointer;  // JSON pointer into kFullConfig; the value there is replaced (or removed when null)
  const char* value;    // JSON text; nullptr removes the member
  const char* want;     // substring of the error message (always starts with the field path)
};

const BadCase kBadCases[] = {
    // Wrong JSON types.
    {"root not object", "/root", "\"rootfs\"", "root: expected object, got string"},
    {"ociVersion number", "/ociVersion", "1", "ociVersion: expected string, got number"},
    {"args not array", "/process/args", "\"sh\"", "process.args: expected array, got string"},
    {"arg number", "/process/args/1", "7", "process.args[1]: expected string, got number"},
    {"uid negative", "/process/user/uid", "-1", "process.user.uid: -1 is negative"},
    {"uid float", "/process/user/uid", "1.5", "process.user.uid: expected integer, got number"},
    {"uid too big", "/process/user/uid", "4294967296", "process.user.uid: 4294967296 is out of range"},
    {"terminal string", "/process/terminal", "\"yes\"", "process.terminal: expected boolean, got string"},
    {"annotation value", "/annotations/empty", "3", "annotations.empty: expected string, got number"},
    {"sysctl value", "/linux/sysctl/kernel.msgmax", "8192", "linux.sysctl.kernel.msgmax: expected string, got number"},
    {"memory limit string", "/linux/resources/memory/limit", "\"1G\"",
     "linux.resources.memory.limit: expected integer, got string"},
    {"weight out of range", "/linux/resources/blockIO/weight", "70000",
     "linux.resources.blockIO.weight: 70000 is out of range"},
    {"seccomp arg value", "/linux/seccomp/syscalls/1/args/0/value", "\"8\"",
     "linux.seccomp.syscalls[1].args[0].value: expected integer, got string"},
    {"linux array", "/linux", "[]", "linux: expected object, got array"},
    // Required fields.
    {"missing ociVersion", "/ociVersion", nullptr, "ociVersion: required field is missing"},
    {"missing root", "/root", nullptr, "root: required field is missing"},
    {"missing root.path", "/root/path", nullptr, "root.path: required field is missing"},
    {"empty root.path", "/root/path", "\"\"", "root.path: must not be empty"},
    {"missing cwd", "/process/cwd", nullptr, "process.cwd: required field is missing"},
    // Namespaces.
    {"unknown namespace", "/linux/namespaces/2/type", "\"foo\"", "linux.namespaces[2].type: unknown namespace type \"foo\""},
    {"duplicate namespace", "/linux/namespaces/3/type", "\"pid\"", "linux.namespaces[3].type: duplicate namespace \"pid\""},
    {"namespace path relative", "/linux/namespaces/1/path", "\"proc/1/ns/net\"",
     "linux.namespaces[1].path: path \"proc/1/ns/net\" must be absolute"},
    // Paths.
    {"cwd relative", "/process/cwd", "\"work\"", "process.cwd: path \"work\" must be absolute"},
    {"mount destination relative", "/mounts/1/destination", "\"data\"",
     "mounts[1].destination: path \"data\" must be absolute"},
    {"hook path relative", "/hooks/poststart/0/path", "\"bin/ps\"", "hooks.poststart[0].path: path \"bin/ps\" must be absolute"},
    {"hook timeout zero", "/hooks/prestart/0/timeout", "0", "hooks.prestart[0].timeout: must be greater than 0"},
    {"device path relative", "/linux/devices/0/path", "\"dev/fuse\"", "linux.devices[0].path: path \"dev/fuse\" must be absolute"},
    {"device type unknown", "/linux/devices/0/type", "\"x\"", "linux.devices[0].type: unknown device type \"x\""},
    {"device missing major", "/linux/devices/0/major", nullptr, "linux.devices[0].major: required field is missing"},
    {"masked path relative", "/linux/maskedPaths/0", "\"proc/kcore\"", "linux.maskedPaths[0]: path \"proc/kcore\" must be absolute"},
    {"device rule type", "/linux/resources/devices/1/type", "\"z\"", "linux.resources.devices[1].type: unknown device type \"z\""},
    {"device rule access", "/linux/resources/devices/1/access", "\"rwx\"",
     "linux.resources.devices[1].access: \"rwx\" is not a subset of \"rwm\""},
    // Id mappings.
    {"mappings without userns", "/linux/namespaces/5", nullptr,
     "linux.uidMappings: mappings require a user namespace in linux.namespaces"},
    {"zero-size mapping", "/linux/uidMappings/0/size", "0", "linux.uidMappings[0].size: must be greater than 0"},
    {"overlapping container ids", "/linux/uidMappings/1/containerID", "999",
     "linux.uidMappings[1]: containerID range overlaps linux.uidMappings[0]"},
    {"overlapping host ids", "/linux/uidMappings/1/hostID", "100500",
     "linux.uidMappings[1]: hostID range overlaps linux.uidMappings[0]"},
    {"mapping overflow", "/linux/gidMappings/0/containerID", "4294967295", "linux.gidMappings[0].size: containerID + size overflows"},
    {"join userns with mappings", "/linux/namespaces/5/path", "\"/proc/1/ns/user\"",
     "linux.uidMappings: mappings cannot be set when joining the user namespace /proc/1/ns/user"},
    {"userns without gid mappings", "/linux/gidMappings", nullptr,
     "linux.gidMappings: a new user namespace needs both uidMappings and gidMappings"},
    {"userns without any mappings", "/linux/uidMappings", "[]",
     "linux.uidMappings: a new user namespace needs both uidMappings and gidMappings"},
    {"env without =", "/process/env/1", "\"TERM\"", "process.env[1]: \"TERM\" is not NAME=value"},
    {"env empty name", "/process/env/0", "\"=x\"", "process.env[0]: empty variable name"},
    {"env NUL", "/process/env/0", "\"A=\\u0000b\"", "process.env[0]: contains a NUL byte"},
    {"arg NUL", "/process/args/0", "\"/bin/\\u0000sh\"", "process.args[0]: contains a NUL byte"},
    {"cwd NUL", "/process/cwd", "\"/a\\u0000b\"", "process.cwd: path contains a NUL byte"},
    {"mount idmap zero", "/mounts/1/gidMappings/0/size", "0", "mounts[1].gidMappings[0].size: must be greater than 0"},
    // Seccomp.
    {"seccomp default action", "/linux/seccomp/defaultAction", "\"SCMP_ACT_NOPE\"",
     "linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_NOPE\""},
    {"seccomp missing default action", "/linux/seccomp/defaultAction", nullptr,
     "linux.seccomp.defaultAction: required field is missing"},
    {"seccomp action", "/linux/seccomp/syscalls/2/action", "\"SCMP_ACT_KILLL\"",
     "linux.seccomp.syscalls[2].action: unknown seccomp action \"SCMP_ACT_KILLL\""},
    {"seccomp arch", "/linux/seccomp/architectures/1", "\"SCMP_ARCH_Z80\"",
     "linux.seccomp.architectures[1]: unknown seccomp architecture \"SCMP_ARCH_Z80\""},
    {"seccomp flag", "/linux/seccomp/flags/0", "\"SECCOMP_FILTER_FLAG_FAST\"",
     "linux.seccomp.flags[0]: unknown seccomp flag \"SECCOMP_FILTER_FLAG_FAST\""},
    {"seccomp operator", "/linux/seccomp/syscalls/1/args/1/op", "\"SCMP_CMP_XOR\"",
     "linux.seccomp.syscalls[1].args[1].op: unknown seccomp operator \"SCMP_CMP_XOR\""},
    {"seccomp arg index", "/linux/seccomp/syscalls/1/args/0/index", "6",
     "linux.seccomp.syscalls[1].args[0].index: 6 is not a syscall argument index"},
    {"seccomp empty names", "/linux/seccomp/syscalls/0/names", "[]", "linux.seccomp.syscalls[0].names: must not be empty"},
    {"seccomp notify without listener", "/linux/seccomp/listenerPath", nullptr,
     "linux.seccomp.listenerPath: required by linux.seccomp.syscalls[3].action SCMP_ACT_NOTIFY"},
    // Process.
    {"unknown rlimit", "/process/rlimits/1/type", "\"RLIMIT_FOO\"", "process.rlimits[1].type: unknown rlimit type \"RLIMIT_FOO\""},
    {"rlimit soft > hard", "/process/rlimits/0/soft", "5000",
     "process.rlimits[0].soft: soft limit 5000 exceeds hard limit 4096"},
    {"duplicate rlimit", "/process/rlimits/1/type", "\"RLIMIT_NOFILE\"",
     "process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\""},
    {"unknown capability", "/process/capabilities/permitted/1", "\"CAP_FLY\"",
     "process.capabilities.permitted[1]: unknown capability \"CAP_FLY\""},
    {"capability number 41", "/process/capabilities/bounding/0", "\"CAP_41\"",
     "process.capabilities.bounding[0]: unknown capability \"CAP_41\""},
    {"commandLine", "/process/commandLine", "\"sh -c true\"", "process.commandLine: is only supported on Windows"},
    {"oomScoreAdj range", "/process/oomScoreAdj", "1001", "process.oomScoreAdj: 1001 is outside [-1000, 1000]"},
    // Linux.
    {"rootfsPropagation", "/linux/rootfsPropagation", "\"sideways\"",
     "linux.rootfsPropagation: unknown propagation \"sideways\""},
    {"swap below limit", "/linux/resources/memory/swap", "1000",
     "linux.resources.memory.swap: memory+swap limit 1000 is lower than memory limit 536870912"},
    {"swappiness", "/linux/resources/memory/swappiness", "101", "linux.resources.memory.swappiness: 101 exceeds 100"},
    {"unified slash", "/linux/resources/unified/..~1memory.max", "\"1\"",
     "linux.resources.unified.../memory.max: invalid cgroup file name"},
    {"unified dotdot", "/linux/resources/unified/..", "\"1\"", "linux.resources.unified...: invalid cgroup file name"},
    {"hugepage size", "/linux/resources/hugepageLimits/0/pageSize", "\"../2MB\"",
     "linux.resources.hugepageLimits[0].pageSize: invalid page size"},
    {"time offset clock", "/linux/timeOffsets/realtime", R"({"secs": 1})", "linux.timeOffsets.realtime: unknown clock"},
    {"time offset nanosecs", "/linux/timeOffsets/boottime/nanosecs", "1000000000",
     "linux.timeOffsets.boottime.nanosecs: 1000000000 is not below 1e9"},
    {"time offsets joining timens", "/linux/namespaces/7/path", "\"/proc/1/ns/time\"",
     "linux.timeOffsets: requires a new time namespace in linux.namespaces"},
    {"sysctl dotdot", "/linux/sysctl/net~1..~1x", "\"1\"", "linux.sysctl.net/../x: invalid sysctl name"},
    {"sysctl empty part", "/linux/sysctl/kernel..x", "\"1\"", "linux.sysctl.kernel..x: invalid sysctl name"},
    {"sysctl absolute", "/linux/sysctl/~1etc~1passwd", "\"1\"", "linux.sysctl./etc/passwd: invalid sysctl name"},
    {"hostname without uts", "/linux/namespaces/4", nullptr, "hostname: requires a uts namespace in linux.namespaces"},
};

TEST(RuntimeSpec, RejectsBadConfigNamingTheField) {
  const json base = json::parse(kFullConfig);
  for (const auto& c : kBadCases) {
    json j = base;
    json::json_pointer ptr(c.pointer);
    if (c.value) {
      j[ptr] = json::parse(c.value);
    } else {
      json& parent = j[ptr.parent_pointer()];
      if (parent.is_array())
        parent.erase(std::stoul(ptr.back()));
      else
        parent.erase(ptr.back());
    }
    auto r = parse_runtime_spec(j.dump());
    ASSERT_FALSE(r) << c.name << ": accepted";
    EXPECT_EQ(r.error().code(), Errc::InvalidArgument) << c.name;
    EXPECT_NE(r.error().message().find(c.want), std::string::npos)
        << c.name << ": got \"" << r.error().message() << "\", want it to contain \"" << c.want << "\"";
  }
}

TEST(RuntimeSpec, ErrorStartsWithTheField) {
  auto r = parse_runtime_spec(R"({"ociVersion": "1.1.0", "root": {"path": "r"},
      "linux": {"namespaces": [{"type": "pid"}, {"type": "uts"}, {"type": "foo"}]}})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "linux.namespaces[2].type: unknown namespace type \"foo\"");
}

TEST(RuntimeSpec, RejectsContradictions) {
  struct {
    const char* config;
    const char* want;
  } cases[] = {
      {R"({"ociVersion": "1", "root": {"path": "r"}, "linux": {"uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}})",
       "linux.uidMappings: mappings require a user namespace in linux.namespaces"},
      {R"({"ociVersion": "1", "root": {"path": "r"}, "hostname": "h"})",
       "hostname: requires a uts namespace in linux.namespaces"},
      {R"({"ociVersion": "1", "root": {"path": "r"}, "linux": {"seccomp": {"defaultAction": "SCMP_ACT_NOTIFY"}}})",
       "linux.seccomp.listenerPath: required by SCMP_ACT_NOTIFY"},
      {R"({"ociVersion": "", "root": {"path": "r"}})", "ociVersion: must not be empty"},
      {R"([1, 2])", "config: expected object, got array"},
      {R"({"ociVersion": "1", "root": {"path": "r"})", "invalid JSON"},
      {"", "invalid JSON"},
  };
  for (const auto& c : cases) {
    auto r = parse_runtime_spec(c.config);
    ASSERT_FALSE(r) << c.config;
    EXPECT_EQ(r.error().code(), Errc::InvalidArgument);
    EXPECT_NE(r.error().message().find(c.want), std::string::npos) << r.error().message();
  }
}

TEST(RuntimeSpec, AcceptsEveryKnownValue) {
  ASSERT_EQ(known_capabilities().size(), 41u);
  EXPECT_EQ(known_capabilities()[40], "CAP_CHECKPOINT_RESTORE");
  EXPECT_EQ(capability_number("CAP_SYS_ADMIN"), 21);
  EXPECT_EQ(capability_number("CAP_NOPE"), std::nullopt);
  EXPECT_EQ(rlimit_number("RLIMIT_NOFILE"), 7);
  EXPECT_EQ(rlimit_number("RLIMIT_RTTIME"), 15);

  json j = json::parse(kMinimalConfig);
  j["process"] = {{"cwd", "/"}};
  json caps = json::array();
  for (auto c : known_capabilities()) caps.push_back(std::string(c));
  j["process"]["capabilities"] = {{"bounding", caps}, {"effective", caps}, {"inheritable", caps}, {"permitted", caps},
                                  {"ambient", caps}};
  json rl = json::array();
  for (auto r : known_rlimits()) rl.push_back({{"type", std::string(r)}, {"hard", 10}, {"soft", 5}});
  j["process"]["rlimits"] = rl;
  json ns = json::array();
  for (auto n : known_namespace_types()) ns.push_back({{"type", std::string(n)}});
  j["linux"]["namespaces"] = ns;
  j["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
  j["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 1000}, {"size", 1}}};
  json sc = {{"defaultAction", "SCMP_ACT_ALLOW"}, {"listenerPath", "/l"}};
  for (auto a : known_seccomp_archs()) sc["architectures"].push_back(std::string(a));
  for (auto f : known_seccomp_flags()) sc["flags"].push_back(std::string(f));
  for (auto a : known_seccomp_actions()) {
    json call = {{"names", {"read"}}, {"action", std::string(a)}};
    for (auto op : known_seccomp_operators()) call["args"].push_back({{"index", 0}, {"value", 1}, {"op", std::string(op)}});
    sc["syscalls"].push_back(call);
  }
  j["linux"]["seccomp"] = sc;
  for (auto p : known_rootfs_propagations()) {
    j["linux"]["rootfsPropagation"] = std::string(p);
    auto r = parse_runtime_spec(j.dump());
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->linux->namespaces.size(), known_namespace_types().size());
    EXPECT_EQ(r->process->capabilities->ambient.size(), 41u);
    EXPECT_EQ(to_json(*parse_runtime_spec(to_json(*r))), to_json(*r));
  }
  for (size_t i = 0; i < known_namespace_types().size(); ++i) {
    auto t = namespace_type_from_name(known_namespace_types()[i]);
    ASSERT_TRUE(t);
    EXPECT_EQ(namespace_type_name(*t), known_namespace_types()[i]);
  }
}

TEST(RuntimeSpec, ParseProcess) {
  auto p = parse_process(R"({"terminal": false, "user": {"uid": 5, "gid": 6}, "args": ["ls", "-l"],
      "env": ["A=B"], "cwd": "/tmp", "capabilities": {"bounding": ["CAP_KILL"]}, "noNewPrivileges": true})");
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->user.uid, 5u);
  EXPECT_EQ(p->args, (std::vector<std::string>{"ls", "-l"}));
  EXPECT_EQ(p->cwd, "/tmp");
  auto again = parse_process(to_json(*p));
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(to_json(*again), to_json(*p));

  auto bad = parse_process(R"({"cwd": "tmp"})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message(), "process.cwd: path \"tmp\" must be absolute");
  auto bad2 = parse_process(R"({"cwd": "/", "capabilities": {"effective": ["CAP_X"]}})");
  ASSERT_FALSE(bad2);
  EXPECT_EQ(bad2.error().message(), "process.capabilities.effective[0]: unknown capability \"CAP_X\"");
}

TEST(RuntimeSpec, DefaultSpecRoundTrips) {
  for (bool rootless : {false, true}) {
    Spec s = default_spec(rootless);
    std::string text = to_json(s);
    auto r = parse_runtime_spec(text);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(to_json(*r), text);
    EXPECT_EQ(r->has_namespace(NamespaceType::User), rootless);
    EXPECT_EQ(r->has_namespace(NamespaceType::Network), !rootless);
  }
}

// Runs `runc spec [--rootless]` in a temp dir and returns config.json, or "" when runc is not installed.
std::string runc_spec(bool rootless) {
  if (system("command -v runc >/dev/null 2>&1") != 0) return "";
  testing::TempDir dir;
  std::string cmd = "cd '" + dir.path() + "' && runc spec" + (rootless ? " --rootless" : "");
  if (system(cmd.c_str()) != 0) return "";
  std::ifstream in(dir / "config.json");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(RuntimeSpec, DefaultSpecMatchesRunc) {
  for (bool rootless : {false, true}) {
    std::string text = runc_spec(rootless);
    if (text.empty()) GTEST_SKIP() << "runc is not installed";
    auto runc = parse_runtime_spec(text);
    ASSERT_TRUE(runc) << runc.error().message();
    Spec ours = default_spec(rootless);
    // The one intended difference: runc 1.1 prints its own spec version ("1.0.2-dev").
    EXPECT_EQ(ours.oci_version, kOciVersion);
    ours.oci_version = runc->oci_version;
    EXPECT_EQ(to_json(ours), to_json(*runc)) << (rootless ? "rootless" : "default");
    // And the documents agree key by key (nothing runc prints is dropped by the parser).
    json theirs = json::parse(text);
    theirs["ociVersion"] = std::string(kOciVersion);
    EXPECT_EQ(json::parse(to_json(default_spec(rootless))), theirs) << (rootless ? "rootless" : "default");
  }
}

}  // namespace
}  // namespace berth::oci
