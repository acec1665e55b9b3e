// recd::rank — where the learnt ranker's training data comes from and how a
// candidate becomes the active ranker:
//   - SampleBuffer: the labelled slates (one group per labelled event: the
//     slate its user held then, with features, and the row of the item taken),
//     newest last, at most `max_groups` (the oldest go first; training weighs
//     the rest by 2^(-age / half_life)). Kept across restarts in
//     <ranker.model_dir>/samples.bin (SaveRankerSamples): written by the
//     trainer thread before a training (at most hourly) and by the pipeline at
//     stop, read back at a live start. A kill loses the slates labelled since the last write:
//     training data only, never an event or a list.
//   - TrainRanker: one training from a snapshot of the buffer to a decision:
//     trains on the older groups, scores the candidate and the active ranker
//     (the hand blend's order when none) by HR@10 on the newest
//     `validation_fraction` of them that neither trained on, and writes the
//     candidate to the registry with its lineage and decision. Making it
//     LATEST, and pruning, are the caller's (the pipeline thread's) to do.
//     XGBoost keeps per-thread state in each booster, freed only on the thread
//     that frees the booster: the trainer reads the active version from the
//     registry into a booster of its own, and hands the candidate over as a
//     fresh copy read from its bytes.
//   - RankerTrainer: runs TrainRanker jobs one at a time on its own thread.
#pragma once

#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/job_thread.h"
#include "model/rank/features.h"
#include "model/rank/ranker_registry.h"
#include "model/rank/ranking_model.h"

namespace recd::rank {

// Which events label a slate.
enum class RankerLabels { kPositives, kDiscovery, kBoth };

struct RankerModelConfig {
  bool enabled = false;              // learn a ranking model from the stream and serve it once promoted
  std::string dir;                   // its registry ("" in the daemon's config: <store.path>-ranker)
  RankerLabels labels = RankerLabels::kPositives;
  float positive_weight = 1;         // a positive's slate weighs this much more than a discovery's (labels = both)
  size_t max_groups = 10000;         // labelled slates kept (the newest)
  size_t min_groups = 300;           // fewer: no training
  uint64_t train_every = 2000;       // a training after this many new groups (0: off)
  int64_t interval_ms = 30LL * 86'400'000;  // and after this much event time since the last (0: off)
  double half_life_days = 30;        // a group `a` days old weighs 2^(-a / this) in training
  double validation_fraction = 0.2;  // the newest share of groups that decides promotion
  size_t train_negatives = 30;       // per slate in training: the top half by hand-blend order and the rest
                                     // spread evenly over the remainder (validation scores whole slates)
  double promote_margin = 0.0;       // candidate HR@10 must be >= active x (1 + this)
  size_t keep_versions = 5;
  int thread_nice = 15;
  RankingParams params;
  FeatureConfig features;
};

struct SampleGroup {
  EpochMillis ts = 0;
  std::vector<float> rows;  // slate size x kNumFeatures
  uint32_t taken = 0;       // the row of the item taken
  float weight = 1;         // in training and validation (before decay): positive_weight for positives
};

// samples.bin: the groups, oldest first, under the feature layout of this
// build (a file written under another layout, or corrupt, is refused whole).
Status SaveRankerSamples(const std::string& root, const std::vector<std::shared_ptr<const SampleGroup>>& groups);
// NotFound when there is no file; Corruption when it is refused.
Result<std::vector<SampleGroup>> LoadRankerSamples(const std::string& root);
// The same from the file's bytes; `path` names it in messages.
Result<std::vector<SampleGroup>> ParseRankerSamples(std::string_view bytes, const std::string& path);

class SampleBuffer {
 public:
  explicit SampleBuffer(size_t max_groups) : max_groups_(max_groups) {}
  void Add(SampleGroup group);
  // The groups now held, oldest first (shared, immutable: cheap to hand to a thread).
  std::vector<std::shared_ptr<const SampleGroup>> Snapshot() const { return {groups_.begin(), groups_.end()}; }
  size_t size() const { return groups_.size(); }
  uint64_t added() const { return added_; }

 private:
  size_t max_groups_;
  std::deque<std::shared_ptr<const SampleGroup>> groups_;
  uint64_t added_ = 0;
};

struct RankerJob {
  std::vector<std::shared_ptr<const SampleGroup>> groups;  // oldest first
  std::string active_version;                              // "": the hand blend serves
  EpochMillis active_trained_until = 0;                    // the newest slate the active model trained on
  std::string trigger;
  EpochMillis now = 0;                                     // the snapshot's event time
  bool keep_samples = false;                               // write `groups` to samples.bin first
};

struct RankerOutcome {
  RankerManifest manifest;                 // as written (version, metrics, decision)
  std::shared_ptr<const RankingModel> model;  // the candidate (serve it when manifest.promoted)
};

// One training from `job` to a decision (see the header comment). Deterministic
// for the same job and config.
Result<RankerOutcome> TrainRanker(const RankerJob& job, const RankerModelConfig& config,
                                  const std::atomic<bool>* cancel = nullptr);

// Runs TrainRanker jobs one at a time on its own thread (nice config.thread_nice).
class RankerTrainer {
 public:
  explicit RankerTrainer(RankerModelConfig config);
  // False when a job is running (nothing is queued).
  bool Submit(RankerJob job) { return thread_.Submit(std::move(job)); }
  bool busy() const { return thread_.busy(); }
  // The finished job's outcome, once.
  std::optional<Result<RankerOutcome>> TakeOutcome() { return thread_.TakeOutcome(); }

 private:
  RankerModelConfig config_;
  JobThread<RankerJob, Result<RankerOutcome>> thread_;  // after config_: reads it
};

}  // namespace recd::rank
