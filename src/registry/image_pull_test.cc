// ImageStore::push and ImageStore::pull against our registry server on loopback: records, leases, unpacked
// snapshots, only-missing downloads, automatic cross-repository mounts and docker-shaped progress.
#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <map>
#include <thread>
#include <mutex>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/testing/temp_dir.h"
#include "image/image_store.h"
#include "image/layer_writer.h"
#include "net/http/http.h"
#include "registry/server.h"

namespace berth::registry {
namespace {

using image::ProgressEvent;
using image::ProgressState;

class ImagePull : public ::testing::Test {
 protected:
  void SetUp() override {
    ServeOptions o;
    o.addr = "127.0.0.1:0";
    o.root = dir_ / "registry";
    o.observer = [this](const std::string& m, const std::string& t, const net::http::Headers&, int status) {
      std::lock_guard lk(mu_);
      log_.push_back(fmt::format("{} {} {}", m, t, status));
    };
    srv_ = RegistryServer::start(o).value();
    host_ = fmt::format("127.0.0.1:{}", srv_->port());
    a_ = open("a");
    b_ = open("b");
  }
  std::unique_ptr<image::ImageStore> open(const std::string& sub, const std::string& snapshotter = "native") {
    image::ImageStoreOptions o;
    o.root = dir_ / sub;
    o.snapshotter = snapshotter;  // native: no mounts in a unit test; overlay: layers only, never mounted
    return image::ImageStore::open(o).value();
  }
  std::vector<std::string> take_log() {
    std::lock_guard lk(mu_);
    return std::exchange(log_, {});
  }

  image::LayerBlob layer(image::ImageStore& s, const std::string& dir, const std::string& data) {
    auto w = image::LayerWriter::create(s.content(), true, 1700000000).value();
    EXPECT_TRUE(w->add_dir(dir, 0755));
    EXPECT_TRUE(w->add_file(dir + "/file", data, 0644));
    EXPECT_TRUE(w->add_symlink(dir + "/link", "file"));
    return w->finish().value();
  }
  // Stores an image named `name` in s with the given layers; returns its manifest descriptor.
  oci::Descriptor image(image::ImageStore& s, const std::string& name, const std::vector<image::LayerBlob>& layers,
                        const std::string& arch = "amd64") {
    oci::ImageConfig cfg;
    cfg.architecture = arch;
    cfg.os = "linux";
    cfg.config.cmd = std::vector<std::string>{"/base/file"};
    oci::Manifest m;
    m.media_type = std::string(oci::media::kOciManifest);
    for (auto& l : layers) {
      cfg.diff_ids.push_back(l.diff_id);
      m.layers.push_back(l.desc);
    }
    auto cj = oci::to_json(cfg);
    m.config = {.media_type = std::string(oci::media::kOciConfig),
                .digest = image::content::write_blob(s.content(), cj).value(), .size = (int64_t)cj.size()};
    auto mj = oci::to_json(m);
    oci::Descriptor md{.media_type = std::string(oci::media::kOciManifest),
                       .digest = image::content::write_blob(s.content(), mj).value(), .size = (int64_t)mj.size()};
    EXPECT_TRUE(s.put_image(name, md));
    return md;
  }

  struct Recorder {
    std::mutex mu;
    std::vector<ProgressEvent> events;
    image::ProgressSink sink() {
      return [this](const ProgressEvent& e) {
        std::lock_guard lk(mu);
        events.push_back(e);
      };
    }
    // Final status per id.
    std::map<std::string, std::string> last() {
      std::map<std::string, std::string> m;
      for (auto& e : events)
        if (e.layer_line()) m[e.id] = e.status;
      return m;
    }
    bool saw(const std::string& id, const std::string& status) {
      for (auto& e : events)
        if (e.id == id && e.status == status) return true;
      return false;
    }
    bool saw_message(const std::string& prefix) {
      for (auto& e : events)
        if (e.state == ProgressState::Message && e.status.rfind(prefix, 0) == 0) return true;
      return false;
    }
  };

  static std::string id(const oci::Digest& d) { return std::string(d.hex().substr(0, 12)); }

