// recd::model — seasonal retraining: when to retrain (RetrainTrigger), what to
// train on (SelectTrainingInteractions: a time-decayed window plus the same
// weeks of earlier years), and one retraining from a snapshot to a decision
// (RetrainOnce: train a candidate, score it and the active model on the same
// newest slice, keep it in the registry, promote it when it wins by the margin).
// Retrainer runs RetrainOnce on a thread of its own. No LibTorch in this header.
//
// Event time throughout: the daemon and `recd replay` feed the store's newest
// event time, so a two-year replay retrains exactly when the daemon would have.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/event.h"
#include "base/job_thread.h"
#include "base/status.h"
#include "model/trained_model.h"
#include "model/training_set.h"

namespace recd::model {

struct RetrainConfig {
  bool enabled = false;
  // Triggers (0 turns each off).
  int64_t interval_ms = 7LL * 86'400'000;  // event time since the last training
  uint64_t every_events = 0;               // events applied since the last training
  double drift_fraction = 0;               // window HR@10 below (1 - this) x its level after the last swap
  uint64_t drift_min_positives = 2000;     // positives after a swap before its level is taken
  int64_t min_gap_ms = 86'400'000;         // event time between two trainings started by drift or count
  // Training data.
  double half_life_days = 30;              // an interaction `a` days old is kept with weight 2^(-a / this)
  double window_days = 180;                // older ones are dropped, save for seasonal recall
  double seasonal_weight = 0.5;            // weight of the same weeks of earlier years (0: no recall)
  double seasonal_before_days = 14;        // recalled: from this many days before today's date in every
  double seasonal_after_days = 42;         // earlier year to this many after (what sold next, last year)
  double validation_fraction = 0.1;        // the newest pairs: half stops training early, half decides promotion
  int64_t pair_window_ms = 0;              // > 0: overrides the recipe's positive-pair window
  bool warm_start = true;                  // start from the active model's weights (else fresh weights)
  PinSageRecipe recipe;                    // for a start from scratch (and the training settings of both)
  // Promotion.
  double promote_margin = 0.0;             // candidate HR@10 must be >= active x (1 + this)
  size_t keep_versions = 5;                // versions kept on disk (the active one always)
  double republish_per_second = 2000;      // active users' lists republished after a swap
  int64_t republish_active_ms = 30LL * 86'400'000;  // "active": an event within this much event time
};

// Why a trigger fired ("" when none did).
class RetrainTrigger {
 public:
  explicit RetrainTrigger(const RetrainConfig& config) : config_(config) {}
  // `now`: event time; `events`: applied so far; `window_hr` over the
  // evaluator's window, `positives`: scored so far; `demanded`: an operator asked.
  std::string Check(EpochMillis now, uint64_t events, double window_hr, uint64_t positives, bool demanded);
  // A training started at `now` after `events` events.
  void OnTrainingStarted(EpochMillis now, uint64_t events);
  // A new model serves from here on: its HR level is measured afresh.
  void OnSwap(uint64_t positives);
  double drift_level() const { return level_; }
  // A reload (SIGHUP): the event time between trainings (0 = off) from now on.
  void SetInterval(int64_t interval_ms) { config_.interval_ms = interval_ms; }

 private:
  RetrainConfig config_;
  EpochMillis first_seen_ = 0;   // the interval counts from the first event when nothing trained yet
  EpochMillis last_training_ = 0;
  uint64_t events_at_training_ = 0;
  uint64_t positives_at_swap_ = 0;
  double level_ = -1;            // HR after the last swap; < 0 while not measured
};

struct WindowStats {
  size_t recent = 0;    // kept from the decayed window
  size_t seasonal = 0;  // kept by seasonal recall
  size_t dropped = 0;
};

// The interactions a retraining at `now` learns from. Each is kept with
// probability max(2^(-age/half_life) within the window, seasonal_weight when its
// date lies in [today's date - seasonal_before, + seasonal_after] of an earlier
// year), decided by a hash of (user, item, time, seed), so the same inputs
// select the same set.
std::vector<TimedInteraction> SelectTrainingInteractions(const std::vector<TimedInteraction>& all, EpochMillis now,
                                                         const RetrainConfig& config, uint64_t seed,
                                                         WindowStats* stats = nullptr);

struct RetrainRequest {
  std::string model_root;
  std::string active_version;  // "" when none serves
  std::string device = "auto";
  EpochMillis now = 0;         // the snapshot's event time
  std::string trigger;         // why (logged and recorded)
  const std::atomic<bool>* cancel = nullptr;  // raised: training stops with Aborted
};

struct RetrainOutcome {
  std::string version;          // the candidate's directory name ("" when training failed)
  bool promoted = false;
  std::string decision;         // one line: why promoted or kept
  double candidate_hr = 0;      // on the promotion slice
  double active_hr = -1;        // the active model on the same slice (-1: none)
  size_t interactions = 0;      // selected
  WindowStats window;
  double seconds = 0;
  std::string trigger;
  EpochMillis now = 0;
};

// Trains a candidate on `set` (a consistent snapshot), scores it and the active
// model on the newest pairs neither trained nor stopped on, writes it to the
// registry with its metrics, lineage and decision, promotes it (LATEST) when it
// wins, and prunes old versions.
Result<RetrainOutcome> RetrainOnce(const TrainingSet& set, const RetrainRequest& request, const RetrainConfig& config);

// Runs jobs one at a time on its own thread (nice `nice`). A job reads its
// snapshot itself (`load`), so that a large read happens off the caller's thread.
class Retrainer {
 public:
  using SnapshotLoader = std::function<Result<TrainingSet>()>;
  Retrainer(RetrainConfig config, int nice);
  // False when a job is running (nothing is queued).
  bool Submit(RetrainRequest request, SnapshotLoader load) { return thread_.Submit({std::move(request), std::move(load)}); }
  bool busy() const { return thread_.busy(); }
  // The finished job's outcome, once.
  std::optional<Result<RetrainOutcome>> TakeOutcome() { return thread_.TakeOutcome(); }
  // At stop: the running retraining ends at its next check (between training
  // batches, inference chunks or phases) without writing a version.
  void Cancel() { thread_.Cancel(); }

 private:
  RetrainConfig config_;
  JobThread<std::pair<RetrainRequest, SnapshotLoader>, Result<RetrainOutcome>> thread_;  // after config_: reads it
};

}  // namespace recd::model
