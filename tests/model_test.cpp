// Unit tests for model/: the baseline ranker on small graphs with known answers.
#include <gtest/gtest.h>

#include <algorithm>

#include "model/baseline_ranker.h"
#include "tests/store_fixture.h"

namespace recd::model {
namespace {

using recd::testing::Interaction;
using recd::testing::ItemEvent;

constexpr EpochMillis kT0 = 1769860800000;

class RankerTest : public recd::testing::StoreFixture {
 protected:
  std::vector<std::string> Items(const RecommendationList& l) {
    std::vector<std::string> out;
    for (const auto& s : l.items) out.push_back(s.item_id);
    return out;
  }
};

TEST_F(RankerTest, RecommendsWhatSimilarUsersTookAndNeverWhatTheUserBought) {
  // Two communities: {a1,a2,a3} and {b1,b2,b3}. "alice" bought a1 and a2.
  std::vector<Event> events;
  for (int u = 0; u < 5; ++u) {
    for (const char* i : {"a1", "a2", "a3"}) events.push_back(Interaction(EventType::kClick, "ua" + std::to_string(u), i, kT0 + u));
    for (const char* i : {"b1", "b2", "b3"}) events.push_back(Interaction(EventType::kClick, "ub" + std::to_string(u), i, kT0 + u));
  }
  for (int u = 0; u < 9; ++u) events.push_back(Interaction(EventType::kPurchase, "ub" + std::to_string(u), "b1", kT0));  // b1 is the most popular
  events.push_back(Interaction(EventType::kPurchase, "alice", "a1", kT0 + 10));
  events.push_back(Interaction(EventType::kPurchase, "alice", "a2", kT0 + 11));
  Apply(events);
  BaselineConfig config;
  config.k = 3;
  BaselineRanker ranker(*store_, config);
  ranker.RefreshTrending();
  const auto list = ranker.Recommend(*store_->FindUser("alice"), kT0);
  EXPECT_EQ(list.source, ListSource::kPersonalized);
  EXPECT_EQ(list.user_id, "alice");
  EXPECT_EQ(list.k, 3u);
  EXPECT_EQ(list.model_version, kBaselineModelVersion);
  ASSERT_EQ(list.items.size(), 3u);
  EXPECT_EQ(list.items[0].item_id, "a3");  // the only co-occurring unseen item
  EXPECT_EQ(list.items[1].item_id, "b1");  // then trending, most popular first
  EXPECT_GT(list.items[0].score, list.items[1].score);
  for (const auto& s : list.items) {
    EXPECT_NE(s.item_id, "a1");
    EXPECT_NE(s.item_id, "a2");
  }
}

// The filters follow the configured types: by default a purchase or a rating
// keeps an item out of the user's lists, a click does not.
TEST_F(RankerTest, FiltersExcludeTheConfiguredInteractionTypesOnly) {
  std::vector<Event> events;
  for (int u = 0; u < 4; ++u) {
    for (const char* i : {"x", "y", "z", "w"}) events.push_back(Interaction(EventType::kClick, "u" + std::to_string(u), i, kT0 + u));
  }
  events.push_back(Interaction(EventType::kClick, "carol", "x", kT0 + 10));
  events.push_back(Interaction(EventType::kClick, "carol", "y", kT0 + 11));
  events.push_back(Interaction(EventType::kPurchase, "carol", "y", kT0 + 12));
  events.push_back(Interaction(EventType::kRating, "carol", "z", kT0 + 13, "", 2));
  Apply(events);
  const UserId carol = *store_->FindUser("carol");
  BaselineConfig config;
  config.k = 4;
  BaselineRanker by_default(*store_, config);
  by_default.RefreshTrending();
  const auto listed = Items(by_default.Recommend(carol, kT0));
  EXPECT_NE(std::find(listed.begin(), listed.end(), "x"), listed.end()) << "clicked only: may come back";
  EXPECT_EQ(std::find(listed.begin(), listed.end(), "y"), listed.end()) << "purchased after clicks: never";
  EXPECT_EQ(std::find(listed.begin(), listed.end(), "z"), listed.end()) << "rated: never";
  EXPECT_NE(std::find(listed.begin(), listed.end(), "w"), listed.end());
  EXPECT_TRUE(by_default.Excluded(carol, *store_->FindItem("y")));
  EXPECT_FALSE(by_default.Excluded(carol, *store_->FindItem("x")));

  config.exclude_types = store::TypeBit(EventType::kClick);  // only what was clicked
  BaselineRanker clicks_out(*store_, config);
  clicks_out.RefreshTrending();
  const auto listed2 = Items(clicks_out.Recommend(carol, kT0));
  EXPECT_EQ(std::find(listed2.begin(), listed2.end(), "x"), listed2.end());
  EXPECT_EQ(std::find(listed2.begin(), listed2.end(), "y"), listed2.end());  // clicked too
  EXPECT_NE(std::find(listed2.begin(), listed2.end(), "z"), listed2.end());  // only rated
}

TEST_F(RankerTest, ColdUsersGetTrendingAndUnavailableItemsAreSkipped) {
  std::vector<Event> events;
  for (int u = 0; u < 4; ++u) events.push_back(Interaction(EventType::kPurchase, "u" + std::to_string(u), "hot", kT0));
  for (int u = 0; u < 2; ++u) events.push_back(Interaction(EventType::kClick, "u" + std::to_string(u), "warm", kT0));
  events.push_back(Interaction(EventType::kClick, "u0", "cold", kT0));
  Event newcomer;
  newcomer.type = EventType::kUser;
  newcomer.user_id = "new";
  newcomer.ts = kT0;
  events.push_back(newcomer);
  events.push_back(ItemEvent("warm", kT0, {{"available", testing::Text("false")}}));
  Apply(events);
  BaselineRanker ranker(*store_, BaselineConfig{});
  ranker.RefreshTrending();
  const auto list = ranker.Recommend(*store_->FindUser("new"), kT0);
  EXPECT_EQ(list.source, ListSource::kColdStart);
  EXPECT_EQ(Items(list), (std::vector<std::string>{"hot", "cold"}));
}

TEST_F(RankerTest, RecentInteractionsOutweighOldOnes) {
  // bob clicked "old" long ago and "new" today; their co-items compete.
  std::vector<Event> events;
  const EpochMillis year = 365LL * 86'400'000;
  for (int u = 0; u < 3; ++u) {
    events.push_back(Interaction(EventType::kClick, "o" + std::to_string(u), "old", kT0));
    events.push_back(Interaction(EventType::kClick, "o" + std::to_string(u), "old-friend", kT0));
    events.push_back(Interaction(EventType::kClick, "n" + std::to_string(u), "new", kT0 + year));
    events.push_back(Interaction(EventType::kClick, "n" + std::to_string(u), "new-friend", kT0 + year));
  }
  events.push_back(Interaction(EventType::kClick, "bob", "old", kT0));
  events.push_back(Interaction(EventType::kClick, "bob", "new", kT0 + year));
  Apply(events);
  BaselineRanker ranker(*store_, BaselineConfig{});
  ranker.RefreshTrending();
  const auto list = ranker.Recommend(*store_->FindUser("bob"), kT0 + year);
  ASSERT_GE(list.items.size(), 2u);
  EXPECT_EQ(list.items[0].item_id, "new-friend");
  EXPECT_EQ(list.items[1].item_id, "old-friend");
}

}  // namespace
}  // namespace recd::model
