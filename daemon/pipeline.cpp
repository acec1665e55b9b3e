#include "daemon/pipeline.h"

#include <chrono>
#include <deque>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "base/log.h"
#include "base/time.h"
#include "model/baseline_ranker.h"
#include "store/graph_store.h"
#include "stream/codec.h"
#include "stream/kafka.h"

namespace recd::daemon {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Delivery tags: DLQ records carry the top bit, lists carry the user's dense id.
constexpr uint64_t kDlqTag = uint64_t(1) << 63;

}  // namespace

class Pipeline::Impl {
 public:
  Impl(const Config& config) : config_(config), decoder_(config.decoder) {}

  Status Open(const std::string& brokers);
  Status Run();

  std::atomic<bool> stop{false};
  PipelineStats stats;

 private:
  Status ProcessBatch(std::vector<stream::ConsumedMessage>& messages);
  Status WaitForDeadLetters();
  void PublishLists(const std::vector<UserId>& users);
  void OnDelivery(const stream::Delivery& d);
  void ClearDeliveredPending();
  // Ranks and publishes users touched since their last list, oldest first. A
  // sweep starts at most once per publish_interval_ms; while records keep
  // arriving, ranking gets at most rank_share of the loop's time, and never more
  // than rank_slice_ms at a stretch; the rest of the sweep continues on later turns.
  // `drain` publishes every dirty user now, whatever the interval and budget.
  void PublishDirty(bool backlog, Clock::duration ingest_time, bool drain = false);
  void LogStats(bool force);
  void UpdateGauges();

  Config config_;
  stream::EventDecoder decoder_;
  std::unique_ptr<store::GraphStore> store_;
  std::unique_ptr<model::BaselineRanker> ranker_;
  std::unique_ptr<stream::Publisher> publisher_;
  std::unique_ptr<stream::EventConsumer> consumer_;

  // Lists in flight per user; a user's pending mark is cleared only when none is.
  std::unordered_map<uint32_t, uint32_t> lists_in_flight_;
  std::vector<UserId> delivered_;
  uint64_t dlq_in_flight_ = 0;
  std::string dlq_failure_;

  // Users whose committed state changed since their last list (their pending
  // marks are already durable), in first-touch order.
  std::deque<UserId> dirty_;
  std::unordered_set<uint32_t> dirty_set_;
  size_t sweep_left_ = 0;  // users still to rank in the current sweep (front of dirty_)
  Clock::time_point last_sweep_ = Clock::now();

  // Reused across batches.
  std::vector<Event> events_;
  Clock::time_point last_stats_ = Clock::now();
  uint64_t last_stats_messages_ = 0;
  uint64_t gauge_turns_ = 0;
};

Status Pipeline::Impl::Open(const std::string& brokers) {
  auto store = store::GraphStore::Open(config_.store);
  if (!store.ok()) return store.status();
  store_ = std::move(store.value());
  ranker_ = std::make_unique<model::BaselineRanker>(*store_, config_.ranker);

  stream::KafkaConfig kafka{brokers, config_.kafka.client_id, config_.kafka.producer};
  auto publisher = stream::Publisher::Create(kafka, [this](const stream::Delivery& d) { OnDelivery(d); });
  if (!publisher.ok()) return publisher.status();
  publisher_ = std::move(publisher.value());

  stream::ConsumerConfig cc;
  cc.kafka = {brokers, config_.kafka.client_id, config_.kafka.consumer};
  cc.group_id = config_.kafka.group_id;
  cc.group_instance_id = config_.kafka.group_instance_id;
  cc.topics = {config_.kafka.events_topic};
  cc.start_from = config_.kafka.start_from;
  const store::GraphStore* s = store_.get();
  auto consumer = stream::EventConsumer::Create(
      cc, [s](const std::string& topic, int32_t partition) { return s->StoredOffset(topic, partition); });
  if (!consumer.ok()) return consumer.status();
  consumer_ = std::move(consumer.value());
  return Status::Ok();
}

