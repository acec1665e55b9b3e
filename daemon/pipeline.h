// recd::daemon — the pipeline: consume -> decode (bad -> DLQ) -> apply (one
// RocksDB batch with the offsets) -> rank the touched users -> publish.
//
// Run() executes the whole loop on the calling thread; RequestStop() may be
// called from any thread (signal handler thread). Shutdown order: stop intake,
// finish the batch in hand, commit, flush the producer within the timeout,
// report what was not delivered, leave the group, close the store.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "base/status.h"
#include "daemon/config.h"

namespace recd::daemon {

// Monotonic totals since start, readable from any thread.
struct PipelineStats {
  std::atomic<uint64_t> messages{0};          // consumed records
  std::atomic<uint64_t> applied{0};           // events applied to the store
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> rejected{0};          // sent to the DLQ
  std::atomic<uint64_t> skipped{0};           // redelivered records already in the store
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> lists_published{0};   // produced (not yet necessarily acknowledged)
  std::atomic<uint64_t> lists_delivered{0};
  std::atomic<uint64_t> delivery_failures{0};
  std::atomic<uint64_t> heartbeat{0};         // bumped every loop turn (watchdog, /healthz)
  // Gauges, refreshed every loop turn by the pipeline thread.
  std::atomic<uint64_t> users{0}, items{0}, edges{0}, graph_view_bytes{0};
  std::atomic<uint64_t> lists_due{0};           // users waiting for a fresh list
  std::atomic<uint64_t> assigned_partitions{0};
  std::atomic<int64_t> latest_event_ms{0};      // newest event time applied
};

class Pipeline {
 public:
  // Opens the store, the consumer and the publisher. `brokers` overrides
  // config.kafka.brokers (the embedded cluster's address).
  static Result<std::unique_ptr<Pipeline>> Create(const Config& config, const std::string& brokers);
  ~Pipeline();

  // Runs until RequestStop() or a fatal error; returns OK after a clean shutdown.
  Status Run();
  void RequestStop();
  const PipelineStats& stats() const;

 private:
  class Impl;
  explicit Pipeline(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace recd::daemon
