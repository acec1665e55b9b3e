#include "model/prequential_baselines.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace recd::model {
namespace {

constexpr double kNoScore = -std::numeric_limits<double>::infinity();

// State every baseline needs: what each user may not be shown, and growth.
class Common {
 public:
  void Learn(const StreamingInteraction& x) {
    if (x.user >= excluded_.size()) excluded_.resize(x.user + 1);
    if (x.type == EventType::kPurchase || x.type == EventType::kRating) excluded_[x.user].insert(x.item);
    num_items_ = std::max<size_t>(num_items_, x.item + 1);
  }
  bool Excluded(uint32_t user, uint32_t item) const {
    return user < excluded_.size() && excluded_[user].count(item) != 0;
  }
  size_t num_items() const { return num_items_; }

 private:
  std::vector<std::unordered_set<uint32_t>> excluded_;
  size_t num_items_ = 0;
};

// The k best of scores[0..n) by score (ties: lower id), skipping `skip`; only finite scores.
template <typename Skip>
std::vector<uint32_t> Best(const std::vector<double>& scores, size_t k, Skip skip) {
  std::vector<std::pair<double, uint32_t>> heap;  // min-heap of the best so far
  auto worse = [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); };
  for (uint32_t i = 0; i < scores.size(); ++i) {
    if (scores[i] == kNoScore || skip(i)) continue;
    if (heap.size() < k) {
      heap.emplace_back(scores[i], i);
      std::push_heap(heap.begin(), heap.end(), worse);
    } else if (scores[i] > heap.front().first) {
      std::pop_heap(heap.begin(), heap.end(), worse);
      heap.back() = {scores[i], i};
      std::push_heap(heap.begin(), heap.end(), worse);
    }
  }
  std::sort_heap(heap.begin(), heap.end(), worse);
  std::vector<uint32_t> out;
  for (const auto& [s, i] : heap) out.push_back(i);
  return out;
}

class Popularity : public StreamingBaseline {
 public:
  // half_life_days <= 0: plain counts.
  explicit Popularity(double half_life_days) : half_life_ms_(half_life_days * 86'400'000.0) {}
  std::string name() const override {
    return half_life_ms_ > 0 ? "recent popularity (" + std::to_string(static_cast<int>(half_life_ms_ / 86'400'000.0)) +
                                   "-day half-life)"
                             : "popularity";
  }
  std::vector<uint32_t> TopK(uint32_t user, size_t k) override {
    return Best(score_, k, [&](uint32_t i) { return common_.Excluded(user, i); });
  }
  void Learn(const StreamingInteraction& x) override {
    common_.Learn(x);
    if (score_.size() <= x.item) score_.resize(x.item + 1, kNoScore);
    // Epoch-referred log2 weights (store/decay.h's trick): adding is a log-add-exp, and the order at any time is the order of these.
    const double add = half_life_ms_ > 0 ? static_cast<double>(x.ts) / half_life_ms_ : 0.0;
    double& s = score_[x.item];
    if (half_life_ms_ > 0) {
      s = s == kNoScore ? add : std::max(s, add) + std::log2(1 + std::exp2(-std::fabs(s - add)));
    } else {
      s = s == kNoScore ? 1 : s + 1;
    }
  }
  const std::vector<double>& scores() const { return score_; }
  const Common& common() const { return common_; }

 private:
  double half_life_ms_;
  Common common_;
  std::vector<double> score_;
};

class ItemKnn : public StreamingBaseline {
 public:
  // Popularity fills short lists and keeps the per-user exclusions for both.
  explicit ItemKnn(const StreamingBaselineSettings& s) : settings_(s), popularity_(0) {}
  std::string name() const override { return "item-kNN"; }
  std::vector<uint32_t> TopK(uint32_t user, size_t k) override {
    const Common& common = popularity_.common();
    std::vector<double> scores(common.num_items(), kNoScore);
    if (user < recent_.size()) {
      for (uint32_t seed : recent_[user]) {
        if (seed >= neighbours_.size()) continue;
        for (const auto& [j, sim] : neighbours_[seed]) scores[j] = (scores[j] == kNoScore ? 0 : scores[j]) + sim;
      }
    }
    auto skip = [&](uint32_t i) { return common.Excluded(user, i); };
    std::vector<uint32_t> out = Best(scores, k, skip);
    if (out.size() < k) {  // fill from popularity
      for (uint32_t i : Best(popularity_.scores(), k + out.size(), skip)) {
        if (out.size() == k) break;
        if (std::find(out.begin(), out.end(), i) == out.end()) out.push_back(i);
      }
    }
    return out;
  }
  void Learn(const StreamingInteraction& x) override {
    popularity_.Learn(x);
    if (x.user >= items_of_.size()) {
      items_of_.resize(x.user + 1);
      recent_.resize(x.user + 1);
    }
    if (x.item >= co_.size()) {
      co_.resize(x.item + 1);
      users_of_.resize(x.item + 1, 0);
    }
    if (items_of_[x.user].insert(x.item).second) {
      for (uint32_t j : items_of_[x.user]) {
        if (j == x.item) continue;
        ++co_[x.item][j];
        ++co_[j][x.item];
      }
      ++users_of_[x.item];
    }
    auto& r = recent_[x.user];
    r.erase(std::remove(r.begin(), r.end(), x.item), r.end());
    r.insert(r.begin(), x.item);
    if (r.size() > settings_.knn_recent_items) r.pop_back();
    if (next_rebuild_ == 0) next_rebuild_ = x.ts;
    if (x.ts >= next_rebuild_) {
      Rebuild();
      next_rebuild_ = x.ts + static_cast<EpochMillis>(settings_.knn_rebuild_hours * 3'600'000.0);
    }
  }

 private:
  void Rebuild() {
    neighbours_.assign(co_.size(), {});
    for (uint32_t i = 0; i < co_.size(); ++i) {
      auto& n = neighbours_[i];
      for (const auto& [j, c] : co_[i]) {
        n.emplace_back(j, c / std::sqrt(static_cast<double>(users_of_[i]) * users_of_[j]));
      }
      const size_t keep = std::min(n.size(), settings_.knn_neighbours);
      std::partial_sort(n.begin(), n.begin() + static_cast<ptrdiff_t>(keep), n.end(), [](const auto& a, const auto& b) {
        return a.second > b.second || (a.second == b.second && a.first < b.first);
      });
      n.resize(keep);
    }
  }
  StreamingBaselineSettings settings_;
  Popularity popularity_;
  std::vector<std::unordered_set<uint32_t>> items_of_;
  std::vector<std::vector<uint32_t>> recent_;  // most recent first
  std::vector<std::unordered_map<uint32_t, uint32_t>> co_;
  std::vector<uint32_t> users_of_;
  std::vector<std::vector<std::pair<uint32_t, double>>> neighbours_;
  EpochMillis next_rebuild_ = 0;
};

}  // namespace

std::vector<std::unique_ptr<StreamingBaseline>> MakeStreamingBaselines(const StreamingBaselineSettings& settings) {
  std::vector<std::unique_ptr<StreamingBaseline>> out;
  out.push_back(std::make_unique<Popularity>(0));
  out.push_back(std::make_unique<Popularity>(settings.recent_half_life_days));
  out.push_back(std::make_unique<ItemKnn>(settings));
  return out;
}

}  // namespace recd::model
