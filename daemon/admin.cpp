#include "daemon/admin.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <sys/socket.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "base/text.h"
#include "base/time.h"

namespace recd::daemon {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

bool StartsWith(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

prometheus::MetricFamily Family(const std::string& name, const std::string& help, prometheus::MetricType type,
                                double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) m.counter.value = value; else m.gauge.value = value;
  f.metric.push_back(m);
  return f;
}

}  // namespace

std::string RenderMetrics(const PipelineStats& s) {
  using prometheus::MetricType;
  auto v = [](const auto& a) { return static_cast<double>(a.load(std::memory_order_relaxed)); };
  std::vector<prometheus::MetricFamily> families = {
      Family("recd_messages_consumed_total", "Records read from the events topic", MetricType::Counter, v(s.messages)),
      Family("recd_events_applied_total", "Events committed to the store", MetricType::Counter, v(s.applied)),
      Family("recd_events_duplicate_total", "Events dropped because their event_id was seen", MetricType::Counter, v(s.duplicates)),
      Family("recd_events_rejected_total", "Records sent to the dead-letter topic", MetricType::Counter, v(s.rejected)),
      Family("recd_records_redelivered_total", "Records skipped because the store already held them", MetricType::Counter, v(s.skipped)),
      Family("recd_batches_total", "Batches committed", MetricType::Counter, v(s.batches)),
      Family("recd_lists_published_total", "Lists produced to the recommendations topic", MetricType::Counter, v(s.lists_published)),
      Family("recd_lists_delivered_total", "Lists acknowledged by the broker", MetricType::Counter, v(s.lists_delivered)),
      Family("recd_delivery_failures_total", "Records the broker did not accept", MetricType::Counter, v(s.delivery_failures)),
      Family("recd_graph_users", "Users in the graph", MetricType::Gauge, v(s.users)),
      Family("recd_graph_items", "Items in the graph", MetricType::Gauge, v(s.items)),
      Family("recd_users_evicted_total", "Cold users evicted (store.max_users, store.user_idle_days): their edges, attributes and state deleted", MetricType::Counter, v(s.users_evicted)),
      Family("recd_graph_edges", "User-item edges in the graph", MetricType::Gauge, v(s.edges)),
      Family("recd_graph_view_bytes", "Heap bytes of the in-memory adjacency", MetricType::Gauge, v(s.graph_view_bytes)),
      Family("recd_store_memtable_bytes", "Bytes in RocksDB's memtables, all column families (store.memtable_budget_mb caps them)", MetricType::Gauge, v(s.store_memtable_bytes)),
      Family("recd_lists_due", "Users waiting for a fresh list", MetricType::Gauge, v(s.lists_due)),
      Family("recd_assigned_partitions", "Event-topic partitions assigned to this instance", MetricType::Gauge, v(s.assigned_partitions)),
      Family("recd_consumer_lag_records", "Records the assigned partitions hold beyond what recd has read (-1: not known yet)", MetricType::Gauge, v(s.consumer_lag)),
      Family("recd_latest_event_time_seconds", "Event time of the newest applied event", MetricType::Gauge, v(s.latest_event_ms) / 1000.0),
      Family("recd_dead_letters_lost_total", "Refused records the dead-letter topic could never take (logged with their coordinates)", MetricType::Counter, v(s.dead_letters_lost)),
      Family("recd_offset_rewinds_total", "Times a partition's log was found replaced under the stored offset (recreated or truncated)", MetricType::Counter, v(s.offset_rewinds)),
      Family("recd_records_lost_to_retention_total", "Records retention deleted before recd applied them (accepted under kafka.offset_rewind = reset)", MetricType::Counter, v(s.records_lost_to_retention)),
      Family("recd_output_full_total", "Times a record found the output queue full", MetricType::Counter, v(s.output_full)),
      Family("recd_output_restarts_total", "Output producers replaced after a fatal error (their records were sent again)", MetricType::Counter, v(s.output_restarts)),
      Family("recd_input_restarts_total", "Event consumers replaced after a fatal error (they rejoin the group and read on from the store's offsets)", MetricType::Counter, v(s.input_restarts)),
      Family("recd_brokers_reachable", "1 while recd holds a connection to a Kafka broker (its output producer's statistics)", MetricType::Gauge, s.brokers_reachable.load() ? 1.0 : 0.0),
      Family("recd_store_writable", "0 while the store refuses writes for want of disk space; intake waits and retries", MetricType::Gauge, s.store_unwritable_since_ms.load() == 0 ? 1.0 : 0.0),
      Family("recd_store_write_failures_total", "Batch commits the store refused for want of disk space (each is retried; nothing is lost)", MetricType::Counter, v(s.store_write_failures)),
      Family("recd_output_failing", "1 while the output's newest deliveries fail (0 after any success)", MetricType::Gauge, s.output_failing_since_ms.load() != 0 ? 1.0 : 0.0),
      Family("recd_intake_paused", "1 while intake is paused because the output is backed up", MetricType::Gauge, v(s.intake_paused)),
      Family("recd_prequential_positives_total", "Positive events of users holding a list, scored against it before applying", MetricType::Counter, v(s.positives)),
      Family("recd_prequential_hits_total", "Scored positives whose item was in the top 10 of the user's list", MetricType::Counter, v(s.hits)),
      Family("recd_prequential_ndcg_gain_total", "Sum of NDCG@10 gains over scored positives (divide by recd_prequential_positives_total)", MetricType::Counter, v(s.ndcg_sum)),
      Family("recd_prequential_without_list_total", "Positive events of users who had no list yet", MetricType::Counter, v(s.positives_without_list)),
      Family("recd_prequential_hr_at_10", "HR@10 over the most recent eval.window scored positives", MetricType::Gauge, v(s.window_hr)),
      Family("recd_prequential_ndcg_at_10", "NDCG@10 over the most recent eval.window scored positives", MetricType::Gauge, v(s.window_ndcg)),
      Family("recd_prequential_window_positives", "Scored positives in the sliding window", MetricType::Gauge, v(s.window_positives)),
      Family("recd_model_active", "1 while a PinSage model ranks (0: the co-occurrence ranker)", MetricType::Gauge, v(s.model_active)),
      Family("recd_model_version", "N of the PinSage version vNNNN that serves (0: none)", MetricType::Gauge, v(s.model_version)),
      Family("recd_model_items_refreshed_total", "Item embeddings recomputed by the refresher (model loads included)", MetricType::Counter, v(s.model_items_refreshed)),
      Family("recd_model_dirty_items", "Items waiting to be re-embedded", MetricType::Gauge, v(s.model_dirty)),
      Family("recd_model_loads_total", "Model versions taken into service", MetricType::Counter, v(s.model_loads)),
      Family("recd_model_load_failures_total", "Model versions refused (corrupt or incomplete; the previous one kept serving)", MetricType::Counter, v(s.model_load_failures)),
      Family("recd_similar_items_published_total", "Records produced to the similar-items topic", MetricType::Counter, v(s.similar_items_published)),
      Family("recd_retrains_total", "Candidate models trained (promoted or not)", MetricType::Counter, v(s.retrains)),
      Family("recd_retrain_failures_total", "Retrainings that failed (the active model kept serving)", MetricType::Counter, v(s.retrain_failures)),
      Family("recd_retrain_promotions_total", "Candidates promoted to active", MetricType::Counter, v(s.promotions)),
      Family("recd_retrain_running", "1 while a retraining runs", MetricType::Gauge, v(s.retrain_running)),
      Family("recd_retrain_last_seconds", "Duration of the last retraining (snapshot to decision)", MetricType::Gauge, v(s.last_retrain_seconds)),
      Family("recd_retrain_last_candidate_hr_at_10", "The last candidate's HR@10 on the newest held-out pairs", MetricType::Gauge, v(s.last_candidate_hr)),
      Family("recd_retrain_last_active_hr_at_10", "The then-active model's HR@10 on the same pairs (-1: none)", MetricType::Gauge, v(s.last_active_hr)),
      Family("recd_ranker_samples_total", "Labelled slates kept for the learnt ranker (the item taken was among the candidates)", MetricType::Counter, v(s.ranker_samples)),
      Family("recd_ranker_sample_misses_total", "Labelling events whose item no source proposed (no slate kept)", MetricType::Counter, v(s.ranker_sample_misses)),
      Family("recd_ranker_buffered_groups", "Labelled slates held for the next ranker training", MetricType::Gauge, v(s.ranker_buffered)),
      Family("recd_ranker_trainings_total", "Learnt-ranker candidates trained (promoted or not)", MetricType::Counter, v(s.ranker_trainings)),
      Family("recd_ranker_failures_total", "Learnt-ranker trainings or activations that failed (the active ranker kept serving)", MetricType::Counter, v(s.ranker_failures)),
      Family("recd_ranker_promotions_total", "Learnt-ranker candidates promoted to active", MetricType::Counter, v(s.ranker_promotions)),
      Family("recd_ranker_predict_failures_total", "Lists the learnt ranker could not score (the hand blend ordered them)", MetricType::Counter, v(s.ranker_predict_failures)),
      Family("recd_ranker_active", "1 while a learnt ranking model orders the lists (0: the hand blend)", MetricType::Gauge, v(s.ranker_active)),
      Family("recd_ranker_last_seconds", "Duration of the last ranker training", MetricType::Gauge, v(s.ranker_last_seconds)),
      Family("recd_ranker_last_candidate_hr_at_10", "The last ranker candidate's HR@10 on the newest labelled slates", MetricType::Gauge, v(s.ranker_last_candidate_hr)),
      Family("recd_ranker_last_active_hr_at_10", "The then-active ranker's (or the hand blend's) HR@10 on the same slates", MetricType::Gauge, v(s.ranker_last_active_hr)),
      Family("recd_model_swaps_total", "Model versions swapped into service by this process", MetricType::Counter, v(s.model_swaps)),
      Family("recd_republish_queued", "Active users whose lists a swap made stale, waiting for republication", MetricType::Gauge, v(s.republish_queued)),
  };
  // Freshness: arrival of a user's first unreflected event to their next list.
  prometheus::MetricFamily freshness;
  freshness.name = "recd_freshness_seconds";
  freshness.help = "From the arrival of a user's event to the publication of the list that reflects it";
  freshness.type = MetricType::Histogram;
  prometheus::ClientMetric h;
  h.histogram.sample_count = s.freshness.count();
  h.histogram.sample_sum = s.freshness.sum_ms() / 1000.0;
  for (size_t b = 0; b < LatencyHistogram::kBoundsMs.size(); ++b) {
    h.histogram.bucket.push_back({s.freshness.cumulative(b), LatencyHistogram::kBoundsMs[b] / 1000.0});
  }
  h.histogram.bucket.push_back({s.freshness.count(), std::numeric_limits<double>::infinity()});
  freshness.metric.push_back(std::move(h));
  families.push_back(std::move(freshness));
  for (const auto& [name, q] : {std::pair{"recd_freshness_p50_seconds", 0.5}, std::pair{"recd_freshness_p99_seconds", 0.99}}) {
    families.push_back(Family(name, "Freshness quantile estimated from the histogram's buckets", MetricType::Gauge,
                              s.freshness.Quantile(q) / 1000.0));
  }
  return prometheus::TextSerializer().Serialize(families);
}

