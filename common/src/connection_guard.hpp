#pragma once

#include <osago/common/http_server.hpp>

#include <Poco/Net/StreamSocket.h>
#include <prometheus/counter.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace osago::http::detail {

/// osago_http_requests_cut_total{phase}: headers or body not in by the deadline.
prometheus::Counter& requestsCut(const char* phase);
/// osago_http_connections_refused_total{reason}: per_address, evicted.
prometheus::Counter& connectionsRefused(const char* reason);

/// The bounds a server's connections are held to (ServerLimits), beyond Poco's
/// per-read timeout (which a client sending a byte now and then never trips):
/// - a request's headers and body must arrive within `request_timeout` of its
///   start (of the connection, or of the previous answer plus `keep_alive`);
///   past it, a connection still sending headers is closed, and one whose
///   handler is reading the body sees the end of its input (readJsonBody
///   answers 408);
/// - one client address holds at most `max_connections_per_address` connections (0: no cap).
/// A watchdog thread enforces the deadline; the connection's own thread says
/// when its request has been read (requestRead) and answered (requestDone).
class ConnectionGuard {
 public:
  explicit ConnectionGuard(const ServerLimits& limits);
  ~ConnectionGuard();
  ConnectionGuard(const ConnectionGuard&) = delete;
  ConnectionGuard& operator=(const ConnectionGuard&) = delete;

  /// Whether connections are counted per client address (a cap is set).
  bool capsAddresses() const { return limits_.max_connections_per_address > 0; }
  /// Whether a connection from `socket`'s address may be queued (at accept).
  bool admit(const Poco::Net::StreamSocket& socket);

  /// Tracks the connection served on this thread while it lives; `admitted()`
  /// is false when its address already holds its share of connections.
  class Scope {
   public:
    Scope(ConnectionGuard& guard, const Poco::Net::StreamSocket& socket);
    ~Scope();
    bool admitted() const { return admitted_; }

   private:
    ConnectionGuard& guard_;
    std::string address_;  ///< counted under this address (none without a cap)
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
  /// The connection this thread serves: its guard and its entry (map nodes stay put until erased, by this thread).
  struct Current {
    ConnectionGuard* guard = nullptr;
    Entry* entry = nullptr;
  };
  static thread_local Current current_;

  /// Sets the current connection's phase and deadline (the watchdog's next look sees them).
  static void enter(Phase phase, std::chrono::steady_clock::time_point deadline);
  void watch();

  ServerLimits limits_;
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
