#include "store/records.h"

#include <algorithm>
#include <cstring>
#include <map>

namespace recd::store::records {
namespace {

template <typename T>
void PutRaw(std::string* out, const T& v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

// Reads a little-endian-host value; false when the input is too short.
template <typename T>
bool GetRaw(std::string_view* in, T* v) {
  if (in->size() < sizeof(T)) return false;
  std::memcpy(v, in->data(), sizeof(T));
  in->remove_prefix(sizeof(T));
  return true;
}

bool GetBytes(std::string_view* in, size_t n, std::string_view* out) {
  if (in->size() < n) return false;
  *out = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

}  // namespace

void PutU32BE(std::string* out, uint32_t v) {
  char b[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out->append(b, 4);
}
void PutU64BE(std::string* out, uint64_t v) {
  PutU32BE(out, uint32_t(v >> 32));
  PutU32BE(out, uint32_t(v));
}
uint32_t GetU32BE(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t(u[0]) << 24) | (uint32_t(u[1]) << 16) | (uint32_t(u[2]) << 8) | uint32_t(u[3]);
}
uint64_t GetU64BE(const char* p) { return (uint64_t(GetU32BE(p)) << 32) | GetU32BE(p + 4); }

std::string PairKey(uint32_t a, uint32_t b) {
  std::string k;
  k.reserve(8);
  PutU32BE(&k, a);
  PutU32BE(&k, b);
  return k;
}
std::string DenseKey(char kind, uint32_t id) {
  std::string k(1, kind);
  PutU32BE(&k, id);
  return k;
}
std::string OffsetKey(const std::string& topic, int32_t partition) {
  std::string k = topic;
  k.push_back('\0');
  PutU32BE(&k, static_cast<uint32_t>(partition));
  return k;
}

// Edge: fixed layout, host byte order (the store is not meant to move between
// architectures; Checkpoint copies stay on the same kind of host).
std::string EncodeEdge(const EdgeRecord& r) {
  std::string out;
  out.reserve(60);
  out.push_back(1);  // format version
  for (uint32_t c : r.counts) PutRaw(&out, c);
  PutRaw(&out, r.log_weight);
  PutRaw(&out, r.first_ts);
  PutRaw(&out, r.last_ts);
  PutRaw(&out, r.last_rating_ts);
  PutRaw(&out, r.last_rating);
  return out;
}

bool DecodeEdge(std::string_view in, EdgeRecord* r) {
  if (in.empty() || in[0] != 1) return false;
  in.remove_prefix(1);
  for (uint32_t& c : r->counts) {
    if (!GetRaw(&in, &c)) return false;
  }
  return GetRaw(&in, &r->log_weight) && GetRaw(&in, &r->first_ts) && GetRaw(&in, &r->last_ts) &&
         GetRaw(&in, &r->last_rating_ts) && GetRaw(&in, &r->last_rating) && in.empty();
}

EdgeRecord MergeEdges(const EdgeRecord& a, const EdgeRecord& b) {
  EdgeRecord m;
  for (size_t i = 0; i < m.counts.size(); ++i) m.counts[i] = a.counts[i] + b.counts[i];
  m.log_weight = LogAddExp2(a.log_weight, b.log_weight);
  m.first_ts = std::min(a.first_ts, b.first_ts);
  m.last_ts = std::max(a.last_ts, b.last_ts);
  const EdgeRecord& rated = (b.counts[2] > 0 && (a.counts[2] == 0 || b.last_rating_ts >= a.last_rating_ts)) ? b : a;
  m.last_rating_ts = rated.last_rating_ts;
  m.last_rating = rated.last_rating;
  return m;
}

std::string EncodeAttributes(const TimedAttributes& attrs) {
  std::string out;
  out.push_back(1);
  PutRaw(&out, static_cast<uint32_t>(attrs.size()));
  for (const auto& [name, ta] : attrs) {
    PutRaw(&out, static_cast<uint32_t>(name.size()));
    out.append(name);
    PutRaw(&out, ta.ts);
    out.push_back(ta.value.is_number ? 1 : 0);
    if (ta.value.is_number) {
      PutRaw(&out, ta.value.number);
    } else {
      PutRaw(&out, static_cast<uint32_t>(ta.value.text.size()));
      out.append(ta.value.text);
    }
  }
  return out;
}

bool DecodeAttributes(std::string_view in, TimedAttributes* out) {
  out->clear();
  if (in.empty() || in[0] != 1) return false;
  in.remove_prefix(1);
  uint32_t n;
  if (!GetRaw(&in, &n)) return false;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t len;
    std::string_view name;
    TimedAttribute ta;
    char is_number;
    if (!GetRaw(&in, &len) || !GetBytes(&in, len, &name) || !GetRaw(&in, &ta.ts) ||
        !GetRaw(&in, &is_number)) {
      return false;
    }
    ta.value.is_number = is_number != 0;
    if (ta.value.is_number) {
      if (!GetRaw(&in, &ta.value.number)) return false;
    } else {
      std::string_view text;
      if (!GetRaw(&in, &len) || !GetBytes(&in, len, &text)) return false;
      ta.value.text.assign(text);
    }
    out->emplace_back(std::string(name), std::move(ta));
  }
  return in.empty();
}

TimedAttributes MergeAttributes(const TimedAttributes& older, const TimedAttributes& newer, size_t max_names) {
  std::map<std::string, TimedAttribute> merged(older.begin(), older.end());
  for (const auto& [name, ta] : newer) {
    auto it = merged.find(name);
    if (it == merged.end() || ta.ts >= it->second.ts) merged[name] = ta;
  }
  TimedAttributes out(merged.begin(), merged.end());
  if (out.size() <= max_names) return out;
  // Over the cap: rank by (kept flag, newest time, smaller name), keep the
  // first max_names, and restore the name order the record is stored in.
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    const bool a_kept = a.first == kAvailableAttribute, b_kept = b.first == kAvailableAttribute;
    if (a_kept != b_kept) return a_kept;
    if (a.second.ts != b.second.ts) return a.second.ts > b.second.ts;
    return a.first < b.first;
  });
  out.resize(max_names);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

std::string EncodeStamped(EpochMillis ts, std::string_view payload) {
  std::string out;
  PutRaw(&out, ts);
  out.append(payload);
  return out;
}

bool DecodeStamped(std::string_view in, EpochMillis* ts, std::string_view* payload) {
  if (!GetRaw(&in, ts)) return false;
  *payload = in;
  return true;
}

std::string EncodeCounters(const Counters& c) {
  std::string out;
  // Version 1 until a user is evicted, so that a binary from before eviction
  // still opens the store it wrote.
  const bool evicted = c.evicted_users > 0;
  out.push_back(evicted ? 2 : 1);
  for (uint64_t v : c.applied) PutRaw(&out, v);
  PutRaw(&out, c.duplicates);
  PutRaw(&out, c.rejected);
  PutRaw(&out, c.batches);
  if (!evicted) return out;
  PutRaw(&out, c.evicted_users);
  for (uint64_t v : c.evicted_interactions) PutRaw(&out, v);
  return out;
}

bool DecodeCounters(std::string_view in, Counters* c) {
  // Version 1 (stores written before eviction) lacks evicted_users.
  if (in.empty() || (in[0] != 1 && in[0] != 2)) return false;
  const char version = in[0];
  in.remove_prefix(1);
  for (uint64_t& v : c->applied) {
    if (!GetRaw(&in, &v)) return false;
  }
  if (!GetRaw(&in, &c->duplicates) || !GetRaw(&in, &c->rejected) || !GetRaw(&in, &c->batches)) return false;
  c->evicted_users = 0;
  c->evicted_interactions = {};
  if (version == 2) {
    if (!GetRaw(&in, &c->evicted_users)) return false;
    for (uint64_t& v : c->evicted_interactions) {
      if (!GetRaw(&in, &v)) return false;
    }
  }
  return in.empty();
}

namespace {

std::string_view View(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

// Decodes both operands, combines them and encodes the result; false (a merge
// failure RocksDB reports as corruption) when either operand is unreadable.
template <typename Record, typename Decode, typename Combine, typename Encode>
bool MergeRecords(const rocksdb::Slice* existing, const rocksdb::Slice& value, std::string* new_value,
                  Decode decode, Combine combine, Encode encode) {
  Record older, newer;
  if (!decode(View(value), &newer)) return false;
  if (!existing) {
    *new_value = value.ToString();
    return true;
  }
  if (!decode(View(*existing), &older)) return false;
  *new_value = encode(combine(older, newer));
  return true;
}

}  // namespace

bool EdgeMergeOperator::Merge(const rocksdb::Slice&, const rocksdb::Slice* existing,
                              const rocksdb::Slice& value, std::string* new_value,
                              rocksdb::Logger*) const {
  return MergeRecords<EdgeRecord>(existing, value, new_value, DecodeEdge, MergeEdges, EncodeEdge);
}

bool AttributeMergeOperator::Merge(const rocksdb::Slice&, const rocksdb::Slice* existing,
                                   const rocksdb::Slice& value, std::string* new_value,
                                   rocksdb::Logger*) const {
  auto merge = [this](const TimedAttributes& older, const TimedAttributes& newer) {
    return MergeAttributes(older, newer, max_names_);
  };
  return MergeRecords<TimedAttributes>(existing, value, new_value, DecodeAttributes, merge, EncodeAttributes);
}

bool NewestWinsMergeOperator::Merge(const rocksdb::Slice&, const rocksdb::Slice* existing,
                                    const rocksdb::Slice& value, std::string* new_value,
                                    rocksdb::Logger*) const {
  EpochMillis ts_new, ts_old;
  std::string_view p;
  if (!DecodeStamped(View(value), &ts_new, &p)) return false;
  if (existing && DecodeStamped(View(*existing), &ts_old, &p) &&
      ts_old > ts_new) {
    *new_value = existing->ToString();
  } else {
    *new_value = value.ToString();
  }
  return true;
}

}  // namespace recd::store::records
