#pragma once

// Serves one accepted connection: the peer must open with HELLO (answered with this
// segment's descriptor; with a cluster secret, only after the challenge–response of
// wire_format.h checked out), then sends READ/WRITE requests against the registered buffers and
// file segments. Every request is checked against the MemoryRegistry and the FileSegments; a
// bad one gets an error reply and touches nothing. Malformed frames drop the connection.
// Memory requests are served on the loop thread; file requests go to the file I/O thread and
// their replies are sent from there, in whatever order they finish (replies carry the
// request id).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mooncake/common/cluster_secret.h"
#include "transfer/memory_registry.h"
#include "transfer/peer_auth.h"
#include "transfer/peer_counters.h"
#include "transfer/transport/file/file_segments.h"
#include "transfer/transport/tcp/connection.h"

namespace mooncake::transfer::tcp {

// Who this target is to the peers that connect, and what it asks of them.
struct TargetIdentity {
  std::string name;  // this segment's name, sent in AUTH_CHALLENGE and covered by the proofs
  // The cluster secret (not owned; outlives the session); null: every peer is served.
  const auth::ClusterSecret* secret = nullptr;
  AuthRefusals* refusals = nullptr;  // where refused peers are counted (not owned; may be null)
};

class TargetSession : public Connection {
 public:
  using DescriptorProvider = std::function<std::string()>;
  // `peer_label` names the peer in logs (its address).
  TargetSession(UniqueFd fd, EventLoop* loop, std::string peer_label,
                const MemoryRegistry* registry, file::FileSegments* files,
                PeerCounterTable* peer_counters, DescriptorProvider descriptor,
                std::chrono::milliseconds hello_timeout, uint32_t own_tag, TargetIdentity identity);

 protected:
  Result<PayloadSink> OnHeader(const FrameHeader& header) override;
  void OnFrame(const FrameHeader& header, std::string&& control) override;
  void OnReadBatchDone() override;
  void OnBadStream(const Status& why) override;
  // A peer that hangs up when challenged is counted as refused: most likely it holds another
  // secret and rejected our proof.
  void OnClose(const Status& reason) override;
  // Drops a connection that has not said HELLO within hello_timeout: idle strangers must not
  // pin file descriptors forever.
  void OnTick(std::chrono::steady_clock::time_point now) override;

 private:
  enum class HelloState {
    kAwaitHello,  // nothing but HELLO is accepted
    kAwaitProof,  // challenged: nothing but AUTH_PROOF is accepted
    kReady,       // authenticated (or no secret): requests are served
    kRefused,     // failed to authenticate; the connection is closing
  };

  void OnHello(const FrameHeader& header, std::string&& payload);
  void OnProof(const FrameHeader& header, std::string&& payload);
  // Answers HELLO with the descriptor and starts serving requests.
  void Accept(uint64_t request_id);
  // Counts and logs the refusal, tells the peer no more than "authentication failed" and
  // closes the connection.
  void Refuse(std::string_view why);
  void CountServed(bool read, uint64_t bytes);
  // Sets the current_* flags for a READ/WRITE request.
  void Classify(const FrameHeader& header);
  void Reply(FrameType type, const FrameHeader& request);
  // Hands a file-segment request to the file I/O thread; the reply is sent from there.
  void ServeFile(const FrameHeader& header, std::shared_ptr<char> buffer);

  const MemoryRegistry* registry_;
  file::FileSegments* const files_;        // may be null
  PeerCounterTable* const peer_counters_;  // may be null
  PeerCounters* served_ = nullptr;         // the peer's counters, once it said HELLO
  DescriptorProvider descriptor_;
  const std::chrono::milliseconds hello_timeout_;
  const TargetIdentity identity_;
  HelloState state_ = HelloState::kAwaitHello;
  HelloPayload hello_;   // the peer's HELLO, once received
  auth::Nonce nonce_{};  // our challenge, once sent
  const std::chrono::steady_clock::time_point accepted_at_ = std::chrono::steady_clock::now();
  bool current_valid_ = false;
  bool current_stale_ = false;         // tagged for another incarnation of this segment
  bool current_file_ = false;          // addresses a file segment
  bool current_too_big_ = false;       // a file-segment request above kMaxFileRequest
  std::shared_ptr<char> file_buffer_;  // where the current file WRITE's payload lands
  const uint32_t own_tag_;
  std::vector<OutFrame> replies_;  // flushed once per read batch: one writev for many replies
};

}  // namespace mooncake::transfer::tcp
