#include "transfer/peer_auth.h"

#include <string>

#include "common/logging.h"

namespace mooncake::transfer {
namespace {

std::string_view LabelOf(AuthStep step) {
  switch (step) {
    case AuthStep::kTcpTarget:
      return "mooncake-te-tcp-hello-target";
    case AuthStep::kTcpInitiator:
      return "mooncake-te-tcp-hello-initiator";
    case AuthStep::kShmTarget:
      return "mooncake-te-shm-hello-target";
    case AuthStep::kShmInitiator:
      return "mooncake-te-shm-hello-initiator";
  }
  return "mooncake-te-unknown-step";
}

// What a stranger sent, fit for one log line: control bytes masked, length capped.
std::string Printable(std::string_view text) {
  constexpr size_t kMax = 200;
  std::string out;
  for (char c : text.substr(0, kMax)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u >= 0x7f ? '?' : c);
  }
  if (text.size() > kMax) out += "...";
  return out;
}

}  // namespace

auth::Mac ProvePeer(const auth::ClusterSecret& secret, AuthStep step, const auth::Nonce& peer_nonce,
                    const auth::Nonce& own_nonce, std::string_view initiator,
                    std::string_view target) {
  return secret.Sign(LabelOf(step),
                     {auth::AsBytes(peer_nonce), auth::AsBytes(own_nonce), initiator, target});
}

bool CheckPeerProof(const auth::ClusterSecret& secret, AuthStep step, const auth::Mac& proof,
                    const auth::Nonce& own_nonce, const auth::Nonce& peer_nonce,
                    std::string_view initiator, std::string_view target) {
  // The prover received our nonce and sent its own: the same order it signed in.
  return secret.Verify(proof, LabelOf(step),
                       {auth::AsBytes(own_nonce), auth::AsBytes(peer_nonce), initiator, target});
}

void AuthRefusals::Refused(std::string_view transport, std::string_view peer,
                           std::string_view why) {
  const uint64_t total = count_.fetch_add(1, std::memory_order_relaxed) + 1;
  const auto now = std::chrono::steady_clock::now();
  uint64_t skipped;
  {
    std::lock_guard lock(mutex_);
    if (last_logged_ != std::chrono::steady_clock::time_point{} && now - last_logged_ < interval_) {
      ++unlogged_;
      return;
    }
    last_logged_ = now;
    skipped = unlogged_;
    unlogged_ = 0;
  }
  MC_LOG_WARN("refused {} peer {}: {} ({} refusals so far{})", transport, Printable(peer),
              Printable(why), total,
              skipped == 0 ? std::string()
                           : ", " + std::to_string(skipped) + " not logged since the last line");
}

}  // namespace mooncake::transfer
