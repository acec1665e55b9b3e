// recd::rank — RuleTable: weighted item -> item rules, time-decayed and bounded,
// the shared state of the rule-based sources (SequenceSource, CoVisitSource).
// Weights are epoch-referred log2 (a new event adds 2^(ts / half_life) x w by a
// log-add-exp), so old rules fade without a sweep; each item keeps its
// `max_rules` heaviest rules (pruned when 1.25x over). Single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "base/ids.h"

namespace recd::rank {

class RuleTable {
 public:
  RuleTable(size_t max_rules, double half_life_days)
      : max_rules_(max_rules), half_life_ms_(half_life_days * 86'400'000.0) {}

  // Adds weight `w` at event time `ts` to the rule from -> to.
  void Add(uint32_t from, uint32_t to, EpochMillis ts, double w);
  // The rule's epoch-referred log2 weight; nullopt when not kept.
  std::optional<double> LogWeight(uint32_t from, uint32_t to) const;
  // Sum over seeds (item, weight) of weight x the rule's weight, relative to the
  // heaviest rule involved; `out` gets (item, score) for every item reached, unordered.
  void Score(const std::vector<std::pair<uint32_t, double>>& seeds, std::vector<std::pair<uint32_t, double>>* out) const;

 private:
  struct Rule {
    uint32_t to;
    double log_weight;
  };
  size_t max_rules_;
  double half_life_ms_;
  std::vector<std::vector<Rule>> rules_;  // by item, unordered
  mutable std::vector<double> scratch_;   // by item, reset after each Score
  mutable std::vector<uint32_t> touched_;
};

}  // namespace recd::rank
