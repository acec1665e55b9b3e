// `recd replay` end to end on small files (no Kafka), the prequential tally it
// shares with the daemon, and the daemon's signal handling.
#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <set>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/time.h"
#include "daemon/replay.h"
#include "daemon/signals.h"
#include "model/eval/prequential.h"
#include "model/trained_model.h"
#include "store/graph_store.h"
#include "stream/codec.h"
#include "tests/test_util.h"

namespace recd {
namespace {

using testing::Interaction;

constexpr EpochMillis kT0 = 1767225600000;  // 2026-01-01T00:00:00Z

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteEvents(const std::string& path, const std::vector<Event>& events) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (const Event& e : events) out << stream::EncodeEvent(e) << '\n';
}

daemon::Config ReplayConfig() {
  daemon::Config c;
  c.log_level = "warn";
  return c;
}

TEST(PrequentialTest, ScoresPositivesAgainstTheListHeldAndSlidesItsWindow) {
  eval::PrequentialConfig config;
  config.window = 2;
  eval::PrequentialEvaluator ev(config);
  EXPECT_FALSE(ev.Observe(Interaction(EventType::kPurchase, "u", "a", kT0)));
  EXPECT_EQ(ev.total().without_list, 1u);
  RecommendationList list;
  list.user_id = "u";
  for (const char* i : {"a", "b", "c"}) list.items.push_back({i, 1, {}});
  ev.OnList(list);
  EXPECT_FALSE(ev.Observe(Interaction(EventType::kClick, "u", "a", kT0))) << "a click is not a positive";
  EXPECT_FALSE(ev.Observe(Interaction(EventType::kRating, "u", "a", kT0, "", 3.5))) << "below the threshold";
  EXPECT_TRUE(ev.Observe(Interaction(EventType::kRating, "u", "b", kT0, "", 4)));
  EXPECT_TRUE(ev.Observe(Interaction(EventType::kPurchase, "u", "z", kT0)));
  EXPECT_TRUE(ev.Observe(Interaction(EventType::kPurchase, "u", "a", kT0)));
  EXPECT_EQ(ev.total().positives, 3u);
  EXPECT_EQ(ev.total().hits, 2u);
  EXPECT_NEAR(ev.total().ndcg, 1 / std::log2(3.0) + 1.0, 1e-12);
  EXPECT_EQ(ev.window().positives, 2u) << "the window keeps the last two";
  EXPECT_EQ(ev.window().hits, 1u);
  EXPECT_NEAR(ev.window().mean_ndcg(), 0.5, 1e-12);
}

TEST(PrequentialTest, OnlyTheTopTenCounts) {
  std::vector<std::string> list;
  for (int i = 0; i < 20; ++i) list.push_back("i" + std::to_string(i));
  EXPECT_EQ(eval::RankInTop(list, "i9"), 9);
  EXPECT_EQ(eval::RankInTop(list, "i10"), -1);
}

// A hand-made file whose prequential counts are worked out in the comments.
// publish_interval 0: every turn (one record) ranks the users it dirtied.
TEST(ReplayTest, PrequentialCountsAreWhatAHandComputationGives) {
  TempDir dir;
  const std::vector<Event> events = {
      Interaction(EventType::kClick, "u1", "a", kT0),             // u1's list: [a] (trending; a click does not exclude)
      Interaction(EventType::kPurchase, "u2", "a", kT0 + 1000),   // positive, u2 has no list; u2's list: [] (a bought)
      Interaction(EventType::kPurchase, "u1", "a", kT0 + 2000),   // positive: a at rank 0 -> hit, gain 1
      Interaction(EventType::kClick, "u3", "b", kT0 + 3000),      // u3's list: [b, a] (b viewed, not bought: first; a trending)
      Interaction(EventType::kRating, "u3", "b", kT0 + 4000, "", 5),  // positive: b at rank 0 -> hit, gain 1
      Interaction(EventType::kRating, "u3", "c", kT0 + 5000, "", 3),  // below 4: not a positive
      Interaction(EventType::kPurchase, "u4", "c", kT0 + 6000),   // positive, u4 has no list
      Interaction(EventType::kPurchase, "u2", "b", kT0 + 7000),   // positive: u2's list is empty -> miss
  };
  WriteEvents(dir.sub("events.jsonl"), events);
  daemon::Config config = ReplayConfig();
  config.pipeline.publish_interval_ms = 0;
  daemon::ReplayOptions options;
  options.events = dir.sub("events.jsonl");
  options.lists_out = dir.sub("lists.jsonl");
  options.metrics_out = dir.sub("metrics.csv");
  ASSERT_TRUE(daemon::RunReplay(config, options).ok());
  std::ostringstream want;
  want << "window_start,positives,hits,hr_at_10,ndcg_at_10,positives_without_list\n"
       << "2026-01-01T00:00:00.000Z,3,2," << 2.0 / 3 << "," << (1 + 1) / 3.0 << ",2\n";
  EXPECT_EQ(Slurp(dir.sub("metrics.csv")), want.str());
  // Every list carries published_at in event time and reflects every earlier event of its user.
  std::istringstream lists(Slurp(dir.sub("lists.jsonl")));
  std::string first;
  std::getline(lists, first);
  EXPECT_NE(first.find("\"published_at\":\"2026-01-01T00:00:00.000Z\""), std::string::npos) << first;
  EXPECT_NE(first.find("\"user_id\":\"u1\""), std::string::npos) << first;
  EXPECT_NE(first.find("\"after_input\":0"), std::string::npos) << first;
}

TEST(ReplayTest, TwoRunsWriteByteIdenticalLists) {
  TempDir dir;
  std::mt19937 rng(11);
  std::vector<Event> events;
  for (int n = 0; n < 3000; ++n) {
    const auto type = static_cast<EventType>(rng() % 3);
    events.push_back(Interaction(type, "u" + std::to_string(rng() % 150), "i" + std::to_string(rng() % 300),
                                 kT0 + n * 997, "", 1 + rng() % 5));
  }
  WriteEvents(dir.sub("events.jsonl"), events);
  daemon::ReplayOptions options;
  options.events = dir.sub("events.jsonl");
  for (const char* out : {"a.jsonl", "b.jsonl"}) {
    options.lists_out = dir.sub(out);
    options.metrics_out = dir.sub(std::string(out) + ".csv");
    ASSERT_TRUE(daemon::RunReplay(ReplayConfig(), options).ok());
  }
  const std::string a = Slurp(dir.sub("a.jsonl"));
  EXPECT_GT(a.size(), 10000u);
  EXPECT_EQ(a, Slurp(dir.sub("b.jsonl")));
  EXPECT_EQ(Slurp(dir.sub("a.jsonl.csv")), Slurp(dir.sub("b.jsonl.csv")));
}

// With a PinSage model the refresher ticks in event time on the replay's own
// thread: two runs still give the same bytes, the lists come from the model,
// and every re-embedded item's related items are published.
TEST(ReplayTest, WithAModelTwoRunsAreIdenticalToo) {
  TempDir dir;
  std::mt19937 rng(5);
  std::vector<Event> events;
  for (int n = 0; n < 2000; ++n) {
    const uint32_t user = rng() % 100, item = (user % 4) + 4 * (rng() % 15);  // four communities
    events.push_back(Interaction(EventType::kClick, "u" + std::to_string(user), "i" + std::to_string(item), kT0 + n * 60'000));
  }
  WriteEvents(dir.sub("events.jsonl"), events);
  model::TrainingSetBuilder builder;
  for (const Event& e : events) builder.Add(e);
  const model::TrainingSet set = std::move(builder).Finish();
  model::PinSageRecipe recipe;
  recipe.device = "cpu";
  recipe.model.id_buckets = 1024;
  recipe.model.hidden_dim = 16;
  recipe.model.output_dim = 16;
  recipe.sampler.walks_per_node = 30;
  recipe.training.epochs = 2;
  recipe.training.batch_size = 64;
  recipe.training.random_negatives = 32;
  auto trained = model::TrainPinSage(set, recipe);
  ASSERT_TRUE(trained.ok()) << trained.status().ToString();
  ASSERT_TRUE(model::WriteModelVersion(dir.sub("models"), *trained, "test").ok());

  daemon::Config config = ReplayConfig();
  config.model.refresher.model_root = dir.sub("models");
  config.model.refresher.device = "cpu";
  daemon::ReplayOptions options;
  options.events = dir.sub("events.jsonl");
  for (const char* out : {"a", "b"}) {
    options.lists_out = dir.sub(std::string(out) + ".lists");
    options.similar_out = dir.sub(std::string(out) + ".similar");
    ASSERT_TRUE(daemon::RunReplay(config, options).ok());
  }
  const std::string lists = Slurp(dir.sub("a.lists")), similar = Slurp(dir.sub("a.similar"));
  EXPECT_EQ(lists, Slurp(dir.sub("b.lists")));
  EXPECT_EQ(similar, Slurp(dir.sub("b.similar")));
  EXPECT_NE(lists.find("\"model_version\":\"pinsage-v0001\""), std::string::npos);
  EXPECT_NE(similar.find("\"item_id\":\"i0\""), std::string::npos);
}

// Retraining in event time, starting with no model at all: the first training
// is promoted, later ones are decided, every one happens at the same event in
// both runs, and the lists are byte-identical.
TEST(ReplayTest, RetrainingRunsInEventTimeAndTwoRunsAreIdentical) {
  TempDir dir;
  std::mt19937 rng(9);
  std::vector<Event> events;
  for (int n = 0; n < 2000; ++n) {
    const uint32_t user = rng() % 100, item = (user % 4) + 4 * (rng() % 15);
    events.push_back(Interaction(n % 5 ? EventType::kClick : EventType::kPurchase, "u" + std::to_string(user),
                                 "i" + std::to_string(item), kT0 + n * 60'000));
  }
  WriteEvents(dir.sub("events.jsonl"), events);
  daemon::Config config = ReplayConfig();
  config.model.refresher.device = "cpu";
  model::RetrainConfig& r = config.retrain.retrain;
  r.enabled = true;
  r.interval_ms = 8 * 3'600'000;  // 2000 events a minute apart: four trainings
  r.half_life_days = 0;
  r.promote_margin = -0.5;
  r.recipe.device = "cpu";
  r.recipe.model.id_buckets = 1024;
  r.recipe.model.hidden_dim = 16;
  r.recipe.model.output_dim = 16;
  r.recipe.sampler.walks_per_node = 30;
  r.recipe.training.epochs = 2;
  r.recipe.training.batch_size = 64;
  r.recipe.training.random_negatives = 32;
  daemon::ReplayOptions options;
  options.events = dir.sub("events.jsonl");
  for (const char* out : {"a", "b"}) {
    config.model.refresher.model_root = dir.sub(std::string(out) + "-models");
    options.lists_out = dir.sub(std::string(out) + ".lists");
    options.metrics_out = dir.sub(std::string(out) + ".csv");
    ASSERT_TRUE(daemon::RunReplay(config, options).ok());
  }
  const std::string lists = Slurp(dir.sub("a.lists")), moments = Slurp(dir.sub("a.csv.models.csv"));
  EXPECT_EQ(lists, Slurp(dir.sub("b.lists")));
  EXPECT_EQ(moments, Slurp(dir.sub("b.csv.models.csv")));
  // Trained at 8, 16, 24 and 32 hours of event time; the first promoted on its own.
  EXPECT_NE(moments.find("2026-01-01T08:00:00.000Z,retrain,v0001 promoted: no active model"), std::string::npos) << moments;
  size_t retrains = 0;
  for (size_t at = moments.find(",retrain,"); at != std::string::npos; at = moments.find(",retrain,", at + 1)) ++retrains;
  EXPECT_EQ(retrains, 4u) << moments;
  EXPECT_NE(moments.find(",swap,none -> v0001"), std::string::npos) << moments;
  EXPECT_NE(lists.find("\"model_version\":\"pinsage-v0001\""), std::string::npos);
}

// The learnt ranker in replay: labelled slates gathered per event, trainings in
// event time on the replay's own thread, the first promoted over the hand
// blend; two runs train at the same events and write byte-identical lists.
TEST(ReplayTest, TheLearntRankerTrainsInEventTimeAndTwoRunsAreIdentical) {
  TempDir dir;
  std::mt19937 rng(13);
  std::vector<Event> events;
  // Shoppers view a few items of their community, then buy one they viewed.
  for (int n = 0; n < 4000; ++n) {
    const uint32_t user = rng() % 120, item = (user % 4) + 4 * (rng() % 20);
    const bool buy = rng() % 4 == 0;
    events.push_back(Interaction(buy ? EventType::kPurchase : EventType::kClick, "u" + std::to_string(user),
                                 "i" + std::to_string(item), kT0 + n * 60'000));
  }
  WriteEvents(dir.sub("events.jsonl"), events);
  daemon::Config config = ReplayConfig();
  rank::RankerModelConfig& r = config.ranker_model;
  r.enabled = true;
  r.min_groups = 100;
  r.train_every = 150;
  r.interval_ms = 0;
  r.promote_margin = -0.99;  // the first candidate serves, so the swap is exercised
  r.params.rounds = 10;
  daemon::ReplayOptions options;
  options.events = dir.sub("events.jsonl");
  for (const char* out : {"a", "b"}) {
    r.dir = dir.sub(std::string(out) + "-rankers");
    options.lists_out = dir.sub(std::string(out) + ".lists");
    options.metrics_out = dir.sub(std::string(out) + ".csv");
    ASSERT_TRUE(daemon::RunReplay(config, options).ok());
  }
  const std::string lists = Slurp(dir.sub("a.lists")), moments = Slurp(dir.sub("a.csv.models.csv"));
  EXPECT_EQ(lists, Slurp(dir.sub("b.lists")));
  // The moments file carries each decision with its HR figures: identical too.
  EXPECT_EQ(moments, Slurp(dir.sub("b.csv.models.csv")));
  EXPECT_NE(moments.find(",ranker,r0001 promoted"), std::string::npos) << moments;
  EXPECT_NE(moments.find(",ranker-swap,the hand blend -> r0001"), std::string::npos) << moments;
  EXPECT_NE(moments.find(",ranker,r0002 "), std::string::npos) << moments;
  EXPECT_NE(lists.find("+ranker-r0001"), std::string::npos);
}

// Bounded memory (issue 17): a flood of one-click sessions under a small
// store.max_users. The sessions are evicted by the thousand and their ids
// reused, by later sessions and by real users who join late, and the real
// users' lists are what a run without the flood gives them, apart from
// popularity: the flood's items are the most popular, so entries proposed
// by trending score differently and may push the last items of a list out.
// So each real list, without the entries trending proposed, is a prefix of
// the same list without the flood: the same items in the same order. A reused id that carried its last owner's history,
// seeds or open items would change them.
TEST(ReplayTest, AnEvictedSessionFloodLeavesRealUsersListsAsWithoutIt) {
  TempDir dir;
  std::mt19937 rng(17);
  std::vector<Event> real, flooded;
  constexpr int kTurns = 2400, kUsers = 150, kFloodPerTurn = 6;
  for (int n = 0; n < kTurns; ++n) {
    // Turn n belongs to real user n % 150, who acts from turn 8 * (their number)
    // on: late joiners take freed ids, and between two events of one real user
    // come at most 150 real events and 900 sessions.
    const int user = n % kUsers;
    const EpochMillis ts = kT0 + n * 997;
    if (n >= 8 * user) {
      const EventType type = rng() % 5 == 0 ? EventType::kPurchase : EventType::kClick;
      const Event e = Interaction(type, "u" + std::to_string(user), "i" + std::to_string(user % 5 + 5 * (rng() % 40)), ts);
      real.push_back(e);
      flooded.push_back(e);
    }
    // The flood follows at the same event time: the event clock, and so every
    // sweep that ranks a real user, falls where it does without the flood.
    for (int k = 0; k < kFloodPerTurn; ++k) {
      flooded.push_back(Interaction(EventType::kClick, "s" + std::to_string(n) + "_" + std::to_string(k),
                                    "f" + std::to_string(rng() % 50), ts));
    }
  }
  WriteEvents(dir.sub("real.jsonl"), real);
  WriteEvents(dir.sub("flooded.jsonl"), flooded);
  daemon::Config config = ReplayConfig();
  config.blend.max_seen_share = 1;  // the cap reorders by touched shares of prefixes, which trending entries change
  config.store.user_idle_ms = 0;
  daemon::ReplayOptions options;

  options.events = dir.sub("real.jsonl");
  options.lists_out = dir.sub("real.lists");
  config.store.max_users = 0;
  ASSERT_TRUE(daemon::RunReplay(config, options).ok());

  options.events = dir.sub("flooded.jsonl");
  options.lists_out = dir.sub("flooded.lists");
  options.store_dir = dir.sub("flooded-store");
  config.store.max_users = 1200;
  ASSERT_TRUE(daemon::RunReplay(config, options).ok());
  {
    store::StoreOptions so = config.store;
    so.path = options.store_dir;
    so.read_only = true;
    auto store = store::GraphStore::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    const auto& s = **store;
    EXPECT_GT(s.counters().evicted_users, 12000u);  // of 14,400 sessions
    EXPECT_LE(s.live_users(), 1200u + 1200u / 16);
    EXPECT_LE(s.view().num_users(), 1300u) << "freed ids are reused, so the id space stays near the cap";
    for (int u = 0; u < 150; ++u) EXPECT_TRUE(s.FindUser("u" + std::to_string(u))) << "a real user was evicted: u" << u;
  }

  // user -> their lists in order: (item, whether trending proposed it) pairs.
  using List = std::vector<std::pair<std::string, bool>>;
  auto real_lists = [](const std::string& path) {
    std::map<std::string, std::vector<List>> by_user;
    std::istringstream in(Slurp(path));
    for (std::string line; std::getline(in, line);) {
      const auto j = nlohmann::json::parse(line);
      const std::string user = j.at("user_id");
      if (user[0] != 'u') continue;
      List items;
      for (const auto& item : j.at("items")) {
        const auto reasons = item.value("reasons", nlohmann::json::array());
        items.emplace_back(item.at("item_id"), std::find(reasons.begin(), reasons.end(), "trending") != reasons.end());
      }
      by_user[user].push_back(std::move(items));
    }
    return by_user;
  };
  const auto without = real_lists(dir.sub("real.lists")), with = real_lists(dir.sub("flooded.lists"));
  ASSERT_EQ(without.size(), 150u);
  ASSERT_EQ(with.size(), without.size());
  size_t lists = 0, compared_items = 0, popularity_items = 0;
  for (const auto& [user, sequence] : without) {
    const auto& flooded_sequence = with.at(user);
    ASSERT_EQ(flooded_sequence.size(), sequence.size()) << user;
    for (size_t n = 0; n < sequence.size(); ++n) {
      // An item trending proposed in either run has a popularity term in its
      // score there: it is left out of both. The rest score alike, so they
      // come in the same order, up to where the shorter list ends (trending
      // entries took different numbers of places).
      std::set<std::string> popular;
      for (const List* l : {&sequence[n], &flooded_sequence[n]}) {
        for (const auto& [item, trending] : *l) {
          if (trending) popular.insert(item);
        }
      }
      std::vector<std::string> a, b;
      for (const auto& [item, trending] : sequence[n]) if (!popular.count(item)) a.push_back(item);
      for (const auto& [item, trending] : flooded_sequence[n]) if (!popular.count(item)) b.push_back(item);
      const size_t common = std::min(a.size(), b.size());
      if (!std::equal(a.begin(), a.begin() + static_cast<ptrdiff_t>(common), b.begin())) {
        std::string sa, sb;
        for (const auto& x : a) sa += x + " ";
        for (const auto& x : b) sb += x + " ";
        FAIL() << user << " list " << n << "\nwithout the flood: " << sa << "\nwith the flood:    " << sb;
      }
      ++lists;
      compared_items += common;
      popularity_items += popular.size();
    }
  }
  EXPECT_GT(lists, 1500u);
  EXPECT_GT(compared_items, 10 * lists);
  EXPECT_GT(popularity_items, 0u);
  std::printf("flood: %zu real lists compared, %zu items in the same places, %zu popularity entries left out\n", lists,
              compared_items, popularity_items);
}

TEST(ReplayTest, AMissingFileIsAClearError) {
  daemon::ReplayOptions options;
  options.events = "/nonexistent/events.jsonl";
  const Status s = daemon::RunReplay(ReplayConfig(), options);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find("/nonexistent/events.jsonl"), std::string::npos);
}

// Issue 17, rule 1, for files: replaying another file of the same name into a
// kept store used to skip its first lines as "already applied". The hash of the
// line before the stored offset tells the two apart; a longer copy of the same
// file resumes where the store stopped.
TEST(ReplayTest, AnotherFileUnderTheSameNameIsRefusedAndTheSameFileResumes) {
  TempDir dir;
  std::vector<Event> events;
  for (int k = 0; k < 20; ++k) {
    events.push_back(Interaction(EventType::kClick, "u" + std::to_string(k % 4), "i" + std::to_string(k), kT0 + k));
  }
  WriteEvents(dir.sub("events.jsonl"), events);
  daemon::ReplayOptions options;
  options.events = dir.sub("events.jsonl");
  options.store_dir = dir.sub("store");
  const Status first = daemon::RunReplay(ReplayConfig(), options);
  ASSERT_TRUE(first.ok()) << first.ToString();

  events.push_back(Interaction(EventType::kClick, "u9", "i99", kT0 + 100));  // the same file, grown
  WriteEvents(dir.sub("events.jsonl"), events);
  const Status grown = daemon::RunReplay(ReplayConfig(), options);
  ASSERT_TRUE(grown.ok()) << "a grown file resumes: " << grown.ToString();

  std::vector<Event> other;
  for (int k = 0; k < 30; ++k) other.push_back(Interaction(EventType::kPurchase, "v", "j" + std::to_string(k), kT0 + k));
  WriteEvents(dir.sub("events.jsonl"), other);
  const Status s = daemon::RunReplay(ReplayConfig(), options);
  EXPECT_EQ(s.code(), Status::Code::kAborted) << s.ToString();
  EXPECT_NE(s.message().find("is not the one recd applied there"), std::string::npos) << s.ToString();
}

// Fault hole 8: the signal wait re-arms, so a second SIGTERM/SIGINT is heard.
TEST(SignalsTest, ASecondSignalIsStillHeard) {
  boost::asio::io_context io;
  int first = 0, again = 0;
  daemon::StopSignals signals(io, [&](int) { ++first; }, [&](int) { ++again; });
  std::raise(SIGTERM);
  for (int i = 0; i < 100 && first == 0; ++i) io.run_one_for(std::chrono::milliseconds(20));
  std::raise(SIGINT);
  for (int i = 0; i < 100 && again == 0; ++i) io.run_one_for(std::chrono::milliseconds(20));
  std::raise(SIGTERM);
  for (int i = 0; i < 100 && again < 2; ++i) io.run_one_for(std::chrono::milliseconds(20));
  EXPECT_EQ(first, 1);
  EXPECT_EQ(again, 2);
  EXPECT_EQ(signals.received(), 3);
}

}  // namespace
}  // namespace recd
