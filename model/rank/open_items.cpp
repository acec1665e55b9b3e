#include "model/rank/open_items.h"

#include <algorithm>
#include <cmath>

namespace recd::rank {

void OpenItemsSource::Propose(UserId user, size_t limit, std::vector<Candidate>* out) const {
  const store::GraphView& view = store_.view();
  if (limit == 0 || user.value >= view.num_users()) return;
  constexpr store::TypeMask kViewed = store::TypeBit(EventType::kClick);
  constexpr store::TypeMask kClosed = store::TypeBit(EventType::kPurchase) | store::TypeBit(EventType::kRating);
  // One scan of the user's edges (their types side by side), keeping the heaviest open ones.
  const store::NeighborList& items = view.ItemsOf(user);
  std::vector<store::Neighbor> open;
  for (size_t n = 0; n < items.size(); ++n) {
    const store::TypeMask types = view.TypesAt(user, n);
    // Viewed, not closed, and kept by the ranker's filters (ranker.exclude, availability).
    if ((types & kViewed) == 0 || (types & (kClosed | filters_.config().exclude_types)) != 0 ||
        !store_.ItemAvailable(ItemId(items[n].id))) {
      continue;
    }
    open.push_back(items[n]);
  }
  auto heavier = [](const store::Neighbor& a, const store::Neighbor& b) {
    return a.log_weight > b.log_weight || (a.log_weight == b.log_weight && a.id < b.id);
  };
  const size_t keep = std::min(limit, open.size());
  std::partial_sort(open.begin(), open.begin() + static_cast<ptrdiff_t>(keep), open.end(), heavier);
  for (size_t n = 0; n < keep; ++n) out->push_back({open[n].id, std::exp2(open[n].log_weight - open[0].log_weight)});
}

}  // namespace recd::rank
