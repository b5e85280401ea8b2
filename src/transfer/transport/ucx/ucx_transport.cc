// The ucx transport: construction, the calls other threads make (handed to the progress
// thread as commands: ucx_progress.cc takes them, ucx_operations.cc carries them out), and the
// notifier that reports failed slices after the engine re-read the segment's descriptor.

#include "transfer/transport/ucx/ucx_transport.h"

#include <fmt/format.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/logging.h"
#include "transfer/transport/ucx/ucx_hex.h"
#include "transfer/transport/ucx/ucx_resources.h"
#include "transfer/transport/ucx/ucx_transport_impl.h"

namespace mooncake::transfer::ucx {
namespace {

using std::chrono::milliseconds;
using tcp::UniqueFd;

// Bound on waiting for the progress thread to map or unmap memory: pinning a large buffer for
// an RDMA NIC takes a while, and giving up early would leave the engine and UCX disagreeing.
constexpr milliseconds kMemoryCommandTimeout{60000};

// What ucp_context_print_info writes.
std::string ContextInfo(ucp_context_h context) {
  char* text = nullptr;
  size_t size = 0;
  FILE* stream = open_memstream(&text, &size);
  if (stream == nullptr) return "";
  ucp_context_print_info(context, stream);
  std::fclose(stream);
  std::string info(text, size);
  std::free(text);
  return info;
}

// "self/memory0, tcp/lo, cma/memory" from ContextInfo.
std::string ResourceList(const std::string& info) {
  std::string out;
  size_t at = 0;
  while ((at = info.find("-- ", at)) != std::string::npos) {
    at += 3;
    const size_t end = info.find('\n', at);
    if (!out.empty()) out += ", ";
    out += info.substr(at, end == std::string::npos ? std::string::npos : end - at);
  }
  return out;
}

}  // namespace

bool UcxTransport::Compiled() { return true; }

Result<std::unique_ptr<UcxTransport>> UcxTransport::Create(UcxTransportOptions options) {
  auto transport = std::make_unique<UcxTransportImpl>(std::move(options));
  MC_RETURN_IF_ERROR(transport->Init());
  return std::unique_ptr<UcxTransport>(std::move(transport));
}

Status UcxTransportImpl::Init() {
  ucp_config_t* config = nullptr;
  ucs_status_t status = ucp_config_read(nullptr, nullptr, &config);
  if (status != UCS_OK) {
    return InternalError(fmt::format("ucp_config_read: {}", ucs_status_string(status)));
  }
  const std::string name = "mooncake-te " + options_.local_name;
  ucp_params_t params{};
  params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_NAME;
  params.features = UCP_FEATURE_RMA | UCP_FEATURE_WAKEUP;
  params.name = name.c_str();
  status = ucp_init(&params, config, &context_);
  ucp_config_release(config);
  if (status != UCS_OK) {
    context_ = nullptr;
    return InternalError(fmt::format("ucp_init: {}", ucs_status_string(status)));
  }
  const std::string info = ContextInfo(context_);
  offers_rdma_ = ListsRdmaTransport(info);
  resources_ = ResourceList(info);

  wake_fd_ = UniqueFd(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_.valid()) return InternalError(fmt::format("eventfd: {}", std::strerror(errno)));
  auto started = std::make_shared<std::promise<Status>>();
  auto started_future = started->get_future();
  progress_thread_ = std::thread([this, started] { Run(started.get()); });
  MC_RETURN_IF_ERROR(started_future.get());
  notifier_thread_ = std::thread([this] { Notify(); });
  return Status::Ok();
}

UcxTransportImpl::~UcxTransportImpl() {
  {
    std::lock_guard lock(queue_mutex_);
    stopping_ = true;
  }
  stop_.store(true);
  if (wake_fd_.valid()) {
    uint64_t one = 1;
    (void)!write(wake_fd_.get(), &one, sizeof(one));
  }
  // The progress thread fails what is in flight, closes endpoints, destroys the worker and
  // unmaps the regions.
  if (progress_thread_.joinable()) progress_thread_.join();
  {
    std::lock_guard lock(notify_mutex_);
    notifier_stop_ = true;
  }
  notify_cv_.notify_all();
  if (notifier_thread_.joinable()) notifier_thread_.join();
  if (context_ != nullptr) ucp_cleanup(context_);
}

// ---------------------------------------------------------------------------------------------
// Any thread.

bool UcxTransportImpl::Post(std::function<void()> command) {
  {
    std::lock_guard lock(queue_mutex_);
    if (stopping_) return false;
    queue_.push_back(std::move(command));
  }
  Wake();
  return true;
}

void UcxTransportImpl::Wake() {
  if (sleeping_.exchange(false)) {
    uint64_t one = 1;
    (void)!write(wake_fd_.get(), &one, sizeof(one));
  }
}

Status UcxTransportImpl::Call(std::function<Status()> command, const char* what,
                              milliseconds limit) {
  auto done = std::make_shared<std::promise<Status>>();
  auto future = done->get_future();
  if (!Post([done, command = std::move(command)] { done->set_value(command()); })) {
    return InternalError(fmt::format("cannot {}: the UCX transport is shutting down", what));
  }
  if (future.wait_for(limit) != std::future_status::ready) {
    return Status(StatusCode::kRpcTimeout,
                  fmt::format("UCX progress thread did not {} within {} ms", what, limit.count()));
  }
  return future.get();
}

Status UcxTransportImpl::RegisterMemory(uint64_t address, uint64_t length) {
  return Call(
      [this, address, length]() -> Status {
        MC_ASSIGN_OR_RETURN(std::shared_ptr<UcxRegion> region,
                            UcxRegion::Map(context_, address, length));
        std::lock_guard lock(regions_mutex_);
        regions_[address] = std::move(region);
        return Status::Ok();
      },
      "map memory", kMemoryCommandTimeout);
}

void UcxTransportImpl::UnregisterMemory(uint64_t address) {
  Status s = Call(
      [this, address] {
        std::shared_ptr<UcxRegion> region;
        {
          std::lock_guard lock(regions_mutex_);
          auto it = regions_.find(address);
          if (it == regions_.end()) return Status::Ok();
          region = std::move(it->second);
          regions_.erase(it);
        }
        return Status::Ok();  // unmapped here, or by the last op using it
      },
      "unmap memory", kMemoryCommandTimeout);
  if (!s.ok()) MC_LOG_WARN("ucx: unregistering 0x{:x}: {}", address, s.ToString());
}

std::string UcxTransportImpl::RkeyOf(uint64_t address) const {
  std::lock_guard lock(regions_mutex_);
  auto it = regions_.find(address);
  return it == regions_.end() ? std::string() : it->second->rkey();
}

Status UcxTransportImpl::Connect(const SegmentDescriptor& target) {
  if (target.ucx_address.empty()) {
    return NotSupported(fmt::format("segment {} serves no UCX", target.name));
  }
  auto done = std::make_shared<std::promise<Status>>();
  auto future = done->get_future();
  if (!Post([this, target, done] { DoConnect(target, done); })) {
    return InternalError("cannot connect: the UCX transport is shutting down");
  }
  // Opening the endpoint is local; the probe (a flush) waits for the peer, bounded by the
  // transfer timeout like any request, plus the command bound for the queue.
  if (future.wait_for(options_.command_timeout + options_.transfer_timeout) !=
      std::future_status::ready) {
    return Status(StatusCode::kRpcTimeout,
                  fmt::format("UCX endpoint to segment {} did not answer within {} ms", target.name,
                              (options_.command_timeout + options_.transfer_timeout).count()));
  }
  return future.get();
}

Status UcxTransportImpl::Submit(const SegmentDescriptor& target, std::vector<Slice>& slices) {
  if (slices.empty()) return Status::Ok();
  auto descriptor = std::make_shared<const SegmentDescriptor>(target);
  auto taken = std::make_shared<std::vector<Slice>>(std::move(slices));
  slices.clear();
  if (!Post([this, descriptor, taken] { DoSubmit(*descriptor, *taken); })) {
    const Status why =
        TransferFail(fmt::format("segment {}: the transfer engine is shutting down", target.name));
    failed_slices_.fetch_add(taken->size(), std::memory_order_relaxed);
    for (Slice& s : *taken) s.task->SliceFailed(why);
  }
  return Status::Ok();
}

void UcxTransportImpl::Disconnect(const std::string& segment_name) {
  Post([this, segment_name] {
    auto it = peers_.find(segment_name);
    if (it == peers_.end()) return;
    Retire(
        it->second,
        TransferFail(fmt::format("segment {} was closed with transfers in flight", segment_name)),
        Report::kNow, Ending::kGraceful);
  });
}

UcxStats UcxTransportImpl::stats() const {
  UcxStats s;
  s.put_bytes = put_bytes_.load();
  s.get_bytes = get_bytes_.load();
  s.failed_slices = failed_slices_.load();
  s.endpoints_opened = endpoints_opened_.load();
  s.endpoints_failed = endpoints_failed_.load();
  std::lock_guard lock(regions_mutex_);
  s.registered_regions = regions_.size();
  return s;
}

// ---------------------------------------------------------------------------------------------
// Notifier thread.

void UcxTransportImpl::Notify() {
  std::unique_lock lock(notify_mutex_);
  while (true) {
    notify_cv_.wait(lock, [this] { return notifier_stop_ || !failures_.empty(); });
    if (failures_.empty()) return;  // stopping, nothing left
    std::vector<FailureJob> jobs;
    jobs.swap(failures_);
    const bool stopping = notifier_stop_;
    lock.unlock();
    std::unordered_set<std::string> refreshed;
    for (FailureJob& job : jobs) {
      // Once per segment per round: the engine re-reads the descriptor, so a caller that
      // retries after seeing FAILED reaches a restarted peer.
      if (!stopping && refreshed.insert(job.segment).second) options_.on_peer_failed(job.segment);
      for (Slice& slice : job.slices) slice.task->SliceFailed(job.why);
    }
    lock.lock();
  }
}

}  // namespace mooncake::transfer::ucx
