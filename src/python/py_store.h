#pragma once

// MooncakeDistributedStore: upstream Mooncake's Python store API over store::Client.
//
// Conventions (COMPAT.md): an int result is 0 or a negative StatusCode (upstream's numbers),
// sizes are returned as the value; a miss is b"" (get) or None (get_buffer); put of an existing
// key returns 0 and leaves the object as it was, upsert replaces it. Failures are logged with
// their message (a code alone says little). Argument conversion happens with the GIL; every
// call that reaches the master or moves bytes releases it, so Python threads overlap.
//
// Data arguments take any buffer-protocol object in place (no copy); address arguments take
// upstream's int addresses or a buffer object standing for its memory. Zero-copy calls
// (put_from, get_into, batch_*, get_into_ranges) move bytes straight from/into the caller's
// memory, which must lie inside a region given to register_buffer.
//
// Thread safety: any method from any Python thread; close() waits for calls in flight.

#include <pybind11/pybind11.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mooncake/common/status.h"
#include "python/buffer_view.h"
#include "python/store_options.h"
#include "python/store_session.h"

namespace mooncake::python {

// An object's bytes, owned by Python (get_buffer): .ptr(), .size(), len(), buffer protocol.
class BufferHandle {
 public:
  explicit BufferHandle(std::vector<uint8_t> bytes) : bytes_(std::move(bytes)) {}
  uintptr_t ptr() const { return reinterpret_cast<uintptr_t>(bytes_.data()); }
  size_t size() const { return bytes_.size(); }
  uint8_t* data() { return bytes_.data(); }

 private:
  std::vector<uint8_t> bytes_;
};

class PyStore {
 public:
  using Keys = std::vector<std::string>;
  using Objects = std::vector<pybind11::object>;
  using Sizes = std::vector<uint64_t>;
  template <typename T>
  using Nested = std::vector<std::vector<T>>;

  PyStore() = default;
  ~PyStore();

  int Setup(const std::string& local_hostname, const std::string& metadata_server,
            pybind11::handle global_segment_size, pybind11::handle local_buffer_size,
            const std::string& protocol, const std::string& rdma_devices,
            const std::string& master_server_addr, const std::string& auth_secret_file);
  int SetupFromDict(const pybind11::dict& config);
  int Close();
  int HealthCheck();
  std::string GetHostname() const { return session_.hostname(); }

  // ---- Plain bytes ---------------------------------------------------------------------
  int Put(const std::string& key, pybind11::handle value, const PyReplicateConfig* config,
          PutMode mode);
  int PutParts(const std::string& key, const pybind11::args& parts,
               const PyReplicateConfig* config);
  int PutBatch(const Keys& keys, const Objects& values, const PyReplicateConfig* config,
               PutMode mode);
  pybind11::bytes Get(const std::string& key);
  std::vector<pybind11::bytes> GetBatch(const Keys& keys);
  pybind11::object GetBuffer(const std::string& key);
  pybind11::list BatchGetBuffer(const Keys& keys);

  // ---- Zero-copy -------------------------------------------------------------------------
  int RegisterBuffer(pybind11::handle buffer_ptr, uint64_t size);
  int UnregisterBuffer(pybind11::handle buffer_ptr);
  int PutFrom(const std::string& key, pybind11::handle buffer_ptr, uint64_t size,
              const PyReplicateConfig* config, PutMode mode);
  int64_t GetInto(const std::string& key, pybind11::handle buffer_ptr, uint64_t size);
  std::vector<int> BatchPutFrom(const Keys& keys, const Objects& buffer_ptrs, const Sizes& sizes,
                                const PyReplicateConfig* config, PutMode mode);
  std::vector<int64_t> BatchGetInto(const Keys& keys, const Objects& buffer_ptrs,
                                    const Sizes& sizes);
  // Result [buffer][key][range]: bytes read, or < 0.
  std::vector<Nested<int64_t>> GetIntoRanges(const Objects& buffer_ptrs,
                                             const Nested<std::string>& all_keys,
                                             const std::vector<Nested<uint64_t>>& all_dst_offsets,
                                             const std::vector<Nested<uint64_t>>& all_src_offsets,
                                             const std::vector<Nested<uint64_t>>& all_sizes);

  // Each key's object is the concatenation of its buffers (py_store_multi_buffer.cc); one
  // result per key: 0 / bytes read, or < 0.
  std::vector<int> BatchPutFromMultiBuffers(const Keys& keys,
                                            const Nested<pybind11::object>& all_buffer_ptrs,
                                            const Nested<uint64_t>& all_sizes,
                                            const PyReplicateConfig* config);
  std::vector<int64_t> BatchGetIntoMultiBuffers(const Keys& keys,
                                                const Nested<pybind11::object>& all_buffer_ptrs,
                                                const Nested<uint64_t>& all_sizes);

  // ---- Index -----------------------------------------------------------------------------
  int IsExist(const std::string& key);
  std::vector<int> BatchIsExist(const Keys& keys);
  int64_t GetSize(const std::string& key);
  int Remove(const std::string& key, bool force);
  int64_t RemoveByRegex(const std::string& pattern, bool force);
  int64_t RemoveAll(bool force);
  std::vector<int> BatchRemove(const Keys& keys, bool force);

 private:
  // A region given to register_buffer; `owner` keeps a buffer object alive while registered.
  struct Region {
    uint64_t size = 0;
    pybind11::object owner;
  };

  int SetupWith(const StoreSetup& setup);
  // OK when [address, address + size) lies inside one registered region.
  Status CheckRegistered(uintptr_t address, uint64_t size) const;
  // The address of `object` (see AddressOf) inside registered memory.
  Result<uintptr_t> RegisteredAddress(pybind11::handle object, uint64_t size, bool writable,
                                      BufferViews& views) const;

  StoreSession session_;
  // Guarded by the GIL.
  std::map<uintptr_t, Region> regions_;
};

}  // namespace mooncake::python
