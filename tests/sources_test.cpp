// model/rank/: session kNN, seasonal and category trending and the new items,
// each against a brute-force oracle recomputed from the log on a hand-built
// graph; then the blend's wiring of them (reasons, attributes before edges).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "model/rank/list_blend.h"
#include "tests/store_fixture.h"

namespace recd::rank {
namespace {

using recd::testing::Interaction;
using recd::testing::ItemEvent;
using recd::testing::Text;

constexpr EpochMillis kT0 = 1769860800000, kMinute = 60'000, kHour = 3'600'000, kDay = 86'400'000;

class SourcesTest : public recd::testing::StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    filters_ = std::make_unique<model::BaselineRanker>(*store_, model::BaselineConfig{});
  }
  UserId User(const std::string& u) { return *store_->FindUser(u); }
  ItemId Item(const std::string& i) { return *store_->FindItem(i); }
  std::vector<Candidate> Propose(const CandidateSource& source, const std::string& user, size_t limit) {
    std::vector<Candidate> got;
    source.Propose(User(user), limit, &got);
    return got;
  }
  // `got` is `want` (item id -> score, any scale) ordered best first, up to
  // `limit`: each place holds an item whose oracle score is the place's (ties
  // may come in either order), and the scores are proportional.
  void ExpectOrder(const std::vector<Candidate>& got, const std::map<std::string, double>& want, size_t limit,
                   const std::string& what) {
    std::vector<double> sorted;
    for (const auto& [item, w] : want) sorted.push_back(w);
    std::sort(sorted.rbegin(), sorted.rend());
    ASSERT_EQ(got.size(), std::min(limit, sorted.size())) << what;
    if (got.empty()) return;
    const double scale = got[0].score / sorted[0];
    for (size_t k = 0; k < got.size(); ++k) {
      const std::string item = store_->ExternalId(ItemId(got[k].item));
      ASSERT_TRUE(want.count(item)) << what << ": " << item << " is no candidate";
      EXPECT_NEAR(want.at(item), sorted[k], 1e-9 * sorted[0]) << what << " place " << k << ": " << item;
      EXPECT_NEAR(got[k].score, sorted[k] * scale, 1e-5 * got[0].score) << what << " place " << k;
    }
  }
  std::unique_ptr<model::BaselineRanker> filters_;
};

TEST_F(SourcesTest, SessionKnnMatchesVsknnRecomputedFromTheLog) {
  // Six users in bursts: events 5 minutes apart, a pause of 1 to 3 hours between bursts.
  std::mt19937_64 rng(5);
  std::vector<Event> events;
  EpochMillis ts = kT0;
  for (int burst = 0; burst < 40; ++burst) {
    const std::string user = "u" + std::to_string(rng() % 6);
    const int length = 1 + static_cast<int>(rng() % 5);
    for (int n = 0; n < length; ++n) {
      events.push_back(Interaction(rng() % 5 == 0 ? EventType::kPurchase : EventType::kClick, user,
                                   "i" + std::to_string(rng() % 12), ts));
      ts += 5 * kMinute;
    }
    ts += (1 + static_cast<int64_t>(rng() % 3)) * kHour;
  }
  Apply(events);
  for (const size_t max_sessions : {size_t{1000}, size_t{6}}) {
    SessionKnnConfig config;
    config.session_gap_s = 1800;
    config.session_items = 3;  // long bursts drop their oldest items
    config.max_sessions = max_sessions;
    config.sessions_per_item = 1000;
    config.neighbours = 4;
    SessionKnnSource source(*filters_, config);
    EXPECT_EQ(source.reason(), Reason::kSession);
    // Oracle: sessions by gap per user, distinct items, newest last, the newest 3 kept.
    std::vector<std::vector<std::string>> sessions;  // by serial - 1
    std::map<std::string, std::pair<size_t, EpochMillis>> open;  // user -> (session index, last event)
    for (const Event& e : events) {
      source.Observe(User(e.user_id), Item(e.item_id), e.ts);
      auto it = open.find(e.user_id);
      // A session overwritten in the ring is gone: the user's next event opens another.
      const bool gone = it != open.end() && it->second.first + max_sessions < sessions.size() + 1;
      if (it == open.end() || e.ts - it->second.second > 30 * kMinute || gone) {
        sessions.emplace_back();
        it = open.insert_or_assign(e.user_id, std::make_pair(sessions.size() - 1, e.ts)).first;
      }
      it->second.second = e.ts;
      auto& s = sessions[it->second.first];
      s.erase(std::remove(s.begin(), s.end(), e.item_id), s.end());
      s.push_back(e.item_id);
      if (s.size() > 3) s.erase(s.begin());
    }
    const size_t first_kept = sessions.size() > max_sessions ? sessions.size() - max_sessions : 0;
    for (const auto& [user, current] : open) {
      const std::string what = user + " with " + std::to_string(max_sessions) + " sessions kept";
      if (current.first < first_kept) {
        EXPECT_TRUE(Propose(source, user, 10).empty()) << what;
        continue;
      }
      const auto& s = sessions[current.first];
      std::vector<std::string> got_session;
      for (uint32_t i : source.SessionOf(User(user))) got_session.push_back(store_->ExternalId(ItemId(i)));
      EXPECT_EQ(got_session, s) << what;
      std::vector<std::pair<double, size_t>> similar;  // (sim, index)
      for (size_t n = first_kept; n < sessions.size(); ++n) {
        if (n == current.first) continue;
        double overlap = 0;
        for (size_t p = 0; p < s.size(); ++p) {
          if (std::count(sessions[n].begin(), sessions[n].end(), s[p])) overlap += double(p + 1) / double(s.size());
        }
        if (overlap > 0) similar.emplace_back(overlap / std::sqrt(double(s.size() * sessions[n].size())), n);
      }
      std::sort(similar.begin(), similar.end(), [](const auto& a, const auto& b) {
        return a.first > b.first || (a.first == b.first && a.second > b.second);
      });
      std::map<std::string, double> want;
      for (size_t k = 0; k < std::min<size_t>(4, similar.size()); ++k) {
        for (const std::string& j : sessions[similar[k].second]) {
          if (!filters_->Excluded(User(user), Item(j))) want[j] += similar[k].first;
        }
      }
      ExpectOrder(Propose(source, user, 5), want, 5, what);
    }
  }
}

