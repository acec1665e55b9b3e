#include "model/eval/offline.h"

#include "model/eval/baselines.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <unordered_set>

namespace recd::eval {

TemporalSplit SplitAt(const InteractionLog& log, EpochMillis at) {
  TemporalSplit s;
  s.at = at;
  for (const auto& x : log.interactions) (x.ts < at ? s.train : s.test).push_back(x);
  return s;
}

EpochMillis SplitTimeForFraction(const InteractionLog& log, double train_fraction) {
  if (log.interactions.empty()) return 0;
  const size_t n = log.interactions.size();
  const size_t cut = std::min(n - 1, static_cast<size_t>(train_fraction * static_cast<double>(n)));
  return log.interactions[cut].ts;
}

namespace {

std::vector<std::vector<uint32_t>> ItemsByUser(size_t users, const std::vector<LoggedInteraction>& xs) {
  std::vector<std::vector<uint32_t>> by_user(users);
  for (const auto& x : xs) by_user[x.user].push_back(x.item);
  for (auto& v : by_user) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  }
  return by_user;
}

// A streaming baseline as a Scorer: fitted by learning the train slice in order.
class StreamingScorer : public Scorer {
 public:
  StreamingScorer(std::string key, const StreamingBaselineSettings& settings)
      : key_(std::move(key)), settings_(settings), name_(MakeStreamingBaseline(key_, settings_)->name()) {}
  std::string name() const override { return name_; }
  void Fit(const InteractionLog& log, const std::vector<LoggedInteraction>& train, EpochMillis) override {
    num_items_ = log.items.size();
    history_ = std::make_unique<StreamHistory>(settings_.recent_half_life_days, kPositiveRating);
    baseline_ = MakeStreamingBaseline(key_, settings_);
    for (const auto& x : train) {
      const StreamingInteraction sx{x.user, x.item, x.type, x.ts, x.rating};
      history_->Learn(sx);
      baseline_->Learn(sx, *history_);
    }
  }
  void Score(uint32_t user, std::vector<float>* scores) const override {
    baseline_->Score(user, *history_, &scratch_);
    scores->assign(num_items_, std::numeric_limits<float>::lowest());
    for (size_t i = 0; i < scratch_.size(); ++i) {
      if (scratch_[i] > kNoScore) (*scores)[i] = static_cast<float>(scratch_[i]);
    }
  }

 private:
  static constexpr double kPositiveRating = 4.0;
  std::string key_;
  StreamingBaselineSettings settings_;
  std::string name_;
  size_t num_items_ = 0;  // the whole log's, test-only items included
  std::unique_ptr<StreamHistory> history_;
  std::unique_ptr<StreamingBaseline> baseline_;  // Score is const for the evaluator, not for the cache it keeps
  mutable std::vector<double> scratch_;
};

// BPR-MF (Rendle et al., 2009): SGD on (user, seen item, unseen item) triples.
class Bpr : public Scorer {
 public:
  explicit Bpr(const BaselineSettings& s) : s_(s) {}
  std::string name() const override { return "BPR-MF"; }
  void Fit(const InteractionLog& log, const std::vector<LoggedInteraction>& train, EpochMillis) override {
    const size_t d = s_.bpr_dim;
    std::mt19937_64 rng(s_.seed);
    std::normal_distribution<float> init(0.0f, 0.1f);
    users_.resize(log.users.size() * d);
    items_.resize(log.items.size() * d);
    for (auto& x : users_) x = init(rng);
    for (auto& x : items_) x = init(rng);
    const auto seen = ItemsByUser(log.users.size(), train);
    std::vector<std::pair<uint32_t, uint32_t>> pairs;
    for (uint32_t u = 0; u < seen.size(); ++u) {
      for (uint32_t i : seen[u]) pairs.emplace_back(u, i);
    }
    const float lr = s_.bpr_learning_rate, reg = s_.bpr_regularisation;
    for (uint32_t epoch = 0; epoch < s_.bpr_epochs; ++epoch) {
      std::shuffle(pairs.begin(), pairs.end(), rng);
      for (const auto& [u, i] : pairs) {
        uint32_t j;
        do {
          j = static_cast<uint32_t>(rng() % log.items.size());
        } while (std::binary_search(seen[u].begin(), seen[u].end(), j));
        float* pu = &users_[u * d];
        float* qi = &items_[i * d];
        float* qj = &items_[j * d];
        float x = 0;
        for (size_t k = 0; k < d; ++k) x += pu[k] * (qi[k] - qj[k]);
        const float g = 1.0f / (1.0f + std::exp(x));  // d/dx log sigmoid(x)
        for (size_t k = 0; k < d; ++k) {
          const float p = pu[k], a = qi[k], b = qj[k];
          pu[k] += lr * (g * (a - b) - reg * p);
          qi[k] += lr * (g * p - reg * a);
          qj[k] += lr * (-g * p - reg * b);
        }
      }
    }
    n_items_ = log.items.size();
  }
  void Score(uint32_t user, std::vector<float>* s) const override {
    const size_t d = s_.bpr_dim;
    s->assign(n_items_, 0.0f);
    for (size_t i = 0; i < n_items_; ++i) {
      float x = 0;
      for (size_t k = 0; k < d; ++k) x += users_[user * d + k] * items_[i * d + k];
      (*s)[i] = x;
    }
  }

