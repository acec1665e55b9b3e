// Unit tests for daemon/config: defaults, overrides and precise errors.
#include <gtest/gtest.h>

#include <map>

#include <fstream>
#include <set>
#include <sstream>

#include "daemon/config.h"
#include "tests/test_util.h"

namespace recd::daemon {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& text) {
    const std::string path = dir_.sub("recd.toml");
    std::ofstream(path) << text;
    return path;
  }
  testing::TempDir dir_;
};

TEST_F(ConfigTest, ShippedConfigLoadsWithItsDocumentedDefaults) {
  auto c = LoadConfig(RECD_SOURCE_DIR "/config/recd.toml", {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->kafka.events_topic, "recd.events");
  EXPECT_EQ(c->store.path, "/var/lib/recd/store");
  EXPECT_DOUBLE_EQ(c->store.decay.half_life_ms, 14.0 * 86'400'000);
  EXPECT_EQ(c->ranker.k, 20u);
  EXPECT_TRUE(c->store.sync_writes);
}

// config/recd.toml documents every key the loader knows: loading it leaves no
// key at its built-in default (and a key the loader does not know is an error).
TEST_F(ConfigTest, TheShippedFileNamesEveryKeyTheLoaderKnows) {
  auto c = ParseConfig("", "", {});
  ASSERT_TRUE(c.ok());
  std::set<std::string> known;
  for (const ConfigSetting& s : c->settings) {
    if (s.section.rfind("kafka.", 0) != 0) known.insert(s.section + "." + s.key);  // property tables are free-form
  }
  EXPECT_GT(known.size(), 150u);
  auto shipped = LoadConfig(RECD_SOURCE_DIR "/config/recd.toml", {});
  ASSERT_TRUE(shipped.ok()) << shipped.status().ToString();
  std::set<std::string> in_file;
  for (const ConfigSetting& s : shipped->settings) {
    if (s.origin != "default") in_file.insert(s.section + "." + s.key);
  }
  for (const std::string& key : known) EXPECT_TRUE(in_file.count(key)) << key << " is missing from config/recd.toml";
}

// defaults < file < environment < --set, each value's origin reported.
TEST_F(ConfigTest, EnvironmentSitsBetweenTheFileAndSetAndEachOriginIsNamed) {
  const std::string file = "[ranker]\nk = 5\nrecent_items = 6\n[pipeline]\nrank_slice_ms = 70\n";
  const Environment env = {{"RECD_RANKER__K", "8"},
                           {"RECD_PIPELINE__RANK_SLICE_MS", "90"},
                           {"RECD_KAFKA__CLIENT__SASL_PASSWORD", "hunter2"},
                           {"RECD_STORE__PATH", "/from/env"}};
  auto c = ParseConfig(file, "f.toml", {"ranker.k=9"}, env);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->ranker.k, 9u);               // --set beats the environment
  EXPECT_EQ(c->ranker.recent_items, 6u);    // the file beats the default
  EXPECT_EQ(c->pipeline.rank_slice_ms, 90);  // the environment beats the file
  EXPECT_EQ(c->store.path, "/from/env");    // a bare string
  ASSERT_EQ(c->kafka.client.size(), 1u);
  EXPECT_EQ(c->kafka.client[0], (std::pair<std::string, std::string>{"sasl.password", "hunter2"}));
  const std::string printed = PrintConfig(*c);
  EXPECT_NE(printed.find("k = 9  # --set ranker.k\n"), std::string::npos) << printed;
  EXPECT_NE(printed.find("recent_items = 6  # f.toml:3\n"), std::string::npos) << printed;
  EXPECT_NE(printed.find("rank_slice_ms = 90  # environment variable RECD_PIPELINE__RANK_SLICE_MS\n"), std::string::npos) << printed;
  EXPECT_NE(printed.find("batch_max_events = 10000  # default\n"), std::string::npos) << printed;
  EXPECT_NE(printed.find("\"sasl.password\" = \"(hidden)\""), std::string::npos) << printed;
  EXPECT_EQ(printed.find("hunter2"), std::string::npos) << printed;
  // What it prints loads back to the same values.
  std::string reloaded_text;
  {
    std::istringstream lines(printed);
    for (std::string line; std::getline(lines, line);) reloaded_text += line.substr(0, line.find("  # ")) + "\n";
  }
  auto reloaded = ParseConfig(reloaded_text, "printed.toml", {});
  ASSERT_TRUE(reloaded.ok()) << reloaded.status().ToString() << "\n" << reloaded_text;
  EXPECT_EQ(reloaded->ranker.k, 9u);
  EXPECT_EQ(reloaded->pipeline.rank_slice_ms, 90);
  EXPECT_EQ(reloaded->store.path, "/from/env");
}

