// recd::model — the Refresher keeps the active PinSage model's item embeddings
// fresh as the graph changes, and picks up new model versions.
//
// Data flows one way: the pipeline Submit()s each committed batch's changes
// (edge deltas, item metadata, touched items); the refresher applies them to its
// own replica of the graph view, keeps a dirty set, and per Tick() re-embeds at
// most `budget` dirty items: it re-samples their neighbourhoods on the replica
// and recomputes their rows layer by layer from every item's cached rows of the
// layer below (incremental layer-wise inference), then updates the ANN index
// in place and the LiveModel the ranker reads.
//
// Dirty set rules (tested exactly in refresher_test):
//   1. every item an interaction touched;
//   2. every new item, and every item whose attributes or content vector changed;
//   3. for each item of rule 1, at most `fanout` items whose cached
//      neighbourhood holds it, those where it weighs most first.
// The set coalesces: an item dirty twice is re-embedded once. What a tick's
// budget leaves stays dirty, oldest first.
//
// Model lifecycle: every `reload_interval` the refresher reads <root>/LATEST;
// a new version is loaded, validated and fully embedded off to the side, then
// published with one atomic swap. A version that fails to load is refused
// (logged, counted, not retried until LATEST changes) and the old one serves.
//
// Persistence: <state_dir>/<version>.state holds every item's neighbourhood and
// embedding (and the ANN beside it), written on Stop() and every
// `snapshot_interval`; a restart on the same version loads it and re-embeds
// only items it does not cover, instead of the whole catalogue.
//
// Threading: Submit, Current, TakeChangedItems and stats are safe from any
// thread. Tick runs on one thread: the refresher's own (Start) or the caller's
// (replay and tests, which call it directly and never Start).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "base/event.h"
#include "base/status.h"
#include "model/ann_index.h"
#include "model/live_model.h"
#include "store/graph_view.h"

namespace recd::model {

struct RefresherConfig {
  std::string model_root;       // holds LATEST; "" = no model (the co-occurrence ranker serves)
  std::string device = "auto";  // auto | cpu | cuda[:N]
  std::string state_dir;        // where embeddings persist; "" = not persisted
  std::chrono::milliseconds interval{200};          // the thread ticks at least this often when there is work
  std::chrono::milliseconds reload_interval{5000};  // LATEST is read at most this often
  std::chrono::milliseconds snapshot_interval{300000};
  size_t budget = 50000;        // most items re-embedded per tick
  size_t batch = 2048;          // rows per forward call
  size_t fanout = 10;           // rule 3's bound per touched item
  size_t related = 50;          // ANN neighbours kept per item
  size_t walked = 50;           // walk neighbourhood kept per item (the model uses its first top_t)
  uint32_t walks = 0;           // random walks per item; 0 = the model's sampler setting
  size_t ann_m = 12;            // the live index's graph degree
  size_t ann_ef_construction = 64;
  size_t ann_ef_search = 64;
  float ann_update_probability = 0.1f;
  int cpu_threads = 1;          // LibTorch CPU threads (0: leave LibTorch's default)
  int thread_nice = 10;         // the refresher thread's nice value: intake wins a contended core  // neighbours re-linked when an item's vector moves
};

// One item's metadata as the store holds it.
struct ItemDescription {
  ItemId item;
  std::string external_id;
  Attributes attributes;
  std::vector<float> content;
};

// What one committed batch changed.
struct GraphChange {
  // Users the store evicted before this change (graph_store.h EvictColdUsers):
  // removed from the replica first, since `edges` may reuse their ids.
  std::vector<UserId> evicted_users;
  std::vector<store::EdgeDelta> edges;  // in the order the store applied them
  std::vector<ItemDescription> items;   // new items and items whose metadata changed
  std::vector<ItemId> touched;          // items that interactions touched
  size_t num_users = 0, num_items = 0;  // the store's id counts after the batch
};

struct RefresherStats {
  std::atomic<uint64_t> ticks{0};
  std::atomic<uint64_t> items_refreshed{0};
  std::atomic<uint64_t> dirty{0};              // gauge: items waiting
  std::atomic<uint64_t> model_loads{0};
  std::atomic<uint64_t> model_load_failures{0};
};

class Refresher {
 public:
  // `replica`: a copy of the store's view at start; `catalogue`: every item's
  // metadata, by dense id. Loads the active model (LATEST) before returning; no
  // model, or a refused one, leaves Current() null and is not an error.
  static Result<std::unique_ptr<Refresher>> Create(RefresherConfig config, store::GraphView replica,
                                                   std::vector<ItemDescription> catalogue);
  ~Refresher();  // stops the thread and snapshots

  void Submit(GraphChange change);
  // The model the ranker should read now; null while none is loaded.
  std::shared_ptr<const LiveModel> Current() const;
  // Items whose embedding changed since the last call, each once.
  std::vector<uint32_t> TakeChangedItems();

  // Applies what was submitted, reloads when LATEST moved and the reload
  // interval passed (`force_reload` skips the wait), and re-embeds up to
  // `budget` dirty items. Returns the number re-embedded.
  Result<size_t> Tick(bool force_reload = false);
  // Tick's first step alone: applies what was submitted and updates the dirty
  // set (tests inspect DirtyItems() after it).
  void ApplySubmitted();
  void Start();  // ticks on a thread of its own until Stop()
  void Stop();
  Status Snapshot();
  // Deletes state files of versions the registry no longer holds (not `serving`'s).
  void RemoveStaleStates(const std::string& serving);

  // The dirty items in the order they will be refreshed (tests).
  std::vector<ItemId> DirtyItems() const;
  const RefresherStats& stats() const { return stats_; }
  const RefresherConfig& config() const { return config_; }

  class Runtime;  // the loaded network and its per-item caches (refresher.cpp)

 private:
  Refresher(RefresherConfig config, store::GraphView replica, std::vector<ItemDescription> catalogue);
  void MarkDirty(uint32_t item);
  Status MaybeReload(bool force);
  AnnConfig LiveAnnConfig() const;  // the live index's settings, sized for the catalogue
  // Restores what <state_dir>/<version>.state covers; returns the items it does not.
  std::vector<uint32_t> LoadState(Runtime& rt, LiveModel& live);
  Status RefreshItems(Runtime& rt, LiveModel& live, const std::vector<uint32_t>& items, uint64_t round);
  void Loop();

  RefresherConfig config_;
  store::GraphView replica_;                // owned by the ticking thread
  std::vector<ItemDescription> catalogue_;  // by dense id
  std::unique_ptr<Runtime> runtime_;        // the active version's network and caches
  std::vector<uint32_t> dirty_;             // FIFO of dirty items
  size_t dirty_head_ = 0;
  std::vector<uint8_t> is_dirty_;
  // Nodes whose lists changed since the sampler last saw them.
  std::vector<uint32_t> changed_users_, changed_nodes_;
  uint64_t round_ = 1;
  std::chrono::steady_clock::time_point last_reload_check_{};
  std::chrono::steady_clock::time_point last_snapshot_;
  std::string refused_version_;

  mutable std::mutex inbox_mu_;
  std::vector<GraphChange> inbox_;
  std::unordered_set<uint32_t> changed_;  // guarded by inbox_mu_
  std::condition_variable wake_;

  mutable std::mutex current_mu_;         // guards the pointer only
  std::shared_ptr<LiveModel> current_;

  std::atomic<bool> stop_{false};
  std::thread thread_;
  RefresherStats stats_;
};

}  // namespace recd::model
