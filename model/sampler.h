// recd::model — the PinSage neighbourhood sampler: importance-based neighbourhoods
// from random walks with restart over the GraphView, along item -> user -> item
// paths, with the time-decayed edge weights as transition weights (Ying et al.,
// KDD 2018, section 3.1). No LibTorch here: the sampler feeds the model with
// plain index arrays.
//
// Threading: construction snapshots the view's transition tables; afterwards every
// const method may be called from any number of threads. Results depend only on
// the config's seed and the item, never on thread count or call order.
#pragma once

#include <cstdint>
#include <functional>
#include <unordered_map>
#include <vector>

#include "base/ids.h"
#include "store/graph_view.h"

namespace recd::model {

struct SamplerConfig {
  uint32_t walks_per_node = 100;     // random walks started from each node
  uint32_t walk_length = 3;          // at most this many item->user->item traversals per walk
  double restart_probability = 0.5;  // after each traversal the walk ends with this probability
  uint32_t top_t = 10;               // neighbours kept: the T most visited items
  uint32_t layers = 2;               // convolution layers the computation graph covers
  uint32_t threads = 0;              // 0: one per hardware thread
  uint64_t seed = 1;
};

// The T most visited items of one walk source, most visited first, with their
// visit counts normalised to sum to 1 (the importance weights of PinSage's pooling).
struct Neighbourhood {
  std::vector<ItemId> items;
  std::vector<float> importance;
};

// One convolution layer of a mini-batch. `nodes` is this layer's input node set
// (dense item ids, de-duplicated); its first `num_outputs` entries are the nodes
// this layer computes, in the same order as the next layer's input. Neighbour
// slots are num_outputs x top_t, indices into `nodes`; an empty slot has index 0
// and importance 0.
struct Block {
  std::vector<ItemId> nodes;
  size_t num_outputs = 0;
  std::vector<int64_t> neighbour_index;
  std::vector<float> neighbour_importance;
};

// blocks[0] is the first layer (its nodes need input features); blocks.back()'s
// outputs are the seeds, in the order given.
struct ComputationGraph {
  std::vector<Block> blocks;
};

class Sampler {
 public:
  Sampler(const store::GraphView& view, SamplerConfig config);

  // `round` varies the draw (training resamples every epoch); the result depends
  // only on (config seed, round, item).
  Neighbourhood Sample(ItemId item, uint64_t round = 0) const;
  // The same walks with explicit walk count and cut: the `keep` most visited items
  // in rank order, i.e. an approximate personalised-PageRank ranking (training
  // draws hard negatives from a band of it).
  Neighbourhood SampleRanked(ItemId item, uint64_t round, uint32_t walks, uint32_t keep) const;
  // Samples each item (in parallel); out[k] belongs to items[k].
  std::vector<Neighbourhood> SampleAll(const std::vector<ItemId>& items, uint64_t round = 0) const;
  // SampleAll over the items 0..num_items-1 (a whole catalogue, by dense id).
  std::vector<Neighbourhood> SampleCatalogue(size_t num_items, uint64_t round = 0) const;
  // The `layers`-hop computation graph of a mini-batch of seed items.
  ComputationGraph BuildComputationGraph(const std::vector<ItemId>& seeds, uint64_t round = 0) const;

  size_t num_items() const { return item_to_user_.num_nodes; }

  // The lists of `users` and `items` in `view` changed (or are new) since
  // construction: their tables are rebuilt from it, and the whole tables once
  // the patches reach a tenth of the graph. Not thread-safe: no sampling may
  // run meanwhile. The live refresher's way to follow a growing graph.
  void Update(const store::GraphView& view, const std::vector<uint32_t>& users, const std::vector<uint32_t>& items);

  const SamplerConfig& config() const { return config_; }

 private:
  // Per adjacency list, an alias table (Walker/Vose) over the decayed edge
  // weights: one draw picks a neighbour in O(1). A slot holds both outcomes, so a
  // step reads one slot (one cache line) besides the node's offsets: walks over
  // graphs larger than the cache are bound by these reads.
  struct Slot {
    uint32_t target;        // the slot's own neighbour, kept with probability `keep`
    float keep;
    uint32_t alias_target;  // the neighbour taken otherwise
  };
  struct Transitions {
    std::vector<uint64_t> offsets;  // node -> first slot; size num_nodes + 1 at the last full build
    std::vector<Slot> slots;
    std::unordered_map<uint32_t, std::vector<Slot>> patched;  // nodes rebuilt since (Update)
    size_t patched_slots = 0;
    size_t num_nodes = 0;
  };
  static void BuildAlias(const store::NeighborList& list, Slot* out);
  static Transitions Build(size_t num_nodes, const std::function<const store::NeighborList&(uint32_t)>& list);
  template <typename Rng>
  static int64_t Step(const Transitions& t, uint32_t node, Rng& rng);

  SamplerConfig config_;
  Transitions item_to_user_;
  Transitions user_to_item_;
};

// The computation graph of `seeds` from precomputed neighbourhoods, hoods[item]
// for every item: what training uses after sampling the catalogue once per epoch.
ComputationGraph BuildComputationGraph(const std::vector<ItemId>& seeds, const std::vector<Neighbourhood>& hoods,
                                       uint32_t layers, uint32_t top_t);

}  // namespace recd::model
