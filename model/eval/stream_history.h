// recd::eval — StreamHistory: what every streaming baseline reads of the
// interactions seen so far (who touched what, in which order, which items are
// popular now). One owner (the evaluation harness) writes it once per event;
// the baselines only read it, so nine baselines do not keep nine copies.
// Users and items are the caller's dense ids. Single-threaded.
#pragma once

#include <algorithm>
#include <cstdint>
#include <unordered_set>
#include <vector>

#include "base/event.h"

namespace recd::eval {

struct StreamingInteraction {
  uint32_t user;
  uint32_t item;
  EventType type;
  EpochMillis ts;
  double rating = 0;  // kRating only
};

// "No score" in a baseline's score vector: never listed, not even as a tie.
inline constexpr double kNoScore = -1e300;

class StreamHistory {
 public:
  // half_life_days: recent popularity's decay; positive_rating: a rating at or
  // above it counts as a sale for the best-seller counts.
  StreamHistory(double half_life_days, double positive_rating)
      : half_life_ms_(half_life_days * 86'400'000.0), positive_rating_(positive_rating) {}

  // Records one interaction (after it was scored).
  void Learn(const StreamingInteraction& x);
  // Whether the interaction Learn saw last was its user's first with its item.
  bool last_was_first_touch() const { return last_was_first_touch_; }

  size_t num_users() const { return users_.size(); }
  size_t num_items() const { return count_.size(); }

  // Any interaction of the user with the item so far.
  bool Touched(uint32_t user, uint32_t item) const {
    return user < users_.size() && users_[user].touched.count(item) != 0;
  }
  // Purchased or rated: what lists leave out (the daemon's default filter).
  bool Excluded(uint32_t user, uint32_t item) const {
    return user < users_.size() && users_[user].excluded.count(item) != 0;
  }
  // The user's interactions in order (item, ts), oldest first; empty for a stranger.
  const std::vector<std::pair<uint32_t, EpochMillis>>& Sequence(uint32_t user) const {
    return user < users_.size() ? users_[user].sequence : empty_sequence_;
  }
  // The user's distinct items in the order of their first touch.
  const std::vector<uint32_t>& FirstTouches(uint32_t user) const {
    return user < users_.size() ? users_[user].first_touches : empty_items_;
  }
  // The user's `limit` most recent distinct items, most recent first.
  std::vector<uint32_t> RecentDistinct(uint32_t user, size_t limit) const;

  // Per item: interactions so far; their decayed weight as an epoch-referred
  // log2 (store/decay.h's trick: the order at any time is the order of these);
  // the same over sales only. kNoScore where there is none.
  const std::vector<double>& counts() const { return count_; }
  const std::vector<double>& recent_log_weight() const { return recent_; }
  const std::vector<double>& recent_sales_log_weight() const { return recent_sales_; }
  // Distinct users per item.
  const std::vector<uint32_t>& users_per_item() const { return users_per_item_; }

  bool IsSale(const StreamingInteraction& x) const {
    return x.type == EventType::kPurchase || (x.type == EventType::kRating && x.rating >= positive_rating_);
  }

 private:
  struct PerUser {
    std::unordered_set<uint32_t> touched, excluded;
    std::vector<std::pair<uint32_t, EpochMillis>> sequence;
    std::vector<uint32_t> first_touches;
  };
  void AddDecayed(std::vector<double>* weights, uint32_t item, EpochMillis ts) const;

  double half_life_ms_;
  double positive_rating_;
  std::vector<PerUser> users_;
  std::vector<double> count_, recent_, recent_sales_;
  std::vector<uint32_t> users_per_item_;
  bool last_was_first_touch_ = false;
  const std::vector<std::pair<uint32_t, EpochMillis>> empty_sequence_;
  const std::vector<uint32_t> empty_items_;
};

// The `k` best items of `scores` (ties: lower id first), skipping kNoScore and
// whatever `skip(item)` says, appended to `out` unless already there.
// Output stops at k items in all.
template <typename Skip>
void AppendBest(const std::vector<double>& scores, size_t k, Skip skip, std::vector<uint32_t>* out) {
  if (out->size() >= k) return;
  const size_t want = k - out->size();
  std::vector<std::pair<double, uint32_t>> heap;  // min-heap of the best so far
  auto better = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  auto listed = [&](uint32_t i) { return std::find(out->begin(), out->end(), i) != out->end(); };
  for (uint32_t i = 0; i < scores.size(); ++i) {
    if (scores[i] <= kNoScore || skip(i) || listed(i)) continue;
    if (heap.size() < want) {
      heap.emplace_back(scores[i], i);
      std::push_heap(heap.begin(), heap.end(), better);
    } else if (better(std::pair{scores[i], i}, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), better);
      heap.back() = {scores[i], i};
      std::push_heap(heap.begin(), heap.end(), better);
    }
  }
  std::sort_heap(heap.begin(), heap.end(), better);
  for (const auto& [s, i] : heap) out->push_back(i);
}

}  // namespace recd::eval