  berth::testing::TempDir dir_;
  std::unique_ptr<RegistryServer> srv_;
  std::string host_;
  std::mutex mu_;
  std::vector<std::string> log_;
  std::unique_ptr<image::ImageStore> a_, b_;
};

TEST_F(ImagePull, PushThenPullUnpacksAndReportsLikeDocker) {
  auto base = layer(*a_, "base", "base layer\n");
  auto top = layer(*a_, "app", std::string(300000, 'x'));
  std::string name = host_ + "/team/app:v1";
  auto md = image(*a_, name, {base, top});

  Recorder push;
  image::PushOptions po;
  po.progress = push.sink();
  auto pr = a_->push(name, po);
  ASSERT_TRUE(pr) << pr.error().message();
  EXPECT_EQ(pr->blobs_uploaded, 3);  // two layers and the config
  EXPECT_TRUE(push.saw_message("The push refers to repository [" + host_ + "/team/app]"));
  for (auto& l : {base, top}) {
    EXPECT_TRUE(push.saw(id(l.diff_id), "Preparing"));
    EXPECT_EQ(push.last()[id(l.diff_id)], "Pushed");
  }
  ASSERT_FALSE(push.events.empty());
  auto& fin = push.events.back();
  ASSERT_EQ(fin.state, ProgressState::PushResult);
  ASSERT_TRUE(fin.aux);
  EXPECT_EQ(fin.aux->digest, md.digest.str());
  EXPECT_EQ(fin.aux->tag, "v1");
  EXPECT_EQ(fin.status, fmt::format("v1: digest: {} size: {}", md.digest.str(), md.size));

  take_log();
  Recorder pull;
  image::PullOptions plo;
  plo.progress = pull.sink();
  auto r = b_->pull(name, plo);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->target.digest, md.digest);
  EXPECT_EQ(r->repo_digest, md.digest);
  EXPECT_EQ(r->layers_downloaded, 2);
  EXPECT_EQ(r->layers_present, 0);
  EXPECT_FALSE(r->up_to_date);
  for (auto& l : {base, top}) {
    std::string lid = id(l.desc.digest);
    for (auto st : {"Pulling fs layer", "Waiting", "Downloading", "Verifying Checksum", "Download complete",
                    "Extracting", "Pull complete"})
      EXPECT_TRUE(pull.saw(lid, st)) << lid << " " << st;
    EXPECT_EQ(pull.last()[lid], "Pull complete");
  }
  EXPECT_TRUE(pull.saw_message("Pulling from team/app"));
  EXPECT_TRUE(pull.saw_message("Digest: " + md.digest.str()));
  EXPECT_TRUE(pull.saw_message("Status: Downloaded newer image for " + name));
  // The image is usable: resolvable, unpacked (top chain committed), and no lease is left behind.
  auto res = b_->resolve(name);
  ASSERT_TRUE(res) << res.error().message();
  EXPECT_EQ(r->chain_id, image::chain_ids(res->config.diff_ids).back().str());
  EXPECT_TRUE(b_->snapshotter().stat(r->chain_id));
  auto view = b_->snapshotter().view("check", r->chain_id);
  ASSERT_TRUE(view && !view->empty()) << (view ? "" : view.error().message());
  std::string dir = view->front().source;
  EXPECT_EQ(read_file(dir + "/app/file").value(), std::string(300000, 'x'));
  EXPECT_EQ(read_file(dir + "/base/file").value(), "base layer\n");
  EXPECT_TRUE(b_->metadata().list_leases().value().empty());

  // Pulled again: nothing is downloaded, the name is up to date.
  take_log();
  Recorder again;
  plo.progress = again.sink();
  auto r2 = b_->pull(name, plo);
  ASSERT_TRUE(r2) << r2.error().message();
  EXPECT_TRUE(r2->up_to_date);
  EXPECT_EQ(r2->layers_downloaded, 0);
  EXPECT_EQ(r2->layers_present, 2);
  EXPECT_EQ(again.last()[id(base.desc.digest)], "Already exists");
  EXPECT_TRUE(again.saw_message("Status: Image is up to date for " + name));
  for (auto& line : take_log()) EXPECT_EQ(line.find("/blobs/sha256:"), std::string::npos) << line;
}

TEST_F(ImagePull, SharedBaseIsMountedOnPushAndNotFetchedAgainOnPull) {
  auto base = layer(*a_, "base", "shared\n");
  auto one = layer(*a_, "one", "first\n");
  auto two = layer(*a_, "two", "second\n");
  std::string n1 = host_ + "/team/one:v1", n2 = host_ + "/team/two:v1";
  image(*a_, n1, {base, one});
  image(*a_, n2, {base, two});
  ASSERT_TRUE(a_->push(n1));
  Recorder push;
  image::PushOptions po;
  po.progress = push.sink();
  auto pr = a_->push(n2, po);  // mount_from empty: found from the local image team/one on the same registry
  ASSERT_TRUE(pr) << pr.error().message();
  EXPECT_EQ(pr->blobs_mounted, 1);
  EXPECT_EQ(push.last()[id(base.diff_id)], "Mounted from team/one");
  EXPECT_EQ(push.last()[id(two.diff_id)], "Pushed");

  ASSERT_TRUE(b_->pull(n1));
  take_log();
  Recorder pull;
  image::PullOptions plo;
  plo.progress = pull.sink();
  auto r = b_->pull(n2, plo);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->layers_downloaded, 1);
  EXPECT_EQ(r->layers_present, 1);
  EXPECT_EQ(pull.last()[id(base.desc.digest)], "Already exists");
  EXPECT_EQ(pull.last()[id(two.desc.digest)], "Pull complete");
  bool fetched_base = false, fetched_two = false;
  for (auto& line : take_log()) {
    if (line.rfind("GET ", 0) != 0) continue;
    fetched_base = fetched_base || line.find(base.desc.digest.str()) != std::string::npos;
    fetched_two = fetched_two || line.find(two.desc.digest.str()) != std::string::npos;
  }
  EXPECT_FALSE(fetched_base);
  EXPECT_TRUE(fetched_two);
}

