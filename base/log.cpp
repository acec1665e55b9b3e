#include "base/log.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace recd::log {
namespace {

spdlog::logger& Logger() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    auto l = spdlog::stderr_logger_mt("recd");
    l->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
    l->set_level(spdlog::level::info);
    return l;
  }();
  return *logger;
}

spdlog::level::level_enum ToSpd(Level level) {
  switch (level) {
    case Level::kDebug: return spdlog::level::debug;
    case Level::kInfo: return spdlog::level::info;
    case Level::kWarn: return spdlog::level::warn;
    case Level::kError: return spdlog::level::err;
    case Level::kCritical: return spdlog::level::critical;
  }
  return spdlog::level::info;
}

}  // namespace

void Write(Level level, std::string_view message) { Logger().log(ToSpd(level), message); }
void SetLevel(Level level) { Logger().set_level(ToSpd(level)); }
bool Enabled(Level level) { return Logger().should_log(ToSpd(level)); }
void Flush() { Logger().flush(); }

bool ParseLevel(std::string_view text, Level* out) {
  static constexpr std::pair<std::string_view, Level> kNames[] = {
      {"debug", Level::kDebug}, {"info", Level::kInfo},   {"warn", Level::kWarn},
      {"error", Level::kError}, {"critical", Level::kCritical}};
  for (const auto& [name, level] : kNames) {
    if (name == text) {
      *out = level;
      return true;
    }
  }
  return false;
}

}  // namespace recd::log
