// berth images / pull / push / tag / rmi / save / load / history / image prune: image commands over the Engine API.
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <set>

#include "api/client/jsonmessage.h"
#include "cli_common.h"
#include "commands.h"

namespace berth::cli {
namespace {

using api::client::human_size;

std::pair<std::string, std::string> split_ref(const std::string& ref) {
  auto slash = ref.rfind('/');
  auto colon = ref.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash))
    return {ref.substr(0, colon), ref.substr(colon + 1)};
  return {ref, ""};
}

// Docker Hub names are sent fully qualified (docker.io/library/busybox), as the docker CLI does.
std::string normalize_name(const std::string& name) {
  auto slash = name.find('/');
  if (slash == std::string::npos) return "docker.io/library/" + name;
  auto first = name.substr(0, slash);
  if (first.find('.') == std::string::npos && first.find(':') == std::string::npos && first != "localhost")
    return "docker.io/" + name;
  return name;
}

int stream_progress(api::client::Stream& s, FILE* out, bool quiet) {
  winsize ws{};
  bool tty = !quiet && is_tty(::fileno(out));
  int width = tty && ::ioctl(::fileno(out), TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 80;
  api::client::ProgressPrinter pp(quiet ? nullptr : out, tty, width);
  for (;;) {
    auto piece = s.next();
    if (!piece) return report(piece.error());
    if (piece->empty()) break;
    if (auto st = pp.feed(*piece); !st) {
      std::fprintf(stderr, "%s\n", st.error().message().c_str());
      return pp.error_code() ? pp.error_code() : 1;
    }
  }
  if (auto st = pp.finish(); !st) {
    std::fprintf(stderr, "%s\n", st.error().message().c_str());
    return 1;
  }
  return 0;
}

// pull and push: POST `path` with the registry credentials for `name`; the JSON progress goes to stdout.
int registry_transfer(ApiClient& api, const std::string& path, const std::string& name, const Query& q,
                      bool quiet) {
  net::http::Headers h;
  h.add("X-Registry-Auth", registry_auth_header(name));
  auto s = api.stream("POST", path, q, std::nullopt, h);
  if (!s) return report(s.error());
  return stream_progress(**s, stdout, quiet);
}

}  // namespace

int images_main(int argc, char** argv) {
  ListCommand cmd("berth images [OPTIONS] [REPOSITORY[:TAG]]", "only show image IDs",
                  "filter output based on conditions provided");
  bool all = false, no_trunc = false, digests = false;
  cmd.flags.add_bool("a,all", &all, "show all images (default hides intermediate images)");
  cmd.flags.add_bool("no-trunc", &no_trunc, "don't truncate output");
  cmd.flags.add_bool("digests", &digests, "show digests");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 0, 1)) return rc;
  bool quiet = cmd.quiet;
  if (cmd.args.size() == 1) cmd.filters.push_back("reference=" + cmd.args[0]);
  auto list = cmd.fetch("/images/json", all ? Query{{"all", "1"}} : Query{});
  if (!list) return report(list.error());
  std::vector<json> rows;
  std::set<std::string> seen_ids;
  for (const auto& img : *list) {
    std::string id = img.value("Id", std::string());
    std::string shown = no_trunc ? id : short_id(id);
    std::vector<std::pair<std::string, std::string>> tags;
    if (img.contains("RepoTags") && img["RepoTags"].is_array())
      for (const auto& t : img["RepoTags"]) tags.push_back(split_ref(t.get<std::string>()));
    std::string digest = "<none>";
    if (img.contains("RepoDigests") && img["RepoDigests"].is_array() && !img["RepoDigests"].empty()) {
      std::string d = img["RepoDigests"][0].get<std::string>();
      digest = d.substr(d.find('@') + 1);
    }
    if (tags.empty()) tags.emplace_back("<none>", "<none>");
    for (const auto& [repo, tag] : tags) {
      if (quiet && !seen_ids.insert(shown).second) continue;
      int64_t created = img.value("Created", int64_t{0});
      rows.push_back({{"ID", shown},
                      {"Repository", repo},
                      {"Tag", tag},
                      {"Digest", digest},
                      {"CreatedSince", ago(created)},
                      {"CreatedAt", created},
                      {"Size", human_size(img.value("Size", 0.0), 3)},
                      {"Containers", img.contains("Containers") && img["Containers"].get<int64_t>() >= 0 ? std::to_string(img["Containers"].get<int64_t>()) : "N/A"}});
    }
  }
  std::string def = digests ? "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
                            : "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
  return cmd.print(rows, "{{.ID}}", def,
                   {{"ID", "IMAGE ID"},
                    {"Repository", "REPOSITORY"},
                    {"Tag", "TAG"},
                    {"Digest", "DIGEST"},
                    {"CreatedSince", "CREATED"},
                    {"CreatedAt", "CREATED AT"},
                    {"Size", "SIZE"},
                    {"Containers", "CONTAINERS"}});
}

