// recd::daemon — the admin HTTP endpoint for operators (Boost.Beast):
//   GET /metrics  Prometheus text format (prometheus-cpp's serializer)
//   GET /healthz  200 while the pipeline loop turns, 503 when it has stalled
//   GET  /v1/models                 the model registry (JSON)
//   POST /v1/retrain                retrain now (the on-demand trigger)
//   POST /v1/models/{V}/activate    serve version V (rollback)
// POSTs need "Authorization: Bearer <token>", the token read from
// admin.token_file, compared in constant time; without a token file they are
// refused. It runs on its own thread, reads PipelineStats' atomics, and hands
// requests to the pipeline through AdminControl (which queues them).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "base/status.h"
#include "daemon/pipeline.h"

namespace recd::daemon {

// What the /v1 endpoints do; an unset function answers 404.
struct AdminControl {
  std::string token;  // "" = the POST endpoints are refused
  std::function<Status()> retrain;
  std::function<Status(const std::string& version)> activate;
  std::function<Result<std::string>()> models;
};

class AdminServer {
 public:
  // Binds `listen` ("host:port"; port 0 picks a free one) and starts serving.
  static Result<std::unique_ptr<AdminServer>> Start(const std::string& listen, const PipelineStats& stats,
                                                    AdminControl control = {});
  ~AdminServer();  // stops and joins
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
