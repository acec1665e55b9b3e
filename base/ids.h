// recd::base — strong types for dense ids, partitions and offsets. Depends on nothing of ours.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <tuple>

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

// A position in one Kafka partition's log (or a line number in a replayed file).
struct Offset {
  int64_t value = 0;
  constexpr Offset() = default;
  constexpr explicit Offset(int64_t v) : value(v) {}
  friend constexpr bool operator==(Offset a, Offset b) { return a.value == b.value; }
  friend constexpr bool operator!=(Offset a, Offset b) { return a.value != b.value; }
  friend constexpr bool operator<(Offset a, Offset b) { return a.value < b.value; }
  friend constexpr bool operator<=(Offset a, Offset b) { return a.value <= b.value; }
  constexpr Offset next() const { return Offset(value + 1); }
};

// One partition of one topic: the unit the store keeps an offset for.
struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  friend bool operator==(const TopicPartition& a, const TopicPartition& b) {
    return a.partition == b.partition && a.topic == b.topic;
  }
  friend bool operator<(const TopicPartition& a, const TopicPartition& b) {
    return std::tie(a.topic, a.partition) < std::tie(b.topic, b.partition);
  }
  // "topic[partition]", as operators read it in logs.
  std::string ToString() const { return topic + "[" + std::to_string(partition) + "]"; }
};

// The next offset to read in a partition: what the store commits with each batch.
struct PartitionOffset {
  TopicPartition tp;
  Offset next;
};

}  // namespace recd

namespace std {
template <typename Tag>
struct hash<recd::DenseId<Tag>> {
  size_t operator()(recd::DenseId<Tag> id) const noexcept { return std::hash<uint32_t>()(id.value); }
};
}  // namespace std
