#include "model/rank/rule_table.h"

#include <algorithm>
#include <cmath>

#include "base/log_weight.h"

namespace recd::rank {

void RuleTable::Add(uint32_t from, uint32_t to, EpochMillis ts, double w) {
  const double add = static_cast<double>(ts) / half_life_ms_ + std::log2(w);
  if (from >= rules_.size()) rules_.resize(from + 1);
  std::vector<Rule>& rules = rules_[from];
  for (Rule& r : rules) {
    if (r.to == to) {
      r.log_weight = LogAddExp2(r.log_weight, add);
      return;
    }
  }
  rules.push_back({to, add});
  if (rules.size() > max_rules_ + max_rules_ / 4) {
    std::nth_element(rules.begin(), rules.begin() + static_cast<ptrdiff_t>(max_rules_), rules.end(),
                     [](const Rule& a, const Rule& b) {
                       return a.log_weight > b.log_weight || (a.log_weight == b.log_weight && a.to < b.to);
                     });
    rules.resize(max_rules_);
  }
}

std::optional<double> RuleTable::LogWeight(uint32_t from, uint32_t to) const {
  if (from >= rules_.size()) return std::nullopt;
  for (const Rule& r : rules_[from]) {
    if (r.to == to) return r.log_weight;
  }
  return std::nullopt;
}

void RuleTable::Score(const std::vector<std::pair<uint32_t, double>>& seeds,
                      std::vector<std::pair<uint32_t, double>>* out) const {
  double top = -INFINITY;
  for (const auto& [seed, w] : seeds) {
    if (seed >= rules_.size()) continue;
    for (const Rule& r : rules_[seed]) top = std::max(top, r.log_weight);
  }
  if (top == -INFINITY) return;
  for (const auto& [seed, w] : seeds) {
    if (seed >= rules_.size()) continue;
    for (const Rule& r : rules_[seed]) {
      if (r.to >= scratch_.size()) scratch_.resize(r.to + 1, 0.0);
      if (scratch_[r.to] == 0.0) touched_.push_back(r.to);
      scratch_[r.to] += w * std::exp2(r.log_weight - top);
    }
  }
  for (uint32_t j : touched_) {
    if (scratch_[j] > 0) out->emplace_back(j, scratch_[j]);  // an item whose weights underflowed to 0 is left out
    scratch_[j] = 0.0;
  }
  touched_.clear();
}

}  // namespace recd::rank
