#include "model/sampler.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <unordered_map>

namespace recd::model {
namespace {

// SplitMix64: a small, fast generator whose stream depends only on its seed.
struct SplitMix64 {
  uint64_t state;
  uint64_t operator()() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  float Unit() { return static_cast<float>((*this)() >> 40) * 0x1.0p-24f; }  // [0, 1)
};

// The blocks of a computation graph, outermost layer first; `lookup(outputs)`
// gives each output node's neighbourhood (pointers valid until the next call).
template <typename Lookup>
ComputationGraph Assemble(const std::vector<ItemId>& seeds, uint32_t layers, uint32_t top_t, Lookup&& lookup) {
  ComputationGraph graph;
  graph.blocks.resize(layers);
  std::vector<ItemId> outputs = seeds;
  std::unordered_map<uint32_t, int64_t> index;
  // Walk outward from the seeds: the last block computes the seeds, each earlier
  // block computes the previous one's inputs.
  for (size_t layer = layers; layer-- > 0;) {
    Block& b = graph.blocks[layer];
    b.num_outputs = outputs.size();
    b.nodes = outputs;
    index.clear();
    for (size_t k = 0; k < outputs.size(); ++k) index.emplace(outputs[k].value, static_cast<int64_t>(k));
    const std::vector<const Neighbourhood*> hoods = lookup(outputs);
    b.neighbour_index.assign(outputs.size() * top_t, 0);
    b.neighbour_importance.assign(outputs.size() * top_t, 0.0f);
    for (size_t k = 0; k < outputs.size(); ++k) {
      const Neighbourhood& h = *hoods[k];
      for (size_t s = 0; s < h.items.size() && s < top_t; ++s) {
        auto [it, added] = index.emplace(h.items[s].value, static_cast<int64_t>(b.nodes.size()));
        if (added) b.nodes.push_back(h.items[s]);
        b.neighbour_index[k * top_t + s] = it->second;
        b.neighbour_importance[k * top_t + s] = h.importance[s];
      }
    }
    outputs = b.nodes;
  }
  return graph;
}

}  // namespace

void Sampler::BuildAlias(const store::NeighborList& l, Slot* out) {
  if (l.empty()) return;
  thread_local std::vector<uint32_t> alias, small, large;
  thread_local std::vector<double> scaled;
  const size_t d = l.size();
  float top = l[0].log_weight;
  for (const auto& x : l) top = std::max(top, x.log_weight);
  scaled.resize(d);
  alias.resize(d);
  double sum = 0;
  for (size_t k = 0; k < d; ++k) {
    scaled[k] = std::exp2(static_cast<double>(l[k].log_weight) - top);  // relative decayed weight
    sum += scaled[k];
    out[k].target = l[k].id;
  }
  small.clear();
  large.clear();
  for (size_t k = 0; k < d; ++k) {
    scaled[k] *= static_cast<double>(d) / sum;  // mean 1
    (scaled[k] < 1.0 ? small : large).push_back(static_cast<uint32_t>(k));
  }
  while (!small.empty() && !large.empty()) {
    const uint32_t s = small.back(), g = large.back();
    small.pop_back();
    out[s].keep = static_cast<float>(scaled[s]);
    alias[s] = g;
    scaled[g] -= 1.0 - scaled[s];
    if (scaled[g] < 1.0) {
      large.pop_back();
      small.push_back(g);
    }
  }
  for (uint32_t k : large) out[k].keep = 1.0f, alias[k] = k;
  for (uint32_t k : small) out[k].keep = 1.0f, alias[k] = k;  // rounding leftovers
  for (size_t k = 0; k < d; ++k) out[k].alias_target = l[alias[k]].id;
}

Sampler::Transitions Sampler::Build(size_t num_nodes,
                                    const std::function<const store::NeighborList&(uint32_t)>& list) {
  Transitions t;
  t.num_nodes = num_nodes;
  t.offsets.assign(num_nodes + 1, 0);
  for (uint32_t n = 0; n < num_nodes; ++n) t.offsets[n + 1] = t.offsets[n] + list(n).size();
  t.slots.resize(t.offsets.back());
  for (uint32_t n = 0; n < num_nodes; ++n) BuildAlias(list(n), t.slots.data() + t.offsets[n]);
  return t;
}

template <typename Rng>
int64_t Sampler::Step(const Transitions& t, uint32_t node, Rng& rng) {
  const Slot* slots;
  uint64_t degree;
  const auto patch = t.patched.empty() ? t.patched.end() : t.patched.find(node);
  if (patch != t.patched.end()) {
    slots = patch->second.data();
    degree = patch->second.size();
  } else {
    if (node + 1 >= t.offsets.size()) return -1;  // a node newer than the tables, without edges yet
    slots = t.slots.data() + t.offsets[node];
    degree = t.offsets[node + 1] - t.offsets[node];
  }
  if (degree == 0) return -1;
  const uint64_t r = rng();
  const Slot& slot = slots[(r >> 32) * degree >> 32];  // uniform slot from the high bits
  const float u = static_cast<float>(r & 0xFFFFFF) * 0x1.0p-24f;          // independent low bits
  return u < slot.keep ? slot.target : slot.alias_target;
}

Sampler::Sampler(const store::GraphView& view, SamplerConfig config) : config_(config) {
  item_to_user_ = Build(view.num_items(), [&](uint32_t i) -> const store::NeighborList& { return view.UsersOf(ItemId(i)); });
  user_to_item_ = Build(view.num_users(), [&](uint32_t u) -> const store::NeighborList& { return view.ItemsOf(UserId(u)); });
}

void Sampler::Update(const store::GraphView& view, const std::vector<uint32_t>& users, const std::vector<uint32_t>& items) {
  auto patch = [](Transitions& t, uint32_t node, const store::NeighborList& list) {
    std::vector<Slot>& slots = t.patched[node];
    t.patched_slots += list.size() - std::min(list.size(), slots.size());
    slots.resize(list.size());
    BuildAlias(list, slots.data());
    t.num_nodes = std::max<size_t>(t.num_nodes, node + 1);
  };
  for (uint32_t u : users) patch(user_to_item_, u, view.ItemsOf(UserId(u)));
  for (uint32_t i : items) patch(item_to_user_, i, view.UsersOf(ItemId(i)));
  // Patches cost a hash lookup per step: fold them in once they are a tenth of the graph.
  const size_t patched = user_to_item_.patched_slots + item_to_user_.patched_slots;
  if (patched > (user_to_item_.slots.size() + item_to_user_.slots.size()) / 10 + 4096) {
    item_to_user_ = Build(view.num_items(), [&](uint32_t i) -> const store::NeighborList& { return view.UsersOf(ItemId(i)); });
    user_to_item_ = Build(view.num_users(), [&](uint32_t u) -> const store::NeighborList& { return view.ItemsOf(UserId(u)); });
  }
}

Neighbourhood Sampler::Sample(ItemId item, uint64_t round) const {
  return SampleRanked(item, round, config_.walks_per_node, config_.top_t);
}

Neighbourhood Sampler::SampleRanked(ItemId item, uint64_t round, uint32_t walks, uint32_t keep_at_most) const {
  SplitMix64 rng{(config_.seed + round * 0xA24BAED4963EE407ULL) * 0x9E3779B97F4A7C15ULL ^
                 (uint64_t(item.value) + 1) * 0xD1B54A32D192ED03ULL};
  // Per-thread dense visit counters (by item), reset through the touched list.
  thread_local std::vector<uint32_t> counts;
  thread_local std::vector<uint32_t> touched;
  if (counts.size() < num_items()) counts.resize(num_items(), 0);
  for (uint32_t w = 0; w < walks; ++w) {
    uint32_t at = item.value;
    for (uint32_t hop = 0; hop < config_.walk_length; ++hop) {
      const int64_t user = Step(item_to_user_, at, rng);
      if (user < 0) break;
      const int64_t next = Step(user_to_item_, static_cast<uint32_t>(user), rng);
      if (next < 0) break;
      at = static_cast<uint32_t>(next);
      if (at != item.value && counts[at]++ == 0) touched.push_back(at);
      if (rng.Unit() < config_.restart_probability) break;
    }
  }
  std::vector<std::pair<uint32_t, uint32_t>> ranked;
  ranked.reserve(touched.size());
  for (uint32_t i : touched) {
    ranked.emplace_back(i, counts[i]);
    counts[i] = 0;
  }
  touched.clear();
  const size_t keep = std::min<size_t>(keep_at_most, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<ptrdiff_t>(keep), ranked.end(),
                    [](const auto& a, const auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); });
  Neighbourhood n;
  uint64_t total = 0;
  for (size_t k = 0; k < keep; ++k) total += ranked[k].second;
  for (size_t k = 0; k < keep; ++k) {
    n.items.emplace_back(ranked[k].first);
    n.importance.push_back(static_cast<float>(ranked[k].second) / static_cast<float>(total));
  }
  return n;
}

