// e2e_check — compares what recgen emitted (its --summary) with what recd did:
// the store's counts (recctl stats), the dead-letter topic and the list topic
// (recctl read). Exits 1 and says what differs when anything does.
//
// With --pick N it prints N lines "USER ITEM": users whose latest list is
// personalised by the PinSage model, and an item of that list each never touched.
// With --purchases it checks that the first list after each purchase (recctl
// read, with timestamps) reflects it: the item is gone and the list came within
// --bound-ms; and that over all purchases the items' related items
// (recd.similar-items) moved up more often than down. With --newest-lists-after
// it checks each user's newest list against the events topic (after crashes).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

using nlohmann::json;

namespace {

int g_failures = 0;

template <typename A, typename B>
void ExpectEq(const std::string& what, const A& actual, const B& expected) {
  if (actual == expected) {
    std::cout << "ok    " << what << " = " << json(actual).dump() << "\n";
  } else {
    std::cout << "FAIL  " << what << ": got " << json(actual).dump() << ", expected " << json(expected).dump() << "\n";
    ++g_failures;
  }
}

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  return json::parse(in);
}

std::vector<json> ReadLines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<json> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

struct TimedList {
  int64_t at = 0;
  std::vector<std::string> items;
  std::string model_version, source;
};

// Every list per user, in topic order (one partition per user).
std::map<std::string, std::vector<TimedList>> ListsByUser(const std::string& path) {
  std::map<std::string, std::vector<TimedList>> out;
  for (const json& r : ReadLines(path)) {
    const json list = json::parse(r["value"].get<std::string>());
    TimedList t;
    t.at = r.value("timestamp_ms", int64_t{0});
    for (const auto& item : list["items"]) t.items.push_back(item["item_id"]);
    t.model_version = list.value("model_version", "");
    t.source = list.value("source", "");
    out[r["key"].get<std::string>()].push_back(std::move(t));
  }
  return out;
}

// Up to `count` users, each with a personalised PinSage list, and the best item
// of that list they never touched (per `events_path`): buying it changes their
// seeds. Fails when fewer than `count` such users exist.
int Pick(const std::string& lists_path, const std::string& events_path, size_t count) {
  std::set<std::pair<std::string, std::string>> touched;
  for (const json& e : ReadLines(events_path)) {
    if (e.contains("user_id") && e.contains("item_id")) touched.insert({e["user_id"].get<std::string>(), e["item_id"].get<std::string>()});
  }
  size_t picked = 0;
  for (const auto& [user, lists] : ListsByUser(lists_path)) {
    if (picked == count) break;
    const TimedList& last = lists.back();
    if (last.source != "personalized" || last.model_version.rfind("pinsage-", 0) != 0 || last.items.size() < 5) continue;
    for (const std::string& item : last.items) {
      if (touched.count({user, item})) continue;
      std::cout << user << " " << item << "\n";
      ++picked;
      break;
    }
  }
  if (picked == count) return 0;
  std::cout << "FAIL  only " << picked << " of " << count << " users hold a personalised PinSage list\n";
  return 1;
}

struct Purchase {
  std::string user, item;
  int64_t at_ms = 0;
};