TEST_F(ConfigTest, EnvironmentAndSetMistakesNameTheVariableAndANearKey) {
  auto typo = ParseConfig("", "", {}, {{"RECD_PIPELINE__SHUTDOWN_TIMEOT_MS", "5"}});
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("unknown key pipeline.shutdown_timeot_ms at environment variable "
                                         "RECD_PIPELINE__SHUTDOWN_TIMEOT_MS (did you mean shutdown_timeout_ms?)"),
            std::string::npos)
      << typo.status().message();
  auto bad_value = ParseConfig("", "", {}, {{"RECD_PIPELINE__SHUTDOWN_TIMEOUT_MS", "-5"}});
  ASSERT_FALSE(bad_value.ok());
  EXPECT_NE(bad_value.status().message().find(
                "pipeline.shutdown_timeout_ms at environment variable RECD_PIPELINE__SHUTDOWN_TIMEOUT_MS: must be > 0"),
            std::string::npos)
      << bad_value.status().message();
  auto shape = ParseConfig("", "", {}, {{"RECD_PIPELINE__A__B__C", "1"}});
  ASSERT_FALSE(shape.ok());
  EXPECT_NE(shape.status().message().find("expected RECD_<SECTION>__<KEY>"), std::string::npos);
  auto section = ParseConfig("", "", {"rankr.k=3"});
  ASSERT_FALSE(section.ok());
  EXPECT_NE(section.status().message().find("unknown section [rankr] at --set rankr.k (did you mean ranker?)"),
            std::string::npos)
      << section.status().message();
  auto wrong_type = ParseConfig("[ranker]\nk = 5\n", "f.toml", {"ranker.k=\"ten\""});
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_NE(wrong_type.status().message().find("ranker.k at --set ranker.k must be an integer"),
            std::string::npos)
      << wrong_type.status().message();
  // Client properties from the environment are strings as given (a password is
  // never read as a number); a whole table or an empty name is refused.
  auto raw = ParseConfig("", "", {}, {{"RECD_KAFKA__CLIENT__SASL_PASSWORD", "1e5"}, {"RECD_KAFKA__PRODUCER__LINGER_MS", "0x1F"}});
  ASSERT_TRUE(raw.ok()) << raw.status().ToString();
  EXPECT_EQ(raw->kafka.client[0].second, "1e5");
  EXPECT_EQ(raw->kafka.producer[0], (std::pair<std::string, std::string>{"linger.ms", "0x1F"}));
  const std::string pem = "-----BEGIN PRIVATE KEY-----\nMIIB\"x\\y\r\n-----END PRIVATE KEY-----\n";
  auto multiline = ParseConfig("", "", {}, {{"RECD_KAFKA__CLIENT__SSL_KEY_PEM", pem}});
  ASSERT_TRUE(multiline.ok()) << multiline.status().ToString();
  EXPECT_EQ(multiline->kafka.client[0], (std::pair<std::string, std::string>{"ssl.key.pem", pem}));
  auto table = ParseConfig("", "", {}, {{"RECD_KAFKA__CLIENT", "x"}});
  ASSERT_FALSE(table.ok());
  EXPECT_NE(table.status().message().find("names the table [kafka.client]"), std::string::npos) << table.status().message();
  EXPECT_FALSE(ParseConfig("", "", {}, {{"RECD_KAFKA__CLIENT__", "x"}}).ok());
  // A secret given with --set is named by its key only, and printed hidden.
  auto secret = ParseConfig("", "", {"kafka.client.\"sasl.password\"=hunter2", "kafka.client.\"ssl.key.pem\"=PEM"});
  ASSERT_TRUE(secret.ok()) << secret.status().ToString();
  EXPECT_EQ(PrintConfig(*secret).find("hunter2"), std::string::npos) << PrintConfig(*secret);
  EXPECT_EQ(PrintConfig(*secret).find("PEM"), std::string::npos) << PrintConfig(*secret);
  // Far from every key: no guess.
  auto far = ParseConfig("", "", {"ranker.zzzzzzzzzzzz=1"});
  ASSERT_FALSE(far.ok());
  EXPECT_EQ(far.status().message().find("did you mean"), std::string::npos) << far.status().message();
}