std::vector<Neighbourhood> Sampler::SampleAll(const std::vector<ItemId>& items, uint64_t round) const {
  std::vector<Neighbourhood> out(items.size());
  size_t threads = config_.threads ? config_.threads : std::max(1u, std::thread::hardware_concurrency());
  threads = std::min(threads, std::max<size_t>(1, items.size() / 64));
  if (threads <= 1) {
    for (size_t k = 0; k < items.size(); ++k) out[k] = Sample(items[k], round);
    return out;
  }
  std::vector<std::thread> pool;
  for (size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (size_t k = t; k < items.size(); k += threads) out[k] = Sample(items[k], round);
    });
  }
  for (auto& th : pool) th.join();
  return out;
}

std::vector<Neighbourhood> Sampler::SampleCatalogue(size_t num_items, uint64_t round) const {
  std::vector<ItemId> items(num_items);
  for (size_t i = 0; i < num_items; ++i) items[i] = ItemId(static_cast<uint32_t>(i));
  return SampleAll(items, round);
}

ComputationGraph Sampler::BuildComputationGraph(const std::vector<ItemId>& seeds, uint64_t round) const {
  std::vector<Neighbourhood> sampled;
  return Assemble(seeds, config_.layers, config_.top_t, [&](const std::vector<ItemId>& outputs) {
    sampled = SampleAll(outputs, round);
    std::vector<const Neighbourhood*> out;
    for (const auto& h : sampled) out.push_back(&h);
    return out;
  });
}

ComputationGraph BuildComputationGraph(const std::vector<ItemId>& seeds, const std::vector<Neighbourhood>& hoods,
                                       uint32_t layers, uint32_t top_t) {
  static const Neighbourhood kNone;
  return Assemble(seeds, layers, top_t, [&](const std::vector<ItemId>& outputs) {
    std::vector<const Neighbourhood*> out;
    out.reserve(outputs.size());
    for (const ItemId& i : outputs) out.push_back(i.value < hoods.size() ? &hoods[i.value] : &kNone);
    return out;
  });
}

}  // namespace recd::model
