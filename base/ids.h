// recd::base — strong types for dense ids, partitions and offsets. Depends on nothing of ours.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <tuple>

namespace recd {

// An integer that only compares with its own kind (Tag tells kinds apart).
template <typename Tag, typename T>
struct StrongValue {
  T value = 0;
  constexpr StrongValue() = default;
  constexpr explicit StrongValue(T v) : value(v) {}
  friend constexpr bool operator==(StrongValue a, StrongValue b) { return a.value == b.value; }
  friend constexpr bool operator!=(StrongValue a, StrongValue b) { return a.value != b.value; }
  friend constexpr bool operator<(StrongValue a, StrongValue b) { return a.value < b.value; }
  friend constexpr bool operator<=(StrongValue a, StrongValue b) { return a.value <= b.value; }
};

// A dense id (0, 1, 2, ...) assigned by the store to an external string id.
template <typename Tag>
using DenseId = StrongValue<Tag, uint32_t>;
using UserId = DenseId<struct UserTag>;
using ItemId = DenseId<struct ItemTag>;

// Event time and output timestamps: milliseconds since the Unix epoch (UTC).
using EpochMillis = int64_t;

// A position in one Kafka partition's log (or a line number in a replayed file).
using Offset = StrongValue<struct OffsetTag, int64_t>;

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

// The next offset to read in a partition: what the store commits with each
// batch, with a fingerprint of the record just before it, so a log replaced
// under the same name (a recreated topic, another file) is told apart.
struct PartitionOffset {
  TopicPartition tp;
  Offset next;
  uint64_t last_record_hash = 0;  // RecordHash of the record at next - 1; 0: unknown
};

}  // namespace recd

namespace std {
template <typename Tag, typename T>
struct hash<recd::StrongValue<Tag, T>> {
  size_t operator()(recd::StrongValue<Tag, T> id) const noexcept { return std::hash<T>()(id.value); }
};
}  // namespace std
