// recd::base — error type shared at every module boundary. Depends on nothing of ours.
#pragma once

#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace recd {

// Status is the one error type that crosses module boundaries. Third-party errors
// (rocksdb::Status, RdKafka::ErrorCode, ...) are translated inside their adapter.
class [[nodiscard]] Status {
 public:
  enum class Code { kOk, kInvalidArgument, kNotFound, kIoError, kCorruption, kUnavailable,
                    kTimedOut, kAborted, kInternal };

  Status() = default;
  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status IoError(std::string m) { return {Code::kIoError, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status TimedOut(std::string m) { return {Code::kTimedOut, std::move(m)}; }
  static Status Aborted(std::string m) { return {Code::kAborted, std::move(m)}; }
  static Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "<code name>: <message>", or "OK".
  std::string ToString() const;

 private:
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

// Result<T> holds either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    if (std::get<Status>(v_).ok()) v_ = Status::Internal("Result built from an OK status");
  }
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }

 private:
  std::variant<T, Status> v_;
};

[[noreturn]] void InvariantFailed(const char* expr, const char* file, int line, const std::string& msg);

}  // namespace recd

// Invariants are checked in every build type; a failure logs and aborts.
#define RECD_CHECK(cond, msg)                                                  \
  do {                                                                         \
    if (!(cond)) ::recd::InvariantFailed(#cond, __FILE__, __LINE__, (msg));    \
  } while (0)

#define RECD_RETURN_IF_ERROR(expr)       \
  do {                                   \
    ::recd::Status _st = (expr);         \
    if (!_st.ok()) return _st;           \
  } while (0)
