// recd tools — reading the JSONL event files recgen and recreplay write, with the
// daemon's own decoder, so offline tools accept exactly what the daemon accepts.
#pragma once

#include <functional>
#include <string>

#include "base/event.h"
#include "base/status.h"

namespace recd::tools {

struct EventFileStats {
  size_t lines = 0;
  size_t rejected = 0;  // lines the decoder refused (the daemon would dead-letter them)
};

// Calls `on_event` for every valid event of `path`, in file order.
Result<EventFileStats> ForEachEvent(const std::string& path, const std::function<void(const Event&)>& on_event);
// The same, with each event's 0-based line number (the offset `recd replay` gives it).
Result<EventFileStats> ForEachEventAt(const std::string& path,
                                      const std::function<void(const Event&, int64_t line)>& on_event);

}  // namespace recd::tools
