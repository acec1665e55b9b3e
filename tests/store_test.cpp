// Unit tests for store/: exact counts both ways, dedup, offsets, reopen, decay maths,
// attributes, checkpoints — all against a real RocksDB in a temporary directory.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include <cmath>
#include <random>
#include <thread>

#include "store/graph_store.h"
#include "store/records.h"
#include "tests/faulty_fs.h"
#include "tests/test_util.h"

namespace recd::store {
namespace {

using recd::testing::Interaction;
using recd::testing::ItemEvent;
using recd::testing::FaultyFileSystem;
using recd::testing::TempDir;

constexpr EpochMillis kT0 = 1769860800000;  // 2026-01-31T12:00:00Z
constexpr EpochMillis kDay = 86'400'000;

class StoreTest : public ::testing::Test {
 protected:
  StoreOptions Options() const {
    StoreOptions o;
    o.path = dir_.sub("store");
    o.sync_writes = false;
    return o;
  }
  std::unique_ptr<GraphStore> Open(StoreOptions o) {
    auto s = GraphStore::Open(o);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s.value()) : nullptr;
  }
  std::unique_ptr<GraphStore> Open() { return Open(Options()); }
  static ApplyOutcome MustApply(GraphStore& store, const std::vector<Event>& events,
                                const std::vector<PartitionOffset>& offsets = {}, uint64_t rejected = 0) {
    auto r = store.Apply(events, offsets, rejected);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r.value() : ApplyOutcome{};
  }
  // Options whose files go through fs_, which fails writes or syncs on command.
  StoreOptions FaultyOptions() {
    fs_ = std::make_shared<FaultyFileSystem>();
    env_ = recd::testing::EnvOver(fs_);
    StoreOptions o = Options();
    o.env = env_.get();
    o.sync_writes = true;
    return o;
  }
  TempDir dir_;
  std::shared_ptr<FaultyFileSystem> fs_;
  std::unique_ptr<rocksdb::Env> env_;  // outlives every store a test opens
};

TEST_F(StoreTest, CountsEveryTypeExactlyInBothDirections) {
  auto store = Open();
  std::vector<Event> batch = {
      Interaction(EventType::kClick, "u1", "i1", kT0),
      Interaction(EventType::kClick, "u1", "i1", kT0 + 1),
      Interaction(EventType::kPurchase, "u1", "i1", kT0 + 2),
      Interaction(EventType::kRating, "u2", "i1", kT0 + 3, "", 4),
      Interaction(EventType::kClick, "u2", "i2", kT0 + 4),
  };
  const ApplyOutcome out = MustApply(*store, batch, {}, 3);
  EXPECT_EQ(out.applied, 5u);
  EXPECT_EQ(out.touched_users.size(), 2u);
  EXPECT_EQ(out.touched_items.size(), 2u);
  EXPECT_EQ(store->counters().applied[0], 3u);
  EXPECT_EQ(store->counters().applied[1], 1u);
  EXPECT_EQ(store->counters().applied[2], 1u);
  EXPECT_EQ(store->counters().rejected, 3u);

  const UserId u1 = *store->FindUser("u1");
  const ItemId i1 = *store->FindItem("i1");
  auto edge = store->GetEdge(u1, i1);
  ASSERT_TRUE(edge.ok());
  ASSERT_TRUE(edge->has_value());
  EXPECT_EQ((*edge)->counts, (std::array<uint32_t, 3>{2, 1, 0}));
  EXPECT_EQ((*edge)->first_ts, kT0);
  EXPECT_EQ((*edge)->last_ts, kT0 + 2);

  auto totals = store->SumEdges();
  ASSERT_TRUE(totals.ok());
  EXPECT_EQ(totals->user_item, (std::array<uint64_t, 3>{3, 1, 1}));
  EXPECT_EQ(totals->item_user, totals->user_item);
  EXPECT_EQ(totals->edges, 3u);
  EXPECT_EQ(store->view().num_edges(), 3u);
  EXPECT_EQ(store->view().ItemsOf(u1).size(), 1u);
  EXPECT_EQ(store->view().UsersOf(i1).size(), 2u);
}

TEST_F(StoreTest, DropsDuplicateEventIdsWithinAndAcrossBatchesAndRestarts) {
  {
    auto store = Open();
    auto out = MustApply(*store, {Interaction(EventType::kClick, "u1", "i1", kT0, "e1"),
                                  Interaction(EventType::kClick, "u1", "i1", kT0, "e1"),
                                  Interaction(EventType::kClick, "u1", "i2", kT0, "e2")});
    EXPECT_EQ(out.applied, 2u);
    EXPECT_EQ(out.duplicates, 1u);
    out = MustApply(*store, {Interaction(EventType::kClick, "u1", "i1", kT0, "e2")});
    EXPECT_EQ(out.applied, 0u);
    EXPECT_EQ(out.duplicates, 1u);
  }
  auto store = Open();
  auto out = MustApply(*store, {Interaction(EventType::kClick, "u1", "i1", kT0, "e1"),
                                Interaction(EventType::kClick, "u1", "i1", kT0, "e3")});
  EXPECT_EQ(out.applied, 1u);
  EXPECT_EQ(store->counters().applied[0], 3u);
  EXPECT_EQ(store->counters().duplicates, 3u);
}

TEST_F(StoreTest, DedupWindowIsBoundedAndForgetsTheOldest) {
  StoreOptions o = Options();
  o.dedup_window = 2;
  {
    auto store = Open(o);
    MustApply(*store, {Interaction(EventType::kClick, "u", "i", kT0, "a"),
                       Interaction(EventType::kClick, "u", "i", kT0, "b"),
                       Interaction(EventType::kClick, "u", "i", kT0, "c")});
  }
  auto store = Open(o);  // the window survives a restart: "a" is forgotten, "b" and "c" are not
  auto out = MustApply(*store, {Interaction(EventType::kClick, "u", "i", kT0, "a"),
                                Interaction(EventType::kClick, "u", "i", kT0, "c")});
  EXPECT_EQ(out.applied, 1u);
  EXPECT_EQ(out.duplicates, 1u);
}

TEST_F(StoreTest, OffsetsCommitWithTheBatchAndSurviveReopen) {
  {
    auto store = Open();
    EXPECT_FALSE(store->StoredOffset({"recd.events", 0}).has_value());
    MustApply(*store, {Interaction(EventType::kClick, "u1", "i1", kT0)},
              {{{"recd.events", 0}, Offset(17)}, {{"recd.events", 3}, Offset(5)}});
    MustApply(*store, {}, {{{"recd.events", 0}, Offset(18), 0xfeedULL}});
    EXPECT_EQ(store->StoredOffset({"recd.events", 0}), Offset(18));
  }
  auto store = Open();
  EXPECT_EQ(store->StoredOffset({"recd.events", 0}), Offset(18));
  EXPECT_EQ(store->StoredPosition({"recd.events", 0})->last_record_hash, 0xfeedULL)
      << "the hash of the record before the offset commits with it";
  EXPECT_EQ(store->StoredPosition({"recd.events", 3})->last_record_hash, 0u);
  EXPECT_EQ(store->StoredOffset({"recd.events", 3}), Offset(5));
  EXPECT_FALSE(store->StoredOffset({"other", 0}).has_value());
  EXPECT_EQ(store->counters().batches, 2u);
}

TEST_F(StoreTest, TheActiveModelVersionIsRecordedDurably) {
  {
    auto store = Open();
    EXPECT_EQ(store->ActiveModelVersion(), "");
    ASSERT_TRUE(store->RecordActiveModelVersion("v0001").ok());
    ASSERT_TRUE(store->RecordActiveModelVersion("v0003", {UserId(0)}).ok());
    EXPECT_EQ(store->ActiveModelVersion(), "v0003");
    EXPECT_EQ(store->PendingUsers(), (std::vector<UserId>{UserId(0)})) << "owed a list under v0003, with the record";
  }
  StoreOptions read_only = Options();
  read_only.read_only = true;
  auto reader = Open(read_only);
  EXPECT_EQ(reader->ActiveModelVersion(), "v0003");
  EXPECT_EQ(reader->RecordActiveModelVersion("v0004").code(), Status::Code::kInvalidArgument);
}

TEST_F(StoreTest, ViewRebuiltOnOpenEqualsTheIncrementalView) {
  std::mt19937 rng(7);
  std::vector<std::vector<Neighbor>> before;
  {
    auto store = Open();
    for (int b = 0; b < 20; ++b) {
      std::vector<Event> batch;
      for (int n = 0; n < 200; ++n) {
        batch.push_back(Interaction(static_cast<EventType>(rng() % 3), "u" + std::to_string(rng() % 50),
                                    "i" + std::to_string(rng() % 80), kT0 + static_cast<EpochMillis>(rng() % (90 * kDay)),
                                    "", 1 + rng() % 5));
      }
      MustApply(*store, batch);
    }
    for (uint32_t u = 0; u < store->view().num_users(); ++u) {
      const auto& l = store->view().ItemsOf(UserId(u));
      before.emplace_back(l.begin(), l.end());
    }
  }
  auto store = Open();
  ASSERT_EQ(store->view().num_users(), before.size());
  for (uint32_t u = 0; u < before.size(); ++u) {
    const auto& l = store->view().ItemsOf(UserId(u));
    ASSERT_EQ(l.size(), before[u].size());
    for (size_t k = 0; k < l.size(); ++k) {
      EXPECT_EQ(l[k].id, before[u][k].id);
      // The view sums in float as events arrive; the store merges in double.
      EXPECT_NEAR(l[k].log_weight, before[u][k].log_weight, 1e-3);
    }
  }
}

TEST(Decay, HalvesEveryHalfLifeAndIgnoresArrivalOrder) {
  DecayConfig c;
  c.half_life_ms = 7 * kDay;
  const double one = EpochLogWeight(c, 1.0, kT0);
  EXPECT_NEAR(WeightAt(c, one, kT0), 1.0, 1e-9);
  EXPECT_NEAR(WeightAt(c, one, kT0 + 7 * kDay), 0.5, 1e-9);
  EXPECT_NEAR(WeightAt(c, one, kT0 + 21 * kDay), 0.125, 1e-9);
  // Two events: 4 (purchase) a week ago plus 1 (click) now = 3 now.
  const double a = EpochLogWeight(c, TypeWeight(c, EventType::kPurchase, 0), kT0);
  const double b = EpochLogWeight(c, TypeWeight(c, EventType::kClick, 0), kT0 + 7 * kDay);
  EXPECT_NEAR(WeightAt(c, LogAddExp2(a, b), kT0 + 7 * kDay), 3.0, 1e-9);
  EXPECT_DOUBLE_EQ(LogAddExp2(a, b), LogAddExp2(b, a));
  EXPECT_EQ(LogAddExp2(kNoWeight, a), a);
  EXPECT_NEAR(TypeWeight(c, EventType::kRating, 5), c.rating_weight, 1e-12);
  EXPECT_NEAR(TypeWeight(c, EventType::kRating, 2.5), c.rating_weight / 2, 1e-12);
}

TEST(Decay, EdgeRecordsMergeTheSameInAnyOrder) {
  DecayConfig c;
  std::vector<EdgeRecord> parts;
  for (int k = 0; k < 6; ++k) {
    EdgeRecord r;
    r.counts[k % 3] = 1;
    r.first_ts = r.last_ts = kT0 + k * kDay;
    r.log_weight = EpochLogWeight(c, 1.0 + k, r.last_ts);
    if (k % 3 == 2) {
      r.last_rating_ts = r.last_ts;
      r.last_rating = k;
    }
    parts.push_back(r);
  }
  auto fold = [](std::vector<EdgeRecord> v) {
    EdgeRecord acc = v[0];
    for (size_t i = 1; i < v.size(); ++i) acc = records::MergeEdges(acc, v[i]);
    return acc;
  };
  const EdgeRecord forward = fold(parts);
  std::reverse(parts.begin(), parts.end());
  const EdgeRecord backward = fold(parts);
  EXPECT_EQ(forward.counts, (std::array<uint32_t, 3>{2, 2, 2}));
  EXPECT_EQ(forward.counts, backward.counts);
  EXPECT_NEAR(forward.log_weight, backward.log_weight, 1e-12);
  EXPECT_EQ(forward.first_ts, kT0);
  EXPECT_EQ(forward.last_ts, kT0 + 5 * kDay);
  EXPECT_EQ(forward.last_rating, 5);
  EXPECT_EQ(backward.last_rating, 5);
}

TEST_F(StoreTest, AttributesKeepEachFieldsNewestValueAndDriveAvailability) {
  {
    auto store = Open();
    MustApply(*store, {ItemEvent("i1", kT0 + 10, {{"colour", testing::Text("red")}, {"available", testing::Number(1)}}),
                       ItemEvent("i1", kT0 + 5, {{"colour", testing::Text("blue")}, {"season", testing::Text("winter")}}),
                       ItemEvent("i2", kT0, {{"available", testing::Text("false")}})});
    EXPECT_TRUE(store->ItemAvailable(*store->FindItem("i1")));
    EXPECT_FALSE(store->ItemAvailable(*store->FindItem("i2")));
    MustApply(*store, {ItemEvent("i2", kT0 - 1, {{"available", testing::Text("true")}})});  // older: ignored
    EXPECT_FALSE(store->ItemAvailable(*store->FindItem("i2")));
  }
  auto store = Open();
  EXPECT_FALSE(store->ItemAvailable(*store->FindItem("i2")));
  auto attrs = store->GetAttributes(EventType::kItem, "i1");
  ASSERT_TRUE(attrs.ok());
  Attributes expected = {{"available", testing::Number(1)}, {"colour", testing::Text("red")}, {"season", testing::Text("winter")}};
  EXPECT_EQ(*attrs, expected);
}

// Issue 17, rule 6: 10,000 names sent 64 at a time do not grow an item's record
// past store.max_attribute_names (128): the newest names stay, and the sold-out
// flag, though older than all of them, is kept.
TEST_F(StoreTest, AttributeNamesOverManyEventsStayWithinTheCap) {
  constexpr int kEvents = 157, kPerEvent = 64;  // 10,048 names in all
  auto name = [](int event, int k) { return "a" + std::to_string(event * kPerEvent + k); };
  {
    auto store = Open();
    MustApply(*store, {ItemEvent("i1", kT0, {{"available", testing::Text("false")}})});
    for (int ev = 0; ev < kEvents; ++ev) {
      Attributes attrs;
      for (int k = 0; k < kPerEvent; ++k) attrs.emplace_back(name(ev, k), testing::Number(ev));
      MustApply(*store, {ItemEvent("i1", kT0 + 1 + ev, attrs)});
    }
  }
  auto store = Open();
  EXPECT_FALSE(store->ItemAvailable(*store->FindItem("i1")));
  auto attrs = store->GetAttributes(EventType::kItem, "i1");
  ASSERT_TRUE(attrs.ok()) << attrs.status().ToString();
  ASSERT_EQ(attrs->size(), 128u);
  std::set<std::string> names;
  for (const auto& [n, v] : *attrs) names.insert(n);
  EXPECT_TRUE(names.count("available"));
  for (int k = 0; k < kPerEvent; ++k) EXPECT_TRUE(names.count(name(kEvents - 1, k))) << name(kEvents - 1, k);
  size_t from_the_one_before = 0;
  for (int k = 0; k < kPerEvent; ++k) from_the_one_before += names.count(name(kEvents - 2, k));
  EXPECT_EQ(from_the_one_before, 63u);  // 128 = available + 64 newest + 63 of the event before
  for (int k = 0; k < kPerEvent; ++k) EXPECT_FALSE(names.count(name(0, k))) << name(0, k);
}

TEST_F(StoreTest, KeepsTheNewestContentEmbedding) {
  auto store = Open();
  Event newer = ItemEvent("i1", kT0 + 1, {});
  newer.embedding = {1, 2, 3};
  Event older = ItemEvent("i1", kT0, {});
  older.embedding = {9, 9};
  MustApply(*store, {newer, older});
  auto emb = store->GetItemEmbedding(*store->FindItem("i1"));
  ASSERT_TRUE(emb.ok());
  EXPECT_EQ(*emb, (std::vector<float>{1, 2, 3}));
}

TEST_F(StoreTest, PendingUsersAreMarkedInTheBatchAndClearedOnDemand) {
  auto store = Open();
  Event profile;
  profile.type = EventType::kUser;
  profile.user_id = "u9";
  profile.ts = kT0;
  MustApply(*store, {Interaction(EventType::kClick, "u1", "i1", kT0), profile});
  auto pending = store->PendingUsers();
  ASSERT_EQ(pending.size(), 2u);
  ASSERT_TRUE(store->ClearPending({*store->FindUser("u1")}).ok());
  pending = store->PendingUsers();
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(store->ExternalId(pending[0]), "u9");
}

TEST_F(StoreTest, RefusesToReopenWithDifferentDecaySettings) {
  { auto store = Open(); }
  StoreOptions o = Options();
  o.decay.half_life_ms = 3 * kDay;
  auto s = GraphStore::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(s.status().message().find("was built with decay settings"), std::string::npos) << s.status().message();
}

TEST_F(StoreTest, CheckpointOpensWithTheSameState) {
  auto store = Open();
  MustApply(*store, {Interaction(EventType::kPurchase, "u1", "i1", kT0, "e1")}, {{{"t", 0}, Offset(1)}});
  ASSERT_TRUE(store->Checkpoint(dir_.sub("ckpt")).ok());
  MustApply(*store, {Interaction(EventType::kPurchase, "u1", "i1", kT0, "e2")}, {{{"t", 0}, Offset(2)}});
  StoreOptions o = Options();
  o.path = dir_.sub("ckpt");
  auto copy = Open(o);
  EXPECT_EQ(copy->counters().applied[1], 1u);
  EXPECT_EQ(copy->StoredOffset({"t", 0}), Offset(1));
}

TEST_F(StoreTest, ReadOnlyOpenSeesALiveStoreAndRefusesWrites) {
  auto store = Open();
  MustApply(*store, {Interaction(EventType::kClick, "u1", "i1", kT0)});
  StoreOptions o = Options();
  o.read_only = true;
  auto reader = Open(o);
  EXPECT_EQ(reader->counters().applied[0], 1u);
  auto r = reader->Apply({}, {}, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kAborted);
}

TEST(GraphViewMemory, StaysWithinBudgetPerEdge) {
  GraphView view;
  std::mt19937 rng(1);
  for (int n = 0; n < 200000; ++n) {
    view.AddInteraction(UserId(rng() % 20000), ItemId(rng() % 5000), 1.0);
  }
  view.Compact();
  const double per_edge = static_cast<double>(view.MemoryBytes()) / static_cast<double>(view.num_edges());
  EXPECT_LE(per_edge, 32.0);
}

}  // namespace
}  // namespace recd::store

