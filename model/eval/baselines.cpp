#include "model/eval/baselines.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <unordered_map>

#include "model/eval/baselines_impl.h"

namespace recd::eval {
namespace {

// What a popularity widget counts.
enum class Counted { kAll, kRecent, kRecentSales };

// Popularity, recent popularity (decayed interactions) and recent best sellers
// (decayed purchases and positive ratings), optionally skipping every item the
// user touched ("best sellers you have not seen").
class Popularity : public ScoringBaseline {
 public:
  Popularity(Counted counted, bool unseen, double half_life_days)
      : ScoringBaseline(unseen), counted_(counted), unseen_(unseen), half_life_days_(half_life_days) {}
  std::string name() const override {
    const std::string days = std::to_string(static_cast<int>(half_life_days_)) + "-day half-life";
    std::string n = counted_ == Counted::kAll      ? "popularity"
                    : counted_ == Counted::kRecent ? "recent popularity (" + days + ")"
                                                   : "recent best sellers (" + days + ")";
    return unseen_ ? n + ", unseen" : n;
  }
  void Score(uint32_t, const StreamHistory& history, std::vector<double>* scores) override {
    *scores = counted_ == Counted::kAll      ? history.counts()
              : counted_ == Counted::kRecent ? history.recent_log_weight()
                                             : history.recent_sales_log_weight();
  }
  void Learn(const StreamingInteraction&, const StreamHistory&) override {}

 private:
  Counted counted_;
  bool unseen_;
  double half_life_days_;
};

// The shop's "recently viewed" widget: the user's last distinct clicked items
// not purchased or rated, most recent first, padded with recent popularity.
class RecentlyViewed : public StreamingBaseline {
 public:
  explicit RecentlyViewed(size_t considered) : considered_(considered) {}
  std::string name() const override { return "recently viewed"; }
  std::vector<uint32_t> TopK(uint32_t user, size_t k, const StreamHistory& history) override {
    std::vector<uint32_t> out;
    for (uint32_t item : history.RecentDistinct(user, considered_ + k)) {
      if (out.size() == std::min(k, considered_)) break;
      if (!history.Excluded(user, item)) out.push_back(item);
    }
    PadWithRecentPopularity(history, k, [&](uint32_t i) { return history.Excluded(user, i); }, &out);
    return out;
  }
  void Score(uint32_t user, const StreamHistory& history, std::vector<double>* scores) override {
    scores->assign(history.num_items(), kNoScore);
    const auto recent = history.RecentDistinct(user, considered_);
    for (size_t r = 0; r < recent.size(); ++r) (*scores)[recent[r]] = static_cast<double>(recent.size() - r);
  }
  void Learn(const StreamingInteraction&, const StreamHistory&) override {}

 private:
  size_t considered_;
};

// Item-kNN, exact and current after every event: cosine of co-occurrence (users
// in common / sqrt of both items' users), summed over the user's most recent
// distinct items. Co-occurrence counts are updated on each first touch.
class ItemKnn : public ScoringBaseline {
 public:
  explicit ItemKnn(size_t recent_items) : recent_items_(recent_items) {}
  std::string name() const override { return "item-kNN"; }
  void Score(uint32_t user, const StreamHistory& history, std::vector<double>* scores) override {
    scores->assign(history.num_items(), kNoScore);
    const auto& users_of = history.users_per_item();
    for (uint32_t seed : history.RecentDistinct(user, recent_items_)) {
      if (seed >= co_.size()) continue;
      for (const auto& [j, c] : co_[seed]) {
        double& s = (*scores)[j];
        s = (s <= kNoScore ? 0 : s) + c / std::sqrt(static_cast<double>(users_of[seed]) * users_of[j]);
      }
    }
  }
  void Learn(const StreamingInteraction& x, const StreamHistory& history) override {
    if (!history.last_was_first_touch()) return;
    const auto& firsts = history.FirstTouches(x.user);
    if (co_.size() < history.num_items()) co_.resize(history.num_items());
    for (size_t n = 0; n + 1 < firsts.size(); ++n) {
      ++co_[x.item][firsts[n]];
      ++co_[firsts[n]][x.item];
    }
  }

 private:
  size_t recent_items_;
  std::vector<std::unordered_map<uint32_t, uint32_t>> co_;
};

// Sequential rules (session-rec's SR; Alpenglow's forward co-occurrence): an
// interaction with j that follows one with i at distance d <= window in the
// user's sequence adds 1/d to the rule i -> j. A list sums the rules out of the
// user's last few distinct items, the n-th most recent weighted 1/n.
class SequentialRules : public ScoringBaseline {
 public:
  SequentialRules(size_t window, size_t recent_items) : window_(window), recent_items_(recent_items) {}
  std::string name() const override { return "sequential rules"; }
  void Score(uint32_t user, const StreamHistory& history, std::vector<double>* scores) override {
    scores->assign(history.num_items(), kNoScore);
    const auto recent = history.RecentDistinct(user, recent_items_);
    for (size_t n = 0; n < recent.size(); ++n) {
      if (recent[n] >= rules_.size()) continue;
      for (const auto& [j, w] : rules_[recent[n]]) {
        double& s = (*scores)[j];
        s = (s <= kNoScore ? 0 : s) + w / static_cast<double>(n + 1);
      }
    }
  }
  void Learn(const StreamingInteraction& x, const StreamHistory& history) override {
    if (rules_.size() < history.num_items()) rules_.resize(history.num_items());
    const auto& seq = history.Sequence(x.user);  // ends with x
    for (size_t d = 1; d <= window_ && d < seq.size(); ++d) {
      const uint32_t before = seq[seq.size() - 1 - d].first;
      if (before != x.item) rules_[before][x.item] += 1.0 / static_cast<double>(d);
    }
  }

