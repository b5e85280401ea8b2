#include "client/staging_buffer.h"

#include <utility>

namespace mooncake::store {

StagingBuffer::Piece& StagingBuffer::Piece::operator=(Piece&& other) noexcept {
  if (this != &other) {
    Release();
    owner_ = std::exchange(other.owner_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
    offset_ = other.offset_;
  }
  return *this;
}

void StagingBuffer::Piece::Release() {
  if (owner_ != nullptr) owner_->Free(offset_);
  owner_ = nullptr;
  data_ = nullptr;
}

Result<std::unique_ptr<StagingBuffer>> StagingBuffer::Create(transfer::TransferEngine& engine,
                                                             uint64_t size) {
  MC_ASSIGN_OR_RETURN(OffsetAllocator allocator, OffsetAllocator::Create(size));
  MC_ASSIGN_OR_RETURN(void* base, engine.AllocateBuffer(size));
  return std::unique_ptr<StagingBuffer>(
      new StagingBuffer(engine, static_cast<uint8_t*>(base), size, std::move(allocator)));
}

StagingBuffer::StagingBuffer(transfer::TransferEngine& engine, uint8_t* base, uint64_t size,
                             OffsetAllocator allocator)
    : engine_(engine), base_(base), size_(size), allocator_(std::move(allocator)) {}

StagingBuffer::~StagingBuffer() { engine_.FreeBuffer(base_).IgnoreError(); }

Result<StagingBuffer::Piece> StagingBuffer::Acquire(uint64_t length,
                                                    std::chrono::milliseconds timeout) {
  if (length == 0 || length > size_) {
    return Status(StatusCode::kInvalidParams, "staging piece of " + std::to_string(length) +
                                                  " bytes (buffer holds " + std::to_string(size_) +
                                                  ")");
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mutex_);
  while (true) {
    auto offset = allocator_.Allocate(length);
    if (offset.ok()) {
      Piece piece;
      piece.owner_ = this;
      piece.data_ = base_ + *offset;
      piece.offset_ = *offset;
      return piece;
    }
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return Status(StatusCode::kNoAvailableHandle,
                    "client staging buffer busy: no " + std::to_string(length) +
                        " free bytes within " + std::to_string(timeout.count()) +
                        " ms (raise local_buffer_size or use registered buffers)");
    }
  }
}

void StagingBuffer::Free(uint64_t offset) {
  {
    std::lock_guard lock(mutex_);
    allocator_.Free(offset).IgnoreError();
  }
  freed_.notify_all();
}

}  // namespace mooncake::store
