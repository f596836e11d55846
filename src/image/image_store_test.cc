#include "image/image_store.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/testing/temp_dir.h"
#include "image/layer_writer.h"

#include <nlohmann/json.hpp>

namespace berth::image {
namespace {

bool have_busybox() { return ::access("/bin/busybox", X_OK) == 0; }

class ImageStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_busybox()) GTEST_SKIP() << "busybox-static not installed";
    ImageStoreOptions o;
    o.root = dir_ / "root";
    s_ = ImageStore::open(o).value();
  }
  std::unique_ptr<ImageStore> open_other(const std::string& sub) {
    ImageStoreOptions o;
    o.root = dir_ / sub;
    return ImageStore::open(o).value();
  }
  // An image with the busybox layer plus one more layer.
  oci::Descriptor derived(const std::string& name) {
    auto base = s_->resolve("busybox").value();
    auto lw = LayerWriter::create(s_->content(), true, 1700000000).value();
    EXPECT_TRUE(lw->add_dir("app", 0755));
    EXPECT_TRUE(lw->add_file("app/hello", "hi\n", 0644));
    auto layer = lw->finish().value();
    auto cfg = base.config;
    cfg.diff_ids.push_back(layer.diff_id);
    cfg.config.cmd = std::vector<std::string>{"cat", "/app/hello"};
    auto cj = oci::to_json(cfg);
    auto cd = content::write_blob(s_->content(), cj).value();
    oci::Manifest m = base.manifest;
    m.config = {.media_type = std::string(oci::media::kOciConfig), .digest = cd, .size = (int64_t)cj.size()};
    m.layers.push_back(layer.desc);
    auto mj = oci::to_json(m);
    oci::Descriptor md{.media_type = std::string(oci::media::kOciManifest),
                       .digest = content::write_blob(s_->content(), mj).value(), .size = (int64_t)mj.size()};
    EXPECT_TRUE(s_->put_image(name, md));
    return md;
  }
  int committed_snapshots() {
    int n = 0;
    EXPECT_TRUE(s_->snapshotter().walk([&](const snapshot::Info& i) {
      n += i.kind == snapshot::Kind::Committed;
      return ok();
    }));
    return n;
  }
  berth::testing::TempDir dir_;
  std::unique_ptr<ImageStore> s_;
};

TEST(ImageNames, NormalizeAndChainIds) {
  EXPECT_EQ(*normalize_name("busybox"), "docker.io/library/busybox:latest");
  EXPECT_EQ(*normalize_name("localhost:5000/a/b:1"), "localhost:5000/a/b:1");
  EXPECT_FALSE(normalize_name("UPPER"));
  auto a = oci::Digest::sha256_of("a"), b = oci::Digest::sha256_of("b");
  auto c = chain_ids({a, b});
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0], a);
  EXPECT_EQ(c[1], oci::Digest::sha256_of(a.str() + " " + b.str()));
}

TEST_F(ImageStoreTest, BootstrapBusyboxAndUnpack) {
  auto d = s_->bootstrap_busybox("");
  ASSERT_TRUE(d) << d.error().message();
  auto list = s_->list().value();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "docker.io/library/busybox:latest");
  auto r = s_->resolve("busybox");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->config.architecture, "amd64");
  EXPECT_EQ(r->config.os, "linux");
  ASSERT_TRUE(r->config.config.cmd);
  EXPECT_EQ(*r->config.config.cmd, std::vector<std::string>{"sh"});
  ASSERT_EQ(r->manifest.layers.size(), 1u);
  auto top = s_->unpack("busybox");
  ASSERT_TRUE(top) << top.error().message();
  EXPECT_EQ(*top, r->config.diff_ids[0].str());
  auto v = s_->snapshotter().view("check", *top).value();
  EXPECT_EQ(v[0].type, "bind");
  auto m = s_->snapshotter().mounts(*top).value();
  std::string fs = m[0].source;  // single-layer view is a bind of the layer's dir
  struct stat st;
  ASSERT_EQ(::stat((fs + "/bin/busybox").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  char buf[64] = {};
  ASSERT_GT(::readlink((fs + "/bin/sh").c_str(), buf, sizeof buf), 0);
  EXPECT_STREQ(buf, "/bin/busybox");
  EXPECT_TRUE(::lstat((fs + "/usr/bin/awk").c_str(), &st) == 0 || ::lstat((fs + "/bin/awk").c_str(), &st) == 0);
  auto again = s_->bootstrap_busybox("busybox:again");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->digest, d->digest) << "bootstrap is reproducible";
  auto js = s_->inspect_json("busybox");
  ASSERT_TRUE(js);
  EXPECT_NE(js->find("\"Unpacked\": true"), std::string::npos);
}

