// receval — offline evaluation on a temporal split: next-item HR@10, NDCG@10,
// Recall@20, MRR (full ranking, seen items excluded) and catalogue coverage, for
// the baselines (popularity, recent popularity, item-kNN, BPR-MF), recd's live
// ranker (co-occurrence on the store) and PinSage (trained on the train slice
// only, early-stopped on its newest pairs). Reads the JSONL that recgen and
// recreplay write; prints a Markdown table and optionally writes JSON.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <unordered_map>
#include <unordered_set>

#include "base/temp_dir.h"
#include "base/time.h"
#include "model/baseline_ranker.h"
#include "model/eval/offline.h"
#include "model/trained_model.h"
#include "store/graph_store.h"
#include "tools/event_file.h"
#include "tools/pinsage_options.h"
#include "tools/prequential_eval.h"

namespace {

using recd::eval::InteractionLog;

// A logged interaction as the event it came from (what the daemon would apply).
recd::Event ToEvent(const InteractionLog& log, const recd::eval::LoggedInteraction& x) {
  recd::Event e;
  e.type = x.type;
  e.user_id = log.users[x.user];
  e.item_id = log.items[x.item];
  e.ts = x.ts;
  e.rating = x.rating;
  return e;
}

// recd's own ranker as a Scorer: the train slice goes through a real GraphStore
// (in a temporary directory) and BaselineRanker lists the top `k`; unlisted items
// score 0, so MRR only counts ranks up to k.
class LiveRanker : public recd::eval::Scorer {
 public:
  LiveRanker(uint32_t k, float degree_penalty) : k_(k), degree_penalty_(degree_penalty) {}
  ~LiveRanker() override {
    ranker_.reset();
    store_.reset();  // closes RocksDB before dir_ removes its files
  }
  std::string name() const override { return "recd co-occurrence (live ranker)"; }
  void Fit(const InteractionLog& log, const std::vector<recd::eval::LoggedInteraction>& train, recd::EpochMillis) override {
    dir_ = std::make_unique<recd::TempDir>("receval-");
    recd::store::StoreOptions options;
    options.path = dir_->path();
    options.sync_writes = false;
    auto store = recd::store::GraphStore::Open(options);
    if (!store.ok()) throw std::runtime_error(store.status().ToString());
    store_ = std::move(store.value());
    std::vector<recd::Event> batch;
    for (const auto& x : train) {
      batch.push_back(ToEvent(log, x));
      if (batch.size() == 10000) Flush(&batch);
    }
    Flush(&batch);
    recd::model::BaselineConfig config;
    config.k = k_;
    config.degree_penalty = degree_penalty_;
    ranker_ = std::make_unique<recd::model::BaselineRanker>(*store_, config);
    ranker_->RefreshTrending();
    item_index_.clear();
    for (uint32_t i = 0; i < log.items.size(); ++i) item_index_[log.items[i]] = i;
    users_ = &log.users;
  }
  void Score(uint32_t user, std::vector<float>* scores) const override {
    scores->assign(item_index_.size(), 0.0f);
    const auto id = store_->FindUser((*users_)[user]);
    if (!id) return;
    const auto list = ranker_->Recommend(*id, 0);
    for (size_t n = 0; n < list.items.size(); ++n) {
      (*scores)[item_index_.at(list.items[n].item_id)] = static_cast<float>(list.items.size() - n);
    }
  }

