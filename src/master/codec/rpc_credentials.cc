#include "master/codec/rpc_credentials.h"

#include <array>
#include <charconv>
#include <cstdint>
#include <cstdlib>

namespace mooncake::master {
namespace {

constexpr std::string_view kVersion = "v1";
// Random bytes per call: 128 bits keep two credentials from ever sharing a MAC input.
constexpr size_t kNonceBytes = 16;
// Longer values are refused before any parsing (a well-formed one has about 120 bytes).
constexpr size_t kMaxCredentialBytes = 256;

int64_t UnixMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Status Refused(std::string why) { return Unauthenticated("master RPC credential " + why); }

}  // namespace

std::string MakeRpcCredential(const auth::ClusterSecret& secret, std::string_view method,
                              std::chrono::system_clock::time_point now) {
  // A 32-byte nonce from the shared helper, of which the first kNonceBytes are used.
  const auth::Nonce random = auth::RandomNonce();
  const std::string_view nonce(reinterpret_cast<const char*>(random.data()), kNonceBytes);
  const std::string ms = std::to_string(UnixMs(now));
  const auth::Mac mac = secret.Sign(kAuthLabel, {method, ms, nonce});
  std::string out;
  out.reserve(8 + ms.size() + 2 * (kNonceBytes + mac.size()));
  out.append(kVersion).append(".").append(ms).append(".");
  out.append(auth::ToHex(nonce)).append(".").append(auth::ToHex(auth::AsBytes(mac)));
  return out;
}

Status CheckRpcCredential(const auth::ClusterSecret& secret, std::string_view method,
                          std::string_view credential, std::chrono::system_clock::time_point now) {
  if (credential.size() > kMaxCredentialBytes) return Refused("is malformed (too long)");
  std::array<std::string_view, 4> fields;
  size_t count = 0;
  for (size_t start = 0;;) {
    const size_t dot = credential.find('.', start);
    if (count == fields.size()) return Refused("is malformed (too many fields)");
    fields[count++] = credential.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (count != fields.size()) return Refused("is malformed (expected v1.<ms>.<nonce>.<mac>)");
  if (fields[0] != kVersion) {
    return Refused("has version '" + std::string(fields[0]) + "'; this master speaks " +
                   std::string(kVersion));
  }
  int64_t ms = 0;
  const std::string_view ms_text = fields[1];
  const auto [end, error] = std::from_chars(ms_text.data(), ms_text.data() + ms_text.size(), ms);
  if (ms_text.empty() || error != std::errc() || end != ms_text.data() + ms_text.size() || ms < 0) {
    return Refused("is malformed (bad timestamp)");
  }
  std::array<uint8_t, kNonceBytes> nonce{};
  auth::Mac mac{};
  if (!auth::FromHex(fields[2], nonce.data(), nonce.size()) ||
      !auth::FromHex(fields[3], mac.data(), mac.size())) {
    return Refused("is malformed (bad nonce or MAC)");
  }
  const int64_t skew_ms = UnixMs(now) - ms;
  const int64_t limit_ms = std::chrono::milliseconds(kMaxClockSkew).count();
  if (skew_ms > limit_ms || skew_ms < -limit_ms) {
    return Refused("is stale: its timestamp is " + std::to_string(std::llabs(skew_ms) / 1000) +
                   " s " + (skew_ms > 0 ? "behind" : "ahead of") + " the master's clock (at most " +
                   std::to_string(limit_ms / 1000) +
                   " s either way; are the clocks synchronised?)");
  }
  if (!secret.Verify(mac, kAuthLabel, {method, ms_text, auth::AsBytes(nonce)})) {
    return Refused("does not match the master's cluster secret (a different secret file?)");
  }
  return Status::Ok();
}

std::string RpcSigner::CredentialFor(std::string_view method,
                                     std::chrono::system_clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = issued_.find(std::string(method));
  // A clock that stepped back also gets a fresh credential.
  if (it != issued_.end() && now >= it->second.at && now - it->second.at < kCredentialReuse) {
    return it->second.credential;
  }
  std::string credential = MakeRpcCredential(*secret_, method, now);
  issued_[std::string(method)] = {now, credential};
  return credential;
}

Status RpcVerifier::Check(std::string_view method, std::string_view credential,
                          std::chrono::system_clock::time_point now) {
  std::string key;
  key.reserve(method.size() + 1 + credential.size());
  key.append(method).append("\n").append(credential);
  const auto steady_now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    auto it = passed_.find(key);
    if (it != passed_.end() && steady_now - it->second < kCredentialReuse) return Status::Ok();
  }
  MC_RETURN_IF_ERROR(CheckRpcCredential(*secret_, method, credential, now));
  std::lock_guard lock(mutex_);
  if (passed_.size() >= kMaxRemembered) passed_.clear();
  passed_[std::move(key)] = steady_now;
  return Status::Ok();
}

}  // namespace mooncake::master
