#include "python/py_store.h"

#include <fmt/format.h>

#include <span>

#include "common/logging.h"
#include "mooncake/common/size.h"
#include "python/interpreter.h"

namespace py = pybind11;

namespace mooncake::python {
namespace {


// Runs `fn` with the GIL released; what it returns must not be a Python object.
template <typename F>
auto WithoutGil(F&& fn) {
  py::gil_scoped_release nogil;
  return fn();
}

// Logs why a call failed: the number alone loses the message. Misses are ordinary.
void Report(const char* method, const Status& status) {
  if (status.ok()) return;
  if (status.code() == StatusCode::kObjectNotFound ||
      status.code() == StatusCode::kObjectAlreadyExists) {
    MC_LOG_DEBUG("{}: {}", method, status.ToString());
  } else {
    MC_LOG_WARN("{}: {}", method, status.ToString());
  }
}

int Code(const char* method, const Status& status) {
  Report(method, status);
  return status.raw_code();
}

// put leaves an existing object alone and reports success (upstream's convention).
int PutCode(const char* method, const Status& status, PutMode mode) {
  if (mode == PutMode::kCreate && status.code() == StatusCode::kObjectAlreadyExists) return 0;
  return Code(method, status);
}

template <typename T>
int64_t ValueOrCode(const char* method, const Result<T>& result) {
  if (result.ok()) return static_cast<int64_t>(*result);
  return Code(method, result.status());
}

// Python's `force=` keyword.
RemoveMode RemoveModeOf(bool force) { return force ? RemoveMode::kForce : RemoveMode::kNormal; }

const char* Name(PutMode mode, const char* put, const char* upsert) {
  return mode == PutMode::kCreate ? put : upsert;
}

// A size argument: a non-negative int, or a size string ("16MB", "16 MB", "1GiB"; every unit
// a power of 1024, as upstream's flags mean).
Result<uint64_t> SizeArg(py::handle value, const std::string& name) {
  if (PyLong_Check(value.ptr()) && !PyBool_Check(value.ptr())) {
    const unsigned long long size = PyLong_AsUnsignedLongLong(value.ptr());
    if (PyErr_Occurred()) {
      PyErr_Clear();
      return InvalidParams(name + " must be >= 0 and < 2^64, got " +
                           py::str(value).cast<std::string>());
    }
    return static_cast<uint64_t>(size);
  }
  if (PyUnicode_Check(value.ptr())) {
    auto size = ParseSize(value.cast<std::string>());
    if (!size.ok()) return size.status().WithContext(name);
    return size;
  }
  throw py::type_error(name + " must be an int or a size string like \"16MB\", not " +
                       Py_TYPE(value.ptr())->tp_name);
}

Result<ReplicateConfig> ConfigOf(const PyReplicateConfig* config) {
  return ToClientConfig(config != nullptr ? *config : PyReplicateConfig{});
}

}  // namespace

PyStore::~PyStore() {
  // Python runs destructors with the GIL; closing waits for the master (unmount).
  if (InterpreterRunning()) {
    py::gil_scoped_release nogil;
    session_.Close();
  } else {
    session_.Close();
  }
}

// ---- Lifecycle ---------------------------------------------------------------------------------

int PyStore::Setup(const std::string& local_hostname, const std::string& metadata_server,
                   py::handle global_segment_size, py::handle local_buffer_size,
                   const std::string& protocol, const std::string& rdma_devices,
                   const std::string& master_server_addr) {
  StoreSetup setup;
  setup.local_hostname = local_hostname;
  setup.metadata_server = metadata_server;
  setup.protocol = protocol;
  setup.rdma_devices = rdma_devices;
  setup.master_server_addr = master_server_addr;
  auto segment = SizeArg(global_segment_size, "global_segment_size");
  if (!segment.ok()) return Code("setup", segment.status());
  auto buffer = SizeArg(local_buffer_size, "local_buffer_size");
  if (!buffer.ok()) return Code("setup", buffer.status());
  setup.global_segment_size = *segment;
  setup.local_buffer_size = *buffer;
  return SetupWith(setup);
}

int PyStore::SetupFromDict(const py::dict& config) {
  StoreSetup setup;
  for (const auto& [key_object, value] : config) {
    if (!PyUnicode_Check(key_object.ptr())) throw py::type_error("setup(config): keys must be str");
    const std::string key = key_object.cast<std::string>();
    auto text = [&, value = value](std::string* out) {
      if (!PyUnicode_Check(value.ptr())) {
        throw py::type_error("setup(config): '" + key + "' must be a str, not " +
                             Py_TYPE(value.ptr())->tp_name);
      }
      *out = value.cast<std::string>();
    };
    if (key == "local_hostname") {
      text(&setup.local_hostname);
    } else if (key == "metadata_server") {
      text(&setup.metadata_server);
    } else if (key == "protocol") {
      text(&setup.protocol);
    } else if (key == "rdma_devices") {
      text(&setup.rdma_devices);
    } else if (key == "master_server_addr") {
      text(&setup.master_server_addr);
    } else if (key == "global_segment_size" || key == "local_buffer_size") {
      auto size = SizeArg(value, key);
      if (!size.ok()) return Code("setup", size.status());
      (key == "global_segment_size" ? setup.global_segment_size : setup.local_buffer_size) = *size;
    } else {
      MC_LOG_WARN("setup(config): unknown key '{}' ignored", key);
    }
  }
  return SetupWith(setup);
}

int PyStore::SetupWith(const StoreSetup& setup) {
  if (!setup.rdma_devices.empty() && setup.protocol != "rdma") {
    MC_LOG_DEBUG("setup: rdma_devices '{}' ignored with protocol {}", setup.rdma_devices,
                 setup.protocol);
  }
  return Code("setup", WithoutGil([&] { return session_.Setup(setup); }));
}

int PyStore::Close() {
  WithoutGil([&] {
    session_.Close();
    return 0;
  });
  regions_.clear();  // the client is gone: nothing uses them any more
  return 0;
}

int PyStore::HealthCheck() {
  return WithoutGil([&] {
    auto client = session_.Borrow();
    if (!client) return 1;
    return client->Ping().ok() ? 0 : 2;
  });
}

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

// ---- Zero-copy ---------------------------------------------------------------------------------

Status PyStore::CheckRegistered(uintptr_t address, uint64_t size) const {
  auto it = regions_.upper_bound(address);
  if (it != regions_.begin()) {
    --it;
    const uint64_t offset = address - it->first;
    if (offset < it->second.size || (offset == 0 && size == 0)) {
      if (size <= it->second.size - offset) return Status::Ok();
      return Status(StatusCode::kBufferOverflow,
                    fmt::format("[{:#x}, +{}) runs past the end of the registered buffer "
                                "[{:#x}, +{})",
                                address, size, it->first, it->second.size));
    }
  }
  return InvalidParams(
      fmt::format("[{:#x}, +{}) is not inside a buffer given to register_buffer", address, size));
}

Result<uintptr_t> PyStore::RegisteredAddress(py::handle object, uint64_t size, bool writable,
                                             BufferViews& views) const {
  MC_ASSIGN_OR_RETURN(uintptr_t address, AddressOf(object, size, writable, views));
  MC_RETURN_IF_ERROR(CheckRegistered(address, size));
  return address;
}

int PyStore::RegisterBuffer(py::handle buffer_ptr, uint64_t size) {
  BufferViews views;
  auto address = AddressOf(buffer_ptr, size, /*writable=*/false, views);
  if (!address.ok()) return Code("register_buffer", address.status());
  const Status status = WithoutGil([&] {
    auto client = session_.Borrow();
    if (!client) return NotSetUp("register_buffer");
    return client->RegisterBuffer(reinterpret_cast<void*>(*address), size);
  });
  if (status.ok()) {
    // A buffer object stays alive while registered; an int address is the caller's to keep.
    regions_[*address] =
        Region{size, views.empty() ? py::object() : py::reinterpret_borrow<py::object>(buffer_ptr)};
  }
  return Code("register_buffer", status);
}

int PyStore::UnregisterBuffer(py::handle buffer_ptr) {
  BufferViews views;
  auto address = AddressOf(buffer_ptr, 0, /*writable=*/false, views);
  if (!address.ok()) return Code("unregister_buffer", address.status());
  const Status status = WithoutGil([&] {
    auto client = session_.Borrow();
    if (!client) return NotSetUp("unregister_buffer");
    return client->UnregisterBuffer(reinterpret_cast<void*>(*address));
  });
  if (status.ok()) regions_.erase(*address);
  return Code("unregister_buffer", status);
}

int PyStore::PutFrom(const std::string& key, py::handle buffer_ptr, uint64_t size,
                     const PyReplicateConfig* config, PutMode mode) {
  const char* method = Name(mode, "put_from", "upsert_from");
  BufferViews views;
  auto address = RegisteredAddress(buffer_ptr, size, /*writable=*/false, views);
  if (!address.ok()) return Code(method, address.status());
  auto replicate = ConfigOf(config);
  if (!replicate.ok()) return Code(method, replicate.status());
  const Status status = WithoutGil([&] {
    auto client = session_.Borrow();
    if (!client) return NotSetUp(method);
    return client->PutFrom(key, reinterpret_cast<const void*>(*address), size, *replicate, mode);
  });
  return PutCode(method, status, mode);
}

int64_t PyStore::GetInto(const std::string& key, py::handle buffer_ptr, uint64_t size) {
  BufferViews views;
  auto address = RegisteredAddress(buffer_ptr, size, /*writable=*/true, views);
  if (!address.ok()) return Code("get_into", address.status());
  auto read = WithoutGil([&] {
    auto client = session_.Borrow();
    if (!client) return Result<uint64_t>(NotSetUp("get_into"));
    return client->GetInto(key, reinterpret_cast<void*>(*address), size);
  });
  return ValueOrCode("get_into", read);
}

std::vector<int> PyStore::BatchPutFrom(const Keys& keys, const Objects& buffer_ptrs,
                                       const Sizes& sizes, const PyReplicateConfig* config,
                                       PutMode mode) {
  const char* method = Name(mode, "batch_put_from", "batch_upsert_from");
  if (buffer_ptrs.size() != keys.size() || sizes.size() != keys.size()) {
    const int code =
        Code(method, InvalidParams(fmt::format("{} keys, {} buffer_ptrs, {} sizes", keys.size(),
                                               buffer_ptrs.size(), sizes.size())));
    return std::vector<int>(keys.size(), code);
  }
  std::vector<int> out(keys.size(), 0);
  auto replicate = ConfigOf(config);
  if (!replicate.ok()) {
    return std::vector<int>(keys.size(), Code(method, replicate.status()));
  }
  // Keys with a bad address fail alone; the others go in one batch.
  BufferViews views;
  Keys batch_keys;
  std::vector<const void*> addresses;
  std::vector<size_t> lengths;
  std::vector<size_t> index;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto address = RegisteredAddress(buffer_ptrs[i], sizes[i], /*writable=*/false, views);
    if (!address.ok()) {
      out[i] = Code(method, address.status());
      continue;
    }
    batch_keys.push_back(keys[i]);
    addresses.push_back(reinterpret_cast<const void*>(*address));
    lengths.push_back(sizes[i]);
    index.push_back(i);
  }
  if (batch_keys.empty()) return out;
  const std::vector<Status> results = WithoutGil([&] {
    auto client = session_.Borrow();
    if (!client) return std::vector<Status>(batch_keys.size(), NotSetUp(method));
    return client->BatchPutFrom(batch_keys, addresses, lengths, *replicate, mode);
  });
  for (size_t n = 0; n < results.size(); ++n) out[index[n]] = PutCode(method, results[n], mode);
  return out;
}

