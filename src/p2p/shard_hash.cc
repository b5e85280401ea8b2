#include "p2p/shard_hash.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <xxhash.h>

#include <memory>

namespace mooncake::p2p {
namespace {

std::string Hex(const unsigned char* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return out;
}

Result<std::string> Xxh3(const std::vector<Extent>& extents) {
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(XXH3_createState(),
                                                                 &XXH3_freeState);
  if (!state || XXH3_128bits_reset(state.get()) != XXH_OK) {
    return InternalError("xxh3-128: cannot create a hash state");
  }
  for (const Extent& e : extents) {
    if (XXH3_128bits_update(state.get(), reinterpret_cast<const void*>(e.address), e.length) !=
        XXH_OK) {
      return InternalError("xxh3-128: update failed");
    }
  }
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state.get()));
  return Hex(canonical.digest, sizeof(canonical.digest));
}

Result<std::string> Sha256(const std::vector<Extent>& extents) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return InternalError("sha256: cannot create a digest context (OpenSSL)");
  }
  for (const Extent& e : extents) {
    if (EVP_DigestUpdate(ctx.get(), reinterpret_cast<const void*>(e.address), e.length) != 1) {
      return InternalError("sha256: update failed (OpenSSL)");
    }
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &n) != 1) {
    return InternalError("sha256: final failed (OpenSSL)");
  }
  return Hex(digest, n);
}

}  // namespace

std::string_view HashAlgorithmName(P2PHashAlgorithm algorithm) {
  return algorithm == P2PHashAlgorithm::kSha256 ? "sha256" : "xxh3-128";
}

Result<P2PHashAlgorithm> ParseHashAlgorithm(std::string_view name) {
  if (name == "xxh3-128") return P2PHashAlgorithm::kXxh3_128;
  if (name == "sha256") return P2PHashAlgorithm::kSha256;
  return InvalidParams(
      fmt::format("unknown hash algorithm '{}' (expected xxh3-128 or sha256)", name));
}

Result<std::string> HashExtents(P2PHashAlgorithm algorithm, const std::vector<Extent>& extents) {
  return algorithm == P2PHashAlgorithm::kSha256 ? Sha256(extents) : Xxh3(extents);
}

}  // namespace mooncake::p2p
