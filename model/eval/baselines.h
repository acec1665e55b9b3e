// recd::eval — the simple recommenders every recd list is judged against, all
// updated continuously: each is asked for a user's top k just before an event
// and learns the event right after, in file order (the protocol `recd replay`
// follows). The same implementations serve the offline split protocol
// (AsScorer). Lists skip what the user purchased or rated (the daemon's default
// filter); the "unseen" variants skip everything the user touched.
// Single-threaded; users and items are the caller's dense ids.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "model/eval/stream_history.h"

namespace recd::eval {

class StreamingBaseline {
 public:
  virtual ~StreamingBaseline() = default;
  virtual std::string name() const = 0;
  // The user's top `k` now, best first, given everything learnt so far.
  virtual std::vector<uint32_t> TopK(uint32_t user, size_t k, const StreamHistory& history) = 0;
  // A score per item for the user (kNoScore: none); the offline protocol's full ranking.
  virtual void Score(uint32_t user, const StreamHistory& history, std::vector<double>* scores) = 0;
  // Learns one interaction; `history` has already recorded it.
  virtual void Learn(const StreamingInteraction& x, const StreamHistory& history) = 0;
};

struct StreamingBaselineSettings {
  double recent_half_life_days = 7;  // recent popularity and best sellers
  size_t recently_viewed = 10;       // recently viewed: the clicked items considered
  size_t knn_recent_items = 10;      // item-kNN: the user's most recent distinct items that vote
  size_t rules_window = 10;          // sequential rules: later items within this many steps
  size_t rules_recent_items = 3;     // ... voted for by the user's last this many items
  double session_gap_minutes = 30;   // session kNN: a gap longer than this starts a session
  size_t session_neighbours = 100;   // ... the most similar past sessions that vote
  size_t session_sample = 500;       // ... the most recent sessions kept per item
  double ease_lambda = 200;          // EASE: L2 regularisation of the item-item weights
  double ease_rebuild_days = 7;      // ... rebuilt this often in event time (and when interactions double)
  size_t ease_max_items = 6000;      // ... over at most this many most popular items (dense n x n)
};

// Every baseline, in the order the tables print them.
std::vector<std::unique_ptr<StreamingBaseline>> MakeStreamingBaselines(const StreamingBaselineSettings& settings);
// One by name (the `name()` of one of the above, or its short key: popularity,
// recent-popularity, best-sellers, unseen-best-sellers, unseen-recent-popularity,
// recently-viewed, item-knn, sequential-rules, session-knn, ease); null when unknown.
std::unique_ptr<StreamingBaseline> MakeStreamingBaseline(const std::string& key, const StreamingBaselineSettings& settings);

// Pads `out` to k with the most recently popular items `skip` allows.
template <typename Skip>
void PadWithRecentPopularity(const StreamHistory& history, size_t k, Skip skip, std::vector<uint32_t>* out) {
  AppendBest(history.recent_log_weight(), k, skip, out);
}

}  // namespace recd::eval
