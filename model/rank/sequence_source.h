// recd::rank — the rule-based sources, updated per event (no daily rebuild),
// time-decayed and bounded (RuleTable). Both keep, per user, their last
// `window` distinct items (in memory, empty at each start: they refill from the
// stream), and are fed every committed interaction in order.
//
// SequenceSource: "what people view next". An interaction with j that follows
// one with i, d distinct items back, adds 1/d to i -> j. A user's candidates sum
// the rules out of their `seeds` most recent items, the n-th weighing 1/n
// (session-rec's SR and Alpenglow's forward co-occurrence, made online).
//
// CoVisitSource: item-to-item co-visitation, both ways: an interaction with j
// adds 1 to i -> j and j -> i for each other recent item i. Candidates sum the
// rules out of the user's `seeds` most recent items, divided by (users of the
// candidate)^degree_penalty (0.5: cosine-like, as item-kNN).
//
// Single-threaded: the thread that owns the store calls Observe and Propose.
#pragma once

#include "model/baseline_ranker.h"
#include "model/rank/candidate_source.h"
#include "model/rank/rule_table.h"

namespace recd::rank {

struct SequenceConfig {
  size_t window = 10;            // distinct recent items per user a new item follows
  size_t seeds = 3;              // the user's most recent items that propose
  size_t max_successors = 100;   // rules kept per item (the heaviest)
  double half_life_days = 365;   // a rule's weight halves over this much event time (14 lost on validation)
};

struct CoVisitConfig {
  size_t window = 20;            // distinct recent items per user a new item pairs with
  size_t seeds = 10;             // the user's most recent items that propose
  size_t max_neighbours = 100;   // rules kept per item (the heaviest)
  double half_life_days = 365;   // a rule's weight halves over this much event time
  float degree_penalty = 0.5f;   // candidate scores divided by (its users)^this
};

// The per-user window both sources keep: distinct items, newest last.
class RecentItems {
 public:
  explicit RecentItems(size_t window) : window_(window) {}
  // The user's items before `item`; then records `item` as the newest.
  const std::vector<uint32_t>& Before(UserId user) const;
  void Push(UserId user, uint32_t item);
  // An evicted user: their window goes (the id may be reused).
  void Forget(UserId user);
  // The `n` newest (newest first) with weights 1/1, 1/2, ... or all 1.
  std::vector<std::pair<uint32_t, double>> Seeds(UserId user, size_t n, bool harmonic) const;

 private:
  size_t window_;
  std::vector<std::vector<uint32_t>> recent_;  // by user
  const std::vector<uint32_t> none_;
};

class SequenceSource : public CandidateSource {
 public:
  SequenceSource(const model::BaselineRanker& filters, SequenceConfig config)
      : filters_(filters), config_(config), recent_(config.window), rules_(config.max_successors, config.half_life_days) {}
  Reason reason() const override { return Reason::kSequence; }
  // Learns one committed interaction, in event order.
  void Observe(UserId user, ItemId item, EpochMillis ts);
  void ForgetUser(UserId user) { recent_.Forget(user); }  // the rules learnt from them stay
  void Propose(UserId user, size_t limit, std::vector<Candidate>* out) const override;
  // The rule i -> j's epoch-referred log2 weight; nullopt when not kept (for tests).
  std::optional<double> RuleLogWeight(ItemId from, ItemId to) const { return rules_.LogWeight(from.value, to.value); }

 private:
  const model::BaselineRanker& filters_;
  SequenceConfig config_;
  RecentItems recent_;
  RuleTable rules_;
};

class CoVisitSource : public CandidateSource {
 public:
  CoVisitSource(const store::GraphStore& store, const model::BaselineRanker& filters, CoVisitConfig config)
      : store_(store), filters_(filters), config_(config), recent_(config.window),
        rules_(config.max_neighbours, config.half_life_days) {}
  Reason reason() const override { return Reason::kCoOccurrence; }
  void Observe(UserId user, ItemId item, EpochMillis ts);
  void ForgetUser(UserId user) { recent_.Forget(user); }  // the rules learnt from them stay
  void Propose(UserId user, size_t limit, std::vector<Candidate>* out) const override;
  std::optional<double> RuleLogWeight(ItemId from, ItemId to) const { return rules_.LogWeight(from.value, to.value); }

 private:
  const store::GraphStore& store_;
  const model::BaselineRanker& filters_;
  CoVisitConfig config_;
  RecentItems recent_;
  RuleTable rules_;
};

}  // namespace recd::rank
