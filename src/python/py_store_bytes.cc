// PyStore's plain-bytes calls: put, put_parts, put_batch (and their upserts) from any
// buffer-protocol object, get / get_batch returning bytes, get_buffer / batch_get_buffer
// returning BufferHandles.

#include <fmt/format.h>

#include <span>
#include <utility>
#include <vector>

#include "python/py_store.h"
#include "python/py_store_calls.h"

namespace py = pybind11;

namespace mooncake::python {

// ---- Plain bytes -------------------------------------------------------------------------------

int PyStore::Put(const std::string& key, py::handle value, const PyReplicateConfig* config,
                 PutMode mode) {
  const char* method = Name(mode, "put", "upsert");
  BufferView view(value, /*writable=*/false);
  auto replicate = ConfigOf(config);
  if (!replicate.ok()) return Code(method, replicate.status());
  const Status status = WithoutGil([&] {
    auto client = session_.Borrow();
    if (!client) return NotSetUp(method);
    return client->Put(key, {view.data(), view.size()}, *replicate, mode);
  });
  return PutCode(method, status, mode);
}

int PyStore::PutParts(const std::string& key, const py::args& parts,
                      const PyReplicateConfig* config) {
  BufferViews views;
  std::vector<std::span<const uint8_t>> spans;
  for (const py::handle part : parts) {
    const BufferView& view = views.emplace_back(part, /*writable=*/false);
    spans.emplace_back(view.data(), view.size());
  }
  auto replicate = ConfigOf(config);
  if (!replicate.ok()) return Code("put_parts", replicate.status());
  if (spans.empty()) return Code("put_parts", InvalidParams("no parts given"));
  const Status status = WithoutGil([&] {
    auto client = session_.Borrow();
    if (!client) return NotSetUp("put_parts");
    return client->PutParts(key, spans, *replicate, PutMode::kCreate);
  });
  return PutCode("put_parts", status, PutMode::kCreate);
}

int PyStore::PutBatch(const Keys& keys, const Objects& values, const PyReplicateConfig* config,
                      PutMode mode) {
  const char* method = Name(mode, "put_batch", "upsert_batch");
  if (keys.size() != values.size()) {
    return Code(method,
                InvalidParams(fmt::format("{} keys but {} values", keys.size(), values.size())));
  }
  BufferViews views;
  std::vector<std::span<const uint8_t>> spans;
  for (const py::object& value : values) {
    const BufferView& view = views.emplace_back(value, /*writable=*/false);
    spans.emplace_back(view.data(), view.size());
  }
  auto replicate = ConfigOf(config);
  if (!replicate.ok()) return Code(method, replicate.status());
  if (keys.empty()) return 0;
  const std::vector<Status> results = WithoutGil([&] {
    auto client = session_.Borrow();
    if (!client) return std::vector<Status>(keys.size(), NotSetUp(method));
    return client->BatchPut(keys, spans, *replicate, mode);
  });
  int first_error = 0;
  for (const Status& status : results) {
    const int code = PutCode(method, status, mode);
    if (first_error == 0) first_error = code;
  }
  return first_error;
}

py::bytes PyStore::Get(const std::string& key) {
  auto value = WithoutGil([&] {
    auto client = session_.Borrow();
    return client ? client->Get(key) : Result<std::vector<uint8_t>>(NotSetUp("get"));
  });
  if (!value.ok()) {
    Report("get", value.status());
    return py::bytes();
  }
  return py::bytes(reinterpret_cast<const char*>(value->data()), value->size());
}

std::vector<py::bytes> PyStore::GetBatch(const Keys& keys) {
  auto values = WithoutGil([&] {
    auto client = session_.Borrow();
    if (!client) {
      return std::vector<Result<std::vector<uint8_t>>>(keys.size(), NotSetUp("get_batch"));
    }
    return client->BatchGet(keys);
  });
  std::vector<py::bytes> out;
  out.reserve(values.size());
  for (const auto& value : values) {
    if (!value.ok()) {
      Report("get_batch", value.status());
      out.emplace_back();
      continue;
    }
    out.emplace_back(reinterpret_cast<const char*>(value->data()), value->size());
  }
  return out;
}

py::object PyStore::GetBuffer(const std::string& key) {
  auto value = WithoutGil([&] {
    auto client = session_.Borrow();
    return client ? client->Get(key) : Result<std::vector<uint8_t>>(NotSetUp("get_buffer"));
  });
  if (!value.ok()) {
    Report("get_buffer", value.status());
    return py::none();
  }
  return py::cast(BufferHandle(std::move(*value)));
}

py::list PyStore::BatchGetBuffer(const Keys& keys) {
  auto values = WithoutGil([&] {
    auto client = session_.Borrow();
    if (!client) {
      return std::vector<Result<std::vector<uint8_t>>>(keys.size(), NotSetUp("batch_get_buffer"));
    }
    return client->BatchGet(keys);
  });
  py::list out;
  for (auto& value : values) {
    if (!value.ok()) {
      Report("batch_get_buffer", value.status());
      out.append(py::none());
      continue;
    }
    out.append(py::cast(BufferHandle(std::move(*value))));
  }
  return out;
}

}  // namespace mooncake::python
