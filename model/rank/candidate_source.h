// recd::rank — one interface per candidate source: the items a source proposes
// for a user now, each with the source's own score (higher is better; scales
// differ between sources, so blending uses ranks). Implementations read the
// store's GraphView, so they run on the thread that owns the store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "base/event.h"
#include "base/ids.h"
#include "model/baseline_ranker.h"

namespace recd::rank {

struct Candidate {
  uint32_t item;  // dense ItemId value
  float score;
};

class CandidateSource {
 public:
  virtual ~CandidateSource() = default;
  // The reason a list gives for the items this source proposed.
  virtual Reason reason() const = 0;
  // Appends at most `limit` candidates for `user`, best first, none the
  // list's filters would drop.
  virtual void Propose(UserId user, size_t limit, std::vector<Candidate>* out) const = 0;
};

// Appends to `out` the `limit` best of `scored` (item, score) that `filters`
// keep for `user`, best first (ties: the lower id). Reorders `scored`; asks the
// filters only of the items it reaches.
void TakeBest(std::vector<std::pair<uint32_t, double>>& scored, UserId user, const model::BaselineRanker& filters,
              size_t limit, std::vector<Candidate>* out);

}  // namespace recd::rank
