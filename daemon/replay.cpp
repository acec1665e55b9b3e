#include "daemon/replay.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

#include "base/log.h"
#include "base/temp_dir.h"
#include "base/time.h"
#include "daemon/pipeline.h"

namespace recd::daemon {

namespace {

// Time that follows the store's newest applied event: the replay's "now" for
// scheduling (publish interval, coalescing) and list metadata. It stands still
// while ranking, so a sweep is never cut short and runs are deterministic.
class EventTimeClock final : public Clock {
 public:
  explicit EventTimeClock(const store::GraphStore& store) : store_(store) {}
  TimePoint Now() const override { return TimePoint(std::chrono::milliseconds(store_.LatestEventTime())); }
  EpochMillis WallMillis() const override { return store_.LatestEventTime(); }

 private:
  const store::GraphStore& store_;
};

Status WriteMetrics(const eval::PrequentialEvaluator& evaluator, const std::string& path) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return Status::IoError("cannot write " + path);
  out << "window_start,positives,hits,hr_at_10,ndcg_at_10,positives_without_list\n";
  for (const auto& [start, t] : evaluator.buckets()) {
    out << FormatRfc3339(start) << ',' << t.positives << ',' << t.hits << ',' << t.hr() << ',' << t.mean_ndcg() << ','
        << t.without_list << '\n';
  }
  return out ? Status::Ok() : Status::IoError("writing " + path + " failed");
}

// Retrain and swap moments, one per line: event_time,kind,detail.
Status WriteModelEvents(const std::vector<ModelEvent>& events, const std::string& path) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) return Status::IoError("cannot write " + path);
  out << "event_time,kind,detail\n";
  for (const ModelEvent& e : events) {
    std::string detail = e.detail;
    for (char& c : detail) {
      if (c == ',' || c == '"' || c == '\n') c = ';';
    }
    out << FormatRfc3339(e.event_time) << ',' << e.kind << ',' << detail << '\n';
  }
  return out ? Status::Ok() : Status::IoError("writing " + path + " failed");
}

Status DrawPlot(const std::string& csv, const std::string& png, double total_hr, const std::vector<ModelEvent>& events) {
  const std::string script_path = png + ".gp";
  {
    std::ofstream gp(script_path, std::ios::trunc);
    if (!gp) return Status::IoError("cannot write " + script_path);
    gp << "set terminal pngcairo size 1200,500 noenhanced\n"  // "HR@10" verbatim (@ is markup when enhanced)
       << "set output '" << png << "'\n"
       << "set datafile separator ','\n"
       << "set xdata time\nset timefmt '%Y-%m-%dT%H:%M:%S'\nset format x '%Y-%m-%d'\n"
       << "set xtics rotate by -30\nset grid\nset key top left\n"
       << "set ylabel 'prequential HR@10'\nset xlabel 'event time'\n"
       << "set title 'recd replay: prequential HR@10 per window (overall " << total_hr
       << "); grey: a training, red: PinSage swap, blue: ranker swap'\n";
    // Vertical marks: a retraining where its candidate was decided, a swap where the new model began to serve.
    for (const ModelEvent& e : events) {
      const std::string at = FormatRfc3339(e.event_time).substr(0, 19);
      gp << "set arrow from '" << at << "', graph 0 to '" << at << "', graph 1 nohead "
         << (e.kind == "swap"          ? "lc rgb 'red' lw 1.5"
             : e.kind == "ranker-swap" ? "lc rgb 'blue' lw 1"
                                       : "lc rgb 'grey' dt 2")
         << "\n";
    }
    gp << "plot '" << csv << "' using 1:4 every ::1 with linespoints title 'HR@10 per window', "
       << total_hr << " with lines dashtype 2 title 'overall'\n";
  }
  const std::string cmd = "gnuplot '" + script_path + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  std::remove(script_path.c_str());
  if (rc != 0) {
    return Status::Unavailable("gnuplot failed (exit " + std::to_string(rc) +
                               ") drawing " + png + "; install it with scripts/setup.sh (Debian: gnuplot-nox)");
  }
  return Status::Ok();
}

}  // namespace

