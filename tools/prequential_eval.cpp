#include "tools/prequential_eval.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <unordered_map>

#include "model/eval/prequential.h"
#include "model/eval/stream_history.h"
#include "tools/event_file.h"

namespace recd::tools {
namespace {

// Time since the user's previous event, the breakdown's buckets.
constexpr std::array<const char*, 4> kGapNames = {"<= 1 h", "<= 1 day", "<= 7 days", "> 7 days"};
size_t GapBucket(EpochMillis gap) {
  constexpr EpochMillis kHour = 3'600'000;
  if (gap <= kHour) return 0;
  if (gap <= 24 * kHour) return 1;
  if (gap <= 7 * 24 * kHour) return 2;
  return 3;
}

struct Scored {
  uint32_t user;
  int rank;  // -1: miss
  uint8_t gap;
};

struct ModelResult {
  std::string name;
  std::vector<Scored> scored;
  uint64_t without_list = 0;
};

struct Interval {
  double value, low, high;
};

// Per-user bootstrap: users are resampled with replacement, since one user's
// positives are not independent of each other.
std::pair<Interval, Interval> Bootstrap(const ModelResult& m, size_t users, int samples) {
  std::vector<std::array<double, 3>> per_user(users, {0, 0, 0});  // positives, hits, ndcg
  std::vector<uint32_t> active;
  for (const Scored& s : m.scored) {
    auto& u = per_user[s.user];
    if (u[0] == 0) active.push_back(s.user);
    u[0] += 1;
    u[1] += s.rank >= 0;
    u[2] += eval::NdcgGain(s.rank);
  }
  auto ratio = [&](const std::vector<uint32_t>& who, size_t k) {
    double num = 0, den = 0;
    for (uint32_t u : who) {
      num += per_user[u][k];
      den += per_user[u][0];
    }
    return den > 0 ? num / den : 0.0;
  };
  Interval hr{ratio(active, 1), 0, 0}, ndcg{ratio(active, 2), 0, 0};
  if (active.empty()) return {hr, ndcg};
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<size_t> pick(0, active.size() - 1);
  std::vector<double> hrs, ndcgs;
  std::vector<uint32_t> sample(active.size());
  for (int b = 0; b < samples; ++b) {
    for (auto& u : sample) u = active[pick(rng)];
    hrs.push_back(ratio(sample, 1));
    ndcgs.push_back(ratio(sample, 2));
  }
  std::sort(hrs.begin(), hrs.end());
  std::sort(ndcgs.begin(), ndcgs.end());
  const size_t lo = static_cast<size_t>(0.025 * samples), hi = static_cast<size_t>(0.975 * samples);
  hr.low = hrs[lo];
  hr.high = hrs[std::min(hi, hrs.size() - 1)];
  ndcg.low = ndcgs[lo];
  ndcg.high = ndcgs[std::min(hi, ndcgs.size() - 1)];
  return {hr, ndcg};
}

struct ReplayedList {
  int64_t after_input;
  RecommendationList list;
};

Result<std::vector<ReplayedList>> ReadLists(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read lists " + path);
  std::vector<ReplayedList> out;
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty()) continue;
    try {
      const auto j = nlohmann::json::parse(line);
      ReplayedList r;
      r.after_input = j.at("after_input").get<int64_t>();
      r.list.user_id = j.at("user_id").get<std::string>();
      for (const auto& item : j.at("items")) r.list.items.push_back({item.at("item_id").get<std::string>(), 0, {}});
      out.push_back(std::move(r));
    } catch (const std::exception& e) {
      return Status::InvalidArgument(path + ":" + std::to_string(n) + ": not a `recd replay --lists-out` line (" +
                                     e.what() + ")");
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.after_input < b.after_input; });
  return out;
}

constexpr std::array<eval::PrequentialProtocol, 2> kProtocols = {eval::PrequentialProtocol::kPositives,
                                                                 eval::PrequentialProtocol::kDiscovery};