TEST_F(ImagePull, OverlayLayersAreExtractedInParallelAndStackedInOrder) {
  std::vector<image::LayerBlob> layers;
  for (int i = 0; i < 4; ++i) layers.push_back(layer(*a_, fmt::format("l{}", i), std::string(100000 * (4 - i), 'a' + i)));
  layers.push_back(layers[1]);  // the same blob again, higher up: two chains, one download
  std::string name = host_ + "/team/layers:v1";
  image(*a_, name, layers);
  ASSERT_TRUE(a_->push(name));
  auto c = open("c", "overlay");
  Recorder pull;
  image::PullOptions plo;
  plo.progress = pull.sink();
  auto r = c->pull(name, plo);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->layers_downloaded, 4);
  auto res = c->resolve(name).value();
  auto chains = image::chain_ids(res.config.diff_ids);
  ASSERT_EQ(chains.size(), 5u);
  EXPECT_EQ(r->chain_id, chains.back().str());
  for (size_t i = 0; i < chains.size(); ++i) {
    auto info = c->snapshotter().stat(chains[i].str());
    ASSERT_TRUE(info) << i;
    EXPECT_EQ(info->kind, image::snapshot::Kind::Committed);
    EXPECT_EQ(info->parent, i == 0 ? "" : chains[i - 1].str()) << i;
  }
  auto dirs = c->snapshotter().layer_dirs(chains.back().str()).value();
  ASSERT_EQ(dirs.size(), 5u);
  EXPECT_EQ(read_file(dirs[0] + "/l1/file").value(), std::string(300000, 'b'));  // top: layer 1's blob again
  EXPECT_EQ(read_file(dirs[4] + "/l0/file").value(), std::string(400000, 'a'));
  for (auto& l : layers) EXPECT_EQ(pull.last()[id(l.desc.digest)], "Pull complete");
  // No extraction snapshot is left behind.
  int active = 0;
  ASSERT_TRUE(c->snapshotter().walk([&](const image::snapshot::Info& i) {
    active += i.kind != image::snapshot::Kind::Committed;
    return ok();
  }));
  EXPECT_EQ(active, 0);
}

TEST_F(ImagePull, ResumedDownloadFallsBackFromStreamingToTheBlobFile) {
  auto big = layer(*a_, "big", std::string(2 << 20, 'z'));
  auto small = layer(*a_, "small", "s");
  std::string name = host_ + "/team/resume:v1";
  image(*a_, name, {big, small});
  ASSERT_TRUE(a_->push(name));
  auto c = open("c", "overlay");
  {
    // What an interrupted pull leaves: part of the big layer in its ingest. The download resumes with Range,
    // so its bytes do not start at 0 and the layer cannot be extracted while it downloads.
    auto blob = image::content::read_blob(a_->content(), big.desc.digest, 8 << 20).value();
    auto w = c->content().writer({.ref = "pull-" + big.desc.digest.str()}).value();
    ASSERT_TRUE(w->write(std::string_view(blob).substr(0, blob.size() / 2)));
  }
  auto r = c->pull(name);
  ASSERT_TRUE(r) << r.error().message();
  auto res = c->resolve(name).value();
  auto chains = image::chain_ids(res.config.diff_ids);
  auto dirs = c->snapshotter().layer_dirs(chains.back().str()).value();
  ASSERT_EQ(dirs.size(), 2u);
  EXPECT_EQ(read_file(dirs[1] + "/big/file").value(), std::string(2 << 20, 'z'));
  EXPECT_EQ(read_file(dirs[0] + "/small/file").value(), "s");
  int active = 0;
  ASSERT_TRUE(c->snapshotter().walk([&](const image::snapshot::Info& i) {
    active += i.kind != image::snapshot::Kind::Committed;
    return ok();
  }));
  EXPECT_EQ(active, 0);
}

