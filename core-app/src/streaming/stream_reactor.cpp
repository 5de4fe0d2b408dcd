#include "streaming/stream_reactor.hpp"

#include <osago/common/metrics.hpp>

#include <Poco/Logger.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

namespace osago::core {

namespace {
constexpr std::uint64_t kWakeId = 0;
constexpr auto kTick = std::chrono::milliseconds(500);

/// A bound that bit, by name: read_budget, user_streams, total_unsent, pong, data_frame, protocol, write_stall.
prometheus::Counter& limitHit(const char* limit) {
  static auto& family = metrics::counter("osago_core_stream_limits_total",
                                         "Times a bound on browser streams bit, by bound (docs/configuration.md)");
  return family.Add({{"limit", limit}});
}
}  // namespace

struct StreamReactor::Session {
  Session(std::uint64_t id_, std::string request, std::string user, Protocol protocol_, StreamRelay relay_)
      : id(id_), request_id(std::move(request)), user_id(std::move(user)), protocol(protocol_), relay(relay_) {}
  std::uint64_t id;
  std::string request_id;
  std::string user_id;
  Protocol protocol;
  StreamRelay relay;
  Poco::Net::StreamSocket socket;
  int fd = -1;
  std::string out;
  std::size_t out_at = 0;
  std::size_t accounted = 0;   ///< this stream's part of total_unsent_
  bool pong_queued = false;    ///< a pong waits in `out`: a ping meanwhile gets none (RFC 6455 allows answering the last)
  bool want_write = false;
  bool closing = false;        ///< the last message is queued: flush, then half-close
  bool write_shut = false;
  bool dead = false;
  Steady::time_point close_by = Steady::time_point::max();
  Steady::time_point stalled_since = Steady::time_point::max();  ///< bytes wait and the client has taken none since
  WsFrameReader reader;
};

StreamReactor::Ticket::~Ticket() {
  if (reactor_) reactor_->cancel(id_);
}

StreamReactor::StreamReactor(Options options, Fetch fetch) : options_(options), fetch_(std::move(fetch)) {
  for (const char* limit : {"read_budget", "user_streams", "total_unsent", "pong", "data_frame", "protocol", "write_stall"}) limitHit(limit);
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) throw std::runtime_error(std::string("stream reactor: ") + std::strerror(errno));
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeId;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
}

StreamReactor::~StreamReactor() {
  stop();
  ::close(wake_fd_);
  ::close(epoll_fd_);
}

void StreamReactor::start() {
  if (running_.exchange(true)) return;
  next_tick_ = Steady::now() + kTick;
  loop_thread_ = std::thread([this] { loop(); });
  for (int i = 0; i < options_.fetch_threads; ++i) fetch_threads_.emplace_back([this] { fetchLoop(); });
  for (int i = 0; i < options_.fanout_threads; ++i) helper_threads_.emplace_back([this] { helperLoop(); });
}

void StreamReactor::stop() {
  if (!running_.exchange(false)) return;
  post([] {});  // wakes the loop, which sees running_ false, closes every stream and returns
  loop_thread_.join();
  {
    std::lock_guard lock(fetch_mutex_);
    fetch_stop_ = true;
  }
  fetch_cv_.notify_all();
  for (auto& t : fetch_threads_) t.join();
  fetch_threads_.clear();
  {
    std::lock_guard lock(helper_mutex_);
    helper_stop_ = true;
  }
  helper_cv_.notify_all();
  for (auto& t : helper_threads_) t.join();
  helper_threads_.clear();
}

StreamReactor::Ticket StreamReactor::open(const std::string& request_id, const std::string& user_id,
                                          std::chrono::system_clock::time_point token_expires_at, Protocol protocol,
                                          long long sent) {
  {
    std::lock_guard lock(users_mutex_);
    std::size_t& held = user_streams_[user_id];
    if (held >= options_.max_streams_per_user) {
      limitHit("user_streams").Increment();
      throw UserStreamsFull("this user has " + std::to_string(held) + " streams open here already, the most one may");
    }
    if (open_streams_.fetch_add(1) >= options_.max_streams) {
      open_streams_.fetch_sub(1);
      if (held == 0) user_streams_.erase(user_id);
      throw StreamsFull("this instance holds " + std::to_string(options_.max_streams) + " streams already");
    }
    ++held;
  }
  std::uint64_t id = next_id_.fetch_add(1);
  StreamRelay relay(sent, token_expires_at, Steady::now());
  post([this, id, request_id, user_id, protocol, relay] {
    // Registered in the loop, in queue order: every event posted after this reaches the stream.
    auto session = std::make_unique<Session>(id, request_id, user_id, protocol, relay);
    by_request_[request_id].insert(session.get());
    sessions_.emplace(id, std::move(session));
  });
  return Ticket(this, id);
}

