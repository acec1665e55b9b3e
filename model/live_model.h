// recd::model — LiveModel: what the ranker reads of the active PinSage model,
// indexed by the store's dense item ids: each item's embedding, its nearest
// items in embedding space (the ANN's answer, precomputed when the item was
// last embedded, as Pinterest precomputes related pins) and its random-walk
// neighbourhood on the live graph (Pixie's visit counts).
//
// Ownership: the Refresher owns it and is its one writer; rows change in place
// under `mu` (exclusive) while readers hold it shared. A new model version is a
// new LiveModel, published with one atomic pointer swap: a reader holding the
// old shared_ptr keeps a complete old model.
#pragma once

#include <cstddef>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <vector>

namespace recd::model {

struct ItemScore {
  uint32_t item;  // dense ItemId value
  float score;
};

struct LiveModel {
  std::string version;  // the model directory's version, e.g. "v0003"
  size_t dim = 0;

  mutable std::shared_mutex mu;
  std::vector<float> embeddings;                 // items x dim, unit rows; zero rows where !embedded
  std::vector<uint8_t> embedded;                 // per item
  std::vector<std::vector<ItemScore>> related;  // per item: nearest items by inner product, self excluded
  std::vector<std::vector<ItemScore>> walked;   // per item: most visited by walks, importance summing to 1

  size_t num_items() const { return embedded.size(); }
  const float* row(uint32_t item) const { return embeddings.data() + static_cast<size_t>(item) * dim; }
};

}  // namespace recd::model