Status RunReplay(Config config, const ReplayOptions& options) {
  if (options.window_hours <= 0) return Status::InvalidArgument("--window-hours must be > 0");
  if (!options.plot.empty() && options.metrics_out.empty()) {
    return Status::InvalidArgument("--plot draws the --metrics-out CSV: give --metrics-out too");
  }
  std::unique_ptr<TempDir> temp;
  if (options.store_dir.empty()) {
    temp = std::make_unique<TempDir>("recd-replay-");
    config.store.path = temp->sub("store");
    config.model.refresher.state_dir.clear();  // nothing to restart from
  } else {
    config.store.path = options.store_dir;
    config.model.refresher.state_dir = options.store_dir + "-live";
  }
  config.store.sync_writes = false;  // a replay is re-run, not recovered
  config.admin.listen.clear();       // no admin server reads its lists
  // One record per turn: a sweep may fall between any two events, exactly as
  // the publish interval says in event time.
  config.pipeline.batch_max_events = 1;
  config.eval.bucket_ms = static_cast<EpochMillis>(options.window_hours * 3'600'000.0);
  // A file is history with no "now": the far-future guard protects live
  // trending from producers' clocks and would refuse a file dated ahead.
  config.decoder.max_future_skew_ms = 0;

  PipelineEnds ends;
  auto store = store::GraphStore::Open(config.store);
  if (!store.ok()) return store.status();
  ends.store = std::move(store.value());
  auto source = stream::FileEventSource::Open(options.events);
  if (!source.ok()) return source.status();
  ends.source = std::move(source.value());
  auto sink = stream::FileOutputSink::Open(options.lists_out, "", options.similar_out);
  if (!sink.ok()) return sink.status();
  ends.sink = std::move(sink.value());
  ends.event_clock = std::make_unique<EventTimeClock>(*ends.store);

  auto created = Pipeline::Create(config, std::move(ends));
  if (!created.ok()) return created.status();
  std::unique_ptr<Pipeline> pipeline = std::move(created.value());
  const auto t0 = std::chrono::steady_clock::now();
  RECD_RETURN_IF_ERROR(pipeline->Run());
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const eval::PrequentialTally& total = pipeline->evaluator().total();
  const PipelineStats& s = pipeline->stats();
  std::printf("replayed %llu records (%llu applied, %llu rejected, %llu duplicates) in %.1f s (%.0f records/s); "
              "%llu lists; prequential HR@10 %.4f NDCG@10 %.4f over %llu positives (%llu more from users without "
              "a list)\n",
              static_cast<unsigned long long>(s.messages.load()), static_cast<unsigned long long>(s.applied.load()),
              static_cast<unsigned long long>(s.rejected.load()), static_cast<unsigned long long>(s.duplicates.load()),
              secs, s.messages.load() / std::max(secs, 1e-9), static_cast<unsigned long long>(s.lists_published.load()),
              total.hr(), total.mean_ndcg(), static_cast<unsigned long long>(total.positives),
              static_cast<unsigned long long>(total.without_list));
  std::printf("freshness (event time, arrival to the next list): p50 %.0f ms, p99 %.0f ms over %llu lists; "
              "model: %s, %llu items re-embedded, %llu similar-items records\n",
              s.freshness.Quantile(0.5), s.freshness.Quantile(0.99), static_cast<unsigned long long>(s.freshness.count()),
              s.model_active.load() ? "PinSage" : "none (co-occurrence)",
              static_cast<unsigned long long>(s.model_items_refreshed.load()),
              static_cast<unsigned long long>(s.similar_items_published.load()));
  if (!options.metrics_out.empty()) RECD_RETURN_IF_ERROR(WriteMetrics(pipeline->evaluator(), options.metrics_out));
  const std::vector<ModelEvent>& events = pipeline->model_events();
  if (!events.empty()) {
    std::map<std::string, size_t> by_kind;
    for (const ModelEvent& e : events) ++by_kind[e.kind];
    // "model: " first: tests/seasons.sh and people's scripts read this line.
    std::printf("model: %zu retrainings, %zu swaps; ranker: %zu trainings, %zu swaps:\n", by_kind["retrain"],
                by_kind["swap"], by_kind["ranker"], by_kind["ranker-swap"]);
    for (const ModelEvent& e : events) {
      std::printf("  %s %-7s %s\n", FormatRfc3339(e.event_time).c_str(), e.kind.c_str(), e.detail.c_str());
    }
  }
  if (!options.metrics_out.empty()) RECD_RETURN_IF_ERROR(WriteModelEvents(events, options.metrics_out + ".models.csv"));
  if (!options.plot.empty()) RECD_RETURN_IF_ERROR(DrawPlot(options.metrics_out, options.plot, total.hr(), events));
  pipeline.reset();  // closes the store before its temporary directory goes
  return Status::Ok();
}

}  // namespace recd::daemon
