// Seasonal retraining: the trigger rules, the training window's selection
// (decay, window, seasonal recall), one retraining to a decision (registry
// contents, promotion by margin, pruning), and the registry's checks.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <unistd.h>

#include "base/durable_file.h"
#include "model/registry.h"
#include "model/retrain.h"
#include "model/trained_model.h"
#include "tests/small_recipe.h"
#include "tests/test_util.h"

namespace recd::model {
namespace {

using recd::testing::Interaction;
using recd::testing::ItemEvent;
using recd::testing::Text;

constexpr EpochMillis kDay = 86'400'000;
constexpr EpochMillis kT0 = 1'700'000'000'000;

TEST(RetrainTrigger, IntervalCountDriftAndDemandEachFireWithTheirReason) {
  RetrainConfig c;
  c.interval_ms = 10 * kDay;
  c.every_events = 1000;
  c.min_gap_ms = 2 * kDay;
  c.drift_fraction = 0.2;
  c.drift_min_positives = 100;
  RetrainTrigger t(c);
  EXPECT_EQ(t.Check(kT0, 0, 0, 0, false), "");
  EXPECT_EQ(t.Check(kT0 + 9 * kDay, 999, 0, 0, false), "");
  EXPECT_EQ(t.Check(kT0 + 10 * kDay, 999, 0, 0, false).rfind("interval: 10 days of event time since the first event", 0), 0u);
  t.OnTrainingStarted(kT0 + 10 * kDay, 999);
  // The count fires only after the minimum gap.
  EXPECT_EQ(t.Check(kT0 + 11 * kDay, 5000, 0, 0, false), "");
  EXPECT_EQ(t.Check(kT0 + 12 * kDay, 5000, 0, 0, false).rfind("event count: 4001 events", 0), 0u);
  t.OnTrainingStarted(kT0 + 12 * kDay, 5000);
  EXPECT_EQ(t.Check(kT0 + 12 * kDay, 5000, 0, 0, true), "on demand");  // no gap for an operator
  // Drift: the level is taken once 100 positives were scored after the swap.
  t.OnSwap(500);
  EXPECT_LT(t.drift_level(), 0);
  EXPECT_EQ(t.Check(kT0 + 15 * kDay, 5100, 0.30, 599, false), "");
  EXPECT_LT(t.drift_level(), 0);
  EXPECT_EQ(t.Check(kT0 + 15 * kDay, 5100, 0.30, 600, false), "");
  EXPECT_DOUBLE_EQ(t.drift_level(), 0.30);
  EXPECT_EQ(t.Check(kT0 + 16 * kDay, 5200, 0.25, 700, false), "");  // 0.25 >= 0.8 x 0.30
  EXPECT_EQ(t.Check(kT0 + 16 * kDay, 5200, 0.23, 700, false).rfind("drift: window HR@10 0.23", 0), 0u);
}

TEST(RetrainWindow, DecayWindowAndSeasonalRecallSelectWhatTheySay) {
  RetrainConfig c;
  c.half_life_days = 30;
  c.window_days = 90;
  c.seasonal_weight = 1.0;  // recall keeps every interaction it covers: exact bounds
  c.seasonal_before_days = 14;
  c.seasonal_after_days = 42;
  const EpochMillis now = kT0 + 800 * kDay;
  std::vector<TimedInteraction> all;
  for (uint32_t u = 0; u < 4000; ++u) {
    all.push_back({u, 1, now});                   // today: always kept
    all.push_back({u, 2, now - 30 * kDay});       // one half-life: about half
    all.push_back({u, 3, now - 91 * kDay});       // beyond the window
    all.push_back({u, 4, now - 365 * kDay - 10 * kDay});  // 10 days before today's date last year: recalled
    all.push_back({u, 5, now - 365 * kDay + 40 * kDay});  // 40 days after it: recalled
    all.push_back({u, 6, now - 365 * kDay + 50 * kDay});  // 50 days after: too far ahead
    all.push_back({u, 7, now - 2 * 365 * kDay - 20 * kDay});  // 20 days before, two years ago: too far behind
    all.push_back({u, 8, now - 2 * 365 * kDay + 5 * kDay});   // two years ago, within: recalled
  }
  WindowStats stats;
  const auto kept = SelectTrainingInteractions(all, now, c, 7, &stats);
  std::map<uint32_t, size_t> by_item;
  for (const auto& x : kept) ++by_item[x.item];
  EXPECT_EQ(by_item[1], 4000u);
  EXPECT_NEAR(static_cast<double>(by_item[2]) / 4000, 0.5, 0.03);
  EXPECT_EQ(by_item[3], 0u);
  EXPECT_EQ(by_item[4], 4000u);
  EXPECT_EQ(by_item[5], 4000u);
  EXPECT_EQ(by_item[6], 0u);
  EXPECT_EQ(by_item[7], 0u);
  EXPECT_EQ(by_item[8], 4000u);
  EXPECT_EQ(stats.seasonal, 3 * 4000u);
  EXPECT_EQ(stats.recent + stats.seasonal, kept.size());
  EXPECT_EQ(stats.recent + stats.seasonal + stats.dropped, all.size());
  // The same inputs select the same interactions.
  const auto again = SelectTrainingInteractions(all, now, c, 7);
  ASSERT_EQ(again.size(), kept.size());
  for (size_t k = 0; k < kept.size(); ++k) EXPECT_EQ(again[k].ts, kept[k].ts);
  // No recall: last year's interactions are dropped.
  c.seasonal_weight = 0;
  for (const auto& x : SelectTrainingInteractions(all, now, c, 7)) EXPECT_LE(x.item, 2u);
}

// Planted communities with category metadata; users of community c use c's
// items an hour apart.
TrainingSet PlantedSet(uint32_t users) {
  TrainingSetBuilder b;
  for (uint32_t i = 0; i < 40; ++i) {
    b.Add(ItemEvent("item" + std::to_string(i), kT0, {{"category", Text("cat" + std::to_string(i % 4))}}));
  }
  std::mt19937 rng(5);
  EpochMillis ts = kT0;
  for (uint32_t u = 0; u < users; ++u) {
    for (int k = 0; k < 6; ++k) {
      b.Add(Interaction(EventType::kClick, "user" + std::to_string(u), "item" + std::to_string(u % 4 + 4 * (rng() % 10)), ts));
      ts += 3'600'000;
    }
  }
  return std::move(b).Finish();
}

RetrainConfig SmallRetrain() {
  RetrainConfig c;
  c.half_life_days = 0;  // keep everything: the planted set spans days
  c.window_days = 3650;
  c.seasonal_weight = 0;
  c.validation_fraction = 0.3;
  c.recipe = recd::testing::SmallRecipe();
  c.recipe.training.epochs = 6;
  c.recipe.training.patience = TrainingConfig().patience;
  return c;
}

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

TEST(RetrainOnce, PromotesTheFirstKeepsALoserOnDiskAndPrunes) {
  recd::testing::TempDir dir("recd-retrain-");
  const std::string root = dir.sub("models");
  const TrainingSet set = PlantedSet(160);
  RetrainConfig config = SmallRetrain();
  RetrainRequest request;
  request.model_root = root;
  request.device = "cpu";
  request.now = set.interactions.back().ts;
  request.trigger = "test";

  // No active model: promoted whatever it scores.
  auto first = RetrainOnce(set, request, config);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->promoted);
  EXPECT_EQ(first->version, "v0001");
  EXPECT_EQ(first->active_hr, -1);
  EXPECT_EQ(LatestVersion(root), "v0001");
  EXPECT_GT(first->candidate_hr, 0.3) << "planted communities are easy";
  const auto lineage = ReadJson(root + "/v0001/model.json").at("lineage");
  EXPECT_EQ(lineage.at("parent"), "");
  EXPECT_EQ(lineage.at("trigger"), "test");
  EXPECT_EQ(lineage.at("interactions").at("recent"), set.interactions.size());
  EXPECT_GT(lineage.at("pairs").at("promotion").get<size_t>(), 0u);
  EXPECT_EQ(ReadJson(root + "/v0001/decision.json").at("promoted"), true);

