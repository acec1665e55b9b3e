#include "stream/codec.h"

#include <simdjson.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "base/time.h"

namespace recd::stream {

std::string_view Name(RejectReason reason) {
  switch (reason) {
    case RejectReason::kOversize: return "oversize";
    case RejectReason::kBadJson: return "bad_json";
    case RejectReason::kNotAnObject: return "not_an_object";
    case RejectReason::kMissingField: return "missing_field";
    case RejectReason::kWrongFieldType: return "wrong_field_type";
    case RejectReason::kUnknownType: return "unknown_type";
    case RejectReason::kBadTimestamp: return "bad_timestamp";
    case RejectReason::kRatingOutOfRange: return "rating_out_of_range";
    case RejectReason::kBadId: return "bad_id";
    case RejectReason::kBadAttributes: return "bad_attributes";
    case RejectReason::kBadEmbedding: return "bad_embedding";
  }
  return "unknown";
}

namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;

std::string_view TypeName(element_type t) {
  switch (t) {
    case element_type::ARRAY: return "an array";
    case element_type::OBJECT: return "an object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE: return "a number";
    case element_type::STRING: return "a string";
    case element_type::BOOL: return "a boolean";
    case element_type::NULL_VALUE: return "null";
  }
  return "something else";
}

bool IsNumber(element_type t) {
  return t == element_type::INT64 || t == element_type::UINT64 || t == element_type::DOUBLE;
}

double AsDouble(element e) {
  switch (e.type()) {
    case element_type::INT64: return static_cast<double>(int64_t(e));
    case element_type::UINT64: return static_cast<double>(uint64_t(e));
    default: return double(e);
  }
}

}  // namespace

struct EventDecoder::Impl {
  simdjson::dom::parser parser;
  std::string padded;  // input copied here with SIMDJSON_PADDING zero bytes behind it
};

EventDecoder::EventDecoder(DecoderLimits limits, const Clock& clock)
    : limits_(limits), clock_(clock), impl_(std::make_unique<Impl>()) {
  // Sized for the largest accepted message; parse() grows it if ever needed.
  if (impl_->parser.allocate(limits_.max_event_bytes + 64) != simdjson::SUCCESS) {
    throw std::bad_alloc();
  }
}
EventDecoder::~EventDecoder() = default;

DecodeResult EventDecoder::Decode(std::string_view bytes) {
  Event event;
  Rejection rejection;
  if (Decode(bytes, &event, &rejection)) return event;
  return rejection;
}

