#include "model/rank/candidate_source.h"

#include <algorithm>

namespace recd::rank {

void TakeBest(std::vector<std::pair<uint32_t, double>>& scored, UserId user, const model::BaselineRanker& filters,
              size_t limit, std::vector<Candidate>* out) {
  auto better = [](const auto& a, const auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); };
  // Sorted a window at a time and filtered lazily: a rule source scores
  // thousands of items, and the filters' lookups were most of a list's cost.
  size_t sorted = 0, taken = 0;
  while (taken < limit && sorted < scored.size()) {
    const size_t window = std::min(scored.size(), sorted + 2 * (limit - taken) + 16);
    std::partial_sort(scored.begin() + static_cast<ptrdiff_t>(sorted), scored.begin() + static_cast<ptrdiff_t>(window),
                      scored.end(), better);
    for (; sorted < window && taken < limit; ++sorted) {
      if (filters.Excluded(user, ItemId(scored[sorted].first))) continue;
      out->push_back({scored[sorted].first, static_cast<float>(scored[sorted].second)});
      ++taken;
    }
  }
}

}  // namespace recd::rank