std::vector<int64_t> PyStore::BatchGetInto(const Keys& keys, const Objects& buffer_ptrs,
                                           const Sizes& sizes) {
  if (buffer_ptrs.size() != keys.size() || sizes.size() != keys.size()) {
    const int code =
        Code("batch_get_into",
             InvalidParams(fmt::format("{} keys, {} buffer_ptrs, {} sizes", keys.size(),
                                       buffer_ptrs.size(), sizes.size())));
    return std::vector<int64_t>(keys.size(), code);
  }
  std::vector<int64_t> out(keys.size(), 0);
  BufferViews views;
  Keys batch_keys;
  std::vector<void*> addresses;
  std::vector<size_t> capacities;
  std::vector<size_t> index;
  for (size_t i = 0; i < keys.size(); ++i) {
    auto address = RegisteredAddress(buffer_ptrs[i], sizes[i], /*writable=*/true, views);
    if (!address.ok()) {
      out[i] = Code("batch_get_into", address.status());
      continue;
    }
    batch_keys.push_back(keys[i]);
    addresses.push_back(reinterpret_cast<void*>(*address));
    capacities.push_back(sizes[i]);
    index.push_back(i);
  }
  if (batch_keys.empty()) return out;
  const auto results = WithoutGil([&] {
    auto client = session_.Borrow();
    if (!client) {
      return std::vector<Result<uint64_t>>(batch_keys.size(), NotSetUp("batch_get_into"));
    }
    return client->BatchGetInto(batch_keys, addresses, capacities);
  });
  for (size_t n = 0; n < results.size(); ++n) {
    out[index[n]] = ValueOrCode("batch_get_into", results[n]);
  }
  return out;
}

