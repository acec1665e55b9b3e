// recd::model — the baseline ranker: recency-weighted item co-occurrence on the
// GraphView, with a trending fallback. It stays the fallback for cold users once
// PinSage lands. Reads the store; never writes it. Single-threaded, like the store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <functional>
#include <utility>
#include <vector>

#include "base/event.h"
#include "store/graph_store.h"

namespace recd::model {

struct BaselineConfig {
  uint32_t k = 20;                 // list length
  size_t recent_items = 10;        // the user's heaviest (most recent) items used as seeds
  size_t co_users_per_item = 20;   // heaviest co-users followed per seed item
  size_t items_per_co_user = 40;   // items taken per co-user (an even sample beyond this)
  size_t trending_pool = 500;      // trending items kept for fallback and cold start
  float degree_penalty = 0.0f;     // scores divided by item degree^this (0: raw co-occurrence)
  // Items the user had an interaction of these types with are never listed.
  // Default: purchased or rated, not only clicked (shoppers click an item
  // several times before they buy it; the purchase is what matters).
  store::TypeMask exclude_types = store::TypeBit(EventType::kPurchase) | store::TypeBit(EventType::kRating);
};

// The `limit` heaviest neighbours of a list, heaviest first (for a user's list:
// their most recent, strongest items). For long lists the candidates are an
// evenly strided sample of 4*limit entries, bounding the cost.
std::vector<store::Neighbor> Heaviest(const store::NeighborList& list, size_t limit);

inline constexpr const char* kBaselineModelVersion = "baseline-cooc-1";

class BaselineRanker {
 public:
  BaselineRanker(const store::GraphStore& store, BaselineConfig config);

  // Recomputes the trending pool from item popularity. Call once per applied batch.
  void RefreshTrending();

  // The user's top-k list. Items the config's exclude_types filter out and
  // unavailable items are never listed. Ranking depends only on the graph (its
  // weights are epoch-referred, so no "now" enters the order); `generated_at`
  // is copied into the list as metadata. `k` > 0 ranks that deep instead of
  // the configured k (the pull API's deeper pages).
  RecommendationList Recommend(UserId user, EpochMillis generated_at, size_t k = 0) const;

  // Up to `limit` items most co-interacted with `item`, best first, that
  // `keep` accepts: over the item's heaviest co-users v, the sum of
  // w(v,item) * w(v,j), each weight relative to its list's heaviest, divided by
  // sqrt(#users of j) so that sheer popularity does not win (item-kNN's cosine
  // in spirit). The related items without a model (GET /v1/items/{id}/similar).
  std::vector<std::pair<ItemId, float>> RelatedItems(ItemId item, size_t limit,
                                                     const std::function<bool(ItemId)>& keep) const;

  // Whether the filters keep `item` out of `user`'s lists.
  bool Excluded(UserId user, ItemId item) const;

  const BaselineConfig& config() const { return config_; }
  // A reload (SIGHUP): the list length and the filters from here on.
  void SetListing(size_t k, store::TypeMask exclude_types) {
    config_.k = k;
    config_.exclude_types = exclude_types;
  }
  // Most popular available items first (RefreshTrending).
  const std::vector<ItemId>& trending() const { return trending_; }

 private:
  // Adds weight x w(co_user, j) for each item j of `co_user` but `skip` to the
  // scratch scores (each weight relative to the co-user's heaviest).
  void AddCoUserItems(UserId co_user, float weight, uint32_t skip) const;

  const store::GraphStore& store_;
  BaselineConfig config_;
  std::vector<ItemId> trending_;  // most popular first, available items only
  mutable std::vector<float> scratch_scores_;  // by ItemId, reset after each call
  mutable std::vector<uint32_t> scratch_touched_;
};

}  // namespace recd::model
