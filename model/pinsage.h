// recd::model — the PinSage network (Ying et al., KDD 2018): item input features
// (hashed id embedding, categorical attribute embeddings, optional projection of a
// dense content vector), K importance-pooling convolutions over a sampled
// computation graph, and a final dense layer to L2-normalised embeddings.
// LibTorch stays behind this header (see pinsage_impl.h); callers pass plain arrays.
//
// Threading: one caller at a time per instance.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/sampler.h"
#include "model/training_set.h"

namespace recd::model {

struct PinSageConfig {
  int64_t id_buckets = 1 << 17;       // hashed id rows: new items need no resize
  int64_t id_dim = 32;
  int64_t attribute_fields = 0;       // categorical fields (category, colour, ...)
  int64_t attribute_buckets = 1024;   // hashed values per field
  int64_t attribute_dim = 16;
  int64_t content_dim = 0;            // width of item content vectors; 0: none
  int64_t hidden_dim = 64;
  int64_t output_dim = 64;
  int64_t layers = 2;                 // must match the sampler's computation graphs
  uint64_t seed = 1;
};

class PinSage {
 public:
  // `device`: "auto" (CUDA when present), "cpu", "cuda" or "cuda:N".
  static Result<std::unique_ptr<PinSage>> Create(const PinSageConfig& config, const std::string& device);
  // LibTorch's CPU threads for the whole process (its intra-op pool). The
  // daemon keeps this low so the model never crowds out intake.
  static void SetCpuThreads(int threads);
  ~PinSage();

  // Embeddings of the seeds (the last block's outputs), seeds x output_dim,
  // L2-normalised, computed in inference mode.
  // `features` are the rows of graph.blocks[0].nodes (GatherFeatures).
  Result<std::vector<float>> Embed(const ComputationGraph& graph, const NodeFeatures& features);

  // Embeds a whole catalogue layer by layer: items are the dense ids
  // 0..features.id_bucket.size()-1; each item's neighbourhood is sampled once
  // and every layer is computed for all items, `chunk` rows at a time. Cheaper
  // than mini-batches when most items are needed.
  // A raised `cancel` (checked between chunks) ends it with Aborted.
  Result<std::vector<float>> EmbedAll(const Sampler& sampler, const NodeFeatures& features, size_t chunk = 8192,
                                      const std::atomic<bool>* cancel = nullptr);
  // The same from neighbourhoods sampled earlier, hoods[item] for every item.
  Result<std::vector<float>> EmbedAll(const std::vector<Neighbourhood>& hoods, const NodeFeatures& features,
                                      size_t chunk = 8192, const std::atomic<bool>* cancel = nullptr);

  // Layer-wise inference one layer at a time, for callers that keep every
  // item's rows between calls and recompute only some items (the refresher).
  // Rows are row-major float32. Run in order, InputRows, ConvRows for layers
  // 0..layers-1, OutputRows reproduces EmbedAll for the same neighbourhoods.
  // Layer 0: the input projection of `features` (n items) -> n x hidden_dim.
  Result<std::vector<float>> InputRows(const NodeFeatures& features);
  // Convolution `layer` for n items: `self` n x hidden_dim (their own rows of the
  // previous layer), `neighbours` n x t x hidden_dim (their neighbourhoods' rows;
  // empty slots have importance 0), `importance` n x t -> n x hidden_dim.
  Result<std::vector<float>> ConvRows(size_t layer, const std::vector<float>& self, const std::vector<float>& neighbours,
                                      const std::vector<float>& importance, size_t t);
  // The final dense layer and L2 normalisation: n x hidden_dim -> n x output_dim.
  Result<std::vector<float>> OutputRows(const std::vector<float>& hidden);

  Status Save(const std::string& path) const;
  Status Load(const std::string& path);

  const PinSageConfig& config() const { return config_; }
  std::string device() const;
  int64_t parameter_count() const;

  class Impl;
  Impl& impl() { return *impl_; }  // for training code and tests (pinsage_impl.h)

 private:
  PinSage(const PinSageConfig& config, std::unique_ptr<Impl> impl);
  PinSageConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace recd::model