// The shipped [ranker] blend keys are the code's defaults (docs/evaluation.md
// chose them), and bad values name the key and the fix.
// SIGHUP: what differs between two loads, and which keys apply live.
TEST_F(ConfigTest, AReloadNamesEachChangedKeyAndWhetherItAppliesLive) {
  auto running = ParseConfig("[ranker]\nk = 20\n[pipeline]\nbatch_max_events = 100\n", "recd.toml", {});
  ASSERT_TRUE(running.ok()) << running.status().ToString();
  EXPECT_TRUE(ChangedSettings(running->settings, running->settings).empty());
  auto next = ParseConfig("[ranker]\nk = 5\ncovisit_weight = 2.0\n[pipeline]\nbatch_max_events = 200\n", "recd.toml",
                          {"daemon.log_level=debug"});
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  std::map<std::string, ConfigChange> by_name;
  for (const ConfigChange& c : ChangedSettings(running->settings, next->settings)) by_name[c.name] = c;
  ASSERT_EQ(by_name.size(), 4u);
  EXPECT_EQ(by_name["ranker.k"].from, "20");
  EXPECT_EQ(by_name["ranker.k"].to, "5");
  EXPECT_EQ(by_name["ranker.k"].origin, "recd.toml:2");
  EXPECT_TRUE(by_name["ranker.k"].live);
  EXPECT_TRUE(by_name["ranker.covisit_weight"].live);
  EXPECT_TRUE(by_name["daemon.log_level"].live);
  EXPECT_EQ(by_name["daemon.log_level"].origin, "--set daemon.log_level");
  EXPECT_FALSE(by_name["pipeline.batch_max_events"].live);
  for (const char* live : {"pipeline.publish_interval_ms", "ranker.exclude", "model.category_cap",
                           "retrain.interval_days", "model.session_related", "ranker.max_seen_share"}) {
    EXPECT_TRUE(IsLiveKey(live)) << live;
  }
  for (const char* restart : {"store.path", "kafka.brokers", "admin.listen", "model.dir", "ranker.sequence_window"}) {
    EXPECT_FALSE(IsLiveKey(restart)) << restart;
  }
}

