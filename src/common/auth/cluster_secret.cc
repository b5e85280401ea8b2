#include "mooncake/common/cluster_secret.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace mooncake::auth {
namespace {

void AppendLengthPrefixed(std::string& out, std::string_view piece) {
  const uint64_t n = piece.size();
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  out.append(piece);
}

std::string_view TrimLine(std::string_view line) {
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
    line.remove_suffix(1);
  }
  return line;
}

}  // namespace

Result<ClusterSecret> ClusterSecret::FromText(std::string_view text) {
  std::vector<std::string> keys;
  size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const size_t eol = text.find('\n');
    const std::string_view line = TrimLine(text.substr(0, eol));
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line.empty()) continue;
    if (line.size() < kMinSecretBytes) {
      return InvalidParams("cluster secret: the key on line " + std::to_string(line_no) + " has " +
                           std::to_string(line.size()) + " bytes; at least " +
                           std::to_string(kMinSecretBytes) +
                           " are needed (e.g. `openssl rand -hex 32`)");
    }
    keys.emplace_back(line);
  }
  if (keys.empty()) return InvalidParams("cluster secret: no key (the secret is empty)");
  return ClusterSecret(std::move(keys));
}

Mac ClusterSecret::SignWith(const std::string& key, std::string_view label,
                            std::initializer_list<std::string_view> parts) {
  std::string message;
  AppendLengthPrefixed(message, label);
  for (std::string_view part : parts) AppendLengthPrefixed(message, part);
  Mac mac{};
  unsigned int len = 0;
  // HMAC() with a static digest cannot fail for valid lengths; a null return leaves mac zeroed,
  // which no peer's proof matches.
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac.data(), &len);
  return mac;
}

Mac ClusterSecret::Sign(std::string_view label,
                        std::initializer_list<std::string_view> parts) const {
  return SignWith(keys_.front(), label, parts);
}

bool ClusterSecret::Verify(const Mac& mac, std::string_view label,
                           std::initializer_list<std::string_view> parts) const {
  bool match = false;
  // Every key is tried even after a match so that timing does not tell which key matched.
  for (const std::string& key : keys_) {
    const Mac expected = SignWith(key, label, parts);
    match |= CRYPTO_memcmp(expected.data(), mac.data(), mac.size()) == 0;
  }
  return match;
}

std::string ClusterSecret::KeyId() const {
  const Mac id = SignWith(keys_.front(), "mooncake-key-id", {});
  return ToHex(std::string_view(reinterpret_cast<const char*>(id.data()), 4));
}

Result<ClusterSecret> LoadSecretFile(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    return InvalidParams("cluster secret file " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) {
    return InvalidParams("cluster secret file " + path + ": not a regular file");
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%03o", st.st_mode & 0777);
    return InvalidParams("cluster secret file " + path + " has mode " + mode +
                         ": group or others may access it; run `chmod 600 " + path + "`");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidParams("cluster secret file " + path + ": cannot open it");
  std::ostringstream text;
  text << in.rdbuf();
  Result<ClusterSecret> secret = ClusterSecret::FromText(text.str());
  if (!secret.ok()) return secret.status().WithContext(path);
  return secret;
}

Result<std::shared_ptr<const ClusterSecret>> LoadConfiguredSecret(const std::string& flag_path) {
  std::string path = flag_path;
  if (path.empty()) {
    const char* env = std::getenv(kSecretFileEnv);
    if (env != nullptr) path = env;
  }
  if (path.empty()) return std::shared_ptr<const ClusterSecret>();
  MC_ASSIGN_OR_RETURN(ClusterSecret secret, LoadSecretFile(path));
  return std::make_shared<const ClusterSecret>(std::move(secret));
}

Nonce RandomNonce() {
  Nonce nonce{};
  if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
    // Without randomness no challenge is safe; this happens only on a broken system.
    std::fprintf(stderr, "fatal: OpenSSL RAND_bytes failed; cannot make an auth nonce\n");
    std::abort();
  }
  return nonce;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    hex.push_back(kDigits[c >> 4]);
    hex.push_back(kDigits[c & 15]);
  }
  return hex;
}

bool FromHex(std::string_view hex, uint8_t* out, size_t out_len) {
  if (hex.size() != out_len * 2) return false;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < out_len; ++i) {
    const int hi = digit(hex[2 * i]), lo = digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

}  // namespace mooncake::auth
