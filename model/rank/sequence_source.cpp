#include "model/rank/sequence_source.h"

#include <algorithm>
#include <cmath>

namespace recd::rank {
namespace {

// log2(2^a + 2^b) without overflow.
double LogAdd(double a, double b) { return std::max(a, b) + std::log2(1 + std::exp2(-std::fabs(a - b))); }

}  // namespace

void SequenceSource::AddRule(uint32_t from, uint32_t to, double log_weight) {
  if (from >= rules_.size()) rules_.resize(from + 1);
  std::vector<Rule>& rules = rules_[from];
  for (Rule& r : rules) {
    if (r.to == to) {
      r.log_weight = LogAdd(r.log_weight, log_weight);
      return;
    }
  }
  rules.push_back({to, log_weight});
  // Amortised bound: past 1.25x the budget, keep the heaviest max_successors.
  if (rules.size() > config_.max_successors + config_.max_successors / 4) {
    std::nth_element(rules.begin(), rules.begin() + static_cast<ptrdiff_t>(config_.max_successors), rules.end(),
                     [](const Rule& a, const Rule& b) { return a.log_weight > b.log_weight || (a.log_weight == b.log_weight && a.to < b.to); });
    rules.resize(config_.max_successors);
  }
}

void SequenceSource::Observe(UserId user, ItemId item, EpochMillis ts) {
  if (user.value >= recent_.size()) recent_.resize(user.value + 1);
  std::vector<uint32_t>& recent = recent_[user.value];
  const double now = static_cast<double>(ts) / (config_.half_life_days * 86'400'000.0);
  for (size_t d = 1; d <= recent.size(); ++d) {
    const uint32_t before = recent[recent.size() - d];
    if (before != item.value) AddRule(before, item.value, now - std::log2(static_cast<double>(d)));
  }
  recent.erase(std::remove(recent.begin(), recent.end(), item.value), recent.end());
  recent.push_back(item.value);
  if (recent.size() > config_.window) recent.erase(recent.begin());
}

void SequenceSource::Propose(UserId user, size_t limit, std::vector<Candidate>* out) const {
  if (limit == 0 || user.value >= recent_.size()) return;
  const std::vector<uint32_t>& recent = recent_[user.value];
  const size_t seeds = std::min(config_.seeds, recent.size());
  double top = -INFINITY;  // the heaviest rule involved: weights are taken relative to it
  for (size_t n = 0; n < seeds; ++n) {
    const uint32_t seed = recent[recent.size() - 1 - n];
    if (seed >= rules_.size()) continue;
    for (const Rule& r : rules_[seed]) top = std::max(top, r.log_weight);
  }
  if (top == -INFINITY) return;
  for (size_t n = 0; n < seeds; ++n) {
    const uint32_t seed = recent[recent.size() - 1 - n];
    if (seed >= rules_.size()) continue;
    for (const Rule& r : rules_[seed]) {
      if (r.to >= scratch_.size()) scratch_.resize(r.to + 1, 0.0);
      if (scratch_[r.to] == 0.0) touched_.push_back(r.to);
      scratch_[r.to] += std::exp2(r.log_weight - top) / static_cast<double>(n + 1);
    }
  }
  std::vector<Candidate> scored;
  for (uint32_t j : touched_) {
    if (!filters_.Excluded(user, ItemId(j))) scored.push_back({j, static_cast<float>(scratch_[j])});
    scratch_[j] = 0.0;
  }
  touched_.clear();
  const size_t keep = std::min(limit, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<ptrdiff_t>(keep), scored.end(),
                    [](const Candidate& a, const Candidate& b) { return a.score > b.score || (a.score == b.score && a.item < b.item); });
  out->insert(out->end(), scored.begin(), scored.begin() + static_cast<ptrdiff_t>(keep));
}

std::optional<double> SequenceSource::RuleLogWeight(ItemId from, ItemId to) const {
  if (from.value >= rules_.size()) return std::nullopt;
  for (const Rule& r : rules_[from.value]) {
    if (r.to == to.value) return r.log_weight;
  }
  return std::nullopt;
}

}  // namespace recd::rank
