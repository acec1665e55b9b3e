#include "store/graph_store.h"

#include <rocksdb/db.h>
#include <rocksdb/listener.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/write_batch.h>

#include <cstring>
#include <deque>
#include <queue>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "base/log.h"
#include "store/records.h"

namespace recd::store {

namespace r = records;

namespace {

// Column families, in open order. "default" is required by RocksDB and holds nothing.
enum Cf : size_t {
  kDefault, kMeta, kOffsets, kIds, kUserItems, kItemUsers, kItemAttrs, kUserAttrs,
  kItemEmbeddings, kDedupOrder, kPending, kCfCount
};
constexpr const char* kCfNames[kCfCount] = {
    "default", "meta", "offsets", "ids", "user_items", "item_users",
    "item_attrs", "user_attrs", "item_embeddings", "dedup_order", "pending"};

constexpr char kCountersKey[] = "counters";
constexpr char kDecayKey[] = "decay";
constexpr char kSchemaKey[] = "schema";
constexpr char kActiveModelKey[] = "active_model";
constexpr char kSchemaVersion[] = "recd.store.v1";

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  if (s.IsInvalidArgument()) return Status::InvalidArgument(what + ": " + s.ToString());
  if (s.IsNotFound()) return Status::NotFound(what + ": " + s.ToString());
  return Status::IoError(what + ": " + s.ToString());
}

// Calls fn(key, value) for every record of one column family, in key order.
Status Scan(rocksdb::DB& db, rocksdb::ColumnFamilyHandle* cf, const char* name,
            const std::function<Status(std::string_view, std::string_view)>& fn) {
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator({}, cf));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    RECD_RETURN_IF_ERROR(fn(std::string_view(it->key().data(), it->key().size()),
                            std::string_view(it->value().data(), it->value().size())));
  }
  return FromRocks(it->status(), std::string("scanning ") + name);
}

std::string DescribeDecay(const DecayConfig& d) {
  std::ostringstream os;
  os << "half_life_ms=" << d.half_life_ms << " click=" << d.click_weight
     << " purchase=" << d.purchase_weight << " rating=" << d.rating_weight
     << " rating_max=" << d.rating_max;
  return os.str();
}

bool ParseAvailable(const AttributeValue& v) {
  if (v.is_number) return v.number != 0;
  static const char* kFalse[] = {"false", "0", "no", "n", "off", "unavailable", "sold_out"};
  for (const char* f : kFalse) {
    if (v.text == f) return false;
  }
  return true;
}

// After a hard error from a full disk, RocksDB would resume by itself only once
// free space reaches the size of every write buffer (its SstFileManager's
// reserve), which a small disk never has, and meanwhile it answers every manual
// Resume() with Busy. recd resumes it instead, at its next write (Impl::Write).
// Soft errors (a compaction out of space, while writes go on) keep RocksDB's own
// recovery: no write of recd's fails to ask for one.
class ResumeOnlyWhenAsked : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason, rocksdb::Status error, bool* auto_recovery) override {
    if (error.severity() >= rocksdb::Status::Severity::kHardError) *auto_recovery = false;
  }
};

}  // namespace

// Dense <-> external id map for one kind, held in memory. Durable form: the ids
// column family, kind + dense id -> external id, written in the batch that first
// mentions the id and deleted in the batch that evicts it.
//
// An evicted id is free and is reused by the next new external id, smallest
// first, so that the same log gives the same ids whether or not the process
// restarted in between (a restart finds the free ids as the holes in the map).
// A batch's new ids are forgotten by Rollback when its write fails.
class IdMap {
 public:
  explicit IdMap(char kind) : kind_(kind) {}
  std::optional<uint32_t> Find(std::string_view external) const {
    auto it = ids_.find(std::string(external));  // C++17: no heterogeneous lookup
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }
  uint32_t GetOrCreate(const std::string& external, rocksdb::WriteBatch* wb, rocksdb::ColumnFamilyHandle* ids_cf) {
    if (auto it = ids_.find(external); it != ids_.end()) return it->second;
    uint32_t id;
    if (free_.empty()) {
      id = static_cast<uint32_t>(names_.size());
      names_.push_back(external);
    } else {
      id = free_.top();
      free_.pop();
      names_[id] = external;
    }
    ids_.emplace(external, id);
    created_.push_back(id);
    wb->Put(ids_cf, r::DenseKey(kind_, id), external);
    return id;
  }
  // A batch starts: Rollback undoes what GetOrCreate does from here.
  void BeginBatch() {
    created_.clear();
    size_at_batch_ = names_.size();
  }
  // The batch's write failed: forget the ids it created (reused ones are free again).
  void Rollback() {
    for (uint32_t id : created_) {
      ids_.erase(names_[id]);
      if (id < size_at_batch_) {
        names_[id].clear();
        free_.push(id);
      }
    }
    names_.resize(size_at_batch_);
    created_.clear();
  }
  // The id's owner was evicted (its batch committed): the id is free for reuse.
  void Release(uint32_t id) {
    ids_.erase(names_[id]);
    std::string().swap(names_[id]);
    free_.push(id);
  }
  void Load(uint32_t id, std::string external) {
    if (id >= names_.size()) names_.resize(id + 1);
    ids_.emplace(external, id);
    names_[id] = std::move(external);
  }
  // After the last Load: the holes are the free ids.
  void FinishLoad() {
    for (uint32_t id = 0; id < names_.size(); ++id) {
      if (names_[id].empty()) free_.push(id);
    }
  }
  // "" for a free id.
  const std::string& Name(uint32_t id) const { return names_.at(id); }
  bool Live(uint32_t id) const { return id < names_.size() && !names_[id].empty(); }
  size_t size() const { return names_.size(); }  // the id space: live and free ids
  size_t live() const { return ids_.size(); }