void StreamReactor::cancel(std::uint64_t id) {
  post([this, id] {
    auto it = sessions_.find(id);
    if (it != sessions_.end() && it->second->fd < 0) drop(*it->second);
  });
}

void StreamReactor::attach(Ticket ticket, Poco::Net::StreamSocket socket, const nlohmann::json& view) {
  std::uint64_t id = ticket.id_;
  ticket.reactor_ = nullptr;  // attached, not cancelled
  auto state = StoredState::from(view);
  post([this, id, socket, state]() mutable {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return;  // stopping: the socket closes with the last copy
    Session& s = *it->second;
    s.socket = socket;
    s.socket.setBlocking(false);
    s.fd = s.socket.impl()->sockfd();
    // A fixed send buffer (no autotuning up to tcp_wmem's 4 MiB): what a client
    // that does not read holds in the kernel is bounded too, and a backlog
    // shows in the reactor, where the unsent and stall bounds see it.
    ::setsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &options_.socket_send_buffer_bytes, sizeof options_.socket_send_buffer_bytes);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.u64 = s.id;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, s.fd, &ev) != 0) {
      Poco::Logger::get("streams").warning(std::string("cannot watch a stream socket: ") + std::strerror(errno));
      s.fd = -1;
      drop(s);
      reap();
      return;
    }
    if (s.protocol == Protocol::Sse) append(s, "retry: 2000\n\n");
    std::vector<StreamMessage> out;
    s.relay.start(*state, Steady::now(), out);
    emit(s, out);
    reap();
  });
}

void StreamReactor::deliver(const nlohmann::json& event) {
  auto live = LiveEvent::from(event);
  std::string request_id = event.value("osagoRequestId", "");
  static auto& fanout = metrics::histogram(
      "osago_core_stream_fanout_seconds",
      "From an event's arrival from Kafka to its send to the last open stream of its request");
  static auto& fanout_seconds = fanout.Add({}, prometheus::Histogram::BucketBoundaries{
                                                   0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1});
  static auto& delivery = metrics::histogram(
      "osago_core_event_delivery_seconds",
      "From an event's commit at the aggregator (its occurredAtMs) to its send to the last open stream of its request "
      "on this instance: the delivery delay a watching driver sees (wall clocks of two hosts)");
  static auto& delivery_seconds = delivery.Add({}, metrics::requestBuckets());
  auto arrived = Steady::now();
  auto occurred_ms = event.contains("occurredAtMs") && event["occurredAtMs"].is_number_integer()
                         ? std::optional<long long>(event["occurredAtMs"].get<long long>())
                         : std::nullopt;
  post([this, live, request_id, arrived, occurred_ms] {
    auto it = by_request_.find(request_id);
    if (it == by_request_.end()) return;
    fanOut(it->second, live);
    fanout_seconds.Observe(std::chrono::duration<double>(Steady::now() - arrived).count());
    if (occurred_ms) {
      auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch()).count();
      delivery_seconds.Observe(static_cast<double>(std::max(0LL, now_ms - *occurred_ms)) / 1000.0);
    }
    reap();
  });
}

void StreamReactor::fanOut(const std::unordered_set<Session*>& streams, const std::shared_ptr<const LiveEvent>& live) {
  auto now = Steady::now();
  std::vector<Session*> targets(streams.begin(), streams.end());
  auto send = [&](std::size_t from, std::size_t to) {
    std::vector<StreamMessage> out;
    for (std::size_t i = from; i < to; ++i) {
      out.clear();
      targets[i]->relay.event(live, now, out);
      emit(*targets[i], out);
    }
  };
  std::size_t shares = helper_threads_.size() + 1;
  if (targets.size() < options_.fanout_parallel_from || shares == 1) return send(0, targets.size());
  // Each helper takes a share of the streams (each stream is touched by one thread
  // only, and the loop waits for all before it goes on); the loop sends the first.
  std::size_t per = (targets.size() + shares - 1) / shares;
  {
    std::lock_guard lock(helper_mutex_);
    for (std::size_t k = 1; k < shares; ++k) {
      std::size_t from = std::min(targets.size(), k * per), to = std::min(targets.size(), (k + 1) * per);
      helper_jobs_.push_back([&send, from, to] { send(from, to); });
    }
    helpers_busy_ += shares - 1;
  }
  helper_cv_.notify_all();
  std::exception_ptr failed;
  try {
    send(0, std::min(targets.size(), per));
  } catch (...) {
    failed = std::current_exception();  // the helpers still use `targets` and `send`: wait for them first
  }
  {
    std::unique_lock lock(helper_mutex_);
    helper_done_.wait(lock, [this] { return helpers_busy_ == 0; });
  }
  if (failed) std::rethrow_exception(failed);
}

