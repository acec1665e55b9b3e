// Benchmark inputs shared by recd_bench and pinsage_bench.
#pragma once

#include <random>
#include <string>
#include <vector>

#include "store/graph_view.h"
#include "tests/test_util.h"

namespace recd {

inline constexpr EpochMillis kT0 = 1769860800000;

// Events shaped like recgen's: a mix of clicks, purchases and ratings with event ids.
inline std::vector<Event> MakeEvents(size_t n, uint32_t users, uint32_t items, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Event> events;
  events.reserve(n);
  for (size_t k = 0; k < n; ++k) {
    const auto type = static_cast<EventType>(rng() % 10 < 8 ? 0 : 1 + rng() % 2);
    events.push_back(testing::Interaction(type, "u" + std::to_string(rng() % users), "i" + std::to_string(rng() % items),
                                          kT0 + static_cast<EpochMillis>(k) * 1000, "e" + std::to_string(seed) + "-" + std::to_string(k),
                                          1 + static_cast<double>(rng() % 5)));
  }
  return events;
}

// A GraphView straight from events whose ids are "u<n>"/"i<n>", log-weights by
// event time (a two-week half-life), without a store.
inline store::GraphView ViewOf(const std::vector<Event>& events) {
  store::GraphView view;
  for (const Event& e : events) {
    view.AddInteraction(UserId(static_cast<uint32_t>(std::stoul(e.user_id.substr(1)))),
                        ItemId(static_cast<uint32_t>(std::stoul(e.item_id.substr(1)))), static_cast<double>(e.ts) / 1.2e9);
  }
  return view;
}

}  // namespace recd