 private:
  char kind_;
  std::unordered_map<std::string, uint32_t> ids_;
  std::vector<std::string> names_;  // by id; "" where free (external ids are never empty)
  std::priority_queue<uint32_t, std::vector<uint32_t>, std::greater<uint32_t>> free_;  // smallest first
  std::vector<uint32_t> created_;   // by the batch being built
  size_t size_at_batch_ = 0;
};

// The bounded window of recently seen event ids, oldest first. Durable form: the
// dedup_order column family, sequence number -> event id; the lookup set is
// rebuilt from it on open, so each new id costs one append-like write.
//
// A batch adds ids with Add, then either Commit (its write landed: the window
// trims to capacity) or Rollback (its write failed: its ids are forgotten).
// Nothing is evicted before Commit, so Rollback needs no undo of evictions.
class DedupWindow {
 public:
  explicit DedupWindow(size_t capacity) : capacity_(capacity) {}
  // A window of 0 is dedup turned off: ids are neither looked up nor recorded.
  bool enabled() const { return capacity_ > 0; }
  bool Seen(const std::string& id) const { return seq_of_.count(id) != 0; }
  // Records `id` in the batch; evictions are written by FinishBatch.
  void Add(const std::string& id, rocksdb::WriteBatch* wb, rocksdb::ColumnFamilyHandle* order) {
    std::string seq;
    r::PutU64BE(&seq, next_seq_);
    wb->Put(order, seq, id);
    Remember(next_seq_++, id);
  }
  // Deletes, in the batch, every sequence number that Commit will evict, with
  // one range tombstone.
  void FinishBatch(rocksdb::WriteBatch* wb, rocksdb::ColumnFamilyHandle* order) const {
    const uint64_t oldest_kept = OldestKept();
    if (oldest_kept > deleted_below_) {
      std::string from, to;
      r::PutU64BE(&from, deleted_below_);
      r::PutU64BE(&to, oldest_kept);
      wb->DeleteRange(order, from, to);
    }
  }
  // The batch is on disk, with FinishBatch's deletions: trim to capacity.
  void Commit() {
    deleted_below_ = std::max(deleted_below_, OldestKept());
    Trim();
    batch_start_seq_ = next_seq_;
  }
  // Forgets the oldest ids beyond the capacity in memory only (after Load: a
  // store written with a larger window); the next FinishBatch deletes them on disk.
  void Trim() {
    while (order_.size() > capacity_) {
      seq_of_.erase(*order_.front().second);
      order_.pop_front();
    }
  }
  // The batch never reached the disk: forget the ids it added.
  void Rollback() {
    while (!order_.empty() && order_.back().first >= batch_start_seq_) {
      seq_of_.erase(*order_.back().second);
      order_.pop_back();
    }
    next_seq_ = batch_start_seq_;
  }
  void Load(uint64_t seq, const std::string& id) {
    if (order_.empty()) deleted_below_ = seq;
    Remember(seq, id);
    next_seq_ = batch_start_seq_ = seq + 1;
  }
  size_t size() const { return order_.size(); }

 private:
  void Remember(uint64_t seq, const std::string& id) {
    auto it = seq_of_.emplace(id, seq).first;
    order_.emplace_back(seq, &it->first);
  }
  // The sequence number of the oldest id the window keeps once trimmed.
  uint64_t OldestKept() const {
    if (order_.size() > capacity_) return order_[order_.size() - capacity_].first;
    return order_.empty() ? next_seq_ : order_.front().first;
  }
  size_t capacity_;
  uint64_t next_seq_ = 0;
  uint64_t batch_start_seq_ = 0;  // the first sequence number of the batch being built
  uint64_t deleted_below_ = 0;    // sequence numbers below this are deleted on disk
  std::unordered_map<std::string, uint64_t> seq_of_;
  std::deque<std::pair<uint64_t, const std::string*>> order_;  // points into seq_of_'s keys
};

class GraphStore::Impl {
 public:
  explicit Impl(const StoreOptions& o)
      : users(r::kUserKind), items(r::kItemKind), dedup(o.dedup_window) {}
  ~Impl() {
    for (auto* h : cfs) {
      if (h) db->DestroyColumnFamilyHandle(h);
    }
    if (db) db->Close();
  }
  rocksdb::ColumnFamilyHandle* cf(Cf c) const { return cfs[c]; }

