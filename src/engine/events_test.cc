// EventBus: filters, the ring that answers `since`, `until`, live delivery, bounded subscriber queues.
#include "engine/events.h"

#include <gtest/gtest.h>

#include <thread>

namespace berth::engine {
namespace {

using std::chrono::milliseconds;

Event ev(std::string type, std::string action, std::string id, std::map<std::string, std::string> attrs = {},
         int64_t t = 0) {
  Event e;
  e.type = std::move(type);
  e.action = std::move(action);
  e.actor_id = std::move(id);
  e.attributes = std::move(attrs);
  e.time_nano = t;
  e.time = t / 1'000'000'000;
  return e;
}

EventFilter filter(std::map<std::string, std::vector<std::string>> f) { return EventFilter{std::move(f)}; }

TEST(EventFilter, TypeEventAndExecPrefix) {
  auto c = ev("container", "exec_start: sh -c true", "c1", {{"name", "web"}, {"image", "busybox"}});
  EXPECT_TRUE(filter({}).matches(c));
  EXPECT_TRUE(filter({{"type", {"container"}}}).matches(c));
  EXPECT_FALSE(filter({{"type", {"image", "volume"}}}).matches(c));
  EXPECT_TRUE(filter({{"event", {"exec_start"}}}).matches(c));
  EXPECT_FALSE(filter({{"event", {"exec"}}}).matches(c));  // a prefix must end at the ':'
  EXPECT_TRUE(filter({{"event", {"die", "exec_start"}}}).matches(c));
}

TEST(EventFilter, ContainerByNameOrIdAndImage) {
  std::string id(64, 'a');
  auto c = ev("container", "start", id, {{"name", "web"}, {"image", "busybox:latest"}});
  EXPECT_TRUE(filter({{"container", {"web"}}}).matches(c));
  EXPECT_TRUE(filter({{"container", {id}}}).matches(c));
  EXPECT_TRUE(filter({{"container", {id.substr(0, 12)}}}).matches(c));
  EXPECT_FALSE(filter({{"container", {"db"}}}).matches(c));
  EXPECT_TRUE(filter({{"image", {"busybox"}}}).matches(c));  // :latest is implied
  EXPECT_FALSE(filter({{"image", {"alpine"}}}).matches(c));
  // keys AND together
  EXPECT_FALSE(filter({{"container", {"web"}}, {"event", {"die"}}}).matches(c));
  // a volume event never matches a container filter
  EXPECT_FALSE(filter({{"container", {"web"}}}).matches(ev("volume", "create", "web")));
}

TEST(EventFilter, LabelsVolumesNetworks) {
  auto c = ev("container", "create", "c1", {{"tier", "db"}, {"x", ""}});
  EXPECT_TRUE(filter({{"label", {"tier"}}}).matches(c));
  EXPECT_TRUE(filter({{"label", {"tier=db", "x"}}}).matches(c));
  EXPECT_FALSE(filter({{"label", {"tier=web"}}}).matches(c));
  EXPECT_FALSE(filter({{"label", {"tier=db", "missing"}}}).matches(c));
  EXPECT_TRUE(filter({{"volume", {"v1"}}}).matches(ev("volume", "create", "v1")));
  EXPECT_FALSE(filter({{"volume", {"v1"}}}).matches(ev("volume", "create", "v2")));
  auto n = ev("network", "connect", std::string(64, 'b'), {{"name", "n1"}, {"container", "c1"}});
  EXPECT_TRUE(filter({{"network", {"n1"}}}).matches(n));
  EXPECT_TRUE(filter({{"network", {std::string(12, 'b')}}}).matches(n));
  EXPECT_FALSE(filter({{"network", {"n2"}}}).matches(n));
}

TEST(EventFilter, UnknownKeyIsRejected) {
  EXPECT_TRUE(filter({{"type", {"container"}}, {"label", {"a"}}}).validate());
  auto st = filter({{"colour", {"red"}}}).validate();
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().code(), Errc::InvalidArgument);
}

TEST(EventBus, PublishStampsTimeAndKeepsOrder) {
  EventBus bus;
  int64_t before = now_unix_nano();
  bus.publish("volume", "create", "v1");
  bus.publish("volume", "destroy", "v1");
  auto got = bus.recent(EventFilter{}, 0, 0);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_GE(got[0].time_nano, before);
  EXPECT_EQ(got[0].time, got[0].time_nano / 1'000'000'000);
  EXPECT_LE(got[0].time_nano, got[1].time_nano);
  EXPECT_EQ(got[1].action, "destroy");
}

TEST(EventBus, SinceReplaysFromTheRingAndUntilEndsTheSubscription) {
  EventBus bus;
  bus.publish(ev("volume", "create", "old", {}, 1'000));
  bus.publish(ev("volume", "create", "a", {}, 2'000));
  bus.publish(ev("network", "create", "n", {}, 3'000));
  bus.publish(ev("volume", "destroy", "a", {}, 4'000));
  // since 2000, until 3500 (in the past): replay of the matching events, then done
  auto sub = bus.subscribe(filter({{"type", {"volume"}}}), 2'000, 3'500);
  auto e1 = sub->next(milliseconds(0));
  ASSERT_TRUE(e1);
  EXPECT_EQ(e1->actor_id, "a");
  EXPECT_EQ(e1->action, "create");
  EXPECT_FALSE(sub->next(milliseconds(10)));
  EXPECT_TRUE(sub->done());
}

TEST(EventBus, LiveEventsReachASubscriberOnAnotherThread) {
  EventBus bus;
  auto sub = bus.subscribe(filter({{"type", {"container"}}}), 0, 0);
  std::thread t([&] {
    bus.publish("volume", "create", "ignored");
    bus.publish("container", "start", "c1");
  });
  auto got = sub->next(milliseconds(10'000));
  t.join();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->actor_id, "c1");
  EXPECT_FALSE(sub->done());
  EXPECT_EQ(bus.subscribers(), 1u);
  sub.reset();
  EXPECT_EQ(bus.subscribers(), 0u);
}

TEST(EventBus, NoReplayWithoutSince) {
  EventBus bus;
  bus.publish("volume", "create", "before");
  auto sub = bus.subscribe(EventFilter{}, 0, 0);
  EXPECT_FALSE(sub->next(milliseconds(0)));
  bus.publish("volume", "create", "after");
  auto got = sub->next(milliseconds(0));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->actor_id, "after");
}

TEST(EventBus, RingIsBoundedAndSlowSubscribersDropTheOldest) {
  EventBus bus(/*ring=*/3, /*queue=*/2);
  auto sub = bus.subscribe(EventFilter{}, 0, 0);
  for (int i = 0; i < 5; i++) bus.publish(ev("volume", "create", std::to_string(i), {}, 1000 + i));
  auto ring = bus.recent(EventFilter{}, 1, 0);
  ASSERT_EQ(ring.size(), 3u);
  EXPECT_EQ(ring.front().actor_id, "2");
  EXPECT_EQ(sub->dropped(), 3u);
  EXPECT_EQ(sub->next(milliseconds(0))->actor_id, "3");
  EXPECT_EQ(sub->next(milliseconds(0))->actor_id, "4");
}

TEST(EventBus, CloseEndsSubscriptions) {
  EventBus bus;
  auto sub = bus.subscribe(EventFilter{}, 0, 0);
  bus.close();
  EXPECT_FALSE(sub->next(milliseconds(1000)));
  EXPECT_TRUE(sub->done());
}

// cancel() from another thread (the reader's client went away) wakes a next() blocked for a day: the join is
// the check. Queued events are dropped and later publishes are not queued.
TEST(EventBus, CancelWakesAWaitingReader) {
  EventBus bus;
  auto sub = bus.subscribe(EventFilter{}, 0, 0);
  std::optional<Event> got = Event{};
  std::thread t([&] { got = sub->next(std::chrono::hours(24)); });
  sub->cancel();
  t.join();
  EXPECT_FALSE(got);
  EXPECT_TRUE(sub->done());
  bus.publish("volume", "create", "after");
  EXPECT_FALSE(sub->next(milliseconds(0)));
  EXPECT_TRUE(sub->done());
}

TEST(EventBus, CancelDropsQueuedEvents) {
  EventBus bus;
  auto sub = bus.subscribe(EventFilter{}, 0, 0);
  bus.publish("volume", "create", "queued");
  sub->cancel();
  EXPECT_FALSE(sub->next(milliseconds(0)));
  EXPECT_TRUE(sub->done());
}

TEST(ParseEventTime, SecondsFractionsAndRfc3339) {
  EXPECT_EQ(*parse_event_time("1732531200"), 1732531200LL * 1'000'000'000);
  EXPECT_EQ(*parse_event_time("1732531200.5"), 1732531200LL * 1'000'000'000 + 500'000'000);
  EXPECT_EQ(*parse_event_time("1732531200.000000123"), 1732531200LL * 1'000'000'000 + 123);
  EXPECT_EQ(*parse_event_time("2024-11-25T10:40:00Z"), 1732531200LL * 1'000'000'000);
  EXPECT_EQ(*parse_event_time("2024-11-25T10:40:00.25Z"), 1732531200LL * 1'000'000'000 + 250'000'000);
  EXPECT_FALSE(parse_event_time(""));
  EXPECT_FALSE(parse_event_time("soon"));
  EXPECT_FALSE(parse_event_time("12.x"));
}

}  // namespace
}  // namespace berth::engine