namespace recd::store {
namespace {

// Fault hole 7: the dedup window evicts its oldest ids (also after a reopen),
// and 0 turns dedup off explicitly.
TEST_F(StoreTest, DedupWindowEvictsTheOldestIdsAndZeroTurnsItOff) {
  StoreOptions o = Options();
  o.dedup_window = 3;
  {
    auto store = Open(o);
    for (const char* id : {"e1", "e2", "e3", "e4"}) {
      MustApply(*store, {Interaction(EventType::kClick, "u1", "i1", kT0, id)});
    }
    EXPECT_EQ(MustApply(*store, {Interaction(EventType::kClick, "u1", "i1", kT0, "e4")}).duplicates, 1u);
    EXPECT_EQ(MustApply(*store, {Interaction(EventType::kClick, "u1", "i1", kT0, "e2")}).duplicates, 1u);
    const auto evicted = MustApply(*store, {Interaction(EventType::kClick, "u1", "i1", kT0, "e1")});
    EXPECT_EQ(evicted.duplicates, 0u) << "e1 fell out of a window of 3";
    EXPECT_EQ(evicted.applied, 1u);
  }
  {
    auto store = Open(o);  // the window survives a reopen: it holds e3, e4, e1
    EXPECT_EQ(MustApply(*store, {Interaction(EventType::kClick, "u1", "i1", kT0, "e1")}).duplicates, 1u);
    EXPECT_EQ(MustApply(*store, {Interaction(EventType::kClick, "u1", "i1", kT0, "e2")}).duplicates, 0u)
        << "e2 was evicted when e1 came back";
  }
  o.dedup_window = 0;
  auto store = Open(o);
  const auto off = MustApply(*store, {Interaction(EventType::kClick, "u1", "i1", kT0, "e4"),
                                      Interaction(EventType::kClick, "u1", "i1", kT0, "e4")});
  EXPECT_EQ(off.duplicates, 0u);
  EXPECT_EQ(off.applied, 2u);
}

TEST_F(StoreTest, GraphViewKnowsEachEdgesInteractionTypesAfterAReopen) {
  {
    auto store = Open();
    MustApply(*store, {Interaction(EventType::kClick, "u1", "i1", kT0), Interaction(EventType::kClick, "u1", "i2", kT0),
                       Interaction(EventType::kPurchase, "u1", "i2", kT0)});
  }
  auto store = Open();
  const UserId u = *store->FindUser("u1");
  EXPECT_EQ(store->view().TypesOf(u, *store->FindItem("i1")), TypeBit(EventType::kClick));
  EXPECT_EQ(store->view().TypesOf(u, *store->FindItem("i2")), TypeBit(EventType::kClick) | TypeBit(EventType::kPurchase));
  MustApply(*store, {Interaction(EventType::kRating, "u1", "i1", kT0, "", 4)});
  EXPECT_EQ(store->view().TypesOf(u, *store->FindItem("i1")), TypeBit(EventType::kClick) | TypeBit(EventType::kRating));
}



// A full disk under a live store: every write is refused and changes nothing;
// once space returns, the same batch applies once (RocksDB resumes), and a
// reopen (the WAL replayed) counts each event once.
TEST_F(StoreTest, AFullDiskRefusesWritesUntilSpaceReturnsThenTheSameBatchAppliesOnce) {
  StoreOptions o = FaultyOptions();
  const TopicPartition tp{"events", 0};
  const std::vector<Event> batch = {Interaction(EventType::kPurchase, "u2", "i2", kT0 + 1, "e2"),
                                    Interaction(EventType::kClick, "u1", "i2", kT0 + 2, "e3"),
                                    Interaction(EventType::kClick, "u3", "i1", kT0 + 3, "e4")};
  {
    auto store = Open(o);
    MustApply(*store, {Interaction(EventType::kClick, "u1", "i1", kT0, "e1")}, {{tp, Offset(1), 11}});
    fs_->Arm(FaultyFileSystem::Fault::kNoSpace);
    for (int attempt = 0; attempt < 3; ++attempt) {
      auto refused = store->Apply(batch, {{tp, Offset(4), 44}}, 1);
      ASSERT_FALSE(refused.ok());
      EXPECT_EQ(refused.status().code(), Status::Code::kUnavailable) << refused.status().ToString();
      EXPECT_FALSE(store->writable());
      EXPECT_FALSE(store->FindUser("u2"));
      EXPECT_FALSE(store->FindItem("i2"));
      EXPECT_EQ(store->view().num_users(), 1u);
      EXPECT_EQ(store->counters().batches, 1u);
      EXPECT_EQ(store->StoredOffset(tp), Offset(1));
    }
    EXPECT_EQ(store->ClearPending({UserId(0)}).code(), Status::Code::kUnavailable);
    EXPECT_GE(fs_->injected(), 1);

    // Space returns: the next write resumes RocksDB and lands.
    fs_->Arm(FaultyFileSystem::Fault::kNone);
    auto out = store->Apply(batch, {{tp, Offset(4), 44}}, 1);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_TRUE(store->writable());
    EXPECT_EQ(out->applied, 3u);
    EXPECT_EQ(out->duplicates, 0u);  // the refused attempts' event ids were forgotten
    EXPECT_EQ(store->FindUser("u2"), UserId(1));  // dense ids stay dense
    EXPECT_EQ(store->FindUser("u3"), UserId(2));
    EXPECT_EQ(MustApply(*store, batch).duplicates, 3u);  // and the written ones are remembered
  }
  auto store = Open(o);
  EXPECT_EQ(store->counters().applied[static_cast<size_t>(EventType::kClick)], 3u);
  EXPECT_EQ(store->counters().applied[static_cast<size_t>(EventType::kPurchase)], 1u);
  EXPECT_EQ(store->counters().rejected, 1u);
  EXPECT_EQ(store->counters().duplicates, 3u);
  EXPECT_EQ(store->StoredOffset(tp), Offset(4));
  ASSERT_TRUE(store->FindUser("u3"));
  EXPECT_EQ(store->ExternalId(UserId(1)), "u2");
  auto totals = store->SumEdges();
  ASSERT_TRUE(totals.ok()) << totals.status().ToString();
  EXPECT_EQ(totals->user_item, (std::array<uint64_t, 3>{3, 1, 0}));
  EXPECT_EQ(totals->item_user, totals->user_item);
  EXPECT_EQ(store->view().num_edges(), 4u);
}

// A refused batch that would have pushed ids out of the dedup window evicts
// nothing: the window, in memory and on disk, is as before; applied again it
// evicts as it should, and a reopen sees the same window.
TEST_F(StoreTest, ARefusedBatchEvictsNothingFromTheDedupWindow) {
  StoreOptions o = FaultyOptions();
  o.dedup_window = 2;
  const std::vector<Event> overflow = {Interaction(EventType::kClick, "u", "i", kT0, "c"),
                                       Interaction(EventType::kClick, "u", "i", kT0, "d")};
  {
    auto store = Open(o);
    MustApply(*store, {Interaction(EventType::kClick, "u", "i", kT0, "a"), Interaction(EventType::kClick, "u", "i", kT0, "b")});
    fs_->Arm(FaultyFileSystem::Fault::kNoSpace);
    ASSERT_EQ(store->Apply(overflow, {}, 0).status().code(), Status::Code::kUnavailable);
    fs_->Arm(FaultyFileSystem::Fault::kNone);
    // "a" and "b" are still remembered: the refused batch evicted nothing.
    EXPECT_EQ(MustApply(*store, {Interaction(EventType::kClick, "u", "i", kT0, "a")}).duplicates, 1u);
    EXPECT_EQ(MustApply(*store, overflow).applied, 2u);
  }
  auto store = Open(o);  // the window on disk: "c" and "d"
  auto out = MustApply(*store, {Interaction(EventType::kClick, "u", "i", kT0, "b"),
                                Interaction(EventType::kClick, "u", "i", kT0, "d")});
  EXPECT_EQ(out.applied, 1u);
  EXPECT_EQ(out.duplicates, 1u);
  EXPECT_EQ(store->counters().applied[static_cast<size_t>(EventType::kClick)], 5u);
}

// A failed fsync: what reached the log is unknown, so the store refuses every
// later write as final, and the restart decides. The batch then counts once,
// whether the log kept it or not.
TEST_F(StoreTest, AFailedSyncIsFinalAndTheRestartCountsTheBatchOnce) {
  StoreOptions o = FaultyOptions();
  const TopicPartition tp{"events", 0};
  const std::vector<Event> batch = {Interaction(EventType::kPurchase, "u2", "i2", kT0 + 1, "e2"),
                                    Interaction(EventType::kClick, "u1", "i2", kT0 + 2, "e3")};
  {
    auto store = Open(o);
    MustApply(*store, {Interaction(EventType::kClick, "u1", "i1", kT0, "e1")}, {{tp, Offset(1), 11}});
    fs_->Arm(FaultyFileSystem::Fault::kSyncFails);
    auto refused = store->Apply(batch, {{tp, Offset(3), 33}}, 0);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), Status::Code::kIoError) << refused.status().ToString();
    EXPECT_FALSE(store->FindUser("u2"));
    fs_->Arm(FaultyFileSystem::Fault::kNone);
    auto again = store->Apply(batch, {{tp, Offset(3), 33}}, 0);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.status().code(), Status::Code::kIoError) << again.status().ToString();
  }
  auto store = Open(o);
  // The intake reads from the stored offset: the batch again only if the log lost it.
  if (store->StoredOffset(tp) == Offset(1)) {
    MustApply(*store, batch, {{tp, Offset(3), 33}});
  } else {
    EXPECT_EQ(store->StoredOffset(tp), Offset(3));
  }
  EXPECT_EQ(store->counters().applied[static_cast<size_t>(EventType::kClick)], 2u);
  EXPECT_EQ(store->counters().applied[static_cast<size_t>(EventType::kPurchase)], 1u);
  EXPECT_EQ(store->counters().duplicates, 0u);
  auto totals = store->SumEdges();
  ASSERT_TRUE(totals.ok()) << totals.status().ToString();
  EXPECT_EQ(totals->user_item, (std::array<uint64_t, 3>{2, 1, 0}));
}