int pull_main(int argc, char** argv) {
  Command cmd("berth pull [OPTIONS] NAME[:TAG|@DIGEST]");
  bool quiet = false, all_tags = false;
  std::string platform;
  cmd.flags.add_bool("q,quiet", &quiet, "suppress verbose output");
  cmd.flags.add_bool("a,all-tags", &all_tags, "download all tagged images in the repository");
  cmd.flags.add_string("platform", &platform, "set platform if server is multi-platform capable");
  cmd.flags.add_ignored("disable-content-trust", true);
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1, 1)) return rc;
  ::signal(SIGPIPE, SIG_IGN);
  auto api = cmd.api();
  if (!api) return report(api.error());
  std::string ref = cmd.args[0], name, tag;
  if (auto at = ref.find('@'); at != std::string::npos) {
    name = ref.substr(0, at);
    tag = ref.substr(at + 1);
  } else {
    std::tie(name, tag) = split_ref(ref);
    if (tag.empty() && !all_tags) tag = "latest";
  }
  name = normalize_name(name);
  if (!all_tags && ref.find('@') == std::string::npos && split_ref(ref).second.empty())
    std::printf("Using default tag: latest\n");
  Query q{{"fromImage", name}};
  if (!tag.empty()) q.emplace_back("tag", tag);
  if (!platform.empty()) q.emplace_back("platform", platform);
  if (int code = registry_transfer(**api, "/images/create", name, q, quiet)) return code;
  std::printf("%s\n", ref.find('@') != std::string::npos ? (name + "@" + tag).c_str()
                      : all_tags ? name.c_str() : (name + ":" + tag).c_str());
  return 0;
}

int push_main(int argc, char** argv) {
  Command cmd("berth push [OPTIONS] NAME[:TAG]");
  bool quiet = false, all_tags = false;
  cmd.flags.add_bool("q,quiet", &quiet, "suppress verbose output");
  cmd.flags.add_bool("a,all-tags", &all_tags, "push all tags of an image to the repository");
  cmd.flags.add_ignored("disable-content-trust", true);
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1, 1)) return rc;
  ::signal(SIGPIPE, SIG_IGN);
  auto api = cmd.api();
  if (!api) return report(api.error());
  auto [name, tag] = split_ref(cmd.args[0]);
  if (tag.empty() && !all_tags) {
    tag = "latest";
    std::printf("Using default tag: latest\n");
  }
  Query q;
  if (!tag.empty()) q.emplace_back("tag", tag);
  if (int code = registry_transfer(**api, "/images/" + name + "/push", name, q, quiet)) return code;
  if (quiet) std::printf("%s:%s\n", name.c_str(), tag.c_str());
  return 0;
}

int tag_main(int argc, char** argv) {
  Command cmd("berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 2, 2)) return rc;
  auto api = cmd.api();
  if (!api) return report(api.error());
  auto [repo, tag] = split_ref(cmd.args[1]);
  if (tag.empty()) tag = "latest";
  auto r = (*api)->post("/images/" + cmd.args[0] + "/tag", {{"repo", repo}, {"tag", tag}});
  if (!r) return report(r.error());
  return 0;
}

int rmi_main(int argc, char** argv) {
  Command cmd("berth rmi [OPTIONS] IMAGE [IMAGE...]");
  bool force = false, no_prune = false;
  cmd.flags.add_bool("f,force", &force, "force removal of the image");
  cmd.flags.add_bool("no-prune", &no_prune, "do not delete untagged parents");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1)) return rc;
  auto api = cmd.api();
  if (!api) return report(api.error());
  int failed = 0;
  for (const auto& img : cmd.args) {
    Query q;
    if (force) q.emplace_back("force", "1");
    if (no_prune) q.emplace_back("noprune", "1");
    auto r = (*api)->call("DELETE", "/images/" + img, q);
    if (!r) {
      report(r.error());
      failed = 1;
      continue;
    }
    if (r->is_array())
      for (const auto& e : *r) {
        if (e.contains("Untagged")) std::printf("Untagged: %s\n", e["Untagged"].get<std::string>().c_str());
        if (e.contains("Deleted")) std::printf("Deleted: %s\n", e["Deleted"].get<std::string>().c_str());
      }
  }
  return failed;
}