 private:
  void Flush(std::vector<recd::Event>* batch) {
    if (batch->empty()) return;
    auto r = store_->Apply(*batch, {}, 0);
    if (!r.ok()) throw std::runtime_error(r.status().ToString());
    batch->clear();
  }
  uint32_t k_;
  float degree_penalty_;
  std::unique_ptr<recd::TempDir> dir_;  // declared first: destroyed after the store
  std::unique_ptr<recd::store::GraphStore> store_;
  std::unique_ptr<recd::model::BaselineRanker> ranker_;
  std::unordered_map<std::string, uint32_t> item_index_;
  const std::vector<std::string>* users_ = nullptr;
};

// PinSage as a Scorer: trained on the train slice (its own validation pairs are
// the slice's newest, never the test slice); a user's profile is the sum of their
// items' embeddings weighted like the daemon's edges (type weight, decayed to the
// split time; the half-life is the profile's own); items score by cosine with it plus
// `popularity_weight` x log2 of the item's decayed popularity relative to the top
// item (the trending score the daemon keeps): unit embeddings carry taste, not
// how much an item sells, so the prior adds that back (0: embeddings alone).
class PinSageScorer : public recd::eval::Scorer {
 public:
  // What one training run leaves; shared by the scorers of different prior weights.
  struct Fitted {
    recd::model::TrainingSet set;
    recd::model::TrainedModel model;
    std::vector<float> popularity;  // log2 relative to the most popular item
    // Per user, (item, weight): type weights decayed to the split time with the
    // profile's half-life.
    std::vector<std::vector<std::pair<uint32_t, float>>> profile_items;
    bool done = false;
  };
  PinSageScorer(recd::model::PinSageRecipe recipe, const std::vector<recd::Event>* item_events,
                std::shared_ptr<Fitted> fitted, float popularity_weight, double profile_half_life_days)
      : recipe_(std::move(recipe)), item_events_(item_events), fitted_(std::move(fitted)),
        popularity_weight_(popularity_weight), profile_half_life_ms_(profile_half_life_days * 86'400'000.0) {}
  std::string name() const override {
    char buf[64];
    std::snprintf(buf, sizeof buf, "PinSage + popularity prior %.3g", popularity_weight_);
    return popularity_weight_ == 0 ? "PinSage" : buf;
  }
  void Fit(const InteractionLog& log, const std::vector<recd::eval::LoggedInteraction>& train, recd::EpochMillis now) override {
    if (fitted_->done) return;  // every scorer of a run sees the same split
    recd::model::TrainingSetBuilder builder;
    for (const auto& id : log.items) builder.Item(id);  // dense ids as in the log
    for (const auto& id : log.users) builder.User(id);
    const std::unordered_set<std::string> known(log.items.begin(), log.items.end());
    for (const auto& e : *item_events_) {
      if (known.count(e.item_id)) builder.Add(e);  // metadata of items outside the log would add ids
    }
    for (const auto& x : train) builder.Add(ToEvent(log, x));
    Fitted& f = *fitted_;
    f.set = std::move(builder).Finish();
    auto model = recd::model::TrainPinSage(f.set, recipe_, [](const recd::model::EpochReport& r) {
      std::fprintf(stderr, "  PinSage epoch %u: loss %.4f, validation HR@10 %.4f, %.1f s\n", r.epoch, r.loss,
                   r.validation_hr_at_10, r.seconds);
    });
    if (!model.ok()) throw std::runtime_error(model.status().ToString());
    f.model = std::move(*model);
    f.popularity.assign(log.items.size(), 0.0f);
    double top = -std::numeric_limits<double>::infinity();
    for (uint32_t i = 0; i < log.items.size(); ++i) top = std::max(top, f.set.graph.ItemPopularity(recd::ItemId(i)));
    for (uint32_t i = 0; i < log.items.size(); ++i) {
      // Items never interacted with sit 64 octaves down rather than at -inf.
      f.popularity[i] = static_cast<float>(std::max(-64.0, f.set.graph.ItemPopularity(recd::ItemId(i)) - top));
    }
    const recd::store::DecayConfig decay;
    std::vector<std::unordered_map<uint32_t, float>> weights(log.users.size());
    for (const auto& x : train) {
      weights[x.user][x.item] += static_cast<float>(recd::store::TypeWeight(decay, x.type, x.rating) *
                                                    std::exp2(-static_cast<double>(now - x.ts) / profile_half_life_ms_));
    }
    f.profile_items.assign(log.users.size(), {});
    for (size_t u = 0; u < weights.size(); ++u) f.profile_items[u].assign(weights[u].begin(), weights[u].end());
    f.done = true;
  }
  void Score(uint32_t user, std::vector<float>* scores) const override {
    const Fitted& f = *fitted_;
    const size_t dim = f.model.dim(), items = f.model.item_ids.size();
    std::vector<float> profile(dim, 0.0f);
    for (const auto& [item, w] : f.profile_items[user]) {
      for (size_t d = 0; d < dim; ++d) profile[d] += w * f.model.embeddings[item * dim + d];
    }
    float norm = 0;
    for (float x : profile) norm += x * x;
    norm = std::sqrt(std::max(norm, 1e-12f));
    scores->assign(items, 0.0f);
    for (size_t i = 0; i < items; ++i) {
      float s = 0;
      for (size_t d = 0; d < dim; ++d) s += profile[d] * f.model.embeddings[i * dim + d];
      (*scores)[i] = s / norm + popularity_weight_ * f.popularity[i];
    }
  }

