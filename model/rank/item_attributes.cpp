#include "model/rank/item_attributes.h"

#include <algorithm>
#include <string_view>

namespace recd::rank {
namespace {

constexpr std::string_view kAvailability = "available";

}  // namespace

void ItemAttributes::Set(ItemId item, const Attributes& attributes) {
  if (item.value >= values_.size()) values_.resize(item.value + 1);
  std::vector<uint32_t>& ids = values_[item.value];
  ids.clear();
  for (const auto& [name, value] : attributes) {
    // Numbers (prices, sizes) rarely match exactly and would intern a value per
    // item; "available" is the store's stock flag (GraphStore::ItemAvailable),
    // shared by nearly every item, not a taste.
    if (value.is_number || name == kAvailability) continue;
    std::string key = name;
    key += '\x1f';
    key += value.text;
    const auto [it, added] = ids_.emplace(std::move(key), static_cast<uint32_t>(ids_.size()));
    ids.push_back(it->second);
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

std::vector<std::pair<uint32_t, uint32_t>> ItemAttributes::Count(const std::vector<uint32_t>& items) const {
  std::unordered_map<uint32_t, uint32_t> counts;
  std::vector<uint32_t> distinct(items);
  std::sort(distinct.begin(), distinct.end());
  distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
  for (uint32_t i : distinct) {
    for (uint32_t v : Of(i)) ++counts[v];
  }
  return {counts.begin(), counts.end()};
}

}  // namespace recd::rank
