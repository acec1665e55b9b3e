// A PinSage recipe small enough for unit tests on planted graphs (CPU, a
// second or two of training), shared by the LibTorch tests.
#pragma once

#include "model/trained_model.h"

namespace recd::testing {

inline model::PinSageRecipe SmallRecipe() {
  model::PinSageRecipe recipe;
  recipe.device = "cpu";
  recipe.model.id_buckets = 1024;
  recipe.model.hidden_dim = 32;
  recipe.model.output_dim = 16;
  recipe.sampler.top_t = 5;
  recipe.sampler.walks_per_node = 50;
  recipe.pairs.validation_fraction = 0.2;
  recipe.training.epochs = 15;
  recipe.training.batch_size = 64;
  recipe.training.random_negatives = 32;
  recipe.training.learning_rate = 1e-2f;
  recipe.training.margin = 0.3f;
  recipe.training.patience = 15;
  return recipe;
}

}  // namespace recd::testing