 private:
  size_t window_, recent_items_;
  std::vector<std::unordered_map<uint32_t, double>> rules_;
};

// Session kNN (V-SKNN, Ludewig & Jannach 2018): a user's events split into
// sessions at gaps over session_gap. The user's newest session, its items
// weighted 1/(distance from its end + 1), is compared by cosine with the most
// recent past sessions sharing an item; the `neighbours` most similar vote for
// their items with their similarity.
class SessionKnn : public ScoringBaseline {
 public:
  explicit SessionKnn(const StreamingBaselineSettings& s)
      : gap_ms_(static_cast<EpochMillis>(s.session_gap_minutes * 60'000.0)),
        neighbours_(s.session_neighbours),
        sample_(s.session_sample) {}
  std::string name() const override { return "session kNN (V-SKNN)"; }
  void Score(uint32_t user, const StreamHistory& history, std::vector<double>* scores) override {
    scores->assign(history.num_items(), kNoScore);
    if (user >= current_.size() || current_[user].session < 0) return;
    const uint32_t self = static_cast<uint32_t>(current_[user].session);
    const auto& mine = sessions_[self];
    std::unordered_map<uint32_t, double> overlap;  // session -> sum of weights of shared items
    for (size_t p = 0; p < mine.size(); ++p) {
      const double w = 1.0 / static_cast<double>(mine.size() - p);
      for (uint32_t s : item_sessions_[mine[p]]) {
        if (s != self) overlap[s] += w;
      }
    }
    // The most recent `sample_` candidate sessions (ids grow with time), then the most similar.
    std::vector<std::pair<double, uint32_t>> candidates;
    candidates.reserve(overlap.size());
    for (const auto& [s, o] : overlap) candidates.emplace_back(0, s);
    if (candidates.size() > sample_) {
      std::nth_element(candidates.begin(), candidates.begin() + static_cast<ptrdiff_t>(sample_), candidates.end(),
                       [](const auto& a, const auto& b) { return a.second > b.second; });
      candidates.resize(sample_);
    }
    for (auto& [sim, s] : candidates) {
      sim = overlap[s] / std::sqrt(static_cast<double>(mine.size()) * static_cast<double>(sessions_[s].size()));
    }
    const size_t keep = std::min(candidates.size(), neighbours_);
    std::partial_sort(candidates.begin(), candidates.begin() + static_cast<ptrdiff_t>(keep), candidates.end(),
                      [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second > b.second); });
    for (size_t n = 0; n < keep; ++n) {
      for (uint32_t j : sessions_[candidates[n].second]) {
        double& s = (*scores)[j];
        s = (s <= kNoScore ? 0 : s) + candidates[n].first;
      }
    }
  }
  void Learn(const StreamingInteraction& x, const StreamHistory&) override {
    if (x.user >= current_.size()) current_.resize(x.user + 1);
    if (x.item >= item_sessions_.size()) item_sessions_.resize(x.item + 1);
    Current& c = current_[x.user];
    if (c.session < 0 || x.ts - c.last_ts > gap_ms_) {
      c.session = static_cast<int64_t>(sessions_.size());
      sessions_.emplace_back();
    }
    c.last_ts = x.ts;
    auto& items = sessions_[static_cast<size_t>(c.session)];
    if (std::find(items.begin(), items.end(), x.item) != items.end()) return;
    items.push_back(x.item);
    auto& holders = item_sessions_[x.item];
    holders.push_back(static_cast<uint32_t>(c.session));
    if (holders.size() > sample_) holders.pop_front();
  }

 private:
  struct Current {
    int64_t session = -1;
    EpochMillis last_ts = 0;
  };
  EpochMillis gap_ms_;
  size_t neighbours_, sample_;
  std::vector<std::vector<uint32_t>> sessions_;       // distinct items in order of first touch
  std::vector<Current> current_;                      // per user
  std::vector<std::deque<uint32_t>> item_sessions_;  // per item: its most recent sessions, oldest first
};

}  // namespace

std::unique_ptr<StreamingBaseline> MakeStreamingBaseline(const std::string& key, const StreamingBaselineSettings& s) {
  const double h = s.recent_half_life_days;
  if (key == "popularity") return std::make_unique<Popularity>(Counted::kAll, false, h);
  if (key == "recent-popularity") return std::make_unique<Popularity>(Counted::kRecent, false, h);
  if (key == "unseen-recent-popularity") return std::make_unique<Popularity>(Counted::kRecent, true, h);
  if (key == "best-sellers") return std::make_unique<Popularity>(Counted::kRecentSales, false, h);
  if (key == "unseen-best-sellers") return std::make_unique<Popularity>(Counted::kRecentSales, true, h);
  if (key == "recently-viewed") return std::make_unique<RecentlyViewed>(s.recently_viewed);
  if (key == "item-knn") return std::make_unique<ItemKnn>(s.knn_recent_items);
  if (key == "sequential-rules") return std::make_unique<SequentialRules>(s.rules_window, s.rules_recent_items);
  if (key == "session-knn") return std::make_unique<SessionKnn>(s);
  if (key == "ease") return MakeEase(s);
  return nullptr;
}

std::vector<std::unique_ptr<StreamingBaseline>> MakeStreamingBaselines(const StreamingBaselineSettings& settings) {
  std::vector<std::unique_ptr<StreamingBaseline>> out;
  for (const char* key : {"popularity", "recent-popularity", "unseen-recent-popularity", "best-sellers",
                          "unseen-best-sellers", "recently-viewed", "item-knn", "sequential-rules", "session-knn",
                          "ease"}) {
    out.push_back(MakeStreamingBaseline(key, settings));
  }
  return out;
}

}  // namespace recd::eval
