#pragma once

// Target side of the shm transport: serves this engine's registered buffers to same-host
// peers over an abstract Unix socket (protocol in shm_socket.h). It owns
//  - the control table: a sealed memfd of `slots` 64-bit words that peers map read-only;
//    slot s holds the id of the buffer exported in it, or 0. Ids are never reused, so a peer
//    that reads its buffer's id in the slot knows the buffer is still registered;
//  - the exported buffers: id, slot, range, and the memfd (dup'd) when the range is shared
//    memory; private ranges are exported without fd (peers use process_vm_readv/writev);
//  - one server thread: accepts connections, answers HELLO and FETCH, keeps HELLO
//    connections open as watch connections (their hang-up is how peers learn we exited).
//
// Thread safety: Export/Unexport may be called from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mooncake/common/cluster_secret.h"
#include "mooncake/common/status.h"
#include "transfer/peer_auth.h"
#include "transfer/transport/shm/shm_socket.h"

namespace mooncake::transfer::shm {

struct ShmExporterOptions {
  std::string segment_name;  // used in the endpoint name and logs
  uint64_t incarnation = 0;  // HELLOs for another incarnation are refused
  // Number of control-table slots: buffers registered at once beyond it are not exported
  // (peers then use TCP for them). Default 8192 (64 KiB of table).
  uint32_t slots = 8192;
  // Bound on reading a request from / writing a reply to one connection (default 1 s).
  std::chrono::milliseconds io_timeout{1000};
  // The cluster secret (null: none). Set: every connection must prove it (shm_socket.h)
  // before the control table fd, a buffer's memfd or its bounds are handed out.
  std::shared_ptr<const auth::ClusterSecret> auth_secret;
  // Where refused initiators are counted (not owned, outlives the exporter; may be null).
  AuthRefusals* auth_refusals = nullptr;
};

class ShmExporter {
 public:
  static Result<std::unique_ptr<ShmExporter>> Create(ShmExporterOptions options);
  // Stops the server; peers see their watch connections hang up.
  ~ShmExporter();

  // "@mooncake-te/...": published in the segment descriptor as shm_endpoint.
  const std::string& endpoint() const { return endpoint_; }

  // Exports the registered range [address, address + length). `fd` >= 0: the range is
  // [fd_offset, fd_offset + length) of that memfd (dup'd here; the caller keeps its own).
  // When the table is full the range is not exported (logged); peers fall back to TCP.
  void Export(uint64_t address, uint64_t length, int fd, uint64_t fd_offset);
  // Clears the slot of the range exported at exactly `address` (before returning, so that
  // no peer starts a copy into it afterwards) and tells watching peers to drop its mapping.
  void Unexport(uint64_t address);

  // Number of open watch connections (tests).
  size_t watchers() const;

 private:
  struct Entry {
    uint64_t length = 0;
    uint64_t id = 0;
    uint32_t slot = 0;
    std::shared_ptr<UniqueFd> fd;  // null: private memory
    uint64_t fd_offset = 0;
  };

  explicit ShmExporter(ShmExporterOptions options);
  void Serve();
  void HandleConnection(UniqueFd connection);
  // Challenges the initiator that sent `request` and checks its proof; false (the initiator
  // refused, counted and told "authentication failed") when it did not prove the secret.
  bool Authenticate(int connection, const Request& request);
  Reply FetchReply(const Request& request, std::shared_ptr<UniqueFd>* fd);

  const ShmExporterOptions options_;
  std::string endpoint_;
  UniqueFd listen_fd_;
  UniqueFd wake_fd_;  // eventfd: stop
  UniqueFd table_fd_;
  std::atomic<uint64_t>* table_ = nullptr;  // `slots` words, mapped read-write
  std::thread server_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mutex_;  // guards everything below
  uint64_t next_id_ = 1;
  std::vector<uint32_t> free_slots_;
  std::map<uint64_t, Entry> entries_;  // by start address
  std::vector<UniqueFd> watchers_;
  bool warned_full_ = false;
};

}  // namespace mooncake::transfer::shm
