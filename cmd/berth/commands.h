#pragma once
// The `berth` multi-call binary's top-level commands. Each lives in its own file (registry.cc, ...) and is
// listed in main.cc's table; add a line there to add a command.

namespace berth::cli {

// `berth registry serve|gc ...`; argv[0] is "registry".
int registry_main(int argc, char** argv);
// `berth login [--username U] [--password-stdin] REGISTRY`; argv[0] is "login".
int login_main(int argc, char** argv);

// `berth image ls|rm|inspect|tag|save|load|import|export|prune|bootstrap|unpack-layer ...`.
int image_main(int argc, char** argv);

// `berth daemon [--data-root D] [--exec-root E] [-H unix:///path|tcp://addr ...]`: the Engine API server.
int daemon_main(int argc, char** argv);
// `berth version` / `berth images [-q]`: Engine API client commands (-H or BERTH_HOST, unix:// only for now).
int version_main(int argc, char** argv);
int images_main(int argc, char** argv);

}  // namespace berth::cli
