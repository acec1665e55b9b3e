// recd::daemon — PipelineStats: the pipeline's counters and gauges. The pipeline
// thread writes them; the admin endpoint, the watchdog and tests read them from
// any thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace recd::daemon {

// Monotonic totals since start, readable from any thread.
struct PipelineStats {
  std::atomic<uint64_t> messages{0};          // consumed records
  std::atomic<uint64_t> applied{0};           // events applied to the store
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> rejected{0};          // refused by the decoder (dead-lettered)
  std::atomic<uint64_t> dead_letters_lost{0}; // refused records the dead-letter output could never take
  std::atomic<uint64_t> skipped{0};           // redelivered records already in the store
  std::atomic<uint64_t> offset_rewinds{0};    // records found below the stored offset of a log that went backwards
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> lists_published{0};   // queued (not yet necessarily acknowledged)
  std::atomic<uint64_t> lists_delivered{0};
  std::atomic<uint64_t> delivery_failures{0};
  std::atomic<uint64_t> output_full{0};       // times a record found the output queue full
  std::atomic<uint64_t> heartbeat{0};         // bumped every loop turn (watchdog, /healthz)
  // Gauges, refreshed every loop turn by the pipeline thread.
  std::atomic<uint64_t> users{0}, items{0}, edges{0}, graph_view_bytes{0};
  std::atomic<uint64_t> lists_due{0};           // users waiting for a fresh list
  std::atomic<uint64_t> assigned_partitions{0};
  std::atomic<uint64_t> intake_paused{0};       // 1 while the output is backed up
  std::atomic<int64_t> latest_event_ms{0};      // newest event time applied
  // Prequential quality (model/prequential.h): positives scored against the
  // list their user held just before them.
  std::atomic<uint64_t> positives{0}, hits{0}, positives_without_list{0};
  std::atomic<double> ndcg_sum{0};
  std::atomic<double> window_hr{0}, window_ndcg{0};
  std::atomic<uint64_t> window_positives{0};
};

}  // namespace recd::daemon