bool EventDecoder::Decode(std::string_view bytes, Event* out, Rejection* rej) {
  auto reject = [rej](RejectReason reason, std::string message) {
    rej->reason = reason;
    rej->message = std::move(message);
    return false;
  };
  if (bytes.size() > limits_.max_event_bytes) {
    return reject(RejectReason::kOversize,
                  "message is " + std::to_string(bytes.size()) + " bytes, over the limit of " +
                      std::to_string(limits_.max_event_bytes) +
                      " (stream.max_event_bytes); send large content vectors in smaller events "
                      "or raise the limit");
  }
  std::string& buf = impl_->padded;
  buf.resize(bytes.size() + simdjson::SIMDJSON_PADDING);
  std::memcpy(buf.data(), bytes.data(), bytes.size());
  std::memset(buf.data() + bytes.size(), 0, simdjson::SIMDJSON_PADDING);
  element root;
  if (auto err = impl_->parser.parse(buf.data(), bytes.size(), false).get(root); err) {
    return reject(RejectReason::kBadJson,
                  std::string("message is not valid JSON: ") + simdjson::error_message(err) +
                      "; send one UTF-8 JSON object per message");
  }
  simdjson::dom::object obj;
  if (root.get(obj)) {
    return reject(RejectReason::kNotAnObject,
                  std::string("message is ") + std::string(TypeName(root.type())) +
                      ", not a JSON object; send one object per message, e.g. "
                      "{\"type\":\"click\",\"user_id\":\"u1\",\"item_id\":\"i1\",\"ts\":...}");
  }

  // Pass 1: pick the known fields out of the object (unknown fields are ignored).
  element type_el, user_el, item_el, ts_el, rating_el, event_id_el, attrs_el, emb_el;
  bool has_type = false, has_user = false, has_item = false, has_ts = false, has_rating = false,
       has_event_id = false, has_attrs = false, has_emb = false;
  for (auto field : obj) {
    const std::string_view k = field.key;
    if (k == "type") { type_el = field.value; has_type = true; }
    else if (k == "user_id") { user_el = field.value; has_user = true; }
    else if (k == "item_id") { item_el = field.value; has_item = true; }
    else if (k == "ts") { ts_el = field.value; has_ts = true; }
    else if (k == "rating") { rating_el = field.value; has_rating = true; }
    else if (k == "event_id") { event_id_el = field.value; has_event_id = true; }
    else if (k == "attributes") { attrs_el = field.value; has_attrs = true; }
    else if (k == "embedding") { emb_el = field.value; has_emb = true; }
  }

  if (!has_type) {
    return reject(RejectReason::kMissingField,
                  "field \"type\" is missing; set it to one of click, purchase, rating, item, user");
  }
  std::string_view type_text;
  if (type_el.get(type_text)) {
    return reject(RejectReason::kWrongFieldType,
                  "field \"type\" is " + std::string(TypeName(type_el.type())) +
                      ", expected a string: one of click, purchase, rating, item, user");
  }
  bool known = false;
  for (size_t i = 0; i < kEventTypeCount; ++i) {
    if (kEventTypeNames[i] == type_text) {
      out->type = static_cast<EventType>(i);
      known = true;
    }
  }
  if (!known) {
    return reject(RejectReason::kUnknownType,
                  "field \"type\" is \"" + std::string(type_text.substr(0, 64)) +
                      "\", which is not an event type; use one of click, purchase, rating, item, user");
  }
  const EventType type = out->type;
  const bool needs_user = type != EventType::kItem;
  const bool needs_item = type != EventType::kUser;

  auto read_id = [&](const char* name, bool present, element el, std::string* dst) {
    dst->clear();
    if (!present) {
      return reject(RejectReason::kMissingField,
                    std::string("field \"") + name + "\" is missing; a " + std::string(type_text) +
                        " event needs it");
    }
    std::string_view v;
    if (el.get(v)) {
      return reject(RejectReason::kWrongFieldType,
                    std::string("field \"") + name + "\" is " + std::string(TypeName(el.type())) +
                        ", expected a string; quote numeric ids, e.g. \"42\"");
    }
    if (v.empty() || v.size() > limits_.max_id_bytes) {
      return reject(RejectReason::kBadId, std::string("field \"") + name + "\" is " +
                                              std::to_string(v.size()) +
                                              " bytes; ids must be 1.." +
                                              std::to_string(limits_.max_id_bytes) + " bytes");
    }
    dst->assign(v.data(), v.size());
    return true;
  };
  if (needs_user) {
    if (!read_id("user_id", has_user, user_el, &out->user_id)) return false;
  } else {
    out->user_id.clear();
  }
  if (needs_item) {
    if (!read_id("item_id", has_item, item_el, &out->item_id)) return false;
  } else {
    out->item_id.clear();
  }

  // Event time.
  if (!has_ts) {
    return reject(RejectReason::kMissingField,
                  "field \"ts\" is missing; give the event time as an RFC 3339 string "
                  "(\"2026-01-31T12:00:00Z\") or epoch milliseconds");
  }
  if (ts_el.type() == element_type::STRING) {
    std::string_view text = ts_el.get_string().value_unsafe();
    auto ms = ParseRfc3339(text);
    if (!ms) {
      return reject(RejectReason::kBadTimestamp,
                    "field \"ts\" is \"" + std::string(text.substr(0, 64)) +
                        "\", not an RFC 3339 time from 1970 on; use e.g. \"2026-01-31T12:00:00Z\"");
    }
    out->ts = *ms;
  } else if (ts_el.type() == element_type::INT64 || ts_el.type() == element_type::UINT64) {
    const int64_t ms = ts_el.type() == element_type::INT64
                           ? int64_t(ts_el)
                           : static_cast<int64_t>(std::min<uint64_t>(uint64_t(ts_el), INT64_MAX));
    // Below 1e11 (1973-03-03 in ms) the producer almost surely sent epoch *seconds*.
    if (ms < 100'000'000'000LL || ms > 253'402'300'799'999LL) {
      return reject(RejectReason::kBadTimestamp,
                    "field \"ts\" is " + std::to_string(ms) +
                        ", outside 1973-03-03..9999-12-31 in epoch milliseconds; if it is in "
                        "seconds, multiply by 1000");
    }
    out->ts = ms;
  } else {
    return reject(RejectReason::kBadTimestamp,
                  "field \"ts\" is " + std::string(TypeName(ts_el.type())) +
                      ", expected an RFC 3339 string or integer epoch milliseconds");
  }
  // One event dated far ahead would lead trending and decay until its date comes.
  if (limits_.max_future_skew_ms > 0) {
    const EpochMillis now = clock_.WallMillis();
    if (out->ts > now + limits_.max_future_skew_ms) {
      return reject(RejectReason::kBadTimestamp,
                    "field \"ts\" is " + FormatRfc3339(out->ts) + ", more than " +
                        std::to_string(limits_.max_future_skew_ms / 1000) + " s ahead of this host's clock (" +
                        FormatRfc3339(now) + "); send the time the event happened, or raise "
                        "stream.max_future_skew_s if producers' clocks run ahead");
    }
  }

  // Optional event id.
  out->event_id.clear();
  if (has_event_id) {
    if (!read_id("event_id", true, event_id_el, &out->event_id)) return false;
  }

  // Rating.
  out->rating = 0;
  if (type == EventType::kRating) {
    if (!has_rating) {
      return reject(RejectReason::kMissingField,
                    "field \"rating\" is missing; a rating event needs a number in [" +
                        std::to_string(limits_.rating_min) + ", " +
                        std::to_string(limits_.rating_max) + "]");
    }
    if (!IsNumber(rating_el.type())) {
      return reject(RejectReason::kWrongFieldType,
                    "field \"rating\" is " + std::string(TypeName(rating_el.type())) +
                        ", expected a number");
    }
    const double r = AsDouble(rating_el);
    if (!(r >= limits_.rating_min && r <= limits_.rating_max)) {
      return reject(RejectReason::kRatingOutOfRange,
                    "field \"rating\" is " + std::to_string(r) + ", outside the scale [" +
                        std::to_string(limits_.rating_min) + ", " +
                        std::to_string(limits_.rating_max) +
                        "] (stream.rating_min/rating_max); rescale it before sending");
    }
    out->rating = r;
  }

  // Metadata.
  out->attributes.clear();
  out->embedding.clear();
  if (has_attrs && (type == EventType::kItem || type == EventType::kUser)) {
    simdjson::dom::object attrs;
    if (attrs_el.get(attrs)) {
      return reject(RejectReason::kBadAttributes,
                    "field \"attributes\" is " + std::string(TypeName(attrs_el.type())) +
                        ", expected an object of string -> string or number");
    }
    if (attrs.size() > limits_.max_attributes) {
      return reject(RejectReason::kBadAttributes,
                    "field \"attributes\" has " + std::to_string(attrs.size()) +
                        " entries, more than the limit of " +
                        std::to_string(limits_.max_attributes));
    }
    for (auto field : attrs) {
      AttributeValue value;
      const auto t = field.value.type();
      if (t == element_type::STRING) {
        value.text = std::string(field.value.get_string().value_unsafe());
      } else if (IsNumber(t)) {
        value.is_number = true;
        value.number = AsDouble(field.value);
      } else {
        return reject(RejectReason::kBadAttributes,
                      "attribute \"" + std::string(field.key.substr(0, 64)) + "\" is " +
                          std::string(TypeName(t)) + ", expected a string or a number");
      }
      out->attributes.emplace_back(std::string(field.key), std::move(value));
    }
  }
  if (has_emb && type == EventType::kItem) {
    simdjson::dom::array arr;
    if (emb_el.get(arr)) {
      return reject(RejectReason::kBadEmbedding,
                    "field \"embedding\" is " + std::string(TypeName(emb_el.type())) +
                        ", expected an array of numbers");
    }
    if (arr.size() > limits_.max_embedding_dims) {
      return reject(RejectReason::kBadEmbedding,
                    "field \"embedding\" has " + std::to_string(arr.size()) +
                        " dimensions, more than the limit of " +
                        std::to_string(limits_.max_embedding_dims));
    }
    out->embedding.reserve(arr.size());
    size_t index = 0;
    for (element v : arr) {
      // Stored as float: a double beyond float's range (1e39) would become infinite.
      if (!IsNumber(v.type()) || !std::isfinite(AsDouble(v)) ||
          std::abs(AsDouble(v)) > static_cast<double>(std::numeric_limits<float>::max())) {
        return reject(RejectReason::kBadEmbedding, "field \"embedding\"[" + std::to_string(index) +
                                                       "] is not a finite number within a float's range (|x| <= 3.4e38)");
      }
      out->embedding.push_back(static_cast<float>(AsDouble(v)));
      ++index;
    }
  }
  return true;
}

