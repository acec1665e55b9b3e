// recd::model — PinSage training (Ying et al., KDD 2018, section 3.3): positive
// pairs of items used by the same user close in time, a max-margin loss against
// negatives shared by the mini-batch plus per-query hard negatives from a band of
// the query's personalised-PageRank ranking (added by curriculum: epoch e uses
// e-1 of them, up to a cap), Adam, and early stopping on the newest pairs.
//
// Mini-batches are prepared by sampler threads while the device trains on the
// current one (a bounded queue, in batch order): the device waits only when the
// producers fall behind, and the report says how long it waited.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/pinsage.h"
#include "model/sampler.h"
#include "model/training_set.h"

namespace recd::model {

struct TrainingConfig {
  uint32_t epochs = 20;
  uint32_t batch_size = 512;           // positive pairs per mini-batch
  uint32_t random_negatives = 512;     // uniform over the catalogue, shared by the batch
  uint32_t max_hard_negatives = 0;     // per query; epoch e uses min(e - 1, this). Off by default:
                                       // on catalogues of thousands it cost validation HR (docs/evaluation.md)
  uint32_t hard_walks = 200;           // walks of the PPR ranking hard negatives come from
  uint32_t hard_rank_begin = 20;       // the band: similar, but not the most similar items
  uint32_t hard_rank_end = 100;
  float margin = 0.1f;                 // on inner products of unit vectors
  float learning_rate = 3e-3f;
  uint32_t patience = 3;               // epochs without a better validation HR@10 before stopping
  size_t max_batches_per_epoch = 0;    // 0: every training pair once per epoch
  size_t max_validation_pairs = 5000;
  uint32_t producer_threads = 0;       // 0: hardware threads - 1 (at least 1)
  uint32_t prefetch_batches = 4;       // queue depth ahead of the device
  std::string checkpoint_dir;          // when set: last.pt after every epoch, best.pt on improvement
  uint64_t seed = 1;
  // When set, checked between batches: a raised flag ends training with Aborted
  // (the daemon's stop does not wait for a whole retraining).
  const std::atomic<bool>* cancel = nullptr;
};

struct EpochReport {
  uint32_t epoch = 0;
  size_t batches = 0;
  size_t pairs = 0;
  uint32_t hard_negatives = 0;     // per query, this epoch
  double loss = 0;                 // mean over batches
  double validation_hr_at_10 = 0;  // validation pairs whose positive is in the query's top 10
  double seconds = 0;
  double device_wait_seconds = 0;  // time the trainer waited for prepared batches
  double sampling_seconds = 0;     // the epoch's catalogue-wide neighbourhood sampling
};

struct TrainingReport {
  std::vector<EpochReport> epochs;
  uint32_t best_epoch = 0;  // whose weights the model holds at the end
  double best_validation_hr_at_10 = 0;
  bool stopped_early = false;
  // Every item's embedding under the final weights (items x output_dim), as
  // PinSage::EmbedAll(sampler, features) gives it: validation computed it already.
  std::vector<float> embeddings;
};

// Trains `model` in place on `pairs` over `sampler`'s graph; `features` holds
// every item's inputs (EncodeFeatures). At the end the model holds the weights of
// the epoch with the best validation HR@10 (the last one without validation pairs),
// and the report carries the catalogue's embeddings under those weights.
// `on_epoch` runs after each epoch (progress logging).
Result<TrainingReport> Train(PinSage& model, const Sampler& sampler, const NodeFeatures& features,
                             const PositivePairs& pairs, const TrainingConfig& config,
                             const std::function<void(const EpochReport&)>& on_epoch = {});

// HR@10 of `pairs` under `embeddings` (items x dim, unit rows): the positive is
// among the 10 items nearest the query, the query itself excluded.
double PairHitRate(const std::vector<float>& embeddings, size_t dim, const std::vector<std::pair<ItemId, ItemId>>& pairs);

}  // namespace recd::model