TEST_F(SourcesTest, AnItemBackInALongSessionCountsOnceTowardsItsSimilarity) {
  // y's one session: a b c d a, three items kept: c d a ('a' left it and came back).
  std::vector<Event> events;
  EpochMillis t = kT0;
  for (const char* item : {"a", "b", "c", "d", "a"}) events.push_back(Interaction(EventType::kClick, "y", item, t += kMinute));
  events.push_back(Interaction(EventType::kClick, "z", "a", t += kMinute));
  Apply(events);
  SessionKnnConfig config;
  config.session_items = 3;
  SessionKnnSource source(*filters_, config);
  for (const Event& e : events) source.Observe(User(e.user_id), Item(e.item_id), e.ts);
  // z's session [a] against y's [c d a]: sim = 1 / sqrt(1 x 3), each of y's items gets it once.
  const std::vector<Candidate> got = Propose(source, "z", 10);
  ASSERT_EQ(got.size(), 3u);
  for (const Candidate& c : got) EXPECT_NEAR(c.score, 1 / std::sqrt(3.0), 1e-6) << store_->ExternalId(ItemId(c.item));
}

TEST_F(SourcesTest, SeasonalTrendingIsThisCalendarWindowsBestSellersOverTheYears) {
  using Seasonal = SeasonalTrendingSource;
  EXPECT_EQ(Seasonal::WeekOfYear(0), 0u);
  EXPECT_EQ(Seasonal::WeekOfYear(6 * kDay + kDay - 1), 0u);
  EXPECT_EQ(Seasonal::WeekOfYear(7 * kDay), 1u);
  EXPECT_EQ(Seasonal::WeekOfYear(364 * kDay), 52u);
  EXPECT_EQ(Seasonal::WeekOfYear(365 * kDay), 52u);  // day 365 of a 365.2425-day year: the short 53rd week
  EXPECT_EQ(Seasonal::WeekOfYear(366 * kDay), 0u);
  EXPECT_EQ(Seasonal::WeekOfYear(-kDay), 52u);
  // Two years of events on 30 items, each year the same shape: item i sells in weeks near (i x 7) % 53.
  std::mt19937_64 rng(8);
  std::vector<Event> events;
  for (int n = 0; n < 3000; ++n) {
    const int item = static_cast<int>(rng() % 30);
    const int year = static_cast<int>(rng() % 2);
    const int week = static_cast<int>((item * 7 + rng() % 3) % 53);
    const EpochMillis t = kT0 - 2 * 365 * kDay + year * 365 * kDay + week * 7 * kDay + static_cast<int64_t>(rng() % 7) * kDay;
    events.push_back(Interaction(EventType::kClick, "u" + std::to_string(rng() % 20), "i" + std::to_string(item), t));
  }
  std::sort(events.begin(), events.end(), [](const Event& a, const Event& b) { return a.ts < b.ts; });
  events.push_back(Interaction(EventType::kPurchase, "u0", "i3", events.back().ts + kHour));
  Apply(events);
  SeasonalConfig config;
  config.weeks_ahead = 2;
  config.max_items = 1000;
  config.half_life_days = 365;
  Seasonal source(*store_, *filters_, config);
  EXPECT_EQ(source.reason(), Reason::kSeasonal);
  for (const Event& e : events) source.Observe(Item(e.item_id), e.ts);
  const uint32_t now = Seasonal::WeekOfYear(store_->LatestEventTime());
  std::map<std::string, double> want;
  for (const Event& e : events) {
    const uint32_t w = Seasonal::WeekOfYear(e.ts);
    if ((w + 53 - now) % 53 > 2 || filters_->Excluded(User("u0"), Item(e.item_id))) continue;
    want[e.item_id] += std::exp2(double(e.ts - kT0) / (365.0 * kDay));
  }
  ASSERT_FALSE(want.empty());
  EXPECT_EQ(want.count("i3"), 0u);  // bought by u0: the ranker's filters drop it
  ExpectOrder(Propose(source, "u0", 6), want, 6, "u0");
}

