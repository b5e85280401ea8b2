// PyStore's zero-copy calls: register_buffer / unregister_buffer (the regions every address
// is checked against), put_from, get_into, their batches and get_into_ranges, moving bytes
// straight from and into the caller's registered memory.

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/address_range.h"
#include "python/py_store.h"
#include "python/py_store_calls.h"

namespace py = pybind11;

namespace mooncake::python {

// ---- Zero-copy ---------------------------------------------------------------------------------

Status PyStore::CheckRegistered(uintptr_t address, uint64_t size) const {
  const auto range_of = [](const auto& entry) {
    return AddressRange{entry.first, entry.second.size};
  };
  // A range must start on a byte of a buffer (registered buffers are never empty: the engine
  // refuses them); starting there but running past the buffer's end is an overflow.
  auto it = FindStartingAtOrBefore(regions_, address, range_of);
  if (it != regions_.end()) {
    const AddressRange region = range_of(*it);
    if (region.ContainsAddress(address)) {
      if (region.Contains(address, size)) return Status::Ok();
      return Status(StatusCode::kBufferOverflow,
                    fmt::format("[{:#x}, +{}) runs past the end of the registered buffer "
                                "[{:#x}, +{})",
                                address, size, region.start, region.length));
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

}  // namespace mooncake::python
