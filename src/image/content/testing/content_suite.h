#pragma once
// Conformance suite for content::Store implementations (include from exactly one test .cc per impl):
//
//   #include "image/content/testing/content_suite.h"
//   INSTANTIATE_TEST_SUITE_P(Local, ContentSuite, ::testing::Values(ContentStoreFactory{
//       [](const std::string& dir) { return std::unique_ptr<Store>(LocalStore::open(dir).value()); }}));
//
// Every test gets a fresh TempDir and a fresh store over it.

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/testing/temp_dir.h"
#include "image/content/store.h"

namespace berth::image::content {

struct ContentStoreFactory {
  std::function<std::unique_ptr<Store>(const std::string& dir)> make;
};

class ContentSuite : public ::testing::TestWithParam<ContentStoreFactory> {
 protected:
  void SetUp() override { store_ = GetParam().make(dir_.path()); }
  std::unique_ptr<Store> reopen() { return GetParam().make(dir_.path()); }

  std::unique_ptr<Writer> open_writer(const std::string& ref, int64_t size = -1, Digest expected = {}) {
    WriterOptions o;
    o.ref = ref;
    o.expected_size = size;
    o.expected = expected;
    auto w = store_->writer(o);
    EXPECT_TRUE(w) << w.error().message();
    return w ? std::move(*w) : nullptr;
  }

  static std::string payload(size_t n, char seed = 'a') {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; i++) s[i] = static_cast<char>(seed + (i * 31) % 97);
    return s;
  }

  berth::testing::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_P(ContentSuite, WriteCommitRead) {
  auto data = payload(3 << 20);
  auto want = Digest::sha256_of(data);
  auto w = open_writer("t1", static_cast<int64_t>(data.size()));
  ASSERT_TRUE(w);
  for (size_t off = 0; off < data.size(); off += 100000)
    ASSERT_TRUE(w->write(std::string_view(data).substr(off, 100000)));
  EXPECT_EQ(w->offset(), static_cast<int64_t>(data.size()));
  EXPECT_EQ(w->digest(), want);
  auto got = w->commit(static_cast<int64_t>(data.size()), want);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*got, want);
  auto info = store_->info(want);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, static_cast<int64_t>(data.size()));
  auto back = read_blob(*store_, want, 8 << 20);
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(*back, data);
  int seen = 0;
  ASSERT_TRUE(store_->walk([&](const Info& i) {
    EXPECT_EQ(i.digest, want);
    seen++;
    return ok();
  }));
  EXPECT_EQ(seen, 1);
  EXPECT_TRUE(store_->ingests()->empty());
  // Still there through a fresh instance.
  auto again = reopen();
  EXPECT_TRUE(again->info(want));
}

TEST_P(ContentSuite, NotVisibleBeforeCommit) {
  auto data = payload(1000);
  auto w = open_writer("t2");
  ASSERT_TRUE(w->write(data));
  auto i = store_->info(Digest::sha256_of(data));
  ASSERT_FALSE(i);
  EXPECT_EQ(i.error().code(), Errc::NotFound);
  EXPECT_EQ(store_->reader(Digest::sha256_of(data)).error().code(), Errc::NotFound);
}

TEST_P(ContentSuite, CommitChecksSizeAndDigest) {
  auto data = payload(5000);
  auto w = open_writer("size");
  ASSERT_TRUE(w->write(data));
  auto r = w->commit(4999, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::FailedPrecondition);
  EXPECT_NE(r.error().message().find("size mismatch"), std::string::npos);

  auto w2 = open_writer("digest");
  ASSERT_TRUE(w2->write(data));
  auto r2 = w2->commit(5000, Digest::sha256_of("other"));
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code(), Errc::FailedPrecondition);
  EXPECT_NE(r2.error().message().find("digest mismatch"), std::string::npos);
  EXPECT_FALSE(store_->info(Digest::sha256_of(data)));
  EXPECT_FALSE(store_->info(Digest::sha256_of("other")));
}

TEST_P(ContentSuite, ResumesAnIngest) {
  auto data = payload(200000);
  auto want = Digest::sha256_of(data);
  {
    auto w = open_writer("resume", static_cast<int64_t>(data.size()));
    ASSERT_TRUE(w->write(std::string_view(data).substr(0, 70000)));
  }  // dropped without commit
  auto st = store_->ingest_status("resume");
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(st->offset, 70000);
  EXPECT_EQ(st->total, static_cast<int64_t>(data.size()));
  auto store2 = reopen();
  WriterOptions o;
  o.ref = "resume";
  auto w = store2->writer(o);
  ASSERT_TRUE(w) << w.error().message();
  EXPECT_EQ((*w)->offset(), 70000);
  ASSERT_TRUE((*w)->write(std::string_view(data).substr(70000)));
  auto got = (*w)->commit(static_cast<int64_t>(data.size()), want);
  ASSERT_TRUE(got) << got.error().message();
  EXPECT_EQ(*read_blob(*store2, want), data);
}

