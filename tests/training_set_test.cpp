// TrainingSet building, positive pairs and feature encoding (no LibTorch).
#include <set>
#include <gtest/gtest.h>

#include "model/training_set.h"
#include "store/graph_store.h"
#include "tests/test_util.h"

namespace recd::model {
namespace {

using recd::testing::Interaction;
using recd::testing::ItemEvent;
using recd::testing::Number;
using recd::testing::Text;

constexpr EpochMillis kHour = 3'600'000;

TEST(TrainingSet, BuilderKeepsPreRegisteredOrderAndMetadata) {
  TrainingSetBuilder b;
  EXPECT_EQ(b.Item("b"), 0u);
  EXPECT_EQ(b.Item("a"), 1u);
  b.Add(Interaction(EventType::kClick, "u1", "a", 1000));
  b.Add(Interaction(EventType::kPurchase, "u1", "c", 2000));
  b.Add(ItemEvent("b", 0, {{"colour", Text("red")}}));
  const TrainingSet s = std::move(b).Finish();
  ASSERT_EQ(s.item_ids, (std::vector<std::string>{"b", "a", "c"}));
  EXPECT_EQ(s.graph.num_items(), 3u);
  EXPECT_EQ(s.graph.num_edges(), 2u);
  EXPECT_EQ(s.interactions.size(), 2u);
  ASSERT_EQ(s.item_attributes[0].size(), 1u);
  EXPECT_EQ(s.item_attributes[0][0].second.text, "red");
  // A purchase weighs 4 clicks at the same time (decay.h defaults).
  EXPECT_NEAR(s.graph.ItemsOf(UserId(0))[1].log_weight - s.graph.ItemsOf(UserId(0))[0].log_weight,
              2.0 + 1000.0 / store::DecayConfig{}.half_life_ms, 1e-4);
}

TEST(TrainingSet, PairsAreCloseInTimeDistinctAndNewestHeldOut) {
  std::vector<TimedInteraction> xs = {
      {0, 1, 0}, {0, 2, 1 * kHour}, {0, 2, 2 * kHour},  // 2 after 2: not a pair
      {0, 3, 100 * kHour},                               // too late for anything before it
      {1, 5, 10 * kHour}, {1, 6, 11 * kHour}, {1, 7, 12 * kHour}};
  PairConfig c;
  c.window_ms = 24 * kHour;
  c.next_items = 2;
  c.validation_fraction = 0.0;
  PositivePairs p = MakePositivePairs(xs, c);
  using P = std::pair<ItemId, ItemId>;
  const std::vector<P> want = {{ItemId(1), ItemId(2)}, {ItemId(1), ItemId(2)}, {ItemId(5), ItemId(6)},
                               {ItemId(5), ItemId(7)}, {ItemId(6), ItemId(7)}};
  EXPECT_EQ(p.train, want);  // sorted by the later interaction's time
  c.validation_fraction = 0.4;
  p = MakePositivePairs(xs, c);
  EXPECT_EQ(p.train.size(), 3u);
  EXPECT_EQ(p.validation, (std::vector<P>{{ItemId(5), ItemId(7)}, {ItemId(6), ItemId(7)}}));
}

TEST(TrainingSet, FeaturesHashFieldsNumbersAndMissingValues) {
  TrainingSetBuilder b;
  b.Add(ItemEvent("i0", 0, {{"colour", Text("red")}, {"price", Number(100)}}));
  b.Add(ItemEvent("i1", 0, {{"colour", Text("red")}, {"price", Number(110)}}));
  b.Add(ItemEvent("i2", 0, {{"price", Number(5000)}}));
  Event with_content = ItemEvent("i3", 0, {{"colour", Text("blue")}});
  with_content.embedding = {0.5f, -1.0f};
  b.Add(with_content);
  const TrainingSet s = std::move(b).Finish();
  const auto fields = AttributeFields(s);
  ASSERT_EQ(fields, (std::vector<std::string>{"colour", "price"}));
  ASSERT_EQ(ContentDim(s), 2u);
  const NodeFeatures f = EncodeFeatures(s, fields, 1 << 20, 1 << 20, 2);
  ASSERT_EQ(f.attributes.size(), 8u);
  EXPECT_EQ(f.attributes[0], f.attributes[2]);  // red == red
  EXPECT_NE(f.attributes[0], f.attributes[6]);  // red != blue
  EXPECT_NE(f.attributes[0], f.attributes[4]);  // red != missing
  EXPECT_EQ(f.attributes[1], f.attributes[3]);  // 100 and 110 share a magnitude bucket
  EXPECT_NE(f.attributes[1], f.attributes[5]);  // 5000 does not
  EXPECT_EQ(f.content, (std::vector<float>{0, 0, 0, 0, 0, 0, 0.5f, -1.0f}));
  const NodeFeatures g = GatherFeatures(f, {ItemId(3), ItemId(0)}, fields.size(), 2);
  EXPECT_EQ(g.id_bucket, (std::vector<int64_t>{f.id_bucket[3], f.id_bucket[0]}));
  EXPECT_EQ(g.content, (std::vector<float>{0.5f, -1.0f, 0, 0}));
}

// Issue 17, rule 3: one item's content vector of another width must not set
// the width for every item; it is ignored (zeros) by the documented rule.
TEST(TrainingSet, TheContentWidthIsTheCommonOneAndOtherWidthsAreIgnored) {
  TrainingSetBuilder b;
  for (int i = 0; i < 3; ++i) {
    Event e = ItemEvent("i" + std::to_string(i), 0, {});
    e.embedding = {float(i), 1.0f};
    b.Add(e);
  }
  Event odd = ItemEvent("odd", 0, {});
  odd.embedding = std::vector<float>(4096, 0.25f);
  b.Add(odd);
  b.Add(ItemEvent("none", 0, {}));
  const TrainingSet s = std::move(b).Finish();
  ASSERT_EQ(ContentDim(s), 2u);
  const NodeFeatures f = EncodeFeatures(s, {}, 1 << 20, 1 << 20, 2);
  EXPECT_EQ(f.content, (std::vector<float>{0, 1, 1, 1, 2, 1, 0, 0, 0, 0}));
  // Two widths with as many items each: the narrower wins, deterministically.
  TrainingSetBuilder tie;
  Event a = ItemEvent("a", 0, {}), c = ItemEvent("c", 0, {});
  a.embedding = {1, 2, 3};
  c.embedding = {1, 2};
  tie.Add(a);
  tie.Add(c);
  EXPECT_EQ(ContentDim(std::move(tie).Finish()), 2u);
}

TEST(TrainingSet, FromStoreMatchesTheStoresGraphAndEdgeFirstAndLastTimes) {
  recd::testing::TempDir dir("recd-ts-");
  store::StoreOptions o;
  o.path = dir.path();
  o.sync_writes = false;
  auto st = store::GraphStore::Open(o);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  ASSERT_TRUE((*st)->Apply({ItemEvent("a", 0, {{"colour", Text("red")}}), Interaction(EventType::kClick, "u", "a", 5 * kHour, "e1"),
                            Interaction(EventType::kClick, "u", "b", 6 * kHour, "e2"),
                            Interaction(EventType::kClick, "u", "a", 7 * kHour, "e3")},
                           {}, 0)
                  .ok());
  auto s = TrainingSetFromStore(**st);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->graph.num_edges(), 2u);
  ASSERT_EQ(s->item_ids.size(), 2u);
  const uint32_t a = s->item_ids[0] == "a" ? 0 : 1;
  ASSERT_EQ(s->item_attributes[a].size(), 1u);
  // u-a: its first (5 h) and last (7 h) event; u-b: its one event (6 h).
  std::multiset<std::pair<uint32_t, EpochMillis>> got;
  for (const auto& x : s->interactions) got.insert({x.item, x.ts});
  const std::multiset<std::pair<uint32_t, EpochMillis>> want = {{a, 5 * kHour}, {a, 7 * kHour}, {1 - a, 6 * kHour}};
  EXPECT_EQ(got, want);
}

}  // namespace
}  // namespace recd::model
