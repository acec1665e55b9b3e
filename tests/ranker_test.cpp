// The learnt ranker (model/rank/): the features on a hand-built history with
// exact values, the model learning a planted rule, the registry refusing
// corrupt and foreign versions, the trainer's promotion rule, and the blend
// falling back to the hand order when no model serves.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>

#include <unistd.h>

#include "base/durable_file.h"
#include "model/rank/list_blend.h"
#include "model/rank/ranker_registry.h"
#include "model/rank/ranker_trainer.h"
#include "store/decay.h"
#include "tests/store_fixture.h"

namespace recd::rank {
namespace {

using recd::testing::Interaction;
using recd::testing::ItemEvent;
using recd::testing::Text;

constexpr EpochMillis kT0 = 1769860800000, kHour = 3'600'000, kDay = 24 * kHour;

size_t Feature(const std::string& name) {
  for (size_t f = 0; f < kNumFeatures; ++f) {
    if (name == kFeatureNames[f]) return f;
  }
  ADD_FAILURE() << "no feature " << name;
  return 0;
}

class FeaturesTest : public recd::testing::StoreFixture {
 protected:
  // Applies `events` and feeds their attributes to attributes_ and their committed edges to `features`.
  void Feed(const std::vector<Event>& events, FeatureBuilder* features) {
    auto outcome = store_->Apply(events, {}, 0);
    ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
    for (ItemId i : outcome->described_items) {
      auto attrs = store_->GetAttributes(EventType::kItem, store_->ExternalId(i));
      ASSERT_TRUE(attrs.ok());
      attributes_.Set(i, *attrs);
    }
    for (const store::EdgeDelta& d : outcome->edges) features->Observe(d.user, d.item, d.ts, d.types);
  }
  ItemAttributes attributes_;
};

TEST_F(FeaturesTest, ExactValuesOnAHandBuiltHistory) {
  FeatureConfig config;
  config.history = 20;
  config.session_gap_s = 1800;
  FeatureBuilder features(*store_, attributes_, config);
  // u0 views a twice and b, then (3 h later: a new session) buys c; u1 views a.
  Feed({ItemEvent("a", kT0, {{"colour", Text("red")}, {"category", Text("bags")}}),
        ItemEvent("b", kT0, {{"colour", Text("red")}, {"category", Text("shoes")}}),
        ItemEvent("c", kT0, {{"colour", Text("blue")}, {"category", Text("shoes")}}),
        ItemEvent("d", kT0, {{"colour", Text("red")}, {"category", Text("hats")}}),
        Interaction(EventType::kClick, "u0", "a", kT0), Interaction(EventType::kClick, "u0", "a", kT0 + kHour),
        Interaction(EventType::kClick, "u0", "b", kT0 + 2 * kHour), Interaction(EventType::kClick, "u1", "a", kT0 + 3 * kHour),
        Interaction(EventType::kPurchase, "u0", "c", kT0 + 5 * kHour)},
       &features);
  const UserId u0 = *store_->FindUser("u0");
  SlateEntry a, d;
  a.item = store_->FindItem("a")->value;
  a.blend = 0.7f;
  a.source_score[static_cast<size_t>(SourceSlot::kRanker)] = 0.5f;
  a.source_rank[static_cast<size_t>(SourceSlot::kRanker)] = 1;
  a.source_score[static_cast<size_t>(SourceSlot::kViewed)] = 0.25f;
  a.source_rank[static_cast<size_t>(SourceSlot::kViewed)] = 2;
  d.item = store_->FindItem("d")->value;
  d.blend = 0.1f;
  d.source_score[static_cast<size_t>(SourceSlot::kSequence)] = 2.0f;
  d.source_rank[static_cast<size_t>(SourceSlot::kSequence)] = 1;
  const EpochMillis now = kT0 + 6 * kHour;
  std::vector<float> rows;
  features.Build(u0, now, {a, d}, &rows);
  ASSERT_EQ(rows.size(), 2 * kNumFeatures);
  const float* fa = rows.data();
  const float* fd = rows.data() + kNumFeatures;

  EXPECT_FLOAT_EQ(fa[Feature("score_ranker")], 0.5f);
  EXPECT_FLOAT_EQ(fa[Feature("rank_ranker")], 1);
  EXPECT_FLOAT_EQ(fa[Feature("score_viewed")], 0.25f);
  EXPECT_FLOAT_EQ(fa[Feature("rank_viewed")], 2);
  EXPECT_TRUE(std::isnan(fa[Feature("score_sequence")]));
  EXPECT_TRUE(std::isnan(fa[Feature("rank_covisit")]));
  EXPECT_FLOAT_EQ(fa[kBlendFeature], 0.7f);
  EXPECT_FLOAT_EQ(fa[Feature("blend_rank")], 1);
  EXPECT_FLOAT_EQ(fd[Feature("blend_rank")], 2);
  EXPECT_FLOAT_EQ(fa[Feature("sources")], 2);
  // a: interactions 6 h, 5 h and 3 h before now.
  auto decayed = [&](double half_life_hours, std::vector<double> ages_hours) {
    double sum = 0;
    for (double age : ages_hours) sum += std::exp2(-age / half_life_hours);
    return static_cast<float>(std::log2(1 + sum));
  };
  EXPECT_NEAR(fa[Feature("item_count_1d")], decayed(24, {6, 5, 3}), 1e-5);
  EXPECT_NEAR(fa[Feature("item_count_7d")], decayed(7 * 24, {6, 5, 3}), 1e-5);
  EXPECT_NEAR(fa[Feature("item_count_30d")], decayed(30 * 24, {6, 5, 3}), 1e-5);
  EXPECT_FLOAT_EQ(fa[Feature("item_purchases_7d")], 0);
  EXPECT_FLOAT_EQ(fa[Feature("item_age_days")], 0.25f);
  EXPECT_FLOAT_EQ(fa[Feature("user_clicked")], 1);
  EXPECT_FLOAT_EQ(fa[Feature("user_purchased")], 0);
  EXPECT_FLOAT_EQ(fa[Feature("user_rated")], 0);
  // The edge u0-a: two clicks of weight 1, 6 h and 5 h old, at the store's 14-day half-life.
  EXPECT_NEAR(fa[Feature("user_edge_weight")], decayed(14 * 24, {6, 5}), 1e-5);
  EXPECT_FLOAT_EQ(fa[Feature("user_recent_events")], 2);
  EXPECT_FLOAT_EQ(fa[Feature("user_hours_since_item")], 5);
  // u0's recent items a, b, c: red in a and b (2/3), bags in a (1/3).
  EXPECT_NEAR(fa[Feature("attribute_affinity_max")], 2.0 / 3, 1e-6);
  EXPECT_NEAR(fa[Feature("attribute_affinity_mean")], 0.5, 1e-6);
  EXPECT_FLOAT_EQ(fa[Feature("user_hours_since_last_event")], 1);
  // Now is 1 h after u0's last event: no session is open.
  EXPECT_FLOAT_EQ(fa[Feature("session_events")], 0);
  EXPECT_FLOAT_EQ(fa[Feature("session_items")], 0);
  // 10 minutes after it, the purchase (3 h after the last view) is a session of its own.
  std::vector<float> soon;
  features.Build(u0, kT0 + 5 * kHour + 10 * 60'000, {a}, &soon);
  EXPECT_FLOAT_EQ(soon[Feature("session_events")], 1);
  EXPECT_FLOAT_EQ(soon[Feature("session_items")], 1);

  // d: proposed by the sequence source only, never interacted with.
  EXPECT_FLOAT_EQ(fd[Feature("score_sequence")], 2);
  EXPECT_FLOAT_EQ(fd[Feature("rank_sequence")], 1);
  EXPECT_TRUE(std::isnan(fd[Feature("rank_ranker")]));
  EXPECT_FLOAT_EQ(fd[Feature("sources")], 1);
  EXPECT_FLOAT_EQ(fd[Feature("item_count_1d")], 0);
  EXPECT_TRUE(std::isnan(fd[Feature("item_age_days")]));
  EXPECT_FLOAT_EQ(fd[Feature("user_clicked")], 0);
  EXPECT_FLOAT_EQ(fd[Feature("user_edge_weight")], 0);
  EXPECT_FLOAT_EQ(fd[Feature("user_recent_events")], 0);
  EXPECT_TRUE(std::isnan(fd[Feature("user_hours_since_item")]));
  EXPECT_NEAR(fd[Feature("attribute_affinity_max")], 2.0 / 3, 1e-6);   // red
  EXPECT_NEAR(fd[Feature("attribute_affinity_mean")], 1.0 / 3, 1e-6);  // red 2/3, hats 0
  EXPECT_FLOAT_EQ(fd[Feature("session_events")], 0);

  // A user with no history: the per-user features are missing or zero.
  Feed({Interaction(EventType::kClick, "u2", "b", kT0 + 5 * kHour)}, &features);
  FeatureBuilder fresh(*store_, attributes_, config);
  rows.clear();
  fresh.Build(*store_->FindUser("u2"), now, {d}, &rows);
  EXPECT_TRUE(std::isnan(rows[Feature("user_hours_since_last_event")]));
  EXPECT_FLOAT_EQ(rows[Feature("session_events")], 0);
  EXPECT_TRUE(std::isnan(rows[Feature("attribute_affinity_max")]));
}

// Synthetic slates where the item taken is the one the user viewed exactly
// twice ("items viewed twice get bought"); every other feature is noise, and
// the blend's score (the hand order) knows nothing of it.
RankingData PlantedRule(size_t groups, uint32_t seed) {
  RankingData data;
  data.num_features = kNumFeatures;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> noise(0, 1);
  const size_t views = Feature("user_recent_events");
  for (size_t g = 0; g < groups; ++g) {
    const size_t size = 20 + rng() % 21, taken = rng() % size;
    for (size_t r = 0; r < size; ++r) {
      for (size_t f = 0; f < kNumFeatures; ++f) data.rows.push_back(noise(rng));
      const float other_views[] = {0, 1, 3, 4};
      data.rows[data.rows.size() - kNumFeatures + views] = r == taken ? 2 : other_views[rng() % 4];
      data.labels.push_back(r == taken ? 1.0f : 0.0f);
    }
    data.groups.push_back(static_cast<uint32_t>(size));
    data.weights.push_back(1.0f);
  }
  return data;
}

std::vector<float> Column(const RankingData& data, size_t feature) {
  std::vector<float> out;
  for (size_t r = 0; r < data.num_rows(); ++r) out.push_back(data.rows[r * kNumFeatures + feature]);
  return out;
}

TEST(RankingModelTest, LearnsAPlantedRuleAndRanksByIt) {
  const RankingData train = PlantedRule(400, 1), test = PlantedRule(300, 2);
  RankingParams params;
  params.rounds = 30;
  auto model = RankingModel::Train(train, params);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  std::vector<float> scores;
  ASSERT_TRUE((*model)->Predict(test.rows.data(), test.num_rows(), &scores).ok());
  // Top 1: the item viewed twice comes first in (nearly) every unseen slate.
  size_t first = 0, row = 0;
  for (uint32_t size : test.groups) {
    size_t best = row;
    for (size_t r = row; r < row + size; ++r) best = scores[r] > scores[best] ? r : best;
    first += test.labels[best] == 1.0f;
    row += size;
  }
  EXPECT_GE(static_cast<double>(first) / test.groups.size(), 0.97);
  EXPECT_GE(GroupHitRate(test, scores, 0, test.groups.size()), 0.99);
  // The hand order (the blend's score, noise here) finds it about 10 times in 30.
  EXPECT_LT(GroupHitRate(test, Column(test, kBlendFeature), 0, test.groups.size()), 0.5);

  // Saved and read back, it scores the same.
  auto bytes = (*model)->Serialize();
  ASSERT_TRUE(bytes.ok());
  auto again = RankingModel::Deserialize(*bytes, kNumFeatures);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  std::vector<float> rescored;
  ASSERT_TRUE((*again)->Predict(test.rows.data(), test.num_rows(), &rescored).ok());
  EXPECT_EQ(scores, rescored);
  EXPECT_FALSE(RankingModel::Deserialize(*bytes, kNumFeatures + 1).ok()) << "another feature count";
  EXPECT_FALSE(RankingModel::Deserialize("{\"not\": \"a model\"}", kNumFeatures).ok());
}

TEST(RankingModelTest, TrainingIsDeterministicAndRefusesDataWithoutLabels) {
  const RankingData data = PlantedRule(100, 3);
  RankingParams params;
  params.rounds = 10;
  auto a = RankingModel::Train(data, params), b = RankingModel::Train(data, params);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*(*a)->Serialize(), *(*b)->Serialize());
  RankingData unlabelled = data;
  std::fill(unlabelled.labels.begin(), unlabelled.labels.end(), 0.0f);
  EXPECT_FALSE(RankingModel::Train(unlabelled, params).ok());
  RankingData inconsistent = data;
  inconsistent.groups.back() += 1;
  EXPECT_FALSE(RankingModel::Train(inconsistent, params).ok());
}

std::shared_ptr<const RankingModel> PlantedModel() {
  RankingParams params;
  params.rounds = 10;
  auto model = RankingModel::Train(PlantedRule(200, 4), params);
  EXPECT_TRUE(model.ok());
  return *model;
}

TEST(RankerRegistryTest, VersionsAreWrittenListedActivatedAndCorruptOnesRefused) {
  testing::TempDir dir;
  const std::string root = dir.sub("rankers");
  const std::string model = *PlantedModel()->Serialize();
  RankerManifest manifest;
  manifest.parent = "blend";
  manifest.trigger = "test";
  manifest.candidate_hr = 0.9;
  auto v1 = WriteRankerVersion(root, model, manifest);
  auto v2 = WriteRankerVersion(root, model, manifest);
  ASSERT_TRUE(v1.ok() && v2.ok()) << v1.status().ToString();
  EXPECT_EQ(*v1, "r0001");
  EXPECT_EQ(*v2, "r0002");
  ASSERT_TRUE(LoadRankerVersion(root, "r0001").ok());
  ASSERT_TRUE(ActivateRankerVersion(root, "r0001").ok());
  auto listed = ListRankerVersions(root);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_TRUE(listed[0].active);
  EXPECT_FALSE(listed[1].active);
  EXPECT_EQ(listed[0].trigger, "test");
  const std::string json = RankerVersionsJson(listed);
  EXPECT_NE(json.find("\"kind\":\"ranker\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"candidate_hr@10\":0.9"), std::string::npos) << json;

  // One flipped byte in the model: the checksum refuses it, and LATEST stays.
  {
    std::fstream f(root + "/r0002/model.json", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('#');
  }
  auto corrupt = LoadRankerVersion(root, "r0002");
  ASSERT_FALSE(corrupt.ok());
  EXPECT_NE(corrupt.status().message().find("checksum"), std::string::npos) << corrupt.status().message();
  EXPECT_FALSE(ActivateRankerVersion(root, "r0002").ok());
  EXPECT_TRUE(ListRankerVersions(root)[0].active) << "r0001 still active";
  // A model trained on other features (a manifest naming others) is refused with the fix.
  auto v3 = WriteRankerVersion(root, model, manifest);
  ASSERT_TRUE(v3.ok());
  {
    std::ifstream in(root + "/r0003/ranker.json");
    std::string text((std::istreambuf_iterator<char>(in)), {});
    text.replace(text.find("\"sources\""), 9, "\"renamed\"");
    std::ofstream(root + "/r0003/ranker.json", std::ios::trunc) << text;
  }
  auto foreign = LoadRankerVersion(root, "r0003");
  ASSERT_FALSE(foreign.ok());
  EXPECT_NE(foreign.status().message().find("retrain"), std::string::npos) << foreign.status().message();
  EXPECT_FALSE(LoadRankerVersion(root, "r0009").ok());
  EXPECT_FALSE(LoadRankerVersion(root, "../x").ok());
  // Pruning keeps the newest and never the active one.
  const auto removed = PruneRankerVersions(root, 1);
  EXPECT_EQ(removed, (std::vector<std::string>{"r0002", "r0003"}));
  EXPECT_TRUE(LoadRankerVersion(root, "r0001").ok());
  // What killed writers leave: a half-written version of a dead process, a half-removed one, a
  // LATEST being replaced. Only a live writer's files stay.
  std::filesystem::create_directories(root + "/.tmp-r0005-2147483646");
  std::filesystem::create_directories(root + "/.removing-r0004");
  std::ofstream(root + "/LATEST.tmp-2147483646") << "r0002\n";
  const std::string live = root + "/.tmp-r0006-" + UniqueSuffix();
  std::filesystem::create_directories(live);
  auto cleared = RemoveAbandonedRankerFiles(root);
  std::sort(cleared.begin(), cleared.end());
  EXPECT_EQ(cleared, (std::vector<std::string>{".removing-r0004", ".tmp-r0005-2147483646", "LATEST.tmp-2147483646"}));
  EXPECT_TRUE(std::filesystem::exists(live));
  auto next = WriteRankerVersion(root, model, manifest);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, "r0002") << "the highest number left, plus one";
  EXPECT_TRUE(ListRankerVersions(root).front().active);
}

std::vector<std::shared_ptr<const SampleGroup>> Groups(const RankingData& data, EpochMillis t0) {
  std::vector<std::shared_ptr<const SampleGroup>> out;
  size_t row = 0;
  for (size_t g = 0; g < data.groups.size(); ++g) {
    auto group = std::make_shared<SampleGroup>();
    group->ts = t0 + static_cast<EpochMillis>(g) * kHour;
    group->rows.assign(data.rows.begin() + row * kNumFeatures, data.rows.begin() + (row + data.groups[g]) * kNumFeatures);
    for (size_t r = 0; r < data.groups[g]; ++r) {
      if (data.labels[row + r] == 1.0f) group->taken = static_cast<uint32_t>(r);
    }
    row += data.groups[g];
    out.push_back(std::move(group));
  }
  return out;
}

TEST(RankerTrainerTest, LabelledSlatesAreKeptWholeAndAFileThatIsNotIsRefused) {
  testing::TempDir dir;
  const std::string root = dir.sub("rankers");
  EXPECT_EQ(LoadRankerSamples(root).status().code(), Status::Code::kNotFound);
  auto groups = Groups(PlantedRule(40, 9), kT0);
  auto weighted = std::make_shared<SampleGroup>(*groups[3]);
  weighted->weight = 2.5f;
  weighted->rows[7] = std::numeric_limits<float>::quiet_NaN();  // "not proposed" survives
  groups[3] = weighted;
  ASSERT_TRUE(SaveRankerSamples(root, groups).ok());
  auto loaded = LoadRankerSamples(root);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  ASSERT_EQ(loaded->size(), groups.size());
  for (size_t g = 0; g < groups.size(); ++g) {
    EXPECT_EQ((*loaded)[g].ts, groups[g]->ts);
    EXPECT_EQ((*loaded)[g].taken, groups[g]->taken);
    EXPECT_EQ((*loaded)[g].weight, groups[g]->weight);
    ASSERT_EQ((*loaded)[g].rows.size(), groups[g]->rows.size());
    EXPECT_EQ(std::memcmp((*loaded)[g].rows.data(), groups[g]->rows.data(), groups[g]->rows.size() * sizeof(float)), 0);
  }
  EXPECT_FALSE(std::filesystem::exists(root + "/samples.bin.tmp-" + std::to_string(::getpid())));
  const std::string path = root + "/samples.bin";
  const auto size = std::filesystem::file_size(path);
  {  // one flipped byte in a row
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(size / 2));
    f.put('\x7f');
  }
  auto flipped = LoadRankerSamples(root);
  EXPECT_EQ(flipped.status().code(), Status::Code::kCorruption);
  EXPECT_NE(flipped.status().message().find("checksum"), std::string::npos) << flipped.status().ToString();
  ASSERT_TRUE(SaveRankerSamples(root, groups).ok());
  std::filesystem::resize_file(path, size - 100);  // torn
  EXPECT_EQ(LoadRankerSamples(root).status().code(), Status::Code::kCorruption);
  // A file of another feature layout (its width field changed, the checksum made to match) is refused by name.
  ASSERT_TRUE(SaveRankerSamples(root, groups).ok());
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  const uint32_t other = kNumFeatures - 1;
  std::memcpy(&bytes[8], &other, sizeof other);
  bytes.resize(bytes.size() - 8);
  const uint64_t sum = Fnv1a64(bytes);
  bytes.append(reinterpret_cast<const char*>(&sum), sizeof sum);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  auto foreign = LoadRankerSamples(root);
  EXPECT_EQ(foreign.status().code(), Status::Code::kCorruption);
  EXPECT_NE(foreign.status().message().find("feature layout"), std::string::npos) << foreign.status().ToString();
}

TEST(RankerTrainerTest, PromotesOverTheHandBlendThenOnlyByTheMargin) {
  testing::TempDir dir;
  RankerModelConfig config;
  config.dir = dir.sub("rankers");
  config.min_groups = 100;
  config.params.rounds = 20;
  RankerJob job;
  job.groups = Groups(PlantedRule(300, 6), kT0);
  job.trigger = "test";
  job.now = kT0 + 300 * kHour;
  auto first = TrainRanker(job, config);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->manifest.promoted) << first->manifest.decision;
  EXPECT_EQ(first->manifest.parent, "blend");
  EXPECT_GT(first->manifest.candidate_hr, 0.95);
  EXPECT_LT(first->manifest.active_hr, 0.6);
  EXPECT_EQ(first->manifest.validation_groups, 60u);
  EXPECT_EQ(ListRankerVersions(config.dir).back().version, "r0001");
  EXPECT_FALSE(ListRankerVersions(config.dir).back().active) << "LATEST is the pipeline's to write";
  ASSERT_TRUE(ActivateRankerVersion(config.dir, "r0001").ok());

