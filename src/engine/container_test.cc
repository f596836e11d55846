// Pure container logic: state names and JSON, status text, names, resolution, list filters, restart policy
// and back-off, and the SQLite container table.
#include "engine/container.h"

#include <gtest/gtest.h>

#include "base/testing/temp_dir.h"
#include "engine/container_store.h"
#include "engine/engine.h"
#include "engine/restart.h"

namespace berth::engine {
namespace {

using std::chrono::milliseconds;

TEST(ContainerState, JsonRoundTripAndInspectShape) {
  ContainerState s;
  s.status = RunState::Paused;
  s.pid = 42;
  s.exit_code = 3;
  s.error = "boom";
  s.manually_stopped = true;
  s.health.status = "healthy";
  s.health.log.push_back({"a", "b", 0, "ok"});
  auto j = state_inspect_json(s);
  EXPECT_EQ(j["Status"], "paused");
  EXPECT_EQ(j["Running"], true);
  EXPECT_EQ(j["Paused"], true);
  EXPECT_EQ(j["Health"]["Status"], "healthy");
  EXPECT_FALSE(j.contains("ManuallyStopped"));
  auto back = state_from_json(state_to_json(s));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->status, RunState::Paused);
  EXPECT_EQ(back->pid, 42);
  EXPECT_EQ(back->exit_code, 3);
  EXPECT_EQ(back->error, "boom");
  EXPECT_TRUE(back->manually_stopped);
  ASSERT_EQ(back->health.log.size(), 1u);
  EXPECT_EQ(back->health.log[0].output, "ok");
  EXPECT_FALSE(state_from_json("{\"Status\":\"bogus\"}"));
  EXPECT_FALSE(state_from_json("not json"));
  ContainerState created;
  EXPECT_FALSE(state_inspect_json(created).contains("Health"));
  EXPECT_EQ(state_inspect_json(created)["FinishedAt"], kGoZeroTime);
}

TEST(ContainerState, StatusText) {
  ContainerState s;
  EXPECT_EQ(status_text(s, 0), "Created");
  s.status = RunState::Running;
  s.started_at = "2026-11-25T12:00:00.5Z";
  int64_t t0 = parse_rfc3339("2026-11-25T12:00:00Z");
  EXPECT_EQ(status_text(s, t0 + 2), "Up 2 seconds");
  EXPECT_EQ(status_text(s, t0 + 1), "Up 1 second");
  EXPECT_EQ(status_text(s, t0 + 200), "Up 3 minutes");
  s.health.status = "starting";
  EXPECT_EQ(status_text(s, t0 + 61), "Up About a minute (health: starting)");
  s.health.status = "";
  s.status = RunState::Exited;
  s.exit_code = 3;
  s.finished_at = "2026-11-25T12:00:00Z";
  EXPECT_EQ(status_text(s, t0 + 1), "Exited (3) 1 second ago");
  EXPECT_EQ(status_text(s, t0 + 7200), "Exited (3) 2 hours ago");
  s.status = RunState::Paused;
  EXPECT_EQ(status_text(s, t0 + 10), "Up 10 seconds (Paused)");
  EXPECT_EQ(human_duration(0), "Less than a second");
  EXPECT_EQ(human_duration(3 * 86400), "3 days");
}

TEST(ContainerNames, Validation) {
  EXPECT_TRUE(validate_name("web"));
  EXPECT_TRUE(validate_name("/web-1.a_b"));
  EXPECT_FALSE(validate_name("w"));
  EXPECT_FALSE(validate_name("-web"));
  EXPECT_FALSE(validate_name("we b"));
  EXPECT_FALSE(validate_name("a/b"));
  auto e = validate_name("bad name");
  EXPECT_NE(e.error().message().find("Invalid container name (bad name)"), std::string::npos);
  EXPECT_EQ(canonical_name("web"), "/web");
  EXPECT_EQ(canonical_name("/web"), "/web");
  auto id = new_container_id();
  EXPECT_EQ(id.size(), 64u);
  EXPECT_NE(id, new_container_id());
  EXPECT_NE(random_name().find('_'), std::string::npos);
}

TEST(ContainerResolve, IdNamePrefix) {
  std::vector<IdName> all = {{"abc123" + std::string(58, '0'), "/web"}, {"abd999" + std::string(58, '1'), "/db"},
                             {"fff" + std::string(61, '2'), "/abc"}};
  EXPECT_EQ(*resolve_ref(all, all[0].id), all[0].id);
  EXPECT_EQ(*resolve_ref(all, "web"), all[0].id);
  EXPECT_EQ(*resolve_ref(all, "/db"), all[1].id);
  EXPECT_EQ(*resolve_ref(all, "abc"), all[2].id) << "an exact name wins over an id prefix";
  EXPECT_EQ(*resolve_ref(all, "abc1"), all[0].id);
  auto amb = resolve_ref(all, "ab");
  ASSERT_FALSE(amb);
  EXPECT_EQ(amb.error().code(), Errc::InvalidArgument);
  auto nf = resolve_ref(all, "nosuch");
  ASSERT_FALSE(nf);
  EXPECT_EQ(nf.error().code(), Errc::NotFound);
  EXPECT_EQ(nf.error().message(), "No such container: nosuch");
  EXPECT_FALSE(resolve_ref(all, ""));
}

TEST(ContainerFilters, Match) {
  FilterView c;
  c.id = "abcdef";
  c.name = "/web-1";
  c.status = RunState::Exited;
  c.exit_code = 3;
  c.labels = {{"app", "x"}, {"tier", "front"}};
  c.image = "busybox";
  c.image_id = "sha256:1234567890";
  c.image_names = {"busybox:latest"};
  c.created = "2026-11-25T12:00:01Z";
  using F = std::map<std::string, std::vector<std::string>>;
  EXPECT_TRUE(filter_match(c, F{}, "", ""));
  EXPECT_TRUE(filter_match(c, F{{"status", {"exited"}}}, "", ""));
  EXPECT_TRUE(filter_match(c, F{{"status", {"running", "exited"}}}, "", ""));
  EXPECT_FALSE(filter_match(c, F{{"status", {"running"}}}, "", ""));
  EXPECT_TRUE(filter_match(c, F{{"exited", {"3"}}}, "", ""));
  EXPECT_FALSE(filter_match(c, F{{"exited", {"0"}}}, "", ""));
  EXPECT_TRUE(filter_match(c, F{{"name", {"web"}}}, "", ""));
  EXPECT_TRUE(filter_match(c, F{{"name", {"^/web-[0-9]$"}}}, "", ""));
  EXPECT_FALSE(filter_match(c, F{{"name", {"db"}}}, "", ""));
  EXPECT_TRUE(filter_match(c, F{{"id", {"abc"}}}, "", ""));
  EXPECT_FALSE(filter_match(c, F{{"id", {"bcd"}}}, "", ""));
  EXPECT_TRUE(filter_match(c, F{{"label", {"app", "tier=front"}}}, "", ""));
  EXPECT_FALSE(filter_match(c, F{{"label", {"app", "tier=back"}}}, "", ""));
  EXPECT_TRUE(filter_match(c, F{{"ancestor", {"busybox"}}}, "", ""));
  EXPECT_TRUE(filter_match(c, F{{"ancestor", {"busybox:latest"}}}, "", ""));
  EXPECT_TRUE(filter_match(c, F{{"ancestor", {"1234"}}}, "", ""));
  EXPECT_FALSE(filter_match(c, F{{"ancestor", {"alpine"}}}, "", ""));
  EXPECT_TRUE(filter_match(c, F{{"health", {"none"}}}, "", ""));
  EXPECT_TRUE(filter_match(c, F{}, "2026-11-25T12:00:02Z", ""));
  EXPECT_FALSE(filter_match(c, F{}, "2026-11-25T12:00:00Z", ""));
  EXPECT_TRUE(filter_match(c, F{}, "", "2026-11-25T12:00:00Z"));
  EXPECT_FALSE(filter_match(c, F{}, "", "2026-11-25T12:00:01Z"));
  EXPECT_TRUE(validate_filters(F{{"status", {"running"}}, {"label", {"a"}}}));
  EXPECT_FALSE(validate_filters(F{{"bogus", {"x"}}}));
  EXPECT_FALSE(validate_filters(F{{"status", {"sleeping"}}}));
  EXPECT_FALSE(validate_filters(F{{"exited", {"x"}}}));
}

TEST(RestartPolicy, Decisions) {
  RestartManager no;
  EXPECT_FALSE(no.should_restart(1, false, 0, milliseconds(5)).restart);
  RestartManager always({"always", 0});
  EXPECT_TRUE(always.should_restart(0, false, 0, milliseconds(5)).restart);
  EXPECT_TRUE(always.should_restart(0, true, 0, milliseconds(5)).restart) << "kill does not stop `always`";
  always.cancel();
  EXPECT_FALSE(always.should_restart(1, false, 0, milliseconds(5)).restart) << "stop cancels";
  always.reset();
  EXPECT_TRUE(always.should_restart(1, false, 0, milliseconds(5)).restart);
  RestartManager us({"unless-stopped", 0});
  EXPECT_TRUE(us.should_restart(0, false, 0, milliseconds(5)).restart);
  EXPECT_FALSE(us.should_restart(0, true, 0, milliseconds(5)).restart);
  RestartManager of({"on-failure", 2});
  EXPECT_FALSE(of.should_restart(0, false, 0, milliseconds(5)).restart);
  EXPECT_TRUE(of.should_restart(1, false, 0, milliseconds(5)).restart);
  EXPECT_TRUE(of.should_restart(1, false, 1, milliseconds(5)).restart);
  EXPECT_FALSE(of.should_restart(1, false, 2, milliseconds(5)).restart) << "max retries reached";
  RestartManager ofu({"on-failure", 0});
  EXPECT_TRUE(ofu.should_restart(1, false, 100, milliseconds(5)).restart) << "0 = unlimited";
  EXPECT_TRUE(start_on_daemon_start({"always", 0}, true));
  EXPECT_TRUE(start_on_daemon_start({"unless-stopped", 0}, false));
  EXPECT_FALSE(start_on_daemon_start({"unless-stopped", 0}, true));
  EXPECT_FALSE(start_on_daemon_start({"on-failure", 0}, false));
  EXPECT_FALSE(start_on_daemon_start({"no", 0}, false));
}

TEST(RestartPolicy, BackoffDoublesCapsAndResets) {
  RestartManager m({"always", 0});
  EXPECT_EQ(m.should_restart(1, false, 0, milliseconds(1)).delay, milliseconds(100));
  EXPECT_EQ(m.should_restart(1, false, 1, milliseconds(1)).delay, milliseconds(200));
  EXPECT_EQ(m.should_restart(1, false, 2, milliseconds(1)).delay, milliseconds(400));
  for (int i = 0; i < 20; i++) m.should_restart(1, false, 3 + i, milliseconds(1));
  EXPECT_EQ(m.current_delay(), kRestartMaxDelay);
  EXPECT_EQ(m.should_restart(1, false, 30, milliseconds(10'000)).delay, milliseconds(100)) << "ran 10 s: reset";
}

TEST(ContainerStore, InsertUpdateRemoveAndNameConflict) {
  berth::testing::TempDir dir;
  auto path = dir.path() + "/engine.db";
  {
    auto s = ContainerStore::open(path);
    ASSERT_TRUE(s) << s.error().message();
    ContainerRecord r{"id1", "/web", "2026", "busybox", "sha256:x", "{}", "{}", "{}", "{}", "{}", 0};
    ASSERT_TRUE((*s)->insert(r));
    ContainerRecord r2 = r;
    r2.id = "id2";
    auto dup = (*s)->insert(r2);
    ASSERT_FALSE(dup);
    EXPECT_EQ(dup.error().code(), Errc::AlreadyExists);
    EXPECT_EQ(dup.error().message(),
              "Conflict. The container name \"/web\" is already in use by container \"id1\". You have to remove (or "
              "rename) that container to be able to reuse that name.");
    r2.name = "/db";
    ASSERT_TRUE((*s)->insert(r2));
    r.state_json = "{\"Status\":\"running\"}";
    r.restart_count = 4;
    ASSERT_TRUE((*s)->update(r));
    ContainerRecord ghost = r;
    ghost.id = "nosuch";
    ghost.name = "/ghost";
    EXPECT_EQ((*s)->update(ghost).error().code(), Errc::NotFound);
  }
  auto s = ContainerStore::open(path);  // reopened: durable
  ASSERT_TRUE(s);
  auto all = (*s)->all();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  auto it = std::find_if(all->begin(), all->end(), [](auto& r) { return r.id == "id1"; });
  ASSERT_NE(it, all->end());
  EXPECT_EQ(it->state_json, "{\"Status\":\"running\"}");
  EXPECT_EQ(it->restart_count, 4);
  ASSERT_TRUE((*s)->remove("id2"));
  EXPECT_EQ((*s)->all()->size(), 1u);
}

}  // namespace
}  // namespace berth::engine
