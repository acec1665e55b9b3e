// Offline evaluation: the metrics on hand-checked cases, and the baselines on
// planted structure where their ordering is known.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "model/eval/offline.h"

namespace recd::eval {
namespace {

// Scores items by a fixed table (the same for every user).
class FixedScorer : public Scorer {
 public:
  explicit FixedScorer(std::vector<float> s) : s_(std::move(s)) {}
  std::string name() const override { return "fixed"; }
  void Fit(const InteractionLog&, const std::vector<LoggedInteraction>&, EpochMillis) override {}
  void Score(uint32_t, std::vector<float>* out) const override { *out = s_; }

 private:
  std::vector<float> s_;
};

InteractionLog Log(size_t users, size_t items, const std::vector<LoggedInteraction>& xs) {
  InteractionLog log;
  for (size_t u = 0; u < users; ++u) log.users.push_back("u" + std::to_string(u));
  for (size_t i = 0; i < items; ++i) log.items.push_back("i" + std::to_string(i));
  log.interactions = xs;
  return log;
}

TEST(Evaluate, RanksTheNextUnseenItemOverAllItemsWithSeenOnesExcluded) {
  // User 0 saw item 0 in train; in test saw 0 again (ignored) then 3, then 2.
  // User 1 saw item 1; next unseen item 0. User 2 has no train history: not evaluated.
  const auto log = Log(3, 5, {{0, 0, 1, EventType::kClick}, {1, 1, 2, EventType::kClick},
                              {0, 0, 10, EventType::kClick}, {0, 3, 11, EventType::kClick},
                              {0, 2, 12, EventType::kClick}, {1, 0, 13, EventType::kClick},
                              {2, 4, 14, EventType::kClick}});
  const auto split = SplitAt(log, 10);
  ASSERT_EQ(split.train.size(), 2u);
  // Item scores: 0 > 1 > 2 > 3 > 4.
  const auto m = Evaluate(FixedScorer({5, 4, 3, 2, 1}), log, split);
  EXPECT_EQ(m.users, 2u);
  // User 0: item 0 excluded, ranking 1,2,3,4 -> target 3 at rank 3. User 1: item 1 excluded -> target 0 at rank 1.
  EXPECT_DOUBLE_EQ(m.hr_at_10, 1.0);
  EXPECT_DOUBLE_EQ(m.mrr, (1.0 / 3 + 1.0) / 2);
  EXPECT_DOUBLE_EQ(m.ndcg_at_10, (1.0 / std::log2(4.0) + 1.0) / 2);
  // Recall@20: every unseen test item is within the top 20 of a 5-item catalogue.
  EXPECT_DOUBLE_EQ(m.recall_at_20, 1.0);
  // Top-10 lists: user 0 gets {1,2,3,4}, user 1 gets {0,2,3,4}: every item is covered.
  EXPECT_DOUBLE_EQ(m.coverage_at_10, 1.0);
}

TEST(Evaluate, TiesCountAgainstTheTarget) {
  const auto log = Log(1, 30, {{0, 0, 1, EventType::kClick}, {0, 5, 10, EventType::kClick}});
  const auto m = Evaluate(FixedScorer(std::vector<float>(30, 1.0f)), log, SplitAt(log, 10));
  EXPECT_EQ(m.users, 1u);
  EXPECT_DOUBLE_EQ(m.hr_at_10, 0.0);  // 29 unseen items tie: the target ranks last
  EXPECT_DOUBLE_EQ(m.mrr, 1.0 / 29);
}

TEST(Baselines, PersonalisedOnesFindPlantedCommunitiesPopularityCannot) {
  // Two communities of 40 users over disjoint halves of 40 items; community B's items
  // are globally more popular (more clicks), so popularity recommends B to everyone.
  std::mt19937 rng(3);
  std::vector<LoggedInteraction> xs;
  EpochMillis t = 0;
  for (int round = 0; round < 12; ++round) {
    for (uint32_t u = 0; u < 80; ++u) {
      const bool b = u >= 40;
      const int clicks = b ? 3 : 1;
      for (int c = 0; c < clicks; ++c) xs.push_back({u, static_cast<uint32_t>((b ? 20 : 0) + rng() % 20), ++t, EventType::kClick});
    }
  }
  const auto log = Log(80, 40, xs);
  const auto split = SplitAt(log, SplitTimeForFraction(log, 0.8));
  BaselineSettings settings;
  settings.bpr_epochs = 40;
  auto baselines = MakeBaselines(settings);
  std::map<std::string, double> hr;
  for (auto& b : baselines) {
    b->Fit(log, split.train, split.at);
    hr[b->name()] = Evaluate(*b, log, split).hr_at_10;
  }
  ASSERT_EQ(hr.size(), 7u);
  // Every personalised baseline finds the communities; popularity cannot.
  for (const char* name : {"item-kNN", "sequential rules", "session kNN (V-SKNN)", "EASE", "BPR-MF"}) {
    ASSERT_EQ(hr.count(name), 1u) << name;
    EXPECT_GT(hr[name], hr["popularity"] + 0.2) << name << " " << hr[name] << " vs popularity " << hr["popularity"];
  }
}

}  // namespace
}  // namespace recd::eval
