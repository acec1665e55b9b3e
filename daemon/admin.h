// recd::daemon — the admin HTTP server for operators and shops (Boost.Beast,
// asynchronous, on an Asio io_context with a small thread pool of its own).
//
// Every route is one row of one table (admin.cpp, `RouteTable`): method,
// path pattern, whether it needs the bearer token, handler. Unknown paths get
// 404 and wrong methods 405, each a JSON error naming the valid routes.
//
// Every request has a read deadline, a write deadline, a header limit and a
// body limit; an idle or slow client is dropped at its deadline and never
// delays another request or the server's destruction (which does not wait
// for clients). Errors are JSON: {"error": what, "message": how to fix it}.
//
// The server never reads state the pipeline thread owns: PipelineStats are
// atomics, lists come from the ListShelf (immutable per-user entries), and the
// rest goes through AdminControl's functions, which must be thread-safe.
// POSTs need "Authorization: Bearer <token>" (admin.token_file, compared in
// constant time); without a token they are refused.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "daemon/admin_commands.h"
#include "daemon/list_shelf.h"
#include "daemon/stats.h"

namespace recd::daemon {

// [admin] settings the server itself uses.
struct AdminOptions {
  std::string listen = "127.0.0.1:9464";  // host:port; port 0 picks a free one
  int threads = 2;                        // the server's own io threads
  int read_timeout_ms = 5000;             // a request must arrive whole within this
  int write_timeout_ms = 5000;            // a response must be taken within this
  int idle_timeout_ms = 30000;            // a keep-alive connection with no request is closed after this
  size_t header_limit_bytes = 8 * 1024;   // larger headers: 431
  size_t body_limit_bytes = 64 * 1024;    // larger bodies: 413
  size_t max_connections = 1024;          // beyond it, new connections get 503 and are closed
};

// What the /v1 routes do beyond reading stats and the shelf. An unset
// function leaves its route out (404). Each may be called from any admin
// thread at any time, concurrently.
struct AdminControl {
  std::string token;  // "" = the POST routes are refused (403)
  std::function<Result<std::string>()> models;  // JSON
  // /v1/status beyond the stats: model version, partitions, lag (JSON object).
  std::function<std::string()> status;
  const ListShelf* shelf = nullptr;  // null: the list routes are left out
  // Hands a command to the pipeline thread (Pipeline::Submit); Unavailable
  // when its queue is full. Unset: users the shelf has no list for get the
  // cold-start list, and the routes that need the pipeline (related items,
  // a user's profile, checkpoint, retrain, activate) are left out.
  std::function<Status(AdminCommand command)> submit;
};

class AdminServer {
 public:
  static Result<std::unique_ptr<AdminServer>> Start(const AdminOptions& options, const PipelineStats& stats,
                                                    AdminControl control = {});
  // Stops accepting, drops every connection and joins the threads; waits for
  // no client.
  ~AdminServer();
  int port() const { return port_; }

 private:
  struct Impl;
  AdminServer() = default;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

// Reads a bearer token file: the first line, trimmed; errors name the fix.
// A file others can read is accepted with a warning.
Result<std::string> ReadTokenFile(const std::string& path);
// Equality whose time depends only on the length of `expected`.
bool ConstantTimeEquals(const std::string& given, const std::string& expected);

// The Prometheus exposition of `stats` (exposed for tests).
std::string RenderMetrics(const PipelineStats& stats);

}  // namespace recd::daemon