int history_main(int argc, char** argv) {
  Command cmd("berth history [OPTIONS] IMAGE");
  bool quiet = false, no_trunc = false, human = true;
  std::string format;
  cmd.flags.add_bool("q,quiet", &quiet, "only show image IDs");
  cmd.flags.add_bool("no-trunc", &no_trunc, "don't truncate output");
  cmd.flags.add_bool("human", &human, "print sizes and dates in human readable format");
  cmd.flags.add_string("format", &format, "format output using a template");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1, 1)) return rc;
  auto api = cmd.api();
  if (!api) return report(api.error());
  auto r = (*api)->get("/images/" + cmd.args[0] + "/history");
  if (!r) return report(r.error());
  std::vector<json> rows;
  for (const auto& h : *r) {
    std::string id = h.value("Id", std::string());
    std::string by = h.value("CreatedBy", std::string());
    if (!no_trunc && by.size() > 45) by = by.substr(0, 44) + "…";
    rows.push_back({{"ID", id == "<missing>" || no_trunc ? id : short_id(id)},
                    {"CreatedSince", ago(h.value("Created", int64_t{0}))},
                    {"CreatedBy", by},
                    {"Size", human_size(h.value("Size", 0.0))},
                    {"Comment", h.value("Comment", std::string())}});
  }
  auto st = print_formatted(rows, quiet ? "{{.ID}}" : format,
                            "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
                            {{"ID", "IMAGE"}, {"CreatedSince", "CREATED"}, {"CreatedBy", "CREATED BY"}, {"Size", "SIZE"},
                             {"Comment", "COMMENT"}});
  if (!st) return report(st.error());
  return 0;
}

int save_main(int argc, char** argv) {
  Command cmd("berth save [OPTIONS] IMAGE [IMAGE...]");
  std::string output;
  cmd.flags.add_string("o,output", &output, "write to a file, instead of STDOUT");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 1)) return rc;
  if (output.empty() && is_tty(1)) {
    std::fprintf(stderr, "berth save: cowardly refusing to save to a terminal. Use the -o flag or redirect\n");
    return 1;
  }
  auto api = cmd.api();
  if (!api) return report(api.error());
  Query q;
  for (const auto& n : cmd.args) q.emplace_back("names", n);
  auto s = (*api)->stream("GET", "/images/get", q);
  if (!s) return report(s.error());
  std::string tmp = output.empty() ? "" : output + ".berth-tmp";
  int fd = output.empty() ? 1 : ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return report(Error::from_errno(errno, "open " + tmp));
  for (;;) {
    auto p = (*s)->next();
    if (!p) {
      if (fd != 1) ::unlink(tmp.c_str());
      return report(p.error());
    }
    if (p->empty()) break;
    if (auto st = api::client::write_all_fd(fd, *p); !st) return report(st.error());
  }
  if (fd != 1) {
    if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(tmp.c_str(), output.c_str()) != 0)
      return report(Error::from_errno(errno, "write " + output));
  }
  return 0;
}

int load_main(int argc, char** argv) {
  Command cmd("berth load [OPTIONS]");
  std::string input;
  bool quiet = false;
  cmd.flags.add_string("i,input", &input, "read from tar archive file, instead of STDIN");
  cmd.flags.add_bool("q,quiet", &quiet, "suppress the load output");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 0, 0)) return rc;
  int fd = 0;
  if (!input.empty()) fd = ::open(input.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return report(Error::from_errno(errno, "open " + input));
  if (fd == 0 && is_tty(0)) {
    std::fprintf(stderr, "berth load: requested load from stdin, but stdin is empty\n");
    return 1;
  }
  auto api = cmd.api();
  if (!api) return report(api.error());
  bool q = quiet || !is_tty(1);
  auto s = (*api)->stream("POST", "/images/load", q ? Query{{"quiet", "1"}} : Query{}, std::nullopt, {},
                          [fd](char* buf, size_t n) -> Result<size_t> {
                            for (;;) {
                              ssize_t r = ::read(fd, buf, n);
                              if (r < 0 && errno == EINTR) continue;
                              if (r < 0) return fail_errno("read the archive");
                              return static_cast<size_t>(r);
                            }
                          });
  if (!s) return report(s.error());
  return stream_progress(**s, stdout, quiet);
}

int image_prune_main(int argc, char** argv) {
  PruneCommand cmd("berth image prune [OPTIONS]");
  bool all = false;
  cmd.flags.add_bool("a,all", &all, "remove all unused images, not just dangling ones");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 0, 0)) return rc;
  cmd.filters.push_back(all ? "dangling=false" : "dangling=true");
  return cmd.run(
      all ? " all images without at least one container associated to them." : " all dangling images.",
      "/images/prune", "ImagesDeleted", "Deleted Images");
}

}  // namespace berth::cli
