#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace osago {

/// One thread running a loop until stop(): the loop checks running() and
/// sleeps with waitFor(), which notify() and stop() cut short. The one way
/// our services run a background loop.
class BackgroundThread {
 public:
  BackgroundThread() = default;
  ~BackgroundThread() { stop(); }
  BackgroundThread(const BackgroundThread&) = delete;
  BackgroundThread& operator=(const BackgroundThread&) = delete;

  void start(std::function<void()> loop) {
    running_ = true;
    thread_ = std::thread(std::move(loop));
  }

  /// Ends the loop: running() turns false, a waitFor() returns, the thread is joined. Idempotent.
  void stop() {
    {
      std::lock_guard lock(mutex_);
      if (!running_.exchange(false)) return;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  bool running() const { return running_; }

  /// Sleeps up to `d`, less when notified or stopped; true when notified (the notice is consumed).
  bool waitFor(std::chrono::milliseconds d) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, d, [this] { return notified_ || !running_; });
    bool notified = notified_;
    notified_ = false;
    return notified;
  }

  /// Wakes a waitFor() now, or makes the next one return at once.
  void notify() {
    {
      std::lock_guard lock(mutex_);
      notified_ = true;
    }
    cv_.notify_all();
  }

 private:
  std::atomic<bool> running_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool notified_ = false;
  std::thread thread_;
};

}  // namespace osago