 private:
  BaselineSettings s_;
  size_t n_items_ = 0;
  std::vector<float> users_, items_;
};

}  // namespace

std::vector<std::unique_ptr<Scorer>> MakeBaselines(const BaselineSettings& settings) {
  std::vector<std::unique_ptr<Scorer>> out;
  for (const char* key : {"popularity", "recent-popularity", "item-knn", "sequential-rules", "session-knn", "ease"}) {
    out.push_back(std::make_unique<StreamingScorer>(key, settings.streaming));
  }
  out.push_back(std::make_unique<Bpr>(settings));
  return out;
}

EvalMetrics Evaluate(const Scorer& scorer, const InteractionLog& log, const TemporalSplit& split) {
  EvalMetrics m;
  m.model = scorer.name();
  const auto seen = ItemsByUser(log.users.size(), split.train);
  std::vector<int64_t> target(log.users.size(), -1);
  std::vector<std::vector<uint32_t>> future(log.users.size());
  for (const auto& x : split.test) {  // test is in time order
    if (seen[x.user].empty() || std::binary_search(seen[x.user].begin(), seen[x.user].end(), x.item)) continue;
    if (target[x.user] < 0) target[x.user] = x.item;
    future[x.user].push_back(x.item);
  }
  std::vector<char> covered(log.items.size(), 0);
  std::vector<float> scores;
  std::vector<uint32_t> order(log.items.size());
  for (uint32_t u = 0; u < log.users.size(); ++u) {
    if (target[u] < 0) continue;
    scorer.Score(u, &scores);
    for (uint32_t i : seen[u]) scores[i] = -std::numeric_limits<float>::infinity();
    // Full ranking: the target's rank is 1 + the number of items scored above it
    // (ties broken against the target, so constant scores earn nothing).
    const float t = scores[static_cast<size_t>(target[u])];
    size_t rank = 1;
    for (size_t i = 0; i < scores.size(); ++i) {
      if (i != static_cast<size_t>(target[u]) && scores[i] >= t) ++rank;
    }
    ++m.users;
    m.mrr += 1.0 / static_cast<double>(rank);
    if (rank <= 10) {
      m.hr_at_10 += 1;
      m.ndcg_at_10 += 1.0 / std::log2(1.0 + static_cast<double>(rank));
    }
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + std::min<size_t>(20, order.size()), order.end(),
                      [&](uint32_t a, uint32_t b) { return scores[a] > scores[b] || (scores[a] == scores[b] && a < b); });
    const size_t rankable = order.size() - seen[u].size();  // seen items sort last at -inf
    for (size_t n = 0; n < std::min<size_t>(10, rankable); ++n) covered[order[n]] = 1;
    std::vector<uint32_t> want = future[u];
    std::sort(want.begin(), want.end());
    want.erase(std::unique(want.begin(), want.end()), want.end());
    size_t hits = 0;
    for (size_t n = 0; n < std::min<size_t>(20, rankable); ++n) hits += std::binary_search(want.begin(), want.end(), order[n]);
    m.recall_at_20 += static_cast<double>(hits) / static_cast<double>(want.size());
  }
  if (m.users > 0) {
    const double n = static_cast<double>(m.users);
    m.hr_at_10 /= n;
    m.ndcg_at_10 /= n;
    m.recall_at_20 /= n;
    m.mrr /= n;
  }
  m.coverage_at_10 = log.items.empty() ? 0 : static_cast<double>(std::count(covered.begin(), covered.end(), 1)) /
                                                 static_cast<double>(log.items.size());
  return m;
}

}  // namespace recd::eval
