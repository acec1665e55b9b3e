// recd::base — strong types for dense ids, partitions and offsets. Depends on nothing of ours.
#pragma once

#include <cstdint>
#include <functional>

namespace recd {

// A dense id (0, 1, 2, ...) assigned by the store to an external string id.
template <typename Tag>
struct DenseId {
  uint32_t value = 0;
  constexpr DenseId() = default;
  constexpr explicit DenseId(uint32_t v) : value(v) {}
  friend constexpr bool operator==(DenseId a, DenseId b) { return a.value == b.value; }
  friend constexpr bool operator!=(DenseId a, DenseId b) { return a.value != b.value; }
  friend constexpr bool operator<(DenseId a, DenseId b) { return a.value < b.value; }
};
using UserId = DenseId<struct UserTag>;
using ItemId = DenseId<struct ItemTag>;

// Event time and output timestamps: milliseconds since the Unix epoch (UTC).
using EpochMillis = int64_t;

}  // namespace recd

namespace std {
template <typename Tag>
struct hash<recd::DenseId<Tag>> {
  size_t operator()(recd::DenseId<Tag> id) const noexcept { return std::hash<uint32_t>()(id.value); }
};
}  // namespace std
