// berth login: verify credentials against a registry and store them in a docker-compatible config.json.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "commands.h"
#include "image/registry/auth.h"
#include "image/registry/client.h"

namespace berth::cli {

int login_main(int argc, char** argv) {
  namespace ir = image::registry;
  CLI::App app{"Log in to a registry", "berth login"};
  std::string registry, username, password, authfile;
  std::vector<std::string> insecure;
  bool password_stdin = false;
  app.add_option("registry", registry, "registry host[:port]")->required();
  app.add_option("-u,--username", username, "user name")->required();
  app.add_option("-p,--password", password, "password (prefer --password-stdin)");
  app.add_flag("--password-stdin", password_stdin, "read the password from stdin");
  app.add_option("--authfile", authfile, "config.json to update (default $DOCKER_CONFIG, ~/.docker/config.json)");
  app.add_option("--insecure", insecure, "registry allowed over plain HTTP / unverified TLS");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (password_stdin) {
    std::getline(std::cin, password);
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
  }
  if (password.empty()) {
    std::fprintf(stderr, "berth login: a password is required (--password-stdin)\n");
    return 2;
  }
  if (authfile.empty()) {
    if (const char* dc = getenv("DOCKER_CONFIG"); dc && *dc) authfile = std::string(dc) + "/config.json";
    else if (const char* home = getenv("HOME"); home && *home) authfile = std::string(home) + "/.docker/config.json";
    else {
      std::fprintf(stderr, "berth login: no --authfile and no HOME\n");
      return 2;
    }
  }
  std::string key = ir::normalize_registry_key(registry);
  ir::ClientOptions co;
  co.insecure_registries = insecure;
  co.credentials[key] = {username, password, ""};
  ir::RegistryClient client(co);
  if (auto st = client.login(key); !st) {
    std::fprintf(stderr, "berth login: %s\n", st.error().message().c_str());
    return 1;
  }
  if (auto st = ir::store_docker_credentials(authfile, key, {username, password, ""}); !st) {
    std::fprintf(stderr, "berth login: %s\n", st.error().message().c_str());
    return 1;
  }
  std::printf("Login Succeeded (credentials stored in %s)\n", authfile.c_str());
  return 0;
}

}  // namespace berth::cli
