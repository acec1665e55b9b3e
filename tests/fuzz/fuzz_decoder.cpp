// libFuzzer: any bytes into the event decoder. It accepts an event that keeps
// the schema's promises, or rejects the message with a reason; it never crashes.
#include <cmath>
#include <cstdint>
#include <string_view>

#include "stream/codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static recd::stream::EventDecoder decoder;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  recd::Event event;
  recd::stream::Rejection rejection;
  if (!decoder.Decode(bytes, &event, &rejection)) {
    if (rejection.message.empty()) __builtin_trap();  // every reject says why
    return 0;
  }
  const auto& limits = decoder.limits();
  const bool interaction = event.type == recd::EventType::kClick || event.type == recd::EventType::kPurchase ||
                           event.type == recd::EventType::kRating;
  if (interaction && (event.user_id.empty() || event.item_id.empty())) __builtin_trap();
  if (event.user_id.size() > limits.max_id_bytes || event.item_id.size() > limits.max_id_bytes) __builtin_trap();
  if (!std::isfinite(event.rating)) __builtin_trap();
  for (float v : event.embedding) {
    if (!std::isfinite(v)) __builtin_trap();
  }
  if (event.attributes.size() > limits.max_attributes) __builtin_trap();
  return 0;
}
