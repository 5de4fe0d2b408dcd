#include "header_gate.hpp"

#include "connection_guard.hpp"

#include <Poco/Logger.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace osago::http::detail {

using Clock = std::chrono::steady_clock;

namespace {

/// At most half the process's open-file limit waits here: the rest stays for
/// the connections being served, streams, the database and Kafka.
std::size_t pendingBound(std::size_t configured) {
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) != 0 || files.rlim_cur == RLIM_INFINITY) return configured;
  return std::clamp<std::size_t>(static_cast<std::size_t>(files.rlim_cur) / 2, 16, configured);
}

}  // namespace

HeaderGate::HeaderGate(std::chrono::milliseconds deadline, std::size_t max_pending, std::size_t max_per_address,
                       Deliver deliver)
    : deadline_(deadline), max_pending_(pendingBound(std::max<std::size_t>(16, max_pending))),
      max_per_address_(max_per_address), deliver_(std::move(deliver)) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) throw std::runtime_error(std::string("header gate: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = wake_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_ = std::thread([this] { loop(); });
}

HeaderGate::~HeaderGate() {
  stop();
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void HeaderGate::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void HeaderGate::offer(const Poco::Net::StreamSocket& socket) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;  // the copy goes: the connection closes
    offered_.push_back(socket);
  }
  std::uint64_t one = 1;
  [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
}

void HeaderGate::loop() {
  std::vector<epoll_event> events(256);
  for (;;) {
    int timeout = 200;
    if (!by_age_.empty()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      waiting_.at(by_age_.begin()->second).deadline - Clock::now()).count();
      timeout = static_cast<int>(std::clamp<long long>(left + 1, 0, 200));
    }
    int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), timeout);
    {
      std::lock_guard lock(mutex_);
      if (stopping_) break;
    }
    for (int i = 0; i < n; ++i) {
      if (events[i].data.fd == wake_fd_) {
        std::uint64_t count;
        [[maybe_unused]] auto r = ::read(wake_fd_, &count, sizeof count);
        admitOffered();
      } else {
        look(events[i].data.fd);
      }
    }
    // Past the deadline with the head still not whole: closed, as the guard
    // closes a connection whose head a handler thread waits for.
    auto now = Clock::now();
    while (!by_age_.empty()) {
      int fd = by_age_.begin()->second;
      if (waiting_.at(fd).deadline > now) break;
      requestsCut("headers").Increment();
      release(fd, false);
    }
  }
  for (auto& [fd, w] : waiting_) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  waiting_.clear();  // the last copies: the sockets close
  per_address_.clear();
  by_age_.clear();
  std::lock_guard lock(mutex_);
  offered_.clear();
}

void HeaderGate::admitOffered() {
  std::vector<Poco::Net::StreamSocket> offered;
  {
    std::lock_guard lock(mutex_);
    offered.swap(offered_);
  }
  for (auto& socket : offered) {
    int fd = socket.impl()->sockfd();
    if (fd < 0) continue;
    while (waiting_.size() >= max_pending_) {
      // Full: the connection that has had longest to send its head makes room.
      connectionsRefused("evicted").Increment();
      release(by_age_.begin()->second, false);
    }
    std::string address;
    if (max_per_address_ > 0) {
      try {
        address = socket.peerAddress().host().toString();
      } catch (const std::exception&) {
        continue;  // gone already
      }
      if (per_address_[address] >= max_per_address_) {
        connectionsRefused("per_address").Increment();
        continue;  // closed with its copy
      }
    }
    socket.setBlocking(false);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLET;  // edge-triggered: a peeked head stays readable
    ev.data.fd = fd;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      Poco::Logger::get("http").warning(std::string("cannot watch a new connection: ") + std::strerror(errno));
      continue;  // closed with its copy
    }
    std::uint64_t order = next_order_++;
    waiting_.emplace(fd, Waiting{socket, order, Clock::now() + deadline_, address});
    if (max_per_address_ > 0) ++per_address_[address];
    by_age_.emplace(order, fd);
    look(fd);  // its head may be there already
  }
}

void HeaderGate::look(int fd) {
  if (!waiting_.count(fd)) return;
  static thread_local std::vector<char> buffer(kMaxPeek);
  ssize_t n = ::recv(fd, buffer.data(), buffer.size(), MSG_PEEK);
  if (n == 0) return release(fd, false);  // it left
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    return release(fd, false);
  }
  std::string_view head(buffer.data(), static_cast<std::size_t>(n));
  bool whole = head.find("\r\n\r\n") != std::string_view::npos || head.find("\n\n") != std::string_view::npos;
  if (whole || static_cast<std::size_t>(n) >= kMaxPeek) release(fd, true);
}

void HeaderGate::release(int fd, bool deliver) {
  auto it = waiting_.find(fd);
  if (it == waiting_.end()) return;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  Poco::Net::StreamSocket socket = it->second.socket;
  if (max_per_address_ > 0) {
    auto held = per_address_.find(it->second.address);
    if (held != per_address_.end() && --held->second == 0) per_address_.erase(held);
  }
  by_age_.erase(it->second.order);
  waiting_.erase(it);
  if (!deliver) {
    try {
      socket.close();
    } catch (const std::exception&) {
    }
    return;
  }
  socket.setBlocking(true);
  try {
    deliver_(socket);
  } catch (const std::exception& e) {
    Poco::Logger::get("http").warning(std::string("cannot hand a connection on: ") + e.what());
  }
}

}  // namespace osago::http::detail
