// Unit tests for daemon/admin: the Prometheus exposition and the HTTP endpoint.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <optional>
#include <cstdio>
#include <sys/socket.h>
#include <sys/time.h>
#include <thread>
#include <nlohmann/json.hpp>
#include <fstream>

#include "daemon/admin.h"
#include "daemon/admin_commands.h"

namespace recd::daemon {
namespace {

namespace http = boost::beast::http;

std::pair<int, std::string> Send(int port, http::verb verb, const std::string& target, const std::string& auth = "") {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  http::request<http::empty_body> req(verb, target, 11);
  if (!auth.empty()) req.set(http::field::authorization, auth);
  http::write(socket, req);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  return {res.result_int(), res.body()};
}

std::pair<int, std::string> Get(int port, const std::string& target) { return Send(port, http::verb::get, target); }

AdminOptions Local() {
  AdminOptions o;
  o.listen = "127.0.0.1:0";
  return o;
}

TEST(Admin, ServesMetricsAndHealth) {
  PipelineStats stats;
  stats.applied = 7;
  stats.rejected = 2;
  stats.edges = 40;
  stats.heartbeat = 1;
  auto server = AdminServer::Start(Local(), stats);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = (*server)->port();
  ASSERT_GT(port, 0);
  auto [code, body] = Get(port, "/metrics");
  EXPECT_EQ(code, 200);
  EXPECT_NE(body.find("# TYPE recd_events_applied_total counter\nrecd_events_applied_total 7\n"), std::string::npos) << body;
  EXPECT_NE(body.find("recd_events_rejected_total 2\n"), std::string::npos) << body;
  EXPECT_NE(body.find("# TYPE recd_graph_edges gauge\nrecd_graph_edges 40\n"), std::string::npos) << body;
  EXPECT_EQ(Get(port, "/healthz"), (std::pair<int, std::string>{200, "ok\n"}));
  EXPECT_EQ(Get(port, "/other").first, 404);
}

// /readyz: 200 only once the loop turns, a broker answers, the store takes
// writes and a partition is assigned; each missing condition is named.
TEST(Admin, ReadyzNamesWhatIsMissing) {
  PipelineStats stats;
  auto server = AdminServer::Start(Local(), stats);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = (*server)->port();
  EXPECT_EQ(Get(port, "/readyz"), (std::pair<int, std::string>{503, "starting\n"}));
  stats.heartbeat = 1;
  EXPECT_EQ(Get(port, "/readyz").first, 503);
  EXPECT_NE(Get(port, "/readyz").second.find("no Kafka broker reachable"), std::string::npos);
  stats.brokers_reachable = true;
  stats.store_unwritable_since_ms = SteadyNowMillis();
  EXPECT_NE(Get(port, "/readyz").second.find("the store has refused writes"), std::string::npos);
  stats.store_unwritable_since_ms = 0;
  EXPECT_EQ(Get(port, "/readyz").first, 503);
  EXPECT_NE(Get(port, "/readyz").second.find("no partition of the events topic is assigned"), std::string::npos);
  stats.assigned_partitions = 2;
  EXPECT_EQ(Get(port, "/readyz"), (std::pair<int, std::string>{200, "ready\n"}));
  EXPECT_EQ(Get(port, "/healthz").first, 200);  // liveness does not wait for the group
}

TEST(Admin, RejectsABadListenAddress) {
  PipelineStats stats;
  auto server = AdminServer::Start(AdminOptions{"localhost-no-port"}, stats);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("must be host:port"), std::string::npos);
}

constexpr char kToken[] = "0123456789abcdef-token";

// A test thread playing the pipeline: takes every command from `commands`
// and answers it with `serve`, until destroyed.
class FakePipeline {
 public:
  FakePipeline(AdminCommands& commands, std::function<void(AdminCommand&)> serve)
      : thread_([this, &commands, serve = std::move(serve)] {
          while (serving_) {
            for (AdminCommand& c : commands.Take()) serve(c);
            std::this_thread::sleep_for(std::chrono::milliseconds(2));
          }
        }) {}
  ~FakePipeline() {
    serving_ = false;
    thread_.join();
  }

