#include "model/rank/ranking_model.h"

#include <xgboost/c_api.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <numeric>

namespace recd::rank {
namespace {

Status XgbError(const std::string& what) { return Status::Internal(what + ": " + XGBGetLastError()); }

// XGBoost logs to stdout by default; recd's logs are its own. Its global
// configuration is per thread: each thread that trains or loads sets it once.
void QuietXgboost() {
  thread_local bool quiet = false;
  if (!quiet) quiet = XGBSetGlobalConfig(R"({"verbosity": 0})") == 0;
}

// Frees a handle at scope exit.
template <typename Handle, int (*Free)(Handle)>
struct Owned {
  Handle h = nullptr;
  ~Owned() {
    if (h) Free(h);
  }
};

}  // namespace

RankingModel::~RankingModel() {
  if (booster_) XGBoosterFree(booster_);
}

Result<std::shared_ptr<const RankingModel>> RankingModel::Train(const RankingData& data, const RankingParams& params,
                                                                const std::atomic<bool>* cancel) {
  QuietXgboost();
  const size_t n = data.num_rows();
  if (n == 0 || data.labels.size() != n || data.groups.empty() || data.weights.size() != data.groups.size() ||
      std::accumulate(data.groups.begin(), data.groups.end(), size_t{0}) != n) {
    return Status::InvalidArgument("ranking data is empty or inconsistent (rows, labels, groups, weights)");
  }
  if (std::find(data.labels.begin(), data.labels.end(), 1.0f) == data.labels.end()) {
    return Status::InvalidArgument("ranking data has no labelled item to learn from");
  }
  Owned<DMatrixHandle, XGDMatrixFree> matrix;
  if (XGDMatrixCreateFromMat(data.rows.data(), n, data.num_features, std::numeric_limits<float>::quiet_NaN(),
                             &matrix.h) != 0) {
    return XgbError("XGDMatrixCreateFromMat");
  }
  // Ranking objectives weigh groups; pointwise ones (binary:logistic) know no groups and weigh rows: each
  // row its group's weight.
  const bool ranking = params.objective.rfind("rank:", 0) == 0;
  std::vector<float> row_weights;
  if (!ranking) {
    for (size_t g = 0; g < data.groups.size(); ++g) row_weights.insert(row_weights.end(), data.groups[g], data.weights[g]);
  }
  const std::vector<float>& weights = ranking ? data.weights : row_weights;
  if (XGDMatrixSetFloatInfo(matrix.h, "label", data.labels.data(), n) != 0 ||
      (ranking && XGDMatrixSetUIntInfo(matrix.h, "group", data.groups.data(), data.groups.size()) != 0) ||
      XGDMatrixSetFloatInfo(matrix.h, "weight", weights.data(), weights.size()) != 0) {
    return XgbError("setting labels, groups and weights");
  }
  BoosterHandle booster = nullptr;
  if (XGBoosterCreate(&matrix.h, 1, &booster) != 0) return XgbError("XGBoosterCreate");
  std::shared_ptr<const RankingModel> model(new RankingModel(booster, data.num_features));
  const std::vector<std::pair<std::string, std::string>> settings = {
      {"objective", params.objective},
      {"num_pairsample", std::to_string(std::max(1, params.pair_samples))},
      {"tree_method", "hist"},
      {"max_depth", std::to_string(params.max_depth)},
      {"eta", std::to_string(params.eta)},
      {"min_child_weight", std::to_string(params.min_child_weight)},
      {"subsample", std::to_string(params.subsample)},
      {"nthread", std::to_string(std::max(1, params.threads))},
      {"seed", std::to_string(params.seed)},
      {"verbosity", "0"},
  };
  for (const auto& [key, value] : settings) {
    if (XGBoosterSetParam(booster, key.c_str(), value.c_str()) != 0) return XgbError("parameter " + key + "=" + value);
  }
  for (int round = 0; round < params.rounds; ++round) {
    if (cancel && cancel->load()) return Status::Aborted("ranker training cancelled");
    if (XGBoosterUpdateOneIter(booster, round, matrix.h) != 0) return XgbError("boosting round " + std::to_string(round));
  }
  // Serving predicts on the pipeline thread: one thread, no pool to wake.
  if (XGBoosterSetParam(booster, "nthread", "1") != 0) return XgbError("nthread=1");
  return model;
}

Result<std::shared_ptr<const RankingModel>> RankingModel::Deserialize(const std::string& bytes, size_t num_features) {
  QuietXgboost();
  BoosterHandle booster = nullptr;
  if (XGBoosterCreate(nullptr, 0, &booster) != 0) return XgbError("XGBoosterCreate");
  std::shared_ptr<const RankingModel> model(new RankingModel(booster, num_features));
  if (XGBoosterLoadModelFromBuffer(booster, bytes.data(), bytes.size()) != 0) {
    return Status::InvalidArgument(std::string("not a ranking model XGBoost can read: ") + XGBGetLastError());
  }
  bst_ulong features = 0;
  if (XGBoosterGetNumFeature(booster, &features) != 0) return XgbError("XGBoosterGetNumFeature");
  if (features != num_features) {
    return Status::InvalidArgument("the ranking model reads " + std::to_string(features) + " features; this recd builds " +
                                   std::to_string(num_features) + " (retrain it)");
  }
  if (XGBoosterSetParam(booster, "nthread", "1") != 0) return XgbError("nthread=1");
  return model;
}

Result<std::string> RankingModel::Serialize() const {
  bst_ulong len = 0;
  const char* bytes = nullptr;
  if (XGBoosterSaveModelToBuffer(booster_, R"({"format": "json"})", &len, &bytes) != 0) {
    return XgbError("XGBoosterSaveModelToBuffer");
  }
  return std::string(bytes, len);
}

Status RankingModel::Predict(const float* rows, size_t n, std::vector<float>* scores) const {
  scores->clear();
  if (n == 0) return Status::Ok();
  char values[160];
  std::snprintf(values, sizeof values, R"({"data": [%llu, true], "shape": [%zu, %zu], "typestr": "<f4", "version": 3})",
                static_cast<unsigned long long>(reinterpret_cast<uintptr_t>(rows)), n, num_features_);
  static constexpr char kConfig[] =
      R"({"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false, "cache_id": 0, "missing": NaN})";
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* out = nullptr;
  if (XGBoosterPredictFromDense(booster_, values, kConfig, nullptr, &shape, &dim, &out) != 0) {
    return XgbError("XGBoosterPredictFromDense");
  }
  scores->assign(out, out + n);
  return Status::Ok();
}

double GroupHitRate(const RankingData& data, const std::vector<float>& scores, size_t begin_group, size_t end_group) {
  size_t row = 0;
  for (size_t g = 0; g < begin_group; ++g) row += data.groups[g];
  double hits = 0, total = 0;
  for (size_t g = begin_group; g < end_group; ++g) {
    const size_t size = data.groups[g];
    const double weight = g < data.weights.size() ? data.weights[g] : 1.0;
    total += weight;
    for (size_t r = row; r < row + size; ++r) {
      if (data.labels[r] != 1.0f) continue;
      // The labelled item's place: rows scoring above it, and tied rows before it.
      size_t above = 0;
      for (size_t o = row; o < row + size; ++o) above += scores[o] > scores[r] || (scores[o] == scores[r] && o < r);
      if (above < 10) hits += weight;
      break;
    }
    row += size;
  }
  return total > 0 ? hits / total : 0;
}

}  // namespace recd::rank
