#include "store/work_notifier.hpp"

#include <Poco/Logger.h>

#include <libpq-fe.h>

#include <chrono>
#include <memory>
#include <poll.h>

namespace osago::host {

WorkNotifier::WorkNotifier(std::string dsn, std::string channel, std::function<void()> on_notify)
    : dsn_(pg::withConnectTimeout(dsn, 3)), channel_(std::move(channel)), on_notify_(std::move(on_notify)) {}

WorkNotifier::~WorkNotifier() { stop(); }

void WorkNotifier::start() {
  thread_.start([this] { loop(); });
}

void WorkNotifier::stop() { thread_.stop(); }

void WorkNotifier::loop() {
  auto& log = Poco::Logger::get("scheduler");
  bool warned = false;
  while (thread_.running()) {
    std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(dsn_.c_str()), &PQfinish);
    if (PQstatus(conn.get()) == CONNECTION_OK) {
      std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn.get(), ("LISTEN " + channel_).c_str()), &PQclear);
      if (PQresultStatus(r.get()) == PGRES_COMMAND_OK) {
        listening_ = true;
        warned = false;
        on_notify_();  // anything announced while we were not listening
        while (thread_.running()) {
          pollfd fd{PQsocket(conn.get()), POLLIN, 0};
          int ready = ::poll(&fd, 1, 500);
          if (ready < 0 || (ready > 0 && !PQconsumeInput(conn.get()))) break;
          bool notified = false;
          while (PGnotify* n = PQnotifies(conn.get())) {
            notified = true;
            PQfreemem(n);
          }
          if (notified) on_notify_();
          if (PQstatus(conn.get()) != CONNECTION_OK) break;
        }
        listening_ = false;
      }
    }
    if (!thread_.running()) break;
    if (!warned) {
      log.warning("LISTEN " + channel_ + " is down (" + std::string(PQerrorMessage(conn.get())) +
                  "); workers fall back to looking for work every second");
      warned = true;
    }
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
