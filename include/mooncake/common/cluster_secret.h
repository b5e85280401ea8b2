#pragma once

// The cluster secret: one shared key that every member of a cluster (master, nodes, clients,
// CLI, Python, P2P, bench tools) holds and strangers do not. Members prove they hold it with
// HMAC-SHA256 over fresh values (Transfer Engine HELLO, master RPC credentials); the secret
// itself never travels.
//
// Rotation without downtime: a secret file may hold several lines. The first line is the key
// this process signs with; every line is accepted when checking a peer's proof. Roll out
// "old\nnew" everywhere, then "new\nold", then "new" (docs/security.md).
//
// Thread-safe after construction (immutable).

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "mooncake/common/status.h"

namespace mooncake::auth {

// The environment variable that names the secret file where no flag does (read by apps and by
// the Python module, never by libraries).
inline constexpr char kSecretFileEnv[] = "MC_AUTH_SECRET_FILE";
// A key shorter than this is refused: it would be guessable offline from one recorded HELLO.
inline constexpr size_t kMinSecretBytes = 16;

using Mac = std::array<uint8_t, 32>;    // HMAC-SHA256 output
using Nonce = std::array<uint8_t, 32>;  // fresh random challenge

class ClusterSecret {
 public:
  // The keys of `text`, one per non-empty line (trailing spaces and CR trimmed). InvalidParams
  // when there is none or one is shorter than kMinSecretBytes.
  static Result<ClusterSecret> FromText(std::string_view text);

  // HMAC-SHA256 under the signing key (the first) over `label` and `parts`, each
  // length-prefixed so that no two different inputs share an encoding. `label` names the
  // protocol step ("te-hello-initiator", ...) so a proof from one step never passes another.
  Mac Sign(std::string_view label, std::initializer_list<std::string_view> parts) const;

  // Whether `mac` is Sign(label, parts) under any accepted key; compares in constant time.
  bool Verify(const Mac& mac, std::string_view label,
              std::initializer_list<std::string_view> parts) const;

  // A short public name of the signing key for logs ("3f9a1c07"): a hash of the key that
  // reveals nothing about it but lets an operator see that two processes disagree.
  std::string KeyId() const;

  size_t key_count() const { return keys_.size(); }

 private:
  explicit ClusterSecret(std::vector<std::string> keys) : keys_(std::move(keys)) {}
  static Mac SignWith(const std::string& key, std::string_view label,
                      std::initializer_list<std::string_view> parts);

  std::vector<std::string> keys_;  // keys_[0] signs
};

// Reads a secret file. Refuses (InvalidParams, naming the path and why) a file that is missing,
// not a regular file, readable or writable by group or others (chmod 600), or holds no valid key.
Result<ClusterSecret> LoadSecretFile(const std::string& path);

// The secret an app should use: the file named by `flag_path` when it is not empty, else the
// file named by $MC_AUTH_SECRET_FILE when set, else none (nullptr: the cluster is open).
Result<std::shared_ptr<const ClusterSecret>> LoadConfiguredSecret(const std::string& flag_path);

// 32 bytes from the OS's CSPRNG (OpenSSL RAND_bytes).
Nonce RandomNonce();

// Constant-time equality of two equal-length byte strings (false when lengths differ).
bool ConstantTimeEqual(std::string_view a, std::string_view b);

// Views a fixed-size byte array as a string_view (for Sign's parts).
template <size_t N>
std::string_view AsBytes(const std::array<uint8_t, N>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), N};
}

// Lower-case hex of `bytes`, and its inverse (false on a malformed or wrong-length input).
std::string ToHex(std::string_view bytes);
bool FromHex(std::string_view hex, uint8_t* out, size_t out_len);

}  // namespace mooncake::auth
