// receval --prequential: the streaming protocol of `recd replay` for the
// baselines (updated after every event, in file order) and for the lists a
// replay wrote, in two protocols side by side (positives; discovery: first
// touches of items new to the user), with per-user bootstrap intervals and a
// breakdown by the time since the user's previous event.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "model/eval/baselines.h"

namespace recd::tools {

struct PrequentialEvalOptions {
  std::string events;
  std::string lists;  // a `recd replay --lists-out` file to score too ("" = none)
  std::string json;   // "" = no JSON
  double positive_rating = 4.0;
  // Only events with score_from <= ts < score_until are scored (every event
  // is still learnt from): a validation slice to tune on, a test slice to report.
  EpochMillis score_from = INT64_MIN, score_until = INT64_MAX;
  eval::StreamingBaselineSettings baselines;
  std::vector<std::string> baseline_keys;  // empty: every baseline
  int bootstrap_samples = 1000;
};

// The baselines' settings as command-line options (shared by both protocols of receval).
void AddStreamingBaselineOptions(CLI::App& app, eval::StreamingBaselineSettings* settings);

// Prints Markdown tables; returns a process exit code.
int RunPrequentialEval(const PrequentialEvalOptions& options);

}  // namespace recd::tools