// --- Bounded memory: cold users are evicted and their ids reused. ---

// The view's edges as (user external id, item external id) -> log weight, for
// comparing stores whose dense ids differ.
std::map<std::pair<std::string, std::string>, float> EdgesByName(const GraphStore& store) {
  std::map<std::pair<std::string, std::string>, float> edges;
  for (uint32_t u = 0; u < store.view().num_users(); ++u) {
    for (const Neighbor& n : store.view().ItemsOf(UserId(u))) {
      edges[{store.ExternalId(UserId(u)), store.ExternalId(ItemId(n.id))}] = n.log_weight;
    }
  }
  return edges;
}

TEST_F(StoreTest, TheLeastRecentlyActiveUsersBeyondTheCapAreEvictedAndTheirIdsReused) {
  StoreOptions o = Options();
  o.max_users = 4;  // a sweep once more than 5 (the cap and a slack of 1) are live
  o.user_idle_ms = 0;
  {
    auto store = Open(o);
    std::vector<Event> batch;
    for (int u = 0; u < 6; ++u) {
      batch.push_back(Interaction(EventType::kClick, "u" + std::to_string(u), "i" + std::to_string(u % 3), kT0 + u));
    }
    batch.push_back(Interaction(EventType::kPurchase, "u0", "i2", kT0 + 10));  // u0 is now the most recent
    MustApply(*store, batch);
    EXPECT_EQ(store->live_users(), 6u);
    ASSERT_TRUE(store->EvictionDue());
    const UserId u1 = *store->FindUser("u1"), u2 = *store->FindUser("u2"), u3 = *store->FindUser("u3");

    // u1 is the oldest but spared (its list is in flight): u2 and u3 go.
    auto evicted = store->EvictColdUsers([&](UserId u) { return u == u1; });
    ASSERT_TRUE(evicted.ok()) << evicted.status().ToString();
    EXPECT_EQ(evicted->users, (std::vector<UserId>{u2, u3}));
    EXPECT_EQ(evicted->external_ids, (std::vector<std::string>{"u2", "u3"}));
    EXPECT_EQ(store->live_users(), 4u);
    EXPECT_FALSE(store->EvictionDue());
    EXPECT_FALSE(store->FindUser("u2"));
    EXPECT_FALSE(store->UserLive(u2));
    EXPECT_EQ(store->ExternalId(u2), "");
    EXPECT_TRUE(store->view().ItemsOf(u2).empty());
    for (uint32_t i = 0; i < store->view().num_items(); ++i) {
      for (const Neighbor& n : store->view().UsersOf(ItemId(i))) EXPECT_TRUE(n.id != u2.value && n.id != u3.value);
    }
    EXPECT_EQ(store->view().num_edges(), 5u);
    EXPECT_EQ(store->counters().evicted_users, 2u);
    EXPECT_EQ(store->counters().evicted_interactions, (std::array<uint64_t, 3>{2, 0, 0}));
    auto totals = store->SumEdges();  // gone from RocksDB, both directions
    ASSERT_TRUE(totals.ok());
    EXPECT_EQ(totals->user_item, (std::array<uint64_t, 3>{4, 1, 0}));
    EXPECT_EQ(totals->item_user, totals->user_item);
    const auto pending = store->PendingUsers();
    EXPECT_EQ(std::count(pending.begin(), pending.end(), u2), 0);

    // New users take the freed ids, smallest first, with nothing of the old owners.
    MustApply(*store, {Interaction(EventType::kClick, "n1", "i0", kT0 + 20), Interaction(EventType::kClick, "n2", "i1", kT0 + 21)});
    EXPECT_EQ(store->FindUser("n1"), u2);
    EXPECT_EQ(store->FindUser("n2"), u3);
    EXPECT_EQ(store->view().num_users(), 6u);  // no id space grew
    ASSERT_EQ(store->view().ItemsOf(u2).size(), 1u);
    EXPECT_EQ(store->ExternalId(ItemId(store->view().ItemsOf(u2)[0].id)), "i0");
    auto old_edge = store->GetEdge(u2, *store->FindItem("i2"));  // u2 clicked i2
    ASSERT_TRUE(old_edge.ok());
    EXPECT_FALSE(old_edge->has_value());
    // An evicted user who comes back is a new user.
    MustApply(*store, {Interaction(EventType::kClick, "u2", "i1", kT0 + 22)});
    EXPECT_EQ(store->FindUser("u2"), UserId(6));
  }
  // A reopen finds the same users, edges and counters, and the same free ids.
  auto store = Open(o);
  EXPECT_EQ(store->live_users(), 7u);
  EXPECT_EQ(store->counters().evicted_users, 2u);
  EXPECT_EQ(store->FindUser("n1"), UserId(2));
  EXPECT_FALSE(store->FindUser("u3"));
  auto evicted = store->EvictColdUsers([](UserId) { return false; });  // down to 4: u1, u4, u5 go
  ASSERT_TRUE(evicted.ok());
  EXPECT_EQ(evicted->external_ids, (std::vector<std::string>{"u1", "u4", "u5"}));
  MustApply(*store, {Interaction(EventType::kClick, "n3", "i0", kT0 + 30)});
  EXPECT_EQ(store->FindUser("n3"), UserId(1));  // u1's id, the smallest free
  // The counts of interactions evicted were rebuilt at the reopen: the edges
  // left plus those evicted are every interaction applied.
  EXPECT_EQ(store->counters().evicted_interactions, (std::array<uint64_t, 3>{5, 0, 0}));
  auto totals = store->SumEdges();
  ASSERT_TRUE(totals.ok());
  for (size_t t = 0; t < 3; ++t) EXPECT_EQ(totals->user_item[t] + store->counters().evicted_interactions[t], store->counters().applied[t]);
}

