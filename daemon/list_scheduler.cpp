#include "daemon/list_scheduler.h"

#include <algorithm>

namespace recd::daemon {

ListScheduler::ListScheduler(SchedulerConfig config, const Clock& clock) : config_(config), clock_(clock) {}

void ListScheduler::MarkDirty(UserId user) {
  acknowledged_.erase(user.value);
  held_.erase(user.value);
  if (dirty_set_.insert(user.value).second) dirty_.push_back(user);
}

bool ListScheduler::BeginTurn(bool backlog, Clock::TimePoint::duration ingest_time, bool drain) {
  const Clock::TimePoint now = clock_.Now();
  while (!retry_.empty() && retry_.begin()->first <= now) {
    MarkDirty(UserId(retry_.begin()->second));
    retrying_.erase(retry_.begin()->second);
    retry_.erase(retry_.begin());
  }
  bool started = false;
  if (drain) sweep_left_ = 0;
  if (sweep_left_ == 0 && !dirty_.empty() &&
      (drain || !swept_once_ || now - last_sweep_ >= config_.publish_interval)) {
    sweep_left_ = dirty_.size();  // users dirtied from now on wait for the next sweep
    last_sweep_ = now;
    swept_once_ = true;
    started = true;
  }
  handed_this_turn_ = false;
  const Clock::TimePoint::duration slice = config_.rank_slice;
  const auto share = std::chrono::duration_cast<Clock::TimePoint::duration>(
      ingest_time * (config_.rank_share / (1.0 - config_.rank_share)));
  // (In replay the clock is event time, which a drain does not move: it ranks everyone.)
  turn_deadline_ = now + (drain ? config_.drain_budget : backlog ? std::min(slice, share) : slice);
  return started;
}

std::vector<UserId> ListScheduler::Next() {
  std::vector<UserId> batch;
  if (sweep_left_ == 0) return batch;
  // The first batch of a turn always goes out, so even a busy loop makes progress.
  if (handed_this_turn_ && clock_.Now() > turn_deadline_) return batch;
  handed_this_turn_ = true;
  while (sweep_left_ > 0 && batch.size() < config_.batch) {
    const UserId u = dirty_.front();
    dirty_.pop_front();
    --sweep_left_;
    if (dirty_set_.erase(u.value) == 0) continue;  // forgotten (evicted), or handed out already
    batch.push_back(u);
  }
  return batch;
}

void ListScheduler::OnQueued(UserId user) {
  ++in_flight_[user.value];
  acknowledged_.erase(user.value);  // a newer list is on its way
}

void ListScheduler::OnNotQueued(UserId user) {
  // Back to the queue's front for the next sweep: it was due before anyone dirtied since.
  if (dirty_set_.insert(user.value).second) dirty_.push_front(user);
}

void ListScheduler::OnRefused(UserId user) {
  // Held like a swap's debt: an older list's ack must not clear the mark.
  acknowledged_.erase(user.value);
  held_.insert(user.value);
}

void ListScheduler::OnDelivered(UserId user, bool ok, bool retriable) {
  auto it = in_flight_.find(user.value);
  if (it == in_flight_.end()) return;
  if (--it->second > 0) return;  // an older list: a newer one is still in flight
  in_flight_.erase(it);
  if (ok) {
    acknowledged_.insert(user.value);
    retry_delay_.erase(user.value);
    return;
  }
  // The mark stays, so the list is made again after a restart; one that may
  // pass when sent again is made again after the retry delay.
  if (!retriable) return;
  if (!retrying_.insert(user.value).second) return;  // already waiting for a retry
  auto [delay, first] = retry_delay_.try_emplace(user.value, std::chrono::seconds(1));
  if (!first) delay->second = std::min<Clock::TimePoint::duration>(delay->second * 2, kMaxRetryDelay);
  retry_.emplace(clock_.Now() + delay->second, user.value);
}

void ListScheduler::HoldMarks(const std::vector<UserId>& users) {
  for (UserId u : users) {
    held_.insert(u.value);
    acknowledged_.erase(u.value);
  }
}

bool ListScheduler::Delivering(UserId user) const {
  return in_flight_.count(user.value) != 0 || acknowledged_.count(user.value) != 0;
}

void ListScheduler::Forget(const std::vector<UserId>& users) {
  bool retried = false;
  for (UserId user : users) {
    const uint32_t u = user.value;
    dirty_set_.erase(u);  // its entry in dirty_ is skipped when reached
    held_.erase(u);
    retry_delay_.erase(u);
    retried |= retrying_.erase(u) != 0;
  }
  if (!retried) return;
  std::unordered_set<uint32_t> gone;
  for (UserId user : users) gone.insert(user.value);
  for (auto it = retry_.begin(); it != retry_.end();) it = gone.count(it->second) ? retry_.erase(it) : std::next(it);
}

std::vector<UserId> ListScheduler::TakeClearable() {
  std::vector<UserId> out;
  for (auto it = acknowledged_.begin(); it != acknowledged_.end();) {
    if (dirty_set_.count(*it) || held_.count(*it)) {
      // Newer state (or a new model) is committed but not yet published: the mark must survive a crash.
      it = acknowledged_.erase(it);
      continue;
    }
    out.emplace_back(*it);
    it = acknowledged_.erase(it);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace recd::daemon
