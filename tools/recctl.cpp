// recctl — operator's tool: inspect a store, read a topic (lists, DLQ), produce
// events by hand, create topics, and drive a running daemon's model registry
// through its admin endpoint (models, retrain, activate).
#include <librdkafka/rdkafkacpp.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <CLI/CLI.hpp>
#include <cctype>
#include <chrono>
#include <csignal>
#include <functional>
#include <cstdio>
#include <memory>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "base/text.h"
#include "store/graph_store.h"
#include "stream/kafka.h"
#include "tools/kafka_options.h"

namespace {

volatile std::sig_atomic_t g_stop = 0;

// One number, cheap enough to poll: records committed (applied + duplicates + rejected).
int Committed(const std::string& path) {
  auto counters = recd::store::GraphStore::ReadCounters(path);
  if (!counters.ok()) {
    std::fprintf(stderr, "recctl: %s\n", counters.status().ToString().c_str());
    return 1;
  }
  uint64_t total = counters->duplicates + counters->rejected;
  for (uint64_t n : counters->applied) total += n;
  std::printf("%llu\n", static_cast<unsigned long long>(total));
  return 0;
}

// The store at `path`, opened read-only (safe while recd runs); null, with the
// reason printed, when it does not open.
std::unique_ptr<recd::store::GraphStore> OpenReadOnly(const std::string& path) {
  recd::store::StoreOptions options;
  options.path = path;
  options.read_only = true;
  auto store = recd::store::GraphStore::Open(options);
  if (!store.ok()) {
    std::fprintf(stderr, "recctl: %s\n", store.status().ToString().c_str());
    return nullptr;
  }
  return std::move(store.value());
}

// The external ids of the users the store holds (evicted ones are gone), one per line.
int Users(const std::string& path) {
  const auto store = OpenReadOnly(path);
  if (!store) return 1;
  const auto& s = *store;
  for (uint32_t u = 0; u < s.view().num_users(); ++u) {
    if (s.UserLive(recd::UserId(u))) std::printf("%s\n", s.ExternalId(recd::UserId(u)).c_str());
  }
  return 0;
}

int Stats(const std::string& path) {
  const auto store = OpenReadOnly(path);
  if (!store) return 1;
  const auto& s = *store;
  nlohmann::json j;
  for (size_t t = 0; t < recd::kEventTypeCount; ++t) {
    j["applied"][std::string(recd::kEventTypeNames[t])] = s.counters().applied[t];
  }
  uint64_t committed = s.counters().duplicates + s.counters().rejected;
  for (uint64_t n : s.counters().applied) committed += n;
  j["messages_committed"] = committed;  // every consumed record, whatever became of it
  j["duplicates"] = s.counters().duplicates;
  j["rejected"] = s.counters().rejected;
  j["batches"] = s.counters().batches;
  j["users"] = s.live_users();
  j["user_ids"] = s.view().num_users();  // the id space: live users and ids freed by eviction
  j["evicted_users"] = s.counters().evicted_users;
  for (size_t t = 0; t < 3; ++t) {
    j["evicted_interactions"][std::string(recd::kEventTypeNames[t])] = s.counters().evicted_interactions[t];
  }
  j["items"] = s.view().num_items();
  j["edges"] = s.view().num_edges();
  j["graph_view_bytes"] = s.view().MemoryBytes();
  j["pending_lists"] = s.PendingUsers().size();
  j["active_model_version"] = s.ActiveModelVersion();  // "" when none was recorded
  auto totals = s.SumEdges();
  if (!totals.ok()) {
    std::fprintf(stderr, "recctl: %s\n", totals.status().ToString().c_str());
    return 1;
  }
  static constexpr const char* kKinds[] = {"click", "purchase", "rating"};
  for (size_t t = 0; t < 3; ++t) {
    j["edge_counts"]["user_item"][kKinds[t]] = totals->user_item[t];
    j["edge_counts"]["item_user"][kKinds[t]] = totals->item_user[t];
  }
  j["latest_event_time_ms"] = s.LatestEventTime();
  std::cout << j.dump(1) << std::endl;
  return 0;
}

// A librdkafka configuration of `props` then the user's `extra`; null (with
// the error printed) when one is refused.
std::unique_ptr<RdKafka::Conf> ClientConf(recd::stream::KafkaProperties props, const recd::stream::KafkaProperties& extra) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  props.insert(props.end(), extra.begin(), extra.end());
  std::string err;
  for (const auto& [k, v] : props) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) {
      std::fprintf(stderr, "recctl: %s\n", err.c_str());
      return nullptr;
    }
  }
  return conf;
}

