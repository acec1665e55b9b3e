// recd::daemon — the ListShelf: each user's newest published list, for the
// pull API (GET /v1/users/{id}/recommendations).
//
// One writer, many readers. The pipeline thread is the only writer: it puts a
// list once the output has queued it (or once it made one on demand for a
// user without one), marks a user's list stale when their events commit (a
// reader then asks the pipeline for a fresher one), and forgets users it
// evicts. Admin
// threads read. An entry is immutable once put (a shared_ptr to const), so a
// reader holds its copy as long as it likes while the writer replaces it.
// The shelf is sharded by user id so that readers and the writer rarely meet
// on one lock.
//
// Memory: one entry per live user with a list, about 60 bytes plus 40 per
// item; store.max_users bounds the users.
#pragma once

#include <array>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/event.h"

namespace recd::daemon {

// A published list as the shelf keeps it, with each item's value of
// `category_field` ("" where the item has none) for the category filter.
struct ShelvedList {
  RecommendationList list;
  std::vector<std::string> categories;  // parallel to list.items
  // False for a list made on demand for the pull API (not on the topic); the
  // user's next published list replaces it.
  bool published = true;
};

class ListShelf {
 public:
  using Entry = std::shared_ptr<const ShelvedList>;

  // Pipeline thread only. Put clears the user's stale mark.
  void Put(ShelvedList list);
  // The user has events their shelved list does not reflect (no-op without one).
  void MarkStale(const std::string& user_id);
  void Forget(const std::string& user_id);
  // The list an unknown user gets (source cold_start); replaced at each
  // trending refresh.
  void PutColdStart(ShelvedList list);

  // Any thread. Null where the user has no list; `stale` (optional) says
  // whether events arrived since it was made.
  Entry Get(const std::string& user_id, bool* stale = nullptr) const;
  Entry ColdStart() const;
  size_t size() const;

 private:
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::shared_mutex mu;
    struct Slot {
      Entry list;
      bool stale = false;
    };
    std::unordered_map<std::string, Slot> lists;
  };
  Shard& ShardOf(const std::string& user_id) const;

  mutable std::array<Shard, kShards> shards_;
  mutable std::shared_mutex cold_start_mu_;
  Entry cold_start_;
};

}  // namespace recd::daemon