Result<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument("admin.token_file " + path + " cannot be read; create it (one line, the token) or set admin.token_file = \"\"");
  std::string line;
  std::getline(in, line);
  const std::string token = TrimSpace(line);
  if (token.size() < 16) {
    return Status::InvalidArgument("admin.token_file " + path + " holds a token of " + std::to_string(token.size()) +
                                   " characters; use at least 16 (e.g. `head -c 24 /dev/urandom | base64 > " + path + "`)");
  }
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && (st.st_mode & 077)) {
    RECD_WARN("admin.token_file " << path << " is readable by other users; chmod 600 it");
  }
  return token;
}

bool ConstantTimeEquals(const std::string& given, const std::string& expected) {
  // Every byte of `expected` is compared whatever `given` holds; a length
  // mismatch is folded into the same accumulator.
  volatile unsigned char diff = given.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char g = i < given.size() ? static_cast<unsigned char>(given[i]) : 0;
    diff = diff | (g ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0;
}

namespace {

// ---- Requests, responses and the route table -------------------------------

struct Request {
  http::verb method = http::verb::get;
  std::string path;                           // percent-decoded, without the query
  std::map<std::string, std::string> query;   // percent-decoded
  std::map<std::string, std::string> params;  // the pattern's {name} segments, decoded
};

class PendingReply;

struct Response {
  http::status status = http::status::ok;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<http::field, std::string>> headers;
  // Set by a route whose answer comes later, from another thread: the session
  // waits for it until the read deadline, then answers 503.
  std::shared_ptr<PendingReply> pending;
};

// A response that another thread (the pipeline's) fills in. Fulfil and OnReady
// may come in either order, from any threads; the wake runs once both have.
class PendingReply {
 public:
  void Fulfil(Response r) {
    std::function<void()> wake;
    {
      std::lock_guard<std::mutex> lock(mu_);
      response_ = std::move(r);
      wake = std::move(wake_);
    }
    if (wake) wake();
  }
  void OnReady(std::function<void()> wake) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!response_) {
        wake_ = std::move(wake);
        return;
      }
    }
    wake();
  }
  // The response, if it came; a later Fulfil is then dropped.
  std::optional<Response> Take() {
    std::lock_guard<std::mutex> lock(mu_);
    wake_ = nullptr;
    return std::move(response_);
  }

 private:
  std::mutex mu_;
  std::optional<Response> response_;
  std::function<void()> wake_;
};

