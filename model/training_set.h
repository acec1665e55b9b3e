// recd::model — what PinSage trains and infers on, whatever the source (a live
// store, an events file, an evaluation split): the item–user graph with decayed
// weights, the item catalogue with its metadata, timed interactions, and from
// them the positive pairs and the network's input features. No LibTorch here.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/event.h"
#include "base/status.h"
#include "store/decay.h"
#include "store/graph_view.h"

namespace recd::store {
class GraphStore;
}

namespace recd::model {

struct TimedInteraction {
  uint32_t user;
  uint32_t item;
  EpochMillis ts;
};

// Dense ids: items are 0..item_ids.size()-1, the same ids as in `graph`.
struct TrainingSet {
  store::GraphView graph;
  std::vector<std::string> user_ids, item_ids;
  std::vector<Attributes> item_attributes;         // per item; empty when no metadata came
  std::vector<std::vector<float>> item_content;    // per item; empty when none
  std::vector<TimedInteraction> interactions;
};

// Collects events in any order into a TrainingSet; edge weights follow the store's
// decay rules (decay.h), so a model trained from a file samples the same
// neighbourhoods as one trained from the daemon's store.
class TrainingSetBuilder {
 public:
  explicit TrainingSetBuilder(store::DecayConfig decay = {}) : decay_(decay) {}
  // Dense id of an item / user, registering it when new (pre-register to fix the order).
  uint32_t Item(const std::string& external);
  uint32_t User(const std::string& external);
  // Interactions add an edge; item events set the item's attributes and content.
  void Add(const Event& e);
  TrainingSet Finish() &&;

 private:
  store::DecayConfig decay_;
  TrainingSet set_;
  std::unordered_map<std::string, uint32_t> items_, users_;
};

// Reads a store (normally a read-only open or a checkpoint) into a TrainingSet;
// each edge gives an interaction at its last event time, and one more at its
// first when that differs.
Result<TrainingSet> TrainingSetFromStore(const store::GraphStore& store);

struct PairConfig {
  int64_t window_ms = 3LL * 86'400'000;  // items count as a pair only this close in time
  uint32_t next_items = 2;               // each interaction pairs with the user's next few
  double validation_fraction = 0.1;      // the newest pairs, held out for early stopping
};

// Positive pairs: items the same user interacted with close in time, (earlier,
// later). Validation pairs are the newest, so early stopping looks forward in time.
struct PositivePairs {
  std::vector<std::pair<ItemId, ItemId>> train, validation;
};
PositivePairs MakePositivePairs(const std::vector<TimedInteraction>& interactions, const PairConfig& config);

// Network inputs for every item of a catalogue, rows in dense id order.
struct NodeFeatures {
  std::vector<int64_t> id_bucket;   // one per node, in [0, id_buckets)
  std::vector<int64_t> attributes;  // nodes x fields, each in [0, attribute_buckets)
  std::vector<float> content;       // nodes x content_dim (zeros where an item has none)
};

// The categorical fields worth embedding: attribute keys present on at least
// `min_share` of the items, sorted by name (at most `max_fields`).
std::vector<std::string> AttributeFields(const TrainingSet& set, double min_share = 0.01, size_t max_fields = 16);
// The model's content width: the width most items' content vectors share (a
// tie goes to the narrower; 0: no item has one). An item whose vector has
// another width (one producer sending 4096 where the rest send 64) counts as
// having none: its features hold zeros, so it cannot widen the model for all.
size_t ContentDim(const TrainingSet& set);

// String values hash as "field=value"; numbers by half-octave buckets of
// magnitude with sign (prices and sizes group with their neighbours); a missing
// field is its own value.
NodeFeatures EncodeFeatures(const TrainingSet& set, const std::vector<std::string>& fields, int64_t id_buckets,
                            int64_t attribute_buckets, size_t content_dim);
// Appends one item's row (what EncodeFeatures computes for it) to `out`: the
// refresher encodes items one by one as they arrive.
void AppendItemFeatures(const std::string& external_id, const Attributes& attributes, const std::vector<float>& content,
                        const std::vector<std::string>& fields, int64_t id_buckets, int64_t attribute_buckets,
                        size_t content_dim, NodeFeatures* out);
// The rows of `nodes` from catalogue-wide features.
NodeFeatures GatherFeatures(const NodeFeatures& all, const std::vector<ItemId>& nodes, size_t fields, size_t content_dim);

// Hashes an external id or attribute value into [0, buckets) (FNV-1a: stable
// across runs and platforms, unlike std::hash).
int64_t HashBucket(const std::string& text, int64_t buckets);

}  // namespace recd::model