  // An impossible margin: the candidate is trained, compared, kept, not promoted.
  request.active_version = "v0001";
  config.promote_margin = 10;
  auto second = RetrainOnce(set, request, config);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_FALSE(second->promoted);
  EXPECT_GE(second->active_hr, 0);
  EXPECT_NE(second->decision.find("kept on disk, not promoted"), std::string::npos) << second->decision;
  EXPECT_EQ(LatestVersion(root), "v0001");
  EXPECT_EQ(ReadJson(root + "/v0002/model.json").at("lineage").at("parent"), "v0001");
  EXPECT_EQ(ReadJson(root + "/v0002/model.json").at("lineage").at("warm_start"), true);

  // A margin it can meet (ties promote): the warm-started candidate wins.
  config.promote_margin = -0.5;
  config.keep_versions = 2;
  auto third = RetrainOnce(set, request, config);
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_TRUE(third->promoted) << third->decision;
  EXPECT_EQ(LatestVersion(root), "v0003");
  // Two kept: the new active one and the one it replaced; v0002 went.
  auto versions = ListVersions(root);
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 2u);
  EXPECT_EQ((*versions)[0].version, "v0001");
  EXPECT_EQ((*versions)[1].version, "v0003");
  EXPECT_TRUE((*versions)[1].active);
  EXPECT_TRUE((*versions)[1].promoted);
  EXPECT_EQ((*versions)[1].parent, "v0001");
  EXPECT_FALSE(std::filesystem::exists(root + "/v0002"));
}