std::vector<PyStore::Nested<int64_t>> PyStore::GetIntoRanges(
    const Objects& buffer_ptrs, const Nested<std::string>& all_keys,
    const std::vector<Nested<uint64_t>>& all_dst_offsets,
    const std::vector<Nested<uint64_t>>& all_src_offsets,
    const std::vector<Nested<uint64_t>>& all_sizes) {
  constexpr const char* kMethod = "get_into_ranges";
  const int mismatch = static_cast<int>(StatusCode::kInvalidParams);
  // The result has the shape of all_keys / all_sizes as far as they go; a buffer or key whose
  // lists disagree in length gets INVALID_PARAMS for each of its ranges.
  std::vector<Nested<int64_t>> out(buffer_ptrs.size());
  const size_t buffers = buffer_ptrs.size();
  const bool outer_ok = all_keys.size() == buffers && all_dst_offsets.size() == buffers &&
                        all_src_offsets.size() == buffers && all_sizes.size() == buffers;
  if (!outer_ok) {
    Report(kMethod,
           InvalidParams(fmt::format("{} buffer_ptrs, {} key lists, {} dst, {} src, {} size lists",
                                     buffers, all_keys.size(), all_dst_offsets.size(),
                                     all_src_offsets.size(), all_sizes.size())));
  }
  BufferViews views;
  std::vector<store::GetRange> ranges;
  std::vector<int64_t*> slots;  // where each range's result goes
  for (size_t b = 0; b < buffers; ++b) {
    const size_t keys = b < all_keys.size() ? all_keys[b].size() : 0;
    out[b].resize(keys);
    const bool lists_ok = outer_ok && all_dst_offsets[b].size() == keys &&
                          all_src_offsets[b].size() == keys && all_sizes[b].size() == keys;
    for (size_t k = 0; k < keys; ++k) {
      const bool key_ok = lists_ok && all_dst_offsets[b][k].size() == all_sizes[b][k].size() &&
                          all_src_offsets[b][k].size() == all_sizes[b][k].size();
      const size_t n = b < all_sizes.size() && k < all_sizes[b].size()
                           ? std::max<size_t>(all_sizes[b][k].size(), 1)
                           : 1;
      out[b][k].assign(key_ok ? all_sizes[b][k].size() : n, mismatch);
    }
    if (!lists_ok) {
      if (outer_ok)
        Report(kMethod, InvalidParams(fmt::format("buffer {}: list lengths differ", b)));
      continue;
    }
    auto base = AddressOf(buffer_ptrs[b], 0, /*writable=*/true, views);
    if (!base.ok()) continue;
    for (size_t k = 0; k < keys; ++k) {
      if (all_dst_offsets[b][k].size() != all_sizes[b][k].size() ||
          all_src_offsets[b][k].size() != all_sizes[b][k].size()) {
        Report(kMethod, InvalidParams(fmt::format("buffer {} key '{}': list lengths differ", b,
                                                  all_keys[b][k])));
        continue;
      }
      for (size_t r = 0; r < all_sizes[b][k].size(); ++r) {
        const uint64_t length = all_sizes[b][k][r];
        const uint64_t dst = all_dst_offsets[b][k][r];
        if (dst > UINTPTR_MAX - *base || length > UINTPTR_MAX - (*base + dst)) continue;
        const uintptr_t destination = *base + dst;
        if (Status registered = CheckRegistered(destination, length); !registered.ok()) {
          out[b][k][r] = Code(kMethod, registered);
          continue;
        }
        ranges.push_back({all_keys[b][k], all_src_offsets[b][k][r],
                          reinterpret_cast<void*>(destination), length});
        slots.push_back(&out[b][k][r]);
      }
    }
  }
  if (ranges.empty()) return out;
  const std::vector<Status> results = WithoutGil([&] {
    auto client = session_.Borrow();
    if (!client) return std::vector<Status>(ranges.size(), NotSetUp(kMethod));
    return client->GetIntoRanges(ranges);
  });
  for (size_t i = 0; i < results.size(); ++i) {
    *slots[i] =
        results[i].ok() ? static_cast<int64_t>(ranges[i].length) : Code(kMethod, results[i]);
  }
  return out;
}

