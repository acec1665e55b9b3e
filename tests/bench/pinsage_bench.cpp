// PinSage inference figures for the PinSage issue (LibTorch, so a binary of its own):
//   CPU inference >= 20k items/s at d = 64 on the 2-core machine;
//   H100 inference >= 1M items/s with sampling included (RECD_BENCH_DEVICE=cuda).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>

#include "base/temp_dir.h"
#include "model/pinsage.h"
#include "model/pinsage_ranker.h"
#include "model/refresher.h"
#include "model/trained_model.h"
#include "store/graph_store.h"
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

// A model version (untrained weights: the cost is the same) for `items` items at
// d = 64 with the default sampler (100 walks, T = 10), written under `root`.
void WriteBenchModel(const std::string& root, uint32_t items, const std::string& device) {
  model::TrainedModel m;
  m.recipe.model.hidden_dim = 64;
  m.recipe.model.output_dim = 64;
  m.recipe.sampler = BenchSampler();
  m.net = std::move(model::PinSage::Create(m.recipe.model, device).value());
  for (uint32_t i = 0; i < items; ++i) m.item_ids.push_back("i" + std::to_string(i));
  m.embeddings.assign(static_cast<size_t>(items) * 64, 0.0f);
  m.ann = std::move(model::AnnIndex::Create(64).value());
  if (auto s = model::WriteModelVersion(root, m, "bench"); !s.ok()) std::abort();
}

// PinSage issue target: refresh >= 20k items/s on the 2-core CPU (>= 1M/s on an
// H100, RECD_BENCH_DEVICE=cuda). One iteration = the pipeline submits a batch
// touching `touched` random items, and one refresher tick re-embeds the dirty
// set (touched items + up to 10 holders each): sampling, incremental layer-wise
// inference, ANN update and related lists. The counter load_items_per_s is the
// full catalogue's embedding when the model loads.
void BM_RefresherTick(benchmark::State& state) {
  const uint32_t items = static_cast<uint32_t>(state.range(0));
  const size_t touched = static_cast<size_t>(state.range(1));
  const std::vector<Event> events = MakeEvents(2'000'000, 200'000, items, 9);
  const store::GraphView view = ViewOf(events);
  TempDir dir("recd-bench-");
  const char* device = std::getenv("RECD_BENCH_DEVICE");
  WriteBenchModel(dir.sub("models"), items, device ? device : "cpu");
  model::RefresherConfig rc;
  rc.model_root = dir.sub("models");
  rc.device = device ? device : "cpu";
  std::vector<model::ItemDescription> catalogue(items);
  for (uint32_t i = 0; i < items; ++i) catalogue[i] = {ItemId(i), "i" + std::to_string(i), {}, {}};
  const auto load_start = std::chrono::steady_clock::now();
  auto refresher = std::move(model::Refresher::Create(rc, view, catalogue).value());
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  std::mt19937 rng(5);
  size_t refreshed = 0;
  for (auto _ : state) {
    state.PauseTiming();
    model::GraphChange change;
    change.num_users = view.num_users();
    change.num_items = view.num_items();
    for (size_t k = 0; k < touched; ++k) {
      const ItemId i(static_cast<uint32_t>(rng() % items));
      change.touched.push_back(i);
      change.edges.push_back({UserId(static_cast<uint32_t>(rng() % 200'000)), i, 1.0 + kT0 / 1.2e9, store::TypeBit(EventType::kClick)});
    }
    refresher->Submit(std::move(change));
    state.ResumeTiming();
    auto n = refresher->Tick();
    if (!n.ok()) state.SkipWithError(n.status().ToString().c_str());
    refreshed += n.ok() ? *n : 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(refreshed));
  state.counters["load_items_per_s"] = static_cast<double>(items) / load_s;
  state.counters["items_per_tick"] = static_cast<double>(refreshed) / static_cast<double>(state.iterations());
  state.SetLabel(rc.device);
}
BENCHMARK(BM_RefresherTick)->Args({20000, 1000})->Args({100000, 2000})->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(10);

// PinSage issue target: top-K >= 20k lists/s per core at 100k items, d = 64,
// with the default filters and a per-category cap (3 per list, 50 categories).
// The store holds 2M interactions of 200k users; the live model's related and
// walked lists (50 each) and embeddings are random but shaped as in service.
void BM_PinSageRank(benchmark::State& state) {
  const uint32_t items = static_cast<uint32_t>(state.range(0)), users = 200'000;
  TempDir dir("recd-bench-");
  store::StoreOptions so;
  so.path = dir.sub("store");
  so.sync_writes = false;
  so.dedup_window = 0;
  auto s = std::move(store::GraphStore::Open(so).value());
  std::vector<Event> batch;
  for (uint32_t i = 0; i < items; ++i) {
    batch.push_back(testing::ItemEvent("i" + std::to_string(i), kT0, {{"category", testing::Text("c" + std::to_string(i % 50))}}));
  }
  for (Event& e : MakeEvents(2'000'000, users, items, 9)) {
    batch.push_back(std::move(e));
    if (batch.size() == 100000) {
      if (!s->Apply(batch, {}, 0).ok()) std::abort();
      batch.clear();
    }
  }
  if (!s->Apply(batch, {}, 0).ok()) std::abort();
  auto live = std::make_shared<model::LiveModel>();
  live->version = "bench";
  live->dim = 64;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  live->embeddings.resize(static_cast<size_t>(items) * 64);
  for (float& x : live->embeddings) x = normal(rng) / 8.0f;
  live->embedded.assign(items, 1);
  live->related.resize(items);
  live->walked.resize(items);
  for (uint32_t i = 0; i < items; ++i) {
    for (int k = 0; k < 50; ++k) {
      live->related[i].push_back({static_cast<uint32_t>(rng() % items), 0.9f - 0.01f * k});
      live->walked[i].push_back({static_cast<uint32_t>(rng() % items), 0.02f});
    }
  }
  model::BaselineRanker fallback(*s, {});
  fallback.RefreshTrending();
  model::PinSageRankerConfig pc;
  pc.category_cap = 3;
  model::PinSageRanker ranker(*s, fallback, pc);
  for (uint32_t i = 0; i < items; ++i) ranker.ObserveItem(ItemId(i), *s->GetAttributes(EventType::kItem, "i" + std::to_string(i)));
  size_t lists = 0;
  for (auto _ : state) {
    const auto list = ranker.Recommend(UserId(static_cast<uint32_t>(rng() % s->view().num_users())), kT0, live.get());
    benchmark::DoNotOptimize(list);
    ++lists;
  }
  state.SetItemsProcessed(static_cast<int64_t>(lists));
}
BENCHMARK(BM_PinSageRank)->Arg(100000)->Unit(benchmark::kMicrosecond);

BENCHMARK(BM_PinSageInference)->Args({1, 1024})->Args({0, 1024})->Args({1, 8192})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace recd

BENCHMARK_MAIN();
