// PyStore's multi-buffer batch calls, as vLLM's MooncakeStoreConnector uses them: each key's
// object is the concatenation of several registered buffers (a KV block's layers), put with
// batch_put_from_multi_buffers and read back with batch_get_into_multi_buffers into the same
// layout. Results are upstream's: 0 / bytes read per key, or a negative StatusCode.
//
// Deviations (docs/python.md): a put gathers the parts into the staging buffer (one copy; a
// scatter-gather put straight from the parts is to come); a get reads straight into the parts
// (zero copy, one GetIntoRanges for the whole batch) and requires the parts to add up to the
// object's size exactly (upstream also accepts larger buffers).

#include <fmt/format.h>

#include <cstdint>
#include <span>
#include <vector>

#include "python/py_store.h"
#include "python/py_store_calls.h"

namespace py = pybind11;

namespace mooncake::python {

namespace {

// Whether key `i` is well-formed: the three lists as long as each other, and its two inner
// lists as long as each other and not empty. Otherwise the reason, for an INVALID_PARAMS of
// that key alone.
Status CheckShape(const PyStore::Keys& keys, const PyStore::Nested<py::object>& all_buffer_ptrs,
                  const PyStore::Nested<uint64_t>& all_sizes, size_t i) {
  if (all_buffer_ptrs.size() == keys.size() && all_sizes.size() == keys.size() &&
      !all_sizes[i].empty() && all_buffer_ptrs[i].size() == all_sizes[i].size()) {
    return Status::Ok();
  }
  return InvalidParams(fmt::format(
      "key '{}': buffer_ptrs and sizes differ in length or are empty ({} keys, {} buffer "
      "lists, {} size lists)",
      keys[i], keys.size(), all_buffer_ptrs.size(), all_sizes.size()));
}

}  // namespace

std::vector<int> PyStore::BatchPutFromMultiBuffers(const Keys& keys,
                                                   const Nested<py::object>& all_buffer_ptrs,
                                                   const Nested<uint64_t>& all_sizes,
                                                   const PyReplicateConfig* config) {
  constexpr const char* kMethod = "batch_put_from_multi_buffers";
  std::vector<int> out(keys.size(), 0);
  auto replicate = ConfigOf(config);
  if (!replicate.ok()) return std::vector<int>(keys.size(), Code(kMethod, replicate.status()));
  // Every part must lie in registered memory (as upstream requires): that is what makes an
  // address from Python safe to read.
  BufferViews views;
  std::vector<std::vector<std::span<const uint8_t>>> parts(keys.size());
  std::vector<size_t> index;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (Status shape = CheckShape(keys, all_buffer_ptrs, all_sizes, i); !shape.ok()) {
      out[i] = Code(kMethod, shape);
      continue;
    }
    for (size_t j = 0; j < all_sizes[i].size() && out[i] == 0; ++j) {
      auto address =
          RegisteredAddress(all_buffer_ptrs[i][j], all_sizes[i][j], /*writable=*/false, views);
      if (!address.ok()) {
        out[i] = Code(kMethod, address.status());
        break;
      }
      parts[i].emplace_back(reinterpret_cast<const uint8_t*>(*address), all_sizes[i][j]);
    }
    if (out[i] == 0) index.push_back(i);
  }
  if (index.empty()) return out;
  const std::vector<Status> results = WithoutGil([&] {
    std::vector<Status> statuses;
    auto client = session_.Borrow();
    for (size_t i : index) {
      statuses.push_back(client ? client->PutParts(keys[i], parts[i], *replicate, PutMode::kCreate)
                                : NotSetUp(kMethod));
    }
    return statuses;
  });
  for (size_t n = 0; n < results.size(); ++n) {
    out[index[n]] = PutCode(kMethod, results[n], PutMode::kCreate);
  }
  return out;
}

std::vector<int64_t> PyStore::BatchGetIntoMultiBuffers(const Keys& keys,
                                                       const Nested<py::object>& all_buffer_ptrs,
                                                       const Nested<uint64_t>& all_sizes) {
  constexpr const char* kMethod = "batch_get_into_multi_buffers";
  std::vector<int64_t> out(keys.size(), 0);
  BufferViews views;
  std::vector<store::GetRange> ranges;
  std::vector<size_t> key_of;  // the key of each range
  for (size_t i = 0; i < keys.size(); ++i) {
    if (Status shape = CheckShape(keys, all_buffer_ptrs, all_sizes, i); !shape.ok()) {
      out[i] = Code(kMethod, shape);
      continue;
    }
    uint64_t total = 0;
    for (uint64_t size : all_sizes[i]) total += size;
    if (total == 0) {
      out[i] =
          Code(kMethod, InvalidParams(fmt::format("key '{}': the buffers hold 0 bytes", keys[i])));
      continue;
    }
    const size_t first = ranges.size();
    uint64_t offset = 0;
    for (size_t j = 0; j < all_sizes[i].size(); ++j) {
      auto address =
          RegisteredAddress(all_buffer_ptrs[i][j], all_sizes[i][j], /*writable=*/true, views);
      if (!address.ok()) {
        out[i] = Code(kMethod, address.status());
        ranges.resize(first);  // none of this key's ranges is read
        key_of.resize(first);
        break;
      }
      ranges.push_back(
          {keys[i], offset, reinterpret_cast<void*>(*address), all_sizes[i][j], total});
      key_of.push_back(i);
      offset += all_sizes[i][j];
    }
    if (out[i] == 0) out[i] = static_cast<int64_t>(total);
  }
  if (ranges.empty()) return out;
  const std::vector<Status> results = WithoutGil([&] {
    auto client = session_.Borrow();
    if (!client) return std::vector<Status>(ranges.size(), NotSetUp(kMethod));
    return client->GetIntoRanges(ranges);
  });
  // A key's result is its byte count unless one of its ranges failed: then the first failure.
  for (size_t r = 0; r < results.size(); ++r) {
    int64_t& slot = out[key_of[r]];
    if (!results[r].ok() && slot >= 0) slot = Code(kMethod, results[r]);
  }
  return out;
}

}  // namespace mooncake::python
