#pragma once

#include "store/pg.hpp"

#include <osago/common/background_thread.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

namespace osago::host {

/// Listens on a PostgreSQL NOTIFY channel on its own connection and calls
/// `on_notify` for every notification, so that work created on any instance
/// wakes the workers of every instance at once. Reconnects by itself when the
/// database goes away, and after kProbeAfter without traffic probes the
/// connection (a stopped server or a half-open socket is silent, not closed).
/// Not copyable; start()/stop() from one thread.
class WorkNotifier {
 public:
  WorkNotifier(std::string dsn, std::string channel, std::function<void()> on_notify);
  ~WorkNotifier();

  void start();
  void stop();
  /// True while the LISTEN connection is up.
  bool listening() const { return listening_; }

 private:
  static constexpr std::chrono::seconds kProbeAfter{10};
  static constexpr std::chrono::milliseconds kProbeBound{3000};
  void loop();
  void listen();  // until stopped; throws when the connection is lost

  std::string dsn_;
  std::string channel_;
  std::function<void()> on_notify_;
  std::atomic<bool> listening_{false};
  BackgroundThread thread_;
};

/// Announces new work to every instance with a NOTIFY on `channel`, sent after
/// the work was committed and at most once per `spacing` however many creates
/// asked for it. (A NOTIFY inside the create's own transaction would make
/// every create's commit wait for the previous one: PostgreSQL serialises the
/// commits of notifying transactions.)
class WorkAnnouncer {
 public:
  WorkAnnouncer(pg::Pool& db, std::string channel, std::chrono::milliseconds spacing = std::chrono::milliseconds(20));
  ~WorkAnnouncer() { stop(); }
  void start();
  void stop() { thread_.stop(); }
  /// Asks for a NOTIFY soon; cheap, never blocks.
  void announce() { thread_.notify(); }

 private:
  pg::Pool& db_;
  std::string channel_;
  std::chrono::milliseconds spacing_;
  BackgroundThread thread_;
};

}  // namespace osago::host
