// Unit tests for daemon/admin: the Prometheus exposition and the HTTP endpoint.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cstdio>
#include <fstream>

#include "daemon/admin.h"

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

TEST(Admin, ServesMetricsAndHealth) {
  PipelineStats stats;
  stats.applied = 7;
  stats.rejected = 2;
  stats.edges = 40;
  stats.heartbeat = 1;
  auto server = AdminServer::Start("127.0.0.1:0", stats);
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

TEST(Admin, RejectsABadListenAddress) {
  PipelineStats stats;
  auto server = AdminServer::Start("localhost-no-port", stats);
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("must be host:port"), std::string::npos);
}

constexpr char kToken[] = "0123456789abcdef-token";

// The /v1 endpoints: what each answers, and that POSTs need the exact token.
TEST(Admin, V1EndpointsNeedTheBearerTokenForPosts) {
  PipelineStats stats;
  int retrains = 0;
  std::vector<std::string> activated;
  AdminControl control;
  control.token = kToken;
  control.retrain = [&] { ++retrains; return Status::Ok(); };
  control.activate = [&](const std::string& v) {
    if (v != "v0002") return Status::NotFound("no version " + v);
    activated.push_back(v);
    return Status::Ok();
  };
  control.models = [] { return Result<std::string>(std::string("[{\"version\": \"v0002\"}]")); };
  auto server = AdminServer::Start("127.0.0.1:0", stats, control);
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
  EXPECT_EQ(Send(port, http::verb::post, "/v1/models/v0002/activate", bearer).first, 202);
  EXPECT_EQ(activated, std::vector<std::string>{"v0002"});
  EXPECT_EQ(Send(port, http::verb::post, "/v1/other", bearer).first, 404);
}

TEST(Admin, PostsAreRefusedWithoutATokenFile) {
  PipelineStats stats;
  int retrains = 0;
  AdminControl control;
  control.retrain = [&] { ++retrains; return Status::Ok(); };
  auto server = AdminServer::Start("127.0.0.1:0", stats, control);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  auto reply = Send((*server)->port(), http::verb::post, "/v1/retrain", "Bearer anything-at-all-here");
  EXPECT_EQ(reply.first, 403);
  EXPECT_NE(reply.second.find("admin.token_file"), std::string::npos) << reply.second;
  EXPECT_EQ(retrains, 0);
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

}  // namespace
}  // namespace recd::daemon
