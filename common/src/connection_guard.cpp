#include "connection_guard.hpp"

#include <osago/common/metrics.hpp>

#include <sys/socket.h>

namespace osago::http::detail {

prometheus::Counter& requestsCut(const char* phase) {
  static auto& family = metrics::counter(
      "osago_http_requests_cut_total",
      "Requests whose client did not send its headers (phase headers) or body (phase body) within the request deadline");
  return family.Add({{"phase", phase}});
}

prometheus::Counter& connectionsRefused(const char* reason) {
  static auto& family = metrics::counter(
      "osago_http_connections_refused_total",
      "Connections closed before a request: their client address held the most it may (per_address), or the most "
      "connections that may wait for their request head were waiting and this was the oldest (evicted)");
  return family.Add({{"reason", reason}});
}

namespace {

using Clock = std::chrono::steady_clock;


std::string addressOf(const Poco::Net::StreamSocket& socket) {
  try {
    return socket.peerAddress().host().toString();
  } catch (const std::exception&) {
    return "";  // gone already: counted under the empty address, refused like any other
  }
}

}  // namespace

thread_local ConnectionGuard::Current ConnectionGuard::current_;

ConnectionGuard::ConnectionGuard(const ServerLimits& limits) : limits_(limits) {
  requestsCut("headers");
  requestsCut("body");
  connectionsRefused("per_address");
  connectionsRefused("evicted");
  watchdog_ = std::thread([this] { watch(); });
}

ConnectionGuard::~ConnectionGuard() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  watchdog_.join();
}

bool ConnectionGuard::admit(const Poco::Net::StreamSocket& socket) {
  if (!capsAddresses()) return true;
  std::string address = addressOf(socket);
  std::lock_guard lock(mutex_);
  auto it = per_address_.find(address);
  if (it == per_address_.end() || it->second < limits_.max_connections_per_address) return true;
  connectionsRefused("per_address").Increment();
  return false;
}

ConnectionGuard::Scope::Scope(ConnectionGuard& guard, const Poco::Net::StreamSocket& socket)
    : guard_(guard), address_(guard.capsAddresses() ? addressOf(socket) : std::string()) {
  std::lock_guard lock(guard_.mutex_);
  if (guard_.capsAddresses()) {
    std::size_t& held = guard_.per_address_[address_];
    if (held >= guard_.limits_.max_connections_per_address) {
      connectionsRefused("per_address").Increment();
      return;  // `held` is not 0 here: the cap is at least 1
    }
    ++held;
  }
  admitted_ = true;
  id_ = guard_.next_id_++;
  auto [entry, added] =
      guard_.entries_.emplace(id_, Entry{socket.impl()->sockfd(), Phase::kHeaders, Clock::now() + guard_.limits_.request_timeout});
  current_ = {&guard_, &entry->second};
}

ConnectionGuard::Scope::~Scope() {
  if (!admitted_) return;
  current_ = {};
  std::lock_guard lock(guard_.mutex_);
  guard_.entries_.erase(id_);  // before the socket closes: the watchdog never touches a reused descriptor
  if (guard_.capsAddresses()) {
    auto it = guard_.per_address_.find(address_);
    if (it != guard_.per_address_.end() && --it->second == 0) guard_.per_address_.erase(it);
  }
  guard_.ended_cv_.notify_all();
}

void ConnectionGuard::shutdown(bool everything, std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  for (auto& [id, e] : entries_)
    if (everything || e.phase == Phase::kHeaders) ::shutdown(e.fd, SHUT_RDWR);
  ended_cv_.wait_for(lock, wait, [this] { return entries_.empty(); });
}

void ConnectionGuard::enter(Phase phase, Clock::time_point deadline) {
  if (!current_.guard) return;  // not on a guarded connection's thread
  std::lock_guard lock(current_.guard->mutex_);
  current_.entry->phase = phase;
  current_.entry->deadline = deadline;
  current_.entry->cut = false;
}

void ConnectionGuard::handlerStarted(bool expects_body) {
  // With a body still to come the deadline stands; without one nothing more is awaited.
  if (!current_.guard) return;
  if (expects_body) {
    std::lock_guard lock(current_.guard->mutex_);
    current_.entry->phase = Phase::kHandler;
  } else {
    requestRead();
  }
}

void ConnectionGuard::requestRead() { enter(Phase::kRead, Clock::time_point::max()); }

void ConnectionGuard::requestDone() {
  if (!current_.guard) return;
  const auto& limits = current_.guard->limits_;
  enter(Phase::kHeaders, Clock::now() + limits.keep_alive + limits.request_timeout);
}

bool ConnectionGuard::deadlinePassed() {
  if (!current_.guard) return false;
  std::lock_guard lock(current_.guard->mutex_);
  return current_.entry->cut;
}

void ConnectionGuard::watch() {
  std::unique_lock lock(mutex_);
  while (!stop_cv_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stopping_; })) {
    auto now = Clock::now();
    for (auto& [id, e] : entries_) {
      if (e.cut || e.phase == Phase::kRead || now < e.deadline) continue;
      e.cut = true;
      if (e.phase == Phase::kHeaders) {
        // Still sending headers: the connection ends (its thread's read fails at once).
        ::shutdown(e.fd, SHUT_RDWR);
        requestsCut("headers").Increment();
      } else {
        // Its handler reads the body: the input ends, the answer (408) can still go out.
        ::shutdown(e.fd, SHUT_RD);
        requestsCut("body").Increment();
      }
    }
  }
}

}  // namespace osago::http::detail
