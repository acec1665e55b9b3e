// recd::daemon — the admin HTTP endpoint for operators (Boost.Beast):
//   GET /metrics  Prometheus text format (prometheus-cpp's serializer)
//   GET /healthz  200 while the pipeline loop turns, 503 when it has stalled
// It runs on its own thread and reads only PipelineStats' atomics.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "base/status.h"
#include "daemon/pipeline.h"

namespace recd::daemon {

class AdminServer {
 public:
  // Binds `listen` ("host:port"; port 0 picks a free one) and starts serving.
  static Result<std::unique_ptr<AdminServer>> Start(const std::string& listen, const PipelineStats& stats);
  ~AdminServer();  // stops and joins
  int port() const { return port_; }

 private:
  struct Impl;
  AdminServer() = default;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

// The Prometheus exposition of `stats` (exposed for tests).
std::string RenderMetrics(const PipelineStats& stats);

}  // namespace recd::daemon
