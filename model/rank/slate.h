// recd::rank — Slate: every candidate a user's list is chosen from, with what
// each source said of it (score and 1-based rank, 0 when it did not propose
// it), the hand blend's fused score and the reasons. ListBlender gathers it;
// the hand blend or a learnt RankingModel orders it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/event.h"

namespace recd::rank {

// The slots of the per-source features, in this fixed order (the feature
// layout depends on it): the ranker's own list (co-occurrence or PinSage), then
// the sources of this folder.
enum class SourceSlot : uint8_t {
  kRanker = 0,
  kViewed,
  kSequence,
  kCoVisit,
  kUnseenTrending,
  kSessionKnn,
  kSeasonal,
  kCategoryTrending,
  kNewItems,
};
inline constexpr size_t kSourceSlots = 9;
inline constexpr std::array<const char*, kSourceSlots> kSourceSlotNames = {
    "ranker", "viewed", "sequence", "covisit", "unseen_trending", "session_knn", "seasonal", "category_trending",
    "new_items"};

struct SlateEntry {
  std::string item_id;
  uint32_t item = 0;        // dense ItemId value
  float blend = 0;          // the hand blend's weighted reciprocal rank fusion score
  ReasonSet reasons;
  std::array<float, kSourceSlots> source_score{};   // the source's own score (0 when not proposed)
  std::array<uint16_t, kSourceSlots> source_rank{};  // 1-based; 0: not proposed
};

using Slate = std::vector<SlateEntry>;

}  // namespace recd::rank