TEST_F(ImageStoreTest, TwoImagesShareTheirBaseLayer) {
  ASSERT_TRUE(s_->bootstrap_busybox(""));
  derived("app:1");
  auto a = s_->unpack("busybox");
  ASSERT_TRUE(a) << a.error().message();
  auto b = s_->unpack("app:1");
  ASSERT_TRUE(b) << b.error().message();
  EXPECT_NE(*a, *b);
  EXPECT_EQ(committed_snapshots(), 2) << "the busybox layer must be stored once";
  EXPECT_EQ(s_->snapshotter().stat(*b)->parent, *a);
  // Re-unpacking extracts nothing new.
  ASSERT_TRUE(s_->unpack("app:1"));
  EXPECT_EQ(committed_snapshots(), 2);
}

TEST_F(ImageStoreTest, DiffIdMismatchLeavesNoSnapshot) {
  ASSERT_TRUE(s_->bootstrap_busybox(""));
  auto base = s_->resolve("busybox").value();
  auto cfg = base.config;
  cfg.diff_ids[0] = oci::Digest::sha256_of("lies");
  auto cj = oci::to_json(cfg);
  oci::Manifest m = base.manifest;
  m.config.digest = content::write_blob(s_->content(), cj).value();
  m.config.size = (int64_t)cj.size();
  auto mj = oci::to_json(m);
  ASSERT_TRUE(s_->put_image("bad:1", {.media_type = std::string(oci::media::kOciManifest),
                                      .digest = content::write_blob(s_->content(), mj).value(),
                                      .size = (int64_t)mj.size()}));
  auto r = s_->unpack("bad:1");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("diff_id mismatch"), std::string::npos) << r.error().message();
  EXPECT_EQ(committed_snapshots(), 0);
  int any = 0;
  ASSERT_TRUE(s_->snapshotter().walk([&](const snapshot::Info&) {
    any++;
    return ok();
  }));
  EXPECT_EQ(any, 0);
}

TEST_F(ImageStoreTest, TagRemovePrune) {
  ASSERT_TRUE(s_->bootstrap_busybox(""));
  ASSERT_TRUE(s_->unpack("busybox"));
  ASSERT_TRUE(s_->tag("busybox", "mine:1"));
  ASSERT_TRUE(s_->remove("busybox"));
  EXPECT_EQ(s_->remove("busybox").error().code(), Errc::NotFound);
  auto p = s_->prune();
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_TRUE(p->content.removed.empty());
  EXPECT_TRUE(p->snapshots_removed.empty());
  ASSERT_TRUE(s_->unpack("mine:1"));
  ASSERT_TRUE(s_->remove("mine:1"));
  p = s_->prune();
  ASSERT_TRUE(p) << p.error().message();
  EXPECT_EQ(p->content.removed.size(), 3u);  // manifest, config, layer
  EXPECT_EQ(p->snapshots_removed.size(), 1u);
  EXPECT_EQ(committed_snapshots(), 0);
}

TEST_F(ImageStoreTest, SaveLoadRoundTripTarAndDir) {
  ASSERT_TRUE(s_->bootstrap_busybox(""));
  derived("app:1");
  auto want = s_->resolve("app:1").value();
  for (bool as_dir : {false, true}) {
    std::string out = dir_ / (as_dir ? "layout" : "images.tar");
    auto st = s_->save({"busybox", "app:1"}, out, as_dir);
    ASSERT_TRUE(st) << st.error().message();
    auto other = open_other(as_dir ? "other-dir" : "other-tar");
    auto names = other->load(out);
    ASSERT_TRUE(names) << names.error().message();
    EXPECT_EQ(names->size(), 2u);
    auto got = other->resolve("app:1");
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(got->manifest_desc.digest, want.manifest_desc.digest);
    auto top = other->unpack("app:1");
    ASSERT_TRUE(top) << top.error().message();
  }
  // The directory is an OCI layout.
  EXPECT_TRUE(read_file(dir_ / "layout/oci-layout"));
  auto idx = oci::parse_index(read_file(dir_ / "layout/index.json").value());
  ASSERT_TRUE(idx);
  ASSERT_EQ(idx->manifests.size(), 2u);
  EXPECT_EQ(idx->manifests[0].annotations.at("org.opencontainers.image.ref.name"), "latest");
}

TEST_F(ImageStoreTest, LoadsDockerSaveArchiveWithUncompressedLayers) {
  ASSERT_TRUE(s_->bootstrap_busybox(""));
  auto r = s_->resolve("busybox").value();
  // Rebuild the layer uncompressed, as `docker save` writes it: <id>/layer.tar + <config>.json + manifest.json.
  auto lw = LayerWriter::create(s_->content(), false, 1700000000).value();
  ASSERT_TRUE(lw->add_file("hello", "docker\n", 0644));
  auto layer = lw->finish().value();
  auto cfg = r.config;
  cfg.diff_ids = {layer.diff_id};
  auto cj = oci::to_json(cfg);
  auto layer_bytes = content::read_blob(s_->content(), layer.desc.digest).value();
  std::string tarpath = dir_ / "docker.tar";
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, tarpath.c_str()), ARCHIVE_OK);
  auto add = [&](const std::string& p, const std::string& data) {
    auto* e = archive_entry_new();
    archive_entry_set_pathname(e, p.c_str());
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)data.size());
    archive_write_header(a, e);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  };
  std::string cfgname = std::string(oci::Digest::sha256_of(cj).hex()) + ".json";
  add("abc123/layer.tar", layer_bytes);
  add("abc123/json", "{}");
  add(cfgname, cj);
  add("manifest.json", R"([{"Config":")" + cfgname + R"(","RepoTags":["hello:docker"],"Layers":["abc123/layer.tar"]}])");
  archive_write_close(a);
  archive_write_free(a);

  auto other = open_other("docker-load");
  auto names = other->load(tarpath);
  ASSERT_TRUE(names) << names.error().message();
  ASSERT_EQ(names->size(), 1u);
  EXPECT_EQ((*names)[0], "docker.io/library/hello:docker");
  auto got = other->resolve("hello:docker");
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->manifest.layers[0].media_type, oci::media::kOciLayer);
  ASSERT_TRUE(other->unpack("hello:docker"));
}

