// recd::daemon — `recd replay`: the live pipeline's intake, store, scheduling
// and ranking driven from a JSONL file on event time, with no Kafka. Every
// list a user would have been sent goes to a file with its `published_at`;
// prequential quality goes to a CSV per event-time window and, optionally, a
// gnuplot PNG of HR@10 over event time. Same file + same config = the same bytes.
#pragma once

#include <string>

#include "base/status.h"
#include "daemon/config.h"

namespace recd::daemon {

struct ReplayOptions {
  std::string events;        // JSONL input (recgen -o, recreplay -o)
  std::string lists_out;     // every list, one JSON per line ("" = not written)
  std::string metrics_out;   // CSV of prequential metrics per window ("" = not written)
  std::string plot;          // PNG of HR@10 over event time ("" = not drawn; needs gnuplot)
  std::string similar_out;   // every recd.similar-items record, one JSON per line ("" = not written)
  std::string store_dir;     // "" = a fresh temporary store, removed afterwards
  double window_hours = 24;  // width of the CSV's event-time windows
};

// Runs the replay and prints a one-paragraph summary to stdout.
Status RunReplay(Config config, const ReplayOptions& options);

}  // namespace recd::daemon