 private:
  std::atomic<bool> serving_{true};
  std::thread thread_;
};

AdminControl Submitting(AdminCommands& commands) {
  AdminControl control;
  control.submit = [&commands](AdminCommand command) {
    return commands.Push(std::move(command)) ? Status::Ok() : Status::Unavailable("full");
  };
  return control;
}

std::optional<std::string> Answer(const std::string& json) { return std::optional<std::string>(json); }

// The /v1 endpoints: what each answers, and that POSTs need the exact token.
TEST(Admin, V1EndpointsNeedTheBearerTokenForPosts) {
  PipelineStats stats;
  std::atomic<int> retrains{0};
  std::vector<std::string> activated;
  AdminCommands commands(8);
  AdminControl control = Submitting(commands);
  FakePipeline pipeline(commands, [&](AdminCommand& command) {
    if (auto* r = std::get_if<RetrainCommand>(&command)) {
      ++retrains;
      r->reply(Answer(R"({"status":"retrain requested"})"));
    } else if (auto* a = std::get_if<ActivateCommand>(&command)) {
      if (a->version == "v0003") return a->reply(Status::Corruption("v0003: model.pt fails its checksum"));
      if (a->version != "v0002") return a->reply(Status::NotFound("no version " + a->version));
      activated.push_back(a->version);
      a->reply(Answer(R"({"status":"v0002 activation requested"})"));
    }
  });
  control.token = kToken;
  control.models = [] { return Result<std::string>(std::string("[{\"version\": \"v0002\"}]")); };
  auto server = AdminServer::Start(Local(), stats, control);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = (*server)->port();
  const std::string bearer = std::string("Bearer ") + kToken;

  EXPECT_EQ(Get(port, "/v1/models"), (std::pair<int, std::string>{200, "[{\"version\": \"v0002\"}]\n"}));
  EXPECT_EQ(Send(port, http::verb::post, "/v1/models", bearer).first, 405);
  EXPECT_EQ(Get(port, "/v1/retrain").first, 405);
  EXPECT_EQ(Send(port, http::verb::post, "/v1/retrain").first, 401);
  EXPECT_EQ(Send(port, http::verb::post, "/v1/retrain", "Bearer wrong").first, 401);
  EXPECT_EQ(Send(port, http::verb::post, "/v1/retrain", bearer + "x").first, 401);
  EXPECT_EQ(Send(port, http::verb::post, "/v1/retrain", std::string("Basic ") + kToken).first, 401);
  EXPECT_EQ(retrains, 0);
  EXPECT_EQ(Send(port, http::verb::post, "/v1/retrain", bearer).first, 202);
  EXPECT_EQ(retrains, 1);
  auto missing = Send(port, http::verb::post, "/v1/models/v0009/activate", bearer);
  EXPECT_EQ(missing.first, 404);
  EXPECT_NE(missing.second.find("no version v0009"), std::string::npos) << missing.second;
  EXPECT_EQ(Send(port, http::verb::post, "/v1/models/v0002/activate").first, 401);
  EXPECT_EQ(Send(port, http::verb::post, "/v1/models/v0003/activate", bearer).first, 409);
  EXPECT_EQ(Send(port, http::verb::post, "/v1/models/v0002/activate", bearer).first, 202);
  EXPECT_EQ(activated, std::vector<std::string>{"v0002"});
  EXPECT_EQ(Send(port, http::verb::post, "/v1/other", bearer).first, 404);
}

TEST(Admin, PostsAreRefusedWithoutATokenFile) {
  PipelineStats stats;
  AdminCommands commands(8);
  auto server = AdminServer::Start(Local(), stats, Submitting(commands));
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto reply = Send((*server)->port(), http::verb::post, "/v1/retrain", "Bearer anything-at-all-here");
  EXPECT_EQ(reply.first, 403);
  EXPECT_NE(reply.second.find("admin.token_file"), std::string::npos) << reply.second;
  EXPECT_EQ(commands.size(), 0u);
}

TEST(Admin, TokenComparisonAndTokenFiles) {
  EXPECT_TRUE(ConstantTimeEquals("secret-token-123", "secret-token-123"));
  EXPECT_FALSE(ConstantTimeEquals("secret-token-124", "secret-token-123"));
  EXPECT_FALSE(ConstantTimeEquals("secret-token-12", "secret-token-123"));
  EXPECT_FALSE(ConstantTimeEquals("secret-token-1234", "secret-token-123"));
  EXPECT_FALSE(ConstantTimeEquals("", "secret-token-123"));

  const std::string dir = ::testing::TempDir();
  const std::string good = dir + "/recd-token-good", short_one = dir + "/recd-token-short";
  std::ofstream(good) << "  " << kToken << "  \nsecond line ignored\n";
  std::ofstream(short_one) << "abc\n";
  auto token = ReadTokenFile(good);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(*token, kToken);
  auto too_short = ReadTokenFile(short_one);
  ASSERT_FALSE(too_short.ok());
  EXPECT_NE(too_short.status().message().find("at least 16"), std::string::npos) << too_short.status().message();
  auto missing = ReadTokenFile(dir + "/recd-token-none");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("cannot be read"), std::string::npos);
  std::remove(good.c_str());
  std::remove(short_one.c_str());
}

