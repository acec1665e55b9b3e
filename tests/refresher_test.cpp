// The live model: the refresher's dirty set, its incremental layer-wise
// inference, hot reload and refusal of broken versions, restart from persisted
// state, inductive new items, and the PinSage ranker's filters.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "base/hash.h"
#include "model/pinsage_ranker.h"
#include "model/refresher.h"
#include "model/trained_model.h"
#include "store/graph_store.h"
#include "tests/small_recipe.h"
#include "tests/test_util.h"

namespace recd::model {
namespace {

using recd::testing::Interaction;
using recd::testing::ItemEvent;
using recd::testing::Text;

constexpr uint32_t kCommunities = 4, kItemsPer = 10, kUsersPer = 25;
constexpr EpochMillis kT0 = 1'700'000'000'000;

std::string ItemName(uint32_t i) { return "item" + std::to_string(i); }
std::string Category(uint32_t c) { return "cat" + std::to_string(c); }

// A store of planted communities: item i belongs to community i % 4 and says so
// in its `category`; users of community c click six of c's items, an hour apart.
std::unique_ptr<store::GraphStore> PlantedStore(const std::string& path) {
  store::StoreOptions options;
  options.path = path;
  options.sync_writes = false;
  auto opened = store::GraphStore::Open(options);
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  std::unique_ptr<store::GraphStore> s = std::move(*opened);
  std::vector<Event> events;
  EpochMillis ts = kT0;
  for (uint32_t i = 0; i < kCommunities * kItemsPer; ++i) {
    events.push_back(ItemEvent(ItemName(i), ts, {{"category", Text(Category(i % kCommunities))}}));
  }
  std::mt19937 rng(3);
  for (uint32_t u = 0; u < kCommunities * kUsersPer; ++u) {
    const uint32_t c = u % kCommunities;
    for (int k = 0; k < 6; ++k) {
      events.push_back(Interaction(EventType::kClick, "user" + std::to_string(u), ItemName(c + kCommunities * (rng() % kItemsPer)), ts));
      ts += 3'600'000;
    }
  }
  auto applied = s->Apply(events, {}, 0);
  EXPECT_TRUE(applied.ok()) << applied.status().ToString();
  return s;
}

using recd::testing::SmallRecipe;

std::vector<ItemDescription> Catalogue(const store::GraphStore& s) {
  std::vector<ItemDescription> out;
  for (uint32_t i = 0; i < s.view().num_items(); ++i) {
    ItemDescription d;
    d.item = ItemId(i);
    d.external_id = s.ExternalId(ItemId(i));
    d.attributes = *s.GetAttributes(EventType::kItem, d.external_id);
    out.push_back(std::move(d));
  }
  return out;
}

class LiveModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = PlantedStore(dir_.sub("store"));
    auto set = TrainingSetFromStore(*store_);
    ASSERT_TRUE(set.ok());
    set_ = std::move(*set);
    auto trained = TrainPinSage(set_, SmallRecipe());
    ASSERT_TRUE(trained.ok()) << trained.status().ToString();
    trained_ = std::make_unique<TrainedModel>(std::move(*trained));
    ASSERT_TRUE(WriteModelVersion(root(), *trained_, "test").ok());
  }
  std::string root() const { return dir_.sub("models"); }
  RefresherConfig Config() const {
    RefresherConfig c;
    c.model_root = root();
    c.device = "cpu";
    c.fanout = 2;
    c.related = 10;
    c.walked = 20;
    return c;
  }
  std::unique_ptr<Refresher> Start(RefresherConfig c) {
    auto r = Refresher::Create(std::move(c), store_->view(), Catalogue(*store_));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : nullptr;
  }
  // The refresher's neighbourhoods, sampled independently: what it loads with
  // (round 0, the model's walk count, `walked` kept).
  std::vector<Neighbourhood> Hoods(const RefresherConfig& c) const {
    SamplerConfig sc = trained_->recipe.sampler;
    const Sampler sampler(store_->view(), sc);
    std::vector<Neighbourhood> hoods;
    for (uint32_t i = 0; i < store_->view().num_items(); ++i) {
      hoods.push_back(sampler.SampleRanked(ItemId(i), 0, sc.walks_per_node, static_cast<uint32_t>(std::max<size_t>(c.walked, sc.top_t))));
    }
    return hoods;
  }

  recd::testing::TempDir dir_{"recd-live-"};
  std::unique_ptr<store::GraphStore> store_;
  TrainingSet set_;
  std::unique_ptr<TrainedModel> trained_;
};

