#pragma once

#include <osago/common/background_thread.hpp>

#include <atomic>
#include <functional>
#include <string>

namespace osago::host {

/// Listens on a PostgreSQL NOTIFY channel on its own connection and calls
/// `on_notify` for every notification, so that work created on any instance
/// wakes the workers of every instance at once. Reconnects by itself when the
/// database goes away. Not copyable; start()/stop() from one thread.
class WorkNotifier {
 public:
  WorkNotifier(std::string dsn, std::string channel, std::function<void()> on_notify);
  ~WorkNotifier();

  void start();
  void stop();
  /// True while the LISTEN connection is up.
  bool listening() const { return listening_; }

 private:
  void loop();

  std::string dsn_;
  std::string channel_;
  std::function<void()> on_notify_;
  std::atomic<bool> listening_{false};
  BackgroundThread thread_;
};

}  // namespace osago::host
