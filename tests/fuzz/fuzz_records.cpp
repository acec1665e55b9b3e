// libFuzzer: any bytes as a stored record value (edges, attributes, stamped
// payloads, counters), as RocksDB might hand them back from a damaged store.
// Decoding refuses or succeeds; what decodes encodes back to a record that
// decodes the same, and merging it stays within the attribute cap.
#include <cstdint>
#include <string_view>

#include "store/records.h"

namespace r = recd::store::records;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      recd::store::EdgeRecord edge, again;
      if (!r::DecodeEdge(bytes, &edge)) return 0;
      if (!r::DecodeEdge(r::EncodeEdge(edge), &again) || again.counts != edge.counts) __builtin_trap();
      r::MergeEdges(edge, again);
      break;
    }
    case 1: {
      r::TimedAttributes attrs, again;
      if (!r::DecodeAttributes(bytes, &attrs)) return 0;
      if (!r::DecodeAttributes(r::EncodeAttributes(attrs), &again) || again.size() != attrs.size()) __builtin_trap();
      if (r::MergeAttributes(attrs, again, 8).size() > 9) __builtin_trap();  // the cap, plus "available"
      break;
    }
    case 2: {
      recd::EpochMillis ts = 0;
      std::string_view payload;
      if (r::DecodeStamped(bytes, &ts, &payload) && payload.size() > bytes.size()) __builtin_trap();
      break;
    }
    default: {
      recd::store::Counters counters, again;
      if (!r::DecodeCounters(bytes, &counters)) return 0;
      if (!r::DecodeCounters(r::EncodeCounters(counters), &again) || again.applied != counters.applied) __builtin_trap();
      break;
    }
  }
  return 0;
}
