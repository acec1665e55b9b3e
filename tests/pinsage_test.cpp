// The PinSage network: shapes, gradients, save/load, and CPU/CUDA agreement (gpu).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "model/pinsage_impl.h"
#include "tests/test_util.h"

namespace recd::model {
namespace {

struct Fixture {
  store::GraphView view;
  ComputationGraph graph;
  NodeFeatures features;
  PinSageConfig config;
};

// A random 300-item graph, a 2-layer computation graph for 32 seeds, and features
// with two attribute fields and a 12-wide content vector.
Fixture Make() {
  Fixture f;
  std::mt19937 rng(5);
  for (int k = 0; k < 6000; ++k) f.view.AddInteraction(UserId(rng() % 400), ItemId(rng() % 300), (rng() % 100) / 50.0);
  SamplerConfig sc;
  sc.layers = 2;
  sc.top_t = 5;
  sc.walks_per_node = 50;
  std::vector<ItemId> seeds;
  for (uint32_t i = 0; i < 32; ++i) seeds.emplace_back(i * 7);
  f.graph = Sampler(f.view, sc).BuildComputationGraph(seeds);
  f.config.attribute_fields = 2;
  f.config.content_dim = 12;
  f.config.hidden_dim = 32;
  f.config.output_dim = 16;
  f.config.id_buckets = 4096;
  f.config.layers = 2;
  for (const ItemId& n : f.graph.blocks.front().nodes) {
    f.features.id_bucket.push_back(HashBucket("i" + std::to_string(n.value), f.config.id_buckets));
    f.features.attributes.push_back(HashBucket("colour" + std::to_string(n.value % 5), f.config.attribute_buckets));
    f.features.attributes.push_back(HashBucket("season" + std::to_string(n.value % 3), f.config.attribute_buckets));
    for (int d = 0; d < 12; ++d) f.features.content.push_back(std::sin(n.value * 0.1f + d));
  }
  return f;
}

TEST(PinSage, EmbedsEverySeedAsAUnitVector) {
  Fixture f = Make();
  auto model = PinSage::Create(f.config, "cpu");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto emb = (*model)->Embed(f.graph, f.features);
  ASSERT_TRUE(emb.ok()) << emb.status().ToString();
  ASSERT_EQ(emb->size(), 32u * 16u);
  for (size_t r = 0; r < 32; ++r) {
    double norm = 0;
    for (size_t d = 0; d < 16; ++d) norm += (*emb)[r * 16 + d] * (*emb)[r * 16 + d];
    EXPECT_NEAR(norm, 1.0, 1e-4);
  }
  NodeFeatures wrong = f.features;
  wrong.content.pop_back();
  auto bad = (*model)->Embed(f.graph, wrong);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("do not match"), std::string::npos);
}

TEST(PinSage, GradientsReachEveryParameter) {
  Fixture f = Make();
  auto model = PinSage::Create(f.config, "cpu");
  ASSERT_TRUE(model.ok());
  auto& impl = (*model)->impl();
  impl.net->train();
  const auto batch = impl.ToTensors(f.graph, f.features);
  const auto out = impl.Forward(batch);
  const auto target = torch::randn_like(out);
  (out * target).sum().backward();
  size_t checked = 0;
  for (const auto& p : impl.net->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<float>(), 0.0f) << p.key() << " receives no gradient";
    ++checked;
  }
  // id, 2 attribute tables, content projection (w, b), input (w, b), 2 convs x (q, w) x (w, b), output (w, b)
  EXPECT_EQ(checked, 1u + 2u + 2u + 2u + 8u + 2u);
}

TEST(PinSage, SaveThenLoadGivesIdenticalEmbeddings) {
  Fixture f = Make();
  auto a = PinSage::Create(f.config, "cpu");
  ASSERT_TRUE(a.ok());
  testing::TempDir dir;
  ASSERT_TRUE((*a)->Save(dir.sub("model.pt")).ok());
  PinSageConfig other = f.config;
  other.seed = 99;  // different initial weights until loaded
  auto b = PinSage::Create(other, "cpu");
  ASSERT_TRUE(b.ok());
  EXPECT_NE(*(*a)->Embed(f.graph, f.features), *(*b)->Embed(f.graph, f.features));
  ASSERT_TRUE((*b)->Load(dir.sub("model.pt")).ok());
  EXPECT_EQ(*(*a)->Embed(f.graph, f.features), *(*b)->Embed(f.graph, f.features));
  const Status missing = (*b)->Load(dir.sub("nope.pt"));
  EXPECT_EQ(missing.code(), Status::Code::kIoError);
}

// Features of every item 0..n-1, built the way Make() builds them per node.
NodeFeatures AllItems(size_t n, const PinSageConfig& c) {
  NodeFeatures f;
  for (uint32_t i = 0; i < n; ++i) {
    f.id_bucket.push_back(HashBucket("i" + std::to_string(i), c.id_buckets));
    f.attributes.push_back(HashBucket("colour" + std::to_string(i % 5), c.attribute_buckets));
    f.attributes.push_back(HashBucket("season" + std::to_string(i % 3), c.attribute_buckets));
    for (int d = 0; d < 12; ++d) f.content.push_back(std::sin(i * 0.1f + d));
  }
  return f;
}

TEST(PinSage, LayerWiseInferenceMatchesMiniBatches) {
  // Neighbourhoods are deterministic per item, so embedding the whole catalogue
  // layer by layer must give the mini-batch embeddings of the seeds.
  Fixture f = Make();
  auto model = PinSage::Create(f.config, "cpu");
  ASSERT_TRUE(model.ok());
  SamplerConfig sc;
  sc.layers = 2;
  sc.top_t = 5;
  sc.walks_per_node = 50;
  const Sampler sampler(f.view, sc);
  auto all = (*model)->EmbedAll(sampler, AllItems(300, f.config), /*chunk=*/64);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  ASSERT_EQ(all->size(), 300u * 16u);
  const auto batch = *(*model)->Embed(f.graph, f.features);
  for (size_t s = 0; s < 32; ++s) {
    const size_t item = s * 7;
    for (size_t d = 0; d < 16; ++d) ASSERT_NEAR((*all)[item * 16 + d], batch[s * 16 + d], 1e-5) << "seed " << s;
  }
}

TEST(PinSage, RejectsAnUnavailableDevice) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "a CUDA device is present";
  auto m = PinSage::Create(PinSageConfig{}, "cuda:0");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("no CUDA device"), std::string::npos) << m.status().message();
}

TEST(PinSageGpu, CpuAndCudaEmbeddingsAgree) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  Fixture f = Make();
  auto cpu = PinSage::Create(f.config, "cpu");
  auto gpu = PinSage::Create(f.config, "cuda");
  ASSERT_TRUE(cpu.ok() && gpu.ok());
  testing::TempDir dir;
  ASSERT_TRUE((*cpu)->Save(dir.sub("m.pt")).ok());
  ASSERT_TRUE((*gpu)->Load(dir.sub("m.pt")).ok());
  const auto a = *(*cpu)->Embed(f.graph, f.features);
  const auto b = *(*gpu)->Embed(f.graph, f.features);
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) EXPECT_NEAR(a[k], b[k], 1e-4) << k;
}

}  // namespace
}  // namespace recd::model