// Open while the io_context runs: a late reply from another thread reaches a
// session only through it (after the server's stop it does nothing).
struct Gate {
  std::mutex mu;
  bool open = true;
};

// Invalid UTF-8 (a client's bytes echoed back) is replaced, never thrown.
Response Json(http::status status, const nlohmann::json& body) {
  return {status, "application/json", body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n", {}, nullptr};
}
Response Text(http::status status, std::string body) { return {status, "text/plain; charset=utf-8", std::move(body), {}, nullptr}; }
// Every error: what was wrong (a stable word) and how to fix it.
Response Error(http::status status, const std::string& error, const std::string& message) {
  return Json(status, {{"error", error}, {"message", message}});
}

Response ForStatus(const Status& s) {
  switch (s.code()) {
    case Status::Code::kNotFound: return Error(http::status::not_found, "not_found", s.message());
    case Status::Code::kInvalidArgument: return Error(http::status::bad_request, "bad_request", s.message());
    default: return Error(http::status::service_unavailable, "unavailable", s.message());
  }
}

struct Route {
  http::verb method;
  std::string pattern;  // segments; "{name}" matches one non-empty segment
  bool needs_token;
  std::function<Response(const Request&)> handler;
};

std::vector<std::string> Segments(std::string_view path) {
  std::vector<std::string> out;
  size_t start = 1;  // paths start with '/'
  while (start <= path.size()) {
    const size_t slash = path.find('/', start);
    const size_t end = slash == std::string_view::npos ? path.size() : slash;
    out.emplace_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// Decodes %XX (and '+' as a space in a query); nullopt on a broken escape.
std::optional<std::string> PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
        return std::nullopt;
      }
      out.push_back(static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(plus_is_space && in[i] == '+' ? ' ' : in[i]);
    }
  }
  return out;
}

bool Matches(const std::vector<std::string>& pattern, const std::vector<std::string>& path,
             std::map<std::string, std::string>* params) {
  if (pattern.size() != path.size()) return false;
  std::map<std::string, std::string> captured;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const std::string& p = pattern[i];
    if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
      if (path[i].empty()) return false;
      captured[p.substr(1, p.size() - 2)] = path[i];
    } else if (p != path[i]) {
      return false;
    }
  }
  *params = std::move(captured);
  return true;
}

std::string RouteName(const Route& r) { return std::string(http::to_string(r.method)) + " " + r.pattern; }

