#pragma once

// Where a whole-object read entry point puts the objects the object tier serves it, so that one
// read-through and one fall-through (client_object_tier.cc) serve both: BatchGet's values,
// allocated as objects arrive (ValueSlots), and BatchGetInto's registered buffers of the
// caller's capacities (BufferSlots). Index i is the key's index in the caller's request.

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "mooncake/common/status.h"

namespace mooncake::store {

class ObjectSlots {
 public:
  virtual ~ObjectSlots() = default;

  // The outcome of object i's read so far (OK: already served).
  virtual Status status(size_t i) const = 0;
  // Room for object i (`key`) of `size` bytes; kBufferOverflow when the caller's buffer is
  // smaller. Valid until the slots go.
  virtual Result<uint8_t*> Reserve(size_t i, const std::string& key, uint64_t size) = 0;
  // Object i now holds `size` bytes in its room: its read succeeded.
  virtual void Fill(size_t i, uint64_t size) = 0;
  virtual void Fail(size_t i, Status status) = 0;
  // Whether the rooms are registered memory, which a put can write from directly.
  virtual bool registered() const = 0;
};

// BatchGet's results: each object read into a value of its own.
class ValueSlots final : public ObjectSlots {
 public:
  explicit ValueSlots(std::vector<Result<std::vector<uint8_t>>>& results) : results_(results) {}

  Status status(size_t i) const override { return results_[i].status(); }
  Result<uint8_t*> Reserve(size_t i, const std::string&, uint64_t size) override {
    values_.resize(results_.size());
    values_[i].resize(size);
    return values_[i].data();
  }
  void Fill(size_t i, uint64_t) override { results_[i] = std::move(values_[i]); }
  void Fail(size_t i, Status status) override { results_[i] = std::move(status); }
  bool registered() const override { return false; }

 private:
  std::vector<Result<std::vector<uint8_t>>>& results_;
  std::vector<std::vector<uint8_t>> values_;  // the rooms reserved, by index
};

// BatchGetInto's results: each object read into the caller's registered buffer.
class BufferSlots final : public ObjectSlots {
 public:
  BufferSlots(const std::vector<void*>& addresses, const std::vector<size_t>& capacities,
              std::vector<Result<uint64_t>>& results)
      : addresses_(addresses), capacities_(capacities), results_(results) {}

  Status status(size_t i) const override { return results_[i].status(); }
  Result<uint8_t*> Reserve(size_t i, const std::string& key, uint64_t size) override {
    if (size > capacities_[i]) {
      return Status(
          StatusCode::kBufferOverflow,
          fmt::format("'{}' is {} bytes, the buffer holds {}", key, size, capacities_[i]));
    }
    return static_cast<uint8_t*>(addresses_[i]);
  }
  void Fill(size_t i, uint64_t size) override { results_[i] = size; }
  void Fail(size_t i, Status status) override { results_[i] = std::move(status); }
  bool registered() const override { return true; }

 private:
  const std::vector<void*>& addresses_;
  const std::vector<size_t>& capacities_;
  std::vector<Result<uint64_t>>& results_;
};

}  // namespace mooncake::store
