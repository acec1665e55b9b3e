// recd::base — the project's one logging header. It includes no fmt/spdlog, so
// translation units that see LibTorch (which bundles its own fmt) can log too.
#pragma once

#include <sstream>
#include <string_view>

namespace recd::log {

enum class Level { kDebug, kInfo, kWarn, kError, kCritical };

// Thread-safe; writes one line to stderr (journald picks it up under systemd).
void Write(Level level, std::string_view message);
void SetLevel(Level level);
bool Enabled(Level level);
void Flush();
// Parses "debug|info|warn|error|critical"; false when unknown.
bool ParseLevel(std::string_view text, Level* out);

}  // namespace recd::log

#define RECD_LOG(level, stream_expr)                                       \
  do {                                                                     \
    if (::recd::log::Enabled(::recd::log::Level::level)) {                 \
      std::ostringstream _recd_os;                                         \
      _recd_os << stream_expr;                                             \
      ::recd::log::Write(::recd::log::Level::level, _recd_os.str());       \
    }                                                                      \
  } while (0)
#define RECD_DEBUG(x) RECD_LOG(kDebug, x)
#define RECD_INFO(x) RECD_LOG(kInfo, x)
#define RECD_WARN(x) RECD_LOG(kWarn, x)
#define RECD_ERROR(x) RECD_LOG(kError, x)
