// e2e_check — compares what recgen emitted (its --summary) with what recd did:
// the store's counts (recctl stats), the dead-letter topic and the list topic
// (recctl read). Exits 1 and says what differs when anything does.
#include <CLI/CLI.hpp>
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"e2e_check: recgen summary vs recd's store, DLQ and lists"};
  std::string summary_path, stats_path, dlq_path, lists_path;
  app.add_option("--summary", summary_path)->required();
  app.add_option("--stats", stats_path)->required();
  app.add_option("--dlq", dlq_path);
  app.add_option("--lists", lists_path);
  CLI11_PARSE(app, argc, argv);
  try {
    const json summary = ReadJson(summary_path);
    const json stats = ReadJson(stats_path);
    for (const auto& [type, count] : summary["by_type"].items()) {
      ExpectEq("store applied " + type, stats["applied"][type].get<uint64_t>(), count.get<uint64_t>());
    }
    for (const char* type : {"click", "purchase", "rating"}) {
      const uint64_t expected = summary["by_type"][type].get<uint64_t>();
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
      for (const auto& u : summary["users"]) without += with_list.count(u.get<std::string>()) ? 0 : 1;
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
