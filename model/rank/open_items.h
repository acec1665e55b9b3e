// recd::rank — OpenItemsSource: the items a user is weighing up, i.e. viewed
// (clicked) and not purchased or rated, available, scored by the edge's decayed
// weight, which grows with each view and fades with age (recency x view count).
// Most purchases in shop logs follow views of the same item; without this
// source those items reach a list only by being neighbours of other items.
#pragma once

#include "model/baseline_ranker.h"
#include "model/rank/candidate_source.h"

namespace recd::rank {

class OpenItemsSource : public CandidateSource {
 public:
  // `filters`: the ranker whose exclusions (ranker.exclude, availability) apply.
  OpenItemsSource(const store::GraphStore& store, const model::BaselineRanker& filters)
      : store_(store), filters_(filters) {}
  Reason reason() const override { return Reason::kViewed; }
  void Propose(UserId user, size_t limit, std::vector<Candidate>* out) const override;

 private:
  const store::GraphStore& store_;
  const model::BaselineRanker& filters_;
};

}  // namespace recd::rank
