#pragma once

// One epoll thread. Handlers registered with it are owned by it until removed; all their
// callbacks run on this thread. Every wait is bounded: the loop wakes at least every tick to
// let handlers enforce their timeouts.

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "mooncake/common/status.h"

namespace mooncake::transfer::tcp {

class EventHandler {
 public:
  virtual ~EventHandler() = default;
  virtual int fd() const = 0;
  // `events` is the epoll event mask.
  virtual void OnEvents(uint32_t events) = 0;
  // Called every tick on the loop thread.
  virtual void OnTick(std::chrono::steady_clock::time_point now) {}
  // Called on the loop thread when the loop stops with the handler still registered.
  virtual void OnLoopStopped() {}
};

class EventLoop {
 public:
  static Result<std::unique_ptr<EventLoop>> Create(std::chrono::milliseconds tick);
  ~EventLoop();  // stops the thread

  // Registers `handler` for `events`; safe from any thread.
  Status Add(std::shared_ptr<EventHandler> handler, uint32_t events);
  // Changes the interest set; safe from any thread while the handler is registered.
  Status Modify(EventHandler* handler, uint32_t events);
  // Unregisters; must run on the loop thread. The handler is destroyed when unreferenced.
  void Remove(EventHandler* handler);
  // Runs `fn` on the loop thread soon.
  void Post(std::function<void()> fn);
  bool InLoopThread() const { return std::this_thread::get_id() == thread_id_.load(); }
  void Stop();

 private:
  EventLoop(int epoll_fd, int wake_fd, std::chrono::milliseconds tick);
  void Run();
  void RunPosted();

  const int epoll_fd_;
  const int wake_fd_;
  const std::chrono::milliseconds tick_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::atomic<std::thread::id> thread_id_{};

  std::mutex mutex_;  // guards handlers_ and posted_
  std::unordered_map<EventHandler*, std::shared_ptr<EventHandler>> handlers_;
  std::vector<std::function<void()>> posted_;
};

}  // namespace mooncake::transfer::tcp
