// recd::store — GraphView: the in-memory user–item adjacency used for sampling and
// ranking. Built from RocksDB when the store opens and updated by the store after
// each commit; readers get a const reference. Not thread-safe: it is read on the
// thread that applies batches.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/event.h"
#include "base/ids.h"

namespace recd::store {

// One neighbour: its dense id and the edge's epoch-referred log2 weight (see decay.h).
struct Neighbor {
  uint32_t id;
  float log_weight;
};
static_assert(sizeof(Neighbor) == 8, "GraphView memory budget assumes 8-byte neighbours");

// Which interaction types an edge has seen, one bit per EventType (click, purchase, rating).
using TypeMask = uint8_t;
inline constexpr TypeMask TypeBit(EventType t) { return static_cast<TypeMask>(1u << static_cast<unsigned>(t)); }

// One edge change as the store applies it to its view: replaying these with
// AddInteraction on a copy of the view keeps the copy equal to the view.
struct EdgeDelta {
  UserId user;
  ItemId item;
  double log_weight;
  TypeMask types;
  EpochMillis ts = 0;  // the interaction's event time
};

// A neighbour list sorted by id.
class NeighborList {
 public:
  const Neighbor* begin() const { return items_.data(); }
  const Neighbor* end() const { return items_.data() + items_.size(); }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  const Neighbor& operator[](size_t i) const { return items_[i]; }

 private:
  friend class GraphView;
  std::vector<Neighbor> items_;
};

class GraphView {
 public:
  // Adds `log_weight` (log-add-exp) to edge (user, item), creating it when new,
  // and records the interaction types in `types` on the user's side.
  void AddInteraction(UserId user, ItemId item, double log_weight, TypeMask types = 0);
  // Makes sure the ids exist (a user or item can exist without edges).
  void EnsureUser(UserId user);
  void EnsureItem(ItemId item);
  // Frees slack capacity after a bulk load.
  void Compact();
  // Removes every edge of `users` (evicted): their rows are emptied and freed,
  // their entries leave the items' lists, and those items' popularity is
  // summed again from the users left. The ids stay valid, with no edges, until
  // the store reuses them.
  void RemoveUsers(const std::vector<UserId>& users);

  const NeighborList& ItemsOf(UserId user) const { return user_items_[user.value]; }
  const NeighborList& UsersOf(ItemId item) const { return item_users_[item.value]; }
  // The interaction types the user has had with the item (0: none, or no edge).
  TypeMask TypesOf(UserId user, ItemId item) const;
  // The same for the user's n-th neighbour, ItemsOf(user)[n] (a scan without searches).
  TypeMask TypesAt(UserId user, size_t n) const { return user_item_types_[user.value][n]; }
  // Epoch-referred log2 of the item's summed interaction weight (trending score).
  double ItemPopularity(ItemId item) const { return item_popularity_[item.value]; }

  size_t num_users() const { return user_items_.size(); }
  size_t num_items() const { return item_users_.size(); }
  size_t num_edges() const { return num_edges_; }
  // Heap bytes held by the adjacency (both directions, per-node headers included).
  size_t MemoryBytes() const;

 private:
  // Returns the entry's index and whether it was inserted.
  static std::pair<size_t, bool> Upsert(NeighborList& list, uint32_t id, double log_weight);
  std::vector<NeighborList> user_items_;
  // Parallel to user_items_[u] entry by entry: the edge's types (item lists carry none).
  std::vector<std::vector<TypeMask>> user_item_types_;
  std::vector<NeighborList> item_users_;
  std::vector<double> item_popularity_;
  size_t num_edges_ = 0;
};

}  // namespace recd::store