void StreamReactor::helperLoop() {
  std::unique_lock lock(helper_mutex_);
  while (true) {
    helper_cv_.wait(lock, [this] { return helper_stop_ || !helper_jobs_.empty(); });
    if (helper_jobs_.empty()) return;  // stopping
    auto job = std::move(helper_jobs_.back());
    helper_jobs_.pop_back();
    lock.unlock();
    try {
      job();
    } catch (const std::exception& e) {
      metrics::countBarrier("core-app.stream_fanout");
      Poco::Logger::get("streams").error(std::string("unexpected error sending an event to streams (a bug): ") + e.what());
    }
    lock.lock();
    if (--helpers_busy_ == 0) helper_done_.notify_all();
  }
}

void StreamReactor::post(std::function<void()> command) {
  bool was_empty;
  {
    std::lock_guard lock(queue_mutex_);
    was_empty = queue_.empty();
    queue_.push_back(std::move(command));
  }
  if (was_empty) {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd_, &one, sizeof one);
  }
}

void StreamReactor::runCommands() {
  std::uint64_t count;
  [[maybe_unused]] auto n = ::read(wake_fd_, &count, sizeof count);
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(queue_mutex_);
    batch.swap(queue_);
  }
  for (auto& command : batch) {
    try {
      command();
    } catch (const std::exception& e) {
      // The edge of the reactor's thread: one command's failure (a bug) must not stop every stream.
      metrics::countBarrier("core-app.stream_reactor");
      Poco::Logger::get("streams").error(std::string("unexpected error in a stream command (a bug): ") + e.what());
    }
  }
}

void StreamReactor::loop() {
  std::vector<epoll_event> events(512);
  while (running_) {
    auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick_ - Steady::now()).count();
    int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), static_cast<int>(std::max<long long>(0, wait)));
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kWakeId) {
        runCommands();
        continue;
      }
      auto it = sessions_.find(events[i].data.u64);
      if (it == sessions_.end() || it->second->dead) continue;
      try {
        onSocket(*it->second, events[i].events);
      } catch (const std::exception& e) {
        metrics::countBarrier("core-app.stream_reactor");
        Poco::Logger::get("streams").error(std::string("unexpected error on a stream (a bug; it is closed): ") + e.what());
        it->second->dead = true;
      }
    }
    reap();
    if (Steady::now() >= next_tick_) {
      tick();
      reap();
      next_tick_ = Steady::now() + kTick;
    }
  }
  runCommands();
  closeAll();
}

void StreamReactor::onSocket(Session& s, std::uint32_t events) {
  if (events & EPOLLOUT) flush(s);
  if (!s.dead && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) readFrom(s);
}

void StreamReactor::readFrom(Session& s) {
  char buffer[16 * 1024];
  std::size_t taken = 0;
  for (;;) {
    if (taken >= options_.read_budget_bytes) {
      // Its turn is over: the socket is still readable (level-triggered), so it is
      // read again after every other ready stream has had its turn.
      limitHit("read_budget").Increment();
      break;
    }
    ssize_t n = ::recv(s.fd, buffer, std::min(sizeof buffer, options_.read_budget_bytes - taken), 0);
    if (n == 0) return drop(s);  // the client left (or answered our half-close)
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return drop(s);
    }
    taken += static_cast<std::size_t>(n);
    if (s.protocol == Protocol::Sse || s.closing) continue;  // an SSE client has nothing to say
    s.reader.feed(buffer, static_cast<std::size_t>(n));
    WsFrameReader::Frame frame;
    for (;;) {
      auto result = s.reader.next(frame);
      if (result == WsFrameReader::Result::NeedMore) break;
      if (result == WsFrameReader::Result::Error) {
        limitHit("protocol").Increment();
        append(s, wsCloseFrame(s.reader.closeCode(), "protocol error"));
        s.closing = true;
        break;
      }
      if (frame.opcode == kWsPing) {
        if (s.pong_queued) {
          limitHit("pong").Increment();
        } else {
          append(s, wsFrame(kWsPong, frame.payload));
          s.pong_queued = true;
        }
      } else if (frame.opcode == kWsClose) {
        append(s, wsCloseFrame(1000, ""));
        s.closing = true;
        break;
      } else if (frame.opcode != kWsPong) {
        // The stream goes one way: a client sending messages is not one of ours.
        limitHit("data_frame").Increment();
        append(s, wsCloseFrame(1003, "this stream takes no messages"));
        s.closing = true;
        break;
      }
    }
    flush(s);
    if (s.dead || s.closing) break;
  }
}