TEST_P(ContentSuite, SameRefIsLocked) {
  auto w1 = open_writer("busy");
  ASSERT_TRUE(w1->write("abc"));
  WriterOptions o;
  o.ref = "busy";
  auto w2 = store_->writer(o);
  ASSERT_FALSE(w2);
  EXPECT_EQ(w2.error().code(), Errc::Unavailable);
  EXPECT_EQ(store_->abort_ingest("busy").error().code(), Errc::Unavailable);
  w1.reset();
  auto w3 = store_->writer(o);
  ASSERT_TRUE(w3) << w3.error().message();
  EXPECT_EQ((*w3)->offset(), 3);
}

TEST_P(ContentSuite, SameBlobUnderTwoRefs) {
  auto data = payload(10000);
  auto want = Digest::sha256_of(data);
  auto a = open_writer("a");
  auto b = open_writer("b");
  ASSERT_TRUE(a->write(data));
  ASSERT_TRUE(b->write(data));
  ASSERT_TRUE(a->commit(10000, want));
  auto rb = b->commit(10000, want);
  ASSERT_FALSE(rb);
  EXPECT_EQ(rb.error().code(), Errc::AlreadyExists);
  EXPECT_EQ(*read_blob(*store_, want), data);
  EXPECT_TRUE(store_->ingests()->empty());
  WriterOptions o;
  o.ref = "c";
  o.expected = want;
  EXPECT_EQ(store_->writer(o).error().code(), Errc::AlreadyExists);
}

TEST_P(ContentSuite, ConcurrentWritersOfOneBlob) {
  auto data = payload(1 << 20);
  auto want = Digest::sha256_of(data);
  std::atomic<int> committed{0}, existed{0}, failed{0};
  std::vector<std::thread> ts;
  for (int i = 0; i < 6; i++) {
    ts.emplace_back([&, i] {
      WriterOptions o;
      o.ref = (i % 2) ? "shared" : "own-" + std::to_string(i);
      o.expected = want;
      o.wait = true;
      auto w = store_->writer(o);
      if (!w) {
        (w.error().code() == Errc::AlreadyExists ? existed : failed)++;
        return;
      }
      if (!(*w)->truncate() || !(*w)->write(data)) {
        failed++;
        return;
      }
      auto c = (*w)->commit(static_cast<int64_t>(data.size()), want);
      if (c) committed++;
      else if (c.error().code() == Errc::AlreadyExists) existed++;
      else failed++;
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(committed.load(), 1);
  EXPECT_EQ(existed.load(), 5);
  EXPECT_EQ(*read_blob(*store_, want, 2 << 20), data);
  EXPECT_TRUE(store_->ingests()->empty());
}

TEST_P(ContentSuite, RemoveAndAbort) {
  auto d = write_blob(*store_, "hello");
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(*d, Digest::sha256_of("hello"));
  EXPECT_TRUE(write_blob(*store_, "hello"));  // idempotent
  ASSERT_TRUE(store_->remove(*d));
  EXPECT_EQ(store_->remove(*d).error().code(), Errc::NotFound);
  EXPECT_EQ(store_->info(*d).error().code(), Errc::NotFound);

  {
    auto w = open_writer("abandoned", 100);
    ASSERT_TRUE(w->write("xyz"));
  }
  auto list = store_->ingests();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].ref, "abandoned");
  EXPECT_EQ((*list)[0].offset, 3);
  ASSERT_TRUE(store_->abort_ingest("abandoned"));
  EXPECT_TRUE(store_->ingests()->empty());
  EXPECT_EQ(store_->abort_ingest("abandoned").error().code(), Errc::NotFound);
  auto w = open_writer("abandoned");
  EXPECT_EQ(w->offset(), 0);
}

TEST_P(ContentSuite, RejectsBadRefs) {
  WriterOptions o;
  EXPECT_EQ(store_->writer(o).error().code(), Errc::InvalidArgument);
  o.ref = std::string(2000, 'x');
  EXPECT_EQ(store_->writer(o).error().code(), Errc::InvalidArgument);
  o.ref = "../../../etc/passwd";  // any text is fine as a ref; it never becomes a path
  auto w = store_->writer(o);
  ASSERT_TRUE(w) << w.error().message();
  ASSERT_TRUE((*w)->write("x"));
  EXPECT_TRUE((*w)->commit(1, Digest::sha256_of("x")));
}

TEST_P(ContentSuite, EmptyBlob) {
  auto w = open_writer("empty");
  auto d = w->commit(0, Digest::sha256_of(""));
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(store_->info(*d)->size, 0);
  EXPECT_EQ(*read_blob(*store_, *d), "");
}

}  // namespace berth::image::content
