#pragma once

// The conventions every PyStore call follows, shared by py_store.cc, py_store_bytes.cc and
// py_store_zero_copy.cc: the GIL released around the store client, a failure logged and
// returned as upstream's negative code, put's acceptance of an existing key.

#include <pybind11/pybind11.h>

#include <cstdint>

#include "common/logging.h"
#include "mooncake/common/status.h"
#include "mooncake/store/types.h"
#include "python/store_options.h"

namespace mooncake::python {

// Runs `fn` with the GIL released; what it returns must not be a Python object.
template <typename F>
auto WithoutGil(F&& fn) {
  pybind11::gil_scoped_release nogil;
  return fn();
}

// Logs why a call failed: the number alone loses the message. Misses are ordinary.
inline void Report(const char* method, const Status& status) {
  if (status.ok()) return;
  if (status.code() == StatusCode::kObjectNotFound ||
      status.code() == StatusCode::kObjectAlreadyExists) {
    MC_LOG_DEBUG("{}: {}", method, status.ToString());
  } else {
    MC_LOG_WARN("{}: {}", method, status.ToString());
  }
}

inline int Code(const char* method, const Status& status) {
  Report(method, status);
  return status.raw_code();
}

// put leaves an existing object alone and reports success (upstream's convention).
inline int PutCode(const char* method, const Status& status, PutMode mode) {
  if (mode == PutMode::kCreate && status.code() == StatusCode::kObjectAlreadyExists) return 0;
  return Code(method, status);
}

template <typename T>
int64_t ValueOrCode(const char* method, const Result<T>& result) {
  if (result.ok()) return static_cast<int64_t>(*result);
  return Code(method, result.status());
}

inline const char* Name(PutMode mode, const char* put, const char* upsert) {
  return mode == PutMode::kCreate ? put : upsert;
}

inline Result<ReplicateConfig> ConfigOf(const PyReplicateConfig* config) {
  return ToClientConfig(config != nullptr ? *config : PyReplicateConfig{});
}

}  // namespace mooncake::python
