#include "runtime/signals.h"

#include <signal.h>

#include <cctype>
#include <charconv>
#include <optional>

namespace berth::runtime {
namespace {

struct Named {
  const char* name;
  int sig;
};
constexpr Named kSignals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},       {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},     {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL},     {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},     {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH},   {"IO", SIGIO},         {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

std::optional<int> parse_int(std::string_view s) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

Result<int> parse_signal(std::string_view in) {
  if (in.empty()) return fail(Errc::InvalidArgument, "empty signal");
  if (std::isdigit(static_cast<unsigned char>(in[0]))) {
    auto v = parse_int(in);
    if (!v || *v <= 0 || *v >= _NSIG) return fail(Errc::InvalidArgument, "invalid signal `{}`", in);
    return *v;
  }
  std::string s;
  for (char c : in) s.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  std::string_view name = s;
  if (name.starts_with("SIG")) name.remove_prefix(3);
  for (const auto& n : kSignals)
    if (name == n.name) return n.sig;
  auto rt = [&](std::string_view prefix, int base, int dir) -> std::optional<int> {
    if (!name.starts_with(prefix)) return std::nullopt;
    std::string_view rest = name.substr(prefix.size());
    if (rest.empty()) return base;
    if (rest[0] != (dir > 0 ? '+' : '-')) return std::nullopt;
    auto off = parse_int(rest.substr(1));
    if (!off || *off < 0) return std::nullopt;
    int sig = base + dir * *off;
    if (sig < SIGRTMIN || sig > SIGRTMAX) return std::nullopt;
    return sig;
  };
  if (auto v = rt("RTMIN", SIGRTMIN, 1)) return *v;
  if (auto v = rt("RTMAX", SIGRTMAX, -1)) return *v;
  return fail(Errc::InvalidArgument, "unknown signal `{}`", in);
}

std::string signal_name(int sig) {
  for (const auto& n : kSignals)
    if (n.sig == sig) return fmt::format("SIG{}", n.name);
  return fmt::format("SIG{}", sig);
}

}  // namespace berth::runtime