void StreamReactor::emit(Session& s, const std::vector<StreamMessage>& messages) {
  static auto& delivered = metrics::counter("osago_core_stream_messages_total",
                                            "Messages written to browser streams by type: snapshot, company, purchase, end");
  static auto& snapshot = delivered.Add({{"type", "snapshot"}});
  static auto& company = delivered.Add({{"type", "company"}});
  static auto& end = delivered.Add({{"type", "end"}});
  static auto& purchase = delivered.Add({{"type", "purchase"}});
  if (s.dead || messages.empty()) return;
  for (const auto& m : messages) {
    if (m.type == "company") company.Increment();
    else if (m.type == "snapshot") snapshot.Increment();
    else if (m.type == "end") end.Increment();
    else if (m.type == "purchase") purchase.Increment();
    if (s.protocol == Protocol::Sse) {
      append(s, m.type.empty() ? sseComment(m.data) : sseMessage(m.type, m.seq, m.data));
    } else if (m.type.empty()) {
      append(s, wsFrame(kWsPing, ""));
    } else {
      std::string text;
      text.reserve(m.data.size() + 48);
      text.append(R"({"type":")").append(m.type).append(R"(","seq":)").append(std::to_string(m.seq))
          .append(R"(,"data":)").append(m.data).append("}");
      append(s, wsFrame(kWsText, text));
    }
  }
  if (s.relay.ended() && !s.closing) {
    if (s.protocol == Protocol::WebSocket) append(s, wsCloseFrame(1000, "stream ended"));
    s.closing = true;
  }
  if (s.fd >= 0) flush(s);
}

void StreamReactor::append(Session& s, std::string bytes) {
  if (s.out_at == s.out.size()) {
    s.out = std::move(bytes);
    s.out_at = 0;
  } else {
    s.out.append(bytes);
  }
}

void StreamReactor::flush(Session& s) {
  if (s.dead || s.fd < 0) return;
  const std::size_t sent_before = s.out_at;
  while (s.out_at < s.out.size()) {
    ssize_t n = ::send(s.fd, s.out.data() + s.out_at, s.out.size() - s.out_at, MSG_NOSIGNAL);
    if (n > 0) {
      s.out_at += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    return drop(s);  // the connection broke
  }
  std::size_t unsent = s.out.size() - s.out_at;
  // A client that reads nothing would hold its place (and, closing, its
  // socket) for ever: the clock starts when bytes wait and none went out.
  if (unsent == 0 || s.out_at != sent_before)
    s.stalled_since = unsent == 0 ? Steady::time_point::max() : Steady::now();
  else if (s.stalled_since == Steady::time_point::max())
    s.stalled_since = Steady::now();
  total_unsent_ += unsent - s.accounted;  // modular: a shrinking stream subtracts
  s.accounted = unsent;
  if (unsent == 0) s.pong_queued = false;
  if (unsent > 0 && total_unsent_ > options_.max_total_unsent_bytes) {
    limitHit("total_unsent").Increment();
    Poco::Logger::get("streams").information("dropping a stream " + std::to_string(unsent) + " bytes behind: all streams together are " +
                                             std::to_string(total_unsent_.load()) + " bytes behind, over the instance's budget");
    return drop(s);
  }
  if (unsent > options_.max_unsent_bytes) {
    static auto& slow = metrics::counter("osago_core_slow_streams_dropped_total",
                                         "Streams disconnected because their client fell too far behind").Add({});
    slow.Increment();
    Poco::Logger::get("streams").information("dropping a stream whose client is " + std::to_string(unsent) +
                                             " bytes behind; it resumes by seq when it reconnects");
    return drop(s);
  }
  if (unsent == 0) {
    s.out.clear();
    s.out_at = 0;
  } else if (s.out_at > 64 * 1024 && s.out_at > s.out.size() / 2) {
    s.out.erase(0, s.out_at);
    s.out_at = 0;
  }
  bool want_write = unsent > 0;
  if (want_write != s.want_write) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (want_write ? EPOLLOUT : 0u);
    ev.data.u64 = s.id;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, s.fd, &ev);
    s.want_write = want_write;
  }
  if (unsent == 0 && s.closing && !s.write_shut) {
    // Everything is out: half-close and wait for the client to close its side,
    // so that no reset destroys what it has not read yet.
    ::shutdown(s.fd, SHUT_WR);
    s.write_shut = true;
    s.close_by = Steady::now() + options_.close_linger;
  }
}

