#include "transfer/transport/file/file_segments.h"

#include <fmt/format.h>

#include "common/address_range.h"
#include "common/logging.h"

namespace mooncake::transfer::file {

FileSegments::~FileSegments() {
  // Finish in-flight requests (their callbacks may still look segments up) before the map goes.
  std::unique_ptr<FileIoService> io;
  {
    std::unique_lock lock(mutex_);
    io = std::move(io_);
  }
  io.reset();
}

Result<uint64_t> FileSegments::Register(const FileSegmentSpec& spec) {
  {
    std::shared_lock lock(mutex_);
    for (const auto& [base, segment] : by_base_) {
      if (segment->name() == spec.name) {
        return Status(StatusCode::kSegmentAlreadyExists,
                      fmt::format("file segment '{}' is already registered (path '{}')", spec.name,
                                  segment->path()));
      }
    }
  }
  MC_ASSIGN_OR_RETURN(std::shared_ptr<FileSegment> segment, FileSegment::Open(spec));
  if (segment->size() > kMaxFileSegmentSize) {
    return InvalidParams(fmt::format("file segment '{}': size {} exceeds the limit of {} bytes",
                                     spec.name, segment->size(), kMaxFileSegmentSize));
  }
  std::unique_lock lock(mutex_);
  for (const auto& [base, existing] : by_base_) {  // raced with another Register
    if (existing->name() == spec.name) {
      return Status(StatusCode::kSegmentAlreadyExists,
                    fmt::format("file segment '{}' is already registered", spec.name));
    }
  }
  if (next_slot_ >= (uint64_t{1} << (63 - kFileAddressShift))) {
    return Status(StatusCode::kNoAvailableHandle, "no file segment address ranges left");
  }
  if (!io_) {
    MC_ASSIGN_OR_RETURN(io_, FileIoService::Create(io_options_));
  }
  const uint64_t base = kFileAddressBase | (next_slot_++ << kFileAddressShift);
  by_base_.emplace(base, segment);
  MC_LOG_INFO("file segment '{}' ({}, {} bytes, {}) at 0x{:x}", segment->name(), segment->path(),
              segment->size(), segment->direct() ? "O_DIRECT" : "buffered", base);
  return base;
}

Status FileSegments::Unregister(const std::string& name) {
  std::unique_lock lock(mutex_);
  for (auto it = by_base_.begin(); it != by_base_.end(); ++it) {
    if (it->second->name() == name) {
      by_base_.erase(it);
      return Status::Ok();
    }
  }
  return Status(StatusCode::kSegmentNotFound, fmt::format("no file segment named '{}'", name));
}

std::shared_ptr<FileSegment> FileSegments::Find(uint64_t address, uint64_t length,
                                                uint64_t* offset) const {
  auto it = FindContaining(by_base_, address, length, [](const auto& entry) {
    return AddressRange{entry.first, entry.second->size()};
  });
  if (it == by_base_.end()) return nullptr;
  *offset = address - it->first;
  return it->second;
}

bool FileSegments::Contains(uint64_t address, uint64_t length) const {
  std::shared_lock lock(mutex_);
  uint64_t offset = 0;
  return Find(address, length, &offset) != nullptr;
}

std::vector<BufferDescriptor> FileSegments::Snapshot() const {
  std::shared_lock lock(mutex_);
  std::vector<BufferDescriptor> out;
  out.reserve(by_base_.size());
  for (const auto& [base, segment] : by_base_) {
    BufferDescriptor d;
    d.address = base;
    d.length = segment->size();
    d.location = std::string(kFileLocationPrefix) + segment->name();
    out.push_back(std::move(d));
  }
  return out;
}

void FileSegments::Submit(TransferOpcode opcode, uint64_t address, char* buffer, uint64_t length,
                          std::function<void(const Status&)> done) {
  FileOp op;
  FileIoService* io = nullptr;
  {
    std::shared_lock lock(mutex_);
    op.segment = Find(address, length, &op.offset);
    io = io_.get();
  }
  if (!op.segment || io == nullptr) {
    done(InvalidParams(
        fmt::format("range 0x{:x}+{} is not inside a registered file segment", address, length)));
    return;
  }
  op.opcode = opcode;
  op.buffer = buffer;
  op.length = length;
  op.done = std::move(done);
  io->Submit(std::move(op));
}

FileIoStats FileSegments::stats() const {
  std::shared_lock lock(mutex_);
  return io_ ? io_->stats() : FileIoStats{};
}

bool FileSegments::uses_io_uring() const {
  std::shared_lock lock(mutex_);
  return io_ && io_->uses_io_uring();
}

}  // namespace mooncake::transfer::file