void Pipeline::Impl::OnDelivery(const stream::Delivery& d) {
  if (d.tag & kDlqTag) {
    --dlq_in_flight_;
    if (!d.ok) dlq_failure_ = d.error;
    return;
  }
  auto it = lists_in_flight_.find(static_cast<uint32_t>(d.tag));
  if (it == lists_in_flight_.end()) return;
  if (d.ok) {
    stats.lists_delivered.fetch_add(1, std::memory_order_relaxed);
  } else {
    // The pending mark stays, so the list is published again after a restart.
    stats.delivery_failures.fetch_add(1, std::memory_order_relaxed);
    RECD_WARN("list for user " << store_->ExternalId(UserId(it->first)) << " not delivered: " << d.error);
  }
  if (--it->second == 0) {
    if (d.ok) delivered_.emplace_back(it->first);
    lists_in_flight_.erase(it);
  }
}

void Pipeline::Impl::ClearDeliveredPending() {
  if (delivered_.empty()) return;
  if (Status s = store_->ClearPending(delivered_); !s.ok()) {
    RECD_WARN("could not clear delivered lists' pending marks (they will be republished): " << s.ToString());
  }
  delivered_.clear();
}

void Pipeline::Impl::PublishLists(const std::vector<UserId>& users) {
  const EpochMillis now = WallClockMillis();
  for (UserId u : users) {
    const RecommendationList list = ranker_->Recommend(u, now);
    const std::string value = stream::EncodeRecommendationList(list);
    const Status s = publisher_->Produce(config_.kafka.recommendations_topic, list.user_id, value, {}, u.value);
    if (!s.ok()) {
      stats.delivery_failures.fetch_add(1, std::memory_order_relaxed);
      RECD_WARN("list for user " << list.user_id << " not queued: " << s.ToString());
      continue;
    }
    ++lists_in_flight_[u.value];
    stats.lists_published.fetch_add(1, std::memory_order_relaxed);
  }
}

Status Pipeline::Impl::WaitForDeadLetters() {
  // Offsets of rejected records may only be committed once the DLQ holds them.
  const auto deadline = Clock::now() + milliseconds(config_.pipeline.shutdown_timeout_ms);
  while (dlq_in_flight_ > 0) {
    publisher_->Poll(milliseconds(20));
    if (!dlq_failure_.empty()) {
      return Status::Unavailable("dead-letter topic " + config_.kafka.dlq_topic + " refused a record: " +
                                 dlq_failure_ + "; the batch is not committed and will be re-read");
    }
    if (stop.load() && Clock::now() > deadline) {
      return Status::TimedOut("dead-letter records not acknowledged before shutdown; the batch is not "
                              "committed and will be re-read on restart");
    }
  }
  return Status::Ok();
}

