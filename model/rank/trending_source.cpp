#include "model/rank/trending_source.h"

#include <cmath>

namespace recd::rank {

void UnseenTrendingSource::Propose(UserId user, size_t limit, std::vector<Candidate>* out) const {
  const store::GraphView& view = store_.view();
  const std::vector<ItemId>& pool = trending_.trending();
  if (limit == 0 || pool.empty()) return;
  const bool known = user.value < view.num_users();
  const double top = view.ItemPopularity(pool.front());
  size_t added = 0;
  for (ItemId item : pool) {
    if (added == limit) break;
    if ((known && view.TypesOf(user, item) != 0) || trending_.Excluded(user, item)) continue;
    out->push_back({item.value, static_cast<float>(std::exp2(view.ItemPopularity(item) - top))});
    ++added;
  }
}

}  // namespace recd::rank
