#include "tools/event_file.h"

#include <fstream>

#include "stream/codec.h"

namespace recd::tools {

Result<EventFileStats> ForEachEvent(const std::string& path, const std::function<void(const Event&)>& on_event) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read " + path);
  stream::EventDecoder decoder;
  stream::Rejection rejection;
  Event e;
  EventFileStats stats;
  std::string line;
  while (std::getline(in, line)) {
    ++stats.lines;
    if (line.empty()) continue;
    if (!decoder.Decode(line, &e, &rejection)) {
      ++stats.rejected;
      continue;
    }
    on_event(e);
  }
  return stats;
}

}  // namespace recd::tools
