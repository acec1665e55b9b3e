// recd::base — the domain vocabulary shared by stream/ (which decodes and encodes
// it), store/ (which applies it) and model/ (which produces lists).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/ids.h"

namespace recd {

enum class EventType : uint8_t { kClick = 0, kPurchase = 1, kRating = 2, kItem = 3, kUser = 4 };
inline constexpr size_t kEventTypeCount = 5;
inline constexpr std::array<std::string_view, kEventTypeCount> kEventTypeNames = {
    "click", "purchase", "rating", "item", "user"};
inline std::string_view Name(EventType t) { return kEventTypeNames[static_cast<size_t>(t)]; }
inline bool IsInteraction(EventType t) { return t <= EventType::kRating; }

// An attribute value is a string or a number (JSON `attributes` object values).
struct AttributeValue {
  bool is_number = false;
  double number = 0;
  std::string text;
  friend bool operator==(const AttributeValue& a, const AttributeValue& b) {
    return a.is_number == b.is_number && (a.is_number ? a.number == b.number : a.text == b.text);
  }
};
using Attributes = std::vector<std::pair<std::string, AttributeValue>>;

// One validated input event (see DESIGN.md "Contracts"). Fields a type does not use are empty.
struct Event {
  EventType type = EventType::kClick;
  std::string user_id;
  std::string item_id;
  std::string event_id;  // empty when the producer gave none
  EpochMillis ts = 0;    // event time
  double rating = 0;     // kRating only
  Attributes attributes;        // kItem / kUser only
  std::vector<float> embedding; // kItem only, may be empty
};

// Where a list came from.
enum class ListSource : uint8_t { kPersonalized, kColdStart, kTrending };
inline std::string_view Name(ListSource s) {
  switch (s) {
    case ListSource::kPersonalized: return "personalized";
    case ListSource::kColdStart: return "cold_start";
    case ListSource::kTrending: return "trending";
  }
  return "unknown";
}

struct ScoredItem {
  std::string item_id;
  float score = 0;
};

// One user's top-K list, as published on the recommendation topic.
// An item's related items (topic recd.similar-items, key = item id): its
// nearest items by the active model's embeddings.
struct SimilarItemsList {
  std::string item_id;
  std::vector<ScoredItem> items;
  std::string model_version;
  EpochMillis generated_at = 0;
};

struct RecommendationList {
  std::string user_id;
  std::vector<ScoredItem> items;
  uint32_t k = 0;
  std::string model_version;
  EpochMillis generated_at = 0;
  ListSource source = ListSource::kPersonalized;
};

}  // namespace recd
