// model/rank/: the open-items source against an oracle read from the store's
// edges, and the blend's fusion, reasons and seen-share cap on hand-built lists.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include "model/rank/list_blend.h"
#include "tests/store_fixture.h"

namespace recd::rank {
namespace {

using recd::testing::Interaction;
using recd::testing::ItemEvent;
using recd::testing::Text;

constexpr EpochMillis kT0 = 1769860800000, kHour = 3'600'000;

class RankTest : public recd::testing::StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    filters_ = std::make_unique<model::BaselineRanker>(*store_, model::BaselineConfig{});
  }
  UserId User(const std::string& u) { return *store_->FindUser(u); }
  std::vector<std::string> Items(const RecommendationList& l) {
    std::vector<std::string> out;
    for (const auto& s : l.items) out.push_back(s.item_id);
    return out;
  }
  RecommendationList Ranked(const std::string& user, std::vector<std::string> items, uint32_t k) {
    RecommendationList l;
    l.user_id = user;
    l.k = k;
    l.model_version = "baseline-cooc-1";
    for (auto& i : items) l.items.push_back({i, 1.0f, {Reason::kCoOccurrence}});
    return l;
  }
  std::unique_ptr<model::BaselineRanker> filters_;
};

TEST_F(RankTest, OpenItemsAreTheViewedNotBoughtItemsByDecayedWeight) {
  std::mt19937_64 rng(3);
  std::vector<Event> events;
  for (int n = 0; n < 400; ++n) {
    const auto type = rng() % 6 == 0 ? EventType::kPurchase : (rng() % 10 == 0 ? EventType::kRating : EventType::kClick);
    events.push_back(Interaction(type, "u" + std::to_string(rng() % 8), "i" + std::to_string(rng() % 15),
                                 kT0 + n * kHour, "", 4));
  }
  events.push_back(ItemEvent("i3", kT0 + 400 * kHour, {{"available", Text("false")}}));
  Apply(events);
  OpenItemsSource source(*store_, *filters_);
  EXPECT_EQ(source.reason(), Reason::kViewed);
  for (int u = 0; u < 8; ++u) {
    const UserId user = User("u" + std::to_string(u));
    // Oracle: every edge of the user from RocksDB, clicked and never bought or rated, available.
    std::vector<std::pair<double, uint32_t>> want;
    for (uint32_t i = 0; i < store_->view().num_items(); ++i) {
      auto edge = store_->GetEdge(user, ItemId(i));
      ASSERT_TRUE(edge.ok());
      if (!*edge || (*edge)->counts[0] == 0 || (*edge)->counts[1] != 0 || (*edge)->counts[2] != 0) continue;
      if (!store_->ItemAvailable(ItemId(i))) continue;
      want.emplace_back((*edge)->log_weight, i);
    }
    std::sort(want.begin(), want.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<Candidate> got;
    source.Propose(user, 3, &got);
    ASSERT_EQ(got.size(), std::min<size_t>(3, want.size())) << "user " << u;
    for (size_t r = 0; r < got.size(); ++r) EXPECT_EQ(got[r].item, want[r].second) << "user " << u << " rank " << r;
    for (size_t r = 1; r < got.size(); ++r) EXPECT_GE(got[r - 1].score, got[r].score);
  }
}

TEST_F(RankTest, TheBlendFusesRanksAndKeepsEverySourcesReason) {
  // u0 viewed v1 (3 times, most weight) and v2 (once, later); bought b.
  Apply({Interaction(EventType::kClick, "u0", "v1", kT0), Interaction(EventType::kClick, "u0", "v1", kT0 + 1),
         Interaction(EventType::kClick, "u0", "v1", kT0 + 2), Interaction(EventType::kClick, "u0", "v2", kT0 + 3),
         Interaction(EventType::kPurchase, "u0", "b", kT0 + 4), Interaction(EventType::kClick, "u1", "x", kT0 + 5),
         Interaction(EventType::kClick, "u1", "y", kT0 + 6), Interaction(EventType::kClick, "u1", "v2", kT0 + 7)});
  BlendConfig config;
  config.viewed_weight = 3;
  config.sequence_weight = config.covisit_weight = 0;  // only the open items beside the ranker's list
  config.max_seen_share = 1;
  config.rrf_k = 1;
  ListBlender blender(*store_, *filters_, config);
  // The ranker proposed x, v2, y; the open items are v1, v2 (b was bought).
  // Fused (weight / (rrf_k + rank)): v1 3/2; v2 1/3 + 3/3; x 1/2; y 1/4.
  const RecommendationList out = blender.Blend(User("u0"), Ranked("u0", {"x", "v2", "y"}, 3));
  ASSERT_EQ(Items(out), (std::vector<std::string>{"v1", "v2", "x"}));
  EXPECT_FLOAT_EQ(out.items[0].score, 1.5f);
  EXPECT_FLOAT_EQ(out.items[1].score, 1.0f / 3 + 1.0f);
  EXPECT_EQ(out.items[0].reasons, (ReasonSet{Reason::kViewed}));
  EXPECT_EQ(out.items[1].reasons, (ReasonSet{Reason::kViewed, Reason::kCoOccurrence}));
  EXPECT_EQ(out.items[2].reasons, (ReasonSet{Reason::kCoOccurrence}));
  EXPECT_EQ(out.k, 3u);
  EXPECT_EQ(out.model_version, "baseline-cooc-1");
}

TEST_F(RankTest, TheSeenShareCapsTouchedItemsUnlessNothingElseIsLeft) {
  Apply({Interaction(EventType::kClick, "u0", "v1", kT0), Interaction(EventType::kClick, "u0", "v2", kT0 + 1),
         Interaction(EventType::kClick, "u0", "v3", kT0 + 2), Interaction(EventType::kClick, "u1", "x", kT0 + 3)});
  BlendConfig config;
  config.viewed_weight = config.sequence_weight = config.covisit_weight = 0;  // the cap alone
  config.max_seen_share = 0.5;
  ListBlender blender(*store_, *filters_, config);
  // Share 0.5: touched items within ceil(0.5 x n) of every first n places: v1 first, then x; the
  // touched ones left fill the end, as nothing else is left.
  const auto out = blender.Blend(User("u0"), Ranked("u0", {"v1", "v2", "v3", "x"}, 4));
  EXPECT_EQ(Items(out), (std::vector<std::string>{"v1", "x", "v2", "v3"}));
  // Touched items wait for the places the cap opens: with share 0.5 and more
  // unseen items, they alternate.
  Apply({Interaction(EventType::kClick, "u1", "y", kT0 + 4), Interaction(EventType::kClick, "u1", "z", kT0 + 5)});
  const auto alternate = blender.Blend(User("u0"), Ranked("u0", {"v1", "v2", "v3", "x", "y", "z"}, 6));
  EXPECT_EQ(Items(alternate), (std::vector<std::string>{"v1", "x", "v2", "y", "v3", "z"}));
  config.max_seen_share = 0;
  const auto none = ListBlender(*store_, *filters_, config).Blend(User("u0"), Ranked("u0", {"v1", "v2", "v3", "x"}, 2));
  EXPECT_EQ(Items(none), (std::vector<std::string>{"x", "v1"}));  // no touched item within the cap: x leads
}

TEST_F(RankTest, WithNoSourceAndNoCapTheRankersListPassesUnchanged) {
  Apply({Interaction(EventType::kClick, "u0", "v1", kT0)});
  BlendConfig off;
  off.viewed_weight = off.sequence_weight = off.covisit_weight = off.category_trending_weight = 0;
  off.max_seen_share = 1;
  ListBlender blender(*store_, *filters_, off);
  EXPECT_FALSE(blender.learns());
  RecommendationList ranked = Ranked("u0", {"a", "b"}, 2);
  ranked.items[0].score = 7;
  const auto out = blender.Blend(User("u0"), ranked);
  EXPECT_EQ(Items(out), Items(ranked));
  EXPECT_EQ(out.items[0].score, 7);
}

// A reload: the cap and the weights of built sources change the next list; a
// source off at construction cannot be turned on (nothing changes then).
TEST_F(RankTest, ReweighChangesTheNextListAndRefusesASourceNeverBuilt) {
  Apply({Interaction(EventType::kClick, "u0", "v1", kT0), Interaction(EventType::kClick, "u0", "v2", kT0 + 1),
         Interaction(EventType::kClick, "u0", "v3", kT0 + 2), Interaction(EventType::kClick, "u1", "x", kT0 + 3)});
  BlendConfig config;
  config.viewed_weight = config.sequence_weight = config.covisit_weight = config.category_trending_weight = 0;
  config.max_seen_share = 1;  // no cap: the ranker's list passes
  ListBlender blender(*store_, *filters_, config);
  const RecommendationList ranked = Ranked("u0", {"v1", "v2", "v3", "x"}, 4);
  EXPECT_EQ(Items(blender.Blend(User("u0"), ranked)), (std::vector<std::string>{"v1", "v2", "v3", "x"}));
  BlendConfig next = config;
  next.max_seen_share = 0.5;
  ASSERT_TRUE(blender.Reweigh(next).ok());
  EXPECT_EQ(Items(blender.Blend(User("u0"), ranked)), (std::vector<std::string>{"v1", "x", "v2", "v3"}));
  BlendConfig on = next;
  on.max_seen_share = 1;
  on.sequence_weight = 2;
  const Status refused = blender.Reweigh(on);
  EXPECT_EQ(refused.code(), Status::Code::kInvalidArgument);
  EXPECT_NE(refused.message().find("ranker.sequence_weight was 0 at start"), std::string::npos) << refused.message();
  EXPECT_EQ(blender.config().max_seen_share, 0.5);  // refused whole
  EXPECT_EQ(Items(blender.Blend(User("u0"), ranked)), (std::vector<std::string>{"v1", "x", "v2", "v3"}));
}

TEST_F(RankTest, SequenceRulesMatchTheirDefinitionRecomputedFromTheLog) {
  // Users interleave random items; the oracle recomputes each rule i -> j as the
  // sum over events of 2^(ts / half_life) / d, d = j's distance back to i among
  // the user's last `window` distinct items, then checks the source's weights
  // and its proposals.
  std::mt19937_64 rng(9);
  std::vector<Event> events;
  for (int n = 0; n < 300; ++n) {
    events.push_back(Interaction(rng() % 5 == 0 ? EventType::kPurchase : EventType::kClick,
                                 "u" + std::to_string(rng() % 4), "i" + std::to_string(rng() % 9), kT0 + n * kHour));
  }
  Apply(events);
  SequenceConfig config;
  config.window = 3;
  config.seeds = 2;
  config.max_successors = 1000;  // no pruning: every rule is kept
  config.half_life_days = 2;
  SequenceSource source(*filters_, config);
  const double half_life_ms = 2 * 86'400'000.0;
  std::map<std::pair<std::string, std::string>, double> rule;  // linear weight relative to kT0
  std::map<std::string, std::vector<std::string>> recent;
  for (const Event& e : events) {
    source.Observe(User(e.user_id), *store_->FindItem(e.item_id), e.ts);
    auto& r = recent[e.user_id];
    for (size_t d = 1; d <= r.size(); ++d) {
      const std::string& before = r[r.size() - d];
      if (before != e.item_id) rule[{before, e.item_id}] += std::exp2((e.ts - kT0) / half_life_ms) / d;
    }
    r.erase(std::remove(r.begin(), r.end(), e.item_id), r.end());
    r.push_back(e.item_id);
    if (r.size() > 3) r.erase(r.begin());
  }
  const double reference = kT0 / half_life_ms;  // the oracle's weights are relative to 2^(kT0 / half_life)
  for (const auto& [pair, w] : rule) {
    const auto got = source.RuleLogWeight(*store_->FindItem(pair.first), *store_->FindItem(pair.second));
    ASSERT_TRUE(got.has_value()) << pair.first << " -> " << pair.second;
    EXPECT_NEAR(*got - reference, std::log2(w), 1e-6) << pair.first << " -> " << pair.second;
  }
  for (int u = 0; u < 4; ++u) {
    const std::string user = "u" + std::to_string(u);
    const auto& r = recent[user];
    std::map<std::string, double> want;
    for (size_t n = 0; n < 2 && n < r.size(); ++n) {
      for (const auto& [pair, w] : rule) {
        if (pair.first == r[r.size() - 1 - n]) want[pair.second] += w / (n + 1);
      }
    }
    std::vector<std::pair<double, std::string>> order;
    for (const auto& [item, w] : want) {
      if (!filters_->Excluded(User(user), *store_->FindItem(item))) order.emplace_back(w, item);
    }
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<Candidate> got;
    source.Propose(User(user), 3, &got);
    ASSERT_EQ(got.size(), std::min<size_t>(3, order.size())) << user;
    for (size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(store_->ExternalId(ItemId(got[k].item)), order[k].second) << user << " rank " << k;
    }
  }
}

TEST_F(RankTest, SequenceRulesPerItemStayBounded) {
  std::vector<Event> events;
  for (int n = 0; n < 200; ++n) {  // "hub" is followed by 200 different items
    events.push_back(Interaction(EventType::kClick, "u" + std::to_string(n), "hub", kT0 + 2 * n));
    events.push_back(Interaction(EventType::kClick, "u" + std::to_string(n), "j" + std::to_string(n), kT0 + 2 * n + 1));
  }
  Apply(events);
  SequenceConfig config;
  config.max_successors = 10;
  SequenceSource source(*filters_, config);
  for (const Event& e : events) source.Observe(User(e.user_id), *store_->FindItem(e.item_id), e.ts);
  size_t kept = 0;
  for (int n = 0; n < 200; ++n) kept += source.RuleLogWeight(*store_->FindItem("hub"), *store_->FindItem("j" + std::to_string(n))).has_value();
  EXPECT_LE(kept, 12u);  // the budget plus its quarter of slack
  EXPECT_GE(kept, 10u);
  // The newest rules are the heaviest, and they are the ones kept.
  EXPECT_TRUE(source.RuleLogWeight(*store_->FindItem("hub"), *store_->FindItem("j199")).has_value());
}

TEST_F(RankTest, CoVisitRulesAndProposalsMatchTheirDefinition) {
  std::mt19937_64 rng(21);
  std::vector<Event> events;
  for (int n = 0; n < 250; ++n) {
    events.push_back(Interaction(rng() % 6 == 0 ? EventType::kPurchase : EventType::kClick,
                                 "u" + std::to_string(rng() % 5), "i" + std::to_string(rng() % 10), kT0 + n * kHour));
  }
  Apply(events);
  CoVisitConfig config;
  config.window = 4;
  config.seeds = 3;
  config.max_neighbours = 1000;
  config.half_life_days = 3;
  config.degree_penalty = 0.5f;
  CoVisitSource source(*store_, *filters_, config);
  const double half_life_ms = 3 * 86'400'000.0;
  std::map<std::pair<std::string, std::string>, double> rule;
  std::map<std::string, std::vector<std::string>> recent;
  for (const Event& e : events) {
    source.Observe(User(e.user_id), *store_->FindItem(e.item_id), e.ts);
    auto& r = recent[e.user_id];
    for (const std::string& other : r) {
      if (other == e.item_id) continue;
      rule[{other, e.item_id}] += std::exp2((e.ts - kT0) / half_life_ms);
      rule[{e.item_id, other}] += std::exp2((e.ts - kT0) / half_life_ms);
    }
    r.erase(std::remove(r.begin(), r.end(), e.item_id), r.end());
    r.push_back(e.item_id);
    if (r.size() > 4) r.erase(r.begin());
  }
  for (const auto& [pair, w] : rule) {
    const auto got = source.RuleLogWeight(*store_->FindItem(pair.first), *store_->FindItem(pair.second));
    ASSERT_TRUE(got.has_value());
    EXPECT_NEAR(*got - kT0 / half_life_ms, std::log2(w), 1e-6);
  }
  for (int u = 0; u < 5; ++u) {
    const std::string user = "u" + std::to_string(u);
    const auto& r = recent[user];
    std::map<std::string, double> want;
    for (size_t n = 0; n < 3 && n < r.size(); ++n) {
      for (const auto& [pair, w] : rule) {
        if (pair.first == r[r.size() - 1 - n]) want[pair.second] += w;
      }
    }
    std::vector<std::pair<double, std::string>> order;
    for (const auto& [item, w] : want) {
      const ItemId id = *store_->FindItem(item);
      if (filters_->Excluded(User(user), id)) continue;
      order.emplace_back(w / std::sqrt(double(store_->view().UsersOf(id).size())), item);
    }
    std::sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<Candidate> got;
    source.Propose(User(user), 4, &got);
    ASSERT_EQ(got.size(), std::min<size_t>(4, order.size())) << user;
    for (size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(store_->ExternalId(ItemId(got[k].item)), order[k].second) << user << " rank " << k;
    }
  }
}

TEST_F(RankTest, UnseenTrendingIsThePopularItemsTheUserNeverTouched) {
  // Popularity: p1 (4 users) > p2 (3) > p3 (2) > p4 (1); u0 clicked p1; p3 is unavailable.
  std::vector<Event> events;
  for (int u = 1; u <= 4; ++u) {
    for (int i = 1; i <= 5 - u; ++i) events.push_back(Interaction(EventType::kClick, "u" + std::to_string(u), "p" + std::to_string(i), kT0 + u));
  }
  events.push_back(Interaction(EventType::kClick, "u0", "p1", kT0 + 9));
  events.push_back(ItemEvent("p3", kT0 + 10, {{"available", Text("false")}}));
  Apply(events);
  filters_->RefreshTrending();
  UnseenTrendingSource source(*store_, *filters_);
  std::vector<Candidate> got;
  source.Propose(User("u0"), 5, &got);
  std::vector<std::string> items;
  for (const Candidate& c : got) items.push_back(store_->ExternalId(ItemId(c.item)));
  EXPECT_EQ(items, (std::vector<std::string>{"p2", "p4"}));
  EXPECT_EQ(source.reason(), Reason::kTrending);
}

TEST_F(RankTest, TheBlendKeepsTheModelsCategoryCap) {
  Apply({Interaction(EventType::kClick, "u1", "a1", kT0), Interaction(EventType::kClick, "u1", "a2", kT0 + 1),
         Interaction(EventType::kClick, "u1", "a3", kT0 + 2), Interaction(EventType::kClick, "u1", "b1", kT0 + 3),
         Interaction(EventType::kClick, "u0", "z", kT0 + 4)});
  model::PinSageRankerConfig pinsage;
  pinsage.category_cap = 2;
  model::PinSageRanker diversity(*store_, *filters_, pinsage);
  for (const char* a : {"a1", "a2", "a3"}) diversity.ObserveItem(*store_->FindItem(a), {{"category", Text("coat")}});
  diversity.ObserveItem(*store_->FindItem("b1"), {{"category", Text("scarf")}});
  BlendConfig off;
  off.viewed_weight = off.sequence_weight = off.covisit_weight = 0;
  off.max_seen_share = 1;
  const ListBlender blender(*store_, *filters_, off, &diversity);
  // A third coat goes behind the scarf; with room for all four it still comes last.
  EXPECT_EQ(Items(blender.Blend(User("u0"), Ranked("u0", {"a1", "a2", "a3", "b1"}, 3))),
            (std::vector<std::string>{"a1", "a2", "b1"}));
  EXPECT_EQ(Items(blender.Blend(User("u0"), Ranked("u0", {"a1", "a2", "a3", "b1"}, 4))),
            (std::vector<std::string>{"a1", "a2", "b1", "a3"}));
}

}  // namespace
}  // namespace recd::rank
