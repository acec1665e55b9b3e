// Test helpers: the temporary directory fixtures own, and event builders.
#pragma once

#include <string>

#include "base/event.h"
#include "base/temp_dir.h"

namespace recd::testing {

using TempDir = recd::TempDir;

inline Event Interaction(EventType type, std::string user, std::string item, EpochMillis ts,
                         std::string event_id = "", double rating = 0) {
  Event e;
  e.type = type;
  e.user_id = std::move(user);
  e.item_id = std::move(item);
  e.ts = ts;
  e.event_id = std::move(event_id);
  e.rating = rating;
  return e;
}

inline Event ItemEvent(std::string item, EpochMillis ts, Attributes attrs) {
  Event e;
  e.type = EventType::kItem;
  e.item_id = std::move(item);
  e.ts = ts;
  e.attributes = std::move(attrs);
  return e;
}

inline AttributeValue Text(std::string s) {
  AttributeValue v;
  v.text = std::move(s);
  return v;
}

inline AttributeValue Number(double d) {
  AttributeValue v;
  v.is_number = true;
  v.number = d;
  return v;
}

}  // namespace recd::testing