TEST_F(LiveModelTest, LoadingEmbedsTheCatalogueExactlyAsLayerwiseInference) {
  const RefresherConfig c = Config();
  auto refresher = Start(c);
  const auto live = refresher->Current();
  ASSERT_TRUE(live);
  EXPECT_EQ(live->version, "v0001");
  std::vector<Neighbourhood> hoods = Hoods(c);
  for (auto& h : hoods) {  // the model convolves over the first top_t
    h.items.resize(std::min<size_t>(h.items.size(), 5));
    h.importance.resize(h.items.size());
  }
  const NodeFeatures features = EncodeFeatures(set_, trained_->attribute_fields, trained_->recipe.model.id_buckets,
                                               trained_->recipe.model.attribute_buckets, 0);
  auto expected = trained_->net->EmbedAll(hoods, features);
  ASSERT_TRUE(expected.ok());
  ASSERT_EQ(live->embeddings.size(), expected->size());
  for (size_t k = 0; k < expected->size(); ++k) ASSERT_NEAR(live->embeddings[k], (*expected)[k], 1e-5) << "value " << k;
  // Related lists are nearest neighbours: community mates.
  size_t mates = 0, total = 0;
  for (uint32_t i = 0; i < live->num_items(); ++i) {
    for (const ItemScore& r : live->related[i]) {
      EXPECT_NE(r.item, i);
      if (total++, r.item % kCommunities == i % kCommunities) ++mates;
    }
  }
  EXPECT_GT(static_cast<double>(mates) / static_cast<double>(total), 0.8);
}

TEST_F(LiveModelTest, DirtySetIsExactlyWhatTheRulesSay) {
  const RefresherConfig c = Config();
  auto refresher = Start(c);
  const std::vector<Neighbourhood> hoods = Hoods(c);
  const uint32_t touched = 6, described = 9, fresh = static_cast<uint32_t>(store_->view().num_items());

  // Rule 3, computed here from the neighbourhoods: the two items whose first
  // top_t neighbours give `touched` the most weight.
  std::vector<std::pair<float, uint32_t>> holders;
  for (uint32_t x = 0; x < hoods.size(); ++x) {
    float total = 0, w = 0;
    for (size_t k = 0; k < std::min<size_t>(5, hoods[x].items.size()); ++k) {
      total += hoods[x].importance[k];
      if (hoods[x].items[k].value == touched) w = hoods[x].importance[k];
    }
    if (w > 0) holders.emplace_back(w / total, x);
  }
  ASSERT_GE(holders.size(), 3u) << "the planted graph gives item 6 several holders";
  std::sort(holders.begin(), holders.end(), [](auto a, auto b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });

  GraphChange change;
  change.edges.push_back({UserId(0), ItemId(touched), 40.0, store::TypeBit(EventType::kClick)});
  change.touched = {ItemId(touched)};
  change.items.push_back({ItemId(described), ItemName(described), {{"category", Text("cat-new")}}, {}});
  change.items.push_back({ItemId(fresh), "brand-new", {{"category", Text(Category(1))}}, {}});
  change.num_users = store_->view().num_users();
  change.num_items = fresh + 1;
  refresher->Submit(change);
  refresher->Submit(change);  // the same again: coalesces
  refresher->ApplySubmitted();
  std::vector<ItemId> expected;
  for (uint32_t i : {described, fresh, touched, holders[0].second, holders[1].second}) {
    if (std::find(expected.begin(), expected.end(), ItemId(i)) == expected.end()) expected.emplace_back(i);
  }
  EXPECT_EQ(refresher->DirtyItems(), expected);

  // A tick takes at most `budget`, oldest first; the rest waits.
  RefresherConfig small = c;
  small.budget = 2;
  auto budgeted = Start(small);
  budgeted->TakeChangedItems();  // the load's
  budgeted->Submit(change);
  auto done = budgeted->Tick();
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(*done, 2u);
  EXPECT_EQ(budgeted->DirtyItems(), std::vector<ItemId>(expected.begin() + 2, expected.end()));
  EXPECT_EQ(budgeted->TakeChangedItems(), (std::vector<uint32_t>{described, fresh}));
}

