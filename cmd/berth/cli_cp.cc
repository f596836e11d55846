// berth cp CONTAINER:SRC DEST | SRC CONTAINER:DEST | CONTAINER:SRC - : the archive API (GET/HEAD/PUT
// /containers/{id}/archive). Extraction on the host goes through image/unpack's apply_layer (paths resolved
// under the destination directory's fd, never escaping it); uploads are tars made here from the source tree.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "base/base64.h"
#include "cli_common.h"
#include "commands.h"
#include "image/unpack/unpack.h"

namespace berth::cli {
namespace {

struct Spec {
  std::string container;  // empty for a local path
  std::string path;
};

Spec split_spec(const std::string& s) {
  if (s.empty() || s[0] == '/' || s[0] == '.') return {"", s};
  auto colon = s.find(':');
  if (colon == std::string::npos) return {"", s};
  return {s.substr(0, colon), s.substr(colon + 1)};
}

std::string base_name(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto s = p.rfind('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

std::string dir_name(std::string p) {
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto s = p.rfind('/');
  if (s == std::string::npos) return ".";
  return s == 0 ? "/" : p.substr(0, s);
}

// A tar of `src` (file, dir or symlink) whose top entry is named `top`.
class TarWriter {
 public:
  TarWriter() : a_(archive_write_new()) {
    archive_write_set_format_pax_restricted(a_);
    archive_write_open(a_, this, nullptr, &TarWriter::write_cb, nullptr);
  }
  ~TarWriter() { archive_write_free(a_); }
  Status add(const std::string& src, const std::string& name) {
    struct stat st {};
    if (::lstat(src.c_str(), &st) != 0) return fail_errno("stat {}", src);
    archive_entry* e = archive_entry_new();
    archive_entry_copy_stat(e, &st);
    archive_entry_set_pathname(e, name.c_str());
    std::string target;
    if (S_ISLNK(st.st_mode)) {
      char buf[4096];
      ssize_t n = ::readlink(src.c_str(), buf, sizeof buf);
      if (n < 0) {
        archive_entry_free(e);
        return fail_errno("readlink {}", src);
      }
      target.assign(buf, static_cast<size_t>(n));
      archive_entry_set_symlink(e, target.c_str());
      archive_entry_set_size(e, 0);
    } else if (!S_ISREG(st.st_mode)) {
      archive_entry_set_size(e, 0);
    }
    if (archive_write_header(a_, e) != ARCHIVE_OK) {
      std::string err = archive_error_string(a_) ? archive_error_string(a_) : "?";
      archive_entry_free(e);
      return fail(Errc::Internal, "tar {}: {}", src, err);
    }
    archive_entry_free(e);
    if (S_ISREG(st.st_mode)) {
      int fd = ::open(src.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
      if (fd < 0) return fail_errno("open {}", src);
      char buf[64 * 1024];
      for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          ::close(fd);
          return fail_errno("read {}", src);
        }
        if (n == 0) break;
        if (archive_write_data(a_, buf, static_cast<size_t>(n)) < 0) {
          ::close(fd);
          return fail(Errc::Internal, "tar {}: {}", src, archive_error_string(a_));
        }
      }
      ::close(fd);
    }
    if (S_ISDIR(st.st_mode)) {
      DIR* d = ::opendir(src.c_str());
      if (!d) return fail_errno("open directory {}", src);
      std::vector<std::string> names;
      while (dirent* de = ::readdir(d)) {
        if (!std::strcmp(de->d_name, ".") || !std::strcmp(de->d_name, "..")) continue;
        names.emplace_back(de->d_name);
      }
      ::closedir(d);
      std::sort(names.begin(), names.end());
      for (const auto& n : names) BERTH_TRY(add(src + "/" + n, name + "/" + n));
    }
    return ok();
  }
  Result<std::string> finish() {
    if (archive_write_close(a_) != ARCHIVE_OK) return fail(Errc::Internal, "tar: {}", archive_error_string(a_));
    return std::move(out_);
  }

 private:
  static la_ssize_t write_cb(archive*, void* self, const void* buf, size_t n) {
    static_cast<TarWriter*>(self)->out_.append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  }
  archive* a_;
  std::string out_;
};

class StreamSource final : public image::unpack::Source {
 public:
  explicit StreamSource(api::client::Stream& s) : s_(s) {}
  Result<size_t> read(void* buf, size_t n) override {
    while (pending_.empty()) {
      if (done_) return size_t{0};
      auto p = BERTH_TRY(s_.next());
      if (p.empty()) {
        done_ = true;
        return size_t{0};
      }
      pending_.assign(p);
    }
    size_t k = std::min(n, pending_.size());
    std::memcpy(buf, pending_.data(), k);
    pending_.erase(0, k);
    return k;
  }

 private:
  api::client::Stream& s_;
  std::string pending_;
  bool done_ = false;
};

Status copy_from_container(ApiClient& api, const Spec& src, const std::string& dst) {
  auto s = BERTH_TRY(api.stream("GET", "/containers/" + src.container + "/archive", {{"path", src.path}}));
  if (dst == "-") {
    for (;;) {
      auto p = BERTH_TRY(s->next());
      if (p.empty()) return ok();
      BERTH_TRY(api::client::write_all_fd(1, p));
    }
  }
  StreamSource in(*s);
  image::unpack::UnpackOptions opts;
  opts.whiteouts = image::unpack::WhiteoutMode::Apply;
  opts.compression = oci::Compression::None;
  opts.preserve_owner = false;
  struct stat st {};
  if (::stat(dst.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    // Into an existing directory: the entry keeps its name.
    int dfd = ::open(dst.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return fail_errno("open {}", dst);
    auto r = image::unpack::apply_layer(in, dfd, opts);
    ::close(dfd);
    if (!r) return fail(r.error());
    return ok();
  }
  // A new name (or a file to replace): extract beside it, then rename into place.
  std::string parent = dir_name(dst);
  std::string tmpl = parent + "/.berth-cp-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!::mkdtemp(buf.data())) return fail_errno("create a temporary directory in {}", parent);
  std::string tmp(buf.data());
  int dfd = ::open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  Status st2 = ok();
  if (dfd < 0) {
    st2 = fail_errno("open {}", tmp);
  } else {
    auto r = image::unpack::apply_layer(in, dfd, opts);
    ::close(dfd);
    if (!r) {
      st2 = fail(r.error());
    } else {
      std::string got = tmp + "/" + base_name(src.path == "/" ? "." : src.path);
      if (base_name(src.path) == "." || src.path.ends_with("/.")) got = tmp;
      if (::rename(got.c_str(), dst.c_str()) != 0) st2 = fail_errno("rename into {}", dst);
    }
  }
  std::string rm = "rm -rf -- '" + tmp + "'";
  if (tmp.find('\'') == std::string::npos) (void)!std::system(rm.c_str());
  return st2;
}

Status copy_to_container(ApiClient& api, const std::string& src, const Spec& dst, bool archive_mode) {
  struct stat sst {};
  if (src != "-" && ::lstat(src.c_str(), &sst) != 0) return fail_errno("stat {}", src);
  std::string target_dir = dst.path, name = base_name(src);
  if (src == "-") {
    // stdin is already a tar: extract it into the destination directory as is.
    std::string body;
    char b[65536];
    for (;;) {
      ssize_t n = ::read(0, b, sizeof b);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail_errno("read stdin");
      if (n == 0) break;
      body.append(b, static_cast<size_t>(n));
    }
    BERTH_TRY(api.call("PUT", "/containers/" + dst.container + "/archive", {{"path", dst.path}, {"noOverwriteDirNonDir", "true"}},
                       Body{body, "application/x-tar"}));
    return ok();
  }
  auto head = BERTH_TRY(api.request("HEAD", "/containers/" + dst.container + "/archive", {{"path", dst.path}}));
  bool dst_is_dir = false;
  if (head.status == 200) {
    auto stat_hdr = head.headers.get("X-Docker-Container-Path-Stat");
    if (stat_hdr) {
      // base64 JSON {name,size,mode,mtime,linkTarget}; Go's os.ModeDir is 1<<31.
      std::string dec = base64_decode(*stat_hdr).value_or("");
      auto j = json::parse(dec, nullptr, false);
      if (j.is_object()) dst_is_dir = (j.value("mode", uint64_t{0}) & (uint64_t{1} << 31)) != 0;
    }
  } else if (head.status == 404) {
    if (dst.path.ends_with("/")) return fail(Errc::NotFound, "Error response from daemon: Could not find the file {} in container {}", dst.path, dst.container);
  } else {
    return fail(api::client::reply_error(head.status, head.body));
  }
  if (!dst_is_dir) {
    target_dir = dir_name(dst.path);
    name = base_name(dst.path);
  }
  TarWriter tw;
  BERTH_TRY(tw.add(src, name));
  std::string body = BERTH_TRY(tw.finish());
  Query q{{"path", target_dir}, {"noOverwriteDirNonDir", "true"}};
  if (archive_mode) q.emplace_back("copyUIDGID", "true");
  BERTH_TRY(api.call("PUT", "/containers/" + dst.container + "/archive", q, Body{body, "application/x-tar"}));
  return ok();
}

}  // namespace

int cp_main(int argc, char** argv) {
  Command cmd("berth cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n        berth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH");
  bool archive_mode = false, follow = false, quiet = false;
  cmd.flags.add_bool("a,archive", &archive_mode, "archive mode (copy all uid/gid information)");
  cmd.flags.add_bool("L,follow-link", &follow, "always follow symbol link in SRC_PATH");
  cmd.flags.add_bool("q,quiet", &quiet, "suppress progress output during copy");
  int rc = 0;
  if (!cmd.parse(argc, argv, &rc, true, 2, 2)) return rc;
  Spec src = split_spec(cmd.args[0]), dst = split_spec(cmd.args[1]);
  if (src.container.empty() == dst.container.empty()) {
    std::fprintf(stderr, "berth cp: copying between containers or between local paths is not supported; "
                         "one of the paths must be CONTAINER:PATH\n");
    return 1;
  }
  auto api = cmd.api();
  if (!api) return report(api.error());
  if (follow && src.container.empty()) {
    char real[PATH_MAX];
    if (::realpath(src.path.c_str(), real)) src.path = real;
  }
  Status st = src.container.empty() ? copy_to_container(**api, src.path, dst, archive_mode)
                                    : copy_from_container(**api, src, dst.path);
  if (!st) return report(st.error());
  return 0;
}

}  // namespace berth::cli