// A strictly checked non-negative integer query parameter.
Result<size_t> CountParam(const Request& req, const std::string& name, size_t fallback, size_t most) {
  auto it = req.query.find(name);
  if (it == req.query.end()) return fallback;
  const std::string& v = it->second;
  if (v.empty() || v.size() > 9 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Status::InvalidArgument("query parameter " + name + "=" + v + " must be a whole number (0.." +
                                   std::to_string(most) + ")");
  }
  const size_t n = std::stoul(v);
  if (n > most) {
    return Status::InvalidArgument("query parameter " + name + "=" + v + " is above its limit " + std::to_string(most));
  }
  return n;
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t comma = std::min(s.find(',', start), s.size());
    if (comma > start) out.push_back(s.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

// Version names as the registries write them: v or r, then digits.
bool IsVersionName(const std::string& v) {
  return v.size() >= 2 && v.size() <= 10 && (v[0] == 'v' || v[0] == 'r') &&
         std::all_of(v.begin() + 1, v.end(), [](char c) { return c >= '0' && c <= '9'; });
}

constexpr size_t kMostItemsPerPage = 1000;
// The deepest list a page may have ranked (offset + k beyond it: the page is
// what this deep list holds).
constexpr size_t kMostRankedItems = 1000;
// List asks waiting on the pipeline beyond which stale shelved lists answer.
constexpr int kMostFreshAsks = 4;
// The serving model keeps model.related neighbours per item (50 by default).
constexpr size_t kMostSimilarItems = 200;
const std::string kNoCategory;

}  // namespace

// ---- The server ------------------------------------------------------------

struct AdminServer::Impl {
  Impl(const AdminOptions& o, const PipelineStats& s, AdminControl c)
      : options(o), stats(s), control(std::move(c)), acceptor(io) {
    routes = RouteTable();
    for (const Route& r : routes) route_segments.push_back(Segments(r.pattern));
  }

  std::vector<Route> RouteTable();
  Response Dispatch(const http::request<http::string_body>& req);
  void Accept();

  // Route handlers.
  Response Healthz();
  Response Readyz() const;
  Response StatusReport() const;
  Response Recommendations(const Request& req) const;
  Response SimilarItems(const Request& req) const;
  // Hands the pipeline thread the command `make(reply)` builds and answers
  // with its JSON once it replies; `unknown` is the 404's message for nullopt.
  template <typename Make>
  Response AskPipeline(Make make, std::string unknown, http::status success = http::status::ok) const;

  const AdminOptions options;
  const PipelineStats& stats;
  const AdminControl control;
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::vector<Route> routes;
  std::vector<std::vector<std::string>> route_segments;  // parallel to routes
  std::atomic<size_t> connections{0};
  const std::shared_ptr<Gate> gate = std::make_shared<Gate>();
  // List asks pushed and not yet answered (shared: a late reply outlives the server).
  const std::shared_ptr<std::atomic<int>> fresh_asks = std::make_shared<std::atomic<int>>(0);
  // /healthz: the heartbeat last seen and when it last moved.
  std::mutex health_mu;
  uint64_t last_beat = ~uint64_t(0);
  std::chrono::steady_clock::time_point last_move = std::chrono::steady_clock::now();
  // Declared last: destroyed first, with every session it still holds (their
  // destructors touch `connections`).
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::steady_timer accept_backoff{io};
  std::vector<std::thread> threads;
};

std::vector<Route> AdminServer::Impl::RouteTable() {
  using http::verb;
  std::vector<Route> table = {
      // Operations.
      {verb::get, "/metrics", false,
       [this](const Request&) {
         Response r = Text(http::status::ok, RenderMetrics(stats));
         r.content_type = "text/plain; version=0.0.4";
         return r;
       }},
      {verb::get, "/healthz", false, [this](const Request&) { return Healthz(); }},
      {verb::get, "/readyz", false, [this](const Request&) { return Readyz(); }},
      {verb::get, "/v1/status", false, [this](const Request&) { return StatusReport(); }},
  };
  // Models.
  if (control.models) {
    table.push_back({verb::get, "/v1/models", false, [this](const Request&) {
                       auto models = control.models();
                       if (!models.ok()) return ForStatus(models.status());
                       return Response{http::status::ok, "application/json", *models + "\n", {}, nullptr};
                     }});
  }
  if (control.submit) {
    table.push_back({verb::post, "/v1/retrain", true, [this](const Request&) {
                       return AskPipeline([](JsonReply reply) { return RetrainCommand{std::move(reply)}; }, "",
                                          http::status::accepted);
                     }});
    table.push_back({verb::post, "/v1/models/{version}/activate", true, [this](const Request& req) {
                       const std::string& version = req.params.at("version");
                       if (!IsVersionName(version)) {
                         return Error(http::status::bad_request, "bad_version",
                                      "'" + version + "' is not a version name: vNNNN (PinSage) or rNNNN (ranker), as GET /v1/models lists them");
                       }
                       return AskPipeline([&](JsonReply reply) { return ActivateCommand{version, std::move(reply)}; }, "",
                                          http::status::accepted);
                     }});
  }
  // Lists.
  if (control.shelf) {
    table.push_back({verb::get, "/v1/users/{id}/recommendations", false,
                     [this](const Request& req) { return Recommendations(req); }});
  }
  // What the pipeline thread answers (its queue).
  if (control.submit) {
    table.push_back({verb::get, "/v1/items/{id}/similar", false,
                     [this](const Request& req) { return SimilarItems(req); }});
    table.push_back({verb::get, "/v1/users/{id}", false, [this](const Request& req) {
                       if (!req.query.empty()) {
                         return Error(http::status::bad_request, "bad_parameter", "this route takes no query parameters");
                       }
                       const std::string& user = req.params.at("id");
                       return AskPipeline([&](JsonReply reply) { return UserCommand{user, std::move(reply)}; },
                                          "recd holds no user '" + user + "' (never seen, or evicted as cold)");
                     }});
    table.push_back({verb::post, "/v1/checkpoint", true, [this](const Request& req) {
                       auto dir = req.query.find("dir");
                       if (dir == req.query.end() || req.query.size() != 1) {
                         return Error(http::status::bad_request, "bad_parameter",
                                      "name the checkpoint's directory: POST /v1/checkpoint?dir=/absolute/new/dir "
                                      "(it must not exist; recd's user must be able to write its parent)");
                       }
                       return AskPipeline([&](JsonReply reply) { return CheckpointCommand{dir->second, std::move(reply)}; },
                                          "");
                     }});
  }
  return table;
}

Response AdminServer::Impl::Healthz() {
  const uint64_t beat = stats.heartbeat.load();
  const auto now = std::chrono::steady_clock::now();
  bool turning;
  {
    std::lock_guard<std::mutex> lock(health_mu);
    if (beat != last_beat) {
      last_beat = beat;
      last_move = now;
    }
    // The loop turns at least every poll timeout; 30 s without a turn is a stall.
    turning = now - last_move < std::chrono::seconds(30);
  }
  // An output that has failed every delivery for 30 s is as broken.
  const int64_t failing_since = stats.output_failing_since_ms.load();
  const bool delivering = failing_since == 0 || SteadyNowMillis() - failing_since < 30'000;
  return Text(turning && delivering ? http::status::ok : http::status::service_unavailable,
              !turning      ? "pipeline stalled\n"
              : !delivering ? "output failing: nothing delivered for " +
                                  std::to_string((SteadyNowMillis() - failing_since) / 1000) + " s (see the log)\n"
                            : "ok\n");
}

Response AdminServer::Impl::Readyz() const {
  // Ready: the loop has turned, a Kafka broker is reachable, the store takes
  // writes and the group has assigned this instance a partition. Not ready is
  // not broken (that is /healthz): recd waits for the brokers, the disk and
  // the group.
  auto seconds_since = [](int64_t since) { return std::to_string(since == 0 ? 0 : (SteadyNowMillis() - since) / 1000); };
  const int64_t unwritable_since = stats.store_unwritable_since_ms.load();
  const bool started = stats.heartbeat.load() > 0;
  const bool reachable = stats.brokers_reachable.load();
  const bool assigned = stats.assigned_partitions.load() > 0;
  if (started && reachable && unwritable_since == 0 && assigned) return Text(http::status::ok, "ready\n");
  return Text(http::status::service_unavailable,
              !started     ? "starting\n"
              : !reachable ? "no Kafka broker reachable for " + seconds_since(stats.brokers_unreachable_since_ms.load()) +
                                 " s (see the log)\n"
              : unwritable_since != 0
                  ? "the store has refused writes for " + seconds_since(unwritable_since) +
                        " s (a full disk? see the log); intake waits and loses nothing\n"
                  : "no partition of the events topic is assigned to this instance yet (the group is still "
                    "assigning, or it has more members than the topic has partitions)\n");
}

Response AdminServer::Impl::StatusReport() const {
  auto v = [](const auto& a) { return a.load(std::memory_order_relaxed); };
  nlohmann::json j = {
      {"uptime_seconds", std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started).count()},
      {"assigned_partitions", v(stats.assigned_partitions)},
      {"consumer_lag_records", v(stats.consumer_lag) < 0 ? nlohmann::json() : nlohmann::json(v(stats.consumer_lag))},
      {"events_applied", v(stats.applied)},
      {"events_rejected", v(stats.rejected)},
      {"lists_published", v(stats.lists_published)},
      {"lists_due", v(stats.lists_due)},
      {"users", v(stats.users)},
      {"items", v(stats.items)},
      {"store_writable", v(stats.store_unwritable_since_ms) == 0},
      {"brokers_reachable", stats.brokers_reachable.load()},
      {"model_active", v(stats.model_active) != 0},
      {"retrain_running", v(stats.retrain_running) != 0},
      {"ranker_active", v(stats.ranker_active) != 0},
      {"freshness_p50_seconds", stats.freshness.Quantile(0.5) / 1000.0},
      {"freshness_p99_seconds", stats.freshness.Quantile(0.99) / 1000.0},
  };
  if (control.status) {
    const nlohmann::json extra = nlohmann::json::parse(control.status());  // outlives the loop's items()
    for (const auto& [key, value] : extra.items()) j[key] = value;
  }
  return Json(http::status::ok, j);
}