// Reads a topic from the beginning (no consumer group offsets are kept) and
// prints one JSON object per record. Stops after `idle_ms` without a record,
// unless following.
int Read(const std::string& brokers, const recd::stream::KafkaProperties& extra, const std::string& topic, int idle_ms,
         bool follow, bool pretty) {
  std::string err;
  const std::string group = "recctl-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  auto conf = ClientConf({{"bootstrap.servers", brokers}, {"group.id", group}, {"auto.offset.reset", "earliest"},
                          {"enable.auto.commit", "false"}, {"enable.partition.eof", "false"}},
                         extra);
  if (!conf) return 2;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) {
    std::fprintf(stderr, "recctl: %s\n", err.c_str());
    return 1;
  }
  consumer->subscribe({topic});
  auto last = std::chrono::steady_clock::now();
  bool seen_any = false;
  while (!g_stop) {
    std::unique_ptr<RdKafka::Message> m(consumer->consume(200));
    if (m->err() == RdKafka::ERR__TIMED_OUT) {
      std::vector<RdKafka::TopicPartition*> assigned;
      consumer->assignment(assigned);
      const bool ready = !assigned.empty();
      RdKafka::TopicPartition::destroy(assigned);
      const auto quiet = std::chrono::steady_clock::now() - last;
      // Give the group time to assign before counting idleness.
      if (!follow && ready && quiet > std::chrono::milliseconds(idle_ms) && (seen_any || quiet > std::chrono::milliseconds(3 * idle_ms))) break;
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      std::fprintf(stderr, "recctl: %s\n", m->errstr().c_str());
      continue;
    }
    last = std::chrono::steady_clock::now();
    seen_any = true;
    const std::string value(static_cast<const char*>(m->payload()), m->len());
    if (pretty) {
      auto j = nlohmann::json::parse(value, nullptr, false);
      if (j.is_object() && j.contains("items")) {
        std::string line = "user " + j.value("user_id", std::string("?")) + " [" + j.value("source", std::string()) + "]:";
        for (const auto& it : j["items"]) line += " " + it.value("item_id", std::string());
        std::cout << line << std::endl;
        continue;
      }
    }
    nlohmann::json out;
    out["partition"] = m->partition();
    out["offset"] = m->offset();
    out["key"] = m->key() ? *m->key() : std::string();
    out["timestamp_ms"] = m->timestamp().timestamp;
    out["value"] = value;
    if (auto* h = m->headers()) {
      for (const auto& header : h->get_all()) {
        out["headers"][header.key()] = std::string(static_cast<const char*>(header.value()), header.value_size());
      }
    }
    std::cout << out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  }
  std::cout.flush();
  consumer->close();
  return 0;
}

