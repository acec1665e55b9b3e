// recd::base — RFC 3339 timestamps <-> epoch milliseconds, without locale or TZ state.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/ids.h"

namespace recd {

// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" (a space or 't' also
// separates date and time; 'z' is accepted). Returns nullopt when malformed or
// out of range (years 1970..9999). Fractions finer than a millisecond are truncated.
std::optional<EpochMillis> ParseRfc3339(std::string_view text);

// Formats as "YYYY-MM-DDTHH:MM:SS.mmmZ".
std::string FormatRfc3339(EpochMillis ms);

// Wall-clock now, for output metadata only (never for decay or seasons).
EpochMillis WallClockMillis();

}  // namespace recd
