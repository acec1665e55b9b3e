// Test helpers: a temporary directory owned by the fixture, and event builders.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>

#include "base/event.h"

namespace recd::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "recd-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

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