std::string EncodeEvent(const Event& e) {
  nlohmann::json j;
  j["type"] = Name(e.type);
  if (!e.user_id.empty()) j["user_id"] = e.user_id;
  if (!e.item_id.empty()) j["item_id"] = e.item_id;
  j["ts"] = FormatRfc3339(e.ts);
  if (e.type == EventType::kRating) j["rating"] = e.rating;
  if (!e.event_id.empty()) j["event_id"] = e.event_id;
  if (!e.attributes.empty()) {
    nlohmann::json a = nlohmann::json::object();
    for (const auto& [key, value] : e.attributes) {
      if (value.is_number) {
        a[key] = value.number;
      } else {
        a[key] = value.text;
      }
    }
    j["attributes"] = std::move(a);
  }
  if (!e.embedding.empty()) j["embedding"] = e.embedding;
  return j.dump();
}

namespace {
nlohmann::json ItemsJson(const std::vector<ScoredItem>& items) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& item : items) {
    nlohmann::json j = {{"item_id", item.item_id}, {"score", item.score}};
    if (!item.reasons.empty()) {
      for (Reason r : item.reasons.list()) j["reasons"].push_back(Name(r));
    }
    out.push_back(std::move(j));
  }
  return out;
}

nlohmann::json ListJson(const RecommendationList& list) {
  nlohmann::json j = {{"user_id", list.user_id},
                      {"items", ItemsJson(list.items)},
                      {"k", list.k},
                      {"model_version", list.model_version},
                      {"generated_at", FormatRfc3339(list.generated_at)},
                      {"source", Name(list.source)}};
  return j;
}
}  // namespace

std::string EncodeRecommendationList(const RecommendationList& list) { return ListJson(list).dump(); }

std::string EncodeSimilarItems(const SimilarItemsList& list) {
  return nlohmann::json{{"item_id", list.item_id},
                        {"items", ItemsJson(list.items)},
                        {"k", list.items.size()},
                        {"model_version", list.model_version},
                        {"generated_at", FormatRfc3339(list.generated_at)}}
      .dump();
}

std::string EncodeReplayedList(const RecommendationList& list, EpochMillis published_at, int64_t after_input) {
  nlohmann::json j = ListJson(list);
  j["published_at"] = FormatRfc3339(published_at);
  j["after_input"] = after_input;
  return j.dump();
}

}  // namespace recd::stream
