// rectrain — trains PinSage from a recd store (read-only: a running daemon may
// hold it) or from a JSONL events file, and writes a versioned model directory
// (model/trained_model.h): weights, settings, training metrics, item ids,
// embeddings and the ANN index. Exit codes: 0 written, 1 training failed, 2 bad input.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>

#include "base/time.h"
#include "model/trained_model.h"
#include "store/graph_store.h"
#include "tools/event_file.h"
#include "tools/pinsage_options.h"

int main(int argc, char** argv) {
  CLI::App app{"rectrain: train PinSage item embeddings and write a versioned model directory"};
  std::string store_path, events_path, output, until;
  recd::model::PinSageRecipe recipe;
  double pair_window_hours = static_cast<double>(recipe.pairs.window_ms) / 3'600'000.0;
  auto* store_opt = app.add_option("--store", store_path, "a recd store directory (store.path), opened read-only");
  app.add_option("--events", events_path, "a JSONL events file (recgen -o / recreplay -o)")->excludes(store_opt);
  app.add_option("-o,--output", output, "model root: writes <root>/vNNNN and points <root>/LATEST at it")->required();
  app.add_option("--until", until, "RFC 3339 time: with --events, ignore events from it on");
  recd::tools::AddRecipeOptions(app, &recipe, &pair_window_hours);
  CLI11_PARSE(app, argc, argv);
  recd::tools::FinishRecipe(&recipe, pair_window_hours);
  if (store_path.empty() == events_path.empty()) {
    std::fprintf(stderr, "rectrain: give exactly one of --store DIR or --events FILE\n");
    return 2;
  }

  const auto t0 = std::chrono::steady_clock::now();
  recd::model::TrainingSet set;
  std::string source;
  if (!store_path.empty()) {
    recd::store::StoreOptions options;
    options.path = store_path;
    options.read_only = true;
    auto store = recd::store::GraphStore::Open(options);
    if (!store.ok()) {
      std::fprintf(stderr, "rectrain: %s\n", store.status().ToString().c_str());
      return 2;
    }
    auto read = recd::model::TrainingSetFromStore(**store);
    if (!read.ok()) {
      std::fprintf(stderr, "rectrain: reading %s: %s\n", store_path.c_str(), read.status().ToString().c_str());
      return 2;
    }
    set = std::move(*read);
    source = "store " + store_path;
  } else {
    const auto until_ms = until.empty() ? std::optional<recd::EpochMillis>() : recd::ParseRfc3339(until);
    if (!until.empty() && !until_ms) {
      std::fprintf(stderr, "rectrain: --until %s is not an RFC 3339 time (e.g. 2026-01-22T00:00:00Z)\n", until.c_str());
      return 2;
    }
    recd::model::TrainingSetBuilder builder;
    auto stats = recd::tools::ForEachEvent(events_path, [&](const recd::Event& e) {
      if (!until_ms || e.ts < *until_ms || e.type == recd::EventType::kItem) builder.Add(e);
    });
    if (!stats.ok()) {
      std::fprintf(stderr, "rectrain: %s\n", stats.status().ToString().c_str());
      return 2;
    }
    if (stats->rejected) std::fprintf(stderr, "rectrain: skipped %zu invalid lines of %s\n", stats->rejected, events_path.c_str());
    set = std::move(builder).Finish();
    source = "events " + events_path + (until.empty() ? "" : " until " + until);
  }
  std::printf("training set: %zu users, %zu items, %zu edges, %zu interactions (read in %.1f s)\n", set.user_ids.size(),
              set.item_ids.size(), set.graph.num_edges(), set.interactions.size(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  std::fflush(stdout);
  auto model = recd::model::TrainPinSage(set, recipe, [](const recd::model::EpochReport& e) {
    std::printf("epoch %2u: %zu batches, %u hard negatives/query, loss %.4f, validation HR@10 %.4f, %.1f s "
                "(device waited %.1f s for batches, sampling %.1f s)\n",
                e.epoch, e.batches, e.hard_negatives, e.loss, e.validation_hr_at_10, e.seconds, e.device_wait_seconds,
                e.sampling_seconds);
    std::fflush(stdout);
  });
  if (!model.ok()) {
    std::fprintf(stderr, "rectrain: %s\n", model.status().ToString().c_str());
    return model.status().code() == recd::Status::Code::kInvalidArgument ? 2 : 1;
  }
  auto dir = recd::model::WriteModelVersion(output, *model, source);
  if (!dir.ok()) {
    std::fprintf(stderr, "rectrain: %s\n", dir.status().ToString().c_str());
    return 1;
  }
  std::printf("best epoch %u (validation HR@10 %.4f)%s; wrote %s (%s, %zu items x %zu)\n", model->report.best_epoch,
              model->report.best_validation_hr_at_10, model->report.stopped_early ? ", stopped early" : "", dir->c_str(),
              model->net->device().c_str(), model->item_ids.size(), model->dim());
  return 0;
}