TEST_F(StoreTest, UsersIdleLongerThanTheHorizonAreEvictedAndUserEventsCountAsActivity) {
  StoreOptions o = Options();
  o.max_users = 0;
  o.user_idle_ms = 30 * kDay;
  Event profile;
  profile.type = EventType::kUser;
  profile.user_id = "profile_only";
  profile.ts = kT0 + 20 * kDay;
  profile.attributes = {{"tier", recd::testing::Text("gold")}};
  {
    auto store = Open(o);
    MustApply(*store, {Interaction(EventType::kClick, "old", "i1", kT0), Interaction(EventType::kClick, "recent", "i1", kT0 + 10 * kDay),
                       profile});
    ASSERT_TRUE(store->EvictionDue());  // the first sweep is due at once
    auto none = store->EvictColdUsers([](UserId) { return false; });
    ASSERT_TRUE(none.ok());
    EXPECT_TRUE(none->users.empty());
    EXPECT_FALSE(store->EvictionDue());  // the next one after a 64th of the horizon
    MustApply(*store, {Interaction(EventType::kClick, "now", "i2", kT0 + 45 * kDay)});
  }
  auto store = Open(o);  // the users' last event times are rebuilt, user events included
  // Idle sweeps fall on fixed steps of event time, restart or not: the next
  // is at the step after kT0+45d, which a later event reaches.
  EXPECT_FALSE(store->EvictionDue());
  MustApply(*store, {Interaction(EventType::kClick, "now", "i2", kT0 + 46 * kDay)});
  ASSERT_TRUE(store->EvictionDue());
  auto evicted = store->EvictColdUsers([](UserId) { return false; });
  ASSERT_TRUE(evicted.ok());
  // Idle since kT0 and kT0+10d at kT0+45d: past 30 days. The profile (kT0+20d) is not.
  EXPECT_EQ(evicted->external_ids, (std::vector<std::string>{"old", "recent"}));
  EXPECT_TRUE(store->FindUser("profile_only"));
  EXPECT_TRUE(store->FindUser("now"));
  auto attrs = store->GetAttributes(EventType::kUser, "profile_only");
  ASSERT_TRUE(attrs.ok());
  EXPECT_EQ(attrs->size(), 1u);
  // i1 lost both its users: no popularity left, not a rounding remainder.
  EXPECT_EQ(store->view().ItemPopularity(*store->FindItem("i1")), kNoWeight);
  EXPECT_TRUE(store->view().UsersOf(*store->FindItem("i1")).empty());
}