void StreamReactor::tick() {
  auto now = Steady::now();
  auto wall = std::chrono::system_clock::now();
  std::vector<StreamMessage> out;
  std::unordered_set<std::string> due;
  for (auto& [id, session] : sessions_) {
    Session& s = *session;
    if (s.dead || s.fd < 0) continue;
    if (s.write_shut && now >= s.close_by) {
      drop(s);
      continue;
    }
    if (s.stalled_since != Steady::time_point::max() && now - s.stalled_since >= options_.write_stall) {
      limitHit("write_stall").Increment();
      Poco::Logger::get("streams").information("dropping a stream whose client has taken no byte for " +
                                               std::to_string(options_.write_stall.count()) + " ms (" +
                                               std::to_string(s.out.size() - s.out_at) + " bytes waiting)");
      drop(s);
      continue;
    }
    out.clear();
    if (s.relay.tick(wall, now, options_.heartbeat, options_.gap_wait, out) == StreamRelay::Due::Reconcile)
      due.insert(s.request_id);
    emit(s, out);
  }
  for (const auto& request_id : due) requestFetch(request_id);
}

void StreamReactor::requestFetch(const std::string& request_id) {
  if (!fetching_.insert(request_id).second) return;  // one read per request, however many streams wait for it
  {
    std::lock_guard lock(fetch_mutex_);
    fetch_queue_.push_back(request_id);
  }
  fetch_cv_.notify_one();
}

void StreamReactor::fetchLoop() {
  for (;;) {
    std::string request_id;
    {
      std::unique_lock lock(fetch_mutex_);
      fetch_cv_.wait(lock, [this] { return fetch_stop_ || !fetch_queue_.empty(); });
      if (fetch_stop_) return;
      request_id = std::move(fetch_queue_.front());
      fetch_queue_.pop_front();
    }
    std::optional<std::shared_ptr<const StoredState>> state;
    bool failed = false;
    try {
      if (auto view = fetch_(request_id)) state = StoredState::from(*view);
    } catch (const std::exception& e) {
      Poco::Logger::get("streams").debug("cannot read request " + request_id + ": " + e.what());
      failed = true;
    }
    post([this, request_id, state, failed] { applyFetch(request_id, state, failed); });
  }
}

void StreamReactor::applyFetch(const std::string& request_id, std::optional<std::shared_ptr<const StoredState>> state,
                               bool failed) {
  fetching_.erase(request_id);
  auto it = by_request_.find(request_id);
  if (it == by_request_.end()) return;
  auto now = Steady::now();
  std::vector<StreamMessage> out;
  for (Session* s : it->second) {
    if (!s->relay.started()) continue;
    out.clear();
    if (failed)
      s->relay.reconcileFailed(now, out);
    else if (!state || (*state)->user_id != s->user_id)
      s->relay.gone(out);  // purged after retention: nothing more will come
    else
      s->relay.reconciled(**state, now, out);
    emit(*s, out);
  }
  reap();
}

void StreamReactor::drop(Session& s) {
  if (s.dead) return;
  s.dead = true;
  std::lock_guard lock(doomed_mutex_);
  doomed_.push_back(s.id);
}

void StreamReactor::reap() {
  std::vector<std::uint64_t> doomed;
  {
    std::lock_guard lock(doomed_mutex_);
    doomed.swap(doomed_);
  }
  for (std::uint64_t id : doomed) {
    auto it = sessions_.find(id);
    if (it == sessions_.end()) continue;
    Session& s = *it->second;
    if (s.fd >= 0) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, s.fd, nullptr);
    auto r = by_request_.find(s.request_id);
    if (r != by_request_.end()) {
      r->second.erase(&s);
      if (r->second.empty()) by_request_.erase(r);
    }
    total_unsent_ -= s.accounted;
    {
      std::lock_guard lock(users_mutex_);
      auto u = user_streams_.find(s.user_id);
      if (u != user_streams_.end() && --u->second == 0) user_streams_.erase(u);
    }
    sessions_.erase(it);  // closes the socket
    open_streams_.fetch_sub(1);
  }
}

void StreamReactor::closeAll() {
  for (auto& [id, session] : sessions_) {
    Session& s = *session;
    if (s.fd >= 0 && !s.closing) {
      append(s, s.protocol == Protocol::WebSocket ? wsCloseFrame(1001, "server restarting; reconnect")
                                                  : sseComment("server restarting; reconnect"));
      s.closing = true;
      flush(s);
    }
    drop(s);
  }
  reap();
}

}  // namespace osago::core
