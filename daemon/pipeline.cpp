#include "daemon/pipeline.h"

#include <chrono>

#include "base/log.h"
#include "daemon/intake.h"
#include "daemon/list_scheduler.h"
#include "model/baseline_ranker.h"
#include "stream/kafka.h"

namespace recd::daemon {

namespace {
using std::chrono::milliseconds;
}  // namespace

class Pipeline::Impl {
 public:
  Impl(const Config& config, PipelineEnds ends)
      : config_(config),
        store_(std::move(ends.store)),
        source_(std::move(ends.source)),
        sink_(std::move(ends.sink)),
        event_clock_(std::move(ends.event_clock)),
        clock_(event_clock_ ? *event_clock_ : SystemClock()),
        decoder_(config.decoder, SystemClock()),
        intake_(*store_, *source_, *sink_, decoder_, config.kafka.offset_rewind, SystemClock(), stats),
        scheduler_(Scheduling(config.pipeline), clock_),
        ranker_(*store_, config.ranker),
        evaluator_(config.eval) {}

  Status Run();

  std::atomic<bool> stop{false};
  PipelineStats stats;
  const model::PrequentialEvaluator& evaluator() const { return evaluator_; }
  const store::GraphStore& store() const { return *store_; }

 private:
  static SchedulerConfig Scheduling(const PipelineSection& p) {
    SchedulerConfig s;
    s.publish_interval = milliseconds(p.publish_interval_ms);
    s.rank_share = p.rank_share;
    s.rank_slice = milliseconds(p.rank_slice_ms);
    return s;
  }
  // Takes one batch in, or retries the commit of the batch in hand; true when a batch committed.
  Result<bool> Ingest();
  // Ranks and publishes what the scheduler hands out this turn.
  void RankDue(bool backlog, Clock::TimePoint::duration ingest_time, bool drain);
  void ServeDeliveries(milliseconds wait);
  void OnDeliveries();
  void ClearPending();
  bool OutputBackedUp();
  void UpdateGauges();
  void LogStats(bool force);

  Config config_;
  // Declared in dependency order: the ends outlive everything that uses them.
  std::unique_ptr<store::GraphStore> store_;
  std::unique_ptr<stream::EventSource> source_;
  std::unique_ptr<stream::OutputSink> sink_;
  std::unique_ptr<Clock> event_clock_;
  const Clock& clock_;  // scheduling and list metadata: wall time live, event time in replay
  stream::EventDecoder decoder_;
  Intake intake_;
  ListScheduler scheduler_;
  model::BaselineRanker ranker_;
  model::PrequentialEvaluator evaluator_;

