// recd::rank — RankingModel: the learnt ranker, gradient-boosted trees with a
// pairwise ranking objective (XGBoost's C API), over FeatureBuilder's layout.
// Trained on groups, one per labelled event: the slate its user held then, the
// item they took labelled 1 and the rest 0, each group weighted (time decay).
// XGBoost stays inside ranking_model.cpp: this header names none of it.
//
// A model is immutable once built; Predict may run while another model trains
// on another thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"

namespace recd::rank {

// Rows of `num_features` floats (NaN: missing), in groups.
struct RankingData {
  size_t num_features = 0;
  std::vector<float> rows;
  std::vector<float> labels;     // per row: 1 the item taken, 0 otherwise
  std::vector<uint32_t> groups;  // rows per group, in row order
  std::vector<float> weights;    // per group
  size_t num_rows() const { return num_features ? rows.size() / num_features : 0; }
};

struct RankingParams {
  int rounds = 50;              // boosting rounds (50 of depth 4: the HR of 100 of depth 6 on the shop's
  int max_depth = 4;            // validation slice, in 60% of the prediction time; docs/evaluation.md)
  double eta = 0.1;             // learning rate
  double min_child_weight = 1;
  double subsample = 0.8;       // rows per tree (seeded: deterministic)
  std::string objective = "rank:pairwise";  // or rank:ndcg, binary:logistic (pointwise)
  int pair_samples = 1;         // pairs per labelled item per round (XGBoost's num_pairsample); 30 cost 3x the
                                // training time and changed nothing measured (docs/evaluation.md)
  int threads = 1;              // training threads (prediction uses one)
  uint64_t seed = 1;
};

class RankingModel {
 public:
  ~RankingModel();
  RankingModel(const RankingModel&) = delete;
  RankingModel& operator=(const RankingModel&) = delete;

  // Trains on `data` (at least one group with a label 1). `cancel` raised: Aborted.
  static Result<std::shared_ptr<const RankingModel>> Train(const RankingData& data, const RankingParams& params,
                                                           const std::atomic<bool>* cancel = nullptr);
  // A model saved by Serialize; refused (with the reason) when XGBoost cannot
  // read it or it reads a different number of features.
  static Result<std::shared_ptr<const RankingModel>> Deserialize(const std::string& bytes, size_t num_features);
  // XGBoost's JSON model format.
  Result<std::string> Serialize() const;

  // One score per row of `rows` (n x num_features), higher ranks first.
  Status Predict(const float* rows, size_t n, std::vector<float>* scores) const;
  size_t num_features() const { return num_features_; }

 private:
  RankingModel(void* booster, size_t num_features) : booster_(booster), num_features_(num_features) {}
  void* booster_;  // BoosterHandle
  size_t num_features_;
};

// HR@10 over groups [begin, end) of `data` ordered by `scores` (one per row):
// the weighted share (data.weights) of groups whose labelled item ranks in the
// top 10 (ties: row order). Groups without a labelled item count as misses.
double GroupHitRate(const RankingData& data, const std::vector<float>& scores, size_t begin_group, size_t end_group);

}  // namespace recd::rank
