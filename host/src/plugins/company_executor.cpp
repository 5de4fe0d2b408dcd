#include "plugins/company_executor.hpp"

#include <Poco/Logger.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace osago::host {

namespace {

struct Job {
  std::function<void()> task;
  std::mutex mutex;
  std::condition_variable cv;
  bool done = false;
};

}  // namespace

struct CompanyExecutor::Shared {
  std::string company_id;
  int max_queued = 0;
  int slots = 0;           // runInline: calls at once
  int inline_queued = 0;   // runInline: callers waiting for a slot
  std::condition_variable slot_free;
  std::mutex mutex;
  std::condition_variable cv;
  std::deque<std::shared_ptr<Job>> queue;
  int busy = 0;
  bool stopping = false;
  std::vector<std::thread> threads;
  std::vector<std::shared_ptr<std::atomic<bool>>> finished;  // per thread: has it left its loop

  static void loop(std::shared_ptr<Shared> self, std::shared_ptr<std::atomic<bool>> finished) {
    while (true) {
      std::shared_ptr<Job> job;
      {
        std::unique_lock lock(self->mutex);
        self->cv.wait(lock, [&] { return self->stopping || !self->queue.empty(); });
        if (self->queue.empty()) break;  // stopping and nothing left
        job = std::move(self->queue.front());
        self->queue.pop_front();
        ++self->busy;
      }
      try {
        job->task();
      } catch (const std::exception& e) {
        Poco::Logger::get("plugins").error("company " + self->company_id + ": call failed: " + e.what());
      }
      {
        std::lock_guard lock(job->mutex);
        job->done = true;
      }
      job->cv.notify_all();
      std::lock_guard lock(self->mutex);
      --self->busy;
    }
    *finished = true;
  }
};

CompanyExecutor::CompanyExecutor(std::string company_id, int threads, int max_queued, bool own_threads)
    : shared_(std::make_shared<Shared>()) {
  shared_->company_id = std::move(company_id);
  shared_->max_queued = max_queued;
  shared_->slots = threads;
  for (int i = 0; own_threads && i < threads; ++i) {
    auto finished = std::make_shared<std::atomic<bool>>(false);
    shared_->finished.push_back(finished);
    shared_->threads.emplace_back(&Shared::loop, shared_, finished);
  }
}

CompanyExecutor::~CompanyExecutor() {
  {
    std::lock_guard lock(shared_->mutex);
    shared_->stopping = true;
    shared_->queue.clear();
  }
  shared_->cv.notify_all();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  for (std::size_t i = 0; i < shared_->threads.size(); ++i) {
    while (!*shared_->finished[i] && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (*shared_->finished[i]) {
      shared_->threads[i].join();
    } else {
      Poco::Logger::get("plugins").warning("company " + shared_->company_id +
                                           ": a plugin call is still hanging; its thread is left behind");
      shared_->threads[i].detach();
    }
  }
}

CompanyExecutor::Result CompanyExecutor::run(std::function<void()> task, std::chrono::steady_clock::time_point deadline) {
  auto job = std::make_shared<Job>();
  job->task = std::move(task);
  {
    std::lock_guard lock(shared_->mutex);
    int idle = static_cast<int>(shared_->threads.size()) - shared_->busy - static_cast<int>(shared_->queue.size());
    if (idle <= 0 && static_cast<int>(shared_->queue.size()) >= shared_->max_queued) return Result::kRejected;
    shared_->queue.push_back(job);
  }
  shared_->cv.notify_one();
  {
    std::unique_lock lock(job->mutex);
    if (job->cv.wait_until(lock, deadline, [&] { return job->done; })) return Result::kDone;
  }
  // Too late: a task still waiting for a thread is withdrawn so it never runs stale.
  std::lock_guard lock(shared_->mutex);
  auto it = std::find(shared_->queue.begin(), shared_->queue.end(), job);
  if (it != shared_->queue.end()) shared_->queue.erase(it);
  return Result::kTimedOut;
}

CompanyExecutor::Result CompanyExecutor::runInline(const std::function<void()>& task,
                                                   std::chrono::steady_clock::time_point deadline) {
  {
    std::unique_lock lock(shared_->mutex);
    if (shared_->busy >= shared_->slots) {
      if (shared_->inline_queued >= shared_->max_queued) return Result::kRejected;
      ++shared_->inline_queued;
      bool got = shared_->slot_free.wait_until(lock, deadline, [&] { return shared_->busy < shared_->slots; });
      --shared_->inline_queued;
      if (!got) return Result::kTimedOut;
    }
    ++shared_->busy;
  }
  struct Release {
    Shared& s;
    ~Release() {
      {
        std::lock_guard lock(s.mutex);
        --s.busy;
      }
      s.slot_free.notify_one();
    }
  } release{*shared_};
  task();
  return Result::kDone;
}

int CompanyExecutor::busy() const {
  std::lock_guard lock(shared_->mutex);
  return shared_->busy;
}

int CompanyExecutor::queued() const {
  std::lock_guard lock(shared_->mutex);
  return static_cast<int>(shared_->queue.size()) + shared_->inline_queued;
}

}  // namespace osago::host
