// ListScheduler and the clocks, on a fake clock: no Kafka, no store.
#include <gtest/gtest.h>

#include "base/clock.h"
#include "daemon/list_scheduler.h"

namespace recd::daemon {
namespace {

using namespace std::chrono_literals;

std::vector<uint32_t> Values(const std::vector<UserId>& users) {
  std::vector<uint32_t> v;
  for (UserId u : users) v.push_back(u.value);
  return v;
}

// Drains one turn: everything Next() hands out until it stops.
std::vector<uint32_t> Turn(ListScheduler& s, bool backlog = false, Clock::TimePoint::duration ingest = 0ms) {
  s.BeginTurn(backlog, ingest);
  std::vector<uint32_t> out;
  for (auto batch = s.Next(); !batch.empty(); batch = s.Next()) {
    for (uint32_t v : Values(batch)) out.push_back(v);
  }
  return out;
}

SchedulerConfig WithBatchAndSlice(size_t batch, std::chrono::milliseconds slice) {
  SchedulerConfig config;
  config.batch = batch;
  config.rank_slice = slice;
  return config;
}

// Batches handed out in the current turn when ranking each one costs `cost` on the clock.
size_t HandedWhileEachCosts(ListScheduler& s, ManualClock& clock, std::chrono::milliseconds cost) {
  size_t handed = 0;
  for (auto b = s.Next(); !b.empty(); b = s.Next()) {
    ++handed;
    clock.Advance(cost);
  }
  return handed;
}

TEST(ClockTest, ManualClockMovesOnlyForwardAndOnlyWhenTold) {
  ManualClock clock(1000);
  EXPECT_EQ(clock.WallMillis(), 1000);
  const auto t0 = clock.Now();
  clock.Advance(250ms);
  EXPECT_EQ(clock.Now() - t0, 250ms);
  clock.AdvanceTo(900);  // the past: ignored
  EXPECT_EQ(clock.WallMillis(), 1250);
  clock.AdvanceTo(5000);
  EXPECT_EQ(clock.WallMillis(), 5000);
}

TEST(ClockTest, SystemClockIsMonotonicAndNearTheWall) {
  const Clock& c = SystemClock();
  const auto a = c.Now();
  const auto b = c.Now();
  EXPECT_LE(a, b);
  EXPECT_GT(c.WallMillis(), 1'700'000'000'000);  // after 2023
}

TEST(SchedulerTest, SweepsAtMostOncePerIntervalAndCoalescesUsers) {
  ManualClock clock;
  SchedulerConfig config;
  config.publish_interval = 500ms;
  ListScheduler s(config, clock);
  s.MarkDirty(UserId(1));
  s.MarkDirty(UserId(2));
  s.MarkDirty(UserId(1));  // coalesces
  EXPECT_EQ(s.due(), 2u);
  EXPECT_EQ(Turn(s), (std::vector<uint32_t>{1, 2}));  // the first sweep goes at once
  s.MarkDirty(UserId(3));
  s.MarkDirty(UserId(3));
  clock.Advance(499ms);
  EXPECT_TRUE(Turn(s).empty()) << "within the interval nothing is ranked";
  s.MarkDirty(UserId(1));
  clock.Advance(1ms);
  EXPECT_EQ(Turn(s), (std::vector<uint32_t>{3, 1}));  // oldest first, each once
  EXPECT_EQ(s.due(), 0u);
}

TEST(SchedulerTest, UsersDirtiedDuringASweepWaitForTheNext) {
  ManualClock clock;
  ListScheduler s(WithBatchAndSlice(2, 10ms), clock);
  for (uint32_t u = 0; u < 5; ++u) s.MarkDirty(UserId(u));
  s.BeginTurn(false, 0ms);
  EXPECT_EQ(Values(s.Next()), (std::vector<uint32_t>{0, 1}));
  s.MarkDirty(UserId(9));  // after the sweep began
  clock.Advance(11ms);     // the slice is spent
  EXPECT_TRUE(s.Next().empty());
  EXPECT_TRUE(s.sweeping());
  EXPECT_EQ(Turn(s), (std::vector<uint32_t>{2, 3, 4})) << "the sweep resumes; user 9 is not in it";
  EXPECT_FALSE(s.sweeping());
  clock.Advance(500ms);
  EXPECT_EQ(Turn(s), (std::vector<uint32_t>{9}));
}

TEST(SchedulerTest, ABusyTurnRanksForItsShareOfIntakeTime) {
  ManualClock clock;
  SchedulerConfig config = WithBatchAndSlice(1, 100ms);
  config.rank_share = 0.5;  // as long as intake took
  ListScheduler s(config, clock);
  for (uint32_t u = 0; u < 10; ++u) s.MarkDirty(UserId(u));
  s.BeginTurn(/*backlog=*/true, /*ingest_time=*/20ms);
  EXPECT_EQ(HandedWhileEachCosts(s, clock, 5ms), 5u)
      << "20 ms of intake buys 20 ms of ranking: the first batch plus 4 more";
  // Idle: one slice (100 ms) is enough for the other five.
  s.BeginTurn(false, 0ms);
  EXPECT_EQ(HandedWhileEachCosts(s, clock, 5ms), 5u);
}

TEST(SchedulerTest, DrainRanksEveryoneNowWhateverTheIntervalAndSlice) {
  ManualClock clock;
  ListScheduler s(WithBatchAndSlice(1, 1ms), clock);
  s.MarkDirty(UserId(7));
  Turn(s);
  for (uint32_t u = 0; u < 6; ++u) s.MarkDirty(UserId(u));
  s.BeginTurn(false, 0ms, /*drain=*/true);
  EXPECT_EQ(HandedWhileEachCosts(s, clock, 5ms), 6u);  // 30 ms, within the default 5 s drain budget
}

// The shutdown drain stops at its budget; the users left stay due (pending).
TEST(SchedulerTest, DrainStopsAtItsBudgetAndTheRestStayDue) {
  ManualClock clock;
  SchedulerConfig config = WithBatchAndSlice(1, 1ms);
  config.drain_budget = 12ms;
  ListScheduler s(config, clock);
  for (uint32_t u = 0; u < 10; ++u) s.MarkDirty(UserId(u));
  s.BeginTurn(false, 0ms, /*drain=*/true);
  // 5 ms each: after the third the clock is at 15 ms, past the budget.
  EXPECT_EQ(HandedWhileEachCosts(s, clock, 5ms), 3u);
  EXPECT_EQ(s.due(), 7u);
}

// Fault hole 1: an acknowledgement of an older list must not clear the pending
// mark of a user whose newer state is unpublished (a kill -9 would lose it).
TEST(SchedulerTest, PendingMarkSurvivesTheAckOfAnOlderListWhileTheUserIsDirty) {
  ManualClock clock;
  ListScheduler s({}, clock);
  const UserId u(4);
  s.MarkDirty(u);
  ASSERT_EQ(Turn(s), (std::vector<uint32_t>{4}));
  s.OnQueued(u);         // list 1 in flight
  s.MarkDirty(u);        // newer state committed, not yet ranked
  s.OnDelivered(u, true, false);
  EXPECT_TRUE(s.TakeClearable().empty()) << "the user is dirty: the mark must stay";
  clock.Advance(1s);
  ASSERT_EQ(Turn(s), (std::vector<uint32_t>{4}));
  s.OnQueued(u);  // list 2
  s.OnDelivered(u, true, false);
  EXPECT_EQ(Values(s.TakeClearable()), (std::vector<uint32_t>{4}));
  EXPECT_TRUE(s.TakeClearable().empty()) << "handed out once";
}

TEST(SchedulerTest, PendingMarkStaysWhileANewerListIsInFlightOrWasRefused) {
  ManualClock clock;
  ListScheduler s({}, clock);
  const UserId u(1);
  s.OnQueued(u);  // list 1
  s.OnQueued(u);  // list 2
  s.OnDelivered(u, true, false);  // list 1 acknowledged
  EXPECT_TRUE(s.TakeClearable().empty()) << "list 2 is still in flight";
  s.OnDelivered(u, false, false);  // list 2 refused for what it is
  EXPECT_TRUE(s.TakeClearable().empty()) << "the newest list was not delivered";
  EXPECT_EQ(s.in_flight(), 0u);
  EXPECT_EQ(s.due(), 0u) << "a list the broker refuses would be refused again: pending until the next start";
}

// Fault hole (issue 17, rule 2): an ack, then a new event, then a publish that
// fails for good must not clear the mark the new event wrote.
TEST(SchedulerTest, AnOldAckDoesNotClearTheMarkOfANewerStateWhoseListFailed) {
  ManualClock clock;
  ListScheduler s({}, clock);
  const UserId u(7);
  s.MarkDirty(u);
  ASSERT_EQ(Turn(s), (std::vector<uint32_t>{7}));
  s.OnQueued(u);
  s.OnDelivered(u, true, false);  // acknowledged: the mark could be cleared now...
  s.MarkDirty(u);                 // ...but a new event commits a fresh mark first
  clock.Advance(1s);
  ASSERT_EQ(Turn(s), (std::vector<uint32_t>{7}));
  s.OnRefused(u);                 // and its list can never be queued
  EXPECT_TRUE(s.TakeClearable().empty()) << "the newer state's list was never delivered";
}

// Issue 17, rule 4: after a swap, users owed a list under the new model keep
// their pending marks whatever older lists are acknowledged, until they are
// made dirty (republished).
TEST(SchedulerTest, MarksHeldForASwapSurviveAcksUntilTheUserIsDirtied) {
  ManualClock clock;
  ListScheduler s({}, clock);
  const UserId u(5);
  s.OnQueued(u);                 // a list under the old model, in flight
  s.HoldMarks({u});              // the swap: u owes a list under the new one
  s.OnDelivered(u, true, false);
  EXPECT_TRUE(s.TakeClearable().empty()) << "the old model's list does not pay what the swap owes";
  s.MarkDirty(u);                // republication
  ASSERT_EQ(Turn(s), (std::vector<uint32_t>{5}));
  s.OnQueued(u);
  s.OnDelivered(u, true, false);
  EXPECT_EQ(Values(s.TakeClearable()), (std::vector<uint32_t>{5}));
}

TEST(SchedulerTest, AListThatFailedRetriablyIsDueAgainAfterTheRetryDelayAndItsMarkStays) {
  ManualClock clock;
  ListScheduler s({}, clock);
  const UserId u(3);
  s.MarkDirty(u);
  ASSERT_EQ(Turn(s), (std::vector<uint32_t>{3}));
  s.OnQueued(u);
  s.OnDelivered(u, false, true);  // e.g. the producer was replaced after a fatal error
  EXPECT_TRUE(s.TakeClearable().empty());
  EXPECT_EQ(s.due(), 1u);
  clock.Advance(999ms);
  EXPECT_TRUE(Turn(s).empty()) << "due again only after the first retry delay, 1 s";
  clock.Advance(1ms);
  ASSERT_EQ(Turn(s), (std::vector<uint32_t>{3}));
  s.OnQueued(u);
  s.OnDelivered(u, true, false);
  EXPECT_EQ(Values(s.TakeClearable()), (std::vector<uint32_t>{3}));
}

// A refusal that persists (a broker policy) must not be tried on every sweep:
// each user's delay doubles with each failure in a row, up to a minute; their
// own acknowledged list resets it, another user's does not.
TEST(SchedulerTest, TheRetryDelayDoublesWhileFailuresPersistAndResetsOnSuccess) {
  ManualClock clock;
  ListScheduler s({}, clock);
  auto fail_all = [&](std::vector<uint32_t> users) {
    for (uint32_t v : users) {
      s.OnQueued(UserId(v));
      s.OnDelivered(UserId(v), false, true);
    }
  };
  // How long until the failed users are handed out again.
  auto wait_for_retry = [&]() {
    std::chrono::milliseconds waited{0};
    for (; waited < 200s; waited += 100ms) {
      clock.Advance(100ms);
      const auto handed = Turn(s);
      if (!handed.empty()) return std::make_pair(waited + 100ms, handed);
    }
    return std::make_pair(waited, std::vector<uint32_t>{});
  };
  s.MarkDirty(UserId(1));
  s.MarkDirty(UserId(2));
  ASSERT_EQ(Turn(s), (std::vector<uint32_t>{1, 2}));
  std::vector<std::chrono::milliseconds> delays;
  for (int round = 0; round < 8; ++round) {
    fail_all({1, 2});
    const auto [waited, handed] = wait_for_retry();
    ASSERT_EQ(handed, (std::vector<uint32_t>{1, 2})) << "round " << round;
    delays.push_back(waited);
  }
  EXPECT_EQ(delays, (std::vector<std::chrono::milliseconds>{1s, 2s, 4s, 8s, 16s, 32s, 60s, 60s}));
  s.OnQueued(UserId(1));
  s.OnDelivered(UserId(1), true, false);
  fail_all({2});
  EXPECT_EQ(wait_for_retry().first, 60s) << "another user's acknowledged list leaves user 2's delay";
  s.OnQueued(UserId(2));
  s.OnDelivered(UserId(2), true, false);
  fail_all({2});
  EXPECT_EQ(wait_for_retry().first, 1s) << "the user's own acknowledged list resets it";
}

// A user whose lists keep failing waits once, however often they fail before
// the delay is up: the retry queue holds each user at most once.
TEST(SchedulerTest, AUserWaitsForOneRetryHoweverOftenTheirListsFail) {
  ManualClock clock;
  ListScheduler s({}, clock);
  const UserId u(5);
  for (int k = 0; k < 3; ++k) {
    s.OnQueued(u);
    s.OnDelivered(u, false, true);
  }
  EXPECT_EQ(s.due(), 1u);
  clock.Advance(1s);
  EXPECT_EQ(Turn(s), (std::vector<uint32_t>{5}));
  EXPECT_EQ(s.due(), 0u);
}

TEST(SchedulerTest, AListThatCouldNotBeQueuedIsDueAgainFirst) {
  ManualClock clock;
  ListScheduler s({}, clock);
  s.MarkDirty(UserId(1));
  s.MarkDirty(UserId(2));
  s.BeginTurn(false, 0ms);
  auto batch = s.Next();
  ASSERT_EQ(Values(batch), (std::vector<uint32_t>{1, 2}));
  s.OnQueued(UserId(1));
  s.OnNotQueued(UserId(2));
  s.MarkDirty(UserId(3));
  clock.Advance(1s);
  EXPECT_EQ(Turn(s), (std::vector<uint32_t>{2, 3}));
}

// Eviction: a forgotten user is no longer due, retried or held, and the id,
// reused at once by a new user, is handed out once, for the new user.
TEST(SchedulerTest, AForgottenUserIsNoLongerDueAndItsReusedIdIsRankedOnce) {
  ManualClock clock(0);
  SchedulerConfig config;
  config.publish_interval = 0ms;
  ListScheduler s(config, clock);
  for (uint32_t u : {1u, 2u, 3u, 4u}) s.MarkDirty(UserId(u));
  EXPECT_EQ(Turn(s), (std::vector<uint32_t>{1, 2, 3, 4}));
  // User 4's list is in flight: it is Delivering until acknowledged and cleared.
  s.OnQueued(UserId(4));
  EXPECT_TRUE(s.Delivering(UserId(4)));
  EXPECT_FALSE(s.Delivering(UserId(1)));
  // 1 and 2 due again, 3 waiting for a retry.
  s.MarkDirty(UserId(1));
  s.MarkDirty(UserId(2));
  s.OnQueued(UserId(3));
  s.OnDelivered(UserId(3), /*ok=*/false, /*retriable=*/true);
  EXPECT_EQ(s.due(), 3u);
  s.Forget({UserId(1), UserId(3)});
  EXPECT_EQ(s.due(), 1u);
  s.MarkDirty(UserId(1));  // id 1 reused by a new user
  EXPECT_EQ(Turn(s), (std::vector<uint32_t>{1, 2}));
  clock.Advance(2s);  // past user 3's retry delay: forgotten, it does not come back
  EXPECT_TRUE(Turn(s).empty());
  s.OnDelivered(UserId(4), true, false);
  EXPECT_TRUE(s.Delivering(UserId(4)));  // acknowledged, its mark not yet cleared
  EXPECT_EQ(Values(s.TakeClearable()), (std::vector<uint32_t>{4}));
  EXPECT_FALSE(s.Delivering(UserId(4)));
}

}  // namespace
}  // namespace recd::daemon