namespace {

struct ListQuery {
  size_t k = 0;  // 0: the list's own k
  size_t offset = 0;
  std::set<std::string> exclude;
  std::optional<std::string> category;
};

Result<ListQuery> ParseListQuery(const Request& req) {
  ListQuery q;
  for (const auto& [name, value] : req.query) {
    if (name != "k" && name != "offset" && name != "exclude" && name != "category") {
      return Status::InvalidArgument("unknown query parameter '" + name +
                                     "'; this route takes k, offset, category and exclude");
    }
  }
  auto k = CountParam(req, "k", 0, kMostItemsPerPage);
  if (!k.ok()) return k.status();
  auto offset = CountParam(req, "offset", 0, 100'000);
  if (!offset.ok()) return offset.status();
  q.k = *k;
  q.offset = *offset;
  if (auto it = req.query.find("exclude"); it != req.query.end()) {
    for (std::string& item : SplitComma(it->second)) q.exclude.insert(std::move(item));
  }
  if (auto it = req.query.find("category"); it != req.query.end()) q.category = it->second;
  return q;
}

const std::string& CategoryAt(const ShelvedList& entry, size_t i) {
  return i < entry.categories.size() ? entry.categories[i] : kNoCategory;
}

// Whether the query's filters leave item `i` of `entry`.
bool Passes(const ListQuery& q, const ShelvedList& entry, size_t i) {
  return !q.exclude.count(entry.list.items[i].item_id) && (!q.category || CategoryAt(entry, i) == *q.category);
}

// Items of `entry` the query's filters leave.
size_t CountMatching(const ListQuery& q, const ShelvedList& entry) {
  size_t matching = 0;
  for (size_t i = 0; i < entry.list.items.size(); ++i) matching += Passes(q, entry, i) ? 1 : 0;
  return matching;
}

// One page of `entry` (may be null: no list) for `user`. `cold_start`: the
// user is unknown and `entry` is the cold-start list. `published`: whether the
// list is the one on the topic (or made just now for this request).
Response RenderList(const std::string& user, const ListQuery& q, const ShelvedList* entry, bool cold_start,
                    bool published, bool stale = false) {
  nlohmann::json items = nlohmann::json::array();
  size_t matching = 0;  // items passing the filters, over the whole list
  const size_t page = q.k == 0 ? (entry ? entry->list.k : 0) : q.k;
  if (entry) {
    for (size_t i = 0; i < entry->list.items.size(); ++i) {
      if (!Passes(q, *entry, i)) continue;
      const ScoredItem& item = entry->list.items[i];
      const std::string& category = CategoryAt(*entry, i);
      if (matching >= q.offset && matching < q.offset + page) {
        nlohmann::json j = {{"item_id", item.item_id}, {"score", item.score}};
        for (Reason r : item.reasons.list()) j["reasons"].push_back(Name(r));
        if (!category.empty()) j["category"] = category;
        items.push_back(std::move(j));
      }
      ++matching;
    }
  }
  return Json(http::status::ok,
              {{"user_id", user},
               {"items", std::move(items)},
               {"offset", q.offset},
               {"total", matching},  // items the filters leave in the list
               {"model_version", entry ? entry->list.model_version : ""},
               {"source", cold_start ? std::string("cold_start") : std::string(Name(entry->list.source))},
               {"published", published},
               {"stale", stale},  // the user has events this list does not reflect yet
               {"generated_at", entry ? FormatRfc3339(entry->list.generated_at) : ""}});
}

Response Busy(const std::string& message) {
  Response r = Error(http::status::service_unavailable, "busy", message);
  r.headers.emplace_back(http::field::retry_after, "1");
  return r;
}

// The answer to a command handed to the pipeline: `pending`'s, once its
// reply comes, or 503 when the queue refused the command.
Response Deferred(std::shared_ptr<PendingReply> pending, const Status& pushed) {
  if (!pushed.ok()) return Busy(pushed.message() + "; retry in a second");
  Response later;
  later.pending = std::move(pending);
  return later;
}

}  // namespace

Response AdminServer::Impl::Recommendations(const Request& req) const {
  const std::string& user = req.params.at("id");
  auto query = ParseListQuery(req);
  if (!query.ok()) return Error(http::status::bad_request, "bad_parameter", query.status().message());
  bool stale = false;
  const ListShelf::Entry entry = control.shelf->Get(user, &stale);
  size_t depth = 0;  // 0: a list of ranker.k
  if (entry) {
    // The shelved list answers unless the user has events it does not
    // reflect, or the page reaches past a list that may hold more.
    const size_t wanted = query->offset + (query->k == 0 ? entry->list.k : query->k);
    const bool full = entry->list.items.size() >= entry->list.k;
    const size_t matching = CountMatching(*query, *entry);
    if (full && matching < wanted) {
      // Filters thin a list out: rank deeper in proportion.
      const size_t listed = entry->list.items.size();
      const size_t deeper = matching == listed ? wanted : matching == 0 ? wanted * 4 : wanted * listed / matching + 1;
      depth = std::min(kMostRankedItems, std::max<size_t>(deeper, entry->list.k + 1));
    }
    if (!control.submit || (!stale && (depth == 0 || entry->list.items.size() >= kMostRankedItems))) {
      return RenderList(user, *query, entry.get(), false, entry->published);
    }
    // Fresher lists are a courtesy the pipeline pays for between batches:
    // while many asks wait on it (an intake backlog), a stale list that
    // covers the page answers at once, marked stale.
    if (stale && depth == 0 && fresh_asks->load() >= kMostFreshAsks) {
      return RenderList(user, *query, entry.get(), false, entry->published, /*stale=*/true);
    }
  } else if (!control.submit) {
    return RenderList(user, *query, control.shelf->ColdStart().get(), true, false);
  } else if (query->k > 0) {
    depth = std::min(kMostRankedItems, query->offset + query->k);  // ranker.k or deeper: the pipeline decides
  }
  // No fresh list here deep enough (a restart, a user not yet ranked, events
  // not yet reflected, a deeper page): the pipeline makes one now, or says
  // the user is unknown.
  auto pending = std::make_shared<PendingReply>();
  const ListShelf* shelf = control.shelf;
  fresh_asks->fetch_add(1);
  const Status pushed = control.submit(ListCommand{
      user,
      [pending, shelf, user, q = *query, asks = fresh_asks](Result<std::optional<ShelvedList>> made) {
        // Runs on the pipeline thread: nothing may escape into it.
        asks->fetch_sub(1);
        try {
          if (!made.ok()) return pending->Fulfil(Busy(made.status().message() + "; retry"));
          if (*made) return pending->Fulfil(RenderList(user, q, &**made, false, (*made)->published));
          pending->Fulfil(RenderList(user, q, shelf->ColdStart().get(), true, false));
        } catch (const std::exception& e) {
          pending->Fulfil(Error(http::status::internal_server_error, "internal", e.what()));
        }
      },
      depth});
  if (!pushed.ok()) fresh_asks->fetch_sub(1);
  return Deferred(std::move(pending), pushed);
}

template <typename Make>
Response AdminServer::Impl::AskPipeline(Make make, std::string unknown, http::status success) const {
  auto pending = std::make_shared<PendingReply>();
  JsonReply reply = [pending, success, unknown = std::move(unknown)](Result<std::optional<std::string>> answer) {
    // Runs on the pipeline thread: nothing may escape into it.
    try {
      if (!answer.ok()) {
        const Status& s = answer.status();
        if (s.code() == Status::Code::kInvalidArgument) {
          return pending->Fulfil(Error(http::status::bad_request, "bad_request", s.message()));
        }
        if (s.code() == Status::Code::kNotFound) return pending->Fulfil(Error(http::status::not_found, "not_found", s.message()));
        if (s.code() == Status::Code::kCorruption) return pending->Fulfil(Error(http::status::conflict, "refused", s.message()));
        if (s.code() == Status::Code::kUnavailable) return pending->Fulfil(Busy(s.message() + "; retry"));
        return pending->Fulfil(Error(http::status::internal_server_error, "failed", s.ToString()));
      }
      if (!*answer) return pending->Fulfil(Error(http::status::not_found, "not_found", unknown));
      pending->Fulfil(Response{success, "application/json", **answer + "\n", {}, nullptr});
    } catch (const std::exception& e) {
      pending->Fulfil(Error(http::status::internal_server_error, "internal", e.what()));
    }
  };
  return Deferred(std::move(pending), control.submit(make(std::move(reply))));
}

Response AdminServer::Impl::SimilarItems(const Request& req) const {
  for (const auto& [name, value] : req.query) {
    if (name != "k" && name != "category") {
      return Error(http::status::bad_request, "bad_parameter",
                   "unknown query parameter '" + name + "'; this route takes k and category");
    }
  }
  auto k = CountParam(req, "k", 10, kMostSimilarItems);
  if (!k.ok()) return Error(http::status::bad_request, "bad_parameter", k.status().message());
  if (*k == 0) return Error(http::status::bad_request, "bad_parameter", "k must be at least 1");
  const std::string& item = req.params.at("id");
  auto category = req.query.find("category");
  return AskPipeline(
      [&](JsonReply reply) {
        return SimilarCommand{item, *k, category == req.query.end() ? "" : category->second, std::move(reply)};
      },
      "recd holds no item '" + item + "' (item ids are the events' item_id)");
}

Response AdminServer::Impl::Dispatch(const http::request<http::string_body>& raw) {
  const std::string_view target(raw.target().data(), raw.target().size());
  const size_t question = target.find('?');
  Request req;
  req.method = raw.method();
  const std::string_view raw_path = target.substr(0, question);
  if (raw_path.empty() || raw_path.front() != '/') {
    return Error(http::status::bad_request, "bad_target", "the request target must be a path like /v1/status");
  }
  // Split first, then decode each segment: an encoded '/' stays inside its segment.
  std::vector<std::string> segments = Segments(raw_path);
  for (std::string& segment : segments) {
    auto decoded = PercentDecode(segment, false);
    if (!decoded) return Error(http::status::bad_request, "bad_target", "a broken %-escape in the path: " + segment);
    segment = std::move(*decoded);
  }
  req.path = std::string(raw_path);
  if (question != std::string_view::npos) {
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
      const size_t amp = query.find('&');
      const std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      auto name = PercentDecode(pair.substr(0, eq), true);
      auto value = PercentDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
      if (!name || !value) {
        return Error(http::status::bad_request, "bad_query", "a broken %-escape in the query string: " + std::string(pair));
      }
      req.query[*name] = *value;
    }
  }

