// recd::base — the domain vocabulary shared by stream/ (which decodes and encodes
// it), store/ (which applies it) and model/ (which produces lists).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
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

// Why an item is in a list: the candidate sources that proposed it (the
// output's `reasons`), so a consumer can show "viewed recently" apart from
// discoveries.
enum class Reason : uint8_t {
  kViewed = 0,
  kCoOccurrence = 1,
  kRelated = 2,
  kWalked = 3,
  kTrending = 4,
  kSequence = 5,
  kSession = 6,   // similar sessions (session kNN)
  kSeasonal = 7,  // the most interacted-with items of this calendar window
  kNew = 8,       // a new item, placed by its attributes
};
inline constexpr size_t kReasonCount = 9;
inline constexpr std::array<std::string_view, kReasonCount> kReasonNames = {
    "viewed", "co_occurrence", "related", "walked", "trending", "sequence", "session", "seasonal", "new"};
inline std::string_view Name(Reason r) { return kReasonNames[static_cast<size_t>(r)]; }

// A set of reasons (at most one of each), in Reason order.
class ReasonSet {
 public:
  ReasonSet() = default;
  ReasonSet(std::initializer_list<Reason> reasons) {
    for (Reason r : reasons) Add(r);
  }
  void Add(Reason r) { bits_ = static_cast<uint16_t>(bits_ | Bit(r)); }
  void Add(ReasonSet other) { bits_ = static_cast<uint16_t>(bits_ | other.bits_); }
  bool Has(Reason r) const { return (bits_ & Bit(r)) != 0; }
  bool empty() const { return bits_ == 0; }
  std::vector<Reason> list() const {
    std::vector<Reason> out;
    for (size_t r = 0; r < kReasonCount; ++r) {
      if (Has(static_cast<Reason>(r))) out.push_back(static_cast<Reason>(r));
    }
    return out;
  }
  friend bool operator==(ReasonSet a, ReasonSet b) { return a.bits_ == b.bits_; }

 private:
  static uint16_t Bit(Reason r) { return static_cast<uint16_t>(1u << static_cast<unsigned>(r)); }
  uint16_t bits_ = 0;
  static_assert(kReasonCount <= 16, "ReasonSet holds 16 reasons");
};

struct ScoredItem {
  std::string item_id;
  float score = 0;
  ReasonSet reasons;  // empty where the list kind has none (similar items)
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
