#include "daemon/admin.h"

#include <limits>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <sys/socket.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "base/log.h"
#include "base/text.h"

namespace recd::daemon {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

bool StartsWith(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }
bool EndsWith(const std::string& s, const std::string& p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

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
      Family("recd_prequential_ndcg_sum", "Sum of NDCG@10 gains over scored positives (divide by positives)", MetricType::Counter, v(s.ndcg_sum)),
      Family("recd_prequential_without_list_total", "Positive events of users who had no list yet", MetricType::Counter, v(s.positives_without_list)),
      Family("recd_prequential_hr_at_10", "HR@10 over the most recent eval.window scored positives", MetricType::Gauge, v(s.window_hr)),
      Family("recd_prequential_ndcg_at_10", "NDCG@10 over the most recent eval.window scored positives", MetricType::Gauge, v(s.window_ndcg)),
      Family("recd_prequential_window_positives", "Scored positives in the sliding window", MetricType::Gauge, v(s.window_positives)),
      Family("recd_model_active", "1 while a PinSage model ranks (0: the co-occurrence ranker)", MetricType::Gauge, v(s.model_active)),
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

struct AdminServer::Impl {
  Impl(const PipelineStats& s, AdminControl c) : stats(s), control(std::move(c)), acceptor(io) {}
  void Serve();
  http::response<http::string_body> Handle(const http::request<http::string_body>& req);

  // The /v1 endpoints (the rest answers 404 from Handle).
  void HandleV1(const http::request<http::string_body>& req, http::response<http::string_body>* res);

  const PipelineStats& stats;
  AdminControl control;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::thread thread;
  std::atomic<bool> stopping{false};
  // /healthz: the heartbeat last seen and when it last moved.
  uint64_t last_beat = ~uint64_t(0);
  std::chrono::steady_clock::time_point last_move = std::chrono::steady_clock::now();
};

http::response<http::string_body> AdminServer::Impl::Handle(const http::request<http::string_body>& req) {
  http::response<http::string_body> res;
  res.version(req.version());
  res.keep_alive(false);
  res.set(http::field::server, "recd");
  const auto target = req.target();
  if (StartsWith(std::string(target), "/v1/")) {
    HandleV1(req, &res);
  } else if (req.method() != http::verb::get) {
    res.result(http::status::method_not_allowed);
    res.body() = "use GET\n";
  } else if (target == "/metrics") {
    res.result(http::status::ok);
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.body() = RenderMetrics(stats);
  } else if (target == "/healthz") {
    const uint64_t beat = stats.heartbeat.load();
    const auto now = std::chrono::steady_clock::now();
    if (beat != last_beat) {
      last_beat = beat;
      last_move = now;
    }
    // The loop turns at least every poll timeout; 30 s without a turn is a stall.
    // An output that has failed every delivery for 30 s is as broken.
    const bool turning = now - last_move < std::chrono::seconds(30);
    const int64_t failing_since = stats.output_failing_since_ms.load();
    const bool delivering = failing_since == 0 || SteadyNowMillis() - failing_since < 30'000;
    res.result(turning && delivering ? http::status::ok : http::status::service_unavailable);
    res.body() = !turning      ? "pipeline stalled\n"
                 : !delivering ? "output failing: nothing delivered for " +
                                     std::to_string((SteadyNowMillis() - failing_since) / 1000) + " s (see the log)\n"
                               : "ok\n";
  } else if (target == "/readyz") {
    // Ready: the loop has turned, a Kafka broker is reachable and the store
    // takes writes. Not ready is not broken (that is /healthz): recd waits for
    // the brokers and the disk.
    auto seconds_since = [](int64_t since) { return std::to_string(since == 0 ? 0 : (SteadyNowMillis() - since) / 1000); };
    const int64_t unwritable_since = stats.store_unwritable_since_ms.load();
    const bool started = stats.heartbeat.load() > 0;
    const bool reachable = stats.brokers_reachable.load();
    const bool ready = started && reachable && unwritable_since == 0;
    res.result(ready ? http::status::ok : http::status::service_unavailable);
    if (ready) {
      res.body() = "ready\n";
    } else if (!started) {
      res.body() = "starting\n";
    } else if (!reachable) {
      res.body() = "no Kafka broker reachable for " + seconds_since(stats.brokers_unreachable_since_ms.load()) +
                   " s (see the log)\n";
    } else {
      res.body() = "the store has refused writes for " + seconds_since(unwritable_since) +
                   " s (a full disk? see the log); intake waits and loses nothing\n";
    }
  } else {
    res.result(http::status::not_found);
    res.body() = "try /metrics, /healthz, /readyz or /v1/models\n";
  }
  res.prepare_payload();
  return res;
}

namespace {

void Reply(http::response<http::string_body>* res, http::status status, const std::string& message) {
  res->result(status);
  res->set(http::field::content_type, "application/json");
  res->body() = nlohmann::json{{status < http::status::bad_request ? "status" : "error", message}}.dump() + "\n";
}

http::status ForStatus(const Status& s) {
  switch (s.code()) {
    case Status::Code::kNotFound: return http::status::not_found;
    case Status::Code::kInvalidArgument: return http::status::bad_request;
    default: return http::status::service_unavailable;
  }
}

}  // namespace

void AdminServer::Impl::HandleV1(const http::request<http::string_body>& req, http::response<http::string_body>* res) {
  const std::string target(req.target());
  if (target == "/v1/models") {
    if (req.method() != http::verb::get) {
      res->set(http::field::allow, "GET");
      return Reply(res, http::status::method_not_allowed, "use GET " + target);
    }
    if (!control.models) return Reply(res, http::status::not_found, "no model registry here");
    auto models = control.models();
    if (!models.ok()) return Reply(res, ForStatus(models.status()), models.status().message());
    res->result(http::status::ok);
    res->set(http::field::content_type, "application/json");
    res->body() = *models + "\n";
    return;
  }
  const std::string prefix = "/v1/models/", suffix = "/activate";
  const bool activate = target.size() > prefix.size() + suffix.size() && StartsWith(target, prefix) &&
                        EndsWith(target, suffix);
  if (target != "/v1/retrain" && !activate) {
    return Reply(res, http::status::not_found, "no such endpoint; try GET /v1/models, POST /v1/retrain or POST /v1/models/{version}/activate");
  }
  if (req.method() != http::verb::post) {
    res->set(http::field::allow, "POST");
    return Reply(res, http::status::method_not_allowed, "use POST " + target);
  }
  if (control.token.empty()) {
    return Reply(res, http::status::forbidden, "POST endpoints are off: set admin.token_file to a file holding a token");
  }
  const std::string auth(req[http::field::authorization]);
  const std::string bearer = "Bearer ";
  if (!StartsWith(auth, bearer) || !ConstantTimeEquals(auth.substr(bearer.size()), control.token)) {
    res->set(http::field::www_authenticate, "Bearer realm=\"recd\"");
    return Reply(res, http::status::unauthorized, "missing or wrong bearer token (Authorization: Bearer <admin.token_file's token>)");
  }
  if (!activate) {
    if (!control.retrain) return Reply(res, http::status::not_found, "retraining is not available here");
    const Status s = control.retrain();
    if (!s.ok()) return Reply(res, ForStatus(s), s.message());
    return Reply(res, http::status::accepted, "retrain requested; see the log and GET /v1/models for the decision");
  }
  const std::string version = target.substr(prefix.size(), target.size() - prefix.size() - suffix.size());
  if (!control.activate) return Reply(res, http::status::not_found, "activation is not available here");
  const Status s = control.activate(version);
  if (!s.ok()) return Reply(res, ForStatus(s), s.message());
  Reply(res, http::status::accepted,
        version + " activation requested; it serves once loaded (recd_model_loads_total for PinSage versions, "
                  "the log and recd_ranker_active for ranker versions)");
}

void AdminServer::Impl::Serve() {
  while (!stopping.load()) {
    tcp::socket socket(io);
    boost::system::error_code ec;
    acceptor.accept(socket, ec);
    if (ec) {
      if (stopping.load()) return;
      continue;
    }
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::read(socket, buffer, req, ec);
    if (!ec) http::write(socket, Handle(req), ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
  }
}

Result<std::unique_ptr<AdminServer>> AdminServer::Start(const std::string& listen, const PipelineStats& stats,
                                                        AdminControl control) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("admin.listen \"" + listen + "\" must be host:port, e.g. 127.0.0.1:9464");
  }
  std::unique_ptr<AdminServer> self(new AdminServer());
  self->impl_ = std::make_unique<Impl>(stats, std::move(control));
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
  impl.thread = std::thread([&impl] { impl.Serve(); });
  RECD_INFO("admin endpoint on http://" << listen.substr(0, colon) << ":" << self->port_ << " (/metrics, /healthz, /readyz, /v1/models)");
  return self;
}

AdminServer::~AdminServer() {
  if (!impl_) return;
  impl_->stopping.store(true);
  // On Linux, shutdown() wakes a thread blocked in accept() on this socket; close() alone does not.
  ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
  if (impl_->thread.joinable()) impl_->thread.join();
  boost::system::error_code ec;
  impl_->acceptor.close(ec);
}

}  // namespace recd::daemon
