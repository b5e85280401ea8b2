#include "master/core/segment_pool.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "mooncake/common/size.h"
#include "store_types/ssd_geometry.h"

namespace mooncake::master {
namespace {

std::string Bytes(uint64_t n) { return fmt::format("{} B ({})", n, FormatSize(n)); }

Status AlreadyExists(std::string message) {
  return {StatusCode::kSegmentAlreadyExists, std::move(message)};
}

}  // namespace

Result<std::vector<std::string>> SegmentPool::Mount(const SegmentSpec& spec) {
  if (spec.name.empty()) return InvalidParams("mount: empty segment name");
  if (spec.node_id.empty()) {
    return InvalidParams(fmt::format("mount of segment '{}': empty node id", spec.name));
  }
  if (spec.size == 0) {
    return InvalidParams(fmt::format("mount of segment '{}': size 0", spec.name));
  }
  if (spec.base > std::numeric_limits<uint64_t>::max() - spec.size) {
    return InvalidParams(fmt::format("mount of segment '{}': base {:#x} + size {} overflows",
                                     spec.name, spec.base, spec.size));
  }
  auto node_it = nodes_.find(spec.node_id);
  if (node_it != nodes_.end() && spec.epoch < node_it->second.epoch) {
    return Status(StatusCode::kInvalidVersion,
                  fmt::format("mount of segment '{}': stale epoch {} of node '{}' (newest is {})",
                              spec.name, spec.epoch, spec.node_id, node_it->second.epoch));
  }
  auto segment_it = segments_.find(spec.name);
  if (segment_it != segments_.end()) {
    const SegmentSpec& owner = segment_it->second.spec;
    if (owner.node_id != spec.node_id) {
      return AlreadyExists(
          fmt::format("segment '{}' is already mounted by node '{}'", spec.name, owner.node_id));
    }
    if (owner.epoch == spec.epoch) {
      return AlreadyExists(fmt::format("segment '{}' is already mounted by node '{}' epoch {}",
                                       spec.name, owner.node_id, owner.epoch));
    }
    // Otherwise owner.epoch < spec.epoch: the segment goes with the rest of the old epoch.
  }
  // SSD allocations start on a block boundary (their header block is written with O_DIRECT).
  const uint64_t alignment = spec.medium == Medium::kSsd ? kSsdBlockBytes : 64;
  if (spec.medium == Medium::kSsd && spec.base % kSsdBlockBytes != 0) {
    return InvalidParams(fmt::format("mount of SSD segment '{}': base {:#x} is not {}-aligned",
                                     spec.name, spec.base, kSsdBlockBytes));
  }
  MC_ASSIGN_OR_RETURN(OffsetAllocator allocator, OffsetAllocator::Create(spec.size, alignment));

  std::vector<std::string> dropped;
  if (node_it != nodes_.end() && spec.epoch > node_it->second.epoch) {
    dropped = UnmountNode(spec.node_id);
  }
  Node& node = nodes_[spec.node_id];
  node.epoch = spec.epoch;
  node.segments.insert(spec.name);
  segments_.emplace(spec.name, Segment{spec, std::move(allocator), false});
  return dropped;
}

Status SegmentPool::Unmount(std::string_view name, const NodeId& node, Epoch epoch) {
  auto it = segments_.find(name);
  if (it == segments_.end()) {
    return SegmentNotFound(fmt::format("unmount: segment '{}' is not mounted", name));
  }
  const SegmentSpec& spec = it->second.spec;
  if (spec.node_id != node || spec.epoch != epoch) {
    return InvalidParams(fmt::format(
        "unmount of segment '{}' by node '{}' epoch {}: it belongs to node '{}' epoch {}", name,
        node, epoch, spec.node_id, spec.epoch));
  }
  Erase(it);
  return Status::Ok();
}

std::vector<std::string> SegmentPool::UnmountNode(const NodeId& node) {
  auto node_it = nodes_.find(node);
  if (node_it == nodes_.end()) return {};
  std::vector<std::string> names(node_it->second.segments.begin(), node_it->second.segments.end());
  for (const std::string& name : names) segments_.erase(name);
  node_it->second.segments.clear();  // the epoch stays remembered
  return names;
}

void SegmentPool::Erase(SegmentMap::iterator it) {
  auto node_it = nodes_.find(it->second.spec.node_id);
  if (node_it != nodes_.end()) node_it->second.segments.erase(it->first);
  segments_.erase(it);
}

Result<Allocation> SegmentPool::AllocateIn(Segment& segment, uint64_t size) {
  auto offset = segment.allocator.Allocate(size);
  if (!offset.ok()) {
    return offset.status().WithContext(fmt::format("segment '{}'", segment.spec.name));
  }
  return Allocation{segment.spec.name, segment.spec.base + *offset, size};
}

Result<Allocation> SegmentPool::Allocate(std::string_view segment, uint64_t size) {
  auto it = segments_.find(segment);
  if (it == segments_.end()) {
    return SegmentNotFound(fmt::format("allocate: segment '{}' is not mounted", segment));
  }
  return AllocateIn(it->second, size);
}

Status SegmentPool::Free(const Allocation& allocation) {
  return Free(allocation.segment, allocation.address, allocation.length);
}

Result<uint64_t> SegmentPool::HeldOffset(std::string_view name, const Segment& segment,
                                         uint64_t address, uint64_t length) {
  const uint64_t base = segment.spec.base;
  auto invalid = [&](std::string_view why) {
    return InvalidParams(
        fmt::format("free of {} bytes at {:#x} in segment '{}': {}", length, address, name, why));
  };
  if (length == 0) return invalid("length 0");
  if (address < base || address - base >= segment.spec.size) {
    return invalid(fmt::format("outside the segment [{:#x}, +{})", base, segment.spec.size));
  }
  const uint64_t offset = address - base;
  auto held = segment.allocator.AllocationSize(offset);
  if (!held.ok()) return invalid("no allocation starts there");
  // An allocation holds its length plus less than one alignment unit of tail padding.
  if (length > *held || *held - length >= segment.allocator.alignment()) {
    return invalid(fmt::format("the allocation there holds {} bytes", *held));
  }
  return offset;
}

Status SegmentPool::Free(std::string_view segment, uint64_t address, uint64_t length) {
  auto it = segments_.find(segment);
  if (it == segments_.end()) {
    return SegmentNotFound(fmt::format("free: segment '{}' is not mounted", segment));
  }
  MC_ASSIGN_OR_RETURN(uint64_t offset, HeldOffset(segment, it->second, address, length));
  return it->second.allocator.Free(offset);
}

Status SegmentPool::CheckHeld(std::string_view segment, uint64_t address, uint64_t length) const {
  auto it = segments_.find(segment);
  if (it == segments_.end()) {
    return SegmentNotFound(fmt::format("segment '{}' is not mounted", segment));
  }
  return HeldOffset(segment, it->second, address, length).status();
}

Status SegmentPool::Reserve(std::string_view segment, uint64_t address, uint64_t length) {
  auto it = segments_.find(segment);
  if (it == segments_.end()) {
    return SegmentNotFound(fmt::format("reserve: segment '{}' is not mounted", segment));
  }
  Segment& entry = it->second;
  if (address < entry.spec.base) {
    return InvalidParams(fmt::format("reserve of {} bytes at {:#x}: below segment '{}' base {:#x}",
                                     length, address, segment, entry.spec.base));
  }
  Status s = entry.allocator.Reserve(address - entry.spec.base, length);
  if (!s.ok()) return s.WithContext(fmt::format("reserve in segment '{}'", segment));
  return Status::Ok();
}

Result<Allocation> SegmentPool::AllocateOnMedium(Medium medium, uint64_t size,
                                                 const std::vector<std::string>& preferred_segments,
                                                 const std::set<NodeId>& excluded_nodes) {
  if (size == 0) {
    return InvalidParams(fmt::format("allocate on {}: size 0", MediumName(medium)));
  }
  auto eligible = [&](const Segment& segment) {
    return segment.spec.medium == medium && !segment.draining &&
           !excluded_nodes.contains(segment.spec.node_id);
  };
  auto try_segment = [&](Segment& segment) -> std::optional<Allocation> {
    if (segment.allocator.stats().free < size) return std::nullopt;
    auto allocation = AllocateIn(segment, size);
    if (!allocation.ok()) return std::nullopt;  // free space too fragmented
    return std::move(allocation).value();
  };

  std::set<std::string_view> tried;
  for (const std::string& name : preferred_segments) {
    auto it = segments_.find(name);
    if (it == segments_.end() || !eligible(it->second) || !tried.insert(it->first).second) {
      continue;
    }
    if (auto allocation = try_segment(it->second)) return std::move(*allocation);
  }

  // The rest of the medium, least loaded (most free bytes) first.
  std::vector<std::pair<uint64_t, Segment*>> rest;
  for (auto& [name, segment] : segments_) {
    if (eligible(segment) && !tried.contains(name)) {
      rest.emplace_back(segment.allocator.stats().free, &segment);
    }
  }
  // segments_ is sorted by name and stable_sort keeps that order among equal free bytes.
  std::stable_sort(rest.begin(), rest.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  for (auto& [free, segment] : rest) {
    if (auto allocation = try_segment(*segment)) return std::move(*allocation);
  }

  uint64_t total_free = 0;
  uint64_t eligible_free = 0;
  size_t count = 0;
  size_t draining = 0;
  for (const auto& [name, segment] : segments_) {
    if (segment.spec.medium != medium) continue;
    ++count;
    if (segment.draining) ++draining;
    const uint64_t free = segment.allocator.stats().free;
    total_free += free;
    if (eligible(segment)) eligible_free += free;
  }
  return Status(
      StatusCode::kNoAvailableHandle,
      fmt::format("no {} segment can hold {} bytes: {} {} segments with {} free in all, "
                  "{} of it on nodes not excluded ({} excluded) and segments not draining ({} "
                  "draining)",
                  MediumName(medium), size, count, MediumName(medium), Bytes(total_free),
                  Bytes(eligible_free), excluded_nodes.size(), draining));
}

std::vector<std::string> SegmentPool::SetDraining(const NodeId& node) {
  auto node_it = nodes_.find(node);
  if (node_it == nodes_.end()) return {};
  std::vector<std::string> names;
  for (const std::string& name : node_it->second.segments) {
    auto it = segments_.find(name);
    if (it == segments_.end()) continue;  // cannot happen (CheckConsistency)
    it->second.draining = true;
    names.push_back(name);
  }
  return names;
}

SegmentInfo SegmentPool::InfoOf(const Segment& segment) {
  const OffsetAllocator::Stats stats = segment.allocator.stats();
  SegmentInfo info;
  info.name = segment.spec.name;
  info.node_id = segment.spec.node_id;
  info.epoch = segment.spec.epoch;
  info.medium = segment.spec.medium;
  info.base = segment.spec.base;
  info.capacity = stats.capacity;
  info.used = stats.used;
  info.largest_free_block = stats.largest_free_block;
  info.allocations = stats.allocations;
  info.fragmentation = stats.fragmentation;
  info.draining = segment.draining;
  return info;
}

std::optional<SegmentInfo> SegmentPool::Find(std::string_view name) const {
  auto it = segments_.find(name);
  if (it == segments_.end()) return std::nullopt;
  return InfoOf(it->second);
}

std::vector<SegmentInfo> SegmentPool::List() const {
  std::vector<SegmentInfo> infos;
  infos.reserve(segments_.size());
  for (const auto& [name, segment] : segments_) infos.push_back(InfoOf(segment));
  return infos;
}

SegmentPool::MediumUsage SegmentPool::Usage(Medium medium) const {
  MediumUsage usage;
  for (const auto& [name, segment] : segments_) {
    if (segment.spec.medium != medium) continue;
    const OffsetAllocator::Stats stats = segment.allocator.stats();
    usage.capacity += stats.capacity;
    usage.used += stats.used;
  }
  return usage;
}

std::set<NodeId> SegmentPool::Nodes() const {
  std::set<NodeId> nodes;
  for (const auto& [id, node] : nodes_) {
    if (!node.segments.empty()) nodes.insert(id);
  }
  return nodes;
}

std::optional<Epoch> SegmentPool::NodeEpoch(const NodeId& node) const {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return std::nullopt;
  return it->second.epoch;
}

Status SegmentPool::CheckConsistency() const {
  size_t indexed = 0;
  for (const auto& [id, node] : nodes_) {
    for (const std::string& name : node.segments) {
      ++indexed;
      auto it = segments_.find(name);
      if (it == segments_.end()) {
        return InternalError(fmt::format("node '{}' lists unmounted segment '{}'", id, name));
      }
      if (it->second.spec.node_id != id || it->second.spec.epoch != node.epoch) {
        return InternalError(fmt::format(
            "segment '{}' is owned by node '{}' epoch {} but listed by node '{}' epoch {}", name,
            it->second.spec.node_id, it->second.spec.epoch, id, node.epoch));
      }
    }
  }
  if (indexed != segments_.size()) {
    return InternalError(
        fmt::format("{} segments mounted but {} listed by nodes", segments_.size(), indexed));
  }
  for (const auto& [name, segment] : segments_) {
    if (segment.allocator.capacity() != segment.spec.size) {
      return InternalError(fmt::format("segment '{}': allocator capacity {} != size {}", name,
                                       segment.allocator.capacity(), segment.spec.size));
    }
    Status s = segment.allocator.CheckConsistency();
    if (!s.ok()) return s.WithContext(fmt::format("segment '{}'", name));
  }
  return Status::Ok();
}

}  // namespace mooncake::master