  // Every write goes through here. A refused write changes nothing in RocksDB.
  // Out of space it is Unavailable: a later write asks RocksDB to resume (which
  // flushes its memtables) once the disk has room again. Any other
  // failure (a failed fsync, a broken device) is final for this process: what
  // reached the log is known only after a reopen, so a restart must decide.
  Status Write(const rocksdb::WriteOptions& options, rocksdb::WriteBatch* wb, const std::string& what) {
    if (read_only) return Status::Aborted(what + ": the store is open read-only");
    if (write_failed) {
      RECD_RETURN_IF_ERROR(RoomToResume(what));
      const rocksdb::Status resumed = db->Resume();
      if (!resumed.ok()) return Refused(resumed, what + ": the store is still not writable");
      write_failed = false;
      RECD_INFO("store: writable again after a refused write");
    }
    const rocksdb::Status s = db->Write(options, wb);
    if (s.ok()) return Status::Ok();
    write_failed = true;
    return Refused(s, what);
  }
  // Resuming flushes every memtable first, and a resume that fails for want of
  // space is escalated by RocksDB to a fatal error. So it is tried only once
  // the disk has room for the memtables and some headroom (where the file
  // system says how much it has).
  Status RoomToResume(const std::string& what) const {
    uint64_t free_bytes = 0, memtables = 0;
    if (!db->GetEnv()->GetFreeSpace(path, &free_bytes).ok()) return Status::Ok();
    db->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables);
    constexpr uint64_t kHeadroom = 8 << 20, kMiB = 1 << 20;
    if (free_bytes >= memtables + kHeadroom) return Status::Ok();
    return Status::Unavailable(what + ": the disk has " + std::to_string(free_bytes / kMiB) +
                               " MiB free; the store resumes once it has " +
                               std::to_string((memtables + kHeadroom + kMiB - 1) / kMiB) +
                               " MiB (its memtables are written out first): free disk space");
  }
  static Status Refused(const rocksdb::Status& s, const std::string& what) {
    if (s.severity() >= rocksdb::Status::Severity::kFatalError) {
      // Even out of space: a resume tried on a still-full disk ends here, and
      // RocksDB then refuses every resume. Only a reopen recovers.
      return Status::IoError(what + ": " + s.ToString() +
                             "; RocksDB refuses further writes for good: restart recd, which recovers from the store's log");
    }
    if (s.IsBusy() || s.IsIncomplete()) {
      return Status::Unavailable(what + ": RocksDB is busy recovering from an earlier refused write (" + s.ToString() + ")");
    }
    if (s.IsNoSpace() || s.subcode() == rocksdb::Status::kSpaceLimit) {
      return Status::Unavailable(what + ": " + s.ToString() + "; nothing was written; free disk space and it is retried");
    }
    if (s.IsCorruption()) return FromRocks(s, what);
    return Status::IoError(what + ": " + s.ToString() +
                           "; nothing more is written by this process: restart recd, which recovers from the store's log");
  }

  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs;
  rocksdb::WriteOptions write_options;
  IdMap users, items;
  DedupWindow dedup;
  std::map<TopicPartition, PartitionOffset> offsets;
  std::vector<bool> item_unavailable;       // by ItemId
  std::vector<EpochMillis> available_ts;    // event time of the newest `available` value
  std::vector<EpochMillis> user_last_ts;    // by UserId: the user's newest event time (0: free id)
  // By UserId: the user's interactions by type, which leave the edge counts
  // with them when evicted (Counters::evicted_interactions).
  std::vector<std::array<uint32_t, 3>> user_interactions;
  EpochMillis next_idle_sweep_ts = INT64_MAX;  // event time of the next idle-user sweep (NextIdleSweep)
  // A write failed (a full disk, a failed fsync): RocksDB refuses writes until
  // Resume(), which the next write tries first.
  bool write_failed = false;
  bool read_only = false;
  std::string path;
  // Scratch for Apply: the number of the last batch that touched each id.
  uint32_t batch_stamp = 0;
  std::vector<uint32_t> user_stamp, item_stamp;
};

GraphStore::GraphStore(const StoreOptions& options)
    : options_(options), impl_(std::make_unique<Impl>(options)) {}
GraphStore::~GraphStore() = default;