TEST_F(ConfigTest, RankerBlendDefaultsAndErrors) {
  auto shipped = LoadConfig(RECD_SOURCE_DIR "/config/recd.toml", {});
  ASSERT_TRUE(shipped.ok()) << shipped.status().ToString();
  const rank::BlendConfig defaults;
  const rank::BlendConfig& b = shipped->blend;
  EXPECT_FLOAT_EQ(b.viewed_weight, defaults.viewed_weight);
  EXPECT_EQ(b.viewed_items, defaults.viewed_items);
  EXPECT_FLOAT_EQ(b.sequence_weight, defaults.sequence_weight);
  EXPECT_EQ(b.sequence_items, defaults.sequence_items);
  EXPECT_EQ(b.sequence.window, defaults.sequence.window);
  EXPECT_EQ(b.sequence.seeds, defaults.sequence.seeds);
  EXPECT_EQ(b.sequence.max_successors, defaults.sequence.max_successors);
  EXPECT_DOUBLE_EQ(b.sequence.half_life_days, defaults.sequence.half_life_days);
  EXPECT_FLOAT_EQ(b.covisit_weight, defaults.covisit_weight);
  EXPECT_EQ(b.covisit_items, defaults.covisit_items);
  EXPECT_EQ(b.covisit.window, defaults.covisit.window);
  EXPECT_EQ(b.covisit.seeds, defaults.covisit.seeds);
  EXPECT_EQ(b.covisit.max_neighbours, defaults.covisit.max_neighbours);
  EXPECT_DOUBLE_EQ(b.covisit.half_life_days, defaults.covisit.half_life_days);
  EXPECT_FLOAT_EQ(b.covisit.degree_penalty, defaults.covisit.degree_penalty);
  EXPECT_FLOAT_EQ(b.unseen_trending_weight, defaults.unseen_trending_weight);
  EXPECT_EQ(b.unseen_trending_items, defaults.unseen_trending_items);
  EXPECT_FLOAT_EQ(b.rrf_k, defaults.rrf_k);
  EXPECT_DOUBLE_EQ(b.max_seen_share, defaults.max_seen_share);
  // The four later sources: weights, depths and their own settings.
  EXPECT_FLOAT_EQ(b.session_weight, defaults.session_weight);
  EXPECT_EQ(b.session_items, defaults.session_items);
  EXPECT_DOUBLE_EQ(b.session.session_gap_s, defaults.session.session_gap_s);
  EXPECT_EQ(b.session.session_items, defaults.session.session_items);
  EXPECT_EQ(b.session.max_sessions, defaults.session.max_sessions);
  EXPECT_EQ(b.session.sessions_per_item, defaults.session.sessions_per_item);
  EXPECT_EQ(b.session.neighbours, defaults.session.neighbours);
  EXPECT_FLOAT_EQ(b.seasonal_weight, defaults.seasonal_weight);
  EXPECT_EQ(b.seasonal_items, defaults.seasonal_items);
  EXPECT_EQ(b.seasonal.weeks_ahead, defaults.seasonal.weeks_ahead);
  EXPECT_EQ(b.seasonal.max_items, defaults.seasonal.max_items);
  EXPECT_DOUBLE_EQ(b.seasonal.half_life_days, defaults.seasonal.half_life_days);
  EXPECT_FLOAT_EQ(b.category_trending_weight, defaults.category_trending_weight);
  EXPECT_FLOAT_EQ(b.category_trending_weight, 1.0f) << "shipped on (docs/evaluation.md, \"The new sources\")";
  EXPECT_EQ(b.category_trending_items, defaults.category_trending_items);
  EXPECT_EQ(b.category_trending.seeds, defaults.category_trending.seeds);
  EXPECT_EQ(b.category_trending.max_items, defaults.category_trending.max_items);
  EXPECT_DOUBLE_EQ(b.category_trending.half_life_days, defaults.category_trending.half_life_days);
  EXPECT_FLOAT_EQ(b.new_items_weight, defaults.new_items_weight);
  EXPECT_EQ(b.new_items_items, defaults.new_items_items);
  EXPECT_DOUBLE_EQ(b.new_items.max_age_days, defaults.new_items.max_age_days);
  EXPECT_EQ(b.new_items.max_users, defaults.new_items.max_users);
  EXPECT_EQ(b.new_items.pool, defaults.new_items.pool);
  EXPECT_EQ(b.new_items.seeds, defaults.new_items.seeds);

  auto set = LoadConfig("", {"ranker.viewed_weight=2.5", "ranker.max_seen_share=0.3", "ranker.sequence_window=7"});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_FLOAT_EQ(set->blend.viewed_weight, 2.5f);
  EXPECT_DOUBLE_EQ(set->blend.max_seen_share, 0.3);
  EXPECT_EQ(set->blend.sequence.window, 7u);
  // Counts that are negative and numbers that are not finite (or beyond a float) are refused too.
  for (const char* bad : {"ranker.max_seen_share=1.5", "ranker.viewed_weight=-1", "ranker.sequence_window=0",
                          "ranker.rrf_k=0", "ranker.sequence_window=-1", "ranker.sequence_max_successors=-5",
                          "ranker.rrf_k=inf", "ranker.viewed_weight=1e39", "ranker.covisit_half_life_days=nan",
                          "ranker.seasonal_weeks_ahead=52", "ranker.seasonal_half_life_days=0.01",
                          "ranker.category_trending_half_life_days=0", "ranker.session_max_sessions=0",
                          "ranker.session_per_item=0", "ranker.new_items_max_age_days=0", "ranker.new_items_pool=0"}) {
    auto r = LoadConfig("", {bad});
    ASSERT_FALSE(r.ok()) << bad;
    const std::string key = std::string(bad).substr(0, std::string(bad).find('='));
    EXPECT_NE(r.status().message().find(key), std::string::npos) << r.status().message();
  }
}

