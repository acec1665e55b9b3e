// recgen — a deterministic, seeded generator of a fashion-like shop: a catalogue
// (category, colour, style, season, price band), users whose tastes drift, and
// clicks, purchases and ratings over simulated months with seasonal popularity.
// Writes JSONL and/or produces to Kafka; --summary writes what was emitted, so a
// test can check the daemon's counts exactly.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "base/log.h"
#include "base/time.h"
#include "stream/codec.h"
#include "tools/event_sink.h"
#include "tools/recgen_catalogue.h"
#include "tools/shop_scenario.h"

namespace {

using recd::Event;
using recd::EventType;
using namespace recd::tools::recgen;

struct Item {
  std::string id;
  size_t category, colour, style, price;
};

struct User {
  std::string id;
  size_t style, price;
  std::array<size_t, 2> colours;
};

// The shop scenario: generated whole (it sorts sessions into event-time order), then emitted.
int RunShop(const recd::tools::ShopOptions& options, recd::tools::EventSink& sink, const std::string& summary_path) {
  std::array<uint64_t, recd::kEventTypeCount> by_type{};
  std::set<std::string> active_users;
  const nlohmann::json measured = recd::tools::GenerateShop(options, [&](const Event& e) {
    ++by_type[static_cast<size_t>(e.type)];
    if (!e.user_id.empty()) active_users.insert(e.user_id);
    // The catalogue at the start goes unpaced, like the other scenarios' metadata phase.
    const bool paced = e.ts > options.start || recd::IsInteraction(e.type);
    if (recd::Status s = sink.Emit(e.type == EventType::kItem ? e.item_id : e.user_id, recd::stream::EncodeEvent(e), paced);
        !s.ok()) {
      std::fprintf(stderr, "recgen: %s\n", s.ToString().c_str());
      std::exit(1);
    }
  });
  if (recd::Status s = sink.Close(); !s.ok()) {
    std::fprintf(stderr, "recgen: %s\n", s.ToString().c_str());
    return 1;
  }
  if (!summary_path.empty()) {
    nlohmann::json j;
    j["seed"] = options.seed;
    j["lines"] = sink.emitted();
    for (size_t t = 0; t < recd::kEventTypeCount; ++t) j["by_type"][std::string(recd::kEventTypeNames[t])] = by_type[t];
    j["duplicates"] = 0;
    j["malformed_total"] = 0;
    j["users"] = std::vector<std::string>(active_users.begin(), active_users.end());
    j["shop"] = measured;
    // Replace, not throw: some malformed payloads are invalid UTF-8 on purpose
    // (recctl read shows the DLQ's copies the same way).
    std::ofstream(summary_path) << j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  std::fprintf(stderr, "recgen: emitted %llu messages; shop scenario, measured: %s\n",
               static_cast<unsigned long long>(sink.emitted()), measured.dump().c_str());
  return 0;
}

}  // namespace

namespace {

// The n-th malformed message (they rotate through every kind) and the reason
// recd must give it on the DLQ. The first six are plain producer mistakes; the
// rest are hostile (issue 17): invalid UTF-8, nesting 10,000 deep, numbers no
// float holds, timestamps at 0, negative and past 9999, ids of 1 KB and 100 KB,
// too many attribute names.
std::pair<std::string, std::string> MalformedMessage(size_t seq, recd::EpochMillis ts) {
  const std::string tag = std::to_string(seq);
  const std::string at = std::to_string(ts);
  const std::string click = "{\"type\":\"click\",\"user_id\":\"u1\",\"item_id\":\"i1\",\"seq\":" + tag;
  switch (seq % 19) {
    case 0: return {"bad_json", "{\"type\":\"click\",\"user_id\":\"u1\",\"seq\":" + tag + ","};
    case 1: return {"missing_field", "{\"type\":\"click\",\"item_id\":\"i1\",\"ts\":" + at + ",\"seq\":" + tag + "}"};
    case 2: return {"unknown_type", "{\"type\":\"wishlist\",\"user_id\":\"u1\",\"item_id\":\"i1\",\"ts\":" + at + ",\"seq\":" + tag + "}"};
    case 3: return {"bad_timestamp", "{\"type\":\"click\",\"user_id\":\"u1\",\"item_id\":\"i1\",\"ts\":\"yesterday " + tag + "\"}"};
    case 4: return {"rating_out_of_range", "{\"type\":\"rating\",\"user_id\":\"u1\",\"item_id\":\"i1\",\"ts\":" + at + ",\"rating\":" + std::to_string(7 + seq) + "}"};
    case 5: return {"oversize", click + ",\"ts\":" + at + ",\"pad\":\"" + std::string(70 * 1024, 'x') + "\"}"};
    case 6: return {"bad_json", "{\"type\":\"click\",\"user_id\":\"u\xc3\x28" + tag + "\",\"item_id\":\"i1\",\"ts\":" + at + "}"};
    case 7: return {"bad_json", click + ",\"ts\":" + at + ",\"x\":" + std::string(10000, '[') + std::string(10000, ']') + "}"};
    case 8: return {"bad_json", "{\"type\":\"rating\",\"user_id\":\"u1\",\"item_id\":\"i1\",\"ts\":" + at + ",\"rating\":NaN,\"seq\":" + tag + "}"};
    case 9: return {"rating_out_of_range", "{\"type\":\"rating\",\"user_id\":\"u1\",\"item_id\":\"i1\",\"ts\":" + at + ",\"rating\":1e39,\"seq\":" + tag + "}"};
    case 10: return {"bad_embedding", "{\"type\":\"item\",\"item_id\":\"i1\",\"ts\":" + at + ",\"embedding\":[0.5,1e39],\"seq\":" + tag + "}"};
    case 11: return {"bad_timestamp", click + ",\"ts\":0}"};
    case 12: return {"bad_timestamp", click + ",\"ts\":-" + at + "}"};
    case 13: return {"bad_timestamp", click + ",\"ts\":\"10000-01-01T00:00:00Z\"}"};
    case 14: return {"bad_id", "{\"type\":\"click\",\"user_id\":\"" + std::string(1024, 'u') + tag + "\",\"item_id\":\"i1\",\"ts\":" + at + "}"};
    case 15: return {"oversize", "{\"type\":\"click\",\"user_id\":\"" + std::string(100 * 1024, 'u') + tag + "\",\"item_id\":\"i1\",\"ts\":" + at + "}"};
    case 16: return {"not_an_object", "[\"click\",\"u1\",\"i1\"," + at + "," + tag + "]"};
    case 17: return {"wrong_field_type", "{\"type\":\"click\",\"user_id\":" + tag + ",\"item_id\":\"i1\",\"ts\":" + at + "}"};
    default: {
      std::string attrs;
      for (int k = 0; k < 65; ++k) attrs += (k ? "," : "") + std::string("\"a") + std::to_string(k) + "\":" + tag;
      return {"bad_attributes", "{\"type\":\"item\",\"item_id\":\"i1\",\"ts\":" + at + ",\"attributes\":{" + attrs + "}}"};
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"recgen: deterministic fashion-shop event generator"};
  uint64_t seed = 42;
  size_t n_items = 2000, n_users = 5000, n_events = 100000;
  double days = 180, malformed_fraction = 0, duplicate_fraction = 0.005;
  std::string start = "2025-09-01T00:00:00Z", summary_path, scenario = "drift";
  recd::tools::SinkOptions sink_options;
  bool metadata = true;
  size_t flood_sessions = 0;
  app.add_option("--seed", seed, "random seed (same seed, same output)");
  app.add_option("--items", n_items, "catalogue size");
  app.add_option("--users", n_users, "number of users");
  app.add_option("--events", n_events, "interaction events to generate (malformed and duplicates included)");
  app.add_option("--days", days, "simulated span of event time, in days");
  app.add_option("--start", start, "RFC 3339 event time of the first event");
  app.add_option("--scenario", scenario,
                 "drift: seasonal popularity that rises and falls smoothly, tastes drifting; seasons: the same, "
                 "but summer and winter items switch sharply on 1 April and 1 October; shop: sessions of "
                 "views, purchases of viewed items, new and sold-out items, anonymous visitors (--users are the "
                 "registered customers; --events is approximate; no malformed or duplicate messages)")
      ->check(CLI::IsMember({"drift", "seasons", "shop"}))
      ->capture_default_str();
  app.add_option("--malformed-fraction", malformed_fraction, "share of malformed messages, 0..1");
  app.add_option("--duplicate-fraction", duplicate_fraction, "share of re-sent events (same event_id), 0..1");
  app.add_flag("!--no-metadata", metadata, "skip the item and user metadata events");
  app.add_option("--flood-sessions", flood_sessions,
                 "also send this many clicks, each by a new random session id (\"anon-\" and 16 hex digits) on a "
                 "popular item, spread evenly through the stream: an id flood (drift and seasons only)");
  recd::tools::AddSinkOptions(app, &sink_options);
  app.add_option("--rate", sink_options.rate, "interaction events per second (0: as fast as possible); metadata goes first, unpaced");
  app.add_option("--summary", summary_path, "write a JSON summary of what was emitted here");
  recd::tools::ShopOptions shop;
  app.add_option("--anonymous-sessions", shop.anonymous_sessions, "shop: share of sessions by anonymous visitors")
      ->capture_default_str();
  app.add_option("--new-items", shop.new_items, "shop: share of the catalogue released after the start")
      ->capture_default_str();
  app.add_option("--sold-out", shop.sold_out, "shop: share of items that sell out once")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  const auto start_ms = recd::ParseRfc3339(start);
  if (!start_ms) {
    std::fprintf(stderr, "recgen: --start %s is not an RFC 3339 time\n", start.c_str());
    return 2;
  }
  if (n_items == 0 || n_users == 0 || days <= 0 || malformed_fraction < 0 || malformed_fraction > 1 ||
      duplicate_fraction < 0 || duplicate_fraction > 1) {
    std::fprintf(stderr, "recgen: --items/--users must be > 0, --days > 0, fractions in [0, 1]\n");
    return 2;
  }
  auto sink = recd::tools::EventSink::Open(sink_options);
  if (!sink.ok()) {
    std::fprintf(stderr, "recgen: %s\n", sink.status().ToString().c_str());
    return 1;
  }

  if (scenario == "shop") {
    shop.seed = seed;
    shop.items = n_items;
    shop.customers = n_users;
    shop.events = n_events;
    shop.days = days;
    shop.start = *start_ms;
    for (double share : {shop.anonymous_sessions, shop.new_items, shop.sold_out}) {
      if (share < 0 || share > 1) {
        std::fprintf(stderr, "recgen: --anonymous-sessions, --new-items and --sold-out are shares in [0, 1]\n");
        return 2;
      }
    }
    if (flood_sessions > 0) {
      std::fprintf(stderr, "recgen: --flood-sessions is for the drift and seasons scenarios\n");
      return 2;
    }
    return RunShop(shop, **sink, summary_path);
  }
  Rng rng(seed);
  std::vector<Item> items(n_items);
  for (size_t i = 0; i < n_items; ++i) {
    items[i] = {"i" + std::to_string(i), rng.Below(kCategories.size()), rng.Below(kColours.size()),
                rng.Below(kStyles.size()), rng.Below(kPriceBands.size())};
  }
  std::vector<User> users(n_users);
  for (size_t u = 0; u < n_users; ++u) {
    users[u] = {"u" + std::to_string(u), rng.Below(kStyles.size()), rng.Below(kPriceBands.size()),
                {rng.Below(kColours.size()), rng.Below(kColours.size())}};
  }
  // Items by style, each list ordered by a fixed per-item popularity rank.
  std::vector<std::vector<size_t>> by_style(kStyles.size());
  for (size_t i = 0; i < n_items; ++i) by_style[items[i].style].push_back(i);

  std::array<uint64_t, recd::kEventTypeCount> by_type{};
  std::map<std::string, uint64_t> malformed_by_reason;
  std::vector<std::string> malformed_payloads;
  std::set<std::string> active_users;
  bool metadata_phase = true;  // the catalogue and profiles are sent at once, unpaced
  uint64_t duplicates = 0, lines = 0;
  auto emit = [&](const std::string& key, const std::string& value) {
    ++lines;
    if (recd::Status s = (*sink)->Emit(key, value, /*paced=*/!metadata_phase); !s.ok()) {
      std::fprintf(stderr, "recgen: %s\n", s.ToString().c_str());
      std::exit(1);
    }
  };
  auto emit_event = [&](const Event& e) {
    ++by_type[static_cast<size_t>(e.type)];
    if (!e.user_id.empty()) active_users.insert(e.user_id);
    emit(e.type == EventType::kItem ? e.item_id : e.user_id, recd::stream::EncodeEvent(e));
  };

  const recd::EpochMillis t0 = *start_ms;
  if (metadata) {
    for (const Item& it : items) {
      Event e;
      e.type = EventType::kItem;
      e.item_id = it.id;
      e.ts = t0;
      e.event_id = "item-" + it.id;
      auto text = [](const char* s) { recd::AttributeValue v; v.text = s; return v; };
      e.attributes = {{"category", text(kCategories[it.category].name)},
                      {"colour", text(kColours[it.colour])},
                      {"style", text(kStyles[it.style])},
                      {"season", text(kSeasonNames[kCategories[it.category].season])},
                      {"price_band", text(kPriceBands[it.price])}};
      emit_event(e);
    }
    for (size_t u = 0; u < n_users; u += 10) {  // a tenth of users send a profile
      Event e;
      e.type = EventType::kUser;
      e.user_id = users[u].id;
      e.ts = t0;
      e.event_id = "user-" + users[u].id;
      recd::AttributeValue band;
      band.text = kPriceBands[users[u].price];
      e.attributes = {{"price_band", band}};
      emit_event(e);
    }
  }

  metadata_phase = false;
  const double span_ms = days * 86'400'000.0;
  std::vector<Event> recent;  // for re-sending duplicates
  size_t malformed_seq = 0;
  // The flood has a generator of its own, so the rest of the stream is the same with it or without.
  Rng flood_rng(seed ^ 0xF100D5E55105ULL);
  size_t flooded = 0;
  for (size_t n = 0; n < n_events; ++n) {
    const auto ts = t0 + static_cast<recd::EpochMillis>(span_ms * static_cast<double>(n) / static_cast<double>(n_events));
    // Before event n, the sessions due by then: flood_sessions * (n + 1) / n_events in all.
    for (const size_t due = flood_sessions * (n + 1) / n_events; flooded < due; ++flooded) {
      char id[32];
      std::snprintf(id, sizeof id, "anon-%016llx", static_cast<unsigned long long>(flood_rng.Next()));
      Event e;
      e.type = EventType::kClick;
      e.user_id = id;
      const auto& pool = by_style[flood_rng.Below(kStyles.size())];
      e.item_id = items[pool.empty() ? flood_rng.Below(n_items) : pool[flood_rng.Skewed(pool.size())]].id;
      e.ts = ts;
      e.event_id = "flood" + std::to_string(seed) + "-" + std::to_string(flooded);
      emit_event(e);
    }
    const double draw = rng.Uniform();
    if (draw < malformed_fraction) {
      const auto [kind, payload] = MalformedMessage(malformed_seq++, ts);
      ++malformed_by_reason[kind];
      malformed_payloads.push_back(payload.size() > 256 ? payload.substr(0, 256) : payload);
      emit("", payload);
      continue;
    }
    if (draw < malformed_fraction + duplicate_fraction && !recent.empty()) {
      const Event& again = recent[rng.Below(recent.size())];
      ++duplicates;
      emit(again.user_id, recd::stream::EncodeEvent(again));  // same event_id: must be dropped
      continue;
    }
    // A user (skewed activity), whose style drifts: every ~60 days a third of users move on.
    const size_t u = rng.Skewed(n_users);
    User& user = users[u];
    const uint64_t epoch = static_cast<uint64_t>((ts - t0) / (60 * 86'400'000LL));
    const size_t style = (user.style + (((u * 2654435761u) ^ epoch) % 3 == 0 ? epoch : 0)) % kStyles.size();
    // An item: mostly the user's style, seasonally weighted; sometimes anything popular.
    const auto& pool = rng.Uniform() < 0.8 ? by_style[style] : by_style[rng.Below(kStyles.size())];
    if (pool.empty()) continue;
    size_t item = pool[rng.Skewed(pool.size())];
    for (int tries = 0; tries < 8; ++tries) {
      const Item& cand = items[item];
      const int season = kCategories[cand.category].season;
      double w = scenario == "seasons" ? SharpSeasonWeight(season, DayOfYear(ts)) : SeasonalWeight(season, DayOfYear(ts));
      if (cand.colour == user.colours[0] || cand.colour == user.colours[1]) w = std::min(1.0, w * 1.5);
      if (rng.Uniform() < w) break;
      item = pool[rng.Skewed(pool.size())];
    }
    Event e;
    e.user_id = user.id;
    e.item_id = items[item].id;
    e.ts = ts;
    e.event_id = "e" + std::to_string(seed) + "-" + std::to_string(n);
    const double kind = rng.Uniform();
    if (kind < 0.80) {
      e.type = EventType::kClick;
    } else if (kind < 0.92) {
      e.type = EventType::kPurchase;
    } else {
      e.type = EventType::kRating;
      const bool likes = items[item].colour == user.colours[0] || items[item].price == user.price;
      e.rating = std::min(5.0, std::max(1.0, std::round((likes ? 4.2 : 2.8) + (rng.Uniform() - 0.5) * 2.5)));
    }
    emit_event(e);
    if (recent.size() < 1000) recent.push_back(e); else recent[rng.Below(recent.size())] = e;
  }
  if (recd::Status s = (*sink)->Close(); !s.ok()) {
    std::fprintf(stderr, "recgen: %s\n", s.ToString().c_str());
    return 1;
  }
  if (!summary_path.empty()) {
    nlohmann::json j;
    j["seed"] = seed;
    j["lines"] = lines;
    for (size_t t = 0; t < recd::kEventTypeCount; ++t) j["by_type"][std::string(recd::kEventTypeNames[t])] = by_type[t];
    j["duplicates"] = duplicates;
    j["malformed"] = malformed_by_reason;
    j["malformed_total"] = malformed_payloads.size();
    j["malformed_payload_prefixes"] = malformed_payloads;
    j["users"] = std::vector<std::string>(active_users.begin(), active_users.end());
    // Replace, not throw: some malformed payloads are invalid UTF-8 on purpose
    // (recctl read shows the DLQ's copies the same way).
    std::ofstream(summary_path) << j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  std::fprintf(stderr, "recgen: emitted %llu messages (%llu duplicates, %zu malformed)\n",
               static_cast<unsigned long long>(lines), static_cast<unsigned long long>(duplicates),
               malformed_payloads.size());
  return 0;
}
