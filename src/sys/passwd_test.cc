#include "sys/passwd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/testing/temp_dir.h"
#include "sys/path.h"

namespace berth::sys {
namespace {

constexpr std::string_view kPasswd =
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "# a comment\n"
    "\n"
    "alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n"
    "bob:x:1001:1001::/home/bob:/bin/sh\r\n"
    "nohome:x:1002:100:::/bin/sh\n"
    "+nisuser::::::\n";
constexpr std::string_view kGroup =
    "root:x:0:\n"
    "wheel:x:10:alice, bob\n"
    "users:x:100:alice\n"
    "alice:x:1000:\n"
    "staff:x:50:bob,alice\n";

TEST(Passwd, ParsesEntries) {
  auto p = parse_passwd(kPasswd);
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_EQ(p->size(), 5u);
  EXPECT_EQ((*p)[2].name, "alice");
  EXPECT_EQ((*p)[2].uid, 1000u);
  EXPECT_EQ((*p)[2].gid, 1000u);
  EXPECT_EQ((*p)[2].home, "/home/alice");
  EXPECT_EQ((*p)[2].shell, "/bin/bash");
  EXPECT_EQ((*p)[3].shell, "/bin/sh");  // CRLF stripped
  auto g = parse_group(kGroup);
  ASSERT_TRUE(g);
  ASSERT_EQ(g->size(), 5u);
  EXPECT_EQ((*g)[1].members, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_TRUE((*g)[0].members.empty());
}

TEST(Passwd, MalformedLinesAreSkippedNotZero) {
  auto p = parse_passwd(
      "evil:x:abc:0:::/bin/sh\n"       // non-numeric uid must not become root
      "evil2:x:-1:0:::/bin/sh\n"
      "evil3:x:99999999999:0:::/bin/sh\n"
      "evil4:x:0x10:0:::/bin/sh\n"
      "short:x:5\n"
      "long:x:1:1:g:/h:/s:extra\n"
      ":x:7:7:::/bin/sh\n"
      "good:x:7:7::/:/bin/sh\n"
      "evil5:x:2147483648:0:::/bin/sh\n");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->size(), 1u);
  EXPECT_EQ((*p)[0].name, "good");
}

TEST(Passwd, NulBytesSkipLine) {
  std::string text = "a:x:1:1::/:/bin/sh\n";
  text += std::string("root\0x:x:0:0::/:/bin/sh\n", 24);
  text += "b:x:2:2::/:/bin/sh";  // no trailing newline
  auto p = parse_passwd(text);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->size(), 2u);
  EXPECT_EQ((*p)[1].name, "b");
}

TEST(Passwd, HugeLineFails) {
  std::string text = "a:x:1:1::/:/bin/sh\n" + std::string(kMaxLineBytes + 1, 'x') + "\n";
  auto p = parse_passwd(text);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), Errc::InvalidArgument);
  EXPECT_NE(p.error().message().find("line 2"), std::string::npos) << p.error().message();
  EXPECT_FALSE(parse_group(std::string(kMaxLineBytes + 1, 'y')));
}

TEST(Passwd, HugeFileFails) {
  std::string text(kMaxFileBytes + 1, '\n');
  auto p = parse_passwd(text);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), Errc::InvalidArgument);
  EXPECT_FALSE(parse_group(text));
}

TEST(Passwd, TooManyEntriesFail) {
  // Shortest valid line "a::0:0:::" (10 bytes with newline); kMaxEntries+1 of them fit in kMaxFileBytes.
  std::string text;
  text.reserve((kMaxEntries + 1) * 10);
  for (size_t i = 0; i <= kMaxEntries; ++i) text += "a::0:0:::\n";
  ASSERT_LE(text.size(), kMaxFileBytes);
  auto p = parse_passwd(text);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message().find("entries"), std::string::npos);
}

