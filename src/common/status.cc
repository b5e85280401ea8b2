#include "mooncake/common/status.h"

namespace mooncake {

std::string StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInternalError:
      return "INTERNAL_ERROR";
    case StatusCode::kBufferOverflow:
      return "BUFFER_OVERFLOW";
    case StatusCode::kSegmentNotFound:
      return "SEGMENT_NOT_FOUND";
    case StatusCode::kSegmentAlreadyExists:
      return "SEGMENT_ALREADY_EXISTS";
    case StatusCode::kClientNotFound:
      return "CLIENT_NOT_FOUND";
    case StatusCode::kNoAvailableHandle:
      return "NO_AVAILABLE_HANDLE";
    case StatusCode::kInvalidVersion:
      return "INVALID_VERSION";
    case StatusCode::kInvalidKey:
      return "INVALID_KEY";
    case StatusCode::kWriteFail:
      return "WRITE_FAIL";
    case StatusCode::kInvalidParams:
      return "INVALID_PARAMS";
    case StatusCode::kInvalidWrite:
      return "INVALID_WRITE";
    case StatusCode::kInvalidRead:
      return "INVALID_READ";
    case StatusCode::kInvalidReplica:
      return "INVALID_REPLICA";
    case StatusCode::kReplicaIsNotReady:
      return "REPLICA_IS_NOT_READY";
    case StatusCode::kObjectNotFound:
      return "OBJECT_NOT_FOUND";
    case StatusCode::kObjectAlreadyExists:
      return "OBJECT_ALREADY_EXISTS";
    case StatusCode::kObjectHasLease:
      return "OBJECT_HAS_LEASE";
    case StatusCode::kLeaseExpired:
      return "LEASE_EXPIRED";
    case StatusCode::kTransferFail:
      return "TRANSFER_FAIL";
    case StatusCode::kChecksumMismatch:
      return "CHECKSUM_MISMATCH";
    case StatusCode::kRpcFail:
      return "RPC_FAIL";
    case StatusCode::kRpcTimeout:
      return "RPC_TIMEOUT";
    case StatusCode::kEtcdOperationError:
      return "ETCD_OPERATION_ERROR";
    case StatusCode::kNotSupported:
      return "NOT_SUPPORTED";
    case StatusCode::kFileNotFound:
      return "FILE_NOT_FOUND";
    case StatusCode::kFileReadFail:
      return "FILE_READ_FAIL";
    case StatusCode::kFileWriteFail:
      return "FILE_WRITE_FAIL";
    case StatusCode::kUnauthenticated:
      return "UNAUTHENTICATED";
  }
  // A code from a newer peer (or a corrupt RPC) must still print, never crash.
  return "UNKNOWN(" + std::to_string(static_cast<int32_t>(code)) + ")";
}

Status::Status(StatusCode code, std::string message) : code_(code) {
  // OK carries no message so that every OK status compares equal and allocates nothing.
  if (code_ != StatusCode::kOk && !message.empty()) {
    message_ = std::make_shared<const std::string>(std::move(message));
  }
}

const std::string& Status::message() const {
  static const std::string* const kEmpty = new std::string();
  return message_ ? *message_ : *kEmpty;
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string out = StatusCodeName(code_);
  if (message_) {
    out += ": ";
    out += *message_;
  }
  return out;
}

Status Status::WithContext(std::string_view context) const {
  if (ok()) return *this;
  std::string message(context);
  if (message_) {
    message += ": ";
    message += *message_;
  }
  return Status(code_, std::move(message));
}

}  // namespace mooncake
