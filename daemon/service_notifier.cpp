#include "daemon/service_notifier.h"

#include <systemd/sd-daemon.h>

#include <algorithm>
#include <cstdio>

namespace recd::daemon {
namespace {

std::string RunningStatus(const PipelineStats& s, double lists_per_second) {
  const int64_t lag = s.consumer_lag.load();
  const uint64_t version = s.model_version.load();
  char model[32];
  if (version > 0) std::snprintf(model, sizeof model, "model v%04llu", static_cast<unsigned long long>(version));
  return "consuming " + std::to_string(s.assigned_partitions.load()) + " partition(s), lag " +
         (lag < 0 ? std::string("unknown") : std::to_string(lag) + " record(s)") + "; " +
         (version > 0 ? std::string(model) : std::string("no model (co-occurrence ranker)")) + "; " +
         std::to_string(static_cast<uint64_t>(lists_per_second + 0.5)) + " lists/s, " +
         std::to_string(s.lists_due.load()) + " due";
}

}  // namespace

ServiceNotifier::ServiceNotifier(boost::asio::io_context& io) : timer_(io) {
  uint64_t watchdog_usec = 0;
  if (sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0) {
    watchdog_ = true;
    tick_ = std::min(tick_, std::chrono::microseconds(watchdog_usec / 2));
  }
  Tick();  // the first extension at once: the start timeout may be short
  Arm();
}

void ServiceNotifier::SetPhase(const std::string& phase) {
  std::lock_guard<std::mutex> lock(mu_);
  phase_ = phase;
}

void ServiceNotifier::Running(const PipelineStats* stats) { stats_.store(stats); }

void ServiceNotifier::Stopping() {
  if (stopping_.exchange(true)) return;
  Send("STOPPING=1\nSTATUS=stopping: finishing the batch, publishing what is due, flushing");
}

void ServiceNotifier::Arm() {
  timer_.expires_after(tick_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;  // cancelled: the io_context is going away
    Tick();
    Arm();
  });
}

void ServiceNotifier::Tick() {
  const auto now = std::chrono::steady_clock::now();
  const PipelineStats* stats = stats_.load();
  // The watchdog is petted only while the loop turns; while starting, the
  // phases run on the main thread and the start timeout bounds them instead.
  bool beat_moved = false;
  if (stats != nullptr) {
    const uint64_t beat = stats->heartbeat.load();
    beat_moved = beat != last_beat_;
    last_beat_ = beat;
  }
  // A startup phase runs on the main thread: it is given the extensions (and
  // the watchdog) for at most kMostStartup; waiting for the brokers or the
  // group (the loop turns, petting the watchdog itself) for kMostWaiting.
  // Past either, systemd's own start timeout decides, so a startup that hangs
  // fails and Restart= applies.
  const bool in_phase = !ready_sent_ && !stopping_.load() && stats == nullptr;
  if (!in_phase && stats != nullptr && waiting_started_ == std::chrono::steady_clock::time_point{}) waiting_started_ = now;
  const bool extend = in_phase ? now - phase_started_ < kMostStartup : now - waiting_started_ < kMostWaiting;
  if (watchdog_ && (beat_moved || (in_phase && extend))) Send("WATCHDOG=1");
  if (stopping_.load()) return;

  if (!ready_sent_) {
    if (stats != nullptr && stats->heartbeat.load() > 0 && stats->assigned_partitions.load() > 0) {
      ready_sent_ = true;
      last_status_ = now;
      lists_at_last_status_ = stats->lists_published.load();
      Send("READY=1\nSTATUS=" + RunningStatus(*stats, 0));
      return;
    }
    std::string phase;
    if (stats != nullptr) {
      phase = stats->brokers_reachable.load() ? "waiting for the group to assign a partition of the events topic"
                                              : "waiting for a Kafka broker";
    } else {
      std::lock_guard<std::mutex> lock(mu_);
      phase = phase_;
    }
    // Re-sent at a third of the extension, and at once when the phase changes.
    if (phase != last_phase_ || (extend && now - last_extension_ >= kExtension / 3)) {
      last_phase_ = phase;
      last_extension_ = now;
      const std::string extension =
          "EXTEND_TIMEOUT_USEC=" + std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(kExtension).count()) + "\n";
      Send((extend ? extension : std::string()) + "STATUS=starting: " + phase);
    }
    return;
  }
  if (now - last_status_ >= kStatusEvery) {
    const uint64_t lists = stats->lists_published.load();
    const double seconds = std::chrono::duration<double>(now - last_status_).count();
    Send("STATUS=" + RunningStatus(*stats, static_cast<double>(lists - lists_at_last_status_) / seconds));
    last_status_ = now;
    lists_at_last_status_ = lists;
  }
}

void ServiceNotifier::Send(const std::string& message) const { sd_notify(0, message.c_str()); }

}  // namespace recd::daemon