// Prints the sum over `topic`'s partitions of their high watermarks: how many
// records were ever written (for a topic that was never truncated). Minus
// `recctl committed`, it is recd's consumer lag in records.
int EndOffsets(const std::string& brokers, const recd::stream::KafkaProperties& extra, const std::string& topic) {
  std::string err;
  auto conf = ClientConf({{"bootstrap.servers", brokers}}, extra);
  if (!conf) return 2;
  std::unique_ptr<RdKafka::Producer> client(RdKafka::Producer::create(conf.get(), err));
  if (!client) {
    std::fprintf(stderr, "recctl: %s\n", err.c_str());
    return 1;
  }
  std::unique_ptr<RdKafka::Topic> handle(RdKafka::Topic::create(client.get(), topic, nullptr, err));
  RdKafka::Metadata* raw = nullptr;
  if (!handle || client->metadata(false, handle.get(), &raw, 10000) != RdKafka::ERR_NO_ERROR) {
    std::fprintf(stderr, "recctl: cannot read the metadata of %s\n", topic.c_str());
    return 1;
  }
  std::unique_ptr<RdKafka::Metadata> metadata(raw);
  if (metadata->topics()->empty() || metadata->topics()->at(0)->err() != RdKafka::ERR_NO_ERROR) {
    std::fprintf(stderr, "recctl: no topic %s\n", topic.c_str());
    return 1;
  }
  int64_t total = 0;
  for (const auto* partition : *metadata->topics()->at(0)->partitions()) {
    int64_t low = 0, high = 0;
    if (client->query_watermark_offsets(topic, partition->id(), &low, &high, 10000) != RdKafka::ERR_NO_ERROR) {
      std::fprintf(stderr, "recctl: cannot read the end offset of %s[%d]\n", topic.c_str(), partition->id());
      return 1;
    }
    total += high;
  }
  std::printf("%lld\n", static_cast<long long>(total));
  return 0;
}

// Produces each JSON line of `path` ("-": stdin) to `topic`, keyed by its
// user_id (item events: item_id), and waits for every delivery. Lines that are
// not JSON objects are refused before anything is sent.
int Produce(const std::string& brokers, const recd::stream::KafkaProperties& extra, const std::string& topic,
            const std::string& path) {
  std::ifstream file;
  if (path != "-") {
    file.open(path);
    if (!file) {
      std::fprintf(stderr, "recctl: cannot read %s\n", path.c_str());
      return 2;
    }
  }
  std::istream& in = path == "-" ? std::cin : file;
  std::vector<std::pair<std::string, std::string>> records;
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object()) {
      std::fprintf(stderr, "recctl: %s:%zu is not a JSON object; nothing was produced\n", path.c_str(), n);
      return 2;
    }
    const std::string key = j.value("user_id", j.value("item_id", std::string()));
    records.emplace_back(key, line);
  }
  size_t failed = 0;
  auto publisher = recd::stream::Publisher::Create({brokers, "recctl", extra}, [&](const recd::stream::Delivery& d) {
    if (!d.ok) {
      ++failed;
      std::fprintf(stderr, "recctl: record %llu not delivered: %s\n", static_cast<unsigned long long>(d.tag), d.error.c_str());
    }
  });
  if (!publisher.ok()) {
    std::fprintf(stderr, "recctl: %s\n", publisher.status().ToString().c_str());
    return 1;
  }
  for (size_t n = 0; n < records.size(); ++n) {
    const recd::Status s = (*publisher)->Produce(topic, records[n].first, records[n].second, {}, n);
    if (!s.ok()) {
      std::fprintf(stderr, "recctl: %s\n", s.ToString().c_str());
      return 1;
    }
  }
  const int left = (*publisher)->Flush(std::chrono::seconds(30));
  if (left > 0 || failed > 0) {
    std::fprintf(stderr, "recctl: %d record(s) not delivered within 30 s, %zu refused\n", left, failed);
    return 1;
  }
  return 0;
}

}  // namespace

// One request to the daemon's admin endpoint ("host:port"); prints the reply's
// body (through `print` on a 2xx answer, when given) and returns 0 on a 2xx
// answer, 1 otherwise.
int Admin(const std::string& address, boost::beast::http::verb verb, const std::string& target,
          const std::string& token_file, const std::function<void(const std::string&)>& print = nullptr) {
  namespace http = boost::beast::http;
  using tcp = boost::asio::ip::tcp;
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "recctl: --admin %s must be host:port (admin.listen), e.g. 127.0.0.1:9464\n", address.c_str());
    return 2;
  }
  std::string token;
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    if (!in || !std::getline(in, token)) {
      std::fprintf(stderr, "recctl: cannot read the token from %s (admin.token_file)\n", token_file.c_str());
      return 2;
    }
    token = recd::TrimSpace(token);
  }
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    tcp::socket socket(io);
    boost::asio::connect(socket, resolver.resolve(address.substr(0, colon), address.substr(colon + 1)));
    http::request<http::string_body> req(verb, target, 11);
    req.set(http::field::host, address);
    req.set(http::field::user_agent, "recctl");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    req.prepare_payload();
    http::write(socket, req);
    boost::beast::flat_buffer buffer;
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    const unsigned status = res.result_int();
    if (status / 100 == 2 && print) {
      print(res.body());
    } else {
      std::fprintf(status / 100 == 2 ? stdout : stderr, "%s", res.body().c_str());
    }
    if (status == 401 && token_file.empty()) std::fprintf(stderr, "recctl: give --token-file (admin.token_file)\n");
    return status / 100 == 2 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "recctl: admin endpoint %s: %s (is recd running with admin.listen = \"%s\"?)\n",
                 address.c_str(), e.what(), address.c_str());
    return 1;
  }
}

