// recd tools — the PinSage recipe on a command line (rectrain, receval), so both
// tools train with the same knobs and the same defaults.
#pragma once

#include <CLI/CLI.hpp>

#include "model/trained_model.h"

namespace recd::tools {

inline void AddRecipeOptions(CLI::App& app, model::PinSageRecipe* r, double* pair_window_hours) {
  app.add_option("--device", r->device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  app.add_option("--epochs", r->training.epochs, "training epochs at most")->capture_default_str();
  app.add_option("--batch-size", r->training.batch_size, "positive pairs per mini-batch")->capture_default_str();
  app.add_option("--negatives", r->training.random_negatives, "uniform negatives shared by a batch")->capture_default_str();
  app.add_option("--hard-negatives", r->training.max_hard_negatives, "hard negatives per query at most (curriculum)")->capture_default_str();
  app.add_option("--hard-rank-begin", r->training.hard_rank_begin, "hard negatives: PPR ranks from here")->capture_default_str();
  app.add_option("--hard-rank-end", r->training.hard_rank_end, "hard negatives: PPR ranks below this")->capture_default_str();
  app.add_option("--hard-walks", r->training.hard_walks, "hard negatives: walks of the PPR ranking")->capture_default_str();
  app.add_option("--margin", r->training.margin, "max-margin loss margin")->capture_default_str();
  app.add_option("--learning-rate", r->training.learning_rate, "Adam learning rate")->capture_default_str();
  app.add_option("--patience", r->training.patience, "epochs without validation gain before stopping")->capture_default_str();
  app.add_option("--max-batches", r->training.max_batches_per_epoch, "batches per epoch at most (0: all)")->capture_default_str();
  app.add_option("--producer-threads", r->training.producer_threads, "batch-preparing threads (0: cores - 1)");
  app.add_option("--dim", r->model.output_dim, "embedding width")->capture_default_str();
  app.add_option("--hidden", r->model.hidden_dim, "hidden width")->capture_default_str();
  app.add_option("--id-buckets", r->model.id_buckets, "hashed id embedding rows")->capture_default_str();
  app.add_option("--layers", r->sampler.layers, "convolution layers")->capture_default_str();
  app.add_option("--top-t", r->sampler.top_t, "neighbours per node")->capture_default_str();
  app.add_option("--walks", r->sampler.walks_per_node, "random walks per node")->capture_default_str();
  app.add_option("--walk-length", r->sampler.walk_length, "item-user-item hops per walk at most")->capture_default_str();
  app.add_option("--pair-window-hours", *pair_window_hours, "positive pairs: interactions this close in time")->capture_default_str();
  app.add_option("--next-items", r->pairs.next_items, "positive pairs: each interaction with the user's next N")->capture_default_str();
  app.add_option("--validation-fraction", r->pairs.validation_fraction, "newest pairs held out for early stopping")->capture_default_str();
  app.add_option("--seed", r->training.seed, "training seed (model init and sampler too)")->capture_default_str();
}

// Applies what AddRecipeOptions cannot bind directly.
inline void FinishRecipe(model::PinSageRecipe* r, double pair_window_hours) {
  r->pairs.window_ms = static_cast<int64_t>(pair_window_hours * 3'600'000.0);
  r->model.seed = r->training.seed;
  r->sampler.seed = r->training.seed;
}

}  // namespace recd::tools
