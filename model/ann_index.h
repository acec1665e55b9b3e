// recd::model — AnnIndex: approximate maximum-inner-product search over item
// embeddings (hnswlib HNSW, inner-product space), with insert-or-update of one
// vector at a time, removal, and save/load beside the model. hnswlib's
// exceptions are translated to Status here.
//
// Threading: Search may run on many threads at once; Upsert/Remove/Save take an
// exclusive lock and wait for searches in flight.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/ids.h"
#include "base/status.h"

namespace recd::model {

struct AnnConfig {
  size_t m = 16;                 // graph degree: recall vs memory
  size_t ef_construction = 200;  // build-time beam: recall vs insert cost
  size_t ef_search = 64;         // query-time beam (raised to k when smaller)
  size_t initial_capacity = 1024;  // grows by doubling
  // When an indexed item's vector is replaced, the share of its neighbours whose
  // links are repaired too (hnswlib's updateNeighborProbability): 1 keeps recall
  // best, lower makes frequent updates much cheaper.
  float update_neighbour_probability = 1.0f;
  uint64_t seed = 100;
};

class AnnIndex {
 public:
  static Result<std::unique_ptr<AnnIndex>> Create(size_t dim, AnnConfig config = {});
  // Loads an index written by Save; `dim` must match the saved one.
  static Result<std::unique_ptr<AnnIndex>> Load(const std::string& path, size_t dim, AnnConfig config = {});
  ~AnnIndex();

  // Inserts the item's vector, or replaces it when the item is already indexed.
  Status Upsert(ItemId item, const std::vector<float>& vector);
  // Hides the item from searches (a later Upsert brings it back).
  Status Remove(ItemId item);
  // The k items with the largest inner product with `query`, largest first.
  Result<std::vector<std::pair<ItemId, float>>> Search(const std::vector<float>& query, size_t k) const;
  Status Save(const std::string& path) const;

  size_t dim() const { return dim_; }
  size_t size() const;  // items indexed, removed ones included

 private:
  struct Impl;
  AnnIndex(size_t dim, AnnConfig config);
  size_t dim_;
  AnnConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace recd::model
