#include "daemon/list_shelf.h"

#include <functional>
#include <mutex>

namespace recd::daemon {

ListShelf::Shard& ListShelf::ShardOf(const std::string& user_id) const {
  return shards_[std::hash<std::string>{}(user_id) % kShards];
}

void ListShelf::Put(ShelvedList list) {
  Shard& shard = ShardOf(list.list.user_id);
  Entry entry = std::make_shared<const ShelvedList>(std::move(list));
  const std::string& user = entry->list.user_id;
  std::unique_lock lock(shard.mu);
  Shard::Slot& slot = shard.lists[user];
  slot.list.swap(entry);  // `entry` now holds the replaced one
  slot.stale = false;
  lock.unlock();          // and frees it outside the lock
}

void ListShelf::MarkStale(const std::string& user_id) {
  Shard& shard = ShardOf(user_id);
  std::unique_lock lock(shard.mu);
  if (auto it = shard.lists.find(user_id); it != shard.lists.end()) it->second.stale = true;
}

void ListShelf::Forget(const std::string& user_id) {
  Shard& shard = ShardOf(user_id);
  Entry dropped;  // destroyed outside the lock
  std::unique_lock lock(shard.mu);
  if (auto it = shard.lists.find(user_id); it != shard.lists.end()) {
    dropped = std::move(it->second.list);
    shard.lists.erase(it);
  }
}

void ListShelf::PutColdStart(ShelvedList list) {
  auto entry = std::make_shared<const ShelvedList>(std::move(list));
  std::unique_lock lock(cold_start_mu_);
  cold_start_.swap(entry);
}

ListShelf::Entry ListShelf::Get(const std::string& user_id, bool* stale) const {
  const Shard& shard = ShardOf(user_id);
  std::shared_lock lock(shard.mu);
  auto it = shard.lists.find(user_id);
  if (stale) *stale = it != shard.lists.end() && it->second.stale;
  return it == shard.lists.end() ? nullptr : it->second.list;
}

ListShelf::Entry ListShelf::ColdStart() const {
  std::shared_lock lock(cold_start_mu_);
  return cold_start_;
}

size_t ListShelf::size() const {
  size_t n = 0;
  for (const Shard& shard : shards_) {
    std::shared_lock lock(shard.mu);
    n += shard.lists.size();
  }
  return n;
}

}  // namespace recd::daemon
