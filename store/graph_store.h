// recd::store — GraphStore: the user–item graph on RocksDB, the one owner of all
// durable state (id maps, edges both ways, attributes, event-id dedup window,
// counters, consumer offsets, lists awaiting publication) and of the in-memory
// GraphView derived from it. Depends on base/ and RocksDB only.
//
// Threading: one writer. Apply/ClearPending and every read run on the same thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/event.h"
#include "base/status.h"
#include "store/decay.h"
#include "store/graph_view.h"

namespace rocksdb {
class Env;
}

namespace recd::store {

struct StoreOptions {
  std::string path;
  DecayConfig decay;
  // Most recent event ids remembered for duplicate dropping; 0 turns dedup off
  // (every event_id is ignored and nothing is written for it).
  size_t dedup_window = 250'000;
  bool sync_writes = true;        // fsync the WAL on every batch (survives power loss, not only kill -9)
  // Most attribute names one item or user record keeps over all its events
  // (records.h MergeAttributes says which stay).
  size_t max_attribute_names = 128;
  // RocksDB's memtables, every column family together (MiB): past it the
  // largest is written out. Without it each of the 11 families may hold two
  // 64 MiB buffers. 0: the per-family limits only.
  size_t memtable_budget_mb = 512;
  // Bounded memory (graph_store.h EvictColdUsers): the most live users kept,
  // 0 for no cap, and how long a user may go without an event, in event
  // time, before eviction, 0 for ever.
  size_t max_users = 2'000'000;
  EpochMillis user_idle_ms = 400LL * 86'400'000;
  // Inspect a store, even one a running daemon holds: no writes, no decay check.
  bool read_only = false;
  // The RocksDB environment the store's files go through; null is the default
  // (the local disk). Tests inject write and sync failures through it.
  rocksdb::Env* env = nullptr;
};

using recd::PartitionOffset;

// Durable totals, committed in the same batch as the graph change they count.
struct Counters {
  std::array<uint64_t, kEventTypeCount> applied{};  // by EventType
  uint64_t duplicates = 0;  // dropped because their event_id was seen
  uint64_t rejected = 0;    // sent to the dead-letter topic
  uint64_t batches = 0;
  uint64_t evicted_users = 0;  // users evicted as cold (EvictColdUsers)
  // The interactions, by type (click, purchase, rating), whose edges left with
  // evicted users: edge counts plus these equal the applied interactions.
  std::array<uint64_t, 3> evicted_interactions{};
};

// What one durable edge holds.
struct EdgeRecord {
  std::array<uint32_t, 3> counts{};  // clicks, purchases, ratings
  double log_weight = kNoWeight;     // epoch-referred log2 weight (decay.h)
  EpochMillis first_ts = 0;
  EpochMillis last_ts = 0;
  EpochMillis last_rating_ts = 0;
  double last_rating = 0;
};

struct ApplyOutcome {
  std::vector<UserId> touched_users;  // each once, in first-touch order
  std::vector<ItemId> touched_items;   // by interactions or metadata
  std::vector<ItemId> described_items; // whose attributes or content vector this batch set (may repeat)
  std::vector<EdgeDelta> edges;        // the view's changes, in the order applied
  uint64_t applied = 0;
  uint64_t duplicates = 0;
};

class GraphStore {
 public:
  // Opens (creating when missing) the store at options.path and rebuilds the
  // GraphView and in-memory maps from it. Fails with InvalidArgument when the
  // store was built with different decay settings.
  static Result<std::unique_ptr<GraphStore>> Open(const StoreOptions& options);
  ~GraphStore();

  // Reads only the committed counters of the store at `path`, read-only and
  // cheaply (no GraphView), even while a daemon holds the store.
  static Result<Counters> ReadCounters(const std::string& path);

  // Applies `events` and advances `offsets` in ONE RocksDB WriteBatch (with the
  // counters, the dedup window and the touched users marked pending publication),
  // then updates the GraphView. `rejected` counts this batch's dead-lettered
  // messages. A refused write changes nothing, in memory or in RocksDB. Out of
  // disk space it is Unavailable: apply the same batch again later (the next
  // write first resumes RocksDB). Other write errors (a failed fsync) are final:
  // every later write fails too, and a reopen recovers from the store's log.
  Result<ApplyOutcome> Apply(const std::vector<Event>& events,
                             const std::vector<PartitionOffset>& offsets, uint64_t rejected);

