// ImageStore::bootstrap_busybox: a base image built locally from the host's static busybox, since no public
// registry is reachable from here.
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <set>

#include "base/file.h"
#include "base/unique_fd.h"
#include "image/image_store.h"
#include "image/layer_writer.h"
#include "image/unpack/decompress.h"

extern char** environ;

namespace berth::image {

namespace {

// `busybox --list-full`: one applet path per line ("bin/sh", "usr/bin/awk").
Result<std::vector<std::string>> applets(const std::string& busybox) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return fail_errno("pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, wr.get(), 1);
  const char* argv[] = {busybox.c_str(), "--list-full", nullptr};
  pid_t pid;
  int rc = posix_spawn(&pid, busybox.c_str(), &fa, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return fail_errno_n(rc, "run `{} --list-full`", busybox);
  wr.reset();
  auto out = read_fd(rd.get(), 1 << 20);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!out) return fail(std::move(out).error());
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return fail(Errc::FailedPrecondition, "`{} --list-full` failed (is it busybox?)", busybox);
  std::vector<std::string> lines;
  size_t i = 0;
  while (i < out->size()) {
    size_t j = out->find('\n', i);
    if (j == std::string::npos) j = out->size();
    std::string l = out->substr(i, j - i);
    if (!l.empty() && l.find("..") == std::string::npos && l[0] != '/') lines.push_back(l);
    i = j + 1;
  }
  if (lines.empty()) return fail(Errc::FailedPrecondition, "`{} --list-full` listed no applets", busybox);
  return lines;
}

std::string rfc3339(int64_t t) {
  char buf[64];
  time_t tt = static_cast<time_t>(t);
  struct tm tm;
  gmtime_r(&tt, &tm);
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

Result<oci::Descriptor> ImageStore::bootstrap_busybox(const std::string& name_in, const std::string& busybox) {
  std::string name = BERTH_TRY(normalize_name(name_in.empty() ? "busybox" : name_in));
  UniqueFd bb(::open(busybox.c_str(), O_RDONLY | O_CLOEXEC));
  if (!bb) return fail_errno("open `{}` (install busybox-static)", busybox);
  struct stat st;
  if (::fstat(bb.get(), &st) < 0) return fail_errno("stat `{}`", busybox);
  auto list = BERTH_TRY(applets(busybox));
  // Reproducible: SOURCE_DATE_EPOCH if set, else the busybox binary's mtime.
  int64_t when = st.st_mtim.tv_sec;
  if (const char* sde = ::getenv("SOURCE_DATE_EPOCH")) when = std::strtoll(sde, nullptr, 10);

  std::string lease = fmt::format("bootstrap-{}", ::getpid());
  (void)meta_->delete_lease(lease);
  BERTH_TRY(meta_->create_lease(lease, int64_t{3600} * 1000000000));
  auto build = [&]() -> Result<oci::Descriptor> {
    auto lw = BERTH_TRY(LayerWriter::create(*content_, true, when));
    std::set<std::string> dirs = {"bin", "dev", "etc", "home", "proc", "root", "sbin", "sys", "tmp", "usr",
                                  "usr/bin", "usr/sbin", "var", "var/spool", "var/spool/cron"};
    for (auto& a : list) {
      for (size_t p = a.find('/'); p != std::string::npos; p = a.find('/', p + 1)) dirs.insert(a.substr(0, p));
    }
    for (auto& d : dirs) BERTH_TRY(lw->add_dir(d, d == "tmp" ? 01777 : d == "root" ? 0700 : 0755));
    BERTH_TRY(lw->add_file_from_fd("bin/busybox", bb.get(), st.st_size, 0755));
    for (auto& a : list)
      if (a != "bin/busybox") BERTH_TRY(lw->add_symlink(a, "/bin/busybox"));
    BERTH_TRY(lw->add_file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n", 0644));
    BERTH_TRY(lw->add_file("etc/group", "root:x:0:\nnogroup:x:65534:\n", 0644));
    BERTH_TRY(lw->add_file("etc/hostname", "busybox\n", 0644));
    auto layer = BERTH_TRY(lw->finish());
    BERTH_TRY(meta_->add_lease_resource(lease, {metadata::ResourceKind::Content, layer.desc.digest.str()}));

    oci::ImageConfig cfg;
    cfg.created = rfc3339(when);
    cfg.architecture = "amd64";
    cfg.os = "linux";
    cfg.config.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
    cfg.config.cmd = std::vector<std::string>{"sh"};
    cfg.diff_ids = {layer.diff_id};
    cfg.history.push_back({cfg.created, fmt::format("berth image bootstrap busybox ({} applets from {})",
                                                    list.size(), busybox), "", "", false});
    return put_config_and_manifest(name, cfg, {layer.desc}, lease);
  };
  auto r = build();
  (void)meta_->delete_lease(lease);
  return r;
}

}  // namespace berth::image

namespace berth::image {

Result<oci::Descriptor> ImageStore::import_rootfs(const std::string& tarball, const std::string& name_in) {
  std::string name = BERTH_TRY(normalize_name(name_in));
  UniqueFd fd(::open(tarball.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail_errno("import: open `{}`", tarball);
  std::string lease = fmt::format("import-{}", ::getpid());
  (void)meta_->delete_lease(lease);
  BERTH_TRY(meta_->create_lease(lease, int64_t{3600} * 1000000000));
  auto build = [&]() -> Result<oci::Descriptor> {
    // One pass: the raw bytes go to the content store while the decompressed stream is hashed for diff_id.
    struct Tee final : unpack::Source {
      int fd;
      content::Writer* w;
      Result<size_t> read(void* buf, size_t n) override {
        ssize_t r = ::read(fd, buf, n);
        if (r < 0) return fail_errno("import: read");
        BERTH_TRY(w->write(std::string_view(static_cast<char*>(buf), static_cast<size_t>(r))));
        return static_cast<size_t>(r);
      }
    };
    content::WriterOptions wo;
    wo.ref = "import-" + tarball;
    auto w = BERTH_TRY(content_->writer(wo));
    BERTH_TRY(w->truncate());
    Tee tee;
    tee.fd = fd.get();
    tee.w = w.get();
    unpack::Decompressor dec(tee, std::nullopt, uint64_t{1} << 40, false);
    BERTH_TRY_CTX(dec.drain(), "import `{}`", tarball);
    oci::Descriptor layer;
    layer.size = w->offset();
    layer.digest = w->digest();
    auto c = w->commit(layer.size, layer.digest);
    if (!c && c.error().code() != Errc::AlreadyExists) return fail(std::move(c).error());
    BERTH_TRY(meta_->add_lease_resource(lease, {metadata::ResourceKind::Content, layer.digest.str()}));
    unsigned char m[4] = {};
    auto rd = BERTH_TRY(content_->reader(layer.digest));
    BERTH_TRY(rd->read_at(m, 4, 0));
    layer.media_type = std::string(m[0] == 0x1f && m[1] == 0x8b                               ? oci::media::kOciLayerGzip
                                   : (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) ? oci::media::kOciLayerZstd
                                                                                                    : oci::media::kOciLayer);
    oci::ImageConfig cfg;
    cfg.created = rfc3339(::time(nullptr));
    cfg.architecture = "amd64";
    cfg.os = "linux";
    cfg.diff_ids = {dec.diff_id()};
    cfg.history.push_back({cfg.created, "berth image import " + tarball, "", "", false});
    return put_config_and_manifest(name, cfg, {layer}, lease);
  };
  auto r = build();
  (void)meta_->delete_lease(lease);
  return r;
}

}  // namespace berth::image

namespace berth::image {

Result<oci::Descriptor> ImageStore::put_config_and_manifest(const std::string& name, const oci::ImageConfig& cfg,
                                                            const std::vector<oci::Descriptor>& layers,
                                                            const std::string& lease) {
  auto cdesc = BERTH_TRY(write_json_blob(oci::to_json(cfg), oci::media::kOciConfig, lease));
  oci::Manifest m;
  m.media_type = std::string(oci::media::kOciManifest);
  m.config = cdesc;
  m.layers = layers;
  auto mdesc = BERTH_TRY(write_json_blob(oci::to_json(m), oci::media::kOciManifest, lease));
  BERTH_TRY(put_image(name, mdesc));
  return mdesc;
}

}  // namespace berth::image
