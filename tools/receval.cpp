// receval — offline evaluation on a temporal split: next-item HR@10, NDCG@10,
// Recall@20, MRR (full ranking, seen items excluded) and catalogue coverage, for
// the baselines (popularity, recent popularity, item-kNN, BPR-MF) and for recd's
// live ranker (co-occurrence on the store). Reads the JSONL that recgen and
// recreplay write; prints a Markdown table and optionally writes JSON.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "base/temp_dir.h"
#include "base/time.h"
#include "model/baseline_ranker.h"
#include "model/eval.h"
#include "store/graph_store.h"
#include "stream/codec.h"

namespace {

using recd::model::InteractionLog;

// recd's own ranker as a Scorer: the train slice goes through a real GraphStore
// (in a temporary directory) and BaselineRanker lists the top `k`; unlisted items
// score 0, so MRR only counts ranks up to k.
class LiveRanker : public recd::model::Scorer {
 public:
  LiveRanker(uint32_t k, float degree_penalty) : k_(k), degree_penalty_(degree_penalty) {}
  ~LiveRanker() override {
    ranker_.reset();
    store_.reset();  // closes RocksDB before dir_ removes its files
  }
  std::string name() const override { return "recd co-occurrence (live ranker)"; }
  void Fit(const InteractionLog& log, const std::vector<recd::model::LoggedInteraction>& train, recd::EpochMillis) override {
    dir_ = std::make_unique<recd::TempDir>("receval-");
    recd::store::StoreOptions options;
    options.path = dir_->path();
    options.sync_writes = false;
    auto store = recd::store::GraphStore::Open(options);
    if (!store.ok()) throw std::runtime_error(store.status().ToString());
    store_ = std::move(store.value());
    std::vector<recd::Event> batch;
    for (const auto& x : train) {
      recd::Event e;
      e.type = x.type;
      e.user_id = log.users[x.user];
      e.item_id = log.items[x.item];
      e.ts = x.ts;
      batch.push_back(std::move(e));
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"receval: offline next-item evaluation on a temporal split"};
  std::string events_path, split_at, until, json_path;
  float degree_penalty = recd::model::BaselineConfig{}.degree_penalty;
  double train_fraction = 0.8;
  recd::model::BaselineSettings settings;
  bool live = true;
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
  app.add_option("--recent-half-life-days", settings.recent_half_life_days, "recent popularity's half-life");
  app.add_flag("!--no-live", live, "skip recd's live ranker");
  CLI11_PARSE(app, argc, argv);

  std::ifstream in(events_path);
  if (!in) {
    std::fprintf(stderr, "receval: cannot read %s\n", events_path.c_str());
    return 2;
  }
  const auto until_ms = until.empty() ? std::optional<recd::EpochMillis>() : recd::ParseRfc3339(until);
  if (!until.empty() && !until_ms) {
    std::fprintf(stderr, "receval: --until %s is not an RFC 3339 time\n", until.c_str());
    return 2;
  }
  InteractionLog log;
  std::unordered_map<std::string, uint32_t> users, items;
  recd::stream::EventDecoder decoder;
  recd::Event e;
  recd::stream::Rejection rejection;
  std::string line;
  size_t line_no = 0, rejected = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    if (!decoder.Decode(line, &e, &rejection)) {
      ++rejected;
      continue;
    }
    if (!recd::IsInteraction(e.type) || (until_ms && e.ts >= *until_ms)) continue;
    auto u = users.try_emplace(e.user_id, static_cast<uint32_t>(log.users.size()));
    if (u.second) log.users.push_back(e.user_id);
    auto i = items.try_emplace(e.item_id, static_cast<uint32_t>(log.items.size()));
    if (i.second) log.items.push_back(e.item_id);
    log.interactions.push_back({u.first->second, i.first->second, e.ts, e.type});
  }
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
    at = recd::model::SplitTimeForFraction(log, train_fraction);
  }
  const auto split = recd::model::SplitAt(log, at);
  std::printf("%s: %zu interactions (%zu lines skipped as invalid), %zu users, %zu items; split at %s: %zu train, %zu test\n\n",
              events_path.c_str(), log.interactions.size(), rejected, log.users.size(), log.items.size(),
              recd::FormatRfc3339(at).c_str(), split.train.size(), split.test.size());

  auto scorers = recd::model::MakeBaselines(settings);
  if (live) scorers.push_back(std::make_unique<LiveRanker>(100, degree_penalty));
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
    const auto m = recd::model::Evaluate(*scorer, log, split);
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