  // Bounded memory. Users with no event for store.user_idle_ms of event time,
  // then the least recently active beyond store.max_users, are evicted: their
  // edges (both directions), attributes, id and pending mark are deleted in one
  // batch, and their view rows removed. A user who comes back is a new user.
  // Their interactions' weight leaves the items' popularity with them.
  //
  // EvictionDue says whether there is work: past the cap by a slack of 1/16
  // (so that sweeps are rare), or an idle sweep due (at each step of 1/64 of
  // the idle time, at least a minute, of event time). EvictColdUsers does it; `keep(u)`
  // true spares a user this time (its list is due or in flight; it goes at a
  // later sweep). It returns who went. Their ids are free and the next Apply
  // may reuse them: the caller drops its own state of these ids first.
  // Unavailable (a full disk) changes nothing.
  struct Eviction {
    std::vector<UserId> users;
    std::vector<std::string> external_ids;  // parallel to users
  };
  bool EvictionDue() const;
  Result<Eviction> EvictColdUsers(const std::function<bool(UserId)>& keep);
  // Users with an id now (the id space, view().num_users(), also counts free ids).
  size_t live_users() const;
  // Bytes in RocksDB's memtables, every column family (store.memtable_budget_mb).
  uint64_t MemtableBytes() const;
  bool UserLive(UserId user) const;

  // Users whose newest list is not known to be delivered (survives restarts).
  std::vector<UserId> PendingUsers() const;
  // Forgets the pending mark of users whose newest list is delivered.
  Status ClearPending(const std::vector<UserId>& users);

  // The one owner of consumer positions: the next offset to read in `tp`, as
  // committed with the state; nullopt when none is stored.
  std::optional<Offset> StoredOffset(const TopicPartition& tp) const;
  // The same with the stored hash of the record before it (0 in stores written
  // before hashes were kept).
  std::optional<PartitionOffset> StoredPosition(const TopicPartition& tp) const;
  const Counters& counters() const { return counters_; }
  // False from a refused write until a write succeeds again.
  bool writable() const;
  const GraphView& view() const { return view_; }
  const DecayConfig& decay() const { return options_.decay; }

  std::optional<UserId> FindUser(std::string_view external) const;
  std::optional<ItemId> FindItem(std::string_view external) const;
  const std::string& ExternalId(UserId user) const;
  const std::string& ExternalId(ItemId item) const;
  // False when the item's newest `available` attribute says so (false, 0, "no", ...).
  bool ItemAvailable(ItemId item) const;
  // The newest event time applied so far (the store's event-time "now"); 0 when none.
  EpochMillis LatestEventTime() const { return latest_event_ts_; }

  // Reads from RocksDB (not the view).
  Result<std::optional<EdgeRecord>> GetEdge(UserId user, ItemId item) const;
  Result<Attributes> GetAttributes(EventType kind, std::string_view external) const;
  Result<std::vector<float>> GetItemEmbedding(ItemId item) const;
  // Sums every edge's per-type counts, both directions (they must agree).
  struct EdgeTotals {
    std::array<uint64_t, 3> user_item{};
    std::array<uint64_t, 3> item_user{};
    uint64_t edges = 0;
  };
  Result<EdgeTotals> SumEdges() const;
  // Calls `fn` for every edge, by user then item: one sequential scan, where a
  // GetEdge per edge would search the memtables each time (the write-mostly
  // column families use unsorted vector memtables, sorted per lookup).
  Status ForEachEdge(const std::function<void(UserId, ItemId, const EdgeRecord&)>& fn) const;

  // The model version the daemon serves, recorded durably (a synced write of
  // its own) before any list goes out under it: at a restart this version is
  // restored, so a crash before the record leaves the previous one active.
  // The same batch marks `owed_lists` pending (the users whose lists the new
  // version makes stale), so a crash mid-republication still owes them a list.
  // "" when none was recorded.
  std::string ActiveModelVersion() const;
  Status RecordActiveModelVersion(const std::string& version, const std::vector<UserId>& owed_lists = {});

  // A consistent, openable copy of the store in `dir` (hard links where possible).
  // Safe from any thread while the writer goes on: RocksDB's checkpoint is, and
  // it holds whole batches only.
  Status Checkpoint(const std::string& dir) const;

 private:
  class Impl;
  explicit GraphStore(const StoreOptions& options);
  EpochMillis NextIdleSweep(EpochMillis now) const;
  StoreOptions options_;
  std::unique_ptr<Impl> impl_;
  GraphView view_;
  Counters counters_;
  EpochMillis latest_event_ts_ = 0;
};

}  // namespace recd::store