// The same log gives the same store whether or not the process evicted in
// between: evicting users leaves the view, popularity included, as a store
// that never saw them.
TEST_F(StoreTest, AfterEvictionTheViewEqualsOneBuiltWithoutTheEvictedUsers) {
  StoreOptions o = Options();
  o.max_users = 0;
  o.user_idle_ms = 0;
  std::mt19937 rng(11);
  std::vector<Event> kept, flood;
  for (int n = 0; n < 600; ++n) {
    kept.push_back(Interaction(static_cast<EventType>(rng() % 3), "u" + std::to_string(rng() % 40), "i" + std::to_string(rng() % 60),
                               kT0 + n, "", 1 + rng() % 5));
    flood.push_back(Interaction(EventType::kClick, "s" + std::to_string(n), "i" + std::to_string(rng() % 60), kT0 + n));
  }
  TempDir other;
  StoreOptions clean = o;
  clean.path = other.sub("clean");
  auto reference = Open(clean);
  MustApply(*reference, kept);

  auto store = Open(o);
  std::vector<Event> mixed;
  for (size_t n = 0; n < kept.size(); ++n) {
    mixed.push_back(flood[n]);
    mixed.push_back(kept[n]);
  }
  MustApply(*store, mixed);
  auto evicted = store->EvictColdUsers([](UserId) { return false; });
  ASSERT_TRUE(evicted.ok());
  EXPECT_TRUE(evicted->users.empty());  // no cap, no horizon: nothing to do
  // A cap of 1 after a reopen, the kept users spared: every session user goes.
  StoreOptions capped = o;
  capped.max_users = 1;
  store.reset();
  store = Open(capped);
  auto by_cap = store->EvictColdUsers([&](UserId u) { return store->ExternalId(u)[0] == 'u'; });
  ASSERT_TRUE(by_cap.ok());
  EXPECT_EQ(by_cap->users.size(), flood.size());
  EXPECT_EQ(store->live_users(), reference->live_users());
  const auto a = EdgesByName(*store), b = EdgesByName(*reference);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [key, w] : b) {
    ASSERT_TRUE(a.count(key)) << key.first << " " << key.second;
    EXPECT_NEAR(a.at(key), w, 1e-3);
  }
  for (int i = 0; i < 60; ++i) {
    const std::string name = "i" + std::to_string(i);
    const double want = reference->view().ItemPopularity(*reference->FindItem(name));
    const double got = store->view().ItemPopularity(*store->FindItem(name));
    if (want == kNoWeight) EXPECT_EQ(got, kNoWeight) << name;
    else EXPECT_NEAR(got, want, 1e-3) << name;
  }
}

