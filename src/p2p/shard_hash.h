#pragma once

// Content hashes of shards: xxh3-128 (libxxhash; fast, catches corruption and bugs) by default,
// SHA-256 (OpenSSL; for peers that are not trusted) as an option. Hashes travel as lower-case
// hex in the object record, the algorithm by name.

#include <string>
#include <string_view>
#include <vector>

#include "mooncake/common/status.h"
#include "mooncake/p2p/p2p_store.h"
#include "p2p/object_layout.h"

namespace mooncake::p2p {

// "xxh3-128" or "sha256".
std::string_view HashAlgorithmName(P2PHashAlgorithm algorithm);
// Inverse of HashAlgorithmName; kInvalidParams naming `name` otherwise.
Result<P2PHashAlgorithm> ParseHashAlgorithm(std::string_view name);

// Hash of the concatenation of `extents` (memory of this process), as lower-case hex.
Result<std::string> HashExtents(P2PHashAlgorithm algorithm, const std::vector<Extent>& extents);

}  // namespace mooncake::p2p
