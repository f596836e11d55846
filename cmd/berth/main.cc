// berth: multi-call CLI. Dispatches on the first argument to a command's own main.
#include <cstdio>
#include <cstdlib>
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
    {"run", berth::cli::run_main, "create and run a new container from an image"},
    {"create", berth::cli::create_main, "create a new container"},
    {"start", berth::cli::start_main, "start one or more stopped containers"},
    {"attach", berth::cli::attach_main, "attach to a running container's input and output"},
    {"exec", berth::cli::exec_main, "execute a command in a running container"},
    {"ps", berth::cli::ps_main, "list containers"},
    {"logs", berth::cli::logs_main, "fetch the logs of a container"},
    {"inspect", berth::cli::inspect_main, "low-level information on containers, images, volumes, networks"},
    {"stop", berth::cli::stop_main, "stop one or more running containers"},
    {"restart", berth::cli::restart_main, "restart one or more containers"},
    {"kill", berth::cli::kill_main, "kill one or more running containers"},
    {"rm", berth::cli::rm_main, "remove one or more containers"},
    {"wait", berth::cli::wait_main, "block until containers stop, then print their exit codes"},
    {"pause", berth::cli::pause_main, "pause all processes within containers"},
    {"unpause", berth::cli::unpause_main, "unpause all processes within containers"},
    {"rename", berth::cli::rename_main, "rename a container"},
    {"top", berth::cli::top_main, "display the running processes of a container"},
    {"port", berth::cli::port_main, "list port mappings of a container"},
    {"diff", berth::cli::diff_main, "changes to files or directories on a container's filesystem"},
    {"export", berth::cli::export_main, "export a container's filesystem as a tar archive"},
    {"stats", berth::cli::stats_main, "live stream of container resource usage statistics"},
    {"cp", berth::cli::cp_main, "copy files between a container and the local filesystem"},
    {"container", berth::cli::container_main, "manage containers (ls, run, rm, prune, ...)"},
    {"images", berth::cli::images_main, "list the daemon's images"},
    {"pull", berth::cli::pull_main, "download an image from a registry"},
    {"push", berth::cli::push_main, "upload an image to a registry"},
    {"tag", berth::cli::tag_main, "create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"},
    {"rmi", berth::cli::rmi_main, "remove one or more images"},
    {"history", berth::cli::history_main, "show the history of an image"},
    {"save", berth::cli::save_main, "save images to a tar archive"},
    {"load", berth::cli::load_main, "load images from a tar archive"},
    {"volume", berth::cli::volume_main, "manage volumes (create, ls, inspect, rm, prune)"},
    {"network", berth::cli::network_main, "manage networks (create, ls, inspect, rm, connect, disconnect)"},
    {"events", berth::cli::events_main, "real-time events from the daemon"},
    {"info", berth::cli::info_main, "display system-wide information"},
    {"system", berth::cli::system_main, "manage the daemon (df, prune, info, events)"},
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
  // Global options before the command (docker's form) become the environment the client commands read:
  // -H/--host HOST (BERTH_HOST), --tls, --tlsverify, --tlscacert/--tlscert/--tlskey FILE.
  struct Global {
    const char* name;
    const char* env;
    bool takes_value;
  };
  static constexpr Global kGlobals[] = {{"-H", "BERTH_HOST", true},          {"--host", "BERTH_HOST", true},
                                        {"--tls", "BERTH_TLS", false},       {"--tlsverify", "BERTH_TLS_VERIFY", false},
                                        {"--tlscacert", "BERTH_TLS_CACERT", true}, {"--tlscert", "BERTH_TLS_CERT", true},
                                        {"--tlskey", "BERTH_TLS_KEY", true}};
  for (bool more = true; more && argc >= 2;) {
    more = false;
    for (const auto& g : kGlobals) {
      size_t n = std::strlen(g.name);
      if (std::strncmp(argv[1], g.name, n) != 0 || (argv[1][n] != '\0' && argv[1][n] != '=')) continue;
      const char* value = argv[1][n] == '=' ? argv[1] + n + 1 : g.takes_value ? (argc >= 3 ? argv[2] : nullptr) : "1";
      if (!value) return usage(stderr);
      ::setenv(g.env, value, 1);
      int shift = argv[1][n] == '=' || !g.takes_value ? 1 : 2;
      argv[shift] = argv[0];
      argv += shift;
      argc -= shift;
      more = true;
      break;
    }
  }
  if (argc < 2) return usage(stderr);
  if (!std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "help"))
    return usage(stdout);
  for (const auto& c : kCommands)
    if (!std::strcmp(argv[1], c.name)) return c.run(argc - 1, argv + 1);
  std::fprintf(stderr, "berth: unknown command `%s`\n", argv[1]);
  return usage(stderr);
}
