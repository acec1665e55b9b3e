#include "base/status.h"

#include "base/log.h"

namespace recd {

std::string Status::ToString() const {
  const char* name = "OK";
  switch (code_) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: name = "invalid argument"; break;
    case Code::kNotFound: name = "not found"; break;
    case Code::kIoError: name = "I/O error"; break;
    case Code::kCorruption: name = "corruption"; break;
    case Code::kUnavailable: name = "unavailable"; break;
    case Code::kTimedOut: name = "timed out"; break;
    case Code::kAborted: name = "aborted"; break;
    case Code::kInternal: name = "internal error"; break;
  }
  return std::string(name) + ": " + message_;
}

void InvariantFailed(const char* expr, const char* file, int line, const std::string& msg) {
  RECD_LOG(kCritical, "invariant failed: " << expr << " at " << file << ":" << line << ": " << msg);
  log::Flush();
  std::abort();
}

}  // namespace recd
