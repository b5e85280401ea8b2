#pragma once

// One error scheme for the whole project: a Status carries a StatusCode whose numeric values
// are upstream Mooncake's error codes (the same number travels through RPC, C++ and Python)
// and a message naming what failed and why. Result<T> carries a value or a non-OK Status.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace mooncake {

enum class StatusCode : int32_t {
  kOk = 0,
  kInternalError = -1,
  kBufferOverflow = -10,
  kSegmentNotFound = -101,
  kSegmentAlreadyExists = -102,
  kClientNotFound = -103,
  kNoAvailableHandle = -200,  // out of space
  kInvalidVersion = -300,
  kInvalidKey = -400,
  kWriteFail = -500,
  kInvalidParams = -600,
  kInvalidWrite = -700,
  kInvalidRead = -701,
  kInvalidReplica = -702,
  kReplicaIsNotReady = -703,
  kObjectNotFound = -704,
  kObjectAlreadyExists = -705,
  kObjectHasLease = -706,
  kLeaseExpired = -707,
  kTransferFail = -800,
  kChecksumMismatch = -801,
  kRpcFail = -900,
  kRpcTimeout = -901,
  kEtcdOperationError = -1000,
  kNotSupported = -1012,
  kFileNotFound = -1100,
  kFileReadFail = -1102,
  kFileWriteFail = -1103,
  // Not an upstream code (upstream has no authentication): a peer or RPC presented no or a
  // wrong cluster-secret proof. Callers branch on it to say "authentication failed".
  kUnauthenticated = -1300,
};

// Upstream's symbolic name, e.g. "OBJECT_NOT_FOUND"; "UNKNOWN(<n>)" for other values.
std::string StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message);

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  int32_t raw_code() const { return static_cast<int32_t>(code_); }
  // Empty for OK.
  const std::string& message() const;
  // "OK" or "<CODE_NAME>: <message>".
  std::string ToString() const;

  // Returns a copy whose message is "<context>: <old message>".
  Status WithContext(std::string_view context) const;

  // Marks a status as deliberately ignored.
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message() == b.message();
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  // Shared so that copying a Status is cheap; OK statuses allocate nothing.
  std::shared_ptr<const std::string> message_;
};

// Shorthand constructors for the codes the code base uses most.
inline Status InvalidParams(std::string m) { return {StatusCode::kInvalidParams, std::move(m)}; }
inline Status InternalError(std::string m) { return {StatusCode::kInternalError, std::move(m)}; }
inline Status TransferFail(std::string m) { return {StatusCode::kTransferFail, std::move(m)}; }
inline Status NotSupported(std::string m) { return {StatusCode::kNotSupported, std::move(m)}; }
inline Status Unauthenticated(std::string m) {
  return {StatusCode::kUnauthenticated, std::move(m)};
}
inline Status SegmentNotFound(std::string m) {
  return {StatusCode::kSegmentNotFound, std::move(m)};
}

// A value of type T, or a non-OK Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}        // NOLINT: implicit by design
  Result(Status status) : data_(std::move(status)) {  // NOLINT: implicit by design
    if (std::get<Status>(data_).ok()) {
      data_ = Status(StatusCode::kInternalError, "Result constructed from an OK status");
    }
  }

  bool ok() const { return std::holds_alternative<T>(data_); }
  // OK when a value is present.
  Status status() const { return ok() ? Status() : std::get<Status>(data_); }

  // Precondition: ok().
  T& value() & { return std::get<T>(data_); }
  const T& value() const& { return std::get<T>(data_); }
  T&& value() && { return std::get<T>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  T value_or(T fallback) const& { return ok() ? std::get<T>(data_) : std::move(fallback); }

 private:
  std::variant<T, Status> data_;
};

}  // namespace mooncake

#define MC_STATUS_CONCAT_INNER_(a, b) a##b
#define MC_STATUS_CONCAT_(a, b) MC_STATUS_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function when `expr` is not OK.
#define MC_RETURN_IF_ERROR(expr)                     \
  do {                                               \
    ::mooncake::Status mc_status_tmp_ = (expr);      \
    if (!mc_status_tmp_.ok()) return mc_status_tmp_; \
  } while (0)

// `MC_ASSIGN_OR_RETURN(auto x, FunctionReturningResult());`
#define MC_ASSIGN_OR_RETURN(lhs, expr) \
  MC_ASSIGN_OR_RETURN_IMPL_(MC_STATUS_CONCAT_(mc_result_, __LINE__), lhs, expr)
#define MC_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