Result<std::unique_ptr<GraphStore>> GraphStore::Open(const StoreOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("store.path is empty; set a directory");
  if (!(options.decay.half_life_ms > 0)) {
    return Status::InvalidArgument("store.half_life must be positive");
  }
  std::unique_ptr<GraphStore> self(new GraphStore(options));
  Impl& impl = *self->impl_;

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.IncreaseParallelism(2);
  db_options.allow_concurrent_memtable_write = false;  // one writer; needed by the vector memtables
  db_options.db_write_buffer_size = options.memtable_budget_mb << 20;
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (size_t i = 0; i < kCfCount; ++i) {
    rocksdb::ColumnFamilyOptions cf_options;
    cf_options.compression = rocksdb::kLZ4Compression;
    if (i == kUserItems || i == kItemUsers || i == kDedupOrder || i == kIds || i == kPending) {
      // Write-mostly: the hot path only appends, reads happen at open (one scan)
      // and in tools. An unsorted vector memtable makes each insert O(1) instead
      // of a skip-list search; it is sorted once at flush.
      cf_options.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
      cf_options.write_buffer_size = 64 << 20;
    }
    if (i == kUserItems || i == kItemUsers) {
      cf_options.merge_operator = std::make_shared<r::EdgeMergeOperator>();
    } else if (i == kItemAttrs || i == kUserAttrs) {
      cf_options.merge_operator = std::make_shared<r::AttributeMergeOperator>(options.max_attribute_names);
    } else if (i == kItemEmbeddings) {
      cf_options.merge_operator = std::make_shared<r::NewestWinsMergeOperator>();
    }
    descriptors.emplace_back(kCfNames[i], cf_options);
  }
  if (options.env) db_options.env = options.env;
  db_options.listeners.push_back(std::make_shared<ResumeOnlyWhenAsked>());
  rocksdb::DB* raw = nullptr;
  if (options.read_only) {
    db_options.create_if_missing = false;
    RECD_RETURN_IF_ERROR(FromRocks(
        rocksdb::DB::OpenForReadOnly(db_options, options.path, descriptors, &impl.cfs, &raw),
        "opening store at " + options.path + " read-only"));
    impl.read_only = true;  // refuses writes
  } else {
    RECD_RETURN_IF_ERROR(FromRocks(
        rocksdb::DB::Open(db_options, options.path, descriptors, &impl.cfs, &raw),
        "opening store at " + options.path));
  }
  impl.db.reset(raw);
  impl.path = options.path;
  impl.write_options.sync = options.sync_writes;

  // Schema and decay settings: the stored log-weights are only meaningful under
  // the settings they were written with.
  std::string value;
  const std::string decay = DescribeDecay(options.decay);
  rocksdb::Status s = impl.db->Get({}, impl.cf(kMeta), kDecayKey, &value);
  if (s.ok()) {
    if (value != decay && !options.read_only) {
      return Status::InvalidArgument(
          "store at " + options.path + " was built with decay settings {" + value +
          "} but the config gives {" + decay +
          "}; restore the old store.* weights/half_life, or start from an empty store.path and "
          "replay the topic");
    }
  } else if (s.IsNotFound() && !options.read_only) {
    rocksdb::WriteBatch wb;
    wb.Put(impl.cf(kMeta), kDecayKey, decay);
    wb.Put(impl.cf(kMeta), kSchemaKey, kSchemaVersion);
    RECD_RETURN_IF_ERROR(FromRocks(impl.db->Write(impl.write_options, &wb), "initialising store"));
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading store metadata");
  }
  if (impl.db->Get({}, impl.cf(kMeta), kCountersKey, &value).ok() &&
      !r::DecodeCounters(value, &self->counters_)) {
    return Status::Corruption("store counters record is unreadable");
  }

  auto scan = [&](Cf c, const std::function<Status(std::string_view, std::string_view)>& fn) {
    return Scan(*impl.db, impl.cf(c), kCfNames[c], fn);
  };

  RECD_RETURN_IF_ERROR(scan(kIds, [&](std::string_view k, std::string_view v) {
    if (k.size() != 5) return Status::Corruption("bad ids key");
    (k[0] == r::kUserKind ? impl.users : impl.items).Load(r::GetU32BE(k.data() + 1), std::string(v));
    return Status::Ok();
  }));
  impl.users.FinishLoad();
  impl.items.FinishLoad();
  for (uint32_t u = 0; u < impl.users.size(); ++u) self->view_.EnsureUser(UserId(u));
  impl.user_last_ts.assign(impl.users.size(), 0);
  impl.user_interactions.assign(impl.users.size(), {});
  for (uint32_t i = 0; i < impl.items.size(); ++i) self->view_.EnsureItem(ItemId(i));
  impl.item_unavailable.assign(impl.items.size(), false);
  impl.available_ts.assign(impl.items.size(), INT64_MIN);

  RECD_RETURN_IF_ERROR(scan(kUserItems, [&](std::string_view k, std::string_view v) {
    EdgeRecord e;
    if (k.size() != 8 || !r::DecodeEdge(v, &e)) return Status::Corruption("bad user_items record");
    TypeMask types = 0;
    for (size_t t = 0; t < e.counts.size(); ++t) {
      if (e.counts[t] > 0) types |= TypeBit(static_cast<EventType>(t));
    }
    const uint32_t u = r::GetU32BE(k.data());
    if (!impl.users.Live(u)) return Status::Corruption("user_items record of user " + std::to_string(u) + ", who has no id");
    self->view_.AddInteraction(UserId(u), ItemId(r::GetU32BE(k.data() + 4)), e.log_weight, types);
    self->latest_event_ts_ = std::max(self->latest_event_ts_, e.last_ts);
    impl.user_last_ts[u] = std::max(impl.user_last_ts[u], e.last_ts);
    for (size_t t = 0; t < e.counts.size(); ++t) impl.user_interactions[u][t] += e.counts[t];
    return Status::Ok();
  }));
  self->view_.Compact();

  // A user's newest event may be a user event: its attributes carry its time.
  RECD_RETURN_IF_ERROR(scan(kUserAttrs, [&](std::string_view k, std::string_view v) {
    r::TimedAttributes attrs;
    if (k.size() != 5 || !r::DecodeAttributes(v, &attrs)) return Status::Corruption("bad user_attrs record");
    const uint32_t u = r::GetU32BE(k.data() + 1);
    if (u >= impl.users.size()) return Status::Ok();
    for (const auto& [name, ta] : attrs) impl.user_last_ts[u] = std::max(impl.user_last_ts[u], ta.ts);
    return Status::Ok();
  }));

  RECD_RETURN_IF_ERROR(scan(kItemAttrs, [&](std::string_view k, std::string_view v) {
    r::TimedAttributes attrs;
    if (k.size() != 5 || !r::DecodeAttributes(v, &attrs)) {
      return Status::Corruption("bad item_attrs record");
    }
    const uint32_t id = r::GetU32BE(k.data() + 1);
    for (const auto& [name, ta] : attrs) {
      if (name == r::kAvailableAttribute && id < impl.items.size()) {
        impl.item_unavailable[id] = !ParseAvailable(ta.value);
        impl.available_ts[id] = ta.ts;
      }
    }
    return Status::Ok();
  }));

  RECD_RETURN_IF_ERROR(scan(kOffsets, [&](std::string_view k, std::string_view v) {
    const size_t nul = k.find('\0');
    // 8 bytes: the next offset (stores written before record hashes); 16: and the hash.
    if (nul == std::string_view::npos || k.size() != nul + 5 || (v.size() != 8 && v.size() != 16)) {
      return Status::Corruption("bad offsets record");
    }
    const TopicPartition tp{std::string(k.substr(0, nul)), static_cast<int32_t>(r::GetU32BE(k.data() + nul + 1))};
    impl.offsets[tp] = {tp, Offset(static_cast<int64_t>(r::GetU64BE(v.data()))),
                        v.size() == 16 ? r::GetU64BE(v.data() + 8) : 0};
    return Status::Ok();
  }));

  RECD_RETURN_IF_ERROR(scan(kDedupOrder, [&](std::string_view k, std::string_view v) {
    if (k.size() != 8) return Status::Corruption("bad dedup_order record");
    impl.dedup.Load(r::GetU64BE(k.data()), std::string(v));
    return Status::Ok();
  }));
  impl.dedup.Trim();
  impl.next_idle_sweep_ts = self->NextIdleSweep(self->latest_event_ts_);

  RECD_INFO("store " << options.path << " open: " << impl.users.live() << " users, "
                     << impl.items.size() << " items, " << self->view_.num_edges() << " edges, "
                     << impl.offsets.size() << " partition offsets, " << impl.dedup.size()
                     << " remembered event ids");
  return self;
}