// %-encodes everything but unreserved characters (RFC 3986), for a path
// segment or a query value.
std::string PercentEncode(const std::string& in) {
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      char hex[4];
      std::snprintf(hex, sizeof hex, "%%%02X", c);
      out += hex;
    }
  }
  return out;
}

// GET /v1/users/{id}/recommendations as a table: rank, item, score, category, reasons.
void PrintList(const std::string& body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded()) {
    std::fputs(body.c_str(), stdout);
    return;
  }
  std::printf("user %s: %s list, model %s, generated %s, %s; %zu of %zu items from offset %zu\n",
              j.value("user_id", "").c_str(), j.value("source", "").c_str(), j.value("model_version", "").c_str(),
              j.value("generated_at", "").c_str(), j.value("published", false) ? "published" : "made on demand",
              j.value("items", nlohmann::json::array()).size(), j.value("total", size_t{0}), j.value("offset", size_t{0}));
  size_t rank = j.value("offset", size_t{0});
  for (const auto& item : j.value("items", nlohmann::json::array())) {
    std::string reasons;
    for (const auto& r : item.value("reasons", nlohmann::json::array())) reasons += (reasons.empty() ? "" : ",") + r.get<std::string>();
    std::printf("%5zu  %-24s %10.4f  %-16s %s\n", ++rank, item.value("item_id", "").c_str(), item.value("score", 0.0),
                item.value("category", "").c_str(), reasons.c_str());
  }
}

// GET /v1/items/{id}/similar as a table: rank, item, score, category.
void PrintSimilar(const std::string& body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    std::fputs(body.c_str(), stdout);
    return;
  }
  const auto items = j.value("items", nlohmann::json::array());
  std::printf("item %s: %zu related items by %s, model %s\n", j.value("item_id", "").c_str(), items.size(),
              j.value("source", "") == "embedding" ? "embedding" : "co-occurrence", j.value("model_version", "").c_str());
  size_t rank = 0;
  for (const auto& item : items) {
    std::printf("%5zu  %-24s %10.4f  %s\n", ++rank, item.value("item_id", "").c_str(), item.value("score", 0.0),
                item.value("category", "").c_str());
  }
}

// GET /v1/users/{id}: the user's list's state, then their heaviest items.
void PrintUser(const std::string& body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    std::fputs(body.c_str(), stdout);
    return;
  }
  std::printf("user %s: %zu interactions; events not yet in a list: %s\n", j.value("user_id", "").c_str(),
              j.value("interactions", size_t{0}), j.value("events_not_yet_in_a_list", false) ? "yes" : "no");
  const auto& list = j.contains("list") ? j["list"] : nlohmann::json();
  if (list.is_object()) {
    std::printf("list: %zu items, %s, model %s, generated %s, %s\n", list.value("items", size_t{0}),
                list.value("source", "").c_str(), list.value("model_version", "").c_str(),
                list.value("generated_at", "").c_str(), list.value("published", false) ? "published" : "made on demand");
  } else {
    std::printf("list: none yet (recctl recommend makes one)\n");
  }
  for (const auto& item : j.value("items", nlohmann::json::array())) {
    std::string types;
    for (const auto& t : item.value("types", nlohmann::json::array())) types += (types.empty() ? "" : ",") + t.get<std::string>();
    std::printf("  %-24s %8.4f  %s\n", item.value("item_id", "").c_str(), item.value("weight", 0.0), types.c_str());
  }
}

