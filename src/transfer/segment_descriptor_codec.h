#pragma once

// JSON form of a SegmentDescriptor, as exchanged in handshakes and stored in metadata
// servers. Unknown fields are ignored so that newer peers can add some.

#include <string>

#include "mooncake/common/status.h"
#include "mooncake/transfer/transfer_types.h"

namespace mooncake::transfer {

std::string EncodeSegmentDescriptor(const SegmentDescriptor& descriptor);
// Fails with kInvalidParams naming the missing or mistyped field.
Result<SegmentDescriptor> DecodeSegmentDescriptor(const std::string& json);

}  // namespace mooncake::transfer
