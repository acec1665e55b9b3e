// recd::model — a trained PinSage model as one unit: the network, the sampler and
// feature settings it was trained with, the catalogue's ids and embeddings, and
// the ANN index over them. Trained from a TrainingSet (TrainPinSage) and kept as a
// versioned directory:
//
//   <root>/v0001/  model.pt       network weights (LibTorch archive)
//                  model.json     settings: network, sampler, features, training
//                  metrics.json   per-epoch training report and validation HR@10
//                  items.txt      external item ids, one per line, in dense id order
//                  embeddings.f32 items x output_dim little-endian float32
//                  ann.hnsw       hnswlib inner-product index over the embeddings
//   <root>/LATEST  the newest complete version's name
//
// A version is written into a temporary directory and renamed into place, and
// LATEST is replaced by rename after it, so readers never see half a model.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/ann_index.h"
#include "model/pinsage.h"
#include "model/pinsage_train.h"
#include "model/sampler.h"
#include "model/training_set.h"

namespace recd::model {

// Everything that decides what is trained. attribute_fields, content_dim and
// id_buckets in `model` are derived from the data by TrainPinSage.
struct PinSageRecipe {
  PinSageConfig model;
  SamplerConfig sampler;
  PairConfig pairs;
  TrainingConfig training;
  std::string device = "auto";
};

struct TrainedModel {
  PinSageRecipe recipe;                      // as trained (derived fields filled in)
  std::vector<std::string> attribute_fields;
  std::unique_ptr<PinSage> net;
  std::vector<std::string> item_ids;         // dense id -> external id
  std::vector<float> embeddings;             // items x output_dim, unit rows
  std::unique_ptr<AnnIndex> ann;
  TrainingReport report;
  std::string version;                       // "v0001" once written or loaded
  size_t dim() const { return static_cast<size_t>(recipe.model.output_dim); }
};

// Trains on `set`, embeds its whole catalogue and indexes the embeddings.
Result<TrainedModel> TrainPinSage(const TrainingSet& set, PinSageRecipe recipe,
                                  const std::function<void(const EpochReport&)>& on_epoch = {});

// What a retraining adds: its own positive pairs, and a warm start.
struct TrainStart {
  // The attribute fields to encode (a warm start keeps its parent's, so the
  // weights mean the same); empty: derived from the data.
  std::vector<std::string> attribute_fields;
  std::string init_weights;  // a model.pt to start from (same recipe); "": fresh weights
};
Result<TrainedModel> TrainPinSage(const TrainingSet& set, PinSageRecipe recipe, const PositivePairs& pairs,
                                  const TrainStart& start,
                                  const std::function<void(const EpochReport&)>& on_epoch = {});

// Writes `model` as the next version under `root` (created when missing) and,
// with `make_latest`, points LATEST at it; returns the version's directory.
// `source` says what it was trained from; `lineage_json`, a JSON object or "",
// is recorded in model.json as "lineage" (parent version, training window).
Result<std::string> WriteModelVersion(const std::string& root, TrainedModel& model, const std::string& source,
                                      bool make_latest = true, const std::string& lineage_json = "");
// Points <root>/LATEST at `version` (atomic rename).
Status WriteLatest(const std::string& root, const std::string& version);
// The id bucket every item a model was not trained on shares: its own id row
// learnt nothing, so its attributes and content place it.
int64_t UnseenItemBucket(int64_t id_buckets);
// `set`'s features as `model` encodes them: its attribute fields, and the shared
// unseen bucket for items it was not trained on (as the refresher serves them).
NodeFeatures EncodeFeaturesFor(const TrainedModel& model, const TrainingSet& set);
// The version name <root>/LATEST points at; "" when there is none.
std::string LatestVersion(const std::string& root);
// Loads a version directory, or the LATEST version when given the root.
Result<TrainedModel> LoadModel(const std::string& path, const std::string& device);

}  // namespace recd::model