TEST(ResolveUser, Forms) {
  auto r = resolve_user("", kPasswd, kGroup);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 0u);
  EXPECT_EQ(r->home, "/root");

  r = resolve_user("alice", kPasswd, kGroup);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 1000u);
  EXPECT_EQ(r->gid, 1000u);
  EXPECT_EQ(r->home, "/home/alice");
  EXPECT_EQ(r->additional_gids, (std::vector<gid_t>{10, 100, 50}));

  r = resolve_user("1001", kPasswd, kGroup);  // numeric, with an entry
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 1001u);
  EXPECT_EQ(r->gid, 1001u);
  EXPECT_EQ(r->home, "/home/bob");
  EXPECT_EQ(r->additional_gids, (std::vector<gid_t>{10, 50}));

  r = resolve_user("4242", kPasswd, kGroup);  // numeric, no entry: gid 0, home /
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 4242u);
  EXPECT_EQ(r->gid, 0u);
  EXPECT_EQ(r->home, "/");
  EXPECT_TRUE(r->additional_gids.empty());

  r = resolve_user("alice:staff", kPasswd, kGroup);  // explicit group: no supplementary groups
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 1000u);
  EXPECT_EQ(r->gid, 50u);
  EXPECT_TRUE(r->additional_gids.empty());

  r = resolve_user("4242:4343", "", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 4242u);
  EXPECT_EQ(r->gid, 4343u);

  r = resolve_user("4242:wheel", kPasswd, kGroup);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->gid, 10u);

  r = resolve_user("nohome", kPasswd, kGroup);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->home, "/");
  EXPECT_EQ(r->gid, 100u);
}

TEST(ResolveUser, Errors) {
  auto r = resolve_user("mallory", kPasswd, kGroup);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::NotFound);
  EXPECT_NE(r.error().message().find("unable to find user mallory"), std::string::npos);

  r = resolve_user("alice:nogroup", kPasswd, kGroup);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::NotFound);
  EXPECT_NE(r.error().message().find("nogroup"), std::string::npos);

  for (std::string_view bad : {"1:2:3", "alice:", "2147483648", "99999999999999999999", "1:4294967295"}) {
    r = resolve_user(bad, kPasswd, kGroup);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code(), Errc::InvalidArgument) << bad;
  }
  r = resolve_user(std::string_view("root\0", 5), kPasswd, kGroup);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), Errc::InvalidArgument);
  // "-1", "0x10", " 1" are names, not numbers, and no such user exists.
  for (std::string_view odd : {"-1", "0x10", " 1"}) {
    r = resolve_user(odd, kPasswd, kGroup);
    ASSERT_FALSE(r) << odd;
    EXPECT_EQ(r.error().code(), Errc::NotFound) << odd;
  }
}

TEST(ReadUserFiles, FromRootFd) {
  berth::testing::TempDir t;
  ASSERT_TRUE(mkdir_all(t / "etc"));
  ASSERT_TRUE(write_file_atomic(t / "etc/passwd", kPasswd));
  ASSERT_TRUE(write_file_atomic(t / "etc/group", kGroup));
  auto root = open_root(t.path());
  ASSERT_TRUE(root);
  auto r = resolve_user_in_root(root->get(), "alice");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->uid, 1000u);
  EXPECT_EQ(r->additional_gids.size(), 3u);
}

TEST(ReadUserFiles, MissingFilesAreEmpty) {
  berth::testing::TempDir t;
  auto root = open_root(t.path());
  ASSERT_TRUE(root);
  auto f = read_user_files(root->get());
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_TRUE(f->passwd.empty());
  EXPECT_TRUE(f->group.empty());
  auto r = resolve_user_in_root(root->get(), "123:456");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->uid, 123u);
  EXPECT_EQ(r->gid, 456u);
  EXPECT_FALSE(resolve_user_in_root(root->get(), "root"));
}

TEST(ReadUserFiles, SymlinkToHostStaysInRoot) {
  berth::testing::TempDir t;
  ASSERT_TRUE(mkdir_all(t / "etc"));
  // Symlinks to files that exist on the host must resolve inside the root (absent there).
  ASSERT_EQ(symlink("/etc/hostname", (t / "etc/passwd").c_str()), 0);
  ASSERT_EQ(symlink("../../../../../../etc/hosts", (t / "etc/group").c_str()), 0);
  auto root = open_root(t.path());
  auto f = read_user_files(root->get());
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_TRUE(f->passwd.empty());  // host passwd not read
  EXPECT_TRUE(f->group.empty());
}

TEST(ReadUserFiles, FifoAndDevicesRefused) {
  berth::testing::TempDir t;
  ASSERT_TRUE(mkdir_all(t / "etc"));
  ASSERT_EQ(mkfifo((t / "etc/passwd").c_str(), 0644), 0);  // would block a naive reader forever
  auto root = open_root(t.path());
  auto f = read_user_files(root->get());
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code(), Errc::InvalidArgument);
}

TEST(ReadUserFiles, OversizedFileRefused) {
  berth::testing::TempDir t;
  ASSERT_TRUE(mkdir_all(t / "etc"));
  int fd = open((t / "etc/group").c_str(), O_CREAT | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(kMaxFileBytes) + 1), 0);  // sparse
  close(fd);
  auto root = open_root(t.path());
  auto f = read_user_files(root->get());
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().code(), Errc::InvalidArgument);
}

}  // namespace
}  // namespace berth::sys
