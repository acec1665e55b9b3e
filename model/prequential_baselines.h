// recd::model — simple recommenders updated continuously, for `receval
// --prequential`: each is asked for a user's top 10 just before a positive
// event and learns every event right after, in file order, the protocol
// `recd replay` follows. Users are dense ids of the caller's; items too.
// Lists skip the items the user purchased or rated (the daemon's default filter).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/event.h"

namespace recd::model {

struct StreamingInteraction {
  uint32_t user;
  uint32_t item;
  EventType type;
  EpochMillis ts;
};

class StreamingBaseline {
 public:
  virtual ~StreamingBaseline() = default;
  virtual std::string name() const = 0;
  // The user's top `k` now, best first.
  virtual std::vector<uint32_t> TopK(uint32_t user, size_t k) = 0;
  // Learns one interaction (after it was scored).
  virtual void Learn(const StreamingInteraction& x) = 0;
};

struct StreamingBaselineSettings {
  double recent_half_life_days = 7;
  size_t knn_recent_items = 10;       // the user's most recent distinct items that vote
  size_t knn_neighbours = 50;         // neighbours kept per item
  double knn_rebuild_hours = 24;      // neighbour lists are rebuilt this often (event time)
};

// Popularity, recent popularity and item-kNN (cosine over co-occurrence, with
// popularity filling lists shorter than k).
std::vector<std::unique_ptr<StreamingBaseline>> MakeStreamingBaselines(const StreamingBaselineSettings& settings);

}  // namespace recd::model
