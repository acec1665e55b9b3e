// recgen --scenario shop: an e-commerce log with the phenomena of real shop logs
// (docs/evaluation.md, "The shop scenario", lists them with their measured
// shares): sessions of several views, purchases that follow views of the same
// item, repeat views, taste in several attributes, popularity driven by item
// appeal x season, new items arriving mid-season, sold-out items, and anonymous
// one-session visitors. Deterministic for a seed.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "base/event.h"

namespace recd::tools {

struct ShopOptions {
  uint64_t seed = 42;
  size_t items = 2000;
  size_t customers = 1500;        // registered customers (anonymous visitors come on top)
  size_t events = 100000;         // interaction events, approximately (whole sessions are generated)
  double days = 180;
  EpochMillis start = 0;
  double anonymous_sessions = 0.3;  // share of sessions by one-session anonymous visitors
  double new_items = 0.25;          // share of the catalogue released after the start
  double sold_out = 0.1;            // share of items that sell out once (half come back)
};

// Calls `emit` for every event in event-time order (metadata included: the
// catalogue at the start, new items when released, availability changes).
// Returns the measured shares of each phenomenon, as JSON.
nlohmann::json GenerateShop(const ShopOptions& options, const std::function<void(const Event&)>& emit);

}  // namespace recd::tools
