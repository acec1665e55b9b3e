// recd::eval — offline evaluation: a temporal split of an interaction log, the
// next-item protocol with full ranking over all items (seen items excluded), and
// the baselines every model must beat: the streaming baselines (baselines.h)
// fitted on the train slice, and BPR matrix factorisation.
// Pure in-memory code; tools/receval feeds it files.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/event.h"
#include "model/eval/baselines.h"

namespace recd::eval {

struct LoggedInteraction {
  uint32_t user;
  uint32_t item;
  EpochMillis ts;
  EventType type;
  double rating = 0;  // kRating only
};

// A log with dense ids; interactions sorted by event time.
struct InteractionLog {
  std::vector<std::string> users, items;
  std::vector<LoggedInteraction> interactions;
};

// Train: everything before `at`; test: everything from `at` on.
struct TemporalSplit {
  EpochMillis at = 0;
  std::vector<LoggedInteraction> train, test;
};
TemporalSplit SplitAt(const InteractionLog& log, EpochMillis at);
// The event time below which `train_fraction` of the interactions fall.
EpochMillis SplitTimeForFraction(const InteractionLog& log, double train_fraction);

// A model under evaluation: fitted on the train slice, then asked for a score of
// every item for one user (higher is better). Score may be called from one thread.
class Scorer {
 public:
  virtual ~Scorer() = default;
  virtual std::string name() const = 0;
  virtual void Fit(const InteractionLog& log, const std::vector<LoggedInteraction>& train, EpochMillis now) = 0;
  virtual void Score(uint32_t user, std::vector<float>* scores) const = 0;
};

struct EvalMetrics {
  std::string model;
  size_t users = 0;        // test users with a train history and an unseen next item
  double hr_at_10 = 0;     // the next item is in the top 10
  double ndcg_at_10 = 0;   // 1/log2(1 + rank) when in the top 10
  double recall_at_20 = 0; // share of the user's distinct unseen test items in the top 20
  double mrr = 0;          // 1/rank over the full ranking
  double coverage_at_10 = 0;  // distinct items in anyone's top 10 / catalogue size
};

// The next-item protocol: for each user with train history, the first test item
// they had not seen in train is the target; all items are ranked, train items excluded.
EvalMetrics Evaluate(const Scorer& scorer, const InteractionLog& log, const TemporalSplit& split);

struct BaselineSettings {
  StreamingBaselineSettings streaming;  // popularity, recent popularity, item-kNN, rules, session kNN, EASE
  uint32_t bpr_dim = 64;
  uint32_t bpr_epochs = 30;
  float bpr_learning_rate = 0.05f;
  float bpr_regularisation = 0.0025f;
  uint64_t seed = 1;
};
std::vector<std::unique_ptr<Scorer>> MakeBaselines(const BaselineSettings& settings);

}  // namespace recd::eval
