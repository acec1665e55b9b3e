// recd::daemon — ServiceNotifier tells the service manager where recd stands
// (sd_notify; every message is a no-op without $NOTIFY_SOCKET). It runs on a
// timer of the io_context it is given:
//   - starting: STATUS=starting: <phase>, with EXTEND_TIMEOUT_USEC re-sent
//     before the extension runs out, so a long store rebuild or catalogue
//     embedding does not hit the unit's start timeout (within bounds, below);
//   - READY=1 once the pipeline's loop turns and the group has assigned it a
//     partition (until then STATUS= says what it waits for, and the start
//     timeout is extended for at most kMostWaiting);
//   - STATUS= every few seconds: partitions, lag, the serving model, lists/s;
//   - WATCHDOG=1 (when the unit sets WatchdogSec=) while the loop's heartbeat
//     moves, and while a startup phase is under way;
//   - STOPPING=1 once Stopping() is called.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "daemon/stats.h"

namespace recd::daemon {

class ServiceNotifier {
 public:
  // How long each extension of the start timeout lasts (re-sent every 10 s),
  // and for how long extensions go on: a startup phase (store open, catalogue,
  // model embedding) at most kMostStartup, waiting for a broker or the group's
  // assignment at most kMostWaiting. Past them systemd's TimeoutStartSec rules.
  static constexpr std::chrono::seconds kExtension{30};
  static constexpr std::chrono::minutes kMostStartup{60};
  static constexpr std::chrono::minutes kMostWaiting{5};
  static constexpr std::chrono::seconds kStatusEvery{5};

  explicit ServiceNotifier(boost::asio::io_context& io);
  // Any thread: the startup phase under way ("opening the store", ...).
  void SetPhase(const std::string& phase);
  // Any thread: the pipeline runs and publishes `stats`, which must outlive
  // this notifier's io_context run.
  void Running(const PipelineStats* stats);
  // Any thread: an orderly stop has begun.
  void Stopping();

 private:
  void Arm();
  void Tick();
  void Send(const std::string& message) const;

  boost::asio::steady_timer timer_;
  std::chrono::microseconds tick_{std::chrono::seconds(1)};
  bool watchdog_ = false;  // the unit set WatchdogSec=

  std::mutex mu_;            // guards phase_ (written by the starting thread)
  std::string phase_ = "starting";
  std::atomic<const PipelineStats*> stats_{nullptr};
  std::atomic<bool> stopping_{false};

  // The timer's own state (its handlers run one at a time).
  bool ready_sent_ = false;
  std::string last_phase_;
  uint64_t last_beat_ = ~uint64_t(0);
  std::chrono::steady_clock::time_point last_extension_{}, last_status_{};
  const std::chrono::steady_clock::time_point phase_started_ = std::chrono::steady_clock::now();  // startup began
  std::chrono::steady_clock::time_point waiting_started_{};  // the pipeline first ran (set by the timer)
  uint64_t lists_at_last_status_ = 0;
};

}  // namespace recd::daemon
