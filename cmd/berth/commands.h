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
// Engine API client commands (docker's CLI over -H / BERTH_HOST): cli_run.cc, cli_container.cc, cli_cp.cc,
// cli_image.cc, cli_object.cc (volume, network, container and system groups), cli_system.cc.
int run_main(int argc, char** argv);
int create_main(int argc, char** argv);
int start_main(int argc, char** argv);
int attach_main(int argc, char** argv);
int exec_main(int argc, char** argv);
int ps_main(int argc, char** argv);
int logs_main(int argc, char** argv);
int inspect_main(int argc, char** argv);
int stop_main(int argc, char** argv);
int restart_main(int argc, char** argv);
int kill_main(int argc, char** argv);
int rm_main(int argc, char** argv);
int wait_main(int argc, char** argv);
int pause_main(int argc, char** argv);
int unpause_main(int argc, char** argv);
int rename_main(int argc, char** argv);
int top_main(int argc, char** argv);
int port_main(int argc, char** argv);
int diff_main(int argc, char** argv);
int export_main(int argc, char** argv);
int stats_main(int argc, char** argv);
int cp_main(int argc, char** argv);
int container_prune_main(int argc, char** argv);
int container_main(int argc, char** argv);
int images_main(int argc, char** argv);
int pull_main(int argc, char** argv);
int push_main(int argc, char** argv);
int tag_main(int argc, char** argv);
int rmi_main(int argc, char** argv);
int history_main(int argc, char** argv);
int save_main(int argc, char** argv);
int load_main(int argc, char** argv);
int image_prune_main(int argc, char** argv);
int volume_main(int argc, char** argv);
int network_main(int argc, char** argv);
int version_main(int argc, char** argv);
int info_main(int argc, char** argv);
int events_main(int argc, char** argv);
int system_df_main(int argc, char** argv);
int system_prune_main(int argc, char** argv);
int system_main(int argc, char** argv);

}  // namespace berth::cli
