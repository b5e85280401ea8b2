#include "transfer/memory_registry.h"

#include <fmt/format.h>

#include <mutex>

#include "common/address_range.h"

namespace mooncake::transfer {

Status MemoryRegistry::Register(uint64_t address, uint64_t length, std::string location) {
  if (length == 0) return InvalidParams("cannot register an empty memory region");
  if (address + length < address) {
    return InvalidParams(fmt::format("memory region 0x{:x}+{} wraps around", address, length));
  }
  std::unique_lock lock(mutex_);
  auto next = regions_.lower_bound(address);
  if (next != regions_.end() && next->first < address + length) {
    return InvalidParams(fmt::format("memory region 0x{:x}+{} overlaps registered region 0x{:x}",
                                     address, length, next->first));
  }
  if (next != regions_.begin()) {
    const BufferDescriptor& prev = std::prev(next)->second;
    if (prev.address + prev.length > address) {
      return InvalidParams(fmt::format("memory region 0x{:x}+{} overlaps registered region 0x{:x}",
                                       address, length, prev.address));
    }
  }
  regions_.emplace(address, BufferDescriptor{address, length, std::move(location), ""});
  return Status::Ok();
}

Status MemoryRegistry::Unregister(uint64_t address) {
  std::unique_lock lock(mutex_);
  if (regions_.erase(address) == 0) {
    return InvalidParams(fmt::format("no memory region registered at 0x{:x}", address));
  }
  return Status::Ok();
}

bool MemoryRegistry::Contains(uint64_t address, uint64_t length) const {
  std::shared_lock lock(mutex_);
  auto it = FindContaining(regions_, address, length, [](const auto& entry) {
    return AddressRange{entry.first, entry.second.length};
  });
  return it != regions_.end();
}

std::vector<BufferDescriptor> MemoryRegistry::Snapshot() const {
  std::shared_lock lock(mutex_);
  std::vector<BufferDescriptor> out;
  out.reserve(regions_.size());
  for (const auto& [start, region] : regions_) out.push_back(region);
  return out;
}

}  // namespace mooncake::transfer
