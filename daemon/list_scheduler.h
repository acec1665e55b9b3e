// recd::daemon — ListScheduler decides which users are ranked when, and when a
// user's durable "pending" mark may be cleared. It owns the dirty queue, the
// sweep and the lists in flight; it ranks nothing and publishes nothing itself.
// Time comes from an injected Clock (wall time live, event time in replay), so
// it is unit-tested without Kafka. Single-threaded: the pipeline thread.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/clock.h"
#include "base/ids.h"

namespace recd::daemon {

struct SchedulerConfig {
  std::chrono::milliseconds publish_interval{500};  // a sweep starts at most this often (0: every turn)
  double rank_share = 0.25;                          // share of a busy turn's intake time ranking may take
  std::chrono::milliseconds rank_slice{100};         // longest ranking stretch in one turn
  size_t batch = 64;                                 // users handed out per Next(); the budget is checked between
  // The shutdown drain's budget: users not ranked within it stay pending (their
  // marks are in the store) and are published at the next start.
  std::chrono::milliseconds drain_budget{5000};
};

class ListScheduler {
 public:
  ListScheduler(SchedulerConfig config, const Clock& clock);
  // A reload (SIGHUP): sweeps start at most this often from the next one on.
  void SetPublishInterval(std::chrono::milliseconds interval) { config_.publish_interval = interval; }

  // The user's committed state changed: they need a fresh list. Coalesces. An
  // earlier acknowledgement no longer covers the user's pending mark.
  void MarkDirty(UserId user);

  // Begins one loop turn's ranking. `backlog`: records arrived this turn, which
  // took `ingest_time`; ranking then gets rank_share of it (at most rank_slice).
  // Idle turns get one rank_slice. A sweep (every user dirty at its start)
  // begins at most once per publish_interval; `drain` (the shutdown's) starts
  // one now with drain_budget as the turn's budget. Returns true when a new
  // sweep began (refresh shared inputs).
  bool BeginTurn(bool backlog, Clock::TimePoint::duration ingest_time, bool drain = false);
  // The next users to rank in this turn, oldest first; empty once the sweep is
  // done or the turn's budget is spent (the rest waits for later turns).
  std::vector<UserId> Next();

  // A list for `user` went to the output / could not be queued now (the user
  // stays due) / can never be queued (the user stays pending, not due).
  void OnQueued(UserId user);
  void OnNotQueued(UserId user);
  void OnRefused(UserId user);
  // The output acknowledged (ok) or failed one of the user's lists. A failed
  // newest list leaves the user pending; a retriable failure also makes them
  // due again after their own retry delay: 1 s after their first failure,
  // doubling with each failure in a row up to kMaxRetryDelay, and none again
  // once one of their lists is acknowledged. So a refusal that persists for
  // some users (a broker policy) costs each a try a minute, not one a sweep,
  // whatever other users' lists do.
  void OnDelivered(UserId user, bool ok, bool retriable);
  static constexpr std::chrono::seconds kMaxRetryDelay{60};
  // These users owe a fresh list (a model swap made theirs stale) and their
  // pending marks say so: the marks stay, whatever is acknowledged, until the
  // users are next marked dirty.
  void HoldMarks(const std::vector<UserId>& users);
  // Users whose pending mark may be cleared now: their newest list was
  // acknowledged, none is in flight and their state has not changed since.
  std::vector<UserId> TakeClearable();

  // Whether a list of the user's is in flight or acknowledged but its mark not
  // yet cleared: a delivery report or a clear will name the id, so it must not
  // be evicted (and reused) now.
  bool Delivering(UserId user) const;
  // The store evicted these users (none Delivering): they are no longer due,
  // retried or owed a list. Their ids may be reused at once.
  void Forget(const std::vector<UserId>& users);
  bool sweeping() const { return sweep_left_ > 0; }
  // Users waiting for a list: due now, or after their retry delay.
  size_t due() const { return dirty_set_.size() + retry_.size(); }  // a user waiting in both counts twice
  size_t in_flight() const { return in_flight_.size(); }

 private:
  SchedulerConfig config_;
  const Clock& clock_;
  std::deque<UserId> dirty_;          // first-touch order; entries not in dirty_set_ (forgotten) are skipped
  std::unordered_set<uint32_t> dirty_set_;
  size_t sweep_left_ = 0;             // users at the front of dirty_ still in the current sweep
  bool swept_once_ = false;
  Clock::TimePoint last_sweep_;
  Clock::TimePoint turn_deadline_;
  bool handed_this_turn_ = false;
  std::unordered_map<uint32_t, uint32_t> in_flight_;  // lists queued, not yet acknowledged
  std::unordered_set<uint32_t> acknowledged_;         // newest list acknowledged; clear candidates
  std::unordered_set<uint32_t> held_;                 // owe a list not yet made dirty (HoldMarks, OnRefused)
  std::multimap<Clock::TimePoint, uint32_t> retry_;   // failed retriably: made dirty at the time
  std::unordered_set<uint32_t> retrying_;             // users in retry_, each once
  std::unordered_map<uint32_t, Clock::TimePoint::duration> retry_delay_;  // users whose last list failed
};

}  // namespace recd::daemon
