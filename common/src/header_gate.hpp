#pragma once

#include <Poco/Net/StreamSocket.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace osago::http::detail {

/// Holds each new connection of a plain HTTP server, on one epoll thread and
/// without a handler thread, until its request head has arrived whole (the
/// kernel holds it; the gate only peeks), then hands it on. A client that
/// trickles its head, or sends nothing, costs a socket here and no thread:
/// it is closed at the request deadline, and when `max_pending` connections
/// wait, the oldest is closed to make room. The thread pool behind serves only
/// clients whose request is there to be read.
class HeaderGate {
 public:
  using Deliver = std::function<void(const Poco::Net::StreamSocket&)>;
  /// `max_per_address` (0: none) bounds one client address's waiting connections.
  HeaderGate(std::chrono::milliseconds deadline, std::size_t max_pending, std::size_t max_per_address, Deliver deliver);
  ~HeaderGate();
  HeaderGate(const HeaderGate&) = delete;
  HeaderGate& operator=(const HeaderGate&) = delete;

  /// Takes a just-accepted connection (any thread).
  void offer(const Poco::Net::StreamSocket& socket);
  /// Closes every waiting connection and ends the thread.
  void stop();

  /// A head larger than this is handed on as it is (Poco refuses what is too large).
  static constexpr std::size_t kMaxPeek = 32 * 1024;

 private:
  struct Waiting {
    Poco::Net::StreamSocket socket;
    std::uint64_t order;
    std::chrono::steady_clock::time_point deadline;
    std::string address;  ///< counted under it (only with a cap per address)
  };
  void loop();
  void admitOffered();
  void look(int fd);
  void release(int fd, bool deliver);

  const std::chrono::milliseconds deadline_;
  const std::size_t max_pending_;
  const std::size_t max_per_address_;
  std::unordered_map<std::string, std::size_t> per_address_;
  Deliver deliver_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::mutex mutex_;  // offered_ and stopping_ (the rest is the loop thread's)
  std::vector<Poco::Net::StreamSocket> offered_;
  bool stopping_ = false;
  std::unordered_map<int, Waiting> waiting_;
  std::map<std::uint64_t, int> by_age_;
  std::uint64_t next_order_ = 0;
  std::thread thread_;
};

}  // namespace osago::http::detail
