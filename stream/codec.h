// recd::stream — the event codec: JSON bytes -> validated Event (simdjson), and
// RecommendationList -> JSON bytes. Pure functions of their input; no Kafka here.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "base/clock.h"
#include "base/event.h"

namespace recd::stream {

// Why a message was rejected. The name travels in the DLQ header `recd.error.code`.
enum class RejectReason : uint8_t {
  kOversize,
  kBadJson,
  kNotAnObject,
  kMissingField,
  kWrongFieldType,
  kUnknownType,
  kBadTimestamp,
  kRatingOutOfRange,
  kBadId,
  kBadAttributes,
  kBadEmbedding,
};
inline constexpr size_t kRejectReasonCount = 11;
std::string_view Name(RejectReason reason);

// A rejection: the reason code and a message that says what was wrong, where, and how to fix it.
struct Rejection {
  RejectReason reason;
  std::string message;
};

struct DecoderLimits {
  size_t max_event_bytes = 64 * 1024;  // larger messages are rejected unparsed
  size_t max_id_bytes = 256;
  size_t max_attributes = 64;
  size_t max_embedding_dims = 4096;
  double rating_min = 1.0;
  double rating_max = 5.0;
  // Events dated further than this ahead of the wall clock are refused (bad_timestamp); 0: no check.
  int64_t max_future_skew_ms = 24 * 3600 * 1000;
};

using DecodeResult = std::variant<Event, Rejection>;

// Decodes one message. Not thread-safe: it reuses one parser and one padded
// buffer; give each thread its own decoder.
class EventDecoder {
 public:
  // `clock` gives the wall time the far-future check compares against.
  explicit EventDecoder(DecoderLimits limits = {}, const Clock& clock = SystemClock());
  ~EventDecoder();
  EventDecoder(const EventDecoder&) = delete;
  EventDecoder& operator=(const EventDecoder&) = delete;

  // On success fills *out (its buffers are reused) and returns nullopt-like true.
  // Returns false and fills *rejection otherwise.
  bool Decode(std::string_view bytes, Event* out, Rejection* rejection);
  DecodeResult Decode(std::string_view bytes);

  const DecoderLimits& limits() const { return limits_; }

 private:
  struct Impl;
  DecoderLimits limits_;
  const Clock& clock_;
  std::unique_ptr<Impl> impl_;
};

// Encodes an event as the canonical JSON a producer would send (used by recgen,
// recreplay and tests). `ts` is written as RFC 3339.
std::string EncodeEvent(const Event& event);

// Encodes a list per DESIGN.md's output contract.
std::string EncodeRecommendationList(const RecommendationList& list);
// {"item_id", "items": [{"item_id","score"}...], "k", "model_version", "generated_at"}
std::string EncodeSimilarItems(const SimilarItemsList& list);
// The same JSON plus `published_at` (RFC 3339, event time) and `after_input`
// (the offset of the newest input record applied before the list was made):
// what `recd replay` writes, enough for any evaluator to recompute its metrics.
std::string EncodeReplayedList(const RecommendationList& list, EpochMillis published_at, int64_t after_input);

}  // namespace recd::stream
