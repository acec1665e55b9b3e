#include "model/rank/candidate_source.h"

#include <algorithm>

namespace recd::rank {

void TakeBest(std::vector<std::pair<uint32_t, double>>& scored, UserId user, const model::BaselineRanker& filters,
              size_t limit, std::vector<Candidate>* out) {
  scored.erase(std::remove_if(scored.begin(), scored.end(),
                              [&](const auto& c) { return filters.Excluded(user, ItemId(c.first)); }),
               scored.end());
  const size_t keep = std::min(limit, scored.size());
  std::partial_sort(scored.begin(), scored.begin() + static_cast<ptrdiff_t>(keep), scored.end(),
                    [](const auto& a, const auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); });
  for (size_t n = 0; n < keep; ++n) out->push_back({scored[n].first, static_cast<float>(scored[n].second)});
}

}  // namespace recd::rank