// A burst of users on one item leaves: the item's popularity is what its
// remaining users give it, as a store that never saw the burst has it, not the
// rounding left over from subtracting a thousand weights from their sum.
TEST_F(StoreTest, AnEvictedBurstLeavesAnItemThePopularityOfItsRemainingUsers) {
  StoreOptions o = Options();
  o.max_users = 0;
  o.user_idle_ms = 0;
  const EpochMillis now = kT0 + 46 * kDay;
  std::vector<Event> burst = {Interaction(EventType::kClick, "real", "p", kT0)};
  for (int n = 0; n < 1000; ++n) burst.push_back(Interaction(EventType::kClick, "s" + std::to_string(n), "p", now + n * 1000));
  StoreOptions capped = o;
  capped.max_users = 1;
  auto store = Open(capped);
  MustApply(*store, burst);
  auto evicted = store->EvictColdUsers([&](UserId u) { return store->ExternalId(u) == "real"; });
  ASSERT_TRUE(evicted.ok());
  ASSERT_EQ(evicted->users.size(), 1000u);
  TempDir other;
  StoreOptions clean = o;
  clean.path = other.sub("clean");
  auto reference = Open(clean);
  MustApply(*reference, {burst[0], Interaction(EventType::kClick, "other", "q", now + 999'000)});
  const double want = reference->view().ItemPopularity(*reference->FindItem("p"));
  EXPECT_NEAR(store->view().ItemPopularity(*store->FindItem("p")), want, 1e-3);
  // And after a reopen, which sums the edges again.
  store.reset();
  store = Open(capped);
  EXPECT_NEAR(store->view().ItemPopularity(*store->FindItem("p")), want, 1e-3);
}

TEST(Records, CountersStayInTheFirstFormatUntilAUserIsEvicted) {
  Counters c;
  c.applied = {3, 2, 1, 0, 0};
  EXPECT_EQ(records::EncodeCounters(c)[0], 1);  // a binary from before eviction opens the store
  c.evicted_users = 2;
  c.evicted_interactions = {4, 1, 0};
  const std::string bytes = records::EncodeCounters(c);
  EXPECT_EQ(bytes[0], 2);
  Counters back;
  ASSERT_TRUE(records::DecodeCounters(bytes, &back));
  EXPECT_EQ(back.evicted_users, 2u);
  EXPECT_EQ(back.evicted_interactions, c.evicted_interactions);
  ASSERT_TRUE(records::DecodeCounters(records::EncodeCounters(Counters{}), &back));
  EXPECT_EQ(back.evicted_users, 0u);
}

// A batch that reuses a freed id and fails to write leaves the id free: the
// same batch, applied again, gets the same id.
TEST_F(StoreTest, ARefusedBatchGivesBackTheFreedIdsItReused) {
  StoreOptions o = FaultyOptions();
  o.max_users = 1;
  o.user_idle_ms = 0;
  auto store = Open(o);
  MustApply(*store, {Interaction(EventType::kClick, "a", "i1", kT0), Interaction(EventType::kClick, "b", "i1", kT0 + 1),
                     Interaction(EventType::kClick, "c", "i1", kT0 + 2)});
  auto evicted = store->EvictColdUsers([](UserId) { return false; });
  ASSERT_TRUE(evicted.ok());
  EXPECT_EQ(evicted->external_ids, (std::vector<std::string>{"a", "b"}));
  const std::vector<Event> batch = {Interaction(EventType::kClick, "d", "i2", kT0 + 3), Interaction(EventType::kClick, "e", "i2", kT0 + 4),
                                    Interaction(EventType::kClick, "f", "i2", kT0 + 5)};
  fs_->Arm(FaultyFileSystem::Fault::kNoSpace);
  auto refused = store->Apply(batch, {}, 0);
  ASSERT_FALSE(refused.ok());
  EXPECT_FALSE(store->FindUser("d"));
  EXPECT_EQ(store->live_users(), 1u);
  // Eviction out of space changes nothing either.
  fs_->Arm(FaultyFileSystem::Fault::kNone);
  MustApply(*store, batch);
  EXPECT_EQ(store->FindUser("d"), UserId(0));
  EXPECT_EQ(store->FindUser("e"), UserId(1));
  EXPECT_EQ(store->FindUser("f"), UserId(3));
  EXPECT_EQ(store->view().num_users(), 4u);
}

}  // namespace
}  // namespace recd::store