  std::vector<std::string> allowed;  // methods of the routes the path matches
  for (size_t i = 0; i < routes.size(); ++i) {
    std::map<std::string, std::string> params;
    if (!Matches(route_segments[i], segments, &params)) continue;
    const Route& route = routes[i];
    // HEAD is GET without the body (the session drops it).
    if (route.method != req.method && !(req.method == http::verb::head && route.method == http::verb::get)) {
      allowed.emplace_back(http::to_string(route.method));
      continue;
    }
    if (route.needs_token) {
      if (control.token.empty()) {
        return Error(http::status::forbidden, "forbidden",
                     "POST routes are off: set admin.token_file to a file holding a token");
      }
      const std::string auth(raw[http::field::authorization]);
      const std::string bearer = "Bearer ";
      if (!StartsWith(auth, bearer) || !ConstantTimeEquals(auth.substr(bearer.size()), control.token)) {
        Response r = Error(http::status::unauthorized, "unauthorized",
                           "missing or wrong bearer token (Authorization: Bearer <admin.token_file's token>)");
        r.headers.emplace_back(http::field::www_authenticate, "Bearer realm=\"recd\"");
        return r;
      }
    }
    req.params = std::move(params);
    return route.handler(req);
  }
  if (!allowed.empty()) {
    std::string methods;
    for (const auto& m : allowed) methods += (methods.empty() ? "" : ", ") + m;
    Response r = Error(http::status::method_not_allowed, "method_not_allowed",
                       req.path + " takes " + methods + ", not " + std::string(http::to_string(req.method)));
    r.headers.emplace_back(http::field::allow, methods);
    return r;
  }
  std::string valid;
  for (const Route& r : routes) valid += (valid.empty() ? "" : ", ") + RouteName(r);
  return Error(http::status::not_found, "not_found", "no route " + req.path + "; the routes are: " + valid);
}

