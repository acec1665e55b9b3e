// recd::rank — UnseenTrendingSource: the most popular items now (the ranker's
// trending pool, under the store's decay) that the user has never touched: a
// shop's "best sellers you have not seen", the discovery widget that wins
// where tastes follow the season.
#pragma once

#include "model/baseline_ranker.h"
#include "model/rank/candidate_source.h"

namespace recd::rank {

class UnseenTrendingSource : public CandidateSource {
 public:
  UnseenTrendingSource(const store::GraphStore& store, const model::BaselineRanker& trending)
      : store_(store), trending_(trending) {}
  Reason reason() const override { return Reason::kTrending; }
  void Propose(UserId user, size_t limit, std::vector<Candidate>* out) const override;

 private:
  const store::GraphStore& store_;
  const model::BaselineRanker& trending_;  // its pool (refreshed per turn) and its filters
};

}  // namespace recd::rank