  // Against an equally good active ranker (read from the registry) with a 5% margin: kept.
  job.active_version = "r0001";
  config.promote_margin = 0.05;
  auto second = TrainRanker(job, config);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->manifest.promoted) << second->manifest.decision;
  EXPECT_EQ(second->manifest.parent, "r0001");
  EXPECT_NE(second->manifest.decision.find("kept r0001"), std::string::npos) << second->manifest.decision;
  EXPECT_TRUE(ListRankerVersions(config.dir).front().active);

  // A pointwise objective (per-row weights) trains too.
  config.params.objective = "binary:logistic";
  auto pointwise = TrainRanker(job, config);
  ASSERT_TRUE(pointwise.ok()) << pointwise.status().ToString();
  EXPECT_GT(pointwise->manifest.candidate_hr, 0.95);

  // Too few slates: refused with what it needs.
  job.groups.resize(50);
  auto few = TrainRanker(job, config);
  ASSERT_FALSE(few.ok());
  EXPECT_NE(few.status().message().find("at least 100"), std::string::npos);

  // The buffer keeps the newest groups only.
  SampleBuffer buffer(3);
  for (int g = 0; g < 5; ++g) buffer.Add(SampleGroup{kT0 + g, {}, 0});
  EXPECT_EQ(buffer.size(), 3u);
  EXPECT_EQ(buffer.added(), 5u);
  EXPECT_EQ(buffer.Snapshot().front()->ts, kT0 + 2);
}