void PrintProtocol(eval::PrequentialProtocol protocol, const std::vector<ModelResult>& results, size_t users,
                   int bootstrap_samples, nlohmann::json* out, std::vector<std::pair<Interval, Interval>>* summary) {
  std::printf("\n### protocol: %s\n\n", eval::Name(protocol));
  std::printf("| model | scored | no list | HR@10 [95%% CI] | NDCG@10 [95%% CI] | HR@10 %s | %s | %s | %s |\n",
              kGapNames[0], kGapNames[1], kGapNames[2], kGapNames[3]);
  std::printf("|---|---|---|---|---|---|---|---|---|\n");
  for (const ModelResult& m : results) {
    const auto [hr, ndcg] = Bootstrap(m, users, bootstrap_samples);
    summary->push_back({hr, ndcg});
    std::array<std::array<uint64_t, 2>, 4> by_gap{};
    for (const Scored& s : m.scored) {
      ++by_gap[s.gap][0];
      by_gap[s.gap][1] += s.rank >= 0;
    }
    std::printf("| %s | %zu | %llu | %.4f [%.4f, %.4f] | %.4f [%.4f, %.4f] |", m.name.c_str(), m.scored.size(),
                static_cast<unsigned long long>(m.without_list), hr.value, hr.low, hr.high, ndcg.value, ndcg.low,
                ndcg.high);
    nlohmann::json j = {{"model", m.name},           {"scored", m.scored.size()}, {"without_list", m.without_list},
                        {"hr@10", hr.value},          {"hr@10_ci", {hr.low, hr.high}},
                        {"ndcg@10", ndcg.value},      {"ndcg@10_ci", {ndcg.low, ndcg.high}}};
    for (size_t g = 0; g < by_gap.size(); ++g) {
      const double v = by_gap[g][0] ? static_cast<double>(by_gap[g][1]) / by_gap[g][0] : 0;
      std::printf(" %.4f (%llu) |", v, static_cast<unsigned long long>(by_gap[g][0]));
      j["hr@10_by_gap"][kGapNames[g]] = {{"hr@10", v}, {"scored", by_gap[g][0]}};
    }
    std::printf("\n");
    (*out)["protocols"][eval::Name(protocol)]["models"].push_back(j);
  }
}

}  // namespace