// Each purchase (lines "USER ITEM AT_MS") is reflected in its user's first list
// after it: the item gone, within bound_ms. And over all purchases, the bought
// items' related items (recd.similar-items) moved up in those lists more often
// than down: one purchase alone can tie, which says nothing either way.
int Reflects(const std::string& lists_path, const std::string& similar_path, const std::string& purchases_path,
             int64_t bound_ms) {
  std::vector<Purchase> purchases;
  {
    std::ifstream in(purchases_path);
    if (!in) throw std::runtime_error("cannot read " + purchases_path);
    Purchase p;
    while (in >> p.user >> p.item >> p.at_ms) purchases.push_back(p);
  }
  if (purchases.empty()) throw std::runtime_error("no purchases in " + purchases_path);
  std::map<std::string, std::vector<std::string>> related_of;
  for (const json& r : ReadLines(similar_path)) {
    std::vector<std::string>& related = related_of[r["key"].get<std::string>()];
    related.clear();  // the newest record of an item wins, as on the compacted topic
    const json record = json::parse(r["value"].get<std::string>());
    for (const auto& x : record["items"]) related.push_back(x["item_id"]);
  }
  const auto by_user = ListsByUser(lists_path);
  auto rank = [](const TimedList& l, const std::string& x) {
    const auto pos = std::find(l.items.begin(), l.items.end(), x);
    return pos == l.items.end() ? static_cast<long>(l.items.size()) : static_cast<long>(pos - l.items.begin());
  };
  long up = 0, down = 0;
  for (const Purchase& p : purchases) {
    const auto it = by_user.find(p.user);
    const TimedList* before = nullptr;
    const TimedList* after = nullptr;
    if (it != by_user.end()) {
      for (const TimedList& l : it->second) {
        if (l.at < p.at_ms) before = &l;
        else if (!after) after = &l;
      }
    }
    if (!before || !after) {
      std::cout << "FAIL  " << p.user << " needs a list before and after the purchase (before: " << (before != nullptr)
                << ", after: " << (after != nullptr) << ")\n";
      ++g_failures;
      continue;
    }
    std::vector<std::string> related = related_of[p.item];
    if (related.size() > 10) related.resize(10);
    long item_up = 0, item_down = 0;
    for (const std::string& n : related) {
      const long b = rank(*before, n), a = rank(*after, n);
      item_up += a < b;
      item_down += a > b;
    }
    up += item_up;
    down += item_down;
    const int64_t latency = after->at - p.at_ms;
    std::cout << "purchase of " << p.item << " by " << p.user << ": next list " << latency << " ms later ("
              << after->model_version << "); of the item's " << related.size() << " related items " << item_up
              << " moved up, " << item_down << " down\n";
    ExpectEq("purchased item in " + p.user + "'s list before", rank(*before, p.item) < static_cast<long>(before->items.size()), true);
    ExpectEq("purchased item in " + p.user + "'s next list", rank(*after, p.item) < static_cast<long>(after->items.size()), false);
    ExpectEq(p.user + "'s next list within " + std::to_string(bound_ms) + " ms", latency <= bound_ms, true);
  }
  std::cout << "over " << purchases.size() << " purchases, related items moved up " << up << " times, down " << down << "\n";
  ExpectEq("related items moved up more than down", up > down, true);
  std::cout << (g_failures ? "e2e_check: FAILED\n" : "e2e_check: all checks passed\n");
  return g_failures ? 1 : 0;
}

// After a run with crashes: each user's newest list (--lists, recctl read) was
// produced after the user's last applied event (--events-dump: recctl read of
// the events topic; records the DLQ names and re-sent event ids are not
// applied; metadata events make no list), and holds none of the items the user purchased or rated (ranker.exclude).
int NewestListsReflect(const std::string& events_path, const std::string& dlq_path, const std::string& lists_path) {
  std::set<std::pair<std::string, std::string>> rejected;  // (partition, offset)
  for (const json& r : ReadLines(dlq_path)) {
    const json& h = r.value("headers", json::object());
    rejected.insert({h.value("recd.source.partition", ""), h.value("recd.source.offset", "")});
  }
  std::map<std::string, int64_t> last_event_at;
  std::map<std::string, std::set<std::string>> excluded;
  std::set<std::string> event_ids;
  for (const json& r : ReadLines(events_path)) {
    if (rejected.count({std::to_string(r["partition"].get<int>()), std::to_string(r["offset"].get<int64_t>())})) continue;
    const json e = json::parse(r["value"].get<std::string>(), nullptr, false);
    if (!e.is_object() || !e.contains("user_id") || !e["user_id"].is_string()) continue;
    const std::string type = e.value("type", "");
    if (type != "click" && type != "purchase" && type != "rating") continue;  // metadata makes no list
    if (e.contains("event_id") && !event_ids.insert(e["event_id"].dump()).second) continue;  // a duplicate
    const std::string user = e["user_id"];
    last_event_at[user] = std::max(last_event_at[user], r["timestamp_ms"].get<int64_t>());
    if ((type == "purchase" || type == "rating") && e.contains("item_id")) excluded[user].insert(e["item_id"].get<std::string>());
  }
  size_t stale = 0, holding_excluded = 0, without = 0;
  const auto lists = ListsByUser(lists_path);
  for (const auto& [user, at] : last_event_at) {
    const auto it = lists.find(user);
    if (it == lists.end()) {
      ++without;
      continue;
    }
    const TimedList& newest = it->second.back();
    if (newest.at < at) {
      if (++stale <= 5) std::cout << "      " << user << ": newest list at " << newest.at << " ms, last event at " << at << " ms\n";
    }
    for (const std::string& item : newest.items) {
      if (excluded[user].count(item) && ++holding_excluded <= 5) {
        std::cout << "      " << user << "'s newest list holds " << item << ", which the user purchased or rated\n";
      }
    }
  }
  std::cout << "newest lists of " << last_event_at.size() << " users checked\n";
  ExpectEq("users with an applied event but no list", without, size_t{0});
  ExpectEq("newest lists older than their user's last event", stale, size_t{0});
  ExpectEq("newest lists holding an item their user purchased or rated", holding_excluded, size_t{0});
  std::cout << (g_failures ? "e2e_check: FAILED\n" : "e2e_check: all checks passed\n");
  return g_failures ? 1 : 0;
}