TEST_F(LiveModelTest, NewItemWithOnlyAttributesIsRelatedAndRecommended) {
  auto refresher = Start(Config());
  // The item arrives in the store as metadata only, and reaches the refresher.
  auto applied = store_->Apply({ItemEvent("brand-new", kT0 + 1, {{"category", Text(Category(2))}})}, {}, 0);
  ASSERT_TRUE(applied.ok());
  const ItemId fresh = *store_->FindItem("brand-new");
  GraphChange change;
  change.items.push_back({fresh, "brand-new", {{"category", Text(Category(2))}}, {}});
  change.num_users = store_->view().num_users();
  change.num_items = store_->view().num_items();
  refresher->Submit(change);
  ASSERT_TRUE(refresher->Tick().ok());
  const auto live = refresher->Current();
  ASSERT_TRUE(live->embedded[fresh.value]);
  // Its own related items are its category's, and it is among theirs.
  size_t mates = 0;
  for (const ItemScore& r : live->related[fresh.value]) mates += r.item % kCommunities == 2;
  EXPECT_GE(mates, 8u) << "of " << live->related[fresh.value].size();
  size_t listed_by = 0;
  for (uint32_t i = 2; i < kCommunities * kItemsPer; i += kCommunities) {
    for (const ItemScore& r : live->related[i]) listed_by += r.item == fresh.value;
  }
  EXPECT_GE(listed_by, 5u) << "of the 10 items of its category";

  // Users who buy in its category get it in their lists.
  BaselineConfig base;
  base.k = 10;
  BaselineRanker fallback(*store_, base);
  fallback.RefreshTrending();
  // Under the shipped blend trending weighs 1 and a brand-new item, with no
  // popularity yet, loses to its popular category mates (in this scenario no
  // user lists it; docs/evaluation.md). With trending light, its embedding
  // neighbours carry it: what this test checks is the inductive embedding.
  PinSageRankerConfig light_trending;
  light_trending.session.trending = light_trending.returning.trending = 0.1f;
  PinSageRanker ranker(*store_, fallback, light_trending);
  size_t users = 0, listing = 0;
  for (uint32_t u = 2; u < kCommunities * kUsersPer; u += kCommunities) {
    const auto list = ranker.Recommend(*store_->FindUser("user" + std::to_string(u)), 0, live.get());
    EXPECT_EQ(list.model_version, "pinsage-v0001");
    ++users;
    for (const auto& item : list.items) listing += item.item_id == "brand-new";
  }
  EXPECT_GE(listing * 2, users) << listing << " of " << users << " users of its category";
}

