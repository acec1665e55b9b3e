// recd::eval — private to model/eval/: the shared shape of the baselines that
// score items and pad with recent popularity. Not part of the folder's contract.
#pragma once

#include <memory>

#include "model/eval/baselines.h"

namespace recd::eval {

// A baseline whose list is its best-scored items the filter allows, padded
// with recent popularity.
class ScoringBaseline : public StreamingBaseline {
 public:
  // skip_touched: leave out everything the user touched, not only purchases and ratings.
  explicit ScoringBaseline(bool skip_touched = false) : skip_touched_(skip_touched) {}
  std::vector<uint32_t> TopK(uint32_t user, size_t k, const StreamHistory& history) override {
    scratch_.assign(history.num_items(), kNoScore);
    Score(user, history, &scratch_);
    auto skip = [&](uint32_t i) {
      return skip_touched_ ? history.Touched(user, i) : history.Excluded(user, i);
    };
    std::vector<uint32_t> out;
    AppendBest(scratch_, k, skip, &out);
    PadWithRecentPopularity(history, k, skip, &out);
    return out;
  }

 private:
  bool skip_touched_;
  std::vector<double> scratch_;
};

std::unique_ptr<StreamingBaseline> MakeEase(const StreamingBaselineSettings& settings);

}  // namespace recd::eval