// Pull-API answers (GET /v1/users/{id}/recommendations?k=1000, one JSON per
// line) against the topic: each is the user's newest list there, in order, with
// its model version and source, and says it is the published one (`published`
// expected). Fails when none were given.
int PulledMatchTopic(const std::string& lists_path, const std::string& pulled_path, bool published) {
  const auto lists = ListsByUser(lists_path);
  size_t compared = 0, differ = 0;
  for (const json& answer : ReadLines(pulled_path)) {
    const std::string user = answer.at("user_id");
    const auto it = lists.find(user);
    if (it == lists.end()) {
      std::cout << "FAIL  " << user << " was answered but has no list on the topic\n";
      ++g_failures;
      continue;
    }
    const TimedList& newest = it->second.back();
    std::vector<std::string> items;
    for (const auto& item : answer.at("items")) items.push_back(item.at("item_id"));
    const bool same = items == newest.items && answer.at("model_version") == newest.model_version &&
                      answer.at("source") == newest.source && answer.at("published") == published &&
                      answer.at("total") == newest.items.size();
    if (!same && ++differ <= 5) std::cout << "      " << user << ": pulled " << answer.dump() << "\n";
    ++compared;
  }
  ExpectEq("pulled lists compared", compared > 0, true);
  ExpectEq("pulled lists that differ from the newest on the topic", differ, size_t{0});
  return g_failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"e2e_check: recgen summary vs recd's store, DLQ and lists"};
  std::string summary_path, stats_path, dlq_path, lists_path;
  std::string similar_path, purchases_path, events_dump_path;
  int64_t bound_ms = 1000;
  size_t pick = 0;
  app.add_option("--summary", summary_path);
  app.add_option("--stats", stats_path);
  app.add_option("--dlq", dlq_path);
  app.add_option("--lists", lists_path);
  app.add_option("--pick", pick, "print this many \"USER ITEM\" pairs to buy; with --lists and --summary naming the events JSONL");
  app.add_option("--similar", similar_path);
  app.add_option("--purchases", purchases_path, "lines \"USER ITEM AT_MS\": check each is reflected; with --lists and --similar");
  app.add_option("--bound-ms", bound_ms);
  std::string live_users_path;
  app.add_option("--live-users", live_users_path,
                 "the users the store holds (recctl users): the others were evicted (store.max_users), maybe while "
                 "their list was only due, and may lack one");
  app.add_option("--newest-lists-after", events_dump_path,
                 "recctl read of the events topic: check each user's newest list in --lists against it (needs --dlq)");
  std::string pulled_path;
  bool pulled_published = true;
  app.add_option("--pulled", pulled_path, "pull-API answers, one per line: each must equal its user's newest list in --lists");
  app.add_option("--pulled-published", pulled_published, "whether the answers must say published (default true)");
  CLI11_PARSE(app, argc, argv);
  try {
    if (!pulled_path.empty()) return PulledMatchTopic(lists_path, pulled_path, pulled_published);
    if (pick > 0) return Pick(lists_path, summary_path, pick);
    if (!purchases_path.empty()) return Reflects(lists_path, similar_path, purchases_path, bound_ms);
    if (!events_dump_path.empty()) return NewestListsReflect(events_dump_path, dlq_path, lists_path);
    if (summary_path.empty() || stats_path.empty()) throw std::runtime_error("--summary and --stats are required");
    const json summary = ReadJson(summary_path);
    const json stats = ReadJson(stats_path);
    for (const auto& [type, count] : summary["by_type"].items()) {
      ExpectEq("store applied " + type, stats["applied"][type].get<uint64_t>(), count.get<uint64_t>());
    }
    for (const char* type : {"click", "purchase", "rating"}) {
      // Edges of evicted users (store.max_users, user_idle_days) left with them, counted.
      const uint64_t expected =
          summary["by_type"][type].get<uint64_t>() - stats.value("evicted_interactions", json::object()).value(type, uint64_t{0});
      ExpectEq(std::string("edge counts user->item ") + type, stats["edge_counts"]["user_item"][type].get<uint64_t>(), expected);
      ExpectEq(std::string("edge counts item->user ") + type, stats["edge_counts"]["item_user"][type].get<uint64_t>(), expected);
    }
    ExpectEq("store duplicates dropped", stats["duplicates"].get<uint64_t>(), summary["duplicates"].get<uint64_t>());
    ExpectEq("store rejected", stats["rejected"].get<uint64_t>(), summary["malformed_total"].get<uint64_t>());

    if (!dlq_path.empty()) {
      // At-least-once: a crash may re-send a DLQ record; count distinct source offsets.
      std::map<std::pair<std::string, std::string>, json> by_source;
      for (const json& r : ReadLines(dlq_path)) {
        const json& h = r.value("headers", json::object());
        by_source[{h.value("recd.source.partition", ""), h.value("recd.source.offset", "")}] = r;
      }
      ExpectEq("DLQ distinct source records", by_source.size(), summary["malformed_total"].get<size_t>());
      std::map<std::string, uint64_t> by_reason;
      std::multiset<std::string> values;
      size_t without_reason = 0;
      for (const auto& [src, r] : by_source) {
        const json& h = r["headers"];
        if (h.value("recd.error", "").empty() || h.value("recd.source.topic", "").empty()) ++without_reason;
        ++by_reason[h.value("recd.error.code", "<none>")];
        values.insert(r["value"].get<std::string>().substr(0, 256));
      }
      ExpectEq("DLQ records without a reason or source", without_reason, size_t{0});
      ExpectEq("DLQ reasons", json(by_reason), summary["malformed"]);
      size_t missing = 0;
      for (const auto& p : summary["malformed_payload_prefixes"]) {
        auto it = values.find(p.get<std::string>());
        if (it == values.end()) ++missing; else values.erase(it);
      }
      ExpectEq("malformed messages missing from the DLQ", missing, size_t{0});
    }

    if (!lists_path.empty()) {
      std::set<std::string> with_list;
      size_t bad = 0;
      for (const json& r : ReadLines(lists_path)) {
        const json list = json::parse(r["value"].get<std::string>());
        const std::string source = list.value("source", "");
        if (list["user_id"] != r["key"] || list["items"].size() > list["k"].get<size_t>() ||
            (source != "personalized" && source != "cold_start" && source != "trending") ||
            !list.contains("model_version") || !list.contains("generated_at")) {
          ++bad;
        }
        with_list.insert(r["key"].get<std::string>());
      }
      size_t without = 0;
      std::set<std::string> live;
      if (!live_users_path.empty()) {
        std::ifstream in(live_users_path);
        for (std::string id; std::getline(in, id);) live.insert(id);
      }
      size_t evicted_without = 0;
      for (const auto& u : summary["users"]) {
        const std::string& id = u.get_ref<const std::string&>();
        if (with_list.count(id)) continue;
        if (!live_users_path.empty() && !live.count(id)) ++evicted_without; else ++without;
      }
      if (!live_users_path.empty()) std::cout << "evicted users without a list (evicted while it was due): " << evicted_without << "\n";
      ExpectEq("malformed lists", bad, size_t{0});
      ExpectEq("users with an event but no list", without, size_t{0});
    }
  } catch (const std::exception& e) {
    std::cout << "FAIL  " << e.what() << "\n";
    return 1;
  }
  std::cout << (g_failures ? "e2e_check: FAILED\n" : "e2e_check: all checks passed\n");
  return g_failures ? 1 : 0;
}
