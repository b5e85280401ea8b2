#pragma once

// The client's read entry points behind one call, so that a read test runs against each of
// them: a Get (plain bytes through staging), a GetInto (zero-copy into registered memory) and
// GetIntoRanges (the object as two ranges). Header-only, for client_*_test.cc.

#include <string>
#include <vector>

#include "client/client_impl.h"

namespace mooncake::store {

enum class ReadEntry { kGet, kGetInto, kGetIntoRanges };

inline const char* ReadEntryName(ReadEntry entry) {
  switch (entry) {
    case ReadEntry::kGet:
      return "Get";
    case ReadEntry::kGetInto:
      return "GetInto";
    case ReadEntry::kGetIntoRanges:
      return "GetIntoRanges";
  }
  return "?";
}

// Reads `key` (of `size` bytes; a GetInto buffer holds exactly that) through `entry`.
inline Result<std::vector<uint8_t>> ReadVia(ClientImpl& client, ReadEntry entry,
                                            const std::string& key, size_t size) {
  if (entry == ReadEntry::kGet) return client.Get(key);
  std::vector<uint8_t> buffer(size);
  MC_RETURN_IF_ERROR(client.RegisterBuffer(buffer.data(), buffer.size()));
  Status read = Status::Ok();
  if (entry == ReadEntry::kGetInto) {
    Result<uint64_t> got = client.GetInto(key, buffer.data(), buffer.size());
    read = got.status();
    if (got.ok()) buffer.resize(*got);
  } else {
    const uint64_t half = size / 2;
    for (const Status& status : client.GetIntoRanges(
             {{key, 0, buffer.data(), half}, {key, half, buffer.data() + half, size - half}})) {
      if (read.ok()) read = status;
    }
  }
  MC_RETURN_IF_ERROR(client.UnregisterBuffer(buffer.data()));
  MC_RETURN_IF_ERROR(read);
  return buffer;
}

}  // namespace mooncake::store
