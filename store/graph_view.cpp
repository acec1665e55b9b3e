#include "store/graph_view.h"

#include <algorithm>

#include "store/decay.h"

namespace recd::store {

bool GraphView::Upsert(NeighborList& list, uint32_t id, double log_weight) {
  auto& v = list.items_;
  auto it = std::lower_bound(v.begin(), v.end(), id,
                             [](const Neighbor& n, uint32_t x) { return n.id < x; });
  if (it != v.end() && it->id == id) {
    it->log_weight = static_cast<float>(LogAddExp2(it->log_weight, log_weight));
    return false;
  }
  v.insert(it, Neighbor{id, static_cast<float>(log_weight)});
  return true;
}

void GraphView::EnsureUser(UserId user) {
  if (user.value >= user_items_.size()) user_items_.resize(user.value + 1);
}

void GraphView::EnsureItem(ItemId item) {
  if (item.value >= item_users_.size()) {
    item_users_.resize(item.value + 1);
    item_popularity_.resize(item.value + 1, kNoWeight);
  }
}

void GraphView::AddInteraction(UserId user, ItemId item, double log_weight) {
  EnsureUser(user);
  EnsureItem(item);
  const bool added = Upsert(user_items_[user.value], item.value, log_weight);
  Upsert(item_users_[item.value], user.value, log_weight);
  item_popularity_[item.value] = LogAddExp2(item_popularity_[item.value], log_weight);
  if (added) ++num_edges_;
}

void GraphView::Compact() {
  for (auto& l : user_items_) l.items_.shrink_to_fit();
  for (auto& l : item_users_) l.items_.shrink_to_fit();
}

size_t GraphView::MemoryBytes() const {
  size_t bytes = (user_items_.capacity() + item_users_.capacity()) * sizeof(NeighborList) +
                 item_popularity_.capacity() * sizeof(double);
  for (const auto& l : user_items_) bytes += l.items_.capacity() * sizeof(Neighbor);
  for (const auto& l : item_users_) bytes += l.items_.capacity() * sizeof(Neighbor);
  return bytes;
}

}  // namespace recd::store
