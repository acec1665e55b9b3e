// recd::daemon — PipelineStats: the pipeline's counters and gauges. The pipeline
// thread writes them; the admin endpoint, the watchdog and tests read them from
// any thread.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace recd::daemon {

// Latencies in fixed buckets (milliseconds): one writer, any number of readers.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 16> kBoundsMs = {1,    2,    5,    10,    20,    50,     100,    200,
                                                      500,  1000, 2000, 5000,  10000, 30000, 60000, 600000};
  void Observe(double ms) {
    const size_t b = static_cast<size_t>(std::lower_bound(kBoundsMs.begin(), kBoundsMs.end(), ms) - kBoundsMs.begin());
    counts_[b].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_ms_.store(sum_ms_.load(std::memory_order_relaxed) + ms, std::memory_order_relaxed);
  }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum_ms() const { return sum_ms_.load(std::memory_order_relaxed); }
  // Observations at or below kBoundsMs[b] (b == kBoundsMs.size(): all).
  uint64_t cumulative(size_t b) const {
    uint64_t n = 0;
    for (size_t i = 0; i <= std::min(b, kBoundsMs.size()); ++i) n += counts_[i].load(std::memory_order_relaxed);
    return n;
  }
  // The q-quantile in ms, interpolated linearly inside its bucket (0 when empty).
  double Quantile(double q) const {
    const uint64_t total = cumulative(kBoundsMs.size());
    if (total == 0) return 0;
    const double rank = q * static_cast<double>(total);
    uint64_t below = 0;
    for (size_t b = 0; b <= kBoundsMs.size(); ++b) {
      const uint64_t in = counts_[b].load(std::memory_order_relaxed);
      if (in > 0 && static_cast<double>(below + in) >= rank) {
        const double lo = b == 0 ? 0 : kBoundsMs[b - 1];
        const double hi = b < kBoundsMs.size() ? kBoundsMs[b] : lo * 2;
        return lo + (hi - lo) * std::clamp((rank - static_cast<double>(below)) / static_cast<double>(in), 0.0, 1.0);
      }
      below += in;
    }
    return kBoundsMs.back();
  }

 private:
  std::array<std::atomic<uint64_t>, kBoundsMs.size() + 1> counts_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_ms_{0};
};

// Milliseconds on the steady clock, for ages compared across threads.
inline int64_t SteadyNowMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Monotonic totals since start, readable from any thread.
struct PipelineStats {
  std::atomic<uint64_t> messages{0};          // consumed records
  std::atomic<uint64_t> applied{0};           // events applied to the store
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> rejected{0};          // refused by the decoder (dead-lettered)
  std::atomic<uint64_t> dead_letters_lost{0}; // refused records the dead-letter output could never take
  std::atomic<uint64_t> skipped{0};           // redelivered records already in the store
  std::atomic<uint64_t> offset_rewinds{0};    // partitions found replaced (recreated, truncated) under the stored offset
  std::atomic<uint64_t> records_lost_to_retention{0};  // deleted by retention before they were applied (offset_rewind = reset)
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> lists_published{0};   // queued (not yet necessarily acknowledged)
  std::atomic<uint64_t> lists_delivered{0};
  std::atomic<uint64_t> delivery_failures{0};
  std::atomic<uint64_t> output_full{0};       // times a record found the output queue full
  std::atomic<uint64_t> output_restarts{0};   // producers replaced after a fatal error
  std::atomic<uint64_t> input_restarts{0};    // consumers replaced after a fatal error
  // Steady-clock ms (SteadyNowMillis) of the first output failure since
  // the last success; 0 while the output works. /healthz fails after 30 s of it.
  std::atomic<int64_t> output_failing_since_ms{0};
  std::atomic<uint64_t> heartbeat{0};         // bumped every loop turn (watchdog, /healthz)
  // Gauges, refreshed every loop turn by the pipeline thread.
  std::atomic<uint64_t> users{0}, items{0}, edges{0}, graph_view_bytes{0};
  std::atomic<uint64_t> store_memtable_bytes{0};  // RocksDB's memtables, all column families (store.memtable_budget_mb)
  std::atomic<uint64_t> users_evicted{0};       // cold users evicted by this process (store.max_users, user_idle_days)
  std::atomic<uint64_t> lists_due{0};           // users waiting for a fresh list
  std::atomic<uint64_t> assigned_partitions{0};
  // Records the events topic holds beyond what recd has read (cached high
  // watermarks, refreshed about once a second); -1 while unknown.
  std::atomic<int64_t> consumer_lag{-1};
  std::atomic<uint64_t> intake_paused{0};       // 1 while the output is backed up
  std::atomic<int64_t> latest_event_ms{0};      // newest event time applied
  // Whether the output's producer holds a connection to a broker (librdkafka's
  // statistics, every second), and since when (steady ms, SteadyNowMillis) it
  // has not; 0 while it does. /readyz follows them.
  std::atomic<bool> brokers_reachable{false};
  std::atomic<int64_t> brokers_unreachable_since_ms{0};
  // Since when (steady ms) the store has refused writes for want of disk space;
  // 0 while it takes them. Intake holds its batch and retries meanwhile.
  std::atomic<int64_t> store_unwritable_since_ms{0};
  std::atomic<uint64_t> store_write_failures{0};  // failed batch commits, each retried
  // Prequential quality (model/prequential.h): positives scored against the
  // list their user held just before them.
  std::atomic<uint64_t> positives{0}, hits{0}, positives_without_list{0};
  std::atomic<double> ndcg_sum{0};
  std::atomic<double> window_hr{0}, window_ndcg{0};
  std::atomic<uint64_t> window_positives{0};
  // Freshness: from a user's first unreflected event's arrival (the poll that
  // brought it; its event time in replay) to the publication of their next list.
  LatencyHistogram freshness;
  // The PinSage model (all 0 while none is active).
  std::atomic<uint64_t> model_active{0};
  std::atomic<uint64_t> model_version{0};  // N of the serving version vNNNN (0: none)
  std::atomic<uint64_t> model_items_refreshed{0}, model_dirty{0}, model_loads{0}, model_load_failures{0};
  std::atomic<uint64_t> similar_items_published{0};
  // Retraining (daemon/pipeline.cpp).
  std::atomic<uint64_t> retrains{0}, retrain_failures{0}, promotions{0}, model_swaps{0}, retrain_running{0};
  std::atomic<uint64_t> republish_queued{0};
  std::atomic<double> last_retrain_seconds{0}, last_candidate_hr{0}, last_active_hr{0};
  // The learnt ranker (daemon/pipeline.cpp, model/rank/ranker_trainer.h).
  std::atomic<uint64_t> ranker_samples{0}, ranker_sample_misses{0}, ranker_buffered{0};
  std::atomic<uint64_t> ranker_trainings{0}, ranker_failures{0}, ranker_promotions{0}, ranker_active{0};
  std::atomic<uint64_t> ranker_predict_failures{0};
  std::atomic<double> ranker_last_seconds{0}, ranker_last_candidate_hr{0}, ranker_last_active_hr{0};
};

}  // namespace recd::daemon