 private:
  recd::model::PinSageRecipe recipe_;
  const std::vector<recd::Event>* item_events_;
  std::shared_ptr<PinSageScorer::Fitted> fitted_;
  float popularity_weight_;
  double profile_half_life_ms_;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"receval: offline next-item evaluation on a temporal split"};
  std::string events_path, split_at, until, json_path;
  float degree_penalty = recd::model::BaselineConfig{}.degree_penalty;
  double train_fraction = 0.8;
  recd::eval::BaselineSettings settings;
  bool live = true, pinsage = true;
  // Chosen on recgen's validation slice (docs/evaluation.md).
  std::vector<float> popularity_weights = {0.0f, 0.03f};
  double profile_half_life_days = 60;
  recd::model::PinSageRecipe recipe;
  double pair_window_hours = static_cast<double>(recipe.pairs.window_ms) / 3'600'000.0;
  app.add_option("events", events_path, "JSONL events (recgen -o / recreplay -o)")->required();
  app.add_option("--split-at", split_at, "RFC 3339 time: train before it, test from it");
  app.add_option("--train-fraction", train_fraction, "without --split-at: the share of interactions in train");
  app.add_option("--until", until,
                 "RFC 3339 time: ignore events from it on. Tune on a validation slice: pass the test split "
                 "time here and let --train-fraction cut the rest");
  app.add_option("--degree-penalty", degree_penalty, "the live ranker's ranker.degree_penalty");
  app.add_option("--json", json_path, "also write the results here as JSON");
  app.add_option("--seed", settings.seed, "seed for BPR");
  app.add_option("--bpr-epochs", settings.bpr_epochs, "BPR epochs");
  app.add_option("--bpr-dim", settings.bpr_dim, "BPR factors");
  recd::tools::AddStreamingBaselineOptions(app, &settings.streaming);
  app.add_flag("!--no-live", live, "skip recd's live ranker");
  app.add_flag("!--no-pinsage", pinsage, "skip PinSage");
  auto* pinsage_options = app.add_option_group("PinSage", "PinSage's recipe (as rectrain's)");
  recd::tools::AddRecipeOptions(*pinsage_options, &recipe, &pair_window_hours);
  pinsage_options->add_option("--popularity-weight", popularity_weights,
                              "score = cosine(user profile, item) + W x log2(item popularity / top item's); one row "
                              "per W (one training run serves them all)")
      ->capture_default_str();
  pinsage_options->add_option("--profile-half-life-days", profile_half_life_days,
                              "a user's items weigh in their profile with this half-life before the split")
      ->capture_default_str();
  bool prequential = false;
  recd::tools::PrequentialEvalOptions pq;
  auto* pq_options = app.add_option_group("prequential", "the streaming protocol of recd replay (docs/evaluation.md)");
  pq_options->add_flag("--prequential", prequential,
                       "score each positive, and each first touch of an item new to the user (discovery), against "
                       "the list its user held just before it: the baselines updated after every event, and --lists "
                       "from recd replay");
  pq_options->add_option("--lists", pq.lists, "a recd replay --lists-out file to score in the same protocol");
  pq_options->add_option("--positive-rating", pq.positive_rating, "ratings at or above this are positives")
      ->capture_default_str();
  pq_options->add_option("--baselines", pq.baseline_keys,
                         "only these baselines (popularity, recent-popularity, unseen-recent-popularity, best-sellers, "
                         "unseen-best-sellers, recently-viewed, item-knn, sequential-rules, session-knn, ease)")
      ->delimiter(',');
  std::string score_from, score_until;
  pq_options->add_option("--score-from", score_from, "RFC 3339 time: score only events from it on (all events are learnt)");
  pq_options->add_option("--score-until", score_until, "RFC 3339 time: score only events before it");
  CLI11_PARSE(app, argc, argv);
  if (prequential) {
    for (auto [text, dst] : {std::pair{&score_from, &pq.score_from}, std::pair{&score_until, &pq.score_until}}) {
      if (text->empty()) continue;
      const auto ms = recd::ParseRfc3339(*text);
      if (!ms) {
        std::fprintf(stderr, "receval: %s is not an RFC 3339 time (e.g. 2026-01-22T00:00:00Z)\n", text->c_str());
        return 2;
      }
      *dst = *ms;
    }
    pq.events = events_path;
    pq.baselines = settings.streaming;
    pq.json = json_path;
    return recd::tools::RunPrequentialEval(pq);
  }
  recd::tools::FinishRecipe(&recipe, pair_window_hours);

