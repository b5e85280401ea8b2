#include "python/store_binding.h"

#include <pybind11/stl.h>

#include "python/py_store.h"
#include "python/store_session.h"

namespace py = pybind11;

namespace mooncake::python {
namespace {

constexpr uint64_t kDefaultSize = uint64_t{16} << 20;  // upstream's setup() defaults

void BindReplicateConfig(py::module_& m) {
  py::enum_<SoftPinAction>(m, "SoftPinAction",
                           "What a put does to the object's soft pin (see ReplicateConfig).")
      .value("PRESERVE", SoftPinAction::kPreserve)
      .value("ENABLE", SoftPinAction::kEnable)
      .value("DISABLE", SoftPinAction::kDisable);

  py::class_<PyReplicateConfig>(m, "ReplicateConfig", "How a put places an object's replicas.")
      .def(py::init([](uint64_t replica_num, bool with_hard_pin, SoftPinAction soft_pin_action,
                       std::optional<uint64_t> soft_pin_ttl_ms,
                       std::vector<std::string> preferred_segments, std::string preferred_segment,
                       bool prefer_alloc_in_same_node) {
             return PyReplicateConfig{replica_num,
                                      with_hard_pin,
                                      soft_pin_action,
                                      soft_pin_ttl_ms,
                                      std::move(preferred_segments),
                                      std::move(preferred_segment),
                                      prefer_alloc_in_same_node};
           }),
           py::kw_only(), py::arg("replica_num") = 1, py::arg("with_hard_pin") = false,
           py::arg("soft_pin_action") = SoftPinAction::kPreserve,
           py::arg("soft_pin_ttl_ms") = py::none(),
           py::arg("preferred_segments") = std::vector<std::string>{},
           py::arg("preferred_segment") = "", py::arg("prefer_alloc_in_same_node") = false)
      .def_readwrite("replica_num", &PyReplicateConfig::replica_num,
                     "Copies on distinct nodes, 1..16.")
      .def_readwrite("with_hard_pin", &PyReplicateConfig::with_hard_pin,
                     "Never evicted (remove still may).")
      .def_readwrite("soft_pin_action", &PyReplicateConfig::soft_pin_action)
      .def_readwrite("soft_pin_ttl_ms", &PyReplicateConfig::soft_pin_ttl_ms,
                     "Soft pin duration (only with SoftPinAction.ENABLE); None = 30 minutes.")
      .def_readwrite("preferred_segments", &PyReplicateConfig::preferred_segments,
                     "Segments (\"host:port\") to place replicas on first.")
      .def_readwrite("preferred_segment", &PyReplicateConfig::preferred_segment,
                     "A segment tried before preferred_segments; \"\" = none.")
      .def_readwrite("prefer_alloc_in_same_node", &PyReplicateConfig::prefer_alloc_in_same_node,
                     "Accepted for compatibility (each replica is one allocation already).")
      .def("__str__", &PyReplicateConfig::ToString)
      .def("__repr__", &PyReplicateConfig::ToString);
}

void BindBufferHandle(py::module_& m) {
  py::class_<BufferHandle>(m, "BufferHandle", py::buffer_protocol(),
                           "An object's bytes, owned by this handle (buffer protocol: "
                           "memoryview(h), numpy.frombuffer(h, ...) share its memory).")
      .def("ptr", &BufferHandle::ptr, "Address of the bytes.")
      .def("size", &BufferHandle::size)
      .def("__len__", &BufferHandle::size)
      .def_buffer([](BufferHandle& self) {
        return py::buffer_info(self.data(), 1, py::format_descriptor<uint8_t>::format(), 1,
                               {static_cast<py::ssize_t>(self.size())}, {py::ssize_t{1}});
      });
}

void BindStoreClass(py::module_& m) {
  const auto none = py::none();
  py::class_<PyStore>(m, "MooncakeDistributedStore",
                      "A client of a Mooncake Store cluster (upstream's API: ints are 0 or a "
                      "negative error code, a miss is b\"\" / None).")
      .def(py::init<>())
      .def("setup", &PyStore::Setup, py::arg("local_hostname"), py::arg("metadata_server"),
           py::arg("global_segment_size") = kDefaultSize,
           py::arg("local_buffer_size") = kDefaultSize, py::arg("protocol") = "tcp",
           py::arg("rdma_devices") = "", py::arg("master_server_addr") = "127.0.0.1:50051",
           py::arg("auth_secret_file") = "",
           "Connects to the master and mounts global_segment_size bytes of this process's "
           "memory in the pool. Sizes: ints or strings like \"16MB\". local_hostname without "
           "a port gets one from 12300-14300. auth_secret_file: the cluster secret file "
           "(mode 600; \"\" = $MC_AUTH_SECRET_FILE, else none); a master with a secret "
           "refuses a client without it: -1300 (UNAUTHENTICATED), \"authentication failed\" "
           "logged. An unusable file (missing, readable by others, too short): -600. Returns "
           "0 or a negative error code.")
      .def("setup", &PyStore::SetupFromDict, py::arg("config"),
           "setup() with its arguments in a dict (same keys).")
      .def("close", &PyStore::Close,
           "Unmounts this client's segment and frees its memory; 0 (also when not set up).")
      .def("health_check", &PyStore::HealthCheck,
           "0 healthy, 1 not set up or closed, 2 master unreachable.")
      .def("get_hostname", &PyStore::GetHostname, "\"host:port\" of this client.")
      // Plain bytes.
      .def(
          "put",
          [](PyStore& s, const std::string& key, py::buffer value,
             const PyReplicateConfig* config) {
            return s.Put(key, value, config, PutMode::kCreate);
          },
          py::arg("key"), py::arg("value"), py::arg("config") = none,
          "Stores value (any buffer: bytes, bytearray, memoryview, numpy array) under key. "
          "0 also when key exists (then unchanged: see upsert).")
      .def(
          "upsert",
          [](PyStore& s, const std::string& key, py::buffer value,
             const PyReplicateConfig* config) {
            return s.Put(key, value, config, PutMode::kUpsert);
          },
          py::arg("key"), py::arg("value"), py::arg("config") = none,
          "Like put, but replaces an existing object.")
      // put_parts(key, *parts, config=None). pybind11 2.10 lets a lone positional part fill a
      // keyword-only argument after *args, so `config` is taken from **kwargs by hand.
      .def(
          "put_parts",
          [](PyStore& s, const std::string& key, const py::args& parts, const py::kwargs& kwargs) {
            const PyReplicateConfig* config = nullptr;
            for (const auto& [name, value] : kwargs) {
              if (name.cast<std::string>() != "config") {
                throw py::type_error("put_parts() got an unexpected keyword argument '" +
                                     name.cast<std::string>() + "'");
              }
              if (value.is_none()) continue;
              if (!py::isinstance<PyReplicateConfig>(value)) {
                throw py::type_error("put_parts(): config must be a ReplicateConfig or None");
              }
              config = value.cast<const PyReplicateConfig*>();
            }
            return s.PutParts(key, parts, config);
          },
          py::arg("key"),
          "put_parts(key, *parts, config=None): stores the concatenation of the "
          "buffers given after key.")
      .def(
          "put_batch",
          [](PyStore& s, const PyStore::Keys& keys, const PyStore::Objects& values,
             const PyReplicateConfig* config) {
            return s.PutBatch(keys, values, config, PutMode::kCreate);
          },
          py::arg("keys"), py::arg("values"), py::arg("config") = none,
          "put of several keys in one round trip; 0, or the first error.")
      .def(
          "upsert_batch",
          [](PyStore& s, const PyStore::Keys& keys, const PyStore::Objects& values,
             const PyReplicateConfig* config) {
            return s.PutBatch(keys, values, config, PutMode::kUpsert);
          },
          py::arg("keys"), py::arg("values"), py::arg("config") = none)
      .def("get", &PyStore::Get, py::arg("key"), "The object's bytes; b\"\" on a miss or error.")
      .def("get_batch", &PyStore::GetBatch, py::arg("keys"))
      .def("get_buffer", &PyStore::GetBuffer, py::arg("key"),
           "A BufferHandle holding the object's bytes; None on a miss or error.")
      .def("batch_get_buffer", &PyStore::BatchGetBuffer, py::arg("keys"))
      // Zero-copy.
      .def("register_buffer", &PyStore::RegisterBuffer, py::arg("buffer_ptr"), py::arg("size"),
           "Registers [buffer_ptr, +size) for the zero-copy calls (buffer_ptr: int address or "
           "a buffer object, kept alive while registered).")
      .def("unregister_buffer", &PyStore::UnregisterBuffer, py::arg("buffer_ptr"))
      .def(
          "put_from",
          [](PyStore& s, const std::string& key, py::handle buffer_ptr, uint64_t size,
             const PyReplicateConfig* config) {
            return s.PutFrom(key, buffer_ptr, size, config, PutMode::kCreate);
          },
          py::arg("key"), py::arg("buffer_ptr"), py::arg("size"), py::arg("config") = none,
          "Stores size bytes straight from registered memory.")
      .def(
          "upsert_from",
          [](PyStore& s, const std::string& key, py::handle buffer_ptr, uint64_t size,
             const PyReplicateConfig* config) {
            return s.PutFrom(key, buffer_ptr, size, config, PutMode::kUpsert);
          },
          py::arg("key"), py::arg("buffer_ptr"), py::arg("size"), py::arg("config") = none)
      .def("get_into", &PyStore::GetInto, py::arg("key"), py::arg("buffer_ptr"), py::arg("size"),
           "Reads the object straight into registered memory; its size, or < 0 (-10: buffer "
           "too small).")
      .def(
          "batch_put_from",
          [](PyStore& s, const PyStore::Keys& keys, const PyStore::Objects& buffer_ptrs,
             const PyStore::Sizes& sizes, const PyReplicateConfig* config) {
            return s.BatchPutFrom(keys, buffer_ptrs, sizes, config, PutMode::kCreate);
          },
          py::arg("keys"), py::arg("buffer_ptrs"), py::arg("sizes"), py::arg("config") = none)
      .def(
          "batch_upsert_from",
          [](PyStore& s, const PyStore::Keys& keys, const PyStore::Objects& buffer_ptrs,
             const PyStore::Sizes& sizes, const PyReplicateConfig* config) {
            return s.BatchPutFrom(keys, buffer_ptrs, sizes, config, PutMode::kUpsert);
          },
          py::arg("keys"), py::arg("buffer_ptrs"), py::arg("sizes"), py::arg("config") = none)
      .def("batch_get_into", &PyStore::BatchGetInto, py::arg("keys"), py::arg("buffer_ptrs"),
           py::arg("sizes"))
      .def("get_into_ranges", &PyStore::GetIntoRanges, py::arg("buffer_ptrs"), py::arg("all_keys"),
           py::arg("all_dst_offsets"), py::arg("all_src_offsets"), py::arg("all_sizes"),
           "For each buffer i and each key j of all_keys[i], reads the ranges "
           "(all_src_offsets[i][j][r], all_sizes[i][j][r]) of the object into "
           "buffer_ptrs[i] + all_dst_offsets[i][j][r]. Result [i][j][r]: bytes read or < 0.")
      .def("batch_put_from_multi_buffers", &PyStore::BatchPutFromMultiBuffers, py::arg("keys"),
           py::arg("all_buffer_ptrs"), py::arg("all_sizes"), py::arg("config") = none,
           "Puts each key's object as the concatenation of its registered buffers "
           "(all_buffer_ptrs[i][j], all_sizes[i][j]). One result per key: 0 or < 0.")
      .def(
          "batch_get_into_multi_buffers",
          [](PyStore& s, const PyStore::Keys& keys,
             const PyStore::Nested<py::object>& all_buffer_ptrs,
             const PyStore::Nested<uint64_t>& all_sizes, bool /*prefer_alloc_in_same_node*/) {
            // Replica choice is the client's own (memory before SSD): the hint upstream
            // takes changes nothing here.
            return s.BatchGetIntoMultiBuffers(keys, all_buffer_ptrs, all_sizes);
          },
          py::arg("keys"), py::arg("all_buffer_ptrs"), py::arg("all_sizes"),
          py::arg("prefer_alloc_in_same_node") = false,
          "Reads each key's object into its registered buffers, in order; the buffers must add "
          "up to the object's size. One result per key: bytes read or < 0.")
      // Index.
      .def("is_exist", &PyStore::IsExist, py::arg("key"), "1 exists, 0 not, < 0 error.")
      .def("batch_is_exist", &PyStore::BatchIsExist, py::arg("keys"))
      .def("get_size", &PyStore::GetSize, py::arg("key"))
      .def("remove", &PyStore::Remove, py::arg("key"), py::arg("force") = false,
           "0; -706 while a reader's lease is live, unless force.")
      .def("remove_by_regex", &PyStore::RemoveByRegex, py::arg("pattern"), py::arg("force") = false,
           "Removes keys containing a match of an RE2 regex (linear time; no backreferences\n"
           "or lookaround: -600 INVALID_PARAMS); the count.")
      .def("remove_all", &PyStore::RemoveAll, py::arg("force") = false)
      .def("batch_remove", &PyStore::BatchRemove, py::arg("keys"), py::arg("force") = false);
}

}  // namespace

void BindStore(py::module_& m) {
  BindReplicateConfig(m);
  BindBufferHandle(m);
  BindStoreClass(m);
  // Stores still open at interpreter exit are closed while the interpreter still runs (their
  // segments unmounted), rather than from destructors during its teardown.
  py::module_::import("atexit").attr("register")(py::cpp_function([] {
    py::gil_scoped_release nogil;
    StoreSession::CloseAll();
  }));
}

}  // namespace mooncake::python