// GET /v1/status as "key: value" lines.
void PrintStatus(const std::string& body) {
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    std::fputs(body.c_str(), stdout);
    return;
  }
  for (const auto& [key, value] : j.items()) {
    std::printf("%-24s %s\n", key.c_str(), value.is_string() ? value.get<std::string>().c_str() : value.dump().c_str());
  }
}

int main(int argc, char** argv) {
  CLI::App app{"recctl: inspect and operate recd"};
  app.require_subcommand(1);
  std::string store_path, brokers, topic;
  int idle_ms = 3000, partitions = 4;
  bool follow = false, pretty = false;

  auto* stats = app.add_subcommand("stats", "print a store's counts as JSON (safe while recd runs)");
  stats->add_option("--store", store_path, "store directory")->required();

  auto* users = app.add_subcommand("users", "print the ids of the users a store holds, one per line (safe while recd runs)");
  users->add_option("--store", store_path, "store directory")->required();

  auto* committed = app.add_subcommand("committed", "print how many records the store has committed (cheap)");
  committed->add_option("--store", store_path, "store directory")->required();

  auto* read = app.add_subcommand("read", "print a topic's records as JSON lines, from the beginning");
  read->add_option("-b,--brokers", brokers, "bootstrap servers")->required();
  read->add_option("-t,--topic", topic, "topic")->required();
  read->add_option("--idle-ms", idle_ms, "stop after this long without a record");
  read->add_flag("-f,--follow", follow, "keep reading until interrupted");
  read->add_flag("--pretty", pretty, "print lists as 'user [source]: items...'");

  auto* end_offsets = app.add_subcommand("end-offsets", "print how many records a topic holds (the sum of its partitions' high watermarks)");
  end_offsets->add_option("-b,--brokers", brokers, "bootstrap servers")->required();
  end_offsets->add_option("-t,--topic", topic, "topic")->required();

  std::string produce_path = "-";
  auto* produce = app.add_subcommand("produce", "produce JSON events, one per line, keyed by user_id (or item_id)");
  produce->add_option("-b,--brokers", brokers, "bootstrap servers")->required();
  produce->add_option("-t,--topic", topic, "topic")->default_val("recd.events");
  produce->add_option("input", produce_path, "JSONL file, or - for stdin")->default_val("-");

  auto* topics = app.add_subcommand("create-topics", "create recd's topics (existing ones are kept)");
  topics->add_option("-b,--brokers", brokers, "bootstrap servers")->required();
  topics->add_option("-p,--partitions", partitions, "partitions of the events and lists topics");
  std::string admin = "127.0.0.1:9464", token_file, version;
  auto* models = app.add_subcommand("models", "list a running daemon's model versions (GET /v1/models)");
  auto* retrain = app.add_subcommand("retrain", "ask a running daemon to retrain now (POST /v1/retrain)");
  auto* activate = app.add_subcommand("activate", "make a model version active, e.g. to roll back (POST /v1/models/V/activate)");
  activate->add_option("version", version, "the version, as `recctl models` lists it (vNNNN: PinSage; rNNNN: the learnt ranker)")->required();
  auto* status = app.add_subcommand("status", "a running daemon's state: version, uptime, totals, model (GET /v1/status)");
  auto* recommend = app.add_subcommand("recommend", "a user's current list (GET /v1/users/USER/recommendations)");
  std::string user, category, exclude;
  size_t k = 0, offset = 0;
  bool as_json = false;
  recommend->add_option("user", user, "the user id")->required();
  recommend->add_option("--k", k, "items on the page (0: the list's own k)");
  recommend->add_option("--offset", offset, "items to skip");
  recommend->add_option("--category", category, "only items of this category (model.diversity_field)");
  recommend->add_option("--exclude", exclude, "comma-separated item ids to leave out");
  std::string item, checkpoint_dir;
  size_t similar_k = 10;
  auto* similar = app.add_subcommand("similar", "an item's related items (GET /v1/items/ITEM/similar)");
  similar->add_option("item", item, "the item id")->required();
  similar->add_option("--k", similar_k, "how many")->capture_default_str();
  similar->add_option("--category", category, "only items of this category (model.diversity_field)");
  auto* user_cmd = app.add_subcommand("user", "what recd holds about a user: interactions, list (GET /v1/users/USER)");
  user_cmd->add_option("user", user, "the user id")->required();
  auto* checkpoint = app.add_subcommand(
      "checkpoint", "write a consistent copy of a running daemon's store to DIR, for a backup (POST /v1/checkpoint)");
  checkpoint->add_option("dir", checkpoint_dir, "a directory that does not exist yet, writable by recd's user")->required();
  for (CLI::App* cmd : {status, recommend, similar, user_cmd}) cmd->add_flag("--json", as_json, "print the daemon's JSON as it is");
  for (CLI::App* cmd : {models, retrain, activate, status, recommend, similar, user_cmd, checkpoint}) {
    cmd->add_option("--admin", admin, "the daemon's admin endpoint, host:port (admin.listen)")->capture_default_str();
    cmd->add_option("--token-file", token_file, "file holding the bearer token (admin.token_file)");
  }
  recd::stream::KafkaProperties kafka_properties;
  for (CLI::App* cmd : {read, produce, topics, end_offsets}) recd::tools::AddKafkaPropertyOption(*cmd, &kafka_properties);
  CLI11_PARSE(app, argc, argv);
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });

  if (*models) return Admin(admin, boost::beast::http::verb::get, "/v1/models", token_file);
  if (*status) return Admin(admin, boost::beast::http::verb::get, "/v1/status", token_file, as_json ? nullptr : PrintStatus);
  if (*recommend) {
    std::string target = "/v1/users/" + PercentEncode(user) + "/recommendations?offset=" + std::to_string(offset);
    if (k > 0) target += "&k=" + std::to_string(k);
    if (!category.empty()) target += "&category=" + PercentEncode(category);
    if (!exclude.empty()) target += "&exclude=" + PercentEncode(exclude);
    return Admin(admin, boost::beast::http::verb::get, target, token_file, as_json ? nullptr : PrintList);
  }
  if (*similar) {
    std::string target = "/v1/items/" + PercentEncode(item) + "/similar?k=" + std::to_string(similar_k);
    if (!category.empty()) target += "&category=" + PercentEncode(category);
    return Admin(admin, boost::beast::http::verb::get, target, token_file, as_json ? nullptr : PrintSimilar);
  }
  if (*user_cmd) {
    return Admin(admin, boost::beast::http::verb::get, "/v1/users/" + PercentEncode(user), token_file,
                 as_json ? nullptr : PrintUser);
  }
  if (*checkpoint) {
    // The daemon writes it: a relative DIR means recctl's working directory.
    const std::string dir = std::filesystem::absolute(checkpoint_dir).lexically_normal().string();
    return Admin(admin, boost::beast::http::verb::post, "/v1/checkpoint?dir=" + PercentEncode(dir), token_file);
  }
  if (*retrain) return Admin(admin, boost::beast::http::verb::post, "/v1/retrain", token_file);
  if (*activate) return Admin(admin, boost::beast::http::verb::post, "/v1/models/" + version + "/activate", token_file);
  if (*stats) return Stats(store_path);
  if (*users) return Users(store_path);
  if (*committed) return Committed(store_path);
  if (*read) return Read(brokers, kafka_properties, topic, idle_ms, follow, pretty);
  if (*produce) return Produce(brokers, kafka_properties, topic, produce_path);
  if (*end_offsets) return EndOffsets(brokers, kafka_properties, topic);
  if (*topics) {
    const recd::Status s = recd::stream::EnsureTopics(
        {brokers, "recctl", kafka_properties},
        {{"recd.events", partitions, 1, {}},
         {"recd.events.dlq", 1, 1, {}},
         {"recd.recommendations", partitions, 1, {{"cleanup.policy", "compact"}}},
         {"recd.similar-items", partitions, 1, {{"cleanup.policy", "compact"}}}},
        std::chrono::seconds(30));
    if (!s.ok()) {
      std::fprintf(stderr, "recctl: %s\n", s.ToString().c_str());
      return 1;
    }
    return 0;
  }
  return 0;
}