// ---- The asynchronous server: deadlines, limits, many connections ----------

// A raw client: writes bytes, reads what comes back until the server closes
// or `want` bytes arrived.
class RawClient {
 public:
  explicit RawClient(int port) : socket_(io_) {
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
    // A server that never answers fails the test instead of hanging it.
    const timeval timeout{20, 0};
    setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  void Write(const std::string& bytes) { boost::asio::write(socket_, boost::asio::buffer(bytes)); }
  // Everything until the server closes the connection.
  std::string ReadToClose() {
    std::string out;
    boost::system::error_code ec;
    char buf[4096];
    for (;;) {
      const size_t n = socket_.read_some(boost::asio::buffer(buf), ec);
      out.append(buf, n);
      if (ec) return out;
    }
  }
  std::pair<int, std::string> Request(const std::string& target) {
    http::request<http::empty_body> req(http::verb::get, target, 11);
    req.keep_alive(true);
    http::write(socket_, req);
    http::response<http::string_body> res;
    http::read(socket_, buffer_, res);
    return {res.result_int(), res.body()};
  }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
};

TEST(AdminServer, AnIdleClientDelaysNeitherOthersNorTheServersStop) {
  PipelineStats stats;
  AdminOptions options = Local();
  options.threads = 1;  // even one io thread: nothing blocks on the idle client
  options.read_timeout_ms = 120'000;
  const auto begin = std::chrono::steady_clock::now();
  {
    auto server = AdminServer::Start(options, stats);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    RawClient idle((*server)->port());       // connects, sends nothing
    RawClient half((*server)->port());
    half.Write("GET /metrics HTTP/1.1\r\nHost: x\r\n");  // headers never finished
    EXPECT_EQ(Get((*server)->port(), "/metrics").first, 200);
    EXPECT_EQ(Get((*server)->port(), "/healthz").first, 200);
  }  // the server stops with both clients still connected
  // Had the stop waited for a client, it would have taken the 120 s deadline.
  EXPECT_LT(std::chrono::steady_clock::now() - begin, std::chrono::seconds(60));
}

TEST(AdminServer, SlowAndIdleClientsAreDroppedAtTheirDeadline) {
  PipelineStats stats;
  AdminOptions options = Local();
  options.read_timeout_ms = 200;
  options.idle_timeout_ms = 200;
  auto server = AdminServer::Start(options, stats);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  RawClient idle((*server)->port());
  EXPECT_EQ(idle.ReadToClose(), "");  // closed without a word
  RawClient slow((*server)->port());
  slow.Write("GET /metrics HTTP/1.1\r\n");
  EXPECT_EQ(slow.ReadToClose(), "");
  // A keep-alive client is served, then closed once idle.
  RawClient kept((*server)->port());
  EXPECT_EQ(kept.Request("/healthz").first, 200);
  EXPECT_EQ(kept.Request("/healthz").first, 200);
  EXPECT_EQ(kept.ReadToClose(), "");
}

TEST(AdminServer, OversizedRequestsGet413And431) {
  PipelineStats stats;
  AdminOptions options = Local();
  options.body_limit_bytes = 100;
  options.header_limit_bytes = 1024;
  auto server = AdminServer::Start(options, stats);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  RawClient big_body((*server)->port());
  big_body.Write("POST /v1/retrain HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'a'));
  const std::string body_reply = big_body.ReadToClose();
  EXPECT_EQ(body_reply.rfind("HTTP/1.1 413", 0), 0u) << body_reply;
  EXPECT_NE(body_reply.find("admin.body_limit_bytes"), std::string::npos) << body_reply;
  RawClient big_header((*server)->port());
  big_header.Write("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Filler: " + std::string(4000, 'b') + "\r\n\r\n");
  const std::string header_reply = big_header.ReadToClose();
  EXPECT_EQ(header_reply.rfind("HTTP/1.1 431", 0), 0u) << header_reply;
  RawClient garbage((*server)->port());
  garbage.Write("NOT HTTP AT ALL\r\n\r\n");
  const std::string garbage_reply = garbage.ReadToClose();
  EXPECT_EQ(garbage_reply.rfind("HTTP/1.1 400", 0), 0u) << garbage_reply;
  EXPECT_EQ(Get((*server)->port(), "/healthz").first, 200);
}

TEST(AdminServer, ServesTwoHundredKeepAliveConnectionsAtOnce) {
  PipelineStats stats;
  stats.applied = 3;
  auto server = AdminServer::Start(Local(), stats);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int c = 0; c < 200; ++c) clients.push_back(std::make_unique<RawClient>((*server)->port()));
  for (int round = 0; round < 3; ++round) {
    for (auto& client : clients) {
      auto [code, body] = client->Request("/metrics");
      ASSERT_EQ(code, 200);
      ASSERT_NE(body.find("recd_events_applied_total 3\n"), std::string::npos);
    }
  }
}

TEST(AdminServer, ConnectionsBeyondTheLimitGet503WithRetryAfter) {
  PipelineStats stats;
  AdminOptions options = Local();
  options.max_connections = 2;
  auto server = AdminServer::Start(options, stats);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  RawClient a((*server)->port()), b((*server)->port());
  EXPECT_EQ(a.Request("/healthz").first, 200);
  EXPECT_EQ(b.Request("/healthz").first, 200);
  RawClient third((*server)->port());
  const std::string reply = third.ReadToClose();
  EXPECT_EQ(reply.rfind("HTTP/1.1 503", 0), 0u) << reply;
  EXPECT_NE(reply.find("Retry-After: 1"), std::string::npos) << reply;
  EXPECT_NE(reply.find("admin.max_connections"), std::string::npos) << reply;
}

TEST(AdminServer, UnknownRoutesAndWrongMethodsAreJsonErrorsNamingTheValidOnes) {
  PipelineStats stats;
  AdminControl control;
  control.models = [] { return Result<std::string>(std::string("[]")); };
  auto server = AdminServer::Start(Local(), stats, control);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = (*server)->port();
  auto [code, body] = Get(port, "/v2/nothing");
  EXPECT_EQ(code, 404);
  auto json = nlohmann::json::parse(body);
  EXPECT_EQ(json["error"], "not_found");
  EXPECT_NE(json["message"].get<std::string>().find("GET /v1/models"), std::string::npos) << body;
  EXPECT_NE(json["message"].get<std::string>().find("GET /metrics"), std::string::npos) << body;
  RawClient raw(port);
  raw.Write("DELETE /v1/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string reply = raw.ReadToClose();
  EXPECT_EQ(reply.rfind("HTTP/1.1 405", 0), 0u) << reply;
  EXPECT_NE(reply.find("Allow: GET"), std::string::npos) << reply;
  EXPECT_NE(reply.find("\"error\":\"method_not_allowed\""), std::string::npos) << reply;
  // Without a retrain function its route does not exist.
  EXPECT_EQ(Send(port, http::verb::post, "/v1/retrain").first, 404);
}

TEST(AdminServer, ActivationTakesOnlyVersionNames) {
  PipelineStats stats;
  std::vector<std::string> asked;
  AdminCommands commands(8);
  AdminControl control = Submitting(commands);
  control.token = kToken;
  FakePipeline pipeline(commands, [&](AdminCommand& command) {
    auto& a = std::get<ActivateCommand>(command);
    asked.push_back(a.version);
    a.reply(Answer("{}"));
  });
  auto server = AdminServer::Start(Local(), stats, control);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const std::string bearer = std::string("Bearer ") + kToken;
  const int port = (*server)->port();
  EXPECT_EQ(Send(port, http::verb::post, "/v1/models/..%2F..%2Fetc/activate", bearer).first, 400);
  EXPECT_EQ(Send(port, http::verb::post, "/v1/models/v12x/activate", bearer).first, 400);
  EXPECT_EQ(Send(port, http::verb::post, "/v1/models/r0003/activate", bearer).first, 202);
  EXPECT_EQ(asked, std::vector<std::string>{"r0003"});
}

// ---- The pull API ------------------------------------------------------------

ShelvedList ListOf(const std::string& user, std::vector<std::pair<std::string, std::string>> items) {
  ShelvedList s;
  s.list.user_id = user;
  s.list.k = static_cast<uint32_t>(items.size());
  s.list.model_version = "v0007";
  s.list.generated_at = 1'700'000'000'000;
  float score = 1.0f;
  for (auto& [item, category] : items) {
    s.list.items.push_back({item, score, {Reason::kCoOccurrence}});
    s.categories.push_back(category);
    score /= 2;
  }
  return s;
}

std::vector<std::string> ItemsOf(const nlohmann::json& j) {
  std::vector<std::string> out;
  for (const auto& item : j["items"]) out.push_back(item["item_id"]);
  return out;
}

TEST(AdminServer, RecommendationsPageFilterAndFallBackToColdStart) {
  PipelineStats stats;
  ListShelf shelf;
  shelf.Put(ListOf("u 1/é", {{"a", "coats"}, {"b", "shoes"}, {"c", "coats"}, {"d", "hats"}, {"e", "coats"}}));
  AdminControl control;
  control.shelf = &shelf;
  auto server = AdminServer::Start(Local(), stats, control);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = (*server)->port();
  auto get = [&](const std::string& target) {
    auto [code, body] = Get(port, target);
    EXPECT_EQ(code, 200) << target << " " << body;
    return nlohmann::json::parse(body);
  };
  const std::string user = "/v1/users/u%201%2F%C3%A9/recommendations";
  auto all = get(user);
  EXPECT_EQ(ItemsOf(all), (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(all["user_id"], "u 1/é");
  EXPECT_EQ(all["source"], "personalized");
  EXPECT_EQ(all["model_version"], "v0007");
  EXPECT_EQ(all["generated_at"], "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(all["total"], 5);
  EXPECT_EQ(all["items"][0]["reasons"], nlohmann::json::array({"co_occurrence"}));
  EXPECT_EQ(all["items"][0]["category"], "coats");
  EXPECT_EQ(ItemsOf(get(user + "?k=2")), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ItemsOf(get(user + "?k=2&offset=2")), (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(ItemsOf(get(user + "?k=2&offset=4")), (std::vector<std::string>{"e"}));
  EXPECT_EQ(ItemsOf(get(user + "?offset=9")), (std::vector<std::string>{}));
  auto coats = get(user + "?category=coats&k=2");
  EXPECT_EQ(ItemsOf(coats), (std::vector<std::string>{"a", "c"}));
  EXPECT_EQ(coats["total"], 3);
  EXPECT_EQ(ItemsOf(get(user + "?category=coats&exclude=a,e")), (std::vector<std::string>{"c"}));
  EXPECT_EQ(ItemsOf(get(user + "?category=nothing")), (std::vector<std::string>{}));

  // A user recd does not know: the cold-start list, said so; empty before one exists.
  auto unknown = get("/v1/users/stranger/recommendations");
  EXPECT_EQ(unknown["source"], "cold_start");
  EXPECT_EQ(ItemsOf(unknown), (std::vector<std::string>{}));
  shelf.PutColdStart(ListOf("", {{"p", "coats"}, {"q", "hats"}}));
  unknown = get("/v1/users/stranger/recommendations?category=hats");
  EXPECT_EQ(unknown["source"], "cold_start");
  EXPECT_EQ(unknown["user_id"], "stranger");
  EXPECT_EQ(ItemsOf(unknown), (std::vector<std::string>{"q"}));

  // Bad parameters name themselves.
  for (const std::string bad : {"?k=-1", "?k=ten", "?k=100000", "?offset=1.5", "?colour=red", "?k=%zz"}) {
    auto [code, body] = Get(port, user + bad);
    EXPECT_EQ(code, 400) << bad << " " << body;
    EXPECT_NO_THROW(EXPECT_TRUE(nlohmann::json::parse(body).contains("message")));
  }
  // A user forgotten (evicted) gets the cold-start list.
  shelf.Forget("u 1/é");
  EXPECT_EQ(get(user)["source"], "cold_start");
}

// A user the shelf has no list for: the pipeline's command queue makes one
// (here a test thread plays the pipeline), says the user is unknown (the
// cold-start list), does not answer in time (503), or is full (503).
TEST(AdminServer, AUserWithoutAShelvedListGetsOneMadeByThePipelineThread) {
  PipelineStats stats;
  ListShelf shelf;
  shelf.PutColdStart(ListOf("", {{"p", ""}}));
  AdminCommands commands(2);
  AdminControl control = Submitting(commands);
  control.shelf = &shelf;
  AdminOptions options = Local();
  options.read_timeout_ms = 3000;  // the fake pipeline answers within ms; only "silent" waits it out
  auto server = AdminServer::Start(options, stats, control);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = (*server)->port();

  std::vector<ListCommand> kept;  // "silent" commands, answered after the server is gone
  std::optional<FakePipeline> pipeline;
  pipeline.emplace(commands, [&](AdminCommand& command) {
    ListCommand& c = std::get<ListCommand>(command);
    if (c.user_id == "known") {
      ShelvedList made = ListOf("known", {{"x", "hats"}, {"y", ""}});
      made.published = false;  // as the pipeline marks a list made on demand
      c.reply(std::optional<ShelvedList>(std::move(made)));
    }
    else if (c.user_id == "silent") kept.push_back(std::move(c));
    else c.reply(std::optional<ShelvedList>());
  });
  auto known = Get(port, "/v1/users/known/recommendations?k=1");
  ASSERT_EQ(known.first, 200) << known.second;
  auto j = nlohmann::json::parse(known.second);
  EXPECT_EQ(ItemsOf(j), (std::vector<std::string>{"x"}));
  EXPECT_EQ(j["source"], "personalized");
  EXPECT_EQ(j["published"], false);
  EXPECT_EQ(j["total"], 2);
  auto ghost = Get(port, "/v1/users/ghost/recommendations");
  ASSERT_EQ(ghost.first, 200);
  EXPECT_EQ(nlohmann::json::parse(ghost.second)["source"], "cold_start");
  EXPECT_EQ(ItemsOf(nlohmann::json::parse(ghost.second)), (std::vector<std::string>{"p"}));
  auto silent = Get(port, "/v1/users/silent/recommendations");
  EXPECT_EQ(silent.first, 503);
  EXPECT_NE(silent.second.find("admin.read_timeout_ms"), std::string::npos) << silent.second;
  pipeline.reset();  // answers nothing more
  // With nobody taking commands the queue fills: 503 with Retry-After.
  RawClient c(port), d(port), e(port);
  d.Write("GET /v1/users/u3/recommendations HTTP/1.1\r\nHost: x\r\n\r\n");
  e.Write("GET /v1/users/u4/recommendations HTTP/1.1\r\nHost: x\r\n\r\n");
  for (int spin = 0; spin < 2000 && commands.size() < 2; ++spin) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(commands.size(), 2u);  // full
  c.Write("GET /v1/users/u5/recommendations HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string full = c.ReadToClose();
  EXPECT_EQ(full.rfind("HTTP/1.1 503", 0), 0u) << full;
  EXPECT_NE(full.find("Retry-After: 1"), std::string::npos) << full;
  EXPECT_NE(full.find("full"), std::string::npos) << full;
  server->reset();  // the server stops with replies still owed
  for (ListCommand& late : kept) late.reply(std::optional<ShelvedList>(ListOf("silent", {{"z", ""}})));
  for (AdminCommand& late : commands.Take()) Refuse(late, Status::Unavailable("stopping"));
}

// The shelved list answers while it is fresh and deep enough; a user with
// events it does not reflect, or a page past a full list, goes to the pipeline
// (with the depth the page needs; filters thin the list, so deeper still).
TEST(AdminServer, StaleListsAndDeeperPagesGoToThePipeline) {
  PipelineStats stats;
  ListShelf shelf;
  shelf.Put(ListOf("u", {{"a", "hats"}, {"b", "coats"}}));  // k = 2, full
  AdminCommands commands(8);
  AdminControl control = Submitting(commands);
  control.shelf = &shelf;
  auto server = AdminServer::Start(Local(), stats, control);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = (*server)->port();
  std::vector<size_t> depths;  // of the list commands that reached the pipeline
  std::optional<FakePipeline> pipeline;
  pipeline.emplace(commands, [&](AdminCommand& command) {
    ListCommand& c = std::get<ListCommand>(command);
    depths.push_back(c.depth);
    ShelvedList made = ListOf("u", {{"a", "hats"}, {"b", "coats"}, {"c", "hats"}, {"d", "coats"}});
    made.published = false;
    c.reply(std::optional<ShelvedList>(std::move(made)));
  });
  auto cached = Get(port, "/v1/users/u/recommendations?k=2");
  EXPECT_EQ(nlohmann::json::parse(cached.second)["published"], true);
  EXPECT_EQ(Get(port, "/v1/users/u/recommendations?category=hats&k=1").first, 200);  // one hat is there
  EXPECT_TRUE(depths.empty());
  auto deeper = Get(port, "/v1/users/u/recommendations?offset=2&k=2");
  EXPECT_EQ(ItemsOf(nlohmann::json::parse(deeper.second)), (std::vector<std::string>{"c", "d"}));
  auto hats = Get(port, "/v1/users/u/recommendations?category=hats&k=2");  // one hat in 2 items: rank 2 x 2 / 1 + 1
  EXPECT_EQ(ItemsOf(nlohmann::json::parse(hats.second)), (std::vector<std::string>{"a", "c"}));
  shelf.MarkStale("u");
  auto fresh = Get(port, "/v1/users/u/recommendations?k=2");
  EXPECT_EQ(nlohmann::json::parse(fresh.second)["published"], false);
  ShelvedList short_list = ListOf("u", {{"x", ""}});
  short_list.list.k = 3;
  shelf.Put(short_list);  // published again: the mark goes; a list short of its k holds all there is
  auto all = Get(port, "/v1/users/u/recommendations?offset=1&k=5");
  EXPECT_EQ(nlohmann::json::parse(all.second)["total"], 1);
  pipeline.reset();  // answers nothing more
  EXPECT_EQ(depths, (std::vector<size_t>{4, 5, 0}));
}

// The routes the pipeline thread answers through the command queue: related
// items, a user's profile and a checkpoint (a test thread plays the pipeline).
TEST(AdminServer, SimilarItemsUserAndCheckpointGoThroughTheCommandQueue) {
  PipelineStats stats;
  ListShelf shelf;
  AdminCommands commands(8);
  AdminControl control = Submitting(commands);
  control.token = kToken;
  control.shelf = &shelf;
  auto server = AdminServer::Start(Local(), stats, control);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = (*server)->port();
  std::vector<std::string> seen;  // what reached the pipeline, in order
  std::optional<FakePipeline> pipeline;
  pipeline.emplace(commands, [&](AdminCommand& command) {
    if (auto* c = std::get_if<SimilarCommand>(&command)) {
      seen.push_back("similar " + c->item_id + " k=" + std::to_string(c->k) + " category=" + c->category);
      if (c->item_id == "ghost") c->reply(std::optional<std::string>());
      else c->reply(std::optional<std::string>(R"({"item_id":")" + c->item_id + R"(","items":[]})"));
    } else if (auto* u = std::get_if<UserCommand>(&command)) {
      seen.push_back("user " + u->user_id);
      u->reply(std::optional<std::string>(R"({"user_id":")" + u->user_id + R"("})"));
    } else if (auto* p = std::get_if<CheckpointCommand>(&command)) {
      seen.push_back("checkpoint " + p->dir);
      if (p->dir == "relative") p->reply(Status::InvalidArgument("must be absolute"));
      else if (p->dir == "/full") p->reply(Status::IoError("No space left on device"));
      else p->reply(std::optional<std::string>(R"({"dir":")" + p->dir + R"("})"));
    }
  });
  auto similar = Get(port, "/v1/items/i1/similar?k=5&category=hats");
  EXPECT_EQ(similar.first, 200) << similar.second;
  EXPECT_EQ(nlohmann::json::parse(similar.second)["item_id"], "i1");
  EXPECT_EQ(Get(port, "/v1/items/i2/similar").first, 200);
  auto ghost = Get(port, "/v1/items/ghost/similar");
  EXPECT_EQ(ghost.first, 404);
  EXPECT_NE(ghost.second.find("no item 'ghost'"), std::string::npos) << ghost.second;
  EXPECT_EQ(Get(port, "/v1/items/i1/similar?k=0").first, 400);
  EXPECT_EQ(Get(port, "/v1/items/i1/similar?k=201").first, 400);
  EXPECT_EQ(Get(port, "/v1/items/i1/similar?offset=1").first, 400);
  auto user = Get(port, "/v1/users/u%2F1");
  EXPECT_EQ(user.first, 200) << user.second;
  EXPECT_EQ(nlohmann::json::parse(user.second)["user_id"], "u/1");
  EXPECT_EQ(Get(port, "/v1/users/u1?x=1").first, 400);

  const std::string bearer = std::string("Bearer ") + kToken;
  EXPECT_EQ(Send(port, http::verb::post, "/v1/checkpoint?dir=/tmp/x").first, 401);
  EXPECT_EQ(Send(port, http::verb::get, "/v1/checkpoint?dir=/tmp/x", bearer).first, 405);
  EXPECT_EQ(Send(port, http::verb::post, "/v1/checkpoint", bearer).first, 400);
  auto written = Send(port, http::verb::post, "/v1/checkpoint?dir=/tmp/x", bearer);
  EXPECT_EQ(written.first, 200) << written.second;
  EXPECT_EQ(Send(port, http::verb::post, "/v1/checkpoint?dir=relative", bearer).first, 400);
  auto full = Send(port, http::verb::post, "/v1/checkpoint?dir=/full", bearer);
  EXPECT_EQ(full.first, 500);
  EXPECT_NE(full.second.find("No space left"), std::string::npos) << full.second;
  pipeline.reset();  // answers nothing more
  EXPECT_EQ(seen, (std::vector<std::string>{"similar i1 k=5 category=hats", "similar i2 k=10 category=",
                                            "similar ghost k=10 category=", "user u/1", "checkpoint /tmp/x",
                                            "checkpoint relative", "checkpoint /full"}));
}

// Bytes that are not UTF-8, in a path, a query or a user id that goes to the
// pipeline thread, are answered (replaced in the JSON), never thrown.
TEST(AdminServer, BytesThatAreNotUtf8AreAnsweredNotThrown) {
  PipelineStats stats;
  ListShelf shelf;
  AdminCommands commands(8);
  AdminControl control = Submitting(commands);
  control.shelf = &shelf;
  auto server = AdminServer::Start(Local(), stats, control);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  const int port = (*server)->port();
  std::thread pipeline([&] {
    for (int spin = 0; spin < 2000 && commands.size() == 0; ++spin) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    for (AdminCommand& c : commands.Take()) std::get<ListCommand>(c).reply(std::optional<ShelvedList>());  // unknown: cold start
  });
  auto unknown = Get(port, "/v1/users/%FF%FE/recommendations");
  pipeline.join();
  EXPECT_EQ(unknown.first, 200) << unknown.second;
  EXPECT_NE(unknown.second.find("cold_start"), std::string::npos) << unknown.second;
  EXPECT_EQ(Get(port, "/v1/users/x/recommendations?%FF=1").first, 400);
  RawClient raw(port);
  raw.Write("GET /\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string reply = raw.ReadToClose();
  EXPECT_EQ(reply.rfind("HTTP/1.1 404", 0), 0u) << reply;
  EXPECT_EQ(Get(port, "/healthz").first, 200);
}

// HEAD is GET without the body; two requests in one write are both answered.
TEST(AdminServer, HeadAndPipelinedRequests) {
  PipelineStats stats;
  auto server = AdminServer::Start(Local(), stats);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  RawClient client((*server)->port());
  client.Write("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  const std::string replies = client.ReadToClose();
  const size_t first = replies.find("HTTP/1.1 200");
  const size_t second = replies.find("HTTP/1.1 200", first + 1);
  ASSERT_NE(first, std::string::npos) << replies;
  ASSERT_NE(second, std::string::npos) << replies;
  EXPECT_NE(replies.find("Content-Length: 3"), std::string::npos) << replies;  // "ok\n", not sent after HEAD
  EXPECT_EQ(replies.substr(second).find("ok\n"), replies.size() - second - 3) << replies;
  EXPECT_EQ(replies.substr(0, second).find("ok\n"), std::string::npos) << replies;
}

TEST(AdminServer, StatusReportsStatsAndTheControlsFields) {
  PipelineStats stats;
  stats.applied = 12;
  stats.assigned_partitions = 4;
  AdminControl control;
  control.status = [] { return std::string(R"({"version": "9.9.9", "group_id": "g"})"); };
  auto server = AdminServer::Start(Local(), stats, control);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto [code, body] = Get((*server)->port(), "/v1/status");
  ASSERT_EQ(code, 200);
  auto j = nlohmann::json::parse(body);
  EXPECT_EQ(j["events_applied"], 12);
  EXPECT_EQ(j["assigned_partitions"], 4);
  EXPECT_EQ(j["version"], "9.9.9");
  EXPECT_EQ(j["group_id"], "g");
  EXPECT_TRUE(j.contains("uptime_seconds"));
}

}  // namespace
}  // namespace recd::daemon