TEST_F(SourcesTest, CategoryTrendingIsTrendingWithinTheUsersAttributeValues) {
  // Coats and scarves in two colours; u0 clicked a red coat, a blue coat and a blue scarf.
  std::vector<Event> events;
  const std::vector<std::pair<std::string, Attributes>> items = {
      {"c1", {{"category", Text("coat")}, {"colour", Text("red")}}},
      {"c2", {{"category", Text("coat")}, {"colour", Text("blue")}}},
      {"c3", {{"category", Text("coat")}, {"colour", Text("green")}}},
      {"s1", {{"category", Text("scarf")}, {"colour", Text("red")}}},
      {"s2", {{"category", Text("scarf")}, {"colour", Text("blue")}}},
      {"h1", {{"category", Text("hat")}, {"colour", Text("green")}}}};
  for (const auto& [item, attrs] : items) events.push_back(ItemEvent(item, kT0, attrs));
  std::mt19937_64 rng(13);
  for (int n = 0; n < 300; ++n) {
    events.push_back(Interaction(EventType::kClick, "v" + std::to_string(rng() % 10), items[rng() % 6].first,
                                 kT0 + n * kHour));
  }
  events.push_back(Interaction(EventType::kClick, "u0", "c1", kT0 + 300 * kHour));
  events.push_back(Interaction(EventType::kClick, "u0", "c2", kT0 + 301 * kHour));
  events.push_back(Interaction(EventType::kClick, "u0", "s2", kT0 + 302 * kHour));
  Apply(events);
  ItemAttributes attributes;
  for (const auto& [item, attrs] : items) attributes.Set(Item(item), attrs);
  CategoryTrendingConfig config;
  config.seeds = 10;
  config.max_items = 1000;
  config.half_life_days = 2;
  CategoryTrendingSource source(*store_, *filters_, attributes, config);
  EXPECT_EQ(source.reason(), Reason::kTrending);
  for (const Event& e : events) {
    if (e.type != EventType::kItem) source.Observe(Item(e.item_id), e.ts);
  }
  // u0's values, by the share of their three items that carry them.
  const std::map<std::string, double> share = {{"coat", 2.0 / 3}, {"blue", 2.0 / 3}, {"red", 1.0 / 3}, {"scarf", 1.0 / 3}};
  std::map<std::string, double> want;
  for (const Event& e : events) {
    if (e.type == EventType::kItem) continue;
    const Attributes& attrs = std::find_if(items.begin(), items.end(), [&](const auto& i) { return i.first == e.item_id; })->second;
    for (const auto& [name, value] : attrs) {
      const auto s = share.find(value.text);
      if (s != share.end()) want[e.item_id] += s->second * std::exp2(double(e.ts - kT0) / (2.0 * kDay));
    }
  }
  EXPECT_EQ(want.count("h1"), 0u);  // green hats: none of u0's values
  ExpectOrder(Propose(source, "u0", 10), want, 10, "u0");
}