TEST_F(LiveModelTest, PurchasedNeverReturnsClickedMay) {
  auto refresher = Start(Config());
  const auto live = refresher->Current();
  // user0 (community 0) buys one of its items and clicks another.
  ASSERT_TRUE(store_->Apply({Interaction(EventType::kPurchase, "user0", ItemName(4), kT0 + 10'000'000'000),
                             Interaction(EventType::kClick, "user0", ItemName(8), kT0 + 10'000'000'001)},
                            {}, 0).ok());
  BaselineConfig base;  // the default filters: purchased and rated items never come back
  BaselineRanker fallback(*store_, base);
  fallback.RefreshTrending();
  PinSageRanker ranker(*store_, fallback, {});
  const auto list = ranker.Recommend(*store_->FindUser("user0"), 0, live.get());
  ASSERT_FALSE(list.items.empty());
  EXPECT_EQ(list.source, ListSource::kPersonalized);
  bool clicked = false;
  for (const auto& item : list.items) {
    EXPECT_NE(item.item_id, ItemName(4)) << "a purchased item came back";
    clicked |= item.item_id == ItemName(8);
  }
  EXPECT_TRUE(clicked) << "a clicked-only item of the user's own community should stay listable";
}

TEST_F(LiveModelTest, HotReloadSwapsAtomicallyAndRefusesBrokenVersions) {
  auto refresher = Start(Config());
  const auto first = refresher->Current();
  ASSERT_EQ(first->version, "v0001");
  ASSERT_TRUE(WriteModelVersion(root(), *trained_, "test").ok());  // v0002
  ASSERT_TRUE(refresher->Tick(/*force_reload=*/true).ok());
  const auto second = refresher->Current();
  EXPECT_EQ(second->version, "v0002");
  EXPECT_EQ(first->version, "v0001");  // a reader of the old model still holds all of it
  EXPECT_EQ(first->embeddings.size(), second->embeddings.size());

  // A half-written version (weights cut short) is refused; v0002 keeps serving.
  ASSERT_TRUE(WriteModelVersion(root(), *trained_, "test").ok());  // v0003
  {
    std::ifstream in(root() + "/v0003/model.pt", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(root() + "/v0003/model.pt", std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 3);
  }
  ASSERT_TRUE(refresher->Tick(true).ok());
  EXPECT_EQ(refresher->Current()->version, "v0002");
  EXPECT_EQ(refresher->stats().model_load_failures.load(), 1u);
  // A directory without its manifest likewise; the refusal is not retried until LATEST moves.
  ASSERT_EQ(std::system(("mkdir -p " + root() + "/v0004 && echo v0004 > " + root() + "/LATEST").c_str()), 0);
  ASSERT_TRUE(refresher->Tick(true).ok());
  ASSERT_TRUE(refresher->Tick(true).ok());
  EXPECT_EQ(refresher->Current()->version, "v0002");
  EXPECT_EQ(refresher->stats().model_load_failures.load(), 2u);
  EXPECT_EQ(refresher->stats().model_loads.load(), 2u);
}

TEST_F(LiveModelTest, RestartRestoresPersistedEmbeddingsWithoutReembedding) {
  RefresherConfig c = Config();
  c.state_dir = dir_.sub("live");
  std::vector<float> before;
  {
    auto refresher = Start(c);
    EXPECT_EQ(refresher->stats().items_refreshed.load(), store_->view().num_items());
    before = refresher->Current()->embeddings;
  }  // stops and snapshots
  auto restarted = Start(c);
  EXPECT_EQ(restarted->stats().items_refreshed.load(), 0u) << "every item came back from the snapshot";
  EXPECT_EQ(restarted->Current()->embeddings, before);
  // An item the snapshot does not know is embedded at start.
  auto applied = store_->Apply({ItemEvent("later", kT0 + 1, {{"category", Text(Category(0))}})}, {}, 0);
  ASSERT_TRUE(applied.ok());
  restarted.reset();
  auto third = Start(c);
  EXPECT_EQ(third->stats().items_refreshed.load(), 1u);
  EXPECT_TRUE(third->Current()->embedded[store_->FindItem("later")->value]);
}

// Issue 17, rule 5: the snapshot is derived state, so any doubt about it costs a
// full re-embedding, never a wrong or out-of-bounds restore: a torn state file,
// an index from another snapshot, an item id beyond the catalogue under a valid
// checksum. State of versions gone from the registry is deleted.
TEST_F(LiveModelTest, ADoubtfulSnapshotIsReembeddedAndStaleOnesAreRemoved) {
  RefresherConfig c = Config();
  c.state_dir = dir_.sub("live");
  std::vector<float> before;
  std::string version;
  {
    auto refresher = Start(c);
    before = refresher->Current()->embeddings;
    version = refresher->Current()->version;
  }
  const std::string state = c.state_dir + "/" + version + ".state";
  auto slurp = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  const std::string good = slurp(state), good_ann = slurp(state + ".ann");
  const size_t items = store_->view().num_items();
  auto restart_reembeds_all = [&](const std::string& why) {
    auto r = Start(c);
    EXPECT_EQ(r->stats().items_refreshed.load(), items) << why;
    EXPECT_EQ(r->Current()->embeddings, before) << why;
  };
  auto write = [](const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; };

  std::string torn = good;
  torn[torn.size() / 2] ^= 0x40;
  write(state, torn);
  restart_reembeds_all("a flipped byte breaks the checksum");

  write(state, good);
  write(state + ".ann", good_ann + "x");
  restart_reembeds_all("the index is not the one the state was written with");

  // The first neighbour id of item 0 (after the magic, dim, n, a flag and a
  // length) set beyond the catalogue, with the checksum recomputed.
  write(state + ".ann", good_ann);
  std::string bad = good;
  const size_t first_id = sizeof("recd-live-state-2") + 8 + 8 + 1 + 8;
  uint64_t hood_length = 0;
  std::memcpy(&hood_length, bad.data() + first_id - 8, 8);
  ASSERT_GT(hood_length, 0u);
  const uint32_t beyond = 0xfffffff0u;
  std::memcpy(&bad[first_id], &beyond, 4);
  const uint64_t body_hash = Fnv1a64(std::string_view(bad.data(), bad.size() - 8));
  std::memcpy(&bad[bad.size() - 8], &body_hash, 8);
  write(state, bad);
  restart_reembeds_all("an item id beyond the catalogue");

  write(c.state_dir + "/v0099.state", "stale");
  write(c.state_dir + "/v0099.state.ann", "stale");
  { auto r = Start(c); }  // its stop snapshots
  EXPECT_FALSE(std::filesystem::exists(c.state_dir + "/v0099.state"));
  EXPECT_FALSE(std::filesystem::exists(c.state_dir + "/v0099.state.ann"));
  EXPECT_TRUE(std::filesystem::exists(state));
}

// CPU and CUDA refresh agree (label gpu; skips without a CUDA device).
class PinSageGpuRefresh : public LiveModelTest {};

TEST_F(PinSageGpuRefresh, CpuAndCudaAgree) {
  if (!PinSage::Create(trained_->recipe.model, "cuda").ok()) GTEST_SKIP() << "no CUDA device";
  RefresherConfig c = Config();
  auto cpu = Start(c);
  c.device = "cuda";
  auto cuda = Start(c);
  const auto a = cpu->Current(), b = cuda->Current();
  ASSERT_EQ(a->embeddings.size(), b->embeddings.size());
  for (size_t k = 0; k < a->embeddings.size(); ++k) ASSERT_NEAR(a->embeddings[k], b->embeddings[k], 1e-4) << k;
}

}  // namespace
}  // namespace recd::model
