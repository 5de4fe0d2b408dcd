#pragma once

#include "streaming/stream_framing.hpp"
#include "streaming/stream_relay.hpp"

#include <Poco/Net/StreamSocket.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace osago::core {

/// Thrown by StreamReactor::open when the instance holds as many streams as it may.
class StreamsFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
/// Thrown by StreamReactor::open when the user holds as many streams as one user may.
class UserStreamsFull : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Holds every open SSE and WebSocket stream of the instance on one epoll
/// thread, so a stream costs a socket and a few kilobytes, not a thread.
///
/// An HTTP handler authorises the stream, calls open() (from then on the
/// request's events are kept for it), reads the stored state, writes the HTTP
/// answer (200 text/event-stream or 101 Switching Protocols), and hands the
/// socket over with attach(); the handler's thread is then free. The reactor
/// applies each stream's StreamRelay to the events from Kafka (deliver()) and
/// asks the aggregator for the stored state on a gap or a silence — on its own
/// small pool of threads, once per request however many streams watch it.
/// Everything but the loop's own state is reached through a command queue.
class StreamReactor {
 public:
  enum class Protocol { Sse, WebSocket };
  struct Options {
    std::size_t max_streams = 20000;
    std::chrono::milliseconds heartbeat{15000};     ///< silence before a keep-alive and a look at the stored state
    std::chrono::milliseconds gap_wait{2000};       ///< how long a missing seq may be awaited
    std::size_t max_unsent_bytes = 1024 * 1024;     ///< a client this far behind is dropped (it resumes by seq)
    std::size_t max_total_unsent_bytes = 64 * 1024 * 1024;  ///< all streams together; past it the growing one is dropped
    std::size_t max_streams_per_user = 20;          ///< one user's streams on this instance
    std::size_t read_budget_bytes = 64 * 1024;      ///< read from one client per wakeup, then the others' turn
    std::chrono::milliseconds close_linger{5000};   ///< after the last message, how long to wait for the client to close
    std::chrono::milliseconds write_stall{30000};   ///< a client that takes no byte of what waits this long is dropped
    int socket_send_buffer_bytes = 64 * 1024;        ///< SO_SNDBUF of a stream's socket (the kernel's part of its backlog)
    int fetch_threads = 2;
    /// Threads that help the loop send one event to many streams (0: the loop alone) ...
    int fanout_threads = 1;
    /// ... once the event has at least this many streams to go to.
    std::size_t fanout_parallel_from = 512;
  };
  /// Reads a request's stored view: nullopt when there is none; throws when it cannot be read now.
  using Fetch = std::function<std::optional<nlohmann::json>(const std::string& request_id)>;

  /// A stream being opened: cancelled when dropped before attach().
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept : reactor_(other.reactor_), id_(other.id_) { other.reactor_ = nullptr; }
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket();

   private:
    friend class StreamReactor;
    Ticket(StreamReactor* reactor, std::uint64_t id) : reactor_(reactor), id_(id) {}
    StreamReactor* reactor_;
    std::uint64_t id_;
  };

  StreamReactor(Options options, Fetch fetch);
  ~StreamReactor();
  StreamReactor(const StreamReactor&) = delete;
  StreamReactor& operator=(const StreamReactor&) = delete;

  void start();
  /// Closes every stream (WebSocket with 1001 "going away"; SSE clients reconnect by themselves) and joins the threads.
  void stop();

  /// Reserves a stream of `user_id` on `request_id` that has sent up to seq `sent` (-1: nothing).
  /// Throws StreamsFull or UserStreamsFull.
  Ticket open(const std::string& request_id, const std::string& user_id,
              std::chrono::system_clock::time_point token_expires_at, Protocol protocol, long long sent);
  /// Hands over the connection, whose HTTP answer has been written, with the stored view read after open().
  void attach(Ticket ticket, Poco::Net::StreamSocket socket, const nlohmann::json& view);
  /// An event consumed from Kafka (already deduplicated): goes to the streams of its request.
  void deliver(const nlohmann::json& event);

  std::size_t openStreams() const { return open_streams_.load(); }
  /// Bytes written to streams and not yet taken by their clients, all streams together.
  std::size_t unsentBytes() const { return total_unsent_.load(); }

 private:
  struct Session;
  using Steady = std::chrono::steady_clock;

  void post(std::function<void()> command);
  void cancel(std::uint64_t id);
  void loop();
  void runCommands();
  void onSocket(Session& s, std::uint32_t events);
  void readFrom(Session& s);
  void emit(Session& s, const std::vector<StreamMessage>& messages);
  void append(Session& s, std::string bytes);
  void flush(Session& s);
  void tick();
  void requestFetch(const std::string& request_id);
  void fetchLoop();
  void applyFetch(const std::string& request_id, std::optional<std::shared_ptr<const StoredState>> state, bool failed);
  void drop(Session& s);
  /// An event to every stream of its request: split between the loop and the fan-out helpers when they are many.
  void fanOut(const std::unordered_set<Session*>& streams, const std::shared_ptr<const LiveEvent>& live);
  void helperLoop();
  void reap();
  void closeAll();

  Options options_;
  Fetch fetch_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::thread loop_thread_;
  std::vector<std::thread> fetch_threads_;
  std::atomic<bool> running_{false};
  std::atomic<std::size_t> open_streams_{0};
  std::atomic<std::uint64_t> next_id_{1};
  std::atomic<std::size_t> total_unsent_{0};  ///< written by the loop thread only

  std::mutex users_mutex_;
  std::unordered_map<std::string, std::size_t> user_streams_;

  std::mutex queue_mutex_;
  std::vector<std::function<void()>> queue_;

  // Owned by the loop thread.
  std::unordered_map<std::uint64_t, std::unique_ptr<Session>> sessions_;
  std::unordered_map<std::string, std::unordered_set<Session*>> by_request_;
  std::unordered_set<std::string> fetching_;
  std::mutex doomed_mutex_;             // drop() runs on fan-out helpers too
  std::vector<std::uint64_t> doomed_;
  Steady::time_point next_tick_;

  // Fan-out helpers: the loop hands each a share of one event's streams and waits for all.
  std::vector<std::thread> helper_threads_;
  std::mutex helper_mutex_;
  std::condition_variable helper_cv_;     // helpers wait for a job
  std::condition_variable helper_done_;   // the loop waits for the helpers
  std::vector<std::function<void()>> helper_jobs_;
  std::size_t helpers_busy_ = 0;
  bool helper_stop_ = false;

  std::mutex fetch_mutex_;
  std::condition_variable fetch_cv_;
  std::deque<std::string> fetch_queue_;
  bool fetch_stop_ = false;
};

}  // namespace osago::core
