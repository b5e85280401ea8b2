#pragma once

// Internal: the UCX implementation of UcxTransport, shared by ucx_transport.cc (construction,
// the API that other threads call, the failure notifier) and the files of everything that runs
// on the progress thread: ucx_progress.cc (the worker, the loop), ucx_operations.cc (endpoints,
// operations) and ucx_peer_retirement.cc (timeouts, failed peers, closing).

#include <ucp/api/ucp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "transfer/transport/tcp/socket_util.h"
#include "transfer/transport/ucx/ucx_peer.h"
#include "transfer/transport/ucx/ucx_region.h"
#include "transfer/transport/ucx/ucx_transport.h"

namespace mooncake::transfer::ucx {

class UcxTransportImpl;

// UCX requests issued together and reported together: a READ slice's get, the WRITE slices of
// one Submit to one peer (their puts and the flush after them), or a Connect's probe (a flush).
// Owned by the transport's in_flight_ list until settled (reported), then by orphans_ until
// UCX is done with every request (the buffers and keys must outlive them).
struct UcxOp {
  enum class Kind : uint8_t { kGet, kPutGroup, kProbe };
  Kind kind = Kind::kGet;
  UcxTransportImpl* owner = nullptr;
  std::shared_ptr<UcxPeer> peer;
  std::vector<Slice> slices;
  std::vector<std::shared_ptr<UcxRegion>> pins;  // local buffers in use
  std::shared_ptr<std::promise<Status>> probe;   // kProbe: told the outcome
  std::unique_ptr<char[]> staging;  // kGet without failure reporting: where the data lands
  uint32_t pending = 0;             // requests UCX has not completed
  ucs_status_t error = UCS_OK;      // the first one that failed
  bool settled = false;
  std::list<std::unique_ptr<UcxOp>>::iterator self;
};

class UcxTransportImpl final : public UcxTransport {
 public:
  explicit UcxTransportImpl(UcxTransportOptions options) : options_(std::move(options)) {}
  ~UcxTransportImpl() override;

  Status Init();

  bool offers_rdma() const override { return offers_rdma_; }
  const std::string& worker_address() const override { return worker_address_; }
  const std::string& resources() const override { return resources_; }
  Status RegisterMemory(uint64_t address, uint64_t length) override;
  void UnregisterMemory(uint64_t address) override;
  std::string RkeyOf(uint64_t address) const override;
  Status Connect(const SegmentDescriptor& target) override;
  Status Submit(const SegmentDescriptor& target, std::vector<Slice>& slices) override;
  void Disconnect(const std::string& segment_name) override;
  UcxStats stats() const override;

  // Request callback (ucp_send_nbx_callback_t), on the progress thread.
  static void OnRequestDone(void* request, ucs_status_t status, void* user_data);
  // Endpoint error handler (UcxPeer::ErrorHandler), on the progress thread.
  static void OnEndpointError(void* context, UcxPeer* peer, ucs_status_t status);

 private:
  // How failed slices are reported: at once, or after on_peer_failed ran (notifier thread).
  enum class Report { kNow, kAfterRefresh };
  // How a retired endpoint is closed. kGraceful: flush, then close telling the peer (a target
  // that serves UCX's software-emulated RMA must not see a connection vanish under requests
  // it is still answering: UCX 1.13 aborts the target process then). kForce: at once, for
  // endpoints that failed or stalled (no late replies may land in buffers we reported on).
  enum class Ending { kGraceful, kForce };
  struct FailureJob {
    std::string segment;
    std::vector<Slice> slices;
    Status why;
  };
  struct Closing {
    std::shared_ptr<UcxPeer> peer;
    void* request;  // null: the current step finished at once
    bool flushing;  // step 1 of a graceful close (then the close itself)
    bool forced;
    std::chrono::steady_clock::time_point deadline;
  };

  // --- any thread
  // Queues `command` for the progress thread; false once it is stopping.
  bool Post(std::function<void()> command);
  // Runs `command` on the progress thread and waits (at most `limit`) for its status.
  Status Call(std::function<Status()> command, const char* what, std::chrono::milliseconds limit);
  void Wake();

