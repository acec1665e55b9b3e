// libFuzzer: any text as recd's TOML config. It loads, or fails with a message;
// it never crashes or throws.
#include <cstdint>
#include <string_view>

#include "daemon/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = recd::daemon::ParseConfig(text, "fuzz.toml", {});
  if (!config.ok() && config.status().message().empty()) __builtin_trap();
  return 0;
}
