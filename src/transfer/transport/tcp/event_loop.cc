#include "transfer/transport/tcp/event_loop.h"

#include <fmt/format.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mooncake::transfer::tcp {

Result<std::unique_ptr<EventLoop>> EventLoop::Create(std::chrono::milliseconds tick) {
  int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd < 0) return InternalError(fmt::format("epoll_create1: {}", std::strerror(errno)));
  int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    close(epoll_fd);
    return InternalError(fmt::format("eventfd: {}", std::strerror(errno)));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // nullptr marks the wake-up fd
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev);
  return std::unique_ptr<EventLoop>(new EventLoop(epoll_fd, wake_fd, tick));
}

EventLoop::EventLoop(int epoll_fd, int wake_fd, std::chrono::milliseconds tick)
    : epoll_fd_(epoll_fd), wake_fd_(wake_fd), tick_(tick) {
  thread_ = std::thread([this] { Run(); });
}

EventLoop::~EventLoop() {
  Stop();
  close(wake_fd_);
  close(epoll_fd_);
}

void EventLoop::Stop() {
  if (stopping_.exchange(true)) {
    if (thread_.joinable() && !InLoopThread()) thread_.join();
    return;
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
}

Status EventLoop::Add(std::shared_ptr<EventHandler> handler, uint32_t events) {
  EventHandler* raw = handler.get();
  {
    std::lock_guard lock(mutex_);
    handlers_[raw] = std::move(handler);
  }
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = raw;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, raw->fd(), &ev) != 0) {
    std::lock_guard lock(mutex_);
    handlers_.erase(raw);
    return InternalError(fmt::format("epoll_ctl(ADD): {}", std::strerror(errno)));
  }
  return Status::Ok();
}

Status EventLoop::Modify(EventHandler* handler, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, handler->fd(), &ev) != 0) {
    return InternalError(fmt::format("epoll_ctl(MOD): {}", std::strerror(errno)));
  }
  return Status::Ok();
}

void EventLoop::Remove(EventHandler* handler) {
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, handler->fd(), nullptr);
  std::shared_ptr<EventHandler> keep;  // destroyed outside the lock
  std::lock_guard lock(mutex_);
  auto it = handlers_.find(handler);
  if (it != handlers_.end()) {
    keep = std::move(it->second);
    handlers_.erase(it);
  }
}

void EventLoop::Post(std::function<void()> fn) {
  {
    std::lock_guard lock(mutex_);
    posted_.push_back(std::move(fn));
  }
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof(one));
}

void EventLoop::RunPosted() {
  std::vector<std::function<void()>> work;
  {
    std::lock_guard lock(mutex_);
    work.swap(posted_);
  }
  for (auto& fn : work) fn();
}

void EventLoop::Run() {
  thread_id_.store(std::this_thread::get_id());
  constexpr int kMaxEvents = 64;
  epoll_event events[kMaxEvents];
  auto next_tick = std::chrono::steady_clock::now() + tick_;
  while (!stopping_.load(std::memory_order_acquire)) {
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, static_cast<int>(tick_.count()));
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {
        uint64_t value;
        (void)!read(wake_fd_, &value, sizeof(value));
        continue;
      }
      auto* handler = static_cast<EventHandler*>(events[i].data.ptr);
      std::shared_ptr<EventHandler> alive;
      {
        std::lock_guard lock(mutex_);
        auto it = handlers_.find(handler);
        if (it == handlers_.end()) continue;  // removed earlier in this round
        alive = it->second;
      }
      alive->OnEvents(events[i].events);
    }
    RunPosted();
    auto now = std::chrono::steady_clock::now();
    if (now >= next_tick) {
      next_tick = now + tick_;
      std::vector<std::shared_ptr<EventHandler>> all;
      {
        std::lock_guard lock(mutex_);
        for (auto& [raw, h] : handlers_) all.push_back(h);
      }
      for (auto& h : all) h->OnTick(now);
    }
  }
  RunPosted();
  std::vector<std::shared_ptr<EventHandler>> all;
  {
    std::lock_guard lock(mutex_);
    for (auto& [raw, h] : handlers_) all.push_back(h);
  }
  for (auto& h : all) h->OnLoopStopped();
}

}  // namespace mooncake::transfer::tcp