TEST_F(ImageStoreTest, LoadsImagesWithoutANameUnderTheirDigest) {
  ASSERT_TRUE(s_->bootstrap_busybox(""));
  auto want = s_->resolve("busybox").value();
  std::string layout = dir_ / "unnamed";
  ASSERT_TRUE(s_->save({"busybox"}, layout, true));
  // docker save of an image ID: manifest.json with RepoTags null (and []), no index.json
  std::string idx_text = read_file(layout + "/index.json").value();
  ASSERT_EQ(::unlink((layout + "/index.json").c_str()), 0);
  auto m = nlohmann::json::parse(read_file(layout + "/manifest.json").value());
  for (auto repo_tags : {nlohmann::json(nullptr), nlohmann::json::array()}) {
    m[0]["RepoTags"] = repo_tags;
    ASSERT_TRUE(write_file_atomic(layout + "/manifest.json", m.dump()));
    auto refused = open_other("refused-" + std::to_string(repo_tags.is_null()));
    auto r = refused->load(layout);
    ASSERT_FALSE(r);  // no name and none given
    EXPECT_NE(r.error().message().find("has no name"), std::string::npos) << r.error().message();
    auto other = open_other("docker-" + std::to_string(repo_tags.is_null()));
    auto names = other->load(layout, "berth.local/loaded@");
    ASSERT_TRUE(names) << names.error().message();
    ASSERT_EQ(names->size(), 1u);
    EXPECT_TRUE((*names)[0].starts_with("berth.local/loaded@sha256:")) << (*names)[0];
    auto got = other->resolve((*names)[0]);
    ASSERT_TRUE(got) << got.error().message();
    EXPECT_EQ(got->config_digest, want.config_digest);  // the same image ID
    ASSERT_TRUE(other->unpack((*names)[0]));
  }
  // an OCI layout whose index entries carry no ref name
  auto idx = nlohmann::json::parse(idx_text);
  for (auto& e : idx["manifests"]) e.erase("annotations");
  ASSERT_TRUE(write_file_atomic(layout + "/index.json", idx.dump()));
  ASSERT_EQ(::unlink((layout + "/manifest.json").c_str()), 0);
  auto other = open_other("oci-unnamed");
  auto names = other->load(layout, "berth.local/loaded@");
  ASSERT_TRUE(names) << names.error().message();
  ASSERT_EQ(names->size(), 1u);
  EXPECT_EQ((*names)[0], "berth.local/loaded@" + want.manifest_desc.digest.str());
  auto got = other->resolve((*names)[0]);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(got->config_digest, want.config_digest);
}

TEST_F(ImageStoreTest, SaveWithoutTheNameLoadsUntagged) {
  ASSERT_TRUE(s_->bootstrap_busybox(""));
  auto want = s_->resolve("busybox").value();
  std::string layout = dir_ / "by-id";
  ASSERT_TRUE(s_->save({"docker.io/library/busybox:latest"}, layout, true, {"docker.io/library/busybox:latest"}));
  auto m = nlohmann::json::parse(read_file(layout + "/manifest.json").value());
  EXPECT_TRUE(m[0]["RepoTags"].is_null());
  auto idx = nlohmann::json::parse(read_file(layout + "/index.json").value());
  EXPECT_FALSE(idx["manifests"][0].contains("annotations"));
  auto other = open_other("by-id-load");
  auto names = other->load(layout, "berth.local/loaded@");
  ASSERT_TRUE(names) << names.error().message();
  ASSERT_EQ(names->size(), 1u);
  EXPECT_EQ((*names)[0], "berth.local/loaded@" + want.manifest_desc.digest.str());
  EXPECT_FALSE(other->resolve("busybox"));
}

TEST_F(ImageStoreTest, LoadRefusesEscapingPaths) {
  ASSERT_TRUE(mkdir_all(dir_ / "evil"));
  ASSERT_TRUE(write_file_atomic(dir_ / "evil/manifest.json",
                                R"([{"Config":"../../etc/passwd","RepoTags":["x:1"],"Layers":[]}])"));
  auto r = s_->load(dir_ / "evil");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("escapes"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace berth::image