namespace {

// One client connection: wait for a request (read deadline for the first, idle
// deadline between keep-alive requests), read it whole within the read
// deadline and the limits, answer within the write deadline, repeat.
class Session : public std::enable_shared_from_this<Session> {
 public:
  using Dispatcher = std::function<Response(const http::request<http::string_body>&)>;
  Session(tcp::socket socket, const AdminOptions& options, std::atomic<size_t>& connections, Dispatcher dispatch,
          std::shared_ptr<Gate> gate)
      : stream_(std::move(socket)),
        timer_(stream_.get_executor()),
        options_(options),
        connections_(connections),
        dispatch_(std::move(dispatch)),
        gate_(std::move(gate)) {
    connections_.fetch_add(1);
  }
  ~Session() { connections_.fetch_sub(1); }

  void Start() { WaitForRequest(std::chrono::milliseconds(options_.read_timeout_ms)); }

  // Answers 503 at once and closes (too many connections).
  void Refuse() {
    Response r = Error(http::status::service_unavailable, "too_many_connections",
                       "the admin server holds admin.max_connections connections; retry, or reuse a keep-alive connection");
    r.headers.emplace_back(http::field::retry_after, "1");
    Send(std::move(r), 11, false);
  }

 private:
  void WaitForRequest(std::chrono::milliseconds wait) {
    if (buffer_.size() > 0) return ReadRequest();  // pipelined bytes are already here
    stream_.expires_after(wait);
    stream_.async_read_some(buffer_.prepare(512), [self = shared_from_this()](beast::error_code ec, size_t n) {
      if (ec) return self->Close();
      self->buffer_.commit(n);
      self->ReadRequest();
    });
  }

