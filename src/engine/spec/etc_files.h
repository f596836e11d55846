#pragma once
// The generated /etc/hosts, /etc/hostname and /etc/resolv.conf of a container, as file contents. The engine
// writes them into <data-root>/containers/<id>/ and build_spec bind-mounts them.

#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "engine/spec/container_config.h"

namespace berth::engine::spec {

struct HostsInput {
  std::string hostname;    // Config.Hostname (default: first 12 hex of the id)
  std::string domainname;  // Config.Domainname
  std::string ip;          // the container's address; "" (no network yet) maps the hostname to 127.0.0.1
  std::vector<std::string> extra_hosts;  // HostConfig.ExtraHosts, "name:ip" (ip may be IPv6 with colons)
  // Host networking: the host's /etc/hosts text is used instead of the localhost lines and the own-hostname
  // line (dockerd copies the host's file), with ExtraHosts appended.
  bool host_network = false;
  std::string host_hosts;
};

// docker's layout:
//   127.0.0.1	localhost
//   ::1	localhost ip6-localhost ip6-loopback
//   fe00::0	ip6-localnet
//   ff00::0	ip6-mcastprefix
//   ff02::1	ip6-allnodes
//   ff02::2	ip6-allrouters
//   <ip from ExtraHosts>	<name>          (one line each, in order)
//   <ip or 127.0.0.1>	<hostname.domainname> <hostname>
// InvalidArgument for an ExtraHosts entry without ':' or with an invalid address
// (`invalid IP address in add-host: "x"`), or a name with whitespace.
Result<std::string> hosts_file(const HostsInput& in);

// "<hostname>\n"
std::string hostname_file(std::string_view hostname);

// resolv.conf for a container. With Dns/DnsSearch/DnsOptions set, those replace the host's nameserver /
// search / options lines. Otherwise the host's file (host_resolv_conf: its text) is used minus nameservers in
// 127.0.0.0/8 and ::1 (they would not be reachable from a private network namespace); when nothing is left,
// the file has no nameserver. With host networking (host_network) the host's file is used unchanged unless
// Dns* are set.
Result<std::string> resolv_conf_file(const HostConfig& host, std::string_view host_resolv_conf, bool host_network);

}  // namespace berth::engine::spec
