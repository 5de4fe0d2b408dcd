#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace osago::host {

/// One company's bulkhead: its plugin calls run on its own bounded thread
/// pool with a bounded queue, so a slow or hanging partner can occupy only
/// its own threads. Thread-safe.
class CompanyExecutor {
 public:
  enum class Result {
    kDone,      ///< the task ran to its end before the deadline
    kRejected,  ///< every thread busy and the queue full: the task did not run
    kTimedOut,  ///< the task did not end by the deadline; it goes on in the background
  };

  /// With `own_threads` false no thread is started: only runInline() may be
  /// used (calls whose hang protection lies elsewhere, e.g. in a worker process).
  CompanyExecutor(std::string company_id, int threads, int max_queued, bool own_threads = true);
  /// Stops the pool: drops what is queued, waits up to one second in all for
  /// the running tasks to end and joins their threads; a thread still stuck in
  /// a task after that is detached (and logged), so a task must own
  /// (shared_ptr) everything it uses.
  ~CompanyExecutor();
  CompanyExecutor(const CompanyExecutor&) = delete;
  CompanyExecutor& operator=(const CompanyExecutor&) = delete;

  /// Runs `task` on the pool and waits for it until `deadline`.
  Result run(std::function<void()> task, std::chrono::steady_clock::time_point deadline);
  /// Runs `task` on the calling thread once one of the `threads` slots is
  /// free, waiting in the bounded queue until `deadline` at most (kTimedOut:
  /// it did not run). `task` must end on its own: nothing here can abandon it.
  Result runInline(const std::function<void()>& task, std::chrono::steady_clock::time_point deadline);

  int busy() const;    ///< tasks running now (hung ones included)
  int queued() const;  ///< tasks waiting for a thread

 private:
  struct Shared;
  std::shared_ptr<Shared> shared_;
};

}  // namespace osago::host