  void ReadRequest() {
    head_ = false;  // an error answer to this request has its body
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(options_.header_limit_bytes));
    parser_->body_limit(options_.body_limit_bytes);
    stream_.expires_after(std::chrono::milliseconds(options_.read_timeout_ms));
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
      self->OnRead(ec);
    });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      return Send(Error(http::status::payload_too_large, "body_too_large",
                        "the body exceeds admin.body_limit_bytes (" + std::to_string(options_.body_limit_bytes) + ")"),
                  11, false);
    }
    if (ec == http::error::header_limit) {
      return Send(Error(http::status::request_header_fields_too_large, "headers_too_large",
                        "the headers exceed admin.header_limit_bytes (" + std::to_string(options_.header_limit_bytes) + ")"),
                  11, false);
    }
    if (ec == beast::error::timeout || ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::connection_reset || ec == asio::error::operation_aborted) {
      return Close();
    }
    if (ec) {
      return Send(Error(http::status::bad_request, "bad_request", "not a valid HTTP/1.1 request: " + ec.message()), 11,
                  false);
    }
    const http::request<http::string_body>& req = parser_->get();
    head_ = req.method() == http::verb::head;
    Response response;
    try {
      response = dispatch_(req);
    } catch (const std::exception& e) {
      RECD_ERROR("admin endpoint: " << req.method_string() << " " << req.target() << " failed: " << e.what());
      response = Error(http::status::internal_server_error, "internal", "the request failed (see recd's log)");
    }
    if (response.pending) return AwaitReply(std::move(response.pending), req.version(), req.keep_alive());
    Send(std::move(response), req.version(), req.keep_alive());
  }

  // Waits, within the read deadline, for another thread's answer. The wake
  // cancels the timer on this session's strand, through the gate.
  void AwaitReply(std::shared_ptr<PendingReply> pending, unsigned version, bool keep_alive) {
    const uint64_t wait = ++wait_number_;  // a late wake of an earlier wait must not cancel this one
    timer_.expires_after(std::chrono::milliseconds(options_.read_timeout_ms));
    timer_.async_wait([self = shared_from_this(), pending, version, keep_alive](beast::error_code) {
      std::optional<Response> r = pending->Take();
      if (!r) r = Busy("no answer from the pipeline within admin.read_timeout_ms; retry");
      self->Send(std::move(*r), version, keep_alive);
    });
    pending->OnReady([gate = gate_, weak = weak_from_this(), wait] {
      std::lock_guard<std::mutex> lock(gate->mu);
      if (!gate->open) return;
      if (auto self = weak.lock()) {
        asio::post(self->stream_.get_executor(), [self, wait] {
          if (self->wait_number_ == wait) self->timer_.cancel();
        });
      }
    });
  }

  void Send(Response r, unsigned version, bool keep_alive) {
    auto res = std::make_shared<http::response<http::string_body>>(r.status, version);
    res->set(http::field::server, "recd");
    res->set(http::field::content_type, r.content_type);
    for (auto& [field, value] : r.headers) res->set(field, value);
    res->keep_alive(keep_alive);
    res->body() = std::move(r.body);
    res->prepare_payload();
    if (head_) {  // HEAD: GET's headers, Content-Length included, and no body
      const auto length = res->body().size();
      res->body().clear();
      res->content_length(length);
    }
    stream_.expires_after(std::chrono::milliseconds(options_.write_timeout_ms));
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      if (ec || !res->keep_alive()) return self->Close();
      self->WaitForRequest(std::chrono::milliseconds(self->options_.idle_timeout_ms));
    });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  asio::steady_timer timer_;  // AwaitReply's deadline
  uint64_t wait_number_ = 0;  // AwaitReply's, on the strand
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool head_ = false;  // the request being answered is a HEAD
  const AdminOptions& options_;
  std::atomic<size_t>& connections_;
  Dispatcher dispatch_;
  std::shared_ptr<Gate> gate_;
};

}  // namespace

void AdminServer::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (!ec) {
      auto session = std::make_shared<Session>(std::move(socket), options, connections,
                                               [this](const http::request<http::string_body>& req) { return Dispatch(req); },
                                               gate);
      // `connections` counts this one too.
      if (connections.load() > options.max_connections) session->Refuse(); else session->Start();
      Accept();
    } else {
      // Out of descriptors, say: wait a little rather than spin on the error.
      RECD_WARN("admin endpoint: accept failed: " << ec.message() << "; retrying in 100 ms");
      accept_backoff.expires_after(std::chrono::milliseconds(100));
      accept_backoff.async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) Accept();
      });
    }
  });
}

Result<std::unique_ptr<AdminServer>> AdminServer::Start(const AdminOptions& options, const PipelineStats& stats,
                                                        AdminControl control) {
  const std::string& listen = options.listen;
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("admin.listen \"" + listen + "\" must be host:port, e.g. 127.0.0.1:9464");
  }
  std::unique_ptr<AdminServer> self(new AdminServer());
  self->impl_ = std::make_unique<Impl>(options, stats, std::move(control));
  Impl& impl = *self->impl_;
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(listen.substr(0, colon), ec);
  if (ec) return Status::InvalidArgument("admin.listen host \"" + listen.substr(0, colon) + "\": " + ec.message());
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) return Status::InvalidArgument("admin.listen port in \"" + listen + "\" is not 0..65535");
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  impl.acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl.acceptor.bind(endpoint, ec);
  if (!ec) impl.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("admin endpoint on " + listen + ": " + ec.message());
  self->port_ = impl.acceptor.local_endpoint().port();
  impl.Accept();
  for (int t = 0; t < std::max(1, options.threads); ++t) {
    impl.threads.emplace_back([&impl] { impl.io.run(); });
  }
  std::string names;
  for (const Route& r : impl.routes) names += (names.empty() ? "" : ", ") + RouteName(r);
  RECD_INFO("admin endpoint on http://" << listen.substr(0, colon) << ":" << self->port_ << " (" << names << ")");
  return self;
}

AdminServer::~AdminServer() {
  if (!impl_) return;
  // Stops every handler where it stands: sessions are not waited for; the
  // io_context's destruction (with Impl) closes their sockets. Replies still
  // to come from other threads find the gate closed.
  {
    std::lock_guard<std::mutex> lock(impl_->gate->mu);
    impl_->gate->open = false;
  }
  impl_->io.stop();
  for (std::thread& t : impl_->threads) t.join();
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace recd::daemon
