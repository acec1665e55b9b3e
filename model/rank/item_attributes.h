// recd::rank — ItemAttributes: each item's text attribute values, interned to
// dense ids ("name=value" pairs; any attribute name but `available`, the
// store's stock flag; numeric values are left out: they rarely match exactly).
// Interned values are never forgotten: their number grows with the distinct
// text values the catalogue has ever had. One owner
// (ListBlender) feeds it at start and whenever an item's metadata changes; the
// features and the attribute-aware sources read it. Single-threaded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/event.h"

namespace recd::rank {

class ItemAttributes {
 public:
  // Replaces `item`'s values with `attributes`'.
  void Set(ItemId item, const Attributes& attributes);
  // The item's value ids, sorted and distinct; empty when it has none.
  const std::vector<uint32_t>& Of(uint32_t item) const { return item < values_.size() ? values_[item] : none_; }
  // Distinct values interned so far (ids are below this).
  size_t num_values() const { return ids_.size(); }
  // The value ids of each distinct item of `items`, counted: (value, items with it), unordered.
  std::vector<std::pair<uint32_t, uint32_t>> Count(const std::vector<uint32_t>& items) const;

 private:
  std::vector<std::vector<uint32_t>> values_;  // by item
  std::unordered_map<std::string, uint32_t> ids_;
  const std::vector<uint32_t> none_{};
};

}  // namespace recd::rank
