#pragma once

// Registered memory through which the client moves plain (unregistered) byte buffers: a Put
// copies the caller's bytes in and writes them out with the Transfer Engine; a Get reads into
// it and copies out. Space is handed out in pieces so concurrent calls share it; a caller
// that finds it full waits (bounded) for others to finish.
//
// Thread safety: Acquire may be called from any thread; a Piece is released by its owner.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "common/offset_allocator.h"
#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_engine.h"

namespace mooncake::store {

class StagingBuffer {
 public:
  // A piece of the buffer; returned to it on destruction.
  class Piece {
   public:
    Piece() = default;
    Piece(Piece&& other) noexcept { *this = std::move(other); }
    Piece& operator=(Piece&& other) noexcept;
    ~Piece() { Release(); }

    uint8_t* data() const { return data_; }

   private:
    friend class StagingBuffer;
    void Release();

    StagingBuffer* owner_ = nullptr;
    uint8_t* data_ = nullptr;
    uint64_t offset_ = 0;
  };

  // Allocates `size` bytes of registered memory from `engine` (which must outlive this).
  static Result<std::unique_ptr<StagingBuffer>> Create(transfer::TransferEngine& engine,
                                                       uint64_t size);
  ~StagingBuffer();

  uint64_t size() const { return size_; }

  // A piece of `length` bytes (<= size()), waiting up to `timeout` for space. kInvalidParams
  // for a length of 0 or above size(); kNoAvailableHandle when no space freed up in time.
  Result<Piece> Acquire(uint64_t length, std::chrono::milliseconds timeout);

 private:
  StagingBuffer(transfer::TransferEngine& engine, uint8_t* base, uint64_t size,
                OffsetAllocator allocator);
  void Free(uint64_t offset);

  transfer::TransferEngine& engine_;
  uint8_t* const base_;
  const uint64_t size_;
  std::mutex mutex_;
  std::condition_variable freed_;
  OffsetAllocator allocator_;
};

}  // namespace mooncake::store