  const auto until_ms = until.empty() ? std::optional<recd::EpochMillis>() : recd::ParseRfc3339(until);
  if (!until.empty() && !until_ms) {
    std::fprintf(stderr, "receval: --until %s is not an RFC 3339 time\n", until.c_str());
    return 2;
  }
  InteractionLog log;
  std::vector<recd::Event> item_events;  // metadata, for PinSage's features
  std::unordered_map<std::string, uint32_t> users, items;
  auto read = recd::tools::ForEachEvent(events_path, [&](const recd::Event& e) {
    if (e.type == recd::EventType::kItem) item_events.push_back(e);
    if (!recd::IsInteraction(e.type) || (until_ms && e.ts >= *until_ms)) return;
    auto u = users.try_emplace(e.user_id, static_cast<uint32_t>(log.users.size()));
    if (u.second) log.users.push_back(e.user_id);
    auto i = items.try_emplace(e.item_id, static_cast<uint32_t>(log.items.size()));
    if (i.second) log.items.push_back(e.item_id);
    log.interactions.push_back({u.first->second, i.first->second, e.ts, e.type, e.rating});
  });
  if (!read.ok()) {
    std::fprintf(stderr, "receval: %s\n", read.status().ToString().c_str());
    return 2;
  }
  const size_t rejected = read->rejected;
  std::stable_sort(log.interactions.begin(), log.interactions.end(),
                   [](const auto& a, const auto& b) { return a.ts < b.ts; });
  if (log.interactions.empty()) {
    std::fprintf(stderr, "receval: no interactions in %s\n", events_path.c_str());
    return 2;
  }
  recd::EpochMillis at;
  if (!split_at.empty()) {
    const auto t = recd::ParseRfc3339(split_at);
    if (!t) {
      std::fprintf(stderr, "receval: --split-at %s is not an RFC 3339 time\n", split_at.c_str());
      return 2;
    }
    at = *t;
  } else {
    at = recd::eval::SplitTimeForFraction(log, train_fraction);
  }
  const auto split = recd::eval::SplitAt(log, at);
  std::printf("%s: %zu interactions (%zu lines skipped as invalid), %zu users, %zu items; split at %s: %zu train, %zu test\n\n",
              events_path.c_str(), log.interactions.size(), rejected, log.users.size(), log.items.size(),
              recd::FormatRfc3339(at).c_str(), split.train.size(), split.test.size());

  auto scorers = recd::eval::MakeBaselines(settings);
  if (live) scorers.push_back(std::make_unique<LiveRanker>(100, degree_penalty));
  auto fitted = std::make_shared<PinSageScorer::Fitted>();
  for (float w : pinsage ? popularity_weights : std::vector<float>{}) {
    scorers.push_back(std::make_unique<PinSageScorer>(recipe, &item_events, fitted, w, profile_half_life_days));
  }
  nlohmann::json out;
  out["events"] = events_path;
  out["split_at"] = recd::FormatRfc3339(at);
  out["train"] = split.train.size();
  out["test"] = split.test.size();
  std::printf("| model | users | HR@10 | NDCG@10 | Recall@20 | MRR | coverage@10 | fit s |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (auto& scorer : scorers) {
    const auto t0 = std::chrono::steady_clock::now();
    scorer->Fit(log, split.train, at);
    const double fit_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto m = recd::eval::Evaluate(*scorer, log, split);
    std::printf("| %s | %zu | %.4f | %.4f | %.4f | %.4f | %.3f | %.1f |\n", m.model.c_str(), m.users, m.hr_at_10,
                m.ndcg_at_10, m.recall_at_20, m.mrr, m.coverage_at_10, fit_s);
    std::fflush(stdout);
    out["models"].push_back({{"model", m.model}, {"users", m.users}, {"hr@10", m.hr_at_10}, {"ndcg@10", m.ndcg_at_10},
                             {"recall@20", m.recall_at_20}, {"mrr", m.mrr}, {"coverage@10", m.coverage_at_10},
                             {"fit_seconds", fit_s}});
  }
  if (!json_path.empty()) std::ofstream(json_path) << out.dump(1) << "\n";
  return 0;
}