  bool output_blocked_ = false;  // intake paused until the output drains
  std::vector<stream::SourceRecord> records_;
  std::vector<stream::Delivery> deliveries_;
  Clock::TimePoint last_stats_ = SystemClock().Now();
  uint64_t last_stats_messages_ = 0;
  uint64_t gauge_turns_ = 0;
};

void Pipeline::Impl::ServeDeliveries(milliseconds wait) {
  sink_->Poll(wait, &deliveries_);
  OnDeliveries();
}

void Pipeline::Impl::OnDeliveries() {
  for (const stream::Delivery& d : deliveries_) {
    if (d.tag & kDeadLetterTag) {
      intake_.OnDeadLetterDelivery(d);
      continue;
    }
    const UserId user(static_cast<uint32_t>(d.tag));
    if (d.ok) {
      stats.lists_delivered.fetch_add(1, std::memory_order_relaxed);
    } else {
      // The pending mark stays, so the list is made again after a restart.
      stats.delivery_failures.fetch_add(1, std::memory_order_relaxed);
      RECD_WARN("list for user " << store_->ExternalId(user) << " not delivered: " << d.error);
    }
    scheduler_.OnDelivered(user, d.ok);
  }
  deliveries_.clear();
}

void Pipeline::Impl::ClearPending() {
  const std::vector<UserId> clearable = scheduler_.TakeClearable();
  if (clearable.empty()) return;
  if (Status s = store_->ClearPending(clearable); !s.ok()) {
    RECD_WARN("could not clear delivered lists' pending marks (they will be republished): " << s.ToString());
  }
}

bool Pipeline::Impl::OutputBackedUp() {
  // Hysteresis: pause at the bound, resume at half of it.
  const int in_flight = sink_->InFlight();
  const int bound = static_cast<int>(config_.pipeline.max_in_flight);
  if (!output_blocked_ && in_flight >= bound) {
    output_blocked_ = true;
    RECD_WARN("output backed up (" << in_flight << " records in flight): intake paused until it drains");
  } else if (output_blocked_ && in_flight <= bound / 2) {
    output_blocked_ = false;
    RECD_INFO("output drained: intake resumed");
  }
  return output_blocked_;
}

void Pipeline::Impl::RankDue(bool backlog, Clock::TimePoint::duration ingest_time, bool drain) {
  if (scheduler_.BeginTurn(backlog, ingest_time, drain)) ranker_.RefreshTrending();
  const stream::ListStamp stamp{store_->LatestEventTime(), intake_.last_input()};
  for (std::vector<UserId> batch = scheduler_.Next(); !batch.empty(); batch = scheduler_.Next()) {
    for (size_t n = 0; n < batch.size(); ++n) {
      const UserId u = batch[n];
      const RecommendationList list = ranker_.Recommend(u, clock_.WallMillis());
      const Status s = sink_->PublishList(list, stamp, u.value);
      if (s.ok()) {
        scheduler_.OnQueued(u);
        evaluator_.OnList(list);
        stats.lists_published.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (s.code() == Status::Code::kUnavailable) {
        // Output full: these users wait (their pending marks are durable); stop ranking this turn.
        stats.output_full.fetch_add(1, std::memory_order_relaxed);
        for (size_t rest = batch.size(); rest-- > n;) scheduler_.OnNotQueued(batch[rest]);
        output_blocked_ = true;
        return;
      }
      stats.delivery_failures.fetch_add(1, std::memory_order_relaxed);
      RECD_WARN("list for user " << list.user_id << " not queued: " << s.ToString());
    }
  }
}

Result<bool> Pipeline::Impl::Ingest() {
  if (!intake_.staged()) {
    records_.clear();
    const bool paused = OutputBackedUp();
    if (paused) source_->Pause(); else source_->Resume();
    stats.intake_paused.store(paused ? 1 : 0, std::memory_order_relaxed);
    // With a sweep under way, only take what is already there: idle time goes to ranking.
    const milliseconds wait = scheduler_.sweeping() ? milliseconds(0) : milliseconds(config_.pipeline.batch_max_wait_ms);
    RECD_RETURN_IF_ERROR(source_->Poll(config_.pipeline.batch_max_events, wait, &records_));
    if (records_.empty()) return false;
    RECD_RETURN_IF_ERROR(intake_.Stage(records_));
    if (!intake_.staged()) return false;  // only redeliveries
    // Test, then train: each positive meets the list its user holds now.
    for (const Event& e : intake_.events()) evaluator_.Observe(e);
  }
  auto committed = intake_.TryCommit();
  if (!committed.ok()) return committed.status();
  if (!committed->has_value()) {
    ServeDeliveries(milliseconds(config_.pipeline.batch_max_wait_ms));  // dead letters on their way: wait a little
    return false;
  }
  for (UserId u : (*committed)->touched_users) scheduler_.MarkDirty(u);
  return true;
}

void Pipeline::Impl::UpdateGauges() {
  const store::GraphView& view = store_->view();
  stats.users.store(view.num_users(), std::memory_order_relaxed);
  stats.items.store(view.num_items(), std::memory_order_relaxed);
  stats.edges.store(view.num_edges(), std::memory_order_relaxed);
  stats.lists_due.store(scheduler_.due(), std::memory_order_relaxed);
  stats.assigned_partitions.store(source_->AssignedPartitions(), std::memory_order_relaxed);
  stats.latest_event_ms.store(store_->LatestEventTime(), std::memory_order_relaxed);
  const model::PrequentialTally& total = evaluator_.total();
  const model::PrequentialTally& window = evaluator_.window();
  stats.positives.store(total.positives, std::memory_order_relaxed);
  stats.hits.store(total.hits, std::memory_order_relaxed);
  stats.positives_without_list.store(total.without_list, std::memory_order_relaxed);
  stats.ndcg_sum.store(total.ndcg, std::memory_order_relaxed);
  stats.window_positives.store(window.positives, std::memory_order_relaxed);
  stats.window_hr.store(window.hr(), std::memory_order_relaxed);
  stats.window_ndcg.store(window.mean_ndcg(), std::memory_order_relaxed);
  // Walking every list is not free: refresh the memory gauge about once a stats interval.
  if (gauge_turns_++ % 256 == 0) stats.graph_view_bytes.store(view.MemoryBytes(), std::memory_order_relaxed);
}

void Pipeline::Impl::LogStats(bool force) {
  const auto now = SystemClock().Now();
  const double secs = std::chrono::duration<double>(now - last_stats_).count();
  if (!force && secs * 1000 < config_.pipeline.stats_interval_ms) return;
  const uint64_t messages = stats.messages.load();
  const auto& c = store_->counters();
  const model::PrequentialTally& total = evaluator_.total();
  RECD_INFO("stats: " << static_cast<uint64_t>((messages - last_stats_messages_) / std::max(secs, 1e-9))
                      << " msg/s; totals: messages=" << messages << " applied=" << stats.applied.load()
                      << " rejected=" << stats.rejected.load() << " duplicates=" << stats.duplicates.load()
                      << " lists published=" << stats.lists_published.load()
                      << " delivered=" << stats.lists_delivered.load() << "; store: clicks=" << c.applied[0]
                      << " purchases=" << c.applied[1] << " ratings=" << c.applied[2]
                      << " users=" << store_->view().num_users() << " items=" << store_->view().num_items()
                      << " edges=" << store_->view().num_edges() << " partitions=" << source_->AssignedPartitions()
                      << "; prequential HR@10=" << total.hr() << " over " << total.positives << " positives");
  last_stats_ = now;
  last_stats_messages_ = messages;
}

Status Pipeline::Impl::Run() {
  // Lists committed but never acknowledged before the last stop join the queue
  // like any other due user: ranking them all here, before the first heartbeat,
  // could outlast the watchdog after a long backlog.
  const std::vector<UserId> pending = store_->PendingUsers();
  if (!pending.empty()) RECD_INFO(pending.size() << " list(s) not acknowledged before the last stop are due again");
  for (UserId u : pending) scheduler_.MarkDirty(u);

  Status failure;
  while (!stop.load()) {
    stats.heartbeat.fetch_add(1, std::memory_order_relaxed);
    ServeDeliveries(milliseconds(0));
    if (source_->AtEnd() && !intake_.staged()) break;  // a replayed file is done
    const auto turn_start = SystemClock().Now();
    auto ingested = Ingest();
    if (!ingested.ok()) {
      failure = ingested.status();
      break;
    }
    // Records arriving means intake is busy: ranking then gets its share of this
    // turn's time. An idle turn ranks for one slice.
    RankDue(*ingested, SystemClock().Now() - turn_start, /*drain=*/false);
    if (output_blocked_ && !intake_.staged()) ServeDeliveries(milliseconds(config_.pipeline.batch_max_wait_ms));
    ClearPending();
    UpdateGauges();
    LogStats(false);
  }
  // Orderly shutdown: intake has stopped; a batch whose dead letters are not
  // settled stays uncommitted and is read again at the next start.
  if (intake_.staged()) {
    RECD_WARN("stopping with a batch whose dead letters were not acknowledged; it is read again at the next start");
    intake_.Abandon();
  }
  if (failure.ok()) RankDue(false, Clock::TimePoint::duration::zero(), /*drain=*/true);  // every committed change
  RECD_INFO("stopping: flushing " << sink_->InFlight() << " record(s)");
  const int left = sink_->Flush(milliseconds(config_.pipeline.shutdown_timeout_ms), &deliveries_);
  OnDeliveries();
  ClearPending();
  if (left > 0) {
    RECD_WARN(left << " record(s) undelivered at shutdown; their users stay pending and are "
                      "republished at the next start");
  }
  if (scheduler_.due() > 0) {
    RECD_WARN(scheduler_.due() << " user(s) not ranked before shutdown (output full); they stay pending");
  }
  UpdateGauges();
  LogStats(true);
  source_->Close();
  return failure;
}

Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pipeline::~Pipeline() = default;

Result<std::unique_ptr<Pipeline>> Pipeline::Create(const Config& config, PipelineEnds ends) {
  RECD_CHECK(ends.store && ends.source && ends.sink, "a pipeline needs a store, a source and a sink");
  return std::unique_ptr<Pipeline>(new Pipeline(std::make_unique<Impl>(config, std::move(ends))));
}

Result<std::unique_ptr<Pipeline>> Pipeline::Create(const Config& config, const std::string& brokers) {
  PipelineEnds ends;
  auto store = store::GraphStore::Open(config.store);
  if (!store.ok()) return store.status();
  ends.store = std::move(store.value());

  const stream::KafkaConfig producer{brokers, config.kafka.client_id, config.kafka.producer};
  auto sink = stream::KafkaOutputSink::Create(producer, {config.kafka.recommendations_topic, config.kafka.dlq_topic});
  if (!sink.ok()) return sink.status();
  ends.sink = std::move(sink.value());

  stream::ConsumerConfig cc;
  cc.kafka = {brokers, config.kafka.client_id, config.kafka.consumer};
  cc.group_id = config.kafka.group_id;
  cc.group_instance_id = config.kafka.group_instance_id;
  cc.topics = {config.kafka.events_topic};
  cc.start_from = config.kafka.start_from;
  const store::GraphStore* s = ends.store.get();  // the one owner of stored offsets
  auto consumer = stream::EventConsumer::Create(cc, [s](const TopicPartition& tp) { return s->StoredOffset(tp); });
  if (!consumer.ok()) return consumer.status();
  ends.source = std::move(consumer.value());
  return Create(config, std::move(ends));
}

Status Pipeline::Run() { return impl_->Run(); }
void Pipeline::RequestStop() { impl_->stop.store(true); }
const PipelineStats& Pipeline::stats() const { return impl_->stats; }
const model::PrequentialEvaluator& Pipeline::evaluator() const { return impl_->evaluator(); }
const store::GraphStore& Pipeline::store() const { return impl_->store(); }

}  // namespace recd::daemon