// The learnt ranker's keys: the shipped file's values are the code's defaults,
// and bad values (or combinations that could never train or promote) name the key.
TEST_F(ConfigTest, LearntRankerKeysDefaultsAndErrors) {
  auto shipped = LoadConfig(RECD_SOURCE_DIR "/config/recd.toml", {});
  ASSERT_TRUE(shipped.ok()) << shipped.status().ToString();
  const rank::RankerModelConfig defaults;
  const rank::RankerModelConfig& m = shipped->ranker_model;
  EXPECT_EQ(m.enabled, defaults.enabled);
  EXPECT_EQ(m.dir, "");
  EXPECT_EQ(m.labels, defaults.labels);
  EXPECT_EQ(m.max_groups, defaults.max_groups);
  EXPECT_EQ(m.min_groups, defaults.min_groups);
  EXPECT_EQ(m.train_every, defaults.train_every);
  EXPECT_EQ(m.interval_ms, defaults.interval_ms);
  EXPECT_DOUBLE_EQ(m.half_life_days, defaults.half_life_days);
  EXPECT_DOUBLE_EQ(m.validation_fraction, defaults.validation_fraction);
  EXPECT_EQ(m.train_negatives, defaults.train_negatives);
  EXPECT_FLOAT_EQ(m.positive_weight, defaults.positive_weight);
  EXPECT_EQ(m.params.objective, defaults.params.objective);
  EXPECT_EQ(m.params.pair_samples, defaults.params.pair_samples);
  EXPECT_EQ(m.params.rounds, defaults.params.rounds);
  EXPECT_EQ(m.params.max_depth, defaults.params.max_depth);
  EXPECT_EQ(m.features.history, defaults.features.history);

  auto set = LoadConfig("", {"ranker.model=true", "ranker.model_labels=both", "ranker.model_positive_weight=10",
                             "ranker.model_objective=rank:ndcg", "ranker.model_interval_days=0"});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_TRUE(set->ranker_model.enabled);
  EXPECT_EQ(set->ranker_model.labels, rank::RankerLabels::kBoth);
  EXPECT_FLOAT_EQ(set->ranker_model.positive_weight, 10);
  EXPECT_EQ(set->ranker_model.params.objective, "rank:ndcg");
  EXPECT_EQ(set->ranker_model.interval_ms, 0);
  for (const char* bad : {"ranker.model_labels=clicks", "ranker.model_objective=reg:squarederror",
                          "ranker.model_validation_fraction=1", "ranker.model_min_groups=20000",
                          "ranker.model_max_groups=20", "ranker.model_thread_nice=20", "ranker.model_rounds=0"}) {
    auto r = LoadConfig("", {bad});
    ASSERT_FALSE(r.ok()) << bad;
    const std::string key = std::string(bad).substr(0, std::string(bad).find('='));
    EXPECT_NE(r.status().message().find(key), std::string::npos) << r.status().message();
  }
}

