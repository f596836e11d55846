// berth: multi-call CLI. Dispatches on the first argument to a command's own main.
#include <cstdio>
#include <cstring>

#include "commands.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* help;
};

constexpr Command kCommands[] = {
    {"daemon", berth::cli::daemon_main, "serve the Docker Engine API on a unix socket (or mutual-TLS TCP)"},
    {"images", berth::cli::images_main, "list the daemon's images (Engine API client)"},
    {"version", berth::cli::version_main, "show the client and daemon versions"},
    {"image", berth::cli::image_main, "manage local images on --root (ls, rm, tag, save, load, bootstrap, ...)"},
    {"registry", berth::cli::registry_main, "run or maintain an OCI distribution registry (serve, gc, copy)"},
    {"login", berth::cli::login_main, "check and store registry credentials in a docker config.json"},
};

int usage(FILE* out) {
  std::fprintf(out, "Usage: berth COMMAND [ARGS...]\n\nCommands:\n");
  for (const auto& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.help);
  return out == stderr ? 2 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(stderr);
  if (!std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "help"))
    return usage(stdout);
  for (const auto& c : kCommands)
    if (!std::strcmp(argv[1], c.name)) return c.run(argc - 1, argv + 1);
  std::fprintf(stderr, "berth: unknown command `%s`\n", argv[1]);
  return usage(stderr);
}