  // --- progress thread
  void Run(std::promise<Status>* started);
  Status CreateWorker();
  void Loop();
  bool RunCommands();
  void Sleep(int timeout_ms);
  void Shutdown();
  void DestroyWorker();

  Result<std::shared_ptr<UcxPeer>> PeerFor(const SegmentDescriptor& target);
  void DoSubmit(const SegmentDescriptor& target, std::vector<Slice>& slices);
  void DoConnect(const SegmentDescriptor& target, std::shared_ptr<std::promise<Status>> done);
  UcxOp* NewOp(UcxOp::Kind kind, const std::shared_ptr<UcxPeer>& peer);
  ucp_request_param_t RequestParam(UcxOp* op, const UcxRegion* region) const;
  // Accounts for what a ucp_*_nbx call returned.
  void Track(UcxOp* op, ucs_status_ptr_t request);
  // Drops the issuing guard (pending starts at 1 while requests are being issued).
  void Release(UcxOp* op);
  void OnOpDone(UcxOp* op);
  void MarkFailed(const std::shared_ptr<UcxPeer>& peer, Status why);
  void HandleFailedPeers();
  void CheckTimeouts(std::chrono::steady_clock::time_point now);
  // Settles every op of `peer` as failed, reports its slices, and closes its endpoint.
  // (`peer` by value: callers pass references into peers_, which this erases.)
  void Retire(std::shared_ptr<UcxPeer> peer, const Status& why, Report report, Ending ending);
  void Settle(UcxOp* op, const Status& why, std::vector<Slice>* failed);
  void CloseEndpoint(const std::shared_ptr<UcxPeer>& peer, Ending ending);
  void ForceClose(const std::shared_ptr<UcxPeer>& peer);
  void ProgressClosing(std::chrono::steady_clock::time_point now, bool give_up);
  void Deliver(std::vector<Slice> slices, const Status& why, Report report,
               const std::string& segment);

  // --- notifier thread
  void Notify();

  const UcxTransportOptions options_;
  ucp_context_h context_ = nullptr;
  bool offers_rdma_ = false;
  std::string resources_;
  std::string worker_address_;

  std::mutex queue_mutex_;
  std::vector<std::function<void()>> queue_;
  bool stopping_ = false;  // under queue_mutex_: no more commands
  std::atomic<bool> stop_{false};
  std::atomic<bool> sleeping_{false};
  tcp::UniqueFd wake_fd_;
  std::thread progress_thread_;

  // Progress thread only.
  ucp_worker_h worker_ = nullptr;
  tcp::UniqueFd epoll_fd_;
  std::unordered_map<std::string, std::shared_ptr<UcxPeer>> peers_;
  std::list<std::unique_ptr<UcxOp>> in_flight_;
  std::list<std::unique_ptr<UcxOp>> orphans_;
  std::vector<std::shared_ptr<UcxPeer>> failed_peers_;  // to retire after this progress round
  std::vector<Closing> closing_;
  std::vector<std::shared_ptr<UcxPeer>> abandoned_;  // closed by the worker's destruction
  // Segments whose endpoints UCX could only open without peer-failure reporting.
  std::unordered_set<std::string> without_failure_reporting_;
  std::chrono::steady_clock::time_point next_timeout_scan_{};

  // Regions: written by the progress thread, read (RkeyOf) by any.
  mutable std::mutex regions_mutex_;
  std::map<uint64_t, std::shared_ptr<UcxRegion>> regions_;

  std::mutex notify_mutex_;
  std::condition_variable notify_cv_;
  std::vector<FailureJob> failures_;
  bool notifier_stop_ = false;
  std::thread notifier_thread_;

  std::atomic<uint64_t> put_bytes_{0}, get_bytes_{0}, failed_slices_{0}, endpoints_opened_{0},
      endpoints_failed_{0};
};

}  // namespace mooncake::transfer::ucx
