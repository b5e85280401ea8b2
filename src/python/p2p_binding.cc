#include "python/p2p_binding.h"

#include <pybind11/stl.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/auth/open_bind.h"
#include "mooncake/p2p/p2p_store.h"
#include "python/buffer_view.h"
#include "python/interpreter.h"

namespace py = pybind11;

namespace mooncake::python {
namespace {

// Raised for every failure: args = (code, message), code being the project-wide (upstream)
// numeric error code, e.g. -704 for OBJECT_NOT_FOUND.
PyObject* g_p2p_error = nullptr;

[[noreturn]] void Raise(const Status& status) {
  py::tuple args = py::make_tuple(status.raw_code(), status.ToString());
  PyErr_SetObject(g_p2p_error, args.ptr());
  throw py::error_already_set();
}

// The buffers a call is about: one buffer-protocol object or a list of them.
std::vector<py::handle> BufferList(const py::handle& buffers) {
  std::vector<py::handle> out;
  if (py::isinstance<py::list>(buffers) || py::isinstance<py::tuple>(buffers)) {
    for (py::handle b : buffers) out.push_back(b);
  } else {
    out.push_back(buffers);
  }
  return out;
}

// A P2PStore plus the views of the Python buffers it serves: a registered buffer stays
// exported (a bytearray cannot be resized, its memory cannot move) until unregistered.
class PyP2PStore {
 public:
  PyP2PStore(const std::string& metadata_server, const std::string& local_server_name,
             const std::string& protocol, int lease_ttl_s, const std::string& hash,
             uint64_t piece_size, bool serve_replicas, const std::string& auth_secret_file) {
    p2p::P2PStoreOptions o;
    // Like an app, the binding reads the secret file: the keyword's, else $MC_AUTH_SECRET_FILE's.
    auto secret = auth::LoadConfiguredSecret(auth_secret_file);
    if (!secret.ok()) Raise(secret.status());
    o.auth_secret = *secret;
    o.metadata_server = metadata_server;
    o.local_server_name = local_server_name;
    o.protocol = protocol;
    o.lease_ttl = std::chrono::seconds(lease_ttl_s);
    if (hash == "sha256") {
      o.hash_algorithm = p2p::P2PHashAlgorithm::kSha256;
    } else if (hash != "xxh3-128") {
      throw py::value_error("hash must be 'xxh3-128' or 'sha256'");
    }
    o.piece_size = piece_size;
    o.serve_replicas = serve_replicas;
    serve_replicas_ = serve_replicas;
    Result<std::unique_ptr<p2p::P2PStore>> store = Status();
    {
      py::gil_scoped_release nogil;
      store = p2p::P2PStore::Create(std::move(o));
    }
    if (!store.ok()) Raise(store.status());
    store_ = std::move(*store);
    auth::WarnIfOpen("P2PStore", {store_->local_server_name()}, secret->get());
  }

  ~PyP2PStore() { Close(); }

  void Close() {
    if (!store_) return;
    if (InterpreterRunning()) {
      py::gil_scoped_release nogil;
      store_.reset();
    } else {
      store_.reset();
    }
    views_.clear();
  }

  std::string LocalServerName() { return Store().local_server_name(); }

  void Register(const std::string& name, const py::handle& buffers, uint64_t max_shard_size,
                const std::vector<std::string>& part_names) {
    p2p::P2PStore& store = Store();
    auto views = std::make_unique<BufferViews>();
    std::vector<void*> addrs;
    std::vector<size_t> sizes;
    for (py::handle b : BufferList(buffers)) {
      const BufferView& v = views->emplace_back(b, /*writable=*/false);
      addrs.push_back(v.data());
      sizes.push_back(v.size());
    }
    p2p::P2PRegisterOptions options;
    options.max_shard_size = max_shard_size;
    options.part_names = part_names;
    Status s;
    {
      py::gil_scoped_release nogil;
      s = store.Register(name, addrs, sizes, options);
    }
    if (!s.ok()) Raise(s);
    views_[name] = std::move(views);
  }

  py::dict GetReplica(const std::string& name, const py::handle& buffers) {
    p2p::P2PStore& store = Store();
    auto views = std::make_unique<BufferViews>();
    std::vector<void*> addrs;
    std::vector<size_t> sizes;
    for (py::handle b : BufferList(buffers)) {
      const BufferView& v = views->emplace_back(b, /*writable=*/true);
      addrs.push_back(v.data());
      sizes.push_back(v.size());
    }
    Result<p2p::ReplicaStats> stats = Status();
    {
      py::gil_scoped_release nogil;
      stats = store.GetReplica(name, addrs, sizes);
    }
    if (!stats.ok()) Raise(stats.status());
    // Served from now on (unless fetch-only): keep the buffers exported until delete_replica.
    if (serve_replicas_) views_[name] = std::move(views);
    py::dict d;
    d["bytes"] = stats->bytes;
    d["bytes_from_seeds"] = stats->bytes_from_seeds;
    d["bytes_from_peers"] = stats->bytes_from_peers;
    d["pieces_failed"] = stats->pieces_failed;
    d["shards_corrupt"] = stats->shards_corrupt;
    d["holders_used"] = stats->holders_used;
    d["seconds"] = stats->elapsed.count() / 1e6;
    return d;
  }

