#include "python/engine_binding.h"

#include <pybind11/stl.h>

#include "python/py_transfer_engine.h"

namespace py = pybind11;

namespace mooncake::python {

void BindEngine(py::module_& m) {
  using E = PyTransferEngine;
  using A = E::Addresses;
  using L = E::Lengths;
  constexpr auto kRead = transfer::TransferOpcode::kRead;
  constexpr auto kWrite = transfer::TransferOpcode::kWrite;
  py::class_<E>(m, "TransferEngine",
                "Moves bytes between this process's registered memory and other segments "
                "(upstream's API: ints are 0 or a negative error code).")
      .def(py::init<>())
      .def("initialize", &E::Initialize, py::arg("local_hostname"), py::arg("metadata_server"),
           py::arg("protocol"), py::arg("device_name"), py::arg("auth_secret_file") = "",
           "Starts the engine as local_hostname (\"host:port\"; a bare host gets a port from "
           "12300-14300). metadata_server: \"P2PHANDSHAKE\" or \"etcd://host:port\". "
           "protocol: tcp, shm or auto. auth_secret_file: the cluster secret file (mode 600; "
           "\"\" = $MC_AUTH_SECRET_FILE, else none); an unusable file returns -600. 0 or < 0.")
      .def("get_rpc_port", &E::GetRpcPort)
      .def("allocate_managed_buffer", &E::AllocateManagedBuffer, py::arg("length"),
           "Registered memory owned by the engine: its address, 0 on failure.")
      .def("free_managed_buffer", &E::FreeManagedBuffer, py::arg("addr"), py::arg("length"))
      // register_memory / unregister_memory also take upstream's keyword names.
      .def("register_memory", &E::RegisterMemory, py::arg("addr"), py::arg("length"),
           py::arg("location") = "cpu")
      .def("register_memory", &E::RegisterMemory, py::arg("buffer_addr"), py::arg("capacity"),
           py::arg("location") = "cpu")
      .def("unregister_memory", &E::UnregisterMemory, py::arg("addr"))
      .def("unregister_memory", &E::UnregisterMemory, py::arg("buffer_addr"))
      .def(
          "transfer_sync_write",
          [](E& e, const std::string& target, uintptr_t buffer, uintptr_t peer, uint64_t length,
             const std::string&) { return e.TransferSync(target, buffer, peer, length, kWrite); },
          py::arg("target_hostname"), py::arg("buffer"), py::arg("peer_buffer_address"),
          py::arg("length"), py::arg("transport_hint") = "",
          "Writes length bytes at buffer to peer_buffer_address of segment target_hostname.")
      .def(
          "transfer_sync_read",
          [](E& e, const std::string& target, uintptr_t buffer, uintptr_t peer, uint64_t length,
             const std::string&) { return e.TransferSync(target, buffer, peer, length, kRead); },
          py::arg("target_hostname"), py::arg("buffer"), py::arg("peer_buffer_address"),
          py::arg("length"), py::arg("transport_hint") = "")
      .def(
          "batch_transfer_sync_write",
          [](E& e, const std::string& target, const A& buffers, const A& peers, const L& lengths,
             const std::string&) {
            return e.BatchTransferSync(target, buffers, peers, lengths, kWrite);
          },
          py::arg("target_hostname"), py::arg("buffers"), py::arg("peer_buffer_addresses"),
          py::arg("lengths"), py::arg("transport_hint") = "")
      .def(
          "batch_transfer_sync_read",
          [](E& e, const std::string& target, const A& buffers, const A& peers, const L& lengths,
             const std::string&) {
            return e.BatchTransferSync(target, buffers, peers, lengths, kRead);
          },
          py::arg("target_hostname"), py::arg("buffers"), py::arg("peer_buffer_addresses"),
          py::arg("lengths"), py::arg("transport_hint") = "")
      .def(
          "batch_transfer_async_write",
          [](E& e, const std::string& target, const A& buffers, const A& peers, const L& lengths,
             const std::string&) {
            return e.BatchTransferAsync(target, buffers, peers, lengths, kWrite);
          },
          py::arg("target_hostname"), py::arg("buffers"), py::arg("peer_buffer_addresses"),
          py::arg("lengths"), py::arg("transport_hint") = "",
          "Submits the writes; the batch id for get_batch_transfer_status, 0 on failure.")
      .def(
          "batch_transfer_async_read",
          [](E& e, const std::string& target, const A& buffers, const A& peers, const L& lengths,
             const std::string&) {
            return e.BatchTransferAsync(target, buffers, peers, lengths, kRead);
          },
          py::arg("target_hostname"), py::arg("buffers"), py::arg("peer_buffer_addresses"),
          py::arg("lengths"), py::arg("transport_hint") = "")
      .def("get_batch_transfer_status", &E::GetBatchTransferStatus, py::arg("batch_ids"),
           "Waits for the batches and frees them: 0 when every transfer completed.")
      .def("write_bytes_to_buffer", &E::WriteBytesToBuffer, py::arg("addr"), py::arg("bytes"),
           py::arg("length"))
      .def("read_bytes_from_buffer", &E::ReadBytesFromBuffer, py::arg("addr"), py::arg("length"))
      .def("get_first_buffer_address", &E::GetFirstBufferAddress, py::arg("segment_name"));
}

}  // namespace mooncake::python
