#include "model/eval/stream_history.h"

#include <cmath>

#include "base/log_weight.h"

namespace recd::eval {

void StreamHistory::AddDecayed(std::vector<double>* weights, uint32_t item, EpochMillis ts) const {
  // log2 of sum(2^(ts_i / half_life)): adding one is a log-add-exp (kNoScore adds nothing).
  double& w = (*weights)[item];
  w = LogAddExp2(w, static_cast<double>(ts) / half_life_ms_);
}

void StreamHistory::Learn(const StreamingInteraction& x) {
  if (x.user >= users_.size()) users_.resize(x.user + 1);
  if (x.item >= count_.size()) {
    count_.resize(x.item + 1, kNoScore);
    recent_.resize(x.item + 1, kNoScore);
    recent_sales_.resize(x.item + 1, kNoScore);
    users_per_item_.resize(x.item + 1, 0);
  }
  PerUser& u = users_[x.user];
  last_was_first_touch_ = u.touched.insert(x.item).second;
  if (last_was_first_touch_) {
    u.first_touches.push_back(x.item);
    ++users_per_item_[x.item];
  }
  if (x.type == EventType::kPurchase || x.type == EventType::kRating) u.excluded.insert(x.item);
  u.sequence.emplace_back(x.item, x.ts);
  count_[x.item] = count_[x.item] <= kNoScore ? 1 : count_[x.item] + 1;
  AddDecayed(&recent_, x.item, x.ts);
  if (IsSale(x)) AddDecayed(&recent_sales_, x.item, x.ts);
}

std::vector<uint32_t> StreamHistory::RecentDistinct(uint32_t user, size_t limit) const {
  std::vector<uint32_t> out;
  const auto& seq = Sequence(user);
  for (auto it = seq.rbegin(); it != seq.rend() && out.size() < limit; ++it) {
    if (std::find(out.begin(), out.end(), it->first) == out.end()) out.push_back(it->first);
  }
  return out;
}

}  // namespace recd::eval