Status Pipeline::Impl::ProcessBatch(std::vector<stream::ConsumedMessage>& messages) {
  std::map<std::pair<std::string, int32_t>, int64_t> next_offsets;
  events_.resize(messages.size());
  size_t n_events = 0;
  uint64_t rejected = 0;
  stream::Rejection rejection;
  for (const auto& m : messages) {
    const auto key = std::make_pair(m.topic(), m.partition());
    auto it = next_offsets.find(key);
    int64_t expected = 0;
    if (it != next_offsets.end()) {
      expected = it->second;
    } else if (auto stored = store_->StoredOffset(m.topic(), m.partition())) {
      expected = *stored;
    }
    if (m.offset() < expected) {  // already applied (redelivery after a rebalance)
      stats.skipped.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    next_offsets[key] = m.offset() + 1;
    if (decoder_.Decode(m.payload(), &events_[n_events], &rejection)) {
      ++n_events;
      continue;
    }
    ++rejected;
    const std::vector<std::pair<std::string, std::string>> headers = {
        {"recd.error", rejection.message},
        {"recd.error.code", std::string(stream::Name(rejection.reason))},
        {"recd.source.topic", m.topic()},
        {"recd.source.partition", std::to_string(m.partition())},
        {"recd.source.offset", std::to_string(m.offset())}};
    RECD_DEBUG("rejected " << m.topic() << "[" << m.partition() << "]@" << m.offset() << ": " << rejection.message);
    RECD_RETURN_IF_ERROR(publisher_->Produce(config_.kafka.dlq_topic, m.key(), m.payload(), headers, kDlqTag));
    ++dlq_in_flight_;
  }
  events_.resize(n_events);
  stats.messages.fetch_add(messages.size(), std::memory_order_relaxed);
  if (next_offsets.empty()) return Status::Ok();
  RECD_RETURN_IF_ERROR(WaitForDeadLetters());

  std::vector<store::PartitionOffset> offsets;
  std::vector<std::pair<std::pair<std::string, int32_t>, int64_t>> commit;
  for (const auto& [tp, next] : next_offsets) {
    offsets.push_back({tp.first, tp.second, next});
    commit.push_back({tp, next});
  }
  auto outcome = store_->Apply(events_, offsets, rejected);
  if (!outcome.ok()) return outcome.status();
  stats.applied.fetch_add(outcome->applied, std::memory_order_relaxed);
  stats.duplicates.fetch_add(outcome->duplicates, std::memory_order_relaxed);
  stats.rejected.fetch_add(rejected, std::memory_order_relaxed);
  stats.batches.fetch_add(1, std::memory_order_relaxed);
  consumer_->CommitAsync(commit);  // informational: lag dashboards

  for (UserId u : outcome->touched_users) {
    if (dirty_set_.insert(u.value).second) dirty_.push_back(u);
  }
  return Status::Ok();
}

void Pipeline::Impl::PublishDirty(bool backlog, Clock::duration ingest_time, bool drain) {
  const auto start = Clock::now();
  if (drain) sweep_left_ = 0;
  if (sweep_left_ == 0) {
    if (dirty_.empty()) return;
    if (!drain && start - last_sweep_ < milliseconds(config_.pipeline.publish_interval_ms)) return;
    sweep_left_ = dirty_.size();  // users dirtied from now on wait for the next sweep
    last_sweep_ = start;
    ranker_->RefreshTrending();
  }
  // Busy: a share of this turn's intake time. Idle: one slice. Either way intake
  // is polled again within rank_slice_ms, so a long sweep never stalls it.
  const double share = config_.pipeline.rank_share;
  const Clock::duration slice = milliseconds(config_.pipeline.rank_slice_ms);
  const auto budget =
      backlog ? std::min(slice, std::chrono::duration_cast<Clock::duration>(ingest_time * (share / (1.0 - share))))
              : slice;
  std::vector<UserId> batch;
  while (sweep_left_ > 0) {
    batch.push_back(dirty_.front());
    dirty_set_.erase(dirty_.front().value);
    dirty_.pop_front();
    --sweep_left_;
    if (batch.size() == 64) {  // check the clock every few lists
      PublishLists(batch);
      batch.clear();
      if (!drain && Clock::now() - start > budget) break;
    }
  }
  PublishLists(batch);
}

void Pipeline::Impl::UpdateGauges() {
  const store::GraphView& view = store_->view();
  stats.users.store(view.num_users(), std::memory_order_relaxed);
  stats.items.store(view.num_items(), std::memory_order_relaxed);
  stats.edges.store(view.num_edges(), std::memory_order_relaxed);
  stats.lists_due.store(dirty_.size(), std::memory_order_relaxed);
  stats.assigned_partitions.store(consumer_->AssignedPartitions(), std::memory_order_relaxed);
  stats.latest_event_ms.store(store_->LatestEventTime(), std::memory_order_relaxed);
  // Walking every list is not free: refresh the memory gauge about once a stats interval.
  if (gauge_turns_++ % 256 == 0) stats.graph_view_bytes.store(view.MemoryBytes(), std::memory_order_relaxed);
}

void Pipeline::Impl::LogStats(bool force) {
  const auto now = Clock::now();
  const double secs = std::chrono::duration<double>(now - last_stats_).count();
  if (!force && secs * 1000 < config_.pipeline.stats_interval_ms) return;
  const uint64_t messages = stats.messages.load();
  const auto& c = store_->counters();
  RECD_INFO("stats: " << static_cast<uint64_t>((messages - last_stats_messages_) / std::max(secs, 1e-9))
                      << " msg/s; totals: messages=" << messages << " applied=" << stats.applied.load()
                      << " rejected=" << stats.rejected.load() << " duplicates=" << stats.duplicates.load()
                      << " lists published=" << stats.lists_published.load()
                      << " delivered=" << stats.lists_delivered.load() << "; store: clicks=" << c.applied[0]
                      << " purchases=" << c.applied[1] << " ratings=" << c.applied[2]
                      << " users=" << store_->view().num_users() << " items=" << store_->view().num_items()
                      << " edges=" << store_->view().num_edges() << " partitions=" << consumer_->AssignedPartitions());
  last_stats_ = now;
  last_stats_messages_ = messages;
}

Status Pipeline::Impl::Run() {
  // Lists committed but never acknowledged before the last stop: publish them again.
  const std::vector<UserId> pending = store_->PendingUsers();
  if (!pending.empty()) {
    RECD_INFO("republishing " << pending.size() << " list(s) not acknowledged before the last stop");
    ranker_->RefreshTrending();
    PublishLists(pending);
  }
  std::vector<stream::ConsumedMessage> messages;
  Status failure;
  while (!stop.load()) {
    stats.heartbeat.fetch_add(1, std::memory_order_relaxed);
    messages.clear();
    const auto turn_start = Clock::now();
    // With a sweep under way, only take what is already there: idle time goes to ranking.
    const auto wait = sweep_left_ > 0 ? milliseconds(0) : milliseconds(config_.pipeline.batch_max_wait_ms);
    const Status polled = consumer_->Poll(config_.pipeline.batch_max_events, wait, &messages);
    if (!polled.ok()) {
      failure = polled;
      break;
    }
    if (!messages.empty()) {
      if (Status s = ProcessBatch(messages); !s.ok()) {
        failure = s;
        break;
      }
    }
    // Records arriving means intake is busy: ranking then gets its share of this
    // turn's time (a poll that waited lends ranking that idle time too). An idle
    // turn ranks everything due.
    const bool backlog = !messages.empty();
    PublishDirty(backlog, Clock::now() - turn_start);
    publisher_->Poll();
    ClearDeliveredPending();
    UpdateGauges();
    LogStats(false);
  }
  if (failure.ok()) PublishDirty(false, Clock::duration::zero(), /*drain=*/true);  // every committed change

  // Orderly shutdown: intake has stopped and the batch in hand is committed.
  RECD_INFO("stopping: flushing " << publisher_->InFlight() << " record(s)");
  const int left = publisher_->Flush(milliseconds(config_.pipeline.shutdown_timeout_ms));
  ClearDeliveredPending();
  if (left > 0) {
    RECD_WARN(left << " record(s) undelivered at shutdown; their users stay pending and are "
                      "republished at the next start");
  }
  LogStats(true);
  consumer_->Close();
  return failure;
}

Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pipeline::~Pipeline() = default;

Result<std::unique_ptr<Pipeline>> Pipeline::Create(const Config& config, const std::string& brokers) {
  auto impl = std::make_unique<Impl>(config);
  RECD_RETURN_IF_ERROR(impl->Open(brokers));
  return std::unique_ptr<Pipeline>(new Pipeline(std::move(impl)));
}

Status Pipeline::Run() { return impl_->Run(); }
void Pipeline::RequestStop() { impl_->stop.store(true); }
const PipelineStats& Pipeline::stats() const { return impl_->stats; }

}  // namespace recd::daemon
