// Unit tests for daemon/admin: the Prometheus exposition and the HTTP endpoint.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "daemon/admin.h"

namespace recd::daemon {
namespace {

namespace http = boost::beast::http;

std::pair<int, std::string> Get(int port, const std::string& target) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  http::request<http::empty_body> req(http::verb::get, target, 11);
  http::write(socket, req);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  return {res.result_int(), res.body()};
}

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

}  // namespace
}  // namespace recd::daemon