Result<Counters> GraphStore::ReadCounters(const std::string& path) {
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {{kCfNames[kDefault], {}}, {kCfNames[kMeta], {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  RECD_RETURN_IF_ERROR(FromRocks(rocksdb::DB::OpenForReadOnly({}, path, descriptors, &handles, &raw),
                                 "opening store at " + path + " read-only"));
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string value;
  const rocksdb::Status s = db->Get({}, handles[1], kCountersKey, &value);
  Counters counters;
  Status status;
  if (s.ok()) {
    if (!r::DecodeCounters(value, &counters)) status = Status::Corruption("store counters record is unreadable");
  } else if (!s.IsNotFound()) {
    status = FromRocks(s, "reading counters");
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  if (!status.ok()) return status;
  return counters;
}

Result<ApplyOutcome> GraphStore::Apply(const std::vector<Event>& events,
                                       const std::vector<PartitionOffset>& offsets,
                                       uint64_t rejected) {
  Impl& impl = *impl_;
  if (impl.read_only) return Status::Aborted("applying events: the store is open read-only");
  impl.users.BeginBatch();
  impl.items.BeginBatch();
  rocksdb::WriteBatch wb(events.size() * 96);  // ~two edge merges per event
  ApplyOutcome out;
  Counters counters = counters_;
  // Touched ids are stamped with this batch's number: O(1) "first time this batch?".
  const uint32_t stamp = ++impl.batch_stamp;
  std::vector<EdgeDelta>& view_edges = out.edges;
  view_edges.reserve(events.size());
  struct Availability {
    ItemId item;
    bool available;
    EpochMillis ts;
  };
  std::vector<Availability> availability;
  struct UserEvent {
    uint32_t user;
    EpochMillis ts;
    EventType type;
  };
  std::vector<UserEvent> user_events;  // each applied event of a user
  EpochMillis latest = latest_event_ts_;

  auto touch_user = [&](uint32_t u) {
    if (u >= impl.user_stamp.size()) impl.user_stamp.resize(u + 1024, 0);
    if (impl.user_stamp[u] != stamp) {
      impl.user_stamp[u] = stamp;
      out.touched_users.emplace_back(u);
    }
  };
  auto touch_item = [&](uint32_t i) {
    if (i >= impl.item_stamp.size()) impl.item_stamp.resize(i + 1024, 0);
    if (impl.item_stamp[i] != stamp) {
      impl.item_stamp[i] = stamp;
      out.touched_items.emplace_back(i);
    }
  };
  auto attrs_record = [](const Event& e) {
    r::TimedAttributes timed;
    for (const auto& [name, value] : e.attributes) timed.emplace_back(name, r::TimedAttribute{e.ts, value});
    std::sort(timed.begin(), timed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    return r::EncodeAttributes(timed);
  };

  for (const Event& e : events) {
    if (!e.event_id.empty() && impl.dedup.enabled()) {
      if (impl.dedup.Seen(e.event_id)) {
        ++out.duplicates;
        continue;
      }
      impl.dedup.Add(e.event_id, &wb, impl.cf(kDedupOrder));
    }
    latest = std::max(latest, e.ts);
    switch (e.type) {
      case EventType::kClick:
      case EventType::kPurchase:
      case EventType::kRating: {
        const uint32_t u = impl.users.GetOrCreate(e.user_id, &wb, impl.cf(kIds));
        const uint32_t i = impl.items.GetOrCreate(e.item_id, &wb, impl.cf(kIds));
        EdgeRecord rec;
        rec.counts[static_cast<size_t>(e.type)] = 1;
        rec.log_weight = EpochLogWeight(options_.decay, TypeWeight(options_.decay, e.type, e.rating), e.ts);
        rec.first_ts = rec.last_ts = e.ts;
        if (e.type == EventType::kRating) {
          rec.last_rating_ts = e.ts;
          rec.last_rating = e.rating;
        }
        const std::string value = r::EncodeEdge(rec);
        wb.Merge(impl.cf(kUserItems), r::PairKey(u, i), value);
        wb.Merge(impl.cf(kItemUsers), r::PairKey(i, u), value);
        view_edges.push_back({UserId(u), ItemId(i), rec.log_weight, TypeBit(e.type), e.ts});
        user_events.push_back({u, e.ts, e.type});
        touch_user(u);
        touch_item(i);
        break;
      }
      case EventType::kItem: {
        const uint32_t i = impl.items.GetOrCreate(e.item_id, &wb, impl.cf(kIds));
        if (!e.attributes.empty()) wb.Merge(impl.cf(kItemAttrs), r::DenseKey(r::kItemKind, i), attrs_record(e));
        if (!e.embedding.empty()) {
          wb.Merge(impl.cf(kItemEmbeddings), r::DenseKey(r::kItemKind, i),
                   r::EncodeStamped(e.ts, std::string_view(reinterpret_cast<const char*>(e.embedding.data()),
                                                           e.embedding.size() * sizeof(float))));
        }
        if (!e.attributes.empty() || !e.embedding.empty()) out.described_items.emplace_back(i);
        for (const auto& [name, value] : e.attributes) {
          if (name == r::kAvailableAttribute) availability.push_back({ItemId(i), ParseAvailable(value), e.ts});
        }
        touch_item(i);
        break;
      }
      case EventType::kUser: {
        const uint32_t u = impl.users.GetOrCreate(e.user_id, &wb, impl.cf(kIds));
        // Activity is what a reopen can see again: a profile without
        // attributes leaves no trace but the id.
        if (!e.attributes.empty()) {
          wb.Merge(impl.cf(kUserAttrs), r::DenseKey(r::kUserKind, u), attrs_record(e));
          user_events.push_back({u, e.ts, e.type});
        }
        touch_user(u);
        break;
      }
    }
    ++counters.applied[static_cast<size_t>(e.type)];
    ++out.applied;
  }
  impl.dedup.FinishBatch(&wb, impl.cf(kDedupOrder));
  counters.duplicates += out.duplicates;
  counters.rejected += rejected;
  ++counters.batches;
  wb.Put(impl.cf(kMeta), kCountersKey, r::EncodeCounters(counters));
  for (const auto& o : offsets) {
    std::string v;
    r::PutU64BE(&v, static_cast<uint64_t>(o.next.value));
    r::PutU64BE(&v, o.last_record_hash);
    wb.Put(impl.cf(kOffsets), r::OffsetKey(o.tp.topic, o.tp.partition), v);
  }
  for (UserId u : out.touched_users) wb.Put(impl.cf(kPending), r::DenseKey(r::kUserKind, u.value), "");

  if (Status s = impl.Write(impl.write_options, &wb, "committing a batch of " + std::to_string(events.size()) + " events");
      !s.ok()) {
    // Nothing reached the disk: forget the ids and event ids this batch added in
    // memory, so the same batch can be applied again.
    impl.users.Rollback();
    impl.items.Rollback();
    impl.dedup.Rollback();
    return s;
  }

  // Committed: bring the derived in-memory state up to date.
  impl.dedup.Commit();
  counters_ = counters;
  latest_event_ts_ = latest;
  for (const auto& o : offsets) impl.offsets[o.tp] = o;
  if (impl.users.size() > view_.num_users()) {
    view_.EnsureUser(UserId(static_cast<uint32_t>(impl.users.size() - 1)));
  }
  impl.user_last_ts.resize(impl.users.size(), 0);
  impl.user_interactions.resize(impl.users.size(), {});
  for (const UserEvent& e : user_events) {
    impl.user_last_ts[e.user] = std::max(impl.user_last_ts[e.user], e.ts);
    if (e.type != EventType::kUser) ++impl.user_interactions[e.user][static_cast<size_t>(e.type)];
  }
  if (impl.items.size() > impl.item_unavailable.size()) {
    impl.item_unavailable.resize(impl.items.size(), false);
    impl.available_ts.resize(impl.items.size(), INT64_MIN);
    view_.EnsureItem(ItemId(static_cast<uint32_t>(impl.items.size() - 1)));
  }
  for (const auto& a : availability) {
    if (a.ts >= impl.available_ts[a.item.value]) {
      impl.available_ts[a.item.value] = a.ts;
      impl.item_unavailable[a.item.value] = !a.available;
    }
  }
  for (const auto& ve : view_edges) view_.AddInteraction(ve.user, ve.item, ve.log_weight, ve.types);
  return out;
}

bool GraphStore::writable() const { return !impl_->write_failed; }

size_t GraphStore::live_users() const { return impl_->users.live(); }

uint64_t GraphStore::MemtableBytes() const {
  uint64_t bytes = 0;
  impl_->db->GetAggregatedIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &bytes);
  return bytes;
}
bool GraphStore::UserLive(UserId user) const { return impl_->users.Live(user.value); }

// Idle sweeps fall on fixed steps of event time (a 64th of the idle time, at
// least a minute), the first one after `now`: the same steps whether or not the
// process restarted in between.
EpochMillis GraphStore::NextIdleSweep(EpochMillis now) const {
  if (options_.user_idle_ms <= 0) return INT64_MAX;
  const EpochMillis step = std::max<EpochMillis>(options_.user_idle_ms / 64, 60'000);
  return (now / step + 1) * step;
}

bool GraphStore::EvictionDue() const {
  if (impl_->read_only) return false;
  if (options_.max_users > 0 && impl_->users.live() > options_.max_users + std::max<size_t>(1, options_.max_users / 16)) {
    return true;
  }
  return latest_event_ts_ >= impl_->next_idle_sweep_ts;
}

Result<GraphStore::Eviction> GraphStore::EvictColdUsers(const std::function<bool(UserId)>& keep) {
  Impl& impl = *impl_;
  const EpochMillis now = latest_event_ts_;
  const EpochMillis idle_before = options_.user_idle_ms > 0 ? now - options_.user_idle_ms : INT64_MIN;
  // Live users, oldest first by (newest event time, id): the order is the
  // same whatever the process's history, so replays evict alike.
  std::vector<std::pair<EpochMillis, uint32_t>> by_age;
  by_age.reserve(impl.users.live());
  size_t idle = 0;
  for (uint32_t u = 0; u < impl.users.size(); ++u) {
    if (!impl.users.Live(u)) continue;
    by_age.emplace_back(impl.user_last_ts[u], u);
    if (impl.user_last_ts[u] < idle_before) ++idle;
  }
  const size_t over_cap = options_.max_users > 0 && by_age.size() > options_.max_users ? by_age.size() - options_.max_users : 0;
  const size_t wanted = std::max(idle, over_cap);
  // The oldest `wanted` and a margin for the users `keep` spares, sorted.
  const size_t considered = std::min(by_age.size(), wanted + wanted / 2 + 64);
  std::nth_element(by_age.begin(), by_age.begin() + static_cast<ptrdiff_t>(considered), by_age.end());
  std::sort(by_age.begin(), by_age.begin() + static_cast<ptrdiff_t>(considered));

  std::vector<UserId> victims;
  for (size_t n = 0; n < considered; ++n) {
    const auto [ts, u] = by_age[n];
    if (victims.size() >= over_cap && ts >= idle_before) break;
    if (keep(UserId(u))) continue;
    victims.emplace_back(u);
  }
  Eviction out;
  if (victims.empty()) {
    impl.next_idle_sweep_ts = NextIdleSweep(now);
    return out;
  }

  rocksdb::WriteBatch wb;
  for (UserId u : victims) {
    for (const Neighbor& n : view_.ItemsOf(u)) {
      wb.Delete(impl.cf(kUserItems), r::PairKey(u.value, n.id));
      wb.Delete(impl.cf(kItemUsers), r::PairKey(n.id, u.value));
    }
    const std::string key = r::DenseKey(r::kUserKind, u.value);
    wb.Delete(impl.cf(kIds), key);
    wb.Delete(impl.cf(kUserAttrs), key);
    wb.Delete(impl.cf(kPending), key);
  }
  Counters counters = counters_;
  counters.evicted_users += victims.size();
  for (UserId u : victims) {
    for (size_t t = 0; t < 3; ++t) counters.evicted_interactions[t] += impl.user_interactions[u.value][t];
  }
  wb.Put(impl.cf(kMeta), kCountersKey, r::EncodeCounters(counters));
  RECD_RETURN_IF_ERROR(impl.Write(impl.write_options, &wb, "evicting " + std::to_string(victims.size()) + " cold users"));
  impl.next_idle_sweep_ts = NextIdleSweep(now);

  counters_ = counters;
  view_.RemoveUsers(victims);
  out.external_ids.reserve(victims.size());
  for (UserId u : victims) {
    out.external_ids.push_back(impl.users.Name(u.value));
    impl.users.Release(u.value);
    impl.user_last_ts[u.value] = 0;
    impl.user_interactions[u.value] = {};
  }
  out.users = std::move(victims);
  return out;
}

std::vector<UserId> GraphStore::PendingUsers() const {
  std::vector<UserId> users;
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator({}, impl_->cf(kPending)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() == 5) users.emplace_back(r::GetU32BE(it->key().data() + 1));
  }
  return users;
}

Status GraphStore::ClearPending(const std::vector<UserId>& users) {
  if (users.empty()) return Status::Ok();
  rocksdb::WriteBatch wb;
  for (UserId u : users) wb.Delete(impl_->cf(kPending), r::DenseKey(r::kUserKind, u.value));
  rocksdb::WriteOptions relaxed;  // losing this write only causes a republish
  return impl_->Write(relaxed, &wb, "clearing pending lists");
}

std::optional<Offset> GraphStore::StoredOffset(const TopicPartition& tp) const {
  auto it = impl_->offsets.find(tp);
  if (it == impl_->offsets.end()) return std::nullopt;
  return it->second.next;
}

std::optional<PartitionOffset> GraphStore::StoredPosition(const TopicPartition& tp) const {
  auto it = impl_->offsets.find(tp);
  if (it == impl_->offsets.end()) return std::nullopt;
  return it->second;
}

std::optional<UserId> GraphStore::FindUser(std::string_view external) const {
  auto id = impl_->users.Find(external);
  return id ? std::optional<UserId>(UserId(*id)) : std::nullopt;
}
std::optional<ItemId> GraphStore::FindItem(std::string_view external) const {
  auto id = impl_->items.Find(external);
  return id ? std::optional<ItemId>(ItemId(*id)) : std::nullopt;
}
const std::string& GraphStore::ExternalId(UserId user) const { return impl_->users.Name(user.value); }
const std::string& GraphStore::ExternalId(ItemId item) const { return impl_->items.Name(item.value); }

bool GraphStore::ItemAvailable(ItemId item) const {
  return item.value >= impl_->item_unavailable.size() || !impl_->item_unavailable[item.value];
}

Result<std::optional<EdgeRecord>> GraphStore::GetEdge(UserId user, ItemId item) const {
  std::string value;
  const rocksdb::Status s =
      impl_->db->Get({}, impl_->cf(kUserItems), r::PairKey(user.value, item.value), &value);
  if (s.IsNotFound()) return std::optional<EdgeRecord>();
  RECD_RETURN_IF_ERROR(FromRocks(s, "reading an edge"));
  EdgeRecord e;
  if (!r::DecodeEdge(value, &e)) return Status::Corruption("unreadable edge record");
  return std::optional<EdgeRecord>(e);
}

Result<Attributes> GraphStore::GetAttributes(EventType kind, std::string_view external) const {
  const bool is_item = kind == EventType::kItem;
  const auto id = (is_item ? impl_->items : impl_->users).Find(external);
  Attributes out;
  if (!id) return out;
  std::string value;
  const rocksdb::Status s =
      impl_->db->Get({}, impl_->cf(is_item ? kItemAttrs : kUserAttrs),
                     r::DenseKey(is_item ? r::kItemKind : r::kUserKind, *id), &value);
  if (s.IsNotFound()) return out;
  RECD_RETURN_IF_ERROR(FromRocks(s, "reading attributes"));
  r::TimedAttributes timed;
  if (!r::DecodeAttributes(value, &timed)) return Status::Corruption("unreadable attributes record");
  for (auto& [name, ta] : timed) out.emplace_back(name, std::move(ta.value));
  return out;
}

Result<std::vector<float>> GraphStore::GetItemEmbedding(ItemId item) const {
  std::string value;
  const rocksdb::Status s = impl_->db->Get({}, impl_->cf(kItemEmbeddings),
                                           r::DenseKey(r::kItemKind, item.value), &value);
  if (s.IsNotFound()) return std::vector<float>();
  RECD_RETURN_IF_ERROR(FromRocks(s, "reading an embedding"));
  EpochMillis ts;
  std::string_view payload;
  if (!r::DecodeStamped(value, &ts, &payload) || payload.size() % sizeof(float) != 0) {
    return Status::Corruption("unreadable embedding record");
  }
  std::vector<float> out(payload.size() / sizeof(float));
  std::memcpy(out.data(), payload.data(), payload.size());
  return out;
}

Result<GraphStore::EdgeTotals> GraphStore::SumEdges() const {
  EdgeTotals totals;
  for (Cf c : {kUserItems, kItemUsers}) {
    auto& sums = c == kUserItems ? totals.user_item : totals.item_user;
    RECD_RETURN_IF_ERROR(Scan(*impl_->db, impl_->cf(c), kCfNames[c], [&](std::string_view, std::string_view v) {
      EdgeRecord e;
      if (!r::DecodeEdge(v, &e)) return Status::Corruption(std::string("unreadable record in ") + kCfNames[c]);
      for (size_t t = 0; t < 3; ++t) sums[t] += e.counts[t];
      if (c == kUserItems) ++totals.edges;
      return Status::Ok();
    }));
  }
  return totals;
}

Status GraphStore::ForEachEdge(const std::function<void(UserId, ItemId, const EdgeRecord&)>& fn) const {
  return Scan(*impl_->db, impl_->cf(kUserItems), kCfNames[kUserItems], [&](std::string_view k, std::string_view v) {
    EdgeRecord e;
    if (k.size() != 8 || !r::DecodeEdge(v, &e)) return Status::Corruption("bad user_items record");
    fn(UserId(r::GetU32BE(k.data())), ItemId(r::GetU32BE(k.data() + 4)), e);
    return Status::Ok();
  });
}

std::string GraphStore::ActiveModelVersion() const {
  std::string value;
  if (!impl_->db->Get({}, impl_->cf(kMeta), kActiveModelKey, &value).ok()) return "";
  return value;
}

Status GraphStore::RecordActiveModelVersion(const std::string& version, const std::vector<UserId>& owed_lists) {
  if (options_.read_only) return Status::InvalidArgument("store opened read-only");
  rocksdb::WriteBatch wb;
  wb.Put(impl_->cf(kMeta), kActiveModelKey, version);
  for (UserId u : owed_lists) wb.Put(impl_->cf(kPending), r::DenseKey(r::kUserKind, u.value), "");
  rocksdb::WriteOptions synced;
  synced.sync = true;  // a restart must never go back past a version lists were published with
  return impl_->Write(synced, &wb, "recording the active model");
}

Status GraphStore::Checkpoint(const std::string& dir) const {
  rocksdb::Checkpoint* raw = nullptr;
  RECD_RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(impl_->db.get(), &raw), "checkpoint"));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  return FromRocks(checkpoint->CreateCheckpoint(dir), "writing checkpoint to " + dir);
}

}  // namespace recd::store
