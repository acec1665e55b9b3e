#include "tools/event_file.h"

#include <fstream>

#include "stream/codec.h"

namespace recd::tools {

Result<EventFileStats> ForEachEvent(const std::string& path, const std::function<void(const Event&)>& on_event) {
  return ForEachEventAt(path, [&](const Event& e, int64_t) { on_event(e); });
}

Result<EventFileStats> ForEachEventAt(const std::string& path,
                                      const std::function<void(const Event&, int64_t line)>& on_event) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read " + path);
  // A file is history: the far-future guard (against live producers' clocks) does not apply.
  stream::DecoderLimits limits;
  limits.max_future_skew_ms = 0;
  stream::EventDecoder decoder(limits);
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
    on_event(e, static_cast<int64_t>(stats.lines) - 1);
  }
  return stats;
}

}  // namespace recd::tools
