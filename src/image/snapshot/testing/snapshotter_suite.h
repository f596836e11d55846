#pragma once
// Conformance suite for Snapshotter implementations (no root: exercises lifecycle, layout and errors; mounts
// are only checked for their shape). Instantiate with a factory, as content_suite.h does.

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>

#include "base/file.h"
#include "base/testing/temp_dir.h"
#include "image/snapshot/snapshotter.h"

namespace berth::image::snapshot {

struct SnapshotterFactory {
  std::function<std::unique_ptr<Snapshotter>(const std::string& dir)> make;
};

class SnapshotterSuite : public ::testing::TestWithParam<SnapshotterFactory> {
 protected:
  void SetUp() override { s_ = GetParam().make(dir_.path()); }
  // Prepares key over parent, writes files into it, commits it as name.
  void layer(const std::string& name, const std::string& parent, const std::string& file, const std::string& data) {
    auto m = s_->prepare("extract-" + name, parent);
    ASSERT_TRUE(m) << m.error().message();
    auto w = s_->writable_dir("extract-" + name);
    ASSERT_TRUE(w) << w.error().message();
    ASSERT_TRUE(write_file_atomic(*w + "/" + file, data));
    auto c = s_->commit(name, "extract-" + name);
    ASSERT_TRUE(c) << c.error().message();
  }
  berth::testing::TempDir dir_;
  std::unique_ptr<Snapshotter> s_;
};

TEST_P(SnapshotterSuite, PrepareCommitStat) {
  layer("sha256:base", "", "a", "1");
  auto i = s_->stat("sha256:base");
  ASSERT_TRUE(i) << i.error().message();
  EXPECT_EQ(i->kind, Kind::Committed);
  EXPECT_EQ(i->parent, "");
  EXPECT_EQ(s_->stat("extract-sha256:base").error().code(), Errc::NotFound);
  layer("sha256:child", "sha256:base", "b", "2");
  EXPECT_EQ(s_->stat("sha256:child")->parent, "sha256:base");
  EXPECT_EQ(s_->writable_dir("sha256:child").error().code(), Errc::InvalidArgument);
  int n = 0;
  ASSERT_TRUE(s_->walk([&](const Info&) {
    n++;
    return ok();
  }));
  EXPECT_EQ(n, 2);
}

TEST_P(SnapshotterSuite, ActiveMountsCoverParents) {
  layer("l1", "", "a", "1");
  auto m = s_->prepare("ctr", "l1");
  ASSERT_TRUE(m) << m.error().message();
  ASSERT_EQ(m->size(), 1u);
  EXPECT_TRUE((*m)[0].type == "overlay" || (*m)[0].type == "bind");
  auto again = s_->mounts("ctr");
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)[0].options, (*m)[0].options);
  auto v = s_->view("v", "l1");
  ASSERT_TRUE(v) << v.error().message();
  bool ro = false;
  for (auto& o : (*v)[0].options) ro |= o == "ro" || o.starts_with("lowerdir=");
  EXPECT_TRUE(ro);
}

TEST_P(SnapshotterSuite, Errors) {
  EXPECT_EQ(s_->prepare("x", "missing").error().code(), Errc::NotFound);
  ASSERT_TRUE(s_->prepare("active", ""));
  EXPECT_EQ(s_->prepare("active", "").error().code(), Errc::AlreadyExists);
  EXPECT_EQ(s_->prepare("y", "active").error().code(), Errc::InvalidArgument);  // parent not committed
  layer("base", "", "f", "x");
  layer("kid", "base", "g", "y");
  EXPECT_EQ(s_->remove("base").error().code(), Errc::FailedPrecondition);
  ASSERT_TRUE(s_->remove("kid"));
  ASSERT_TRUE(s_->remove("base"));
  EXPECT_EQ(s_->remove("base").error().code(), Errc::NotFound);
  EXPECT_EQ(s_->commit("c", "nope").error().code(), Errc::NotFound);
}

TEST_P(SnapshotterSuite, SecondCommitOfSameLayerLoses) {
  ASSERT_TRUE(s_->prepare("e1", ""));
  ASSERT_TRUE(s_->prepare("e2", ""));
  ASSERT_TRUE(s_->commit("sha256:same", "e1"));
  auto r = s_->commit("sha256:same", "e2");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::AlreadyExists);
  EXPECT_EQ(s_->stat("e2").error().code(), Errc::NotFound);  // the loser's work is gone
}

TEST_P(SnapshotterSuite, EphemeralPrepareIsActiveAndTornDebrisIsCleared) {
  layer("l1", "", "a", "1");
  auto m = s_->prepare_ephemeral("ctr-e", "l1");
  ASSERT_TRUE(m) << m.error().message();
  auto durable = s_->prepare("ctr-d", "l1");
  ASSERT_TRUE(durable);
  EXPECT_EQ((*m)[0].type, (*durable)[0].type);
  auto i = s_->stat("ctr-e");
  ASSERT_TRUE(i) << i.error().message();
  EXPECT_EQ(i->kind, Kind::Active);
  EXPECT_EQ(i->parent, "l1");
  EXPECT_EQ(s_->prepare_ephemeral("ctr-e", "l1").error().code(), Errc::AlreadyExists);
  auto w = s_->writable_dir("ctr-e");
  ASSERT_TRUE(w) << w.error().message();
  // what a host crash can leave of unsynced metadata: an empty info.json
  std::string info = w->substr(0, w->rfind('/')) + "/info.json";
  ASSERT_TRUE(write_file_replace(info, ""));
  EXPECT_EQ(s_->stat("ctr-e").error().code(), Errc::Internal);
  ASSERT_TRUE(s_->remove("ctr-e"));  // removable all the same
  EXPECT_EQ(s_->stat("ctr-e").error().code(), Errc::NotFound);
  // debris under the key is replaced by the next prepare of that key
  ASSERT_TRUE(s_->prepare_ephemeral("ctr-e", "l1"));
  ASSERT_TRUE(write_file_replace(info, "{"));
  auto again = s_->prepare_ephemeral("ctr-e", "l1");
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(s_->stat("ctr-e")->kind, Kind::Active);
  ASSERT_TRUE(s_->remove("ctr-e"));
  ASSERT_TRUE(s_->remove("ctr-d"));
  ASSERT_TRUE(s_->remove("l1"));  // no children left
}

TEST_P(SnapshotterSuite, ReadErrorOfMetadataIsNotTakenForDebris) {
  layer("l1", "", "a", "1");
  layer("l2", "l1", "b", "2");
  // Out of file descriptors (EMFILE, an Internal error like a torn info.json's): removing the parent must fail
  // and leave it, not take it for the debris of a throw-away snapshot and skip the children check.
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  int lowest = ::dup(0);
  ASSERT_GE(lowest, 0);
  ::close(lowest);
  rlimit tight = old;
  tight.rlim_cur = static_cast<rlim_t>(lowest);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  auto r = s_->remove("l1");
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::Internal) << r.error().message();
  EXPECT_EQ(s_->stat("l1")->kind, Kind::Committed);
  EXPECT_EQ(s_->stat("l2")->parent, "l1");
  EXPECT_EQ(s_->remove("l1").error().code(), Errc::FailedPrecondition);  // it has a child
}

}  // namespace berth::image::snapshot
