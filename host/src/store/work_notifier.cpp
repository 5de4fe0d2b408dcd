#include "store/work_notifier.hpp"

#include <Poco/Logger.h>

#include <libpq-fe.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <poll.h>

namespace osago::host {

WorkNotifier::WorkNotifier(std::string dsn, std::string channel, std::function<void()> on_notify)
    : dsn_(std::move(dsn)), channel_(std::move(channel)), on_notify_(std::move(on_notify)) {}

WorkNotifier::~WorkNotifier() { stop(); }

void WorkNotifier::start() {
  thread_.start([this] { loop(); });
}

void WorkNotifier::stop() { thread_.stop(); }

void WorkNotifier::listen() {
  pg::Connection conn(dsn_);
  conn.exec("LISTEN " + channel_);
  listening_ = true;
  on_notify_();  // anything announced while we were not listening
  auto quiet_since = std::chrono::steady_clock::now();
  while (thread_.running()) {
    pollfd fd{PQsocket(conn.native()), POLLIN, 0};
    int ready = ::poll(&fd, 1, 500);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0 || (ready > 0 && !PQconsumeInput(conn.native()))) throw pg::Error("the LISTEN connection broke", "", true);
    if (ready > 0) quiet_since = std::chrono::steady_clock::now();
    // A stopped server or a half-open socket stays silent: after a quiet while
    // the connection must answer a probe in time, or it is given up.
    if (std::chrono::steady_clock::now() - quiet_since > kProbeAfter) {
      conn.exec("SELECT 1", {}, kProbeBound);
      quiet_since = std::chrono::steady_clock::now();
    }
    bool notified = false;
    while (PGnotify* n = PQnotifies(conn.native())) {
      notified = true;
      PQfreemem(n);
    }
    if (notified) on_notify_();
    if (!conn.usable()) throw pg::Error("the LISTEN connection broke", "", true);
  }
}

void WorkNotifier::loop() {
  auto& log = Poco::Logger::get("scheduler");
  bool warned = false;
  while (thread_.running()) {
    try {
      listen();
    } catch (const std::exception& e) {
      if (listening_) warned = false;  // it was up meanwhile: a new outage is worth a line
      if (!warned) log.warning("LISTEN " + channel_ + " is down (" + e.what() + "); workers fall back to looking for work every second");
      warned = true;
    }
    listening_ = false;
    if (!thread_.running()) break;
    thread_.waitFor(std::chrono::seconds(1));
  }
}

WorkAnnouncer::WorkAnnouncer(pg::Pool& db, std::string channel, std::chrono::milliseconds spacing)
    : db_(db), channel_(std::move(channel)), spacing_(spacing) {}

void WorkAnnouncer::start() {
  thread_.start([this] {
    bool warned = false;
    while (thread_.running()) {
      if (!thread_.waitFor(std::chrono::seconds(1))) continue;
      try {
        db_.acquire()->query("SELECT pg_notify($1, '')", channel_);
        warned = false;
      } catch (const std::exception& e) {
        // Other instances still find the work on their own within a second.
        if (!warned) Poco::Logger::get("scheduler").warning(std::string("cannot announce new work: ") + e.what());
        warned = true;
      }
      std::this_thread::sleep_for(spacing_);  // announcements asked for meanwhile go out as one
    }
  });
}

}  // namespace osago::host
