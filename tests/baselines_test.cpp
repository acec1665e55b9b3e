// The streaming baselines (model/eval/baselines.h): each against a brute-force
// oracle recomputed from the raw log, or a hand-checked case.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>

#include "model/eval/baselines.h"
#include "model/eval/prequential.h"

namespace recd::eval {
namespace {

constexpr EpochMillis kMinute = 60'000;

StreamingInteraction Click(uint32_t u, uint32_t i, EpochMillis ts) { return {u, i, EventType::kClick, ts}; }
StreamingInteraction Buy(uint32_t u, uint32_t i, EpochMillis ts) { return {u, i, EventType::kPurchase, ts}; }

// Feeds a log to a history and one baseline, in order.
struct Fed {
  explicit Fed(const std::string& key, StreamingBaselineSettings settings = {})
      : history(settings.recent_half_life_days, 4.0), baseline(MakeStreamingBaseline(key, settings)) {}
  void Learn(const std::vector<StreamingInteraction>& xs) {
    for (const auto& x : xs) {
      history.Learn(x);
      baseline->Learn(x, history);
    }
  }
  std::vector<double> Scores(uint32_t user) {
    std::vector<double> s;
    baseline->Score(user, history, &s);
    return s;
  }
  StreamHistory history;
  std::unique_ptr<StreamingBaseline> baseline;
};

std::vector<StreamingInteraction> RandomLog(size_t users, size_t items, size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<StreamingInteraction> xs;
  for (size_t k = 0; k < n; ++k) {
    const auto type = rng() % 4 == 0 ? EventType::kPurchase : EventType::kClick;
    xs.push_back({static_cast<uint32_t>(rng() % users), static_cast<uint32_t>(rng() % items), type,
                  static_cast<EpochMillis>(k) * kMinute * static_cast<EpochMillis>(1 + rng() % 90)});
  }
  return xs;
}

TEST(Baselines, EveryKeyMakesOneAndUnknownKeysMakeNone) {
  for (const char* key : {"popularity", "recent-popularity", "unseen-recent-popularity", "best-sellers",
                          "unseen-best-sellers", "recently-viewed", "item-knn", "sequential-rules", "session-knn",
                          "ease"}) {
    EXPECT_NE(MakeStreamingBaseline(key, {}), nullptr) << key;
  }
  EXPECT_EQ(MakeStreamingBaseline("itemknn", {}), nullptr);
  EXPECT_EQ(MakeStreamingBaselines({}).size(), 10u);
}

TEST(StreamHistory, TracksTouchesExclusionsAndRecency) {
  StreamHistory h(7, 4.0);
  for (const auto& x : {Click(0, 1, 1), Click(0, 2, 2), Click(0, 1, 3), Buy(0, 3, 4),
                        StreamingInteraction{0, 4, EventType::kRating, 5, 2.0}}) {
    h.Learn(x);
  }
  EXPECT_TRUE(h.Touched(0, 1));
  EXPECT_FALSE(h.Touched(0, 0));
  EXPECT_FALSE(h.Touched(7, 1));  // a stranger
  EXPECT_FALSE(h.Excluded(0, 1));
  EXPECT_TRUE(h.Excluded(0, 3));
  EXPECT_TRUE(h.Excluded(0, 4));  // rated, even badly
  EXPECT_EQ(h.FirstTouches(0), (std::vector<uint32_t>{1, 2, 3, 4}));
  EXPECT_EQ(h.RecentDistinct(0, 3), (std::vector<uint32_t>{4, 3, 1}));
  EXPECT_EQ(h.counts()[1], 2);
  EXPECT_EQ(h.recent_sales_log_weight()[1], kNoScore);  // only clicked
  EXPECT_GT(h.recent_sales_log_weight()[3], kNoScore);
  EXPECT_EQ(h.recent_sales_log_weight()[4], kNoScore);  // a rating of 2 is not a sale
}

TEST(Popularity, CountsSkipExclusionsAndTheUnseenVariantSkipsTouches) {
  Fed pop("popularity"), unseen("unseen-recent-popularity"), sellers("best-sellers");
  // Item 2: 3 clicks; item 1: 2 purchases; item 0: 1 click. User 0 bought 1 and clicked 2.
  const std::vector<StreamingInteraction> log = {Click(1, 2, 1), Click(1, 2, 2), Click(0, 2, 3), Buy(0, 1, 4),
                                                 Buy(1, 1, 5), Click(1, 0, 6)};
  for (Fed* f : {&pop, &unseen, &sellers}) f->Learn(log);
  EXPECT_EQ(pop.baseline->TopK(0, 3, pop.history), (std::vector<uint32_t>{2, 0}));  // 1 bought
  EXPECT_EQ(pop.baseline->TopK(1, 3, pop.history), (std::vector<uint32_t>{2, 0}));  // 0 was only clicked
  EXPECT_EQ(unseen.baseline->TopK(0, 3, unseen.history), (std::vector<uint32_t>{0}));
  // Best sellers: item 1 sold twice, then recent popularity pads (2 before 0: more, and as recent).
  EXPECT_EQ(sellers.baseline->TopK(2, 3, sellers.history), (std::vector<uint32_t>{1, 2, 0}));
}

TEST(RecentlyViewed, ListsTheLastClickedItemsNotBoughtThenPopularity) {
  StreamingBaselineSettings s;
  s.recently_viewed = 2;
  Fed f("recently-viewed", s);
  f.Learn({Click(0, 5, 1), Click(0, 6, 2), Click(0, 7, 3), Click(0, 6, 4), Buy(0, 7, 5),
           Click(1, 9, 6), Click(1, 9, 7), Click(1, 9, 8)});
  // Distinct recent items: 7 (bought: skipped), 6, 5; two considered -> 6, 5; then popularity: 9 (3), then 7 bought, 6/5 listed.
  EXPECT_EQ(f.baseline->TopK(0, 4, f.history), (std::vector<uint32_t>{6, 5, 9}));
  // Padding: 7 and 6 both have two events; 7's are later, so it is the more recent.
  EXPECT_EQ(f.baseline->TopK(1, 2, f.history), (std::vector<uint32_t>{9, 7}));
}

TEST(ItemKnn, MatchesCosineRecomputedFromScratchAfterEveryEvent) {
  StreamingBaselineSettings s;
  s.knn_recent_items = 4;
  Fed f("item-knn", s);
  const auto log = RandomLog(12, 15, 300, 7);
  for (size_t n = 0; n < log.size(); ++n) {
    f.Learn({log[n]});
    if (n % 37 != 0) continue;
    // Oracle: sets of users per item from the log so far.
    std::map<uint32_t, std::set<uint32_t>> users_of;
    for (size_t m = 0; m <= n; ++m) users_of[log[m].item].insert(log[m].user);
    for (uint32_t u = 0; u < 12; ++u) {
      std::vector<double> want(f.history.num_items(), kNoScore);
      for (uint32_t seed : f.history.RecentDistinct(u, 4)) {
        for (const auto& [j, holders] : users_of) {
          if (j == seed) continue;
          size_t common = 0;
          for (uint32_t v : holders) common += users_of[seed].count(v);
          if (common == 0) continue;
          double& w = want[j];
          w = (w <= kNoScore ? 0 : w) + common / std::sqrt(double(users_of[seed].size()) * holders.size());
        }
      }
      const auto got = f.Scores(u);
      ASSERT_EQ(got.size(), want.size());
      for (size_t j = 0; j < want.size(); ++j) EXPECT_NEAR(got[j], want[j], 1e-9) << "user " << u << " item " << j;
    }
  }
}

TEST(SequentialRules, MatchesRulesRecomputedFromTheSequences) {
  StreamingBaselineSettings s;
  s.rules_window = 3;
  s.rules_recent_items = 2;
  Fed f("sequential-rules", s);
  const auto log = RandomLog(5, 8, 200, 11);
  f.Learn(log);
  std::map<std::pair<uint32_t, uint32_t>, double> rules;
  std::map<uint32_t, std::vector<uint32_t>> seq;
  for (const auto& x : log) {
    auto& q = seq[x.user];
    for (size_t d = 1; d <= 3 && d <= q.size(); ++d) {
      if (q[q.size() - d] != x.item) rules[{q[q.size() - d], x.item}] += 1.0 / d;
    }
    q.push_back(x.item);
  }
  for (uint32_t u = 0; u < 5; ++u) {
    std::vector<double> want(f.history.num_items(), kNoScore);
    const auto recent = f.history.RecentDistinct(u, 2);
    for (size_t n = 0; n < recent.size(); ++n) {
      for (const auto& [rule, w] : rules) {
        if (rule.first != recent[n]) continue;
        double& v = want[rule.second];
        v = (v <= kNoScore ? 0 : v) + w / double(n + 1);
      }
    }
    const auto got = f.Scores(u);
    for (size_t j = 0; j < want.size(); ++j) EXPECT_NEAR(got[j], want[j], 1e-9) << "user " << u << " item " << j;
  }
}

TEST(SessionKnn, VotesWithThePastSessionsMostLikeTheCurrentOne) {
  StreamingBaselineSettings s;
  s.session_gap_minutes = 30;
  s.session_neighbours = 1;
  Fed f("session-knn", s);
  f.Learn({// Past sessions: A = {1, 2, 3} (user 1), B = {4, 5} (user 2), C = {2, 6} (user 1, two hours later).
           Click(1, 1, 0), Click(1, 2, kMinute), Click(1, 3, 2 * kMinute), Click(2, 4, 0), Click(2, 5, kMinute),
           Click(1, 2, 120 * kMinute), Click(1, 6, 121 * kMinute),
           // User 0's current session: 1 then 2 (2 weighs 1, 1 weighs 1/2).
           Click(0, 1, 200 * kMinute), Click(0, 2, 201 * kMinute)});
  // Cosine with A: (1/2 + 1) / sqrt(2 * 3) = 0.612; with C: 1 / sqrt(2 * 2) = 0.5; B shares nothing.
  const auto got = f.Scores(0);
  const double a = 1.5 / std::sqrt(6.0);
  EXPECT_NEAR(got[3], a, 1e-12);
  EXPECT_NEAR(got[1], a, 1e-12);
  EXPECT_EQ(got[6], kNoScore);  // C is not among the 1 nearest
  EXPECT_EQ(got[4], kNoScore);
  EXPECT_EQ(f.baseline->TopK(0, 1, f.history), (std::vector<uint32_t>{1}));  // lowest id among ties; only clicked
  // With two neighbours C votes too.
  s.session_neighbours = 2;
  Fed g("session-knn", s);
  g.Learn({Click(1, 1, 0), Click(1, 2, kMinute), Click(1, 3, 2 * kMinute), Click(2, 4, 0), Click(2, 5, kMinute),
           Click(1, 2, 120 * kMinute), Click(1, 6, 121 * kMinute), Click(0, 1, 200 * kMinute),
           Click(0, 2, 201 * kMinute)});
  const auto two = g.Scores(0);
  EXPECT_NEAR(two[6], 0.5, 1e-12);
  EXPECT_NEAR(two[2], a + 0.5, 1e-12);
}

TEST(Ease, WeightsSolveTheClosedFormOnTheLogsGramMatrix) {
  StreamingBaselineSettings s;
  s.ease_lambda = 3;
  s.ease_rebuild_days = 0;  // rebuilt after every event
  Fed f("ease", s);
  // Users 0..9 random; users 10+i touch only item i (their scores are B's row i).
  auto log = RandomLog(10, 6, 80, 5);
  for (uint32_t i = 0; i < 6; ++i) log.push_back(Click(10 + i, i, 1'000'000'000));
  f.Learn(log);
  std::vector<std::vector<double>> gram(6, std::vector<double>(6, 0)), b(6);
  std::map<uint32_t, std::set<uint32_t>> items_of;
  for (const auto& x : log) items_of[x.user].insert(x.item);
  for (const auto& [u, items] : items_of) {
    for (uint32_t i : items) {
      for (uint32_t j : items) gram[i][j] += 1;
    }
  }
  for (uint32_t i = 0; i < 6; ++i) {
    b[i] = f.Scores(10 + i);
    ASSERT_EQ(b[i].size(), 6u);
    EXPECT_NEAR(b[i][i], 0, 1e-6);
  }
  // (G + lambda I) B equals G off the diagonal (B = I - P diag(1/diag P), P = (G + lambda I)^-1).
  for (uint32_t i = 0; i < 6; ++i) {
    for (uint32_t j = 0; j < 6; ++j) {
      if (i == j) continue;
      double v = 0;
      for (uint32_t k = 0; k < 6; ++k) v += (gram[i][k] + (i == k ? 3.0 : 0.0)) * b[k][j];
      EXPECT_NEAR(v, gram[i][j], 1e-3) << i << "," << j;
    }
  }
  // A user's scores are the sum of their items' rows.
  const auto u0 = f.Scores(0);
  for (uint32_t j = 0; j < 6; ++j) {
    double want = 0;
    for (uint32_t i : items_of[0]) want += b[i][j];
    EXPECT_NEAR(u0[j], want, 1e-4);
  }
}

TEST(PrequentialDiscovery, ScoresFirstTouchesOnlyAgainstTheHeldList) {
  PrequentialConfig config;
  config.protocol = PrequentialProtocol::kDiscovery;
  PrequentialEvaluator ev(config);
  auto event = [](EventType t, const char* item) {
    Event e;
    e.type = t;
    e.user_id = "u";
    e.item_id = item;
    return e;
  };
  EXPECT_FALSE(ev.Observe(event(EventType::kClick, "a")));  // first touch, but no list yet
  EXPECT_EQ(ev.total().without_list, 1u);
  RecommendationList list;
  list.user_id = "u";
  list.items = {{"a", 1, {}}, {"b", 1, {}}};
  ev.OnList(list);
  EXPECT_FALSE(ev.Observe(event(EventType::kPurchase, "a")));  // a was touched before: not a discovery
  int rank = -2;
  EXPECT_TRUE(ev.Observe(event(EventType::kClick, "b"), &rank));
  EXPECT_EQ(rank, 1);
  EXPECT_TRUE(ev.Observe(event(EventType::kClick, "c"), &rank));
  EXPECT_EQ(rank, -1);
  EXPECT_EQ(ev.total().positives, 2u);
  EXPECT_EQ(ev.total().hits, 1u);
}

}  // namespace
}  // namespace recd::eval