// The shipped file's [model] values are the code's defaults (one source of truth
// for what docs/evaluation.md chose), and bad values name the key.
TEST_F(ConfigTest, ModelSectionDefaultsAndErrors) {
  auto shipped = LoadConfig(RECD_SOURCE_DIR "/config/recd.toml", {});
  ASSERT_TRUE(shipped.ok()) << shipped.status().ToString();
  const ModelSection defaults;
  const ModelSection& m = shipped->model;
  EXPECT_EQ(m.refresher.model_root, "");
  EXPECT_EQ(m.refresher.device, "auto");
  EXPECT_EQ(m.refresher.state_dir, "/var/lib/recd/store-live");
  EXPECT_EQ(m.refresher.budget, defaults.refresher.budget);
  EXPECT_EQ(m.refresher.interval, defaults.refresher.interval);
  for (auto [got, want] : {std::pair{m.ranker.session, defaults.ranker.session}, std::pair{m.ranker.returning, defaults.ranker.returning}}) {
    EXPECT_FLOAT_EQ(got.related, want.related);
    EXPECT_FLOAT_EQ(got.walked, want.walked);
    EXPECT_FLOAT_EQ(got.profile, want.profile);
    EXPECT_FLOAT_EQ(got.trending, want.trending);
  }
  EXPECT_EQ(m.ranker.session_gap_ms, defaults.ranker.session_gap_ms);
  EXPECT_FLOAT_EQ(m.ranker.recency_decay, defaults.ranker.recency_decay);
  EXPECT_EQ(m.ranker.category_cap, defaults.ranker.category_cap);

  auto set = LoadConfig("", {"model.dir=/srv/models", "model.device=cuda:1", "model.session_trending=0.5",
                             "model.category_cap=3", "model.state_dir=/srv/live"});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->model.refresher.model_root, "/srv/models");
  EXPECT_EQ(set->model.refresher.device, "cuda:1");
  EXPECT_FLOAT_EQ(set->model.ranker.session.trending, 0.5f);
  EXPECT_EQ(set->model.ranker.category_cap, 3u);
  for (const char* bad : {"model.device=gpu", "model.device=cuda:x", "model.refresh_budget=0", "model.recency_decay=0",
                          "model.session_walked=-1", "model.ann_update_probability=2"}) {
    auto r = LoadConfig("", {bad});
    ASSERT_FALSE(r.ok()) << bad;
    const std::string key = std::string(bad).substr(0, std::string(bad).find('='));
    EXPECT_NE(r.status().message().find(key), std::string::npos) << r.status().message();
  }
}

TEST_F(ConfigTest, RetrainSectionDefaultsAndErrors) {
  auto shipped = LoadConfig(RECD_SOURCE_DIR "/config/recd.toml", {});
  ASSERT_TRUE(shipped.ok()) << shipped.status().ToString();
  const model::RetrainConfig defaults;
  const model::RetrainConfig& r = shipped->retrain.retrain;
  EXPECT_FALSE(r.enabled);
  EXPECT_EQ(r.interval_ms, defaults.interval_ms);
  EXPECT_EQ(r.min_gap_ms, defaults.min_gap_ms);
  EXPECT_EQ(r.republish_active_ms, defaults.republish_active_ms);
  EXPECT_DOUBLE_EQ(r.half_life_days, defaults.half_life_days);
  EXPECT_DOUBLE_EQ(r.seasonal_weight, defaults.seasonal_weight);
  EXPECT_DOUBLE_EQ(r.seasonal_after_days, defaults.seasonal_after_days);
  EXPECT_DOUBLE_EQ(r.promote_margin, defaults.promote_margin);
  EXPECT_EQ(r.keep_versions, defaults.keep_versions);
  EXPECT_EQ(r.recipe.training.epochs, defaults.recipe.training.epochs);
  EXPECT_EQ(shipped->admin_token_file, "");

  auto set = LoadConfig("", {"model.dir=/srv/models", "retrain.enabled=true", "retrain.interval_days=0.5",
                             "retrain.seasonal_weight=0", "retrain.pair_window_hours=24"});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->retrain.retrain.interval_ms, 43'200'000);
  EXPECT_EQ(set->retrain.retrain.pair_window_ms, 86'400'000);
  auto no_dir = LoadConfig("", {"retrain.enabled=true"});
  ASSERT_FALSE(no_dir.ok());
  EXPECT_NE(no_dir.status().message().find("retrain.enabled needs model.dir"), std::string::npos) << no_dir.status().message();
  for (const char* bad : {"retrain.seasonal_weight=1.5", "retrain.drift_fraction=1", "retrain.keep_versions=0",
                          "retrain.promote_margin=-1", "retrain.validation_fraction=0", "retrain.thread_nice=20"}) {
    auto r2 = LoadConfig("", {bad});
    ASSERT_FALSE(r2.ok()) << bad;
    const std::string key = std::string(bad).substr(0, std::string(bad).find('='));
    EXPECT_NE(r2.status().message().find(key), std::string::npos) << r2.status().message();
  }
}

