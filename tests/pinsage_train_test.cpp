// PinSage training: it learns planted communities, follows its curriculum, stops
// early and writes checkpoints, and refuses data it cannot learn from.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <random>

#include "model/pinsage_train.h"
#include "model/trained_model.h"
#include "tests/test_util.h"

namespace recd::model {
namespace {

constexpr uint32_t kCommunities = 4, kItemsPer = 10, kUsersPer = 25;

// Users of community c interact only with c's items (item i is in community
// i % kCommunities), six items each, an hour apart.
TrainingSet PlantedCommunities(uint64_t seed) {
  TrainingSetBuilder b;
  for (uint32_t i = 0; i < kCommunities * kItemsPer; ++i) b.Item("item" + std::to_string(i));
  std::mt19937 rng(static_cast<uint32_t>(seed));
  EpochMillis ts = 1'700'000'000'000;
  for (uint32_t u = 0; u < kCommunities * kUsersPer; ++u) {
    const uint32_t c = u % kCommunities;
    for (int k = 0; k < 6; ++k) {
      const uint32_t item = c + kCommunities * (rng() % kItemsPer);
      b.Add(recd::testing::Interaction(EventType::kClick, "user" + std::to_string(u), "item" + std::to_string(item), ts));
      ts += 3'600'000;
    }
  }
  return std::move(b).Finish();
}

struct Planted {
  TrainingSet set;
  SamplerConfig sampler;
  PinSageConfig model;
  NodeFeatures features;
  PositivePairs pairs;
};

Planted Make(double validation_fraction) {
  Planted s;
  s.set = PlantedCommunities(3);
  s.sampler.layers = 2;
  s.sampler.top_t = 5;
  s.sampler.walks_per_node = 50;
  s.model.id_buckets = 1024;  // ids only: the communities must come from the graph
  s.model.hidden_dim = 32;
  s.model.output_dim = 16;
  s.features = EncodeFeatures(s.set, {}, s.model.id_buckets, s.model.attribute_buckets, 0);
  PairConfig pc;
  pc.validation_fraction = validation_fraction;
  s.pairs = MakePositivePairs(s.set.interactions, pc);
  return s;
}

// Share of items whose nearest other item (inner product) is in their community.
double CommunityHitRateAt1(const std::vector<float>& e, size_t dim) {
  const size_t n = e.size() / dim;
  size_t hits = 0;
  for (size_t i = 0; i < n; ++i) {
    float best = -2;
    size_t arg = i;
    for (size_t j = 0; j < n; ++j) {
      if (j == i) continue;
      float dot = 0;
      for (size_t d = 0; d < dim; ++d) dot += e[i * dim + d] * e[j * dim + d];
      if (dot > best) best = dot, arg = j;
    }
    hits += arg % kCommunities == i % kCommunities;
  }
  return static_cast<double>(hits) / static_cast<double>(n);
}

// Small batches for a 40-item catalogue; hard negatives from ranks 5-30.
TrainingConfig SmallBatches() {
  TrainingConfig tc;
  tc.batch_size = 64;
  tc.random_negatives = 32;
  tc.hard_rank_begin = 5;
  tc.hard_rank_end = 30;
  return tc;
}

TEST(PinSageTrain, OverfitsPlantedCommunitiesToHitRateAtOne) {
  Planted s = Make(/*validation_fraction=*/0.0);
  const Sampler sampler(s.set.graph, s.sampler);
  auto model = PinSage::Create(s.model, "cpu");
  ASSERT_TRUE(model.ok());
  TrainingConfig tc = SmallBatches();
  tc.epochs = 30;
  tc.max_hard_negatives = 0;  // every item ranked in a PPR band here is a community mate
  tc.learning_rate = 1e-2f;
  tc.margin = 0.3f;
  tc.producer_threads = 2;
  const auto untrained = *(*model)->EmbedAll(sampler, s.features);
  auto report = Train(**model, sampler, s.features, s.pairs, tc);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(report->epochs.size(), 30u);
  // A quarter of the uniform negatives are community mates of the query, which no
  // model can push away from it, so the loss cannot fall below margin / 4 = 0.075:
  // training must get there.
  EXPECT_GT(report->epochs.front().loss, 0.1);
  EXPECT_LT(report->epochs.back().loss, 0.08);
  const auto trained = *(*model)->EmbedAll(sampler, s.features);
  EXPECT_EQ(report->embeddings, trained);  // without validation pairs: embedded after the last epoch
  EXPECT_EQ(CommunityHitRateAt1(trained, 16), 1.0);
  EXPECT_LT(CommunityHitRateAt1(untrained, 16), 1.0);  // the test could fail: training did it
  // The pairs' own HR@10 (10 of the 39 other items are the positive's community mates).
  EXPECT_GT(PairHitRate(trained, 16, s.pairs.train), 0.9);
}

TEST(PinSageTrain, CurriculumEarlyStoppingAndCheckpoints) {
  Planted s = Make(/*validation_fraction=*/0.2);
  const Sampler sampler(s.set.graph, s.sampler);
  auto model = PinSage::Create(s.model, "cpu");
  ASSERT_TRUE(model.ok());
  recd::testing::TempDir dir("recd-train-");
  TrainingConfig tc = SmallBatches();
  tc.epochs = 40;
  tc.max_hard_negatives = 2;
  tc.patience = 2;
  tc.checkpoint_dir = dir.path();
  std::vector<uint32_t> seen;
  auto report = Train(**model, sampler, s.features, s.pairs, tc, [&](const EpochReport& e) { seen.push_back(e.epoch); });
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  ASSERT_EQ(seen.size(), report->epochs.size());
  for (size_t e = 0; e < report->epochs.size(); ++e) {
    EXPECT_EQ(report->epochs[e].hard_negatives, std::min<uint32_t>(static_cast<uint32_t>(e), 2)) << "epoch " << e + 1;
    EXPECT_EQ(report->epochs[e].pairs, s.pairs.train.size());
  }
  // Validation HR@10 saturates on this graph, so patience must end training early,
  // exactly `patience` epochs after the best one.
  ASSERT_TRUE(report->stopped_early);
  EXPECT_EQ(report->epochs.size(), report->best_epoch + tc.patience);
  struct stat st;
  EXPECT_EQ(stat((dir.path() + "/last.pt").c_str(), &st), 0);
  EXPECT_EQ(stat((dir.path() + "/best.pt").c_str(), &st), 0);
  // The model ends on the best epoch's weights: best.pt reproduces its embeddings.
  auto reloaded = PinSage::Create(s.model, "cpu");
  ASSERT_TRUE((*reloaded)->Load(dir.path() + "/best.pt").ok());
  const auto final_embeddings = *(*model)->EmbedAll(sampler, s.features);
  EXPECT_EQ(final_embeddings, *(*reloaded)->EmbedAll(sampler, s.features));
  // The report's embeddings are the ones the final weights give.
  EXPECT_EQ(report->embeddings, final_embeddings);
}

TEST(PinSageTrain, SameSeedSameModel) {
  Planted s = Make(0.2);
  const Sampler sampler(s.set.graph, s.sampler);
  TrainingConfig tc = SmallBatches();
  tc.epochs = 2;
  tc.max_hard_negatives = 1;
  std::vector<std::vector<float>> runs;
  for (uint32_t producers : {1u, 3u}) {
    tc.producer_threads = producers;  // batch contents never depend on the thread count
    auto model = PinSage::Create(s.model, "cpu");
    ASSERT_TRUE(Train(**model, sampler, s.features, s.pairs, tc).ok());
    runs.push_back(*(*model)->EmbedAll(sampler, s.features));
  }
  ASSERT_EQ(runs[0].size(), runs[1].size());
  for (size_t k = 0; k < runs[0].size(); ++k) ASSERT_NEAR(runs[0][k], runs[1][k], 1e-5) << k;
}

TEST(PinSageTrain, RefusesDataWithoutPairs) {
  Planted s = Make(0.0);
  const Sampler sampler(s.set.graph, s.sampler);
  auto model = PinSage::Create(s.model, "cpu");
  auto report = Train(**model, sampler, s.features, PositivePairs{}, TrainingConfig{});
  ASSERT_FALSE(report.ok());
  EXPECT_NE(report.status().message().find("no positive training pairs"), std::string::npos);
}

TEST(TrainedModel, VersionsRoundTripWithTheirAnnIndex) {
  const TrainingSet set = PlantedCommunities(3);
  PinSageRecipe recipe;
  recipe.device = "cpu";
  recipe.model.id_buckets = 1024;
  recipe.model.hidden_dim = 32;
  recipe.model.output_dim = 16;
  recipe.sampler.top_t = 5;
  recipe.sampler.walks_per_node = 50;
  recipe.pairs.validation_fraction = 0.2;
  recipe.training = SmallBatches();
  recipe.training.epochs = 20;
  recipe.training.learning_rate = 1e-2f;
  recipe.training.margin = 0.3f;
  auto trained = TrainPinSage(set, recipe);
  ASSERT_TRUE(trained.ok()) << trained.status().ToString();
  recd::testing::TempDir dir("recd-models-");
  const std::string root = dir.path() + "/models";
  auto first = WriteModelVersion(root, *trained, "test");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, root + "/v0001");
  auto second = WriteModelVersion(root, *trained, "test");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(trained->version, "v0002");

