// recd::daemon — the pipeline: source -> Intake (offset filter, decode, dead
// letters, one store batch with the offsets) -> ListScheduler -> ranker ->
// output sink, with every positive scored prequentially before it applies.
// The same pipeline runs live (Kafka at both ends, wall clock) and in replay (a
// file at both ends, a clock that follows event time).
//
// Run() executes the whole loop on the calling thread; RequestStop() may be
// called from any thread. No wait in the loop is unbounded: while the output
// is down intake pauses, the heartbeat goes on and a stop is honoured within
// pipeline.shutdown_timeout_ms. Shutdown order: stop intake, finish the batch
// in hand, commit, publish what is due, flush within the timeout, report what
// was not delivered, leave the group, close the store.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/status.h"
#include "daemon/config.h"
#include "daemon/admin_commands.h"
#include "daemon/list_shelf.h"
#include "daemon/stats.h"
#include "model/eval/prequential.h"
#include "store/graph_store.h"
#include "stream/sink.h"
#include "stream/source.h"

namespace recd::daemon {

// What a pipeline runs between. `event_clock`, when set, replaces the wall
// clock for scheduling and list metadata (replay: it follows event time).
struct PipelineEnds {
  std::unique_ptr<store::GraphStore> store;
  std::unique_ptr<stream::EventSource> source;
  std::unique_ptr<stream::OutputSink> sink;
  std::unique_ptr<Clock> event_clock;
};

// A retraining or a model swap, at the store's event time (replay plots them).
struct ModelEvent {
  EpochMillis event_time = 0;
  // "retrain" (a PinSage candidate finished: `detail` is the decision), "swap"
  // (another PinSage version serves), "ranker" (a learnt-ranker candidate
  // finished) or "ranker-swap" (another ranker orders the lists).
  std::string kind;
  std::string detail;
};

// Told each startup phase as it begins ("opening the store", ...), on the
// creating thread (main passes it on to systemd's STATUS=).
using StartupProgress = std::function<void(const std::string& phase)>;

class Pipeline {
 public:
  // Live: opens the store, the Kafka consumer and the Kafka output. `brokers`
  // overrides config.kafka.brokers (the embedded cluster's address).
  static Result<std::unique_ptr<Pipeline>> Create(const Config& config, const std::string& brokers,
                                                  const StartupProgress& progress = {});
  static Result<std::unique_ptr<Pipeline>> Create(const Config& config, PipelineEnds ends,
                                                  const StartupProgress& progress = {});
  ~Pipeline();

  // Runs until RequestStop(), a fatal error, or the end of a finite source
  // (then every due list is published first); OK after a clean shutdown.
  Status Run();
  void RequestStop();
  // Any thread: the keys of `next` that can change live (IsLiveKey) are applied
  // at the next turn, each logged; changed keys that need a restart are logged
  // and not applied (SIGHUP). A later call before that turn replaces it.
  void Reload(Config next);
  // The registry under model.dir as JSON (GET /v1/models); NotFound without one.
  Result<std::string> ModelsJson() const;
  const PipelineStats& stats() const;
  // Any thread: each user's newest published list (the pull API).
  const ListShelf& shelf() const;
  // Any thread: `command` served at the next loop turn (or between ranking
  // batches), its reply called on the pipeline thread (daemon/admin_commands.h);
  // Unavailable when the queue is full.
  Status Submit(AdminCommand command);
  // Read only after Run() has returned.
  const std::vector<ModelEvent>& model_events() const;
  // Read only after Run() has returned.
  const eval::PrequentialEvaluator& evaluator() const;
  const store::GraphStore& store() const;

 private:
  class Impl;
  explicit Pipeline(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace recd::daemon
