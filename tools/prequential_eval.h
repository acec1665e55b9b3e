// receval --prequential: the streaming protocol of `recd replay` for the
// baselines (updated after every event, in file order) and for the lists a
// replay wrote, with per-user bootstrap intervals and a breakdown by the time
// since the user's previous event.
#pragma once

#include <string>

#include "model/prequential_baselines.h"

namespace recd::tools {

struct PrequentialEvalOptions {
  std::string events;
  std::string lists;  // a `recd replay --lists-out` file to score too ("" = none)
  std::string json;   // "" = no JSON
  double positive_rating = 4.0;
  // Only positives with score_from <= ts < score_until are scored (every event
  // is still learnt from): a validation slice to tune on, a test slice to report.
  EpochMillis score_from = INT64_MIN, score_until = INT64_MAX;
  model::StreamingBaselineSettings baselines;
  int bootstrap_samples = 1000;
};

// Prints a Markdown table; returns a process exit code.
int RunPrequentialEval(const PrequentialEvalOptions& options);

}  // namespace recd::tools