// ---- Index -------------------------------------------------------------------------------------

int PyStore::IsExist(const std::string& key) {
  auto exists = WithoutGil([&] {
    auto client = session_.Borrow();
    return client ? client->IsExist(key) : Result<bool>(NotSetUp("is_exist"));
  });
  return exists.ok() ? (*exists ? 1 : 0) : Code("is_exist", exists.status());
}

std::vector<int> PyStore::BatchIsExist(const Keys& keys) {
  if (keys.empty()) return {};
  auto exists = WithoutGil([&] {
    auto client = session_.Borrow();
    if (!client) return std::vector<Result<bool>>(keys.size(), NotSetUp("batch_is_exist"));
    return client->BatchIsExist(keys);
  });
  std::vector<int> out;
  out.reserve(exists.size());
  for (const auto& e : exists)
    out.push_back(e.ok() ? (*e ? 1 : 0) : Code("batch_is_exist", e.status()));
  return out;
}

int64_t PyStore::GetSize(const std::string& key) {
  auto size = WithoutGil([&] {
    auto client = session_.Borrow();
    return client ? client->GetSize(key) : Result<uint64_t>(NotSetUp("get_size"));
  });
  return ValueOrCode("get_size", size);
}

int PyStore::Remove(const std::string& key, bool force) {
  return Code("remove", WithoutGil([&] {
                auto client = session_.Borrow();
                return client ? client->Remove(key, RemoveModeOf(force)) : NotSetUp("remove");
              }));
}

int64_t PyStore::RemoveByRegex(const std::string& pattern, bool force) {
  auto removed = WithoutGil([&] {
    auto client = session_.Borrow();
    return client ? client->RemoveByRegex(pattern, RemoveModeOf(force))
                  : Result<uint64_t>(NotSetUp("remove_by_regex"));
  });
  return ValueOrCode("remove_by_regex", removed);
}

int64_t PyStore::RemoveAll(bool force) {
  auto removed = WithoutGil([&] {
    auto client = session_.Borrow();
    return client ? client->RemoveAll(RemoveModeOf(force)) : Result<uint64_t>(NotSetUp("remove_all"));
  });
  return ValueOrCode("remove_all", removed);
}

std::vector<int> PyStore::BatchRemove(const Keys& keys, bool force) {
  if (keys.empty()) return {};
  const std::vector<Status> results = WithoutGil([&] {
    auto client = session_.Borrow();
    if (!client) return std::vector<Status>(keys.size(), NotSetUp("batch_remove"));
    return client->BatchRemove(keys, RemoveModeOf(force));
  });
  std::vector<int> out;
  out.reserve(results.size());
  for (const Status& status : results) out.push_back(Code("batch_remove", status));
  return out;
}

}  // namespace mooncake::python