TEST_F(ImagePull, IndexPicksThePlatformAndKeepsTheIndexDigest) {
  // A two-platform image: an index naming an amd64 and an arm64 manifest, each with a layer of its own.
  auto amd = layer(*a_, "amd", "amd64 build\n");
  auto arm = layer(*a_, "arm", "arm64 build\n");
  auto md_amd = image(*a_, host_ + "/local/amd:v1", {amd});
  auto md_arm = image(*a_, host_ + "/local/arm:v1", {arm}, "arm64");
  oci::Index idx;
  idx.media_type = std::string(oci::media::kOciIndex);
  md_amd.platform = oci::Platform{.architecture = "amd64", .os = "linux"};
  md_arm.platform = oci::Platform{.architecture = "arm64", .os = "linux", .variant = "v8"};
  idx.manifests = {md_amd, md_arm};
  auto ij = oci::to_json(idx);
  oci::Descriptor id_desc{.media_type = std::string(oci::media::kOciIndex),
                          .digest = image::content::write_blob(a_->content(), ij).value(), .size = (int64_t)ij.size()};
  std::string name = host_ + "/team/multi:v1";
  ASSERT_TRUE(a_->put_image(name, id_desc));
  auto pr = a_->push(name);
  ASSERT_TRUE(pr) << pr.error().message();

  // Default platform (linux/amd64): the amd64 manifest is stored under the name, the index digest is the
  // repo digest, and the arm64 layer is never fetched.
  take_log();
  auto r = b_->pull(name);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->repo_digest, id_desc.digest);
  EXPECT_EQ(r->target.digest, md_amd.digest);
  EXPECT_EQ(r->layers_downloaded, 1);
  EXPECT_EQ(b_->resolve(name).value().config.architecture, "amd64");
  for (auto& line : take_log()) EXPECT_EQ(line.find(arm.desc.digest.str()), std::string::npos) << line;
  auto dirs = b_->snapshotter().layer_dirs(r->chain_id).value();
  ASSERT_EQ(dirs.size(), 1u);
  EXPECT_EQ(read_file(dirs[0] + "/amd/file").value(), "amd64 build\n");

  // --platform linux/arm64 picks the other manifest (variant v8 and none are the same on arm64).
  auto c = open("c");
  image::PullOptions arm_opts;
  arm_opts.platform = oci::Platform::parse("linux/arm64").value();
  auto ra = c->pull(name, arm_opts);
  ASSERT_TRUE(ra) << ra.error().message();
  EXPECT_EQ(ra->repo_digest, id_desc.digest);
  EXPECT_EQ(ra->target.digest, md_arm.digest);
  EXPECT_EQ(c->resolve(name, arm_opts.platform).value().config.architecture, "arm64");

  // A platform the index does not have fails clearly, naming what it has, and stores nothing.
  auto d = open("d");
  image::PullOptions s390;
  s390.platform = oci::Platform::parse("linux/s390x").value();
  auto rs = d->pull(name, s390);
  ASSERT_FALSE(rs);
  EXPECT_EQ(rs.error().code(), Errc::NotFound) << rs.error().message();
  EXPECT_NE(rs.error().message().find("linux/s390x"), std::string::npos) << rs.error().message();
  EXPECT_NE(rs.error().message().find("linux/arm64"), std::string::npos) << rs.error().message();
  EXPECT_FALSE(d->metadata().get_image(name));
  EXPECT_TRUE(d->metadata().list_leases().value().empty());
}

TEST_F(ImagePull, MissingImageAndDockerHubFailClearly) {
  auto r = b_->pull(host_ + "/no/such:v1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::NotFound) << r.error().message();
  auto h = b_->pull("busybox");
  ASSERT_FALSE(h);
  EXPECT_NE(h.error().message().find("not reachable"), std::string::npos) << h.error().message();
  auto p = a_->push(host_ + "/never/stored:v1");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), Errc::NotFound);
  EXPECT_TRUE(b_->metadata().list_leases().value().empty());
}