TEST_F(ConfigTest, DedupWindowZeroIsOffAndNegativeIsRefused) {
  auto off = LoadConfig("", {"store.dedup_window=0"});
  ASSERT_TRUE(off.ok()) << off.status().ToString();
  EXPECT_EQ(off->store.dedup_window, 0u);
  auto bad = LoadConfig(Write("[store]\ndedup_window = -5\n"), {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("store.dedup_window at " + dir_.sub("recd.toml") + ":2: must be >= 0 (0 turns dedup off)"),
            std::string::npos)
      << bad.status().message();
}

TEST_F(ConfigTest, FiltersRewindRuleAndSkewAreConfigurable) {
  auto d = LoadConfig("", {});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->ranker.exclude_types, store::TypeBit(EventType::kPurchase) | store::TypeBit(EventType::kRating));
  EXPECT_EQ(d->kafka.offset_rewind, RewindRule::kStop);
  EXPECT_EQ(d->decoder.max_future_skew_ms, 86'400'000);
  auto c = LoadConfig(Write("[ranker]\nexclude = [\"click\"]\n[kafka]\noffset_rewind = \"reset\"\n"),
                      {"stream.max_future_skew_s=60", "eval.positive_rating=5"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->ranker.exclude_types, store::TypeBit(EventType::kClick));
  EXPECT_EQ(c->kafka.offset_rewind, RewindRule::kReset);
  EXPECT_EQ(c->decoder.max_future_skew_ms, 60'000);
  EXPECT_EQ(c->eval.positive_rating, 5);
  auto none = LoadConfig("", {"ranker.exclude=[]"});
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(none->ranker.exclude_types, 0);
  auto bad = LoadConfig("", {"ranker.exclude=[\"view\"]"});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("\"view\" is not an interaction type; use click, purchase or rating"),
            std::string::npos)
      << bad.status().message();
  auto rule = LoadConfig("", {"kafka.offset_rewind=skip"});
  ASSERT_FALSE(rule.ok());
  EXPECT_NE(rule.status().message().find("kafka.offset_rewind"), std::string::npos);
}

TEST_F(ConfigTest, OverridesWinAndBareStringsAreAccepted) {
  auto c = LoadConfig(Write("[store]\npath = \"/a\"\n"),
                      {"store.path=/tmp/x y", "kafka.embedded=true", "ranker.k=7", "kafka.brokers=h:1"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->store.path, "/tmp/x y");
  EXPECT_TRUE(c->kafka.embedded);
  EXPECT_EQ(c->ranker.k, 7u);
  EXPECT_EQ(c->kafka.brokers, "h:1");
}

TEST_F(ConfigTest, UnknownKeysWrongTypesAndBadValuesNameTheKeyAndLine) {
  auto c = LoadConfig(Write("[store]\nhalf_life = 3\n\n[ranker]\nk = \"ten\"\n[kafka]\nstart_from = \"middle\"\n[nope]\n"), {});
  ASSERT_FALSE(c.ok());
  const std::string& m = c.status().message();
  EXPECT_NE(m.find("unknown key store.half_life at " + dir_.sub("recd.toml") + ":2"), std::string::npos) << m;
  EXPECT_NE(m.find("half_life_days"), std::string::npos) << m;
  EXPECT_NE(m.find("ranker.k at " + dir_.sub("recd.toml") + ":5 must be an integer"), std::string::npos) << m;
  EXPECT_NE(m.find("kafka.start_from"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown section [nope]"), std::string::npos) << m;
}

// Passthrough client properties cannot take back what recd's guarantees rest on:
// ones recd owns are refused with the key to use, unsafe ones unless allowed.
TEST_F(ConfigTest, ClientPropertiesThatBreakTheGuaranteesAreRefusedUnlessAllowed) {
  const std::string path = Write(
      "[kafka.producer]\nacks = 1\n\"enable.idempotence\" = false\n\"message.timeout.ms\" = 30000\n"
      "\"linger.ms\" = 20\n[kafka.consumer]\n\"group.id\" = \"other\"\n\"auto.offset.reset\" = \"latest\"\n"
      "\"enable.auto.commit\" = true\n\"fetch.max.bytes\" = 1048576\n");
  auto refused = LoadConfig(path, {});
  ASSERT_FALSE(refused.ok());
  const std::string& m = refused.status().message();
  EXPECT_NE(m.find("[kafka.producer] \"acks\" = \"1\" at " + path + ":2 breaks recd's guarantees"), std::string::npos) << m;
  EXPECT_NE(m.find("\"enable.idempotence\" = \"false\" at " + path + ":3"), std::string::npos) << m;
  EXPECT_NE(m.find("\"message.timeout.ms\" = \"30000\" at " + path + ":4"), std::string::npos) << m;
  EXPECT_NE(m.find("kafka.allow_unsafe = true"), std::string::npos) << m;
  EXPECT_NE(m.find("\"group.id\" = \"other\" at " + path + ":7: recd sets this itself; use kafka.group_id"),
            std::string::npos) << m;
  EXPECT_NE(m.find("\"auto.offset.reset\" = \"latest\" at " + path + ":8 breaks"), std::string::npos) << m;
  EXPECT_NE(m.find("\"enable.auto.commit\" = \"true\" at " + path + ":9: recd sets this itself"), std::string::npos) << m;
  EXPECT_EQ(m.find("linger.ms"), std::string::npos) << m;
  EXPECT_EQ(m.find("fetch.max.bytes"), std::string::npos) << m;

  // Allowed: the unsafe values pass; the owned keys are still refused.
  auto owned = LoadConfig(path, {"kafka.allow_unsafe=true"});
  ASSERT_FALSE(owned.ok());
  EXPECT_EQ(owned.status().message().find("acks"), std::string::npos) << owned.status().message();
  EXPECT_NE(owned.status().message().find("group.id"), std::string::npos) << owned.status().message();
  auto allowed = LoadConfig(Write("[kafka]\nallow_unsafe = true\n[kafka.producer]\nacks = 1\n"), {});
  ASSERT_TRUE(allowed.ok()) << allowed.status().ToString();
  EXPECT_EQ(allowed->kafka.producer, (stream::KafkaProperties{{"acks", "1"}}));

  // Safe spellings of the same keys pass, in any case librdkafka accepts.
  auto safe = LoadConfig("", {"kafka.producer.acks=ALL", "kafka.producer.\"message.timeout.ms\"=0",
                              "kafka.producer.\"enable.idempotence\"=TRUE",
                              "kafka.consumer.\"auto.offset.reset\"=Earliest"});
  ASSERT_TRUE(safe.ok()) << safe.status().ToString();

  // [kafka.client] reaches both clients: the rules of both apply to it.
  auto client = LoadConfig("", {"kafka.client.acks=1", "kafka.client.\"group.id\"=x",
                                "kafka.client.\"security.protocol\"=SASL_SSL", "kafka.producer.retries=3",
                                "kafka.consumer.\"metadata.broker.list\"=h:1"});
  ASSERT_FALSE(client.ok());
  const std::string& cm = client.status().message();
  EXPECT_NE(cm.find("[kafka.client] \"acks\" = \"1\" at --set kafka.client.acks breaks"), std::string::npos) << cm;
  EXPECT_NE(cm.find("[kafka.client] \"group.id\" = \"x\" at --set kafka.client.\"group.id\": recd sets this itself"),
            std::string::npos) << cm;
  EXPECT_NE(cm.find("\"retries\" = \"3\" at --set kafka.producer.retries breaks"), std::string::npos) << cm;
  EXPECT_NE(cm.find("\"metadata.broker.list\" = \"h:1\" at --set kafka.consumer.\"metadata.broker.list\": recd "
                    "sets this itself; use kafka.brokers"),
            std::string::npos) << cm;
  EXPECT_EQ(cm.find("security.protocol"), std::string::npos) << cm;
}

TEST_F(ConfigTest, SyntaxErrorsGiveFileLineAndColumn) {
  auto c = LoadConfig(Write("[store]\npath = \n"), {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(dir_.sub("recd.toml") + ":2:"), std::string::npos) << c.status().message();
}

TEST_F(ConfigTest, RangeChecks) {
  auto c = LoadConfig("", {"store.half_life_days=0", "stream.rating_min=5", "stream.rating_max=1"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("store.half_life_days"), std::string::npos);
  EXPECT_NE(c.status().message().find("rating_min must be below"), std::string::npos);
}

}  // namespace
}  // namespace recd::daemon
