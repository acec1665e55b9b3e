#include "daemon/pipeline.h"

#include <malloc.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "base/log.h"
#include "base/time.h"
#include "daemon/intake.h"
#include "daemon/list_scheduler.h"
#include "model/baseline_ranker.h"
#include "model/pinsage_ranker.h"
#include "model/rank/list_blend.h"
#include "model/rank/ranker_registry.h"
#include "model/rank/ranker_trainer.h"
#include "model/refresher.h"
#include "model/registry.h"
#include "model/retrain.h"
#include "stream/kafka.h"

namespace recd::daemon {

namespace {
using std::chrono::milliseconds;

// Similar-items records carry this bit in their delivery tag (lists carry a user id).
constexpr uint64_t kSimilarItemsTag = uint64_t(1) << 62;

model::ItemDescription Describe(const store::GraphStore& store, ItemId item) {
  model::ItemDescription d;
  d.item = item;
  d.external_id = store.ExternalId(item);
  if (auto attrs = store.GetAttributes(EventType::kItem, d.external_id); attrs.ok()) d.attributes = std::move(*attrs);
  if (auto content = store.GetItemEmbedding(item); content.ok()) d.content = std::move(*content);
  return d;
}

// Every item's metadata, read from the store once at start.
std::vector<model::ItemDescription> Catalogue(const store::GraphStore& store) {
  std::vector<model::ItemDescription> catalogue;
  catalogue.reserve(store.view().num_items());
  for (uint32_t i = 0; i < store.view().num_items(); ++i) catalogue.push_back(Describe(store, ItemId(i)));
  return catalogue;
}

// The store records the version lists were last published with; LATEST may be
// ahead of it after a crash mid-swap (or a version trained outside the daemon
// while it was down). The store's record wins, so a restart serves the model
// that served before.
void RestoreActiveVersion(const store::GraphStore& store, const std::string& root) {
  const std::string recorded = store.ActiveModelVersion();
  const std::string latest = model::LatestVersion(root);
  if (recorded.empty() || recorded == latest) return;
  if (Status s = model::CheckVersion(root, recorded); !s.ok()) {
    RECD_WARN("the store records " << recorded << " as the active model, but " << s.message() << "; serving LATEST ("
                                   << (latest.empty() ? "none" : latest) << ") instead");
    return;
  }
  if (Status s = model::WriteLatest(root, recorded); !s.ok()) {
    RECD_ERROR("restoring the active model " << recorded << ": " << s.ToString());
    return;
  }
  RECD_WARN("restored " << recorded << " as the active model (recorded in the store); LATEST named "
                        << (latest.empty() ? "none" : latest)
                        << " (a swap cut short, or a version written while recd was down: `recctl activate "
                        << (latest.empty() ? "vNNNN" : latest) << "` serves it)");
}

// A command's JSON answer; bytes that are not UTF-8 (ids) are replaced.
std::optional<std::string> JsonText(const nlohmann::json& answer) {
  return answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

class Pipeline::Impl {
 public:
  // `catalogue`: the items' metadata at start, for the ranker's diversity
  // categories and attribute-aware sources when `rank_with_catalogue` (the
  // same whether or not the pull API reads it too), and the pull API's categories.
  Impl(const Config& config, PipelineEnds ends, std::unique_ptr<model::Refresher> refresher,
       const std::vector<model::ItemDescription>& catalogue, bool rank_with_catalogue)
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
        pinsage_ranker_(*store_, ranker_, config.model.ranker),
        blender_(*store_, ranker_, config.blend, &pinsage_ranker_),
        refresher_(std::move(refresher)),
        // Replay ticks the refresher on this thread in event time, so that two
        // runs publish the same lists; live, it runs on its own thread.
        inline_refresh_(event_clock_ != nullptr),
        evaluator_(config.eval),
        trigger_(config.retrain.retrain) {
    if (config_.ranker_model.enabled) blender_.EnableFeatures(config_.ranker_model.features);
    for (const model::ItemDescription& d : catalogue) {
      if (rank_with_catalogue) {
        pinsage_ranker_.ObserveItem(d.item, d.attributes);
        blender_.ObserveItem(d.item, d.attributes, /*seen=*/0);
      }
      NoteCategory(d.item, d.attributes);
    }
    if (config_.ranker_model.dir.empty()) config_.ranker_model.dir = config_.store.path + "-ranker";
    if (config_.ranker_model.enabled) StartLearntRanker();
    // Live, training runs on a thread of its own; replay trains inline, in event time.
    if (refresher_ && !inline_refresh_) {
      retrainer_ = std::make_unique<model::Retrainer>(config.retrain.retrain, config.retrain.thread_nice);
    }
    // The interval counts from the newest retraining in the registry, across restarts.
    if (refresher_) {
      if (auto versions = model::ListVersions(model_root()); versions.ok()) {
        EpochMillis newest = 0;
        for (const model::VersionSummary& v : *versions) newest = std::max(newest, v.snapshot_event_time);
        if (newest > 0) trigger_.OnTrainingStarted(newest, 0);
      }
    }
  }

  Status Run();

  std::atomic<bool> stop{false};
  std::mutex reload_mu;
  std::optional<Config> reload_requested;   // guarded by reload_mu
  PipelineStats stats;
  std::vector<ModelEvent> model_events;
  const eval::PrequentialEvaluator& evaluator() const { return evaluator_; }
  const store::GraphStore& store() const { return *store_; }
  const ListShelf& shelf() const { return shelf_; }
  AdminCommands& commands() { return commands_; }
  void WakeForCommands() { source_->Wake(); }
  const std::string& model_root() const { return config_.model.refresher.model_root; }
  bool learns_ranker() const { return samples_ != nullptr; }
  const std::string& ranker_root() const { return config_.ranker_model.dir; }

 private:
  static SchedulerConfig Scheduling(const PipelineSection& p) {
    SchedulerConfig s;
    s.publish_interval = milliseconds(p.publish_interval_ms);
    s.rank_share = p.rank_share;
    s.rank_slice = milliseconds(p.rank_slice_ms);
    s.drain_budget = milliseconds(p.shutdown_timeout_ms / 2);  // the flush has the rest
    return s;
  }
  // Takes one batch in, or retries the commit of the batch in hand; true when a batch committed.
  Result<bool> Ingest();
  // Ranks and publishes what the scheduler hands out this turn.
  void RankDue(bool backlog, Clock::TimePoint::duration ingest_time, bool drain);
  void ServeDeliveries(milliseconds wait);
  void OnDeliveries();
  // Tracks whether the output works (a success clears the failing state).
  void NoteOutput(bool ok, const std::string& error);
  void ClearPending();
  bool OutputBackedUp();
  void UpdateGauges();
  void LogStats(bool force);
  // Tells the refresher what a committed batch changed, and the ranker whose sessions moved.
  // Without a model there is no refresher to feed, and the PinSage ranker always falls back.
  void ForwardChanges(store::ApplyOutcome outcome, size_t items_before);
  // Bounded memory: when the store has cold users to evict (graph_store.h),
  // evicts those with no list in flight, and drops every per-user state
  // the pipeline's parts hold for them before the next batch reuses their ids.
  Status EvictColdUsers();
  // Replay only: one refresher tick when the event clock passed its interval.
  Status TickRefresherInline(bool force);
  // Related items of every item re-embedded since the last call.
  void PublishSimilarItems();
  // The pull API's shelf: each published list with its items' categories, and
  // the cold-start list (trending) for users recd does not know. Kept only
  // where an admin server may read it (replay turns it off).
  bool serves_pull_api() const { return !config_.admin.listen.empty(); }
  void NoteCategory(ItemId item, const Attributes& attributes);
  void Shelve(const RecommendationList& list);
  ShelvedList WithCategories(const RecommendationList& list) const;
  // A reload's live keys, applied part by part; the rest logged as restart-only.
  void ApplyReload();
  // The admin threads' commands (daemon/admin_commands.h), a budget per call.
  void ServeCommands();
  void Serve(AdminCommand& command);
  void ServeList(ListCommand& command);
  const std::string& CategoryOf(uint32_t item) const;  // "" = none
  Result<std::optional<std::string>> SimilarItemsJson(const SimilarCommand& command) const;
  Result<std::optional<std::string>> UserJson(const std::string& user_id) const;
  Result<std::optional<std::string>> WriteCheckpoint(const std::string& dir) const;
  Result<std::optional<std::string>> DemandRetrain();
  Result<std::optional<std::string>> DemandActivation(const std::string& version);
  void ShelveColdStart();
  // Retraining: starts one when a trigger fires, takes a finished one's outcome,
  // applies an operator's activation, and notices swaps (recorded in the store,
  // active users' lists republished at the configured rate).
  Status ManageModels();
  void OnRetrainOutcome(const Result<model::RetrainOutcome>& outcome);
  // Takes a new model version into service: records it in the store with the
  // pending marks of the users whose lists it makes stale, then queues their
  // republication. False (the previous model keeps serving) if the record fails.
  bool Adopt(const std::shared_ptr<const model::LiveModel>& current);
  void Republish();
  // The learnt ranker (its features enabled and fed from the catalogue first):
  // its active version restored (LATEST under ranker.model_dir), its trainer
  // started (live only).
  void StartLearntRanker();
  // Before a batch applies: one labelled slate per labelling event of it.
  void CollectRankerSamples();
  // At stop (live): stops the trainer and writes the labelled slates for the next start.
  void KeepRankerSamples();
  // Each turn: an operator's activation, a finished training, and a new one when due.
  void ManageRanker();
  void OnRankerOutcome(const Result<rank::RankerOutcome>& outcome);
  // Serves `version` of ranker.model_dir (`loaded`: already read); false, the
  // active ranker staying, when it does not load. LATEST is not touched.
  bool ServeRanker(const std::string& version, const std::string& why,
                   std::shared_ptr<const rank::RankingModel> loaded = nullptr);
  // An operator's activation: LATEST := version, then served (refused when it does not load).
  void ActivateRanker(const std::string& version);

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
  model::BaselineRanker ranker_;  // the fallback, and the owner of filters and trending
  model::PinSageRanker pinsage_ranker_;
  rank::ListBlender blender_;  // the final list: the ranker's list and the sources, by the learnt ranker or the hand blend
  // The learnt ranker's training data and trainer (null when ranker.model is off).
  std::unique_ptr<rank::SampleBuffer> samples_;
  std::unique_ptr<rank::RankerTrainer> ranker_trainer_;  // live only: replay trains inline, in event time
  static constexpr std::chrono::minutes kKeepSamplesEvery{60};
  std::optional<std::chrono::steady_clock::time_point> samples_kept_at_;  // the trainer's last write of samples.bin
  uint64_t samples_at_training_ = 0;                     // samples_->added() when the last training started
  EpochMillis ranker_trained_at_ = 0;                    // event time of the last training (0: none yet)
  EpochMillis ranker_trained_until_ = 0;                 // the newest slate the active ranker trained on
  uint64_t ranker_activations_ = 0;                      // operator activations so far
  uint64_t activations_at_submit_ = 0;                   // ... when the running training was submitted
  std::unique_ptr<model::Refresher> refresher_;  // null: no model configured
  bool inline_refresh_;
  Clock::TimePoint last_inline_tick_{};
  std::shared_ptr<const model::LiveModel> live_;  // the model this turn ranks with
  std::unordered_map<uint32_t, Clock::TimePoint> unreflected_since_;  // user -> first event not yet in a list
  ListShelf shelf_;                          // written here only; read by the admin threads
  AdminCommands commands_{1024};             // pushed by the admin threads; taken here each turn
  std::vector<std::string> item_category_;  // by item: its model.diversity_field value ("" = none)
  Clock::TimePoint turn_arrival_{};
  eval::PrequentialEvaluator evaluator_;
  model::RetrainTrigger trigger_;
  std::unique_ptr<model::Retrainer> retrainer_;  // live only
  std::string serving_version_;                   // the version whose lists go out now
  std::vector<UserId> republish_;                 // active users whose lists a swap made stale
  size_t republish_next_ = 0;
  Clock::TimePoint last_republish_{};

  bool output_blocked_ = false;  // intake paused until the output drains
  bool brokers_were_reachable_ = false;  // reachability changes are logged after the first
  std::vector<stream::SourceRecord> records_;
  std::vector<stream::Delivery> deliveries_;
  Clock::TimePoint last_stats_ = SystemClock().Now();
  uint64_t last_stats_messages_ = 0;
  uint64_t gauge_turns_ = 0;
  // Operators' asks (POST /v1/retrain, .../activate), taken at the next turn.
  bool retrain_demanded_ = false;
  bool ranker_training_demanded_ = false;
  std::string activation_requested_;         // a PinSage version
  std::string ranker_activation_requested_;  // a ranker version
  std::chrono::steady_clock::time_point lag_read_at_{};
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
    if (d.tag & kSimilarItemsTag) {
      if (!d.ok) RECD_WARN("similar items not delivered: " << d.error);
      continue;
    }
    const UserId user(static_cast<uint32_t>(d.tag));
    if (d.ok) {
      stats.lists_delivered.fetch_add(1, std::memory_order_relaxed);
    } else {
      stats.delivery_failures.fetch_add(1, std::memory_order_relaxed);
      RECD_WARN("list for user " << store_->ExternalId(user) << " not delivered: " << d.error
                                 << (d.retriable ? " (made again after a retry delay of 1 to 60 s)" : " (the user stays pending)"));
    }
    scheduler_.OnDelivered(user, d.ok, d.retriable);
  }
  // The record's own faults (too large) say nothing of the output's health.
  for (const stream::Delivery& d : deliveries_) {
    if (d.ok || d.retriable) NoteOutput(d.ok, d.error);
  }
  deliveries_.clear();
  stats.output_restarts.store(sink_->restarts(), std::memory_order_relaxed);
}

void Pipeline::Impl::NoteOutput(bool ok, const std::string& error) {
  if (ok) {
    stats.output_failing_since_ms.store(0, std::memory_order_relaxed);
    return;
  }
  int64_t expected = 0;
  if (stats.output_failing_since_ms.compare_exchange_strong(expected, SteadyNowMillis(), std::memory_order_relaxed)) {
    RECD_ERROR("the output is failing: " << error << "; /healthz turns 503 if nothing is delivered for 30 s");
  }
}

void Pipeline::Impl::ClearPending() {
  const std::vector<UserId> clearable = scheduler_.TakeClearable();
  if (clearable.empty()) return;
  const bool was_writable = store_->writable();  // a full disk is reported once, by intake
  if (Status s = store_->ClearPending(clearable); !s.ok() && was_writable) {
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
  if (scheduler_.BeginTurn(backlog, ingest_time, drain)) {
    ranker_.RefreshTrending();
    ShelveColdStart();
    PublishSimilarItems();
  }
  // live_ is what ManageModels adopted: a new version only once it is recorded.
  const stream::ListStamp stamp{store_->LatestEventTime(), intake_.last_input()};
  for (std::vector<UserId> batch = scheduler_.Next(); !batch.empty(); batch = scheduler_.Next()) {
    if (commands_.waiting()) ServeCommands();  // a long ranking stretch does not hold the pull API up
    for (size_t n = 0; n < batch.size(); ++n) {
      const UserId u = batch[n];
      const RecommendationList list =
          blender_.Blend(u, pinsage_ranker_.Recommend(u, clock_.WallMillis(), live_.get()));
      const Status s = sink_->PublishList(list, stamp, u.value);
      if (s.ok()) {
        scheduler_.OnQueued(u);
        Shelve(list);
        if (auto it = unreflected_since_.find(u.value); it != unreflected_since_.end()) {
          stats.freshness.Observe(std::chrono::duration<double, std::milli>(clock_.Now() - it->second).count());
          unreflected_since_.erase(it);
        }
        evaluator_.OnList(list);
        stats.lists_published.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (s.code() == Status::Code::kUnavailable) {
        // Output full or its producer restarting: these users wait (their
        // pending marks are durable); stop ranking this turn.
        stats.output_full.fetch_add(1, std::memory_order_relaxed);
        for (size_t rest = batch.size(); rest-- > n;) scheduler_.OnNotQueued(batch[rest]);
        output_blocked_ = true;
        return;
      }
      // The list itself can never be sent: the user stays pending for the next start.
      stats.delivery_failures.fetch_add(1, std::memory_order_relaxed);
      scheduler_.OnRefused(u);
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
    turn_arrival_ = clock_.Now();
    RECD_RETURN_IF_ERROR(intake_.Stage(records_));
    if (!intake_.staged()) return false;  // only redeliveries
    // Test, then train: each positive meets the list its user holds now.
    for (const Event& e : intake_.events()) evaluator_.Observe(e);
    CollectRankerSamples();
  }
  const size_t items_before = store_->view().num_items();
  auto committed = intake_.TryCommit();
  if (!committed.ok()) return committed.status();
  if (!committed->has_value()) {
    ServeDeliveries(milliseconds(config_.pipeline.batch_max_wait_ms));  // dead letters on their way: wait a little
    return false;
  }
  // In replay the clock is the store's newest event time: the batch's own.
  const Clock::TimePoint arrival = inline_refresh_ ? clock_.Now() : turn_arrival_;
  for (UserId u : (*committed)->touched_users) {
    scheduler_.MarkDirty(u);
    unreflected_since_.emplace(u.value, arrival);
    if (serves_pull_api()) shelf_.MarkStale(store_->ExternalId(u));
  }
  if (blender_.needs_attributes() || serves_pull_api()) {
    // New items and items whose metadata changed, before their interactions:
    // the attribute-aware sources count those under the item's values.
    const EpochMillis seen = store_->LatestEventTime();
    for (ItemId i : (*committed)->described_items) {
      if (auto attrs = store_->GetAttributes(EventType::kItem, store_->ExternalId(i)); attrs.ok()) {
        if (blender_.needs_attributes()) blender_.ObserveItem(i, *attrs, seen);
        NoteCategory(i, *attrs);
      }
    }
  }
  if (blender_.learns()) {
    for (const store::EdgeDelta& d : (*committed)->edges) blender_.Observe(d);  // applied only, in order
  }
  ForwardChanges(std::move(**committed), items_before);
  if (store_->EvictionDue()) RECD_RETURN_IF_ERROR(EvictColdUsers());
  return true;
}

Status Pipeline::Impl::EvictColdUsers() {
  // A user whose list is in flight or unacknowledged keeps its id: a delivery
  // report names the id, and a reused one would clear another's mark. One
  // whose list is only due goes without it: ranking is then more than the cap
  // of users behind, and the list would be for a user the store forgets.
  auto evicted = store_->EvictColdUsers([&](UserId u) { return scheduler_.Delivering(u); });
  if (!evicted.ok()) {
    // A full disk: nothing changed; the next batch's write waits for space too.
    if (evicted.status().code() == Status::Code::kUnavailable) return Status::Ok();
    return evicted.status();
  }
  const std::vector<UserId>& users = evicted->users;
  if (users.empty()) return Status::Ok();
  scheduler_.Forget(users);
  for (UserId u : users) unreflected_since_.erase(u.value);
  blender_.ForgetUsers(users);
  for (UserId u : users) pinsage_ranker_.ForgetUser(u);
  for (const std::string& id : evicted->external_ids) {
    evaluator_.ForgetUser(id);
    shelf_.Forget(id);
  }
  if (republish_next_ < republish_.size()) {
    std::unordered_set<uint32_t> gone;
    for (UserId u : users) gone.insert(u.value);
    auto first = republish_.begin() + static_cast<ptrdiff_t>(republish_next_);
    republish_.erase(std::remove_if(first, republish_.end(), [&](UserId u) { return gone.count(u.value) != 0; }),
                     republish_.end());
  }
  if (refresher_) {
    model::GraphChange change;
    change.evicted_users = users;
    change.num_users = store_->view().num_users();
    change.num_items = store_->view().num_items();
    refresher_->Submit(std::move(change));
  }
  stats.users_evicted.fetch_add(users.size(), std::memory_order_relaxed);
  return Status::Ok();
}

void Pipeline::Impl::NoteCategory(ItemId item, const Attributes& attributes) {
  if (!serves_pull_api()) return;
  std::string value;
  for (const auto& [name, v] : attributes) {
    if (name != config_.model.ranker.diversity_field) continue;
    if (v.is_number) {
      char text[32];  // whole numbers in full (1234567, not 1.23457e+06)
      const bool whole = std::abs(v.number) < 1e15 && v.number == std::floor(v.number);
      std::snprintf(text, sizeof text, whole ? "%.0f" : "%g", v.number);
      value = text;
    } else {
      value = v.text;
    }
  }
  if (item.value >= item_category_.size()) item_category_.resize(item.value + 1);
  item_category_[item.value] = std::move(value);
}

ShelvedList Pipeline::Impl::WithCategories(const RecommendationList& list) const {
  ShelvedList shelved{list, {}};
  shelved.categories.reserve(list.items.size());
  for (const ScoredItem& item : list.items) {
    const auto id = store_->FindItem(item.item_id);
    shelved.categories.push_back(id ? CategoryOf(id->value) : std::string());
  }
  return shelved;
}

void Pipeline::Impl::Shelve(const RecommendationList& list) {
  if (serves_pull_api()) shelf_.Put(WithCategories(list));
}

void Pipeline::Impl::ServeCommands() {
  // A time budget per call (deep lists cost more than shelved ones), a few
  // commands at a time; the rest stays queued for the next call, and a full
  // queue answers 503.
  constexpr auto kBudget = std::chrono::milliseconds(20);
  const auto start = std::chrono::steady_clock::now();
  while (commands_.waiting() && std::chrono::steady_clock::now() - start < kBudget) {
    for (AdminCommand& command : commands_.Take(4)) Serve(command);
  }
}

void Pipeline::Impl::Serve(AdminCommand& command) {
  if (auto* list = std::get_if<ListCommand>(&command)) {
    ServeList(*list);
  } else if (auto* similar = std::get_if<SimilarCommand>(&command)) {
    similar->reply(SimilarItemsJson(*similar));
  } else if (auto* user = std::get_if<UserCommand>(&command)) {
    user->reply(UserJson(user->user_id));
  } else if (auto* checkpoint = std::get_if<CheckpointCommand>(&command)) {
    checkpoint->reply(WriteCheckpoint(checkpoint->dir));
  } else if (auto* retrain = std::get_if<RetrainCommand>(&command)) {
    retrain->reply(DemandRetrain());
  } else if (auto* activate = std::get_if<ActivateCommand>(&command)) {
    activate->reply(DemandActivation(activate->version));
  }
}

void Pipeline::Impl::ApplyReload() {
  std::optional<Config> next;
  {
    std::lock_guard<std::mutex> lock(reload_mu);
    next.swap(reload_requested);
  }
  if (!next) return;
  const std::vector<ConfigChange> changes = ChangedSettings(config_.settings, next->settings);
  if (changes.empty()) {
    RECD_INFO("reload: the configuration is unchanged");
    return;
  }
  using Names = bool (*)(const std::string&);
  auto changed = [&](Names in) {
    return std::any_of(changes.begin(), changes.end(), [&](const ConfigChange& c) { return c.live && in(c.name); });
  };
  std::set<std::string> refused;  // live keys whose part would not take them
  auto refuse = [&](Names in, const Status& why) {
    for (const ConfigChange& c : changes) {
      if (!c.live || !in(c.name)) continue;
      refused.insert(c.name);
      RECD_WARN("reload: " << c.name << " = " << c.to << " not applied: " << why.message());
    }
  };
  // Each part takes its live keys whole, or none of them.
  const Names blend = [](const std::string& n) { return n.rfind("ranker.", 0) == 0 && n != "ranker.k" && n != "ranker.exclude"; };
  const Names mixture = [](const std::string& n) { return n.rfind("model.", 0) == 0; };
  const Names listing = [](const std::string& n) { return n == "ranker.k" || n == "ranker.exclude"; };
  const Names publishing = [](const std::string& n) { return n == "pipeline.publish_interval_ms"; };
  const Names retraining = [](const std::string& n) { return n == "retrain.interval_days"; };
  const Names logging = [](const std::string& n) { return n == "daemon.log_level"; };
  if (changed(blend)) {
    if (Status s = blender_.Reweigh(next->blend); !s.ok()) refuse(blend, s);
  }
  if (changed(mixture)) {
    const model::PinSageRankerConfig& r = next->model.ranker;
    if (Status s = pinsage_ranker_.SetMixture(r.session, r.returning, r.category_cap); s.ok()) {
      config_.model.ranker.session = r.session;
      config_.model.ranker.returning = r.returning;
      config_.model.ranker.category_cap = r.category_cap;
    } else {
      refuse(mixture, s);
    }
  }
  if (changed(listing)) {
    ranker_.SetListing(next->ranker.k, next->ranker.exclude_types);
    config_.ranker.k = next->ranker.k;
    config_.ranker.exclude_types = next->ranker.exclude_types;
  }
  if (changed(publishing)) {
    scheduler_.SetPublishInterval(milliseconds(next->pipeline.publish_interval_ms));
    config_.pipeline.publish_interval_ms = next->pipeline.publish_interval_ms;
  }
  if (changed(retraining)) {
    trigger_.SetInterval(next->retrain.retrain.interval_ms);
    config_.retrain.retrain.interval_ms = next->retrain.retrain.interval_ms;
  }
  if (changed(logging)) {
    log::Level level = log::Level::kInfo;
    log::ParseLevel(next->log_level, &level);
    log::SetLevel(level);
    config_.log_level = next->log_level;
  }
  // Report each key, and keep the settings the running parts now follow (the
  // next reload is compared with them).
  for (const ConfigChange& c : changes) {
    if (!c.live) {
      RECD_WARN("reload: " << c.name << " changed (" << c.from << " -> " << c.to << ", " << c.origin
                           << ") but needs a restart; not applied");
      continue;
    }
    if (refused.count(c.name)) continue;
    RECD_INFO("reload: " << c.name << " " << c.from << " -> " << c.to << " (" << c.origin << ")");
    for (ConfigSetting& s : config_.settings) {
      if (s.section + "." + s.key == c.name) {
        s.value = c.to;
        s.origin = c.origin;
      }
    }
  }
}

Result<std::optional<std::string>> Pipeline::Impl::DemandRetrain() {
  if (model_root().empty() && !learns_ranker()) {
    return Status::InvalidArgument("no model.dir is configured and ranker.model is off: nothing to retrain");
  }
  if (!model_root().empty()) retrain_demanded_ = true;
  if (learns_ranker()) ranker_training_demanded_ = true;
  const nlohmann::json answer = {{"status", "retrain requested; see the log and GET /v1/models for the decision"}};
  return JsonText(answer);
}

Result<std::optional<std::string>> Pipeline::Impl::DemandActivation(const std::string& version) {
  std::string how;
  if (rank::IsRankerVersionName(version)) {
    if (!learns_ranker()) return Status::InvalidArgument("ranker.model is off: no ranker version can serve");
    RECD_RETURN_IF_ERROR(rank::LoadRankerVersion(ranker_root(), version).status());
    ranker_activation_requested_ = version;
    how = "the log and recd_ranker_active";
  } else {
    if (model_root().empty()) return Status::InvalidArgument("no model.dir is configured");
    RECD_RETURN_IF_ERROR(model::CheckVersion(model_root(), version));
    activation_requested_ = version;
    how = "recd_model_version";
  }
  const nlohmann::json answer = {{"status", version + " activation requested; it serves once loaded (see " + how + ")"}};
  return JsonText(answer);
}

void Pipeline::Impl::ServeList(ListCommand& command) {
  const size_t depth = std::max<size_t>(command.depth, config_.ranker.k);
  // Holds at least `depth` items, or all there were to rank.
  auto deep_enough = [depth](const ShelvedList& s) { return s.list.items.size() >= depth || s.list.items.size() < s.list.k; };
  bool stale = false;
  ListShelf::Entry shelved = shelf_.Get(command.user_id, &stale);
  // Shelved fresh and deep enough since the ask (published meanwhile, or asked twice): that one.
  if (shelved && !stale && deep_enough(*shelved)) {
    command.reply(std::optional<ShelvedList>(*shelved));
    return;
  }
  const auto user = store_->FindUser(command.user_id);
  if (!user || !store_->UserLive(*user)) {
    command.reply(std::optional<ShelvedList>());
    return;
  }
  const EpochMillis now = clock_.WallMillis();
  if (!shelved || stale) {
    // As RankDue makes it, not published; shelved (marked so) until the
    // user's next published list replaces it, so the next ask is served at once.
    ShelvedList made = WithCategories(blender_.Blend(*user, pinsage_ranker_.Recommend(*user, now, live_.get())));
    made.published = false;
    shelf_.Put(std::move(made));
    shelved = shelf_.Get(command.user_id);
    if (deep_enough(*shelved)) {
      command.reply(std::optional<ShelvedList>(*shelved));
      return;
    }
  }
  // Deeper pages: the shelved list first, so that pages agree with it and
  // never repeat an item, then the other items of a list ranked `depth` deep.
  // It answers this ask only.
  const ShelvedList deeper = WithCategories(blender_.Blend(*user, pinsage_ranker_.Recommend(*user, now, live_.get(), depth)));
  ShelvedList extended = *shelved;
  extended.published = false;
  extended.list.k = depth;
  std::unordered_set<std::string> listed;
  for (const ScoredItem& item : extended.list.items) listed.insert(item.item_id);
  for (size_t i = 0; i < deeper.list.items.size() && extended.list.items.size() < depth; ++i) {
    if (!listed.insert(deeper.list.items[i].item_id).second) continue;
    extended.list.items.push_back(deeper.list.items[i]);
    extended.categories.push_back(deeper.categories[i]);
  }
  command.reply(std::optional<ShelvedList>(std::move(extended)));
}

const std::string& Pipeline::Impl::CategoryOf(uint32_t item) const {
  static const std::string kNone;
  return item < item_category_.size() ? item_category_[item] : kNone;
}

Result<std::optional<std::string>> Pipeline::Impl::SimilarItemsJson(const SimilarCommand& command) const {
  const std::optional<ItemId> item = store_->FindItem(command.item_id);
  if (!item) return std::optional<std::string>();
  const size_t num_items = store_->view().num_items();
  auto keep = [&](uint32_t j) {
    return j != item->value && j < num_items && store_->ItemAvailable(ItemId(j)) &&
           (command.category.empty() || CategoryOf(j) == command.category);
  };
  nlohmann::json items = nlohmann::json::array();
  auto add = [&](uint32_t j, float score) {
    nlohmann::json entry = {{"item_id", store_->ExternalId(ItemId(j))}, {"score", score}};
    if (!CategoryOf(j).empty()) entry["category"] = CategoryOf(j);
    items.push_back(std::move(entry));
  };
  nlohmann::json answer = {{"item_id", command.item_id}, {"generated_at", FormatRfc3339(clock_.WallMillis())}};
  // The serving model's neighbours when it has embedded the item; co-occurrence otherwise.
  const std::shared_ptr<const model::LiveModel> live = live_;
  bool by_model = false;
  if (live) {
    std::shared_lock<std::shared_mutex> lock(live->mu);
    if (item->value < live->related.size() && !live->related[item->value].empty()) {
      by_model = true;
      for (const model::ItemScore& r : live->related[item->value]) {
        if (items.size() >= command.k) break;
        if (keep(r.item)) add(r.item, r.score);
      }
      answer["source"] = "embedding";
      answer["model_version"] = "pinsage-" + live->version;
    }
  }
  if (!by_model) {
    for (const auto& [j, score] : ranker_.RelatedItems(*item, command.k, [&](ItemId j) { return keep(j.value); })) {
      add(j.value, score);
    }
    answer["source"] = "co_occurrence";
    answer["model_version"] = model::kBaselineModelVersion;
  }
  answer["items"] = std::move(items);
  return JsonText(answer);
}

Result<std::optional<std::string>> Pipeline::Impl::UserJson(const std::string& user_id) const {
  const std::optional<UserId> user = store_->FindUser(user_id);
  if (!user || !store_->UserLive(*user)) return std::optional<std::string>();
  const store::GraphView& view = store_->view();
  const store::NeighborList& items = view.ItemsOf(*user);
  // The heaviest interactions (recent and repeated ones weigh most), with their types.
  constexpr size_t kShown = 50;
  nlohmann::json recent = nlohmann::json::array();
  const std::vector<store::Neighbor> heaviest = model::Heaviest(items, kShown);
  for (const store::Neighbor& n : heaviest) {
    nlohmann::json types = nlohmann::json::array();
    const store::TypeMask mask = view.TypesOf(*user, ItemId(n.id));
    for (size_t t = 0; t < kEventTypeCount; ++t) {
      if (mask & store::TypeBit(static_cast<EventType>(t))) types.push_back(kEventTypeNames[t]);
    }
    recent.push_back({{"item_id", store_->ExternalId(ItemId(n.id))},
                      {"types", std::move(types)},
                      {"weight", std::exp2(n.log_weight - heaviest.front().log_weight)}});
  }
  nlohmann::json answer = {{"user_id", user_id},
                           {"interactions", items.size()},
                           {"items", std::move(recent)},
                           {"events_not_yet_in_a_list", unreflected_since_.count(user->value) > 0}};
  if (ListShelf::Entry shelved = shelf_.Get(user_id)) {
    answer["list"] = {{"model_version", shelved->list.model_version},
                      {"source", Name(shelved->list.source)},
                      {"items", shelved->list.items.size()},
                      {"published", shelved->published},
                      {"generated_at", FormatRfc3339(shelved->list.generated_at)}};
  } else {
    answer["list"] = nullptr;
  }
  return JsonText(answer);
}

Result<std::optional<std::string>> Pipeline::Impl::WriteCheckpoint(const std::string& dir) const {
  if (dir.empty() || dir.front() != '/') {
    return Status::InvalidArgument("the checkpoint directory must be an absolute path, not '" + dir + "'");
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    return Status::InvalidArgument(dir + " exists; name a directory that does not (the checkpoint creates it)");
  }
  // Not inside the store, nor beside it where recd keeps its own directories
  // (<store.path>-live, -ranker, -retrain are rewritten or wiped).
  const std::string store = fs::path(config_.store.path).lexically_normal().string();
  const std::string target = fs::path(dir).lexically_normal().string();
  if (target.compare(0, store.size(), store) == 0) {
    return Status::InvalidArgument(dir + " is inside or beside the store (" + store +
                                   "); name a directory elsewhere on its file system, e.g. " +
                                   fs::path(store).parent_path().string() + "/backup-<date>");
  }
  // On the store's file system the checkpoint is hard links and one memtable
  // flush (milliseconds): elsewhere RocksDB would copy every file on this thread.
  struct stat store_stat{}, parent_stat{};
  const std::string parent = fs::path(target).parent_path().string();
  if (::stat(store.c_str(), &store_stat) != 0 || ::stat(parent.c_str(), &parent_stat) != 0) {
    return Status::InvalidArgument("cannot stat " + parent + " (its parent must exist): " + std::strerror(errno));
  }
  if (store_stat.st_dev != parent_stat.st_dev) {
    return Status::InvalidArgument(dir + " is on another file system than the store (" + store +
                                   "): a checkpoint there would copy every file; checkpoint on the store's file "
                                   "system, then copy it");
  }
  // Between two batches on this thread: the copy holds whole batches with their offsets.
  const auto start = std::chrono::steady_clock::now();
  if (Status s = store_->Checkpoint(dir); !s.ok()) return s;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  RECD_INFO("checkpoint of the store written to " << dir << " in " << seconds << " s");
  nlohmann::json answer = {{"dir", dir},
                           {"seconds", seconds},
                           {"store", config_.store.path},
                           {"latest_event_time", FormatRfc3339(store_->LatestEventTime())},
                           {"model_version", serving_version_},
                           {"restore", "stop recd, replace store.path (" + config_.store.path + ") with " + dir +
                                           ", start recd: it reads on from the checkpoint's offsets"}};
  return JsonText(answer);
}

void Pipeline::Impl::ShelveColdStart() {
  if (!serves_pull_api()) return;
  ShelvedList cold;
  cold.list.k = config_.ranker.k;
  cold.list.model_version = model::kBaselineModelVersion;
  cold.list.generated_at = clock_.WallMillis();
  cold.list.source = ListSource::kColdStart;
  const auto& trending = ranker_.trending();
  const double top = trending.empty() ? 0 : store_->view().ItemPopularity(trending.front());
  for (ItemId t : trending) {
    if (cold.list.items.size() >= config_.ranker.k) break;
    cold.list.items.push_back({store_->ExternalId(t), static_cast<float>(std::exp2(store_->view().ItemPopularity(t) - top)),
                               {Reason::kTrending}});
    cold.categories.push_back(t.value < item_category_.size() ? item_category_[t.value] : std::string());
  }
  shelf_.PutColdStart(std::move(cold));
}

void Pipeline::Impl::ForwardChanges(store::ApplyOutcome outcome, size_t items_before) {
  if (!refresher_) return;
  for (const Event& e : intake_.events()) {
    if (e.type == EventType::kItem || e.type == EventType::kUser) continue;
    const auto u = store_->FindUser(e.user_id);
    const auto i = store_->FindItem(e.item_id);
    if (u && i) pinsage_ranker_.ObserveEvent(*u, *i, e.ts);
  }
  model::GraphChange change;
  change.num_users = store_->view().num_users();
  change.num_items = store_->view().num_items();
  // New items (described or not) and items whose metadata changed, each once.
  std::vector<ItemId> describe(outcome.described_items);
  for (size_t i = items_before; i < change.num_items; ++i) describe.emplace_back(static_cast<uint32_t>(i));
  std::sort(describe.begin(), describe.end());
  describe.erase(std::unique(describe.begin(), describe.end()), describe.end());
  for (ItemId i : describe) {
    change.items.push_back(Describe(*store_, i));  // one store read serves the ranker and the refresher
    pinsage_ranker_.ObserveItem(i, change.items.back().attributes);
  }
  for (const store::EdgeDelta& d : outcome.edges) change.touched.push_back(d.item);
  std::sort(change.touched.begin(), change.touched.end());
  change.touched.erase(std::unique(change.touched.begin(), change.touched.end()), change.touched.end());
  change.edges = std::move(outcome.edges);
  refresher_->Submit(std::move(change));
}

Status Pipeline::Impl::TickRefresherInline(bool force) {
  if (!refresher_ || !inline_refresh_) return Status::Ok();
  const auto now = clock_.Now();
  if (!force && now - last_inline_tick_ < config_.model.refresher.interval) return Status::Ok();
  last_inline_tick_ = now;
  auto ticked = refresher_->Tick();
  return ticked.ok() ? Status::Ok() : ticked.status();
}

void Pipeline::Impl::PublishSimilarItems() {
  if (!refresher_ || config_.model.similar_items_k == 0) return;
  const std::shared_ptr<const model::LiveModel> live = live_;  // adopted (recorded) versions only
  if (!live) return;
  const std::vector<uint32_t> changed = refresher_->TakeChangedItems();
  std::shared_lock<std::shared_mutex> lock(live->mu);
  for (uint32_t i : changed) {
    if (i >= live->num_items() || i >= store_->view().num_items()) continue;
    SimilarItemsList list;
    list.item_id = store_->ExternalId(ItemId(i));
    list.model_version = "pinsage-" + live->version;
    list.generated_at = clock_.WallMillis();
    for (const model::ItemScore& r : live->related[i]) {
      if (list.items.size() >= config_.model.similar_items_k) break;
      if (r.item < store_->view().num_items() && store_->ItemAvailable(ItemId(r.item))) {
        list.items.push_back({store_->ExternalId(ItemId(r.item)), r.score, {}});
      }
    }
    const Status s = sink_->PublishSimilar(list, kSimilarItemsTag | i);
    if (s.ok()) {
      stats.similar_items_published.fetch_add(1, std::memory_order_relaxed);
    } else {
      // Output full or refused: the next change of this item publishes it again.
      RECD_DEBUG("similar items of " << list.item_id << " not queued: " << s.ToString());
    }
  }
}

Status Pipeline::Impl::ManageModels() {
  if (!refresher_) return Status::Ok();
  const std::string& root = config_.model.refresher.model_root;
  const model::RetrainConfig& rc = config_.retrain.retrain;
  {
    std::string version;
    version.swap(activation_requested_);
    if (!version.empty()) {
      if (Status s = model::ActivateVersion(root, version); !s.ok()) {
        RECD_ERROR("activate " << version << " refused: " << s.ToString());
      } else {
        RECD_INFO("activate: " << version << " is now LATEST under " << root << "; it serves once loaded");
        if (inline_refresh_) RECD_RETURN_IF_ERROR(refresher_->Tick(/*force_reload=*/true).status());
      }
    }
  }
  if (retrainer_) {
    if (auto outcome = retrainer_->TakeOutcome()) OnRetrainOutcome(*outcome);
  }
  // A new version serves only once the store records it: lists never go out
  // under a version a restart would not come back to.
  std::shared_ptr<const model::LiveModel> current = refresher_->Current();
  if (!current || current->version == serving_version_ || Adopt(current)) live_ = std::move(current);
  Republish();

  const bool demanded = std::exchange(retrain_demanded_, false);
  if (!rc.enabled && !demanded) return Status::Ok();
  if (retrainer_ && retrainer_->busy()) {
    if (demanded) RECD_INFO("retrain: asked for while one is running; the running one stands");
    return Status::Ok();
  }
  const EpochMillis now = store_->LatestEventTime();
  if (now == 0) return Status::Ok();  // nothing to learn from yet
  const std::string reason = trigger_.Check(now, stats.applied.load(), evaluator_.window().hr(),
                                            evaluator_.total().positives, demanded);
  if (reason.empty()) return Status::Ok();
  trigger_.OnTrainingStarted(now, stats.applied.load());
  model::RetrainRequest request;
  request.model_root = root;
  request.active_version = live_ ? live_->version : model::LatestVersion(root);
  request.device = config_.model.refresher.device;
  request.now = now;
  request.trigger = reason;
  RECD_INFO("retrain: starting at event time " << FormatRfc3339(now) << " (" << reason << "); active model: "
                                               << (request.active_version.empty() ? "none" : request.active_version));
  stats.retrain_running.store(1, std::memory_order_relaxed);
  if (inline_refresh_) {
    // Replay: the store is this thread's, and event time stands still meanwhile.
    auto set = model::TrainingSetFromStore(*store_);
    OnRetrainOutcome(set.ok() ? model::RetrainOnce(*set, request, rc) : Result<model::RetrainOutcome>(set.status()));
    return Status::Ok();
  }
  // Live: a checkpoint is the consistent snapshot (hard links; it holds whole
  // batches only). The training thread takes it, so that the memtable flush it
  // needs never stalls this loop, reads it, and removes it.
  store::StoreOptions snapshot_options = config_.store;
  snapshot_options.path = config_.store.path + "-retrain";
  snapshot_options.read_only = true;
  const store::GraphStore* live_store = store_.get();  // outlives retrainer_ (declared before it)
  retrainer_->Submit(request, [live_store, snapshot_options]() -> Result<model::TrainingSet> {
    std::error_code ec;
    std::filesystem::remove_all(snapshot_options.path, ec);  // a killed run's leftover
    RECD_RETURN_IF_ERROR(live_store->Checkpoint(snapshot_options.path));
    Result<model::TrainingSet> set = Status::Internal("unread");
    {
      auto snapshot = store::GraphStore::Open(snapshot_options);
      set = snapshot.ok() ? model::TrainingSetFromStore(**snapshot) : Result<model::TrainingSet>(snapshot.status());
    }
    std::filesystem::remove_all(snapshot_options.path, ec);
    return set;
  });
  return Status::Ok();
}

void Pipeline::Impl::OnRetrainOutcome(const Result<model::RetrainOutcome>& outcome) {
  stats.retrain_running.store(0, std::memory_order_relaxed);
  const EpochMillis now = store_->LatestEventTime();
  if (!outcome.ok()) {
    stats.retrain_failures.fetch_add(1, std::memory_order_relaxed);
    RECD_ERROR("retrain failed; the active model keeps serving: " << outcome.status().ToString());
    model_events.push_back({now, "retrain", "failed: " + outcome.status().message()});
    return;
  }
  const model::RetrainOutcome& o = *outcome;
  stats.retrains.fetch_add(1, std::memory_order_relaxed);
  stats.last_retrain_seconds.store(o.seconds, std::memory_order_relaxed);
  stats.last_candidate_hr.store(o.candidate_hr, std::memory_order_relaxed);
  stats.last_active_hr.store(o.active_hr, std::memory_order_relaxed);
  if (o.promoted) stats.promotions.fetch_add(1, std::memory_order_relaxed);
  RECD_INFO("retrain: candidate " << o.version << " trained in " << o.seconds << " s on " << o.interactions
                                  << " interactions (" << o.window.recent << " recent, " << o.window.seasonal
                                  << " by seasonal recall); " << o.decision);
  model_events.push_back({o.now, "retrain", o.version + " " + o.decision});
  // Replay: the promoted version serves from this event on (live, the refresher
  // loads it in the background within model.reload_interval_ms).
  if (o.promoted && inline_refresh_) {
    if (auto ticked = refresher_->Tick(/*force_reload=*/true); !ticked.ok()) {
      RECD_ERROR("loading " << o.version << ": " << ticked.status().ToString());
    }
  }
}

bool Pipeline::Impl::Adopt(const std::shared_ptr<const model::LiveModel>& current) {
  const std::string previous = serving_version_;
  const std::string& version = current->version;
  if (!(previous.empty() && store_->ActiveModelVersion() == version)) {  // not the restart's own model
    // While the store refuses writes (intake reports it and retries) the swap
    // waits: the old version serves, and the next turn tries again.
    if (!store_->writable()) return false;
    const EpochMillis now = store_->LatestEventTime();
    const auto& rc = config_.retrain.retrain;
    std::vector<UserId> stale = pinsage_ranker_.UsersActiveSince(now - rc.republish_active_ms);
    // The record and the stale users' pending marks in one synced batch, before
    // any list under the new version: a crash then restarts on it and owes them lists.
    if (Status s = store_->RecordActiveModelVersion(version, stale); !s.ok()) {
      RECD_ERROR("could not record " << version << " as the active model (" << s.ToString()
                                     << "); " << (previous.empty() ? "none" : previous) << " keeps serving");
      return false;
    }
    stats.model_swaps.fetch_add(1, std::memory_order_relaxed);
    scheduler_.HoldMarks(stale);
    // Users an earlier swap still owes a list stay owed (their marks are held).
    std::unordered_set<uint32_t> queued;
    for (UserId u : stale) queued.insert(u.value);
    for (size_t i = republish_next_; i < republish_.size(); ++i) {
      if (queued.insert(republish_[i].value).second) stale.push_back(republish_[i]);
    }
    republish_ = std::move(stale);
    republish_next_ = 0;
    last_republish_ = clock_.Now();
    stats.republish_queued.store(republish_.size(), std::memory_order_relaxed);
    model_events.push_back({now, "swap", (previous.empty() ? "none" : previous) + " -> " + version});
    RECD_INFO("model " << version << " serves (was " << (previous.empty() ? "none" : previous) << "); "
                       << republish_.size() << " active users' lists republished at up to " << rc.republish_per_second
                       << "/s");
  }
  serving_version_ = version;
  trigger_.OnSwap(evaluator_.total().positives);
  return true;
}

void Pipeline::Impl::Republish() {
  if (republish_next_ >= republish_.size()) return;
  const auto now = clock_.Now();
  const double seconds = std::chrono::duration<double>(now - last_republish_).count();
  const size_t allowed = static_cast<size_t>(seconds * config_.retrain.retrain.republish_per_second);
  if (allowed == 0) return;
  last_republish_ = now;
  const size_t end = std::min(republish_.size(), republish_next_ + allowed);
  for (; republish_next_ < end; ++republish_next_) scheduler_.MarkDirty(republish_[republish_next_]);
  stats.republish_queued.store(republish_.size() - republish_next_, std::memory_order_relaxed);
  if (republish_next_ == republish_.size()) {
    republish_.clear();
    republish_next_ = 0;
  }
}

void Pipeline::Impl::StartLearntRanker() {
  const rank::RankerModelConfig& rc = config_.ranker_model;
  samples_ = std::make_unique<rank::SampleBuffer>(rc.max_groups);
  for (const std::string& name : rank::RemoveAbandonedRankerFiles(rc.dir)) {
    RECD_INFO("removed " << name << " from " << rc.dir << ": left by a killed writer");
  }
  // Live, the labelled slates of the last run train the next ranker too; they
  // count as seen (no training at start). Replay starts from its file alone.
  if (auto kept = inline_refresh_ ? Result<std::vector<rank::SampleGroup>>(Status::NotFound("replay"))
                                  : rank::LoadRankerSamples(rc.dir);
      kept.ok()) {
    for (rank::SampleGroup& g : *kept) samples_->Add(std::move(g));
    samples_at_training_ = samples_->added();
    stats.ranker_buffered.store(samples_->size(), std::memory_order_relaxed);
    RECD_INFO("ranker: " << samples_->size() << " labelled slates restored from " << rc.dir << "/samples.bin");
  } else if (kept.status().code() != Status::Code::kNotFound) {
    RECD_WARN("ranker: " << kept.status().message() << "; the labelled slates start empty");
  }
  // The interval counts from the newest training in the registry, across restarts.
  const std::vector<rank::RankerManifest> versions = rank::ListRankerVersions(rc.dir);
  for (const rank::RankerManifest& m : versions) ranker_trained_at_ = std::max(ranker_trained_at_, m.snapshot_event_time);
  // LATEST serves again; when it does not load, the newest promoted version that does (LATEST is left to the operator).
  const std::string latest = model::LatestVersion(rc.dir);
  if (!latest.empty() && !ServeRanker(latest, "restored")) {
    for (auto v = versions.rbegin(); v != versions.rend(); ++v) {
      if (v->promoted && v->version != latest && ServeRanker(v->version, "restored in place of " + latest)) {
        RECD_WARN("ranker: LATEST (" << latest << ") does not load; " << v->version
                                     << " serves instead. `recctl activate rNNNN` chooses another");
        break;
      }
    }
  }
  if (!blender_.model()) RECD_INFO("ranker: no learnt ranking model serves from " << rc.dir << " yet; the hand blend orders the lists");
  if (!inline_refresh_) ranker_trainer_ = std::make_unique<rank::RankerTrainer>(rc);
}

bool Pipeline::Impl::ServeRanker(const std::string& version, const std::string& why,
                                 std::shared_ptr<const rank::RankingModel> loaded) {
  const std::string& root = config_.ranker_model.dir;
  const std::string serving = blender_.model() ? blender_.model_version() : "the hand blend";
  if (!loaded) {
    auto model = rank::LoadRankerVersion(root, version);
    if (!model.ok()) {
      stats.ranker_failures.fetch_add(1, std::memory_order_relaxed);
      RECD_ERROR("ranker " << version << " refused; " << serving << " keeps ordering the lists: " << model.status().ToString());
      return false;
    }
    loaded = std::move(*model);
  }
  blender_.SetModel(std::move(loaded), version);
  auto manifest = rank::ReadRankerManifest(root, version);  // one file, not the whole registry
  ranker_trained_until_ = manifest.ok() ? manifest->trained_until : 0;
  stats.ranker_active.store(1, std::memory_order_relaxed);
  model_events.push_back({store_->LatestEventTime(), "ranker-swap", serving + " -> " + version});
  RECD_INFO("ranker " << version << " orders the lists (" << why << "; was " << serving << ")");
  return true;
}

void Pipeline::Impl::ActivateRanker(const std::string& version) {
  // LATEST is written on this thread only (activation, promotion, pruning): no writer races another.
  if (Status s = rank::ActivateRankerVersion(config_.ranker_model.dir, version); !s.ok()) {
    stats.ranker_failures.fetch_add(1, std::memory_order_relaxed);
    RECD_ERROR("activate " << version << " refused; " << (blender_.model() ? blender_.model_version() : "the hand blend")
                           << " keeps ordering the lists: " << s.ToString());
    return;
  }
  ++ranker_activations_;
  ServeRanker(version, "activated by the operator");
}

void Pipeline::Impl::CollectRankerSamples() {
  if (!samples_) return;
  const rank::RankerLabels labels = config_.ranker_model.labels;
  const store::GraphView& view = store_->view();
  for (const Event& e : intake_.events()) {
    if (!IsInteraction(e.type)) continue;
    const auto user = store_->FindUser(e.user_id);
    const auto item = store_->FindItem(e.item_id);
    if (!user || !item || user->value >= view.num_users()) continue;  // nothing known yet to rank for them
    const bool positive = eval::IsPositive(e, config_.eval);
    const bool discovery = view.TypesOf(*user, *item) == 0;
    const bool labelled = labels == rank::RankerLabels::kPositives   ? positive
                          : labels == rank::RankerLabels::kDiscovery ? discovery
                                                                     : positive || discovery;
    if (!labelled) continue;
    // The slate this user held now: the same sources and ranker that make their list.
    const rank::Slate slate = blender_.Gather(*user, pinsage_ranker_.Recommend(*user, clock_.WallMillis(), live_.get()));
    const auto taken = std::find_if(slate.begin(), slate.end(), [&](const rank::SlateEntry& s) { return s.item == item->value; });
    if (taken == slate.end()) {
      stats.ranker_sample_misses.fetch_add(1, std::memory_order_relaxed);  // no ordering could have listed it
      continue;
    }
    rank::SampleGroup group;
    group.ts = e.ts;
    group.taken = static_cast<uint32_t>(taken - slate.begin());
    group.weight = positive ? config_.ranker_model.positive_weight : 1.0f;
    blender_.features()->Build(*user, e.ts, slate, &group.rows);
    samples_->Add(std::move(group));
    stats.ranker_samples.fetch_add(1, std::memory_order_relaxed);
  }
  stats.ranker_buffered.store(samples_->size(), std::memory_order_relaxed);
}

void Pipeline::Impl::ManageRanker() {
  if (!samples_) return;
  {
    std::string version;
    version.swap(ranker_activation_requested_);
    if (!version.empty()) ActivateRanker(version);
  }
  // busy() before TakeOutcome(): with no job running, no outcome can arrive before the Submit below.
  const bool demanded = std::exchange(ranker_training_demanded_, false);
  if (ranker_trainer_ && ranker_trainer_->busy()) {
    if (demanded) RECD_INFO("ranker: training asked for while one is running; the running one stands");
    return;
  }
  if (ranker_trainer_) {
    if (auto outcome = ranker_trainer_->TakeOutcome()) OnRankerOutcome(*outcome);
  }
  const rank::RankerModelConfig& rc = config_.ranker_model;
  if (samples_->size() < rc.min_groups) {
    if (demanded) RECD_INFO("ranker: training asked for with " << samples_->size() << " labelled slates; it needs "
                                                                << rc.min_groups << " (ranker.model_min_groups)");
    return;
  }
  const uint64_t fresh = samples_->added() - samples_at_training_;
  const EpochMillis now = store_->LatestEventTime();
  std::string trigger;
  if (demanded) {
    trigger = "operator request";
  } else if (fresh == 0) {
    return;  // nothing new to learn from
  } else if (ranker_trained_at_ == 0) {
    trigger = "first " + std::to_string(samples_->size()) + " labelled slates";
  } else if (rc.train_every > 0 && fresh >= rc.train_every) {
    trigger = std::to_string(fresh) + " new labelled slates";
  } else if (rc.interval_ms > 0 && now - ranker_trained_at_ >= rc.interval_ms) {
    trigger = "interval";
  }
  if (trigger.empty()) return;
  rank::RankerJob job;
  job.groups = samples_->Snapshot();
  job.active_version = blender_.model_version();
  job.active_trained_until = ranker_trained_until_;
  job.trigger = trigger;
  job.now = now;
  // Live, the trainer thread writes samples.bin before training, at most hourly:
  // it is the whole buffer (up to ~150 MB), and a kill loses only training data.
  const auto wall = std::chrono::steady_clock::now();
  job.keep_samples = ranker_trainer_ != nullptr && (!samples_kept_at_ || wall - *samples_kept_at_ >= kKeepSamplesEvery);
  if (job.keep_samples) samples_kept_at_ = wall;
  RECD_INFO("ranker: training at event time " << FormatRfc3339(now) << " (" << trigger << ") on " << job.groups.size()
                                              << " labelled slates; active: "
                                              << (job.active_version.empty() ? "the hand blend" : job.active_version));
  if (ranker_trainer_ && !ranker_trainer_->Submit(job)) return;  // cannot happen (no job, no outcome left): defensive
  samples_at_training_ = samples_->added();
  ranker_trained_at_ = now;
  activations_at_submit_ = ranker_activations_;
  if (!ranker_trainer_) OnRankerOutcome(rank::TrainRanker(job, rc));  // replay: in event time, on this thread
}

void Pipeline::Impl::KeepRankerSamples() {
  if (!samples_ || !ranker_trainer_) return;  // replay keeps nothing
  // A training that finished is decided first (its promotion must not be lost);
  // a running one is cancelled: one writer of samples.bin at a time.
  if (!ranker_trainer_->busy()) {
    if (auto outcome = ranker_trainer_->TakeOutcome()) OnRankerOutcome(*outcome);
  }
  ranker_trainer_.reset();
  if (Status s = rank::SaveRankerSamples(config_.ranker_model.dir, samples_->Snapshot()); s.ok()) {
    RECD_INFO("ranker: " << samples_->size() << " labelled slates kept in " << config_.ranker_model.dir << "/samples.bin");
  } else {
    RECD_WARN("ranker: the labelled slates were not kept; the next start begins with an empty buffer: " << s.ToString());
  }
}

void Pipeline::Impl::OnRankerOutcome(const Result<rank::RankerOutcome>& outcome) {
  const EpochMillis now = store_->LatestEventTime();
  if (!outcome.ok()) {
    stats.ranker_failures.fetch_add(1, std::memory_order_relaxed);
    RECD_ERROR("ranker training failed; the active ranker keeps serving: " << outcome.status().ToString());
    model_events.push_back({now, "ranker", "failed: " + outcome.status().message()});
    return;
  }
  const rank::RankerManifest& m = outcome->manifest;
  stats.ranker_trainings.fetch_add(1, std::memory_order_relaxed);
  stats.ranker_last_seconds.store(m.seconds, std::memory_order_relaxed);
  stats.ranker_last_candidate_hr.store(m.candidate_hr, std::memory_order_relaxed);
  stats.ranker_last_active_hr.store(m.active_hr, std::memory_order_relaxed);
  RECD_INFO("ranker: candidate " << m.version << " trained in " << m.seconds << " s on " << m.train_groups
                                 << " labelled slates; " << m.decision);
  model_events.push_back({m.snapshot_event_time, "ranker", m.version + " " + m.decision});
  const std::string& root = config_.ranker_model.dir;
  if (m.promoted && ranker_activations_ != activations_at_submit_) {
    RECD_WARN("ranker: " << m.version << " won, but an operator activated "
                         << (blender_.model() ? blender_.model_version() : "another ranker")
                         << " while it trained; that choice stands (`recctl activate " << m.version << "` serves it)");
  } else if (m.promoted) {
    if (Status s = rank::ActivateRankerVersion(root, m.version); !s.ok()) {
      stats.ranker_failures.fetch_add(1, std::memory_order_relaxed);
      RECD_ERROR("ranker: promoting " << m.version << ": " << s.ToString() << "; the active ranker keeps serving");
    } else {
      stats.ranker_promotions.fetch_add(1, std::memory_order_relaxed);
      ServeRanker(m.version, "promoted", outcome->model);
    }
  }
  for (const std::string& gone : rank::PruneRankerVersions(root, config_.ranker_model.keep_versions, blender_.model_version())) {
    RECD_INFO("ranker: pruned " << gone << " (ranker.model_keep_versions = " << config_.ranker_model.keep_versions << ")");
  }
}

void Pipeline::Impl::UpdateGauges() {
  stats.input_restarts.store(source_->restarts(), std::memory_order_relaxed);
  const store::GraphView& view = store_->view();
  stats.users.store(store_->live_users(), std::memory_order_relaxed);
  stats.items.store(view.num_items(), std::memory_order_relaxed);
  stats.edges.store(view.num_edges(), std::memory_order_relaxed);
  stats.lists_due.store(scheduler_.due(), std::memory_order_relaxed);
  stats.assigned_partitions.store(source_->AssignedPartitions(), std::memory_order_relaxed);
  if (const auto now = std::chrono::steady_clock::now(); now - lag_read_at_ >= std::chrono::seconds(1)) {
    lag_read_at_ = now;
    const std::optional<uint64_t> lag = source_->Lag();
    stats.consumer_lag.store(lag ? static_cast<int64_t>(*lag) : -1, std::memory_order_relaxed);
  }
  // The output's producer is served every turn, even while a batch waits for
  // its dead letters (the consumer then is not), and reaches the same cluster.
  const bool reachable = sink_->BrokersReachable();
  stats.brokers_reachable.store(reachable, std::memory_order_relaxed);
  int64_t unreachable_since = stats.brokers_unreachable_since_ms.load(std::memory_order_relaxed);
  if (reachable) {
    if (unreachable_since != 0 && brokers_were_reachable_) {
      RECD_INFO("brokers reachable again after " << (SteadyNowMillis() - unreachable_since) / 1000 << " s");
    }
    unreachable_since = 0;
    brokers_were_reachable_ = true;
  } else if (unreachable_since == 0) {
    unreachable_since = SteadyNowMillis();
    if (brokers_were_reachable_) {
      RECD_WARN("no broker reachable; recd waits, loses nothing, and /readyz answers 503 until one is");
    }
  }
  stats.brokers_unreachable_since_ms.store(unreachable_since, std::memory_order_relaxed);
  stats.latest_event_ms.store(store_->LatestEventTime(), std::memory_order_relaxed);
  const eval::PrequentialTally& total = evaluator_.total();
  const eval::PrequentialTally& window = evaluator_.window();
  stats.positives.store(total.positives, std::memory_order_relaxed);
  stats.hits.store(total.hits, std::memory_order_relaxed);
  stats.positives_without_list.store(total.without_list, std::memory_order_relaxed);
  stats.ndcg_sum.store(total.ndcg, std::memory_order_relaxed);
  stats.window_positives.store(window.positives, std::memory_order_relaxed);
  stats.window_hr.store(window.hr(), std::memory_order_relaxed);
  stats.window_ndcg.store(window.mean_ndcg(), std::memory_order_relaxed);
  if (refresher_) {
    const model::RefresherStats& r = refresher_->stats();
    stats.model_active.store(live_ ? 1 : 0, std::memory_order_relaxed);
    stats.model_version.store(live_ ? static_cast<uint64_t>(model::VersionNumber(live_->version)) : 0,
                              std::memory_order_relaxed);
    stats.model_items_refreshed.store(r.items_refreshed.load(), std::memory_order_relaxed);
    stats.model_dirty.store(r.dirty.load(), std::memory_order_relaxed);
    stats.model_loads.store(r.model_loads.load(), std::memory_order_relaxed);
    stats.model_load_failures.store(r.model_load_failures.load(), std::memory_order_relaxed);
  }
  if (samples_) stats.ranker_predict_failures.store(blender_.model_failures(), std::memory_order_relaxed);
  // Walking every list is not free: refresh the memory gauge about once a stats interval.
  if (gauge_turns_++ % 256 == 0) stats.graph_view_bytes.store(view.MemoryBytes(), std::memory_order_relaxed);
}

void Pipeline::Impl::LogStats(bool force) {
  const auto now = SystemClock().Now();
  const double secs = std::chrono::duration<double>(now - last_stats_).count();
  if (!force && secs * 1000 < config_.pipeline.stats_interval_ms) return;
  // Give the heap glibc keeps back to the system: a retraining frees hundreds of
  // MiB of tensors in its thread's arena, and without this RSS stepped up by
  // 50-75 MiB at each one and never showed the live memory (tests/e2e/soak.sh).
  // A few milliseconds per stats interval.
  malloc_trim(0);
  // RocksDB sums its memtables over every column family: once an interval, not every turn.
  stats.store_memtable_bytes.store(store_->MemtableBytes(), std::memory_order_relaxed);
  const uint64_t messages = stats.messages.load();
  const auto& c = store_->counters();
  const eval::PrequentialTally& total = evaluator_.total();
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

  if (refresher_ && !inline_refresh_) refresher_->Start();
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
    if (Status s = TickRefresherInline(false); !s.ok()) {
      failure = s;
      break;
    }
    if (Status s = ManageModels(); !s.ok()) {
      failure = s;
      break;
    }
    ManageRanker();
    ServeCommands();
    ApplyReload();
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
  // Commands still come during the drain (it serves them between batches);
  // those left at its end are refused, and later pushes fail at once.
  // A retraining or an embedding under way ends at its next check (between
  // mini-batches), so the stop waits for neither; a cancelled retraining
  // writes no version and LATEST does not move.
  if (retrainer_) retrainer_->Cancel();
  if (refresher_ && !inline_refresh_) refresher_->Stop();
  KeepRankerSamples();
  // The drain and the flush share pipeline.shutdown_timeout_ms: the drain at
  // most half of it, the flush what is left.
  const auto drain_start = SystemClock().Now();
  if (failure.ok()) {
    if (Status s = TickRefresherInline(true); !s.ok()) RECD_WARN("refresher: " << s.ToString());
    RankDue(false, Clock::TimePoint::duration::zero(), /*drain=*/true);  // committed changes, within its budget
  }
  for (AdminCommand& command : commands_.Close()) Refuse(command, Status::Unavailable("recd is stopping"));
  const auto drained = std::chrono::duration_cast<milliseconds>(SystemClock().Now() - drain_start);
  const milliseconds flush_budget =
      std::max(milliseconds(config_.pipeline.shutdown_timeout_ms) - drained, milliseconds(config_.pipeline.shutdown_timeout_ms / 2));
  RECD_INFO("stopping: flushing " << sink_->InFlight() << " record(s)");
  const int left = sink_->Flush(flush_budget, &deliveries_);
  OnDeliveries();
  ClearPending();
  if (left > 0) {
    RECD_WARN(left << " record(s) undelivered at shutdown; their users stay pending and are "
                      "republished at the next start");
  }
  if (scheduler_.due() > 0) {
    RECD_WARN(scheduler_.due() << " user(s) not ranked before shutdown (the drain's half of "
                               << "pipeline.shutdown_timeout_ms ran out, or the output was full); they stay "
                                  "pending and are published at the next start");
  }
  UpdateGauges();
  LogStats(true);
  source_->Close();
  return failure;
}

Pipeline::Pipeline(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Pipeline::~Pipeline() = default;

Result<std::unique_ptr<Pipeline>> Pipeline::Create(const Config& config, PipelineEnds ends,
                                                   const StartupProgress& progress) {
  RECD_CHECK(ends.store && ends.source && ends.sink, "a pipeline needs a store, a source and a sink");
  auto phase = [&progress](const std::string& what) {
    if (progress) progress(what);
  };
  std::unique_ptr<model::Refresher> refresher;
  std::vector<model::ItemDescription> catalogue;
  // The attributes the learnt ranker's features and the attribute-aware sources read.
  const bool attributes = config.ranker_model.enabled || config.blend.category_trending_weight > 0 ||
                          config.blend.new_items_weight > 0;
  // The pull API's category filter reads the catalogue's categories too.
  if (attributes || !config.admin.listen.empty()) {
    phase("reading the item catalogue");
    catalogue = Catalogue(*ends.store);
  }
  if (!config.model.refresher.model_root.empty()) {
    RestoreActiveVersion(*ends.store, config.model.refresher.model_root);
    for (const std::string& name : model::RemoveAbandoned(config.model.refresher.model_root)) {
      RECD_INFO("removed " << name << " from " << config.model.refresher.model_root << ": left by a killed writer");
    }
    // Read once: the refresher's copy, and the ranker's categories when a cap is set.
    if (catalogue.empty()) {
      phase("reading the item catalogue");
      catalogue = Catalogue(*ends.store);
    }
    phase("loading the model under " + config.model.refresher.model_root + " and embedding the catalogue");
    // A copy stays for the ranker's categories and for the pull API's.
    const bool categories = config.model.ranker.category_cap > 0 || attributes || !config.admin.listen.empty();
    auto created = model::Refresher::Create(config.model.refresher, ends.store->view(),
                                            categories ? catalogue : std::move(catalogue));
    if (!created.ok()) return created.status();
    refresher = std::move(*created);
  }
  // The rankers see the catalogue exactly as without the pull API (replay turns it off).
  const bool rank_with_catalogue =
      attributes || (!config.model.refresher.model_root.empty() && config.model.ranker.category_cap > 0);
  auto impl = std::make_unique<Impl>(config, std::move(ends), std::move(refresher), catalogue, rank_with_catalogue);
  return std::unique_ptr<Pipeline>(new Pipeline(std::move(impl)));
}

Result<std::unique_ptr<Pipeline>> Pipeline::Create(const Config& config, const std::string& brokers,
                                                   const StartupProgress& progress) {
  PipelineEnds ends;
  if (progress) progress("opening the store " + config.store.path + " (the graph is read into memory)");
  auto store = store::GraphStore::Open(config.store);
  if (!store.ok()) return store.status();
  ends.store = std::move(store.value());

  const stream::KafkaConfig producer{brokers, config.kafka.client_id, config.kafka.ProducerProperties()};
  auto sink = stream::KafkaOutputSink::Create(
      producer, {config.kafka.recommendations_topic, config.kafka.dlq_topic, config.kafka.similar_items_topic});
  if (!sink.ok()) return sink.status();
  ends.sink = std::move(sink.value());

  stream::ConsumerConfig cc;
  cc.kafka = {brokers, config.kafka.client_id, config.kafka.ConsumerProperties()};
  cc.group_id = config.kafka.group_id;
  cc.group_instance_id = config.kafka.group_instance_id;
  cc.topics = {config.kafka.events_topic};
  cc.start_from = config.kafka.start_from;
  const store::GraphStore* s = ends.store.get();  // the one owner of stored offsets
  // Start one record early where its hash is stored: Intake checks that record
  // is the one applied, so a topic recreated under the same name is noticed.
  auto consumer = stream::EventConsumer::Create(cc, [s](const TopicPartition& tp) -> std::optional<Offset> {
    const std::optional<PartitionOffset> stored = s->StoredPosition(tp);
    if (!stored) return std::nullopt;
    return stored->last_record_hash != 0 && stored->next.value > 0 ? Offset(stored->next.value - 1) : stored->next;
  });
  if (!consumer.ok()) return consumer.status();
  ends.source = std::move(consumer.value());
  return Create(config, std::move(ends), progress);
}

Status Pipeline::Run() { return impl_->Run(); }
void Pipeline::RequestStop() { impl_->stop.store(true); }
const PipelineStats& Pipeline::stats() const { return impl_->stats; }
const ListShelf& Pipeline::shelf() const { return impl_->shelf(); }
void Pipeline::Reload(Config next) {
  {
    std::lock_guard<std::mutex> lock(impl_->reload_mu);
    impl_->reload_requested = std::move(next);
  }
  impl_->WakeForCommands();
}

Status Pipeline::Submit(AdminCommand command) {
  if (!impl_->commands().Push(std::move(command))) {
    return Status::Unavailable("the pipeline's command queue is full");
  }
  impl_->WakeForCommands();  // a poll waiting for records returns now
  return Status::Ok();
}
const std::vector<ModelEvent>& Pipeline::model_events() const { return impl_->model_events; }

Result<std::string> Pipeline::ModelsJson() const {
  if (impl_->model_root().empty() && !impl_->learns_ranker()) {
    return Status::NotFound("no model.dir is configured and ranker.model is off");
  }
  nlohmann::json all = nlohmann::json::array();
  if (!impl_->model_root().empty()) {
    auto versions = model::ListVersions(impl_->model_root());
    if (!versions.ok()) return versions.status();
    all = nlohmann::json::parse(model::VersionsJson(*versions));
  }
  if (impl_->learns_ranker()) {
    for (auto& v : nlohmann::json::parse(rank::RankerVersionsJson(rank::ListRankerVersions(impl_->ranker_root())))) {
      all.push_back(std::move(v));
    }
  }
  return all.dump(2);  // as model::VersionsJson: tools (tests/e2e/retrain.sh) read it line by line
}
const eval::PrequentialEvaluator& Pipeline::evaluator() const { return impl_->evaluator(); }
const store::GraphStore& Pipeline::store() const { return impl_->store(); }

}  // namespace recd::daemon
