// recd::rank — SequenceSource: sequence-aware item-item co-occurrence, updated
// per event (no daily rebuild) and bounded. An interaction with j that follows
// one with i among the user's last `window` distinct items, d steps back, adds
// 1/d to the rule i -> j, time-decayed with the store's half-life (weights are
// epoch-referred log2, so old rules fade without a sweep). Each item keeps its
// `max_successors` heaviest rules. A user's candidates sum the rules out of
// their `seeds` most recent items, the n-th weighing 1/n ("what people look at
// next", session-rec's SR and Alpenglow's forward co-occurrence, made online).
//
// State is in memory and starts empty at each start (it refills from the
// stream); per user it holds `window` item ids. Single-threaded: the thread
// that owns the store calls Observe and Propose.
#pragma once

#include "model/baseline_ranker.h"
#include "model/rank/candidate_source.h"

namespace recd::rank {

struct SequenceConfig {
  size_t window = 5;             // distinct recent items per user a new item follows
  size_t seeds = 3;              // the user's most recent items that propose
  size_t max_successors = 100;   // rules kept per item (the heaviest)
  double half_life_days = 14;    // a rule's weight halves over this much event time
};

class SequenceSource : public CandidateSource {
 public:
  SequenceSource(const model::BaselineRanker& filters, SequenceConfig config)
      : filters_(filters), config_(config) {}
  Reason reason() const override { return Reason::kSequence; }
  // Learns one committed interaction, in event order.
  void Observe(UserId user, ItemId item, EpochMillis ts);
  void Propose(UserId user, size_t limit, std::vector<Candidate>* out) const override;

  // The rule i -> j's epoch-referred log2 weight; nullopt when not kept (for tests).
  std::optional<double> RuleLogWeight(ItemId from, ItemId to) const;

 private:
  struct Rule {
    uint32_t to;
    double log_weight;
  };
  void AddRule(uint32_t from, uint32_t to, double log_weight);

  const model::BaselineRanker& filters_;
  SequenceConfig config_;
  std::vector<std::vector<Rule>> rules_;      // by item: its successors, unordered
  std::vector<std::vector<uint32_t>> recent_; // by user: distinct recent items, newest last
  mutable std::vector<double> scratch_;       // by item, reset after each Propose
  mutable std::vector<uint32_t> touched_;
};

}  // namespace recd::rank
