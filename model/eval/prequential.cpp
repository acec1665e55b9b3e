#include "model/eval/prequential.h"

#include <cmath>

namespace recd::eval {

bool IsPositive(const Event& e, const PrequentialConfig& config) {
  return e.type == EventType::kPurchase || (e.type == EventType::kRating && e.rating >= config.positive_rating);
}

int RankInTop(const std::vector<std::string>& list, const std::string& item) {
  const size_t n = std::min(list.size(), kPrequentialCutoff);
  for (size_t r = 0; r < n; ++r) {
    if (list[r] == item) return static_cast<int>(r);
  }
  return -1;
}

double NdcgGain(int rank) { return rank >= 0 ? 1.0 / std::log2(rank + 2.0) : 0.0; }

bool PrequentialEvaluator::Observe(const Event& e, int* rank_out) {
  if (config_.protocol == PrequentialProtocol::kPositives) {
    if (!IsPositive(e, config_)) return false;
  } else if (!IsInteraction(e.type) || !touched_[e.user_id].insert(e.item_id).second) {
    return false;  // discovery scores first touches only
  }
  PrequentialTally* bucket = nullptr;
  if (config_.bucket_ms > 0) {
    const EpochMillis start = e.ts - ((e.ts % config_.bucket_ms) + config_.bucket_ms) % config_.bucket_ms;
    bucket = &buckets_[start];
  }
  auto it = lists_.find(e.user_id);
  if (it == lists_.end()) {
    ++total_.without_list;
    if (bucket) ++bucket->without_list;
    return false;
  }
  const int rank = RankInTop(it->second, e.item_id);
  if (rank_out) *rank_out = rank;
  const Scored s{rank >= 0, NdcgGain(rank)};
  for (PrequentialTally* t : {&total_, &window_tally_, bucket}) {
    if (!t) continue;
    ++t->positives;
    t->hits += s.hit;
    t->ndcg += s.gain;
  }
  recent_.push_back(s);
  if (recent_.size() > config_.window) {
    const Scored old = recent_.front();
    recent_.pop_front();
    --window_tally_.positives;
    window_tally_.hits -= old.hit;
    window_tally_.ndcg -= old.gain;
  }
  return true;
}

void PrequentialEvaluator::OnList(const RecommendationList& list) {
  std::vector<std::string>& top = lists_[list.user_id];
  top.clear();
  for (size_t r = 0; r < list.items.size() && r < kPrequentialCutoff; ++r) top.push_back(list.items[r].item_id);
}

}  // namespace recd::eval
