#pragma once

// A framed, non-blocking TCP connection served by one EventLoop. The base class owns the
// byte stream: it parses headers, lands payloads straight in their destination (registered
// memory for data frames, so large slices are received with no intermediate copy), and
// gathers queued frames into vectored writes. Subclasses give frames their meaning.

#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "mooncake/common/status.h"
#include "transfer/transport/tcp/event_loop.h"
#include "transfer/transport/tcp/socket_util.h"
#include "transfer/transport/tcp/wire_format.h"

namespace mooncake::transfer::tcp {

// One frame waiting to be written. `data` points into registered memory (not owned) unless
// `owned` is used; owned payloads are referenced at write time, so moving the frame is safe.
struct OutFrame {
  EncodedHeader header;
  const char* data = nullptr;
  size_t length = 0;
  std::string owned;
  // Keeps the memory `data` points into alive until the frame is written (file-segment reads
  // send from a buffer the frame owns).
  std::shared_ptr<const void> hold;

  size_t PayloadLength() const { return owned.empty() ? length : owned.size(); }
  const char* Payload() const { return owned.empty() ? data : owned.data(); }
};

OutFrame MakeFrame(const FrameHeader& header, const char* data = nullptr);
OutFrame MakeControlFrame(FrameHeader header, std::string payload);

class Connection : public EventHandler, public std::enable_shared_from_this<Connection> {
 public:
  Connection(UniqueFd fd, EventLoop* loop, std::string peer_label);
  ~Connection() override;

  // Registers with the loop; events flow from then on.
  Status Attach();
  // Queues frames and writes what the socket accepts now. Thread-safe. Frames sent after the
  // connection closed are dropped (their owners learn of the close through OnClose).
  void Send(std::vector<OutFrame>&& frames);
  // Closes from any thread; OnClose runs once, on the loop thread.
  void Close(Status reason);
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  const std::string& peer_label() const { return peer_label_; }
  EventLoop* loop() const { return loop_; }

  int fd() const override { return fd_.get(); }
  void OnEvents(uint32_t events) override;
  void OnLoopStopped() override;

 protected:
  struct PayloadSink {
    enum class Kind { kNone, kMemory, kControl, kDiscard };
    Kind kind = Kind::kNone;
    char* dest = nullptr;  // kMemory only
    // kMemory only, may be null: extended (Crc32cExtend) over the payload as it lands, each
    // received chunk right after its recv (still in cache) or while copied out of staging.
    uint32_t* crc = nullptr;
  };
  // A header arrived: say where its payload goes. An error closes the connection.
  virtual Result<PayloadSink> OnHeader(const FrameHeader& header) = 0;
  // The frame is complete; `control` holds a kControl payload.
  virtual void OnFrame(const FrameHeader& header, std::string&& control) = 0;
  // All frames of one readiness event were handled (a good moment to flush replies).
  virtual void OnReadBatchDone() {}
  // The stream cannot be parsed; called before the connection is dropped.
  virtual void OnBadStream(const Status& why) {}
  // Exactly once, on the loop thread.
  virtual void OnClose(const Status& reason) = 0;

  std::chrono::steady_clock::time_point last_progress() const;
  void NoteProgress();

 private:
  enum class ReadState { kHeader, kPayload };

  void CloseNow(const Status& reason);
  void HandleReadable();
  // Parses buffered bytes; false when the connection was closed.
  bool ProcessBuffered();
  void FlushLocked();
  void UpdateInterestLocked();

  UniqueFd fd_;
  EventLoop* const loop_;
  const std::string peer_label_;
  std::atomic<bool> closed_{false};
  std::atomic<int64_t> last_progress_ns_;

  // Read side: loop thread only.
  std::vector<uint8_t> staging_;
  size_t read_pos_ = 0;
  size_t write_pos_ = 0;
  ReadState read_state_ = ReadState::kHeader;
  FrameHeader current_;
  PayloadSink sink_;
  uint64_t payload_done_ = 0;
  std::string control_;

  // Write side: any thread, under write_mutex_.
  std::mutex write_mutex_;
  std::deque<OutFrame> queue_;
  size_t front_sent_ = 0;
  size_t queued_bytes_ = 0;
  uint32_t interest_ = 0;
  bool reading_paused_ = false;
};

}  // namespace mooncake::transfer::tcp
