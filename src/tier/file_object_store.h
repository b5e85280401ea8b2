#pragma once

// file:///dir[/prefix]: objects as files <dir>/<prefix>/<object name>. Each file starts with
// a 32-byte header — magic "MCOBJ1\0\0", size (u64), CRC32C (u32), key length (u32), 8 zero
// bytes, little-endian — then the key, then the bytes. A put writes a temp file, fsyncs it
// and renames it over the name, so readers see the old object or the new one, never a mix.

#include <string>

#include "tier/object_store.h"

namespace mooncake::tier {

class FileObjectStore final : public ObjectStore {
 public:
  static Result<std::unique_ptr<ObjectStore>> Create(ObjectStoreOptions options);

  const std::string& url() const override { return options_.url; }
  Status Put(const std::string& key, std::span<const char> data) override;
  Result<ObjectInfo> Head(const std::string& key) override;
  Status Get(const std::string& key, uint64_t offset, std::span<char> out) override;
  Status Delete(const std::string& key) override;
  Result<std::vector<ObjectInfo>> List(const std::string& key_prefix) override;

 private:
  FileObjectStore(ObjectStoreOptions options, std::string dir)
      : options_(std::move(options)), dir_(std::move(dir)) {}
  std::string PathOf(const std::string& key) const;

  const ObjectStoreOptions options_;
  const std::string dir_;  // where the object files live
};

}  // namespace mooncake::tier
