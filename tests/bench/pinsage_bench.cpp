// PinSage inference figures for the PinSage issue (LibTorch, so a binary of its own):
//   CPU inference >= 20k items/s at d = 64 on the 2-core machine;
//   H100 inference >= 1M items/s with sampling included (RECD_BENCH_DEVICE=cuda).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>

#include "model/pinsage.h"
#include "tests/bench/bench_util.h"

namespace recd {
namespace {

// The setting: T = 10 neighbours, 2 layers.
model::SamplerConfig BenchSampler() {
  model::SamplerConfig sc;
  sc.top_t = 10;
  sc.layers = 2;
  return sc;
}

// PinSage at d = 64 on the device named by RECD_BENCH_DEVICE (default cpu), or
// nullptr after marking the benchmark skipped.
std::unique_ptr<model::PinSage> BenchModel(benchmark::State& state) {
  model::PinSageConfig pc;
  pc.hidden_dim = 64;
  pc.output_dim = 64;
  pc.layers = 2;
  const char* device = std::getenv("RECD_BENCH_DEVICE");
  auto net = model::PinSage::Create(pc, device ? device : "cpu");
  if (!net.ok()) {
    state.SkipWithError(net.status().ToString().c_str());
    return nullptr;
  }
  return std::move(net.value());
}

// PinSage issue target: CPU inference >= 20k items/s at d = 64 (2 layers, T = 10),
// sampling included (arg 1) or the forward pass alone (arg 0). RECD_BENCH_DEVICE
// picks the device (default cpu); on a GPU host use "cuda".
void BM_PinSageInference(benchmark::State& state) {
  const bool with_sampling = state.range(0) != 0;
  const store::GraphView view = ViewOf(MakeEvents(300000, 20000, 5000, 7));
  const model::Sampler sampler(view, BenchSampler());
  const auto net = BenchModel(state);
  if (!net) return;
  const size_t batch = static_cast<size_t>(state.range(1));
  std::mt19937 rng(8);
  auto make_seeds = [&] {
    std::vector<ItemId> seeds;
    for (size_t k = 0; k < batch; ++k) seeds.emplace_back(static_cast<uint32_t>(rng() % 5000));
    return seeds;
  };
  auto features_of = [&](const model::ComputationGraph& g) {
    model::NodeFeatures f;
    for (const ItemId& n : g.blocks.front().nodes) f.id_bucket.push_back(static_cast<int64_t>(n.value) % net->config().id_buckets);
    return f;
  };
  model::ComputationGraph graph = sampler.BuildComputationGraph(make_seeds());
  model::NodeFeatures features = features_of(graph);
  for (auto _ : state) {
    if (with_sampling) {
      graph = sampler.BuildComputationGraph(make_seeds());
      features = features_of(graph);
    }
    auto emb = net->Embed(graph, features);
    if (!emb.ok()) state.SkipWithError(emb.status().ToString().c_str());
    benchmark::DoNotOptimize(emb);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
  state.SetLabel(net->device());
}
// The whole catalogue layer by layer (each neighbourhood sampled once), sampling
// included; args: items, random walks per item (the sampler's cost is linear in it).
void BM_PinSageEmbedAll(benchmark::State& state) {
  const uint32_t items = static_cast<uint32_t>(state.range(0));
  const store::GraphView view = ViewOf(MakeEvents(static_cast<size_t>(items) * 60, items * 4, items, 9));
  model::SamplerConfig sc = BenchSampler();
  sc.walks_per_node = static_cast<uint32_t>(state.range(1));
  const model::Sampler sampler(view, sc);
  const auto net = BenchModel(state);
  if (!net) return;
  model::NodeFeatures features;
  for (uint32_t i = 0; i < items; ++i) features.id_bucket.push_back(i % net->config().id_buckets);
  for (auto _ : state) {
    auto emb = net->EmbedAll(sampler, features);
    if (!emb.ok()) state.SkipWithError(emb.status().ToString().c_str());
    benchmark::DoNotOptimize(emb);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * items));
  state.SetLabel(net->device());
}
BENCHMARK(BM_PinSageEmbedAll)->Args({5000, 100})->Args({50000, 100})->Args({50000, 50})->Args({50000, 25})->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK(BM_PinSageInference)->Args({1, 1024})->Args({0, 1024})->Args({1, 8192})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace recd

BENCHMARK_MAIN();