class LearntBlendTest : public recd::testing::StoreFixture {};

TEST_F(LearntBlendTest, TheModelOrdersTheSlateAndTheHandBlendIsTheFallback) {
  std::vector<Event> events;
  std::mt19937 rng(8);
  for (int n = 0; n < 300; ++n) {
    events.push_back(Interaction(rng() % 7 ? EventType::kClick : EventType::kPurchase, "u" + std::to_string(rng() % 10),
                                 "i" + std::to_string(rng() % 40), kT0 + n * kHour));
  }
  auto outcome = store_->Apply(events, {}, 0);
  ASSERT_TRUE(outcome.ok());
  model::BaselineRanker ranker(*store_, model::BaselineConfig{});
  ranker.RefreshTrending();
  BlendConfig config;
  config.max_seen_share = 1;
  ListBlender blender(*store_, ranker, config);
  blender.EnableFeatures(FeatureConfig{});
  for (const store::EdgeDelta& d : outcome->edges) blender.Observe(d);
  const UserId user = *store_->FindUser("u3");
  const RecommendationList hand = blender.Blend(user, ranker.Recommend(user, kT0));
  ASSERT_FALSE(hand.items.empty());
  EXPECT_EQ(hand.model_version.find("+ranker"), std::string::npos);

  const auto model = PlantedModel();
  blender.SetModel(model, "r0007");
  const RecommendationList learnt = blender.Blend(user, ranker.Recommend(user, kT0));
  EXPECT_EQ(learnt.model_version, hand.model_version + "+ranker-r0007");
  // Oracle: the slate scored by the model directly, best first, cut at k.
  const Slate slate = blender.Gather(user, ranker.Recommend(user, kT0));
  std::vector<float> rows, scores;
  blender.features()->Build(user, store_->LatestEventTime(), slate, &rows);
  ASSERT_TRUE(model->Predict(rows.data(), slate.size(), &scores).ok());
  std::vector<size_t> order(slate.size());
  for (size_t n = 0; n < order.size(); ++n) order[n] = n;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  ASSERT_EQ(learnt.items.size(), std::min<size_t>(slate.size(), learnt.k));
  for (size_t r = 0; r < learnt.items.size(); ++r) {
    EXPECT_EQ(learnt.items[r].item_id, slate[order[r]].item_id) << "place " << r;
    EXPECT_FLOAT_EQ(learnt.items[r].score, scores[order[r]]);
  }

  blender.SetModel(nullptr, "");
  const RecommendationList back = blender.Blend(user, ranker.Recommend(user, kT0));
  ASSERT_EQ(back.items.size(), hand.items.size());
  for (size_t r = 0; r < back.items.size(); ++r) EXPECT_EQ(back.items[r].item_id, hand.items[r].item_id);
  EXPECT_EQ(back.model_version, hand.model_version);
}

}  // namespace
}  // namespace recd::rank
