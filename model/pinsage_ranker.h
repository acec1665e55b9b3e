// recd::model — the default ranker once a PinSage model is active. Candidates
// come from three sources, each of the user's recent items contributing on its
// own (Pinterest's per-pin queries, PinnerSage's several interests, not one
// centroid):
//   related   the item's nearest items by embedding (LiveModel::related);
//   walked    the item's random-walk neighbourhood on the live graph
//             (LiveModel::walked, Pixie-style), which reaches items whose
//             embeddings know little of them yet;
//   trending  the most popular items under the store's decay (the season window).
// A candidate's score is a weighted sum of its related and walked mass over the
// recent items (each weighted by its edge's decayed weight), the cosine between
// its embedding and the user's profile (the same weighted recent items' mean
// embedding), and its trending score. Two weight sets exist: `session` when the
// user's last two events are at most session_gap apart, `returning` otherwise.
// The weights are chosen on a prequential validation slice (docs/evaluation.md).
//
// Filters are BaselineRanker's (exclude_types, unavailable). Diversity: at most
// `category_cap` items of one `diversity_field` value (0: off). Without an
// active model, or for a user it cannot place, the co-occurrence ranker serves.
// Single-threaded, like the store it reads.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "model/baseline_ranker.h"
#include "model/live_model.h"

namespace recd::model {

struct BlendWeights {
  float related = 1.0f;
  float walked = 0.3f;
  float profile = 0.0f;
  float trending = 1.0f;
};

struct PinSageRankerConfig {
  // Defaults chosen on validation slices (docs/evaluation.md): `session` on
  // MovieLens 100K, whose positives come within the hour; `returning` on
  // recgen, whose users come back after days. The two grids chose the same.
  BlendWeights session;    // last two events at most session_gap apart
  BlendWeights returning;  // otherwise (or only one event)
  int64_t session_gap_ms = 3'600'000;
  // Walk visits favour popular items; dividing by (users of the item)^this
  // turns them into a cosine-like association (0.5: visits / sqrt(degree)).
  float walk_degree_penalty = 0.0f;
  size_t trending_candidates = 100;  // top trending items always among the candidates
  float recency_decay = 0.9f;        // the n-th most recent seed weighs recency_decay^n
  std::string diversity_field = "category";
  size_t category_cap = 0;           // most items per diversity_field value in one list; 0: no cap
};

class PinSageRanker {
 public:
  // `fallback` ranks when no model is active; it owns k, recent_items, the
  // trending pool and the filters, which this ranker shares.
  PinSageRanker(const store::GraphStore& store, const BaselineRanker& fallback, PinSageRankerConfig config);

  // After each commit, every interaction in order: the user's latest items
  // (the seeds, most recent first) and event times (session detection).
  void ObserveEvent(UserId user, ItemId item, EpochMillis ts);
  // An item's metadata as the store now holds it (new items and changed ones,
  // and every item at start): its diversity category.
  void ObserveItem(ItemId item, const Attributes& attributes);
  // A reload (SIGHUP): the mixture weights and the category cap from here on.
  // Turning the cap on when it was off at start is refused (InvalidArgument):
  // the items' categories were not kept.
  Status SetMixture(const BlendWeights& session, const BlendWeights& returning, size_t category_cap);
  // An evicted user: their seeds and times go (the id may be reused).
  void ForgetUser(UserId user);

  RecommendationList Recommend(UserId user, EpochMillis generated_at, const LiveModel* model, size_t k = 0) const;
  // Users with an event at or after `since` (observed since start), by id.
  std::vector<UserId> UsersActiveSince(EpochMillis since) const;

  const PinSageRankerConfig& config() const { return config_; }
  // The item's hashed diversity_field value (0: none, or no cap configured).
  uint32_t CategoryOf(ItemId item) const { return item.value < category_.size() ? category_[item.value] : 0; }

 private:
  const store::GraphStore& store_;
  const BaselineRanker& fallback_;
  PinSageRankerConfig config_;
  const bool keeps_categories_;  // the cap was on at start: ObserveItem keeps the categories
  // The user's seeds: their last recent_items distinct items by event time
  // (in-memory; after a restart, until a user's next events, their heaviest
  // items in the graph serve instead).
  std::vector<std::vector<uint32_t>> recent_;
  std::vector<EpochMillis> last_event_;  // by user
  std::vector<int64_t> last_gap_;        // by user: time between their last two events (-1: one event)
  std::vector<uint32_t> category_;       // by item: hashed diversity_field value (0: none)
  // Per item, the candidate's summed mass from each source; reset after each call.
  struct Mass {
    float related = 0, walked = 0;
  };
  mutable std::vector<Mass> mass_;
  mutable std::vector<uint32_t> touched_;
};

}  // namespace recd::model