TEST_F(SourcesTest, NewItemsArePlacedByTheirAttributesWhileYoungAndUntouched) {
  // At start: an old red coat u0 clicked; items already in the store are never new.
  Apply({ItemEvent("old", kT0, {{"category", Text("coat")}, {"colour", Text("red")}}),
         Interaction(EventType::kClick, "u0", "old", kT0)});
  ItemAttributes attributes;
  attributes.Set(Item("old"), {{"category", Text("coat")}, {"colour", Text("red")}});
  NewItemsConfig config;
  config.max_age_days = 10;
  config.max_users = 1;
  config.pool = 4;
  config.seeds = 10;
  NewItemsSource source(*store_, *filters_, attributes, config);
  EXPECT_EQ(source.reason(), Reason::kNew);
  // Then, a day apart: n1 red coat, n2 blue coat, n3 green hat, n4 red coat touched by two users, n5 red scarf.
  const std::vector<std::pair<std::string, Attributes>> arrivals = {
      {"n1", {{"category", Text("coat")}, {"colour", Text("red")}}},
      {"n2", {{"category", Text("coat")}, {"colour", Text("blue")}}},
      {"n3", {{"category", Text("hat")}, {"colour", Text("green")}}},
      {"n4", {{"category", Text("coat")}, {"colour", Text("red")}}},
      {"n5", {{"category", Text("scarf")}, {"colour", Text("red")}}}};
  EpochMillis t = kT0 + kDay;
  for (const auto& [item, attrs] : arrivals) {
    Apply({ItemEvent(item, t, attrs)});
    attributes.Set(Item(item), attrs);
    source.Observe(Item(item), t);
    t += kDay;
  }
  Apply({Interaction(EventType::kClick, "v1", "n4", t), Interaction(EventType::kClick, "v2", "n4", t)});
  source.Observe(Item("n4"), t);
  source.Observe(Item("old"), t);  // seen again: still not new
  // Now is t (day 6). Affinity, the mean share of the item's values among u0's
  // items ({old}): n2 0.5, n5 0.5, n3 0; n1 (1) left the pool of 4 when n5
  // came, and n4 has two users (over 1).
  auto fresh = [&](int day) { return 0.01 * (1.0 - double(6 - day) / 10.0) * 0.99; };
  std::map<std::string, double> want = {{"n2", 0.5 + fresh(2)}, {"n3", fresh(3)}, {"n5", 0.5 + fresh(5)}};
  ExpectOrder(Propose(source, "u0", 10), want, 10, "u0");
  // Past max_age_days nothing is new.
  Apply({Interaction(EventType::kClick, "v3", "old", t + 11 * kDay)});
  EXPECT_TRUE(Propose(source, "u0", 10).empty());
}

TEST_F(SourcesTest, TheBlendFeedsAttributesBeforeEdgesAndGivesEachSourcesReason) {
  BlendConfig config;
  config.viewed_weight = 0;
  config.sequence_weight = 0;
  config.covisit_weight = 0;
  config.session_weight = 1;
  config.seasonal_weight = 1;
  config.category_trending_weight = 1;
  config.new_items_weight = 1;
  config.max_seen_share = 1;
  ListBlender blender(*store_, *filters_, config);
  EXPECT_TRUE(blender.learns());
  EXPECT_TRUE(blender.needs_attributes());
  // A new red coat described and clicked in one batch; u1 and u0 share a session's first item.
  const std::vector<Event> batch = {ItemEvent("coat", kT0, {{"colour", Text("red")}}),
                                    Interaction(EventType::kClick, "u1", "coat", kT0),
                                    Interaction(EventType::kClick, "u1", "scarf", kT0 + kMinute),
                                    Interaction(EventType::kClick, "u0", "coat", kT0 + 2 * kMinute)};
  auto outcome = store_->Apply(batch, {}, 0);
  ASSERT_TRUE(outcome.ok());
  for (ItemId i : outcome->described_items) {
    blender.ObserveItem(i, *store_->GetAttributes(EventType::kItem, store_->ExternalId(i)), kT0);
  }
  for (const store::EdgeDelta& d : outcome->edges) blender.Observe(d);
  RecommendationList ranked;
  ranked.user_id = "u0";
  ranked.k = 10;
  const Slate slate = blender.Gather(User("u0"), ranked);
  std::map<std::string, ReasonSet> reasons;
  for (const SlateEntry& e : slate) reasons[e.item_id] = e.reasons;
  ASSERT_TRUE(reasons.count("scarf"));
  EXPECT_TRUE(reasons["scarf"].Has(Reason::kSession));   // u1's session went on to it
  EXPECT_TRUE(reasons["scarf"].Has(Reason::kSeasonal));  // this week's best sellers
  EXPECT_TRUE(reasons["scarf"].Has(Reason::kNew));       // appeared with its first click
  ASSERT_TRUE(reasons.count("coat"));
  EXPECT_TRUE(reasons["coat"].Has(Reason::kTrending));   // trending among red things, counted as red
  EXPECT_TRUE(reasons["coat"].Has(Reason::kNew));
  // The features see each source in its own slot.
  for (const SlateEntry& e : slate) {
    EXPECT_EQ(e.source_rank[static_cast<size_t>(SourceSlot::kSessionKnn)] != 0, e.reasons.Has(Reason::kSession)) << e.item_id;
    EXPECT_EQ(e.source_rank[static_cast<size_t>(SourceSlot::kNewItems)] != 0, e.reasons.Has(Reason::kNew)) << e.item_id;
  }
}

}  // namespace
}  // namespace recd::rank