  void Unregister(const std::string& name) { Drop(name, /*replica=*/false); }
  void DeleteReplica(const std::string& name) { Drop(name, /*replica=*/true); }

  py::list List(const std::string& prefix) {
    p2p::P2PStore& store = Store();
    Result<std::vector<p2p::P2PObjectInfo>> infos = Status();
    {
      py::gil_scoped_release nogil;
      infos = store.List(prefix);
    }
    if (!infos.ok()) Raise(infos.status());
    py::list out;
    for (const p2p::P2PObjectInfo& info : *infos) {
      py::dict d;
      d["name"] = info.name;
      d["size"] = info.size;
      d["shards"] = info.shard_count;
      d["hash"] = info.hash_algorithm;
      d["holders"] = info.holder_count;
      d["seeds"] = info.seed_count;
      py::list parts;
      for (const p2p::P2PObjectPart& p : info.parts) parts.append(py::make_tuple(p.name, p.size));
      d["parts"] = parts;
      out.append(d);
    }
    return out;
  }

 private:
  p2p::P2PStore& Store() {
    if (!store_) Raise(Status(StatusCode::kInvalidParams, "P2PStore is closed"));
    return *store_;
  }

  void Drop(const std::string& name, bool replica) {
    p2p::P2PStore& store = Store();
    Status s;
    {
      py::gil_scoped_release nogil;
      s = replica ? store.DeleteReplica(name) : store.Unregister(name);
    }
    // The engine no longer serves the memory (or never did): release the buffers.
    if (s.ok() || s.code() != StatusCode::kObjectNotFound) views_.erase(name);
    if (!s.ok()) Raise(s);
  }

  std::unique_ptr<p2p::P2PStore> store_;
  bool serve_replicas_ = true;
  std::map<std::string, std::unique_ptr<BufferViews>> views_;
};

}  // namespace

void BindP2P(py::module_& m) {
  static py::exception<std::runtime_error> error(m, "P2PError", PyExc_RuntimeError);
  g_p2p_error = error.ptr();
  py::class_<PyP2PStore>(m, "P2PStore",
                         "Distributes named objects between peers (see docs/p2p.md). Errors "
                         "raise P2PError(code, message).")
      .def(py::init<const std::string&, const std::string&, const std::string&, int,
                    const std::string&, uint64_t, bool, const std::string&>(),
           py::arg("metadata_server"), py::arg("local_server_name") = "127.0.0.1:0",
           py::arg("protocol") = "auto", py::arg("lease_ttl_s") = 10, py::arg("hash") = "xxh3-128",
           py::arg("piece_size") = uint64_t{4} << 20, py::arg("serve_replicas") = true,
           py::arg("auth_secret_file") = "",
           "metadata_server: etcd://host:port. Starts a Transfer Engine and an etcd lease. "
           "auth_secret_file: the cluster secret file (mode 600; \"\" = $MC_AUTH_SECRET_FILE, "
           "else none); an unusable one raises P2PError.")
      .def_property_readonly("local_server_name", &PyP2PStore::LocalServerName)
      .def("register", &PyP2PStore::Register, py::arg("name"), py::arg("buffers"),
           py::arg("max_shard_size") = uint64_t{64} << 20,
           py::arg("part_names") = std::vector<std::string>{},
           "Publishes the buffer(s) (any buffer-protocol objects, not copied; they stay "
           "exported until unregister) as `name` and seeds them.")
      .def("get_replica", &PyP2PStore::GetReplica, py::arg("name"), py::arg("buffers"),
           "Fetches `name` into the writable buffer(s) (total size = the object's) and serves "
           "it from then on. Returns stats: bytes, bytes_from_seeds, bytes_from_peers, ...")
      .def("unregister", &PyP2PStore::Unregister, py::arg("name"))
      .def("delete_replica", &PyP2PStore::DeleteReplica, py::arg("name"))
      .def("list", &PyP2PStore::List, py::arg("prefix") = "",
           "Objects as dicts: name, size, shards, hash, holders, seeds, parts.")
      .def("close", &PyP2PStore::Close, "Stops serving; the holder entries go at once.")
      .def(
          "__enter__", [](PyP2PStore& s) -> PyP2PStore& { return s; },
          py::return_value_policy::reference)
      .def("__exit__", [](PyP2PStore& s, py::args) { s.Close(); });
}

}  // namespace mooncake::python