void AddStreamingBaselineOptions(CLI::App& app, eval::StreamingBaselineSettings* s) {
  app.add_option("--recent-half-life-days", s->recent_half_life_days, "recent popularity's and best sellers' half-life")
      ->capture_default_str();
  app.add_option("--session-gap-minutes", s->session_gap_minutes, "session kNN: a longer gap starts a session")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--session-neighbours", s->session_neighbours, "session kNN: past sessions that vote")
      ->capture_default_str();
  app.add_option("--rules-window", s->rules_window, "sequential rules: steps ahead a rule reaches")
      ->capture_default_str();
  // EASE needs lambda > 0 (else the Gram matrix may be singular) and a rebuild
  // interval > 0 (else it is rebuilt, O(items^3), after every event).
  app.add_option("--ease-lambda", s->ease_lambda, "EASE: L2 regularisation")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--ease-rebuild-days", s->ease_rebuild_days, "EASE: rebuilt this often in event time")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

int RunPrequentialEval(const PrequentialEvalOptions& options) {
  std::vector<std::unique_ptr<eval::StreamingBaseline>> baselines;
  if (options.baseline_keys.empty()) {
    baselines = eval::MakeStreamingBaselines(options.baselines);
  } else {
    for (const std::string& key : options.baseline_keys) {
      auto b = eval::MakeStreamingBaseline(key, options.baselines);
      if (!b) {
        std::fprintf(stderr, "receval: --baselines: unknown baseline '%s' (see --help for the names)\n", key.c_str());
        return 2;
      }
      baselines.push_back(std::move(b));
    }
  }
  eval::StreamHistory history(options.baselines.recent_half_life_days, options.positive_rating);
  // results[p][b]: protocol p, baseline b (then the replay's lists, when given).
  std::array<std::vector<ModelResult>, kProtocols.size()> results;
  for (auto& r : results) {
    r.resize(baselines.size());
    for (size_t b = 0; b < baselines.size(); ++b) r[b].name = baselines[b]->name();
  }

  std::vector<ReplayedList> lists;
  if (!options.lists.empty()) {
    auto read = ReadLists(options.lists);
    if (!read.ok()) {
      std::fprintf(stderr, "receval: %s\n", read.status().ToString().c_str());
      return 2;
    }
    lists = std::move(read.value());
  }
  std::vector<eval::PrequentialEvaluator> replay_evals;
  std::array<ModelResult, kProtocols.size()> replay_results;
  for (size_t p = 0; p < kProtocols.size(); ++p) {
    eval::PrequentialConfig config;
    config.protocol = kProtocols[p];
    config.positive_rating = options.positive_rating;
    replay_evals.emplace_back(config);
    replay_results[p].name = "recd replay lists";
  }
  size_t next_list = 0;

  std::unordered_map<std::string, uint32_t> user_ids, item_ids;
  std::vector<EpochMillis> last_ts;  // per user; INT64_MIN: no event yet
  auto user_of = [&](const std::string& id) {
    auto [it, added] = user_ids.try_emplace(id, static_cast<uint32_t>(user_ids.size()));
    if (added) last_ts.push_back(INT64_MIN);
    return it->second;
  };
  std::array<uint64_t, kProtocols.size()> scored_events{};
  uint64_t events = 0;
  eval::PrequentialConfig positive_config;
  positive_config.positive_rating = options.positive_rating;
  auto read = ForEachEventAt(options.events, [&](const Event& e, int64_t line) {
    ++events;
    // Lists made after applying a line before this one are what the user holds now.
    while (next_list < lists.size() && lists[next_list].after_input < line) {
      for (auto& ev : replay_evals) ev.OnList(lists[next_list].list);
      ++next_list;
    }
    if (e.type == EventType::kUser) {
      const uint32_t u = user_of(e.user_id);
      if (last_ts[u] == INT64_MIN) last_ts[u] = e.ts;  // known from now on; no gap yet
      return;
    }
    if (!IsInteraction(e.type)) return;
    const uint32_t u = user_of(e.user_id);
    auto [it, added] = item_ids.try_emplace(e.item_id, static_cast<uint32_t>(item_ids.size()));
    const uint32_t item = it->second;
    const bool known = last_ts[u] != INT64_MIN;
    const uint8_t gap = known ? static_cast<uint8_t>(GapBucket(e.ts - last_ts[u])) : 0;
    const bool in_slice = e.ts >= options.score_from && e.ts < options.score_until;
    const std::array<bool, kProtocols.size()> scored = {eval::IsPositive(e, positive_config),
                                                         !history.Touched(u, item)};
    for (size_t p = 0; p < kProtocols.size(); ++p) {
      int rank = -1;
      // Every event goes through the evaluator: discovery learns from each what the user has touched.
      const bool had_list = replay_evals[p].Observe(e, &rank);
      if (!scored[p] || !in_slice) continue;
      ++scored_events[p];
      if (had_list) replay_results[p].scored.push_back({u, rank, gap});
      else ++replay_results[p].without_list;
    }
    if ((scored[0] || scored[1]) && in_slice) {
      for (size_t b = 0; b < baselines.size(); ++b) {
        // Like recd, a baseline has a list for a user only after their first event.
        std::vector<uint32_t> top;
        if (known) top = baselines[b]->TopK(u, eval::kPrequentialCutoff, history);
        const auto pos = std::find(top.begin(), top.end(), item);
        const int rank = pos == top.end() ? -1 : static_cast<int>(pos - top.begin());
        for (size_t p = 0; p < kProtocols.size(); ++p) {
          if (!scored[p]) continue;
          if (known) results[p][b].scored.push_back({u, rank, gap});
          else ++results[p][b].without_list;
        }
      }
    }
    const eval::StreamingInteraction x{u, item, e.type, e.ts, e.rating};
    history.Learn(x);
    for (auto& b : baselines) b->Learn(x, history);
    last_ts[u] = std::max(last_ts[u], e.ts);
  });
  if (!read.ok()) {
    std::fprintf(stderr, "receval: %s\n", read.status().ToString().c_str());
    return 2;
  }
  for (size_t p = 0; p < kProtocols.size(); ++p) {
    if (!lists.empty()) results[p].push_back(std::move(replay_results[p]));
  }

  std::printf("%s: %llu events, %zu users; prequential, file order. Scored: %llu positives (purchases and ratings "
              ">= %.1f), %llu discoveries (first touches of an item new to the user)\n",
              options.events.c_str(), static_cast<unsigned long long>(events), user_ids.size(),
              static_cast<unsigned long long>(scored_events[0]), options.positive_rating,
              static_cast<unsigned long long>(scored_events[1]));
  nlohmann::json out;
  out["events"] = options.events;
  std::array<std::vector<std::pair<Interval, Interval>>, kProtocols.size()> summary;
  for (size_t p = 0; p < kProtocols.size(); ++p) {
    out["protocols"][eval::Name(kProtocols[p])]["scored_events"] = scored_events[p];
    PrintProtocol(kProtocols[p], results[p], user_ids.size(), options.bootstrap_samples, &out, &summary[p]);
  }
  std::printf("\n### side by side: HR@10 [95%% CI]\n\n| model | positives | discovery |\n|---|---|---|\n");
  for (size_t m = 0; m < results[0].size(); ++m) {
    const Interval& a = summary[0][m].first;
    const Interval& b = summary[1][m].first;
    std::printf("| %s | %.4f [%.4f, %.4f] | %.4f [%.4f, %.4f] |\n", results[0][m].name.c_str(), a.value, a.low,
                a.high, b.value, b.low, b.high);
  }
  if (!options.json.empty()) std::ofstream(options.json) << out.dump(1) << "\n";
  return 0;
}

}  // namespace recd::tools
