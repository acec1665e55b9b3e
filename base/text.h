// recd::base — small text helpers shared by readers of one-line files
// (model LATEST, bearer tokens).
#pragma once

#include <cctype>
#include <string>
#include <string_view>

namespace recd {

// `text` without leading and trailing whitespace (spaces, tabs, CR, LF).
inline std::string TrimSpace(std::string_view text) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return std::string(text);
}

}  // namespace recd
