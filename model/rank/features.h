// recd::rank — FeatureBuilder: the features of each (user, candidate) of a
// slate, as the learnt ranking model reads them, in one fixed, named layout
// (kFeatureNames; a model records the names it was trained with and is refused
// when they differ):
//   - each source's score and rank (missing: NaN, which the trees route apart);
//   - the hand blend's score, the item's place in the slate as given (Gather
//     orders it by that score: an integer the trees split on exactly, where
//     fused scores differ in the fourth digit) and the number of sources that
//     proposed the item;
//   - the item's interactions decayed over 1, 7 and 30 days, its purchases over
//     7, and its age (days since its first interaction);
//   - the user's history with the item: the types on the edge, the edge's
//     decayed weight, its events in the user's recent history and the hours
//     since the last of them;
//   - attribute affinity: for each attribute of the candidate, the share of the
//     user's recent items with the same value; the max and the mean over its
//     attributes (any attribute: no names are special);
//   - the user's hours since their last event, and the current session's events
//     and distinct items (events at most `session_gap_s` apart, the last of
//     them at most that long before now; else 0).
// State is fed in event order on the thread that owns the store (Observe,
// ObserveItem) and bounded per user by `history` events.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model/rank/item_attributes.h"
#include "model/rank/slate.h"
#include "store/graph_store.h"

namespace recd::rank {

inline constexpr size_t kNumFeatures = 37;
extern const std::array<const char*, kNumFeatures> kFeatureNames;
// The column of the hand blend's score (what the learnt ranker is compared with when none serves).
inline constexpr size_t kBlendFeature = 2 * kSourceSlots;

struct FeatureConfig {
  size_t history = 20;          // the user's most recent interactions kept (counts, affinity, session)
  double session_gap_s = 1800;  // a gap longer than this starts a new session
};

class FeatureBuilder {
 public:
  // `attributes`: the items' attribute values, fed by their owner.
  FeatureBuilder(const store::GraphStore& store, const ItemAttributes& attributes, FeatureConfig config)
      : store_(store), attributes_(attributes), config_(config) {}

  // Every committed interaction, in event order (`types`: its type bits).
  void Observe(UserId user, ItemId item, EpochMillis ts, store::TypeMask types);
  // An evicted user: their history goes (the id may be reused).
  void ForgetUser(UserId user) {
    if (user.value < history_.size()) std::vector<Interaction>().swap(history_[user.value]);
  }

  // Appends slate.size() rows of kNumFeatures to `rows`, for `user` at event time `now`.
  void Build(UserId user, EpochMillis now, const Slate& slate, std::vector<float>* rows) const;

  const FeatureConfig& config() const { return config_; }

 private:
  struct ItemActivity {
    std::array<double, 3> log_count{kNoWeight, kNoWeight, kNoWeight};  // epoch-referred log2, 1/7/30-day half-lives
    double log_purchases = kNoWeight;                                    // 7-day half-life
    EpochMillis first_seen = 0;                                          // 0: never interacted with
  };
  struct Interaction {
    uint32_t item;
    store::TypeMask types;
    EpochMillis ts;
  };
  const store::GraphStore& store_;
  const ItemAttributes& attributes_;
  FeatureConfig config_;
  std::vector<ItemActivity> items_;                // by item
  std::vector<std::vector<Interaction>> history_;  // by user: oldest first, at most config_.history
};

}  // namespace recd::rank