  auto loaded = LoadModel(root, "cpu");  // the root: follows LATEST
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->version, "v0002");
  EXPECT_EQ(loaded->item_ids, set.item_ids);
  EXPECT_EQ(loaded->embeddings, trained->embeddings);
  EXPECT_EQ(loaded->recipe.model.output_dim, 16);
  EXPECT_EQ(loaded->recipe.sampler.top_t, 5u);
  // The loaded network re-embeds the catalogue to the stored embeddings.
  const Sampler sampler(set.graph, loaded->recipe.sampler);
  const NodeFeatures features = EncodeFeatures(set, loaded->attribute_fields, loaded->recipe.model.id_buckets,
                                               loaded->recipe.model.attribute_buckets, 0);
  EXPECT_EQ(*loaded->net->EmbedAll(sampler, features), loaded->embeddings);
  // The ANN index came back with it: an item's nearest neighbours are its community mates.
  for (uint32_t item = 0; item < kCommunities; ++item) {
    const std::vector<float> query(loaded->embeddings.begin() + item * 16, loaded->embeddings.begin() + (item + 1) * 16);
    auto hits = loaded->ann->Search(query, 4);
    ASSERT_TRUE(hits.ok());
    ASSERT_EQ(hits->size(), 4u);
    for (const auto& [id, score] : *hits) EXPECT_EQ(id.value % kCommunities, item % kCommunities) << "item " << item;
  }
  auto missing = LoadModel(dir.path() + "/nowhere", "cpu");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("no model.json or LATEST"), std::string::npos);
}

}  // namespace
}  // namespace recd::model
