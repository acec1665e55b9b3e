// recd::rank — SessionKnnSource: "shoppers whose sessions looked like yours
// went on to these", V-SKNN (Ludewig & Jannach 2018) made online.
//
// A session is a user's run of events at most `session_gap_s` apart (event
// time); it keeps its newest `session_items` distinct items, oldest first. A
// user's candidates come from their newest session s (open or not):
//   - a past session n is a neighbour when it shares items with s, found through
//     each item's newest `sessions_per_item` sessions;
//   - sim(s, n) = sum over shared items of the item's position weight in s
//     (p/|s| for the p-th item, 1-based, oldest first: the newest weighs 1),
//     divided by sqrt(|s| x |n|);
//   - the `neighbours` most similar vote: score(j) = sum of sim(s, n) over
//     those that hold j.
// Memory: a ring of `max_sessions` sessions of at most `session_items` items
// (the oldest session overwritten), `sessions_per_item` serials per item (8 B
// each; serials of overwritten sessions stay until the item's ring turns, and
// are skipped) and 16 B per user. In memory, empty at each start: it refills
// from the stream.
// Single-threaded: the thread that owns the store calls Observe and Propose.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "model/baseline_ranker.h"
#include "model/rank/candidate_source.h"

namespace recd::rank {

struct SessionKnnConfig {
  double session_gap_s = 1800;    // a longer gap between a user's events starts a new session
  size_t session_items = 20;      // distinct items kept per session (the newest; ranker.session_length)
  size_t max_sessions = 200'000;  // sessions kept, the oldest overwritten
  size_t sessions_per_item = 50;  // the newest sessions indexed per item
  size_t neighbours = 50;         // the most similar sessions that vote (V-SKNN's k)
};

class SessionKnnSource : public CandidateSource {
 public:
  SessionKnnSource(const model::BaselineRanker& filters, SessionKnnConfig config);
  Reason reason() const override { return Reason::kSession; }
  // Learns one committed interaction, in event order.
  void Observe(UserId user, ItemId item, EpochMillis ts);
  // An evicted user: their pointer to their session goes; the session stays in
  // the ring as evidence for others, as any past session does.
  void ForgetUser(UserId user) {
    if (user.value < users_.size()) users_[user.value] = UserSession{};
  }
  void Propose(UserId user, size_t limit, std::vector<Candidate>* out) const override;
  // The items of the user's newest session, oldest first (empty: none kept).
  std::vector<uint32_t> SessionOf(UserId user) const;

 private:
  struct Session {
    uint64_t serial = 0;          // 1, 2, ...; 0: an empty slot
    std::vector<uint32_t> items;  // distinct, oldest first
  };
  struct UserSession {
    uint64_t serial = 0;  // the user's newest session; 0: none
    EpochMillis last = 0;
  };
  // The session `serial` while the ring still holds it; else null.
  const Session* Find(uint64_t serial) const;

  const model::BaselineRanker& filters_;
  SessionKnnConfig config_;
  uint64_t next_serial_ = 1;
  std::vector<Session> ring_;                       // slot (serial - 1) % max_sessions
  std::vector<UserSession> users_;                  // by user
  std::vector<std::vector<uint64_t>> by_item_;      // by item: session serials, a ring of sessions_per_item
  std::vector<uint32_t> by_item_next_;              // by item: the next slot of its ring
};

}  // namespace recd::rank