TEST(RetrainOnce, TooFewInteractionsIsAClearError) {
  recd::testing::TempDir dir("recd-retrain-");
  const TrainingSet set = PlantedSet(1);
  RetrainConfig config = SmallRetrain();
  config.window_days = 0.001;
  RetrainRequest request;
  request.model_root = dir.sub("models");
  request.device = "cpu";
  request.now = set.interactions.back().ts + 30 * kDay;
  auto out = RetrainOnce(set, request, config);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("no training pairs in the window"), std::string::npos);
}

TEST(Registry, ChecksActivatesAndRefusesIncompleteVersions) {
  recd::testing::TempDir dir("recd-registry-");
  const std::string root = dir.sub("models");
  const TrainingSet set = PlantedSet(40);
  RetrainConfig config = SmallRetrain();
  config.recipe.training.epochs = 1;
  auto trained = TrainPinSage(set, config.recipe);
  ASSERT_TRUE(trained.ok());
  ASSERT_TRUE(WriteModelVersion(root, *trained, "test").ok());
  ASSERT_TRUE(WriteModelVersion(root, *trained, "test", /*make_latest=*/false).ok());
  EXPECT_EQ(LatestVersion(root), "v0001");
  EXPECT_TRUE(ActivateVersion(root, "v0002").ok());
  EXPECT_EQ(LatestVersion(root), "v0002");
  EXPECT_TRUE(ActivateVersion(root, "v0001").ok());  // rollback
  EXPECT_EQ(LatestVersion(root), "v0001");

  Status bad = ActivateVersion(root, "../etc");
  EXPECT_EQ(bad.code(), Status::Code::kInvalidArgument);
  Status missing = ActivateVersion(root, "v0007");
  EXPECT_EQ(missing.code(), Status::Code::kNotFound);
  std::filesystem::remove(root + "/v0002/model.pt");
  Status incomplete = ActivateVersion(root, "v0002");
  EXPECT_EQ(incomplete.code(), Status::Code::kNotFound);
  EXPECT_NE(incomplete.message().find("model.pt is missing"), std::string::npos) << incomplete.message();
  EXPECT_EQ(LatestVersion(root), "v0001");
  auto versions = ListVersions(root);
  ASSERT_TRUE(versions.ok());
  ASSERT_EQ(versions->size(), 1u);  // an incomplete version is not listed

  // What killed writers leave: removed; a live writer's temporary directory stays.
  // Our own pid with another incarnation and an old write time is an earlier
  // life of this pid (pid 1 in a restarted container): its writer is gone too.
  std::string suffix = UniqueSuffix();  // <pid>-<incarnation>-<serial>
  const size_t dash = suffix.find('-');
  std::string other = suffix;
  other[dash + 1] = other[dash + 1] == 'a' ? 'b' : 'a';
  const std::string dead = root + "/.tmp-v0003-999999999", alive = root + "/.tmp-v0004-" + suffix;
  const std::string earlier = root + "/.tmp-v0005-" + other;
  for (const std::string& d : {dead, alive, earlier, root + "/.removing-v0002"}) {
    std::filesystem::create_directories(d + "/x");
  }
  // Fresh, it may be another container's pid 1 writing to a shared volume now: it stays.
  EXPECT_EQ(RemoveAbandoned(root), (std::vector<std::string>{".removing-v0002", ".tmp-v0003-999999999"}));
  EXPECT_TRUE(std::filesystem::exists(earlier));
  std::filesystem::last_write_time(earlier, std::filesystem::file_time_type::clock::now() - std::chrono::minutes(11));
  EXPECT_EQ(RemoveAbandoned(root), (std::vector<std::string>{".tmp-v0005-" + other}));
  EXPECT_TRUE(std::filesystem::exists(alive));
  EXPECT_FALSE(std::filesystem::exists(dead));
  EXPECT_FALSE(std::filesystem::exists(earlier));
  EXPECT_NE(VersionsJson(*versions).find("\"version\": \"v0001\""), std::string::npos);
}

}  // namespace
}  // namespace recd::model