TEST(Progress, DockerJsonMessages) {
  ProgressEvent dl{.state = ProgressState::Downloading, .id = "0123456789ab", .status = "Downloading",
                   .has_progress = true, .current = 1234567, .total = 4000000};
  EXPECT_EQ(image::progress_json(dl),
            "{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1234567,\"total\":4000000},"
            "\"progress\":\"[===============>                                   ]  1.235MB/4MB\","
            "\"id\":\"0123456789ab\"}\n");
  ProgressEvent done{.state = ProgressState::PullComplete, .id = "0123456789ab", .status = "Pull complete"};
  EXPECT_EQ(image::progress_json(done), "{\"status\":\"Pull complete\",\"progressDetail\":{},\"id\":\"0123456789ab\"}\n");
  ProgressEvent from{.state = ProgressState::Message, .id = "latest", .status = "Pulling from library/busybox"};
  EXPECT_EQ(image::progress_json(from), "{\"status\":\"Pulling from library/busybox\",\"id\":\"latest\"}\n");
  ProgressEvent res{.state = ProgressState::PushResult, .status = "v1: digest: sha256:ab size: 7",
                    .aux = image::PushAux{"v1", "sha256:ab", 7}};
  EXPECT_EQ(image::progress_json(res),
            "{\"status\":\"v1: digest: sha256:ab size: 7\"}\n"
            "{\"progressDetail\":{},\"aux\":{\"Tag\":\"v1\",\"Digest\":\"sha256:ab\",\"Size\":7}}\n");
  EXPECT_EQ(image::human_size_docker(512), "512B");
  EXPECT_EQ(image::human_size_docker(80'000'000), "80MB");
}

TEST_F(ImagePull, CallersLockIsTakenOnlyForTheFinalSteps) {
  for (std::string sn : {"native", "overlay"}) {
    SCOPED_TRACE(sn);
    auto base = layer(*a_, "base", "b\n");
    auto top = layer(*a_, "app-" + sn, std::string(200000, 'y'));
    std::string name = host_ + "/team/locked-" + sn + ":v1";
    image(*a_, name, {base, top});
    ASSERT_TRUE(a_->push(name));
    auto c = open("locked-" + sn, sn);

    std::mutex engine_lock;  // the caller's lock around its other ImageStore calls
    std::unique_lock held(engine_lock);
    std::mutex m;
    std::condition_variable cv;
    int complete = 0;
    bool done = false;
    image::PullOptions plo;
    plo.commit_lock = &engine_lock;
    plo.progress = [&](const ProgressEvent& e) {
      if (e.state != ProgressState::DownloadComplete) return;
      std::lock_guard lk(m);
      ++complete;
      cv.notify_all();
    };
    Result<image::PullResult> r = fail(Errc::Internal, "not run");
    std::thread t([&] {
      r = c->pull(name, plo);
      std::lock_guard lk(m);
      done = true;
      cv.notify_all();
    });
    {
      std::unique_lock lk(m);
      // both layers arrive while this test holds the caller's lock (the bound only turns a hang into a failure)
      cv.wait_for(lk, std::chrono::seconds(120), [&] { return complete == 2 || done; });
      EXPECT_EQ(complete, 2);
      EXPECT_FALSE(done) << "the pull finished without the caller's lock";
    }
    EXPECT_FALSE(c->metadata().get_image(name)) << "the record is written only under the caller's lock";
    held.unlock();
    t.join();
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->layers_downloaded, 2);
    auto res = c->resolve(name);
    ASSERT_TRUE(res) << res.error().message();
    EXPECT_TRUE(c->snapshotter().stat(r->chain_id));
    EXPECT_TRUE(c->metadata().list_leases().value().empty());
  }
}

TEST_F(ImagePull, PushHoldsTheCallersLockOnlyToLeaseTheImage) {
  auto base = layer(*a_, "base", "b\n");
  auto top = layer(*a_, "pushed", std::string(300000, 'z'));
  std::string name = host_ + "/team/pushlock:v1";
  image(*a_, name, {base, top});
  std::mutex engine_lock;
  int uploads = 0, locked_seen = 0;
  image::PushOptions po;
  po.store_lock = &engine_lock;
  po.progress = [&](const ProgressEvent& e) {
    if (e.state != ProgressState::Pushing && e.state != ProgressState::Pushed) return;
    ++uploads;
    // asked from another thread (try_lock by the owner would be undefined): is the caller's lock free?
    bool free = std::async(std::launch::async, [&] {
                  if (!engine_lock.try_lock()) return false;
                  engine_lock.unlock();
                  return true;
                }).get();
    if (!free) ++locked_seen;
  };
  auto r = a_->push(name, po);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_GT(uploads, 0);
  EXPECT_EQ(locked_seen, 0) << "the upload ran under the caller's lock";
  EXPECT_TRUE(a_->metadata().list_leases().value().empty());
  ASSERT_TRUE(b_->pull(name));
  EXPECT_TRUE(b_->resolve(name));
}

}  // namespace
}  // namespace berth::registry
