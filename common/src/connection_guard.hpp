#pragma once

#include <Poco/Net/StreamSocket.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace osago::http::detail {

/// The bounds a server's connections are held to, beyond Poco's per-read
/// timeout (which a client sending a byte now and then never trips):
/// - a request's headers and body must arrive within `request_deadline` of its
///   start (of the connection, or of the previous answer plus `keep_alive`);
///   past it, a connection still sending headers is closed, and one whose
///   handler is reading the body sees the end of its input (readJsonBody
///   answers 408);
/// - one client address holds at most `per_address` connections (0: no cap).
/// A watchdog thread enforces the deadline; the connection's own thread says
/// when its request has been read (requestRead) and answered (requestDone).
class ConnectionGuard {
 public:
  struct Limits {
    std::chrono::milliseconds request_deadline{10000};
    std::chrono::milliseconds keep_alive{10000};
    std::size_t per_address = 0;
  };
  ConnectionGuard(Limits limits);
  ~ConnectionGuard();
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;

  /// Whether a connection from `socket`'s address may be queued (at accept).
  bool admit(const Poco::Net::StreamSocket& socket);

  /// Tracks the connection served on this thread while it lives; `admitted()`
  /// is false when its address already holds `per_address` connections.
  class Scope {
   public:
    Scope(ConnectionGuard& guard, const Poco::Net::StreamSocket& socket);
    ~Scope();
    bool admitted() const { return admitted_; }

   private:
    ConnectionGuard& guard_;
    std::string address_;
    std::uint64_t id_ = 0;
    bool admitted_ = false;
  };

  /// Shuts down the connections waiting for (or still sending) a request, and
  /// with `everything` those being answered too; then waits up to `wait` until
  /// every connection has ended.
  void shutdown(bool everything, std::chrono::milliseconds wait);

  /// On the connection's thread: the headers are in and the handler starts;
  /// with `expects_body` its body is still awaited (the deadline stays), else nothing is.
  static void handlerStarted(bool expects_body);
  /// On the connection's thread: the request has been read, nothing more is awaited from the client.
  static void requestRead();
  /// On the connection's thread: the answer is out; the next request is awaited.
  static void requestDone();
  /// On the connection's thread: whether its request's deadline passed (its input was cut).
  static bool deadlinePassed();

 private:
  enum class Phase { kHeaders, kHandler, kRead };
  struct Entry {
    int fd;
    Phase phase = Phase::kHeaders;
    std::chrono::steady_clock::time_point deadline;
    bool cut = false;
  };
  struct Current {
    ConnectionGuard* guard = nullptr;
    std::uint64_t id = 0;
  };
  static thread_local Current current_;

  void set(std::uint64_t id, Phase phase, std::chrono::steady_clock::time_point deadline);
  void watch();

  Limits limits_;
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  std::condition_variable ended_cv_;
  bool stopping_ = false;
  std::uint64_t next_id_ = 1;
  std::map<std::uint64_t, Entry> entries_;
  std::map<std::string, std::size_t> per_address_;
  std::thread watchdog_;
};

}  // namespace osago::http::detail
