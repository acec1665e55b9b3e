#include "store/graph_view.h"

#include <algorithm>

#include "store/decay.h"

namespace recd::store {

namespace {
// Where `id` is, or would go, in a list sorted by id.
template <typename Vec>
auto LowerBound(Vec& v, uint32_t id) {
  return std::lower_bound(v.begin(), v.end(), id, [](const Neighbor& n, uint32_t x) { return n.id < x; });
}
}  // namespace

std::pair<size_t, bool> GraphView::Upsert(NeighborList& list, uint32_t id, double log_weight) {
  auto& v = list.items_;
  auto it = LowerBound(v, id);
  const size_t index = static_cast<size_t>(it - v.begin());
  if (it != v.end() && it->id == id) {
    it->log_weight = static_cast<float>(LogAddExp2(it->log_weight, log_weight));
    return {index, false};
  }
  v.insert(it, Neighbor{id, static_cast<float>(log_weight)});
  return {index, true};
}

void GraphView::EnsureUser(UserId user) {
  if (user.value >= user_items_.size()) {
    user_items_.resize(user.value + 1);
    user_item_types_.resize(user.value + 1);
  }
}

TypeMask GraphView::TypesOf(UserId user, ItemId item) const {
  if (user.value >= user_items_.size()) return 0;
  const auto& v = user_items_[user.value].items_;
  auto it = LowerBound(v, item.value);
  if (it == v.end() || it->id != item.value) return 0;
  return user_item_types_[user.value][static_cast<size_t>(it - v.begin())];
}

void GraphView::EnsureItem(ItemId item) {
  if (item.value >= item_users_.size()) {
    item_users_.resize(item.value + 1);
    item_popularity_.resize(item.value + 1, kNoWeight);
  }
}

void GraphView::AddInteraction(UserId user, ItemId item, double log_weight, TypeMask types) {
  EnsureUser(user);
  EnsureItem(item);
  const auto [index, added] = Upsert(user_items_[user.value], item.value, log_weight);
  auto& type_list = user_item_types_[user.value];
  if (added) type_list.insert(type_list.begin() + static_cast<ptrdiff_t>(index), types);
  else type_list[index] |= types;
  Upsert(item_users_[item.value], user.value, log_weight);
  item_popularity_[item.value] = LogAddExp2(item_popularity_[item.value], log_weight);
  if (added) ++num_edges_;
}

void GraphView::Compact() {
  for (auto& l : user_items_) l.items_.shrink_to_fit();
  for (auto& t : user_item_types_) t.shrink_to_fit();
  for (auto& l : item_users_) l.items_.shrink_to_fit();
}

void GraphView::RemoveUsers(const std::vector<UserId>& users) {
  std::vector<bool> gone(user_items_.size(), false);
  std::vector<uint32_t> affected;  // items that lose an entry, each once
  std::vector<bool> is_affected(item_users_.size(), false);
  for (UserId u : users) {
    if (u.value >= user_items_.size() || gone[u.value]) continue;
    gone[u.value] = true;
    for (const Neighbor& n : user_items_[u.value]) {
      if (!is_affected[n.id]) {
        is_affected[n.id] = true;
        affected.push_back(n.id);
      }
      --num_edges_;
    }
    std::vector<Neighbor>().swap(user_items_[u.value].items_);  // frees the memory, not only the size
    std::vector<TypeMask>().swap(user_item_types_[u.value]);
  }
  // One pass per item however many of its users leave. Its popularity is
  // summed again from the users left, as a reopen sums it: subtracting the
  // leavers' (float) weights from a sum of many would leave their rounding
  // behind, which dwarfs what is left when a burst of them leaves.
  for (uint32_t i : affected) {
    auto& v = item_users_[i].items_;
    v.erase(std::remove_if(v.begin(), v.end(), [&](const Neighbor& n) { return gone[n.id]; }), v.end());
    double popularity = kNoWeight;
    for (const Neighbor& n : v) popularity = LogAddExp2(popularity, n.log_weight);
    item_popularity_[i] = popularity;
    if (v.capacity() > 2 * v.size() + 16) v.shrink_to_fit();
  }
}

size_t GraphView::MemoryBytes() const {
  size_t bytes = (user_items_.capacity() + item_users_.capacity()) * sizeof(NeighborList) +
                 item_popularity_.capacity() * sizeof(double);
  for (const auto& l : user_items_) bytes += l.items_.capacity() * sizeof(Neighbor);
  bytes += user_item_types_.capacity() * sizeof(std::vector<TypeMask>);
  for (const auto& t : user_item_types_) bytes += t.capacity();
  for (const auto& l : item_users_) bytes += l.items_.capacity() * sizeof(Neighbor);
  return bytes;
}

}  // namespace recd::store
