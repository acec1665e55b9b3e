// recd::store internal — RocksDB key and value encodings and the merge operators
// that let a batch write edges and attributes without reading them first.
#pragma once

#include <rocksdb/merge_operator.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/event.h"
#include "store/graph_store.h"

namespace recd::store::records {

// Big-endian so that RocksDB's bytewise order is numeric order.
void PutU32BE(std::string* out, uint32_t v);
void PutU64BE(std::string* out, uint64_t v);
uint32_t GetU32BE(const char* p);
uint64_t GetU64BE(const char* p);

std::string PairKey(uint32_t a, uint32_t b);      // 8 bytes: a then b
std::string DenseKey(char kind, uint32_t id);     // kind byte + BE id
std::string OffsetKey(const std::string& topic, int32_t partition);

inline constexpr char kUserKind = 'u';
inline constexpr char kItemKind = 'i';

std::string EncodeEdge(const EdgeRecord& r);
bool DecodeEdge(std::string_view bytes, EdgeRecord* out);
EdgeRecord MergeEdges(const EdgeRecord& a, const EdgeRecord& b);

// Attributes with a per-field event time; merging keeps each field's newest value.
// A merged record holds at most `max_names` fields, so that names sent over many
// events cannot grow it without end: the fields with the newest event times stay
// (ties: the smaller name), and `available` (the sold-out flag) always stays.
struct TimedAttribute {
  EpochMillis ts;
  AttributeValue value;
};
using TimedAttributes = std::vector<std::pair<std::string, TimedAttribute>>;  // sorted by name
std::string EncodeAttributes(const TimedAttributes& attrs);
bool DecodeAttributes(std::string_view bytes, TimedAttributes* out);
inline constexpr std::string_view kAvailableAttribute = "available";
TimedAttributes MergeAttributes(const TimedAttributes& older, const TimedAttributes& newer, size_t max_names);

// A value stamped with an event time; merging keeps the newest (ties: the later write).
std::string EncodeStamped(EpochMillis ts, std::string_view payload);
bool DecodeStamped(std::string_view bytes, EpochMillis* ts, std::string_view* payload);

std::string EncodeCounters(const Counters& c);
bool DecodeCounters(std::string_view bytes, Counters* out);

class EdgeMergeOperator : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& key, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger* logger) const override;
  const char* Name() const override { return "recd.EdgeMerge.v1"; }
};

class AttributeMergeOperator : public rocksdb::AssociativeMergeOperator {
 public:
  explicit AttributeMergeOperator(size_t max_names) : max_names_(max_names) {}
  bool Merge(const rocksdb::Slice& key, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger* logger) const override;
  const char* Name() const override { return "recd.AttributeMerge.v1"; }

 private:
  size_t max_names_;
};

class NewestWinsMergeOperator : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice& key, const rocksdb::Slice* existing, const rocksdb::Slice& value,
             std::string* new_value, rocksdb::Logger* logger) const override;
  const char* Name() const override { return "recd.NewestWins.v1"; }
};

}  // namespace recd::store::records
