#include "engine/spec/etc_files.h"

#include <arpa/inet.h>

#include <sstream>

namespace berth::engine::spec {

namespace {

bool valid_ip(const std::string& s) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, s.c_str(), buf) == 1 || ::inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool loopback_nameserver(const std::string& ip) {
  unsigned char buf[16];
  if (::inet_pton(AF_INET, ip.c_str(), buf) == 1) return buf[0] == 127;
  if (::inet_pton(AF_INET6, ip.c_str(), buf) == 1) {
    static const unsigned char lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return std::equal(buf, buf + 16, lo);
  }
  return false;
}

bool bad_word(std::string_view s) {
  return s.empty() || s.find_first_of(" \t\r\n#") != std::string_view::npos || s.find('\0') != std::string_view::npos;
}

}  // namespace

Result<std::string> hosts_file(const HostsInput& in) {
  if (in.host_hosts.size() > (1 << 20)) return fail(Errc::InvalidArgument, "host /etc/hosts is too large");
  std::string out = in.host_network ? in.host_hosts :
      "127.0.0.1\tlocalhost\n"
      "::1\tlocalhost ip6-localhost ip6-loopback\n"
      "fe00::0\tip6-localnet\n"
      "ff00::0\tip6-mcastprefix\n"
      "ff02::1\tip6-allnodes\n"
      "ff02::2\tip6-allrouters\n";
  for (size_t i = 0; i < in.extra_hosts.size(); ++i) {
    const auto& e = in.extra_hosts[i];
    auto colon = e.find(':');
    if (colon == std::string::npos || colon == 0)
      return fail(Errc::InvalidArgument, "HostConfig.ExtraHosts[{}]: bad format for add-host: \"{}\"", i, e);
    std::string name = e.substr(0, colon), ip = e.substr(colon + 1);
    if (bad_word(name)) return fail(Errc::InvalidArgument, "HostConfig.ExtraHosts[{}]: bad format for add-host: \"{}\"", i, e);
    if (!valid_ip(ip)) return fail(Errc::InvalidArgument, "HostConfig.ExtraHosts[{}]: invalid IP address in add-host: \"{}\"", i, ip);
    if (!out.empty() && out.back() != '\n') out += '\n';
    out += fmt::format("{}\t{}\n", ip, name);
  }
  if (in.host_network) return out;
  if (!in.hostname.empty()) {
    if (bad_word(in.hostname)) return fail(Errc::InvalidArgument, "invalid hostname \"{}\"", in.hostname);
    if (!in.domainname.empty() && bad_word(in.domainname))
      return fail(Errc::InvalidArgument, "invalid domain name \"{}\"", in.domainname);
    std::string ip = in.ip.empty() ? "127.0.0.1" : in.ip;
    if (!valid_ip(ip)) return fail(Errc::InvalidArgument, "invalid container IP address \"{}\"", ip);
    if (!in.domainname.empty())
      out += fmt::format("{}\t{}.{} {}\n", ip, in.hostname, in.domainname, in.hostname);
    else
      out += fmt::format("{}\t{}\n", ip, in.hostname);
  }
  return out;
}

std::string hostname_file(std::string_view hostname) { return fmt::format("{}\n", hostname); }

Result<std::string> resolv_conf_file(const HostConfig& host, std::string_view host_resolv_conf, bool host_network) {
  if (host_resolv_conf.size() > (1 << 20)) return fail(Errc::InvalidArgument, "host resolv.conf is too large");
  for (const auto& d : host.dns)
    if (!valid_ip(d)) return fail(Errc::InvalidArgument, "HostConfig.Dns: {} is not an ip address", d);
  for (const auto* list : {&host.dns_search, &host.dns_options})
    for (const auto& w : *list)
      if (bad_word(w)) return fail(Errc::InvalidArgument, "invalid DNS search domain or option \"{}\"", w);

  bool custom = !host.dns.empty() || !host.dns_search.empty() || !host.dns_options.empty();
  if (host_network && !custom) return std::string(host_resolv_conf);

  std::vector<std::string> nameservers, search, options, other;
  std::istringstream in{std::string(host_resolv_conf)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string key;
    if (!(ls >> key) || key[0] == '#' || key[0] == ';') continue;
    std::string v;
    if (key == "nameserver") {
      if ((ls >> v) && !(loopback_nameserver(v) && !host_network)) nameservers.push_back(v);
    } else if (key == "search" || key == "domain") {
      search.clear();
      while (ls >> v) search.push_back(v);
    } else if (key == "options") {
      while (ls >> v) options.push_back(v);
    } else {
      other.push_back(line);
    }
  }
  if (!host.dns.empty()) nameservers = host.dns;
  if (!host.dns_search.empty()) {
    search = host.dns_search;
    if (search.size() == 1 && search[0] == ".") search.clear();  // "--dns-search ." clears it
  }
  if (!host.dns_options.empty()) options = host.dns_options;

  std::string out;
  for (const auto& o : other) out += o + "\n";
  for (const auto& n : nameservers) out += "nameserver " + n + "\n";
  if (!search.empty()) {
    out += "search";
    for (const auto& s : search) out += " " + s;
    out += "\n";
  }
  if (!options.empty()) {
    out += "options";
    for (const auto& o : options) out += " " + o;
    out += "\n";
  }
  return out;
}

}  // namespace berth::engine::spec
