// PyStore: setup (from arguments or a config dict), close and health check, and the index
// calls (exists, size, remove).

#include "python/py_store.h"

#include "common/logging.h"
#include "mooncake/common/size.h"
#include "python/interpreter.h"
#include "python/py_store_calls.h"

namespace py = pybind11;

namespace mooncake::python {
namespace {

// Python's `force=` keyword.
RemoveMode RemoveModeOf(bool force) { return force ? RemoveMode::kForce : RemoveMode::kNormal; }

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
                   const std::string& master_server_addr, const std::string& auth_secret_file) {
  StoreSetup setup;
  setup.local_hostname = local_hostname;
  setup.metadata_server = metadata_server;
  setup.protocol = protocol;
  setup.rdma_devices = rdma_devices;
  setup.master_server_addr = master_server_addr;
  setup.auth_secret_file = auth_secret_file;
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
    } else if (key == "auth_secret_file") {
      text(&setup.auth_secret_file);
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
    return client ? client->RemoveAll(RemoveModeOf(force))
                  : Result<uint64_t>(NotSetUp("remove_all"));
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
