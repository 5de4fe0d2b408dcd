// The quote scheduler's claim loop against the real PostgreSQL, with plugins
// from the unit tests' loader set run in workers: how much it claims, that it
// keeps the leases of calls in flight, that stop() waits for them, and that
// stop() always returns. Each test in its own scratch database.
#include "plugins/plugin_registry.hpp"
#include "scheduling/quote_scheduler.hpp"
#include "scratch_database.hpp"
#include "store/pg.hpp"
#include "store/quote_store.hpp"

#include <osago/common/ids.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using namespace osago::host;
using namespace std::chrono_literals;

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = std::make_unique<osago::test::ScratchDatabase>("osago_sched_");
    pool_ = std::make_unique<pg::Pool>(db_->dsn(), 8);
    lease_pool_ = std::make_unique<pg::Pool>(db_->dsn(), 1);
    store_ = std::make_unique<QuoteStore>(*pool_);
    lease_store_ = std::make_unique<QuoteStore>(*lease_pool_);
    dir_ = fs::temp_directory_path() / ("osago-sched-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "plugins");
    plugins_.directory = (dir_ / "plugins").string();
    plugins_.cache_directory = (dir_ / "cache").string();
    plugins_.worker.binary = OSAGO_TEST_WORKER_BIN;
    plugins_.worker.restart_initial = 20ms;
    plugins_.rescan = 0s;
    // Its submit answers at once; its poll sleeps 30 s, so the worker is
    // killed at the call's budget and the poll ends PLUGIN_HUNG.
    fs::copy_file(OSAGO_TEST_HANGS_SO, dir_ / "plugins" / "hangs.so");
    std::ofstream(dir_ / "plugins" / "hangs.yaml")
        << "companies:\n  - {id: sloth, name: Ленивая, call_timeout_ms: 3000, max_concurrent_calls: 8}\n";
    quotes_.poll_initial = 10ms;
    quotes_.poll_max = 20ms;
  }
  void TearDown() override {
    registry_.reset();
    lease_store_.reset();
    store_.reset();
    lease_pool_.reset();
    pool_.reset();
    db_.reset();
    fs::remove_all(dir_);
  }

  PluginRegistry& registry() {
    if (!registry_) {
      registry_ = std::make_unique<PluginRegistry>(plugins_, nullptr, "sched-test");
      registry_->rescan();
    }
    return *registry_;
  }

  std::unique_ptr<QuoteScheduler> scheduler(const std::string& instance) {
    return std::make_unique<QuoteScheduler>(*store_, *lease_store_, registry(), quotes_, PurchasesConfig{}, instance, [] {});
  }

  /// A request for the one company, due now.
  std::string newRequest() {
    NewQuoteRequest r;
    r.user_id = "sched-test";
    r.correlation_id = osago::newUuid();
    r.idempotency_key = osago::newUuid();
    r.input = {{"k", r.idempotency_key}};
    r.companies.push_back({"sloth", "Ленивая", CompanyStatus::kCreated, {}});
    return store_->create(r).request_id;
  }

  /// Rows leased by `owner` now, and how many of those leases are still in the future.
  std::pair<int, int> leases(const std::string& owner) {
    auto r = pool_->acquire()->query(
        "SELECT count(*), count(*) FILTER (WHERE lease_until > now()) FROM company_quotes WHERE lease_owner = $1", owner);
    return {std::stoi(r.text(0, 0)), std::stoi(r.text(0, 1))};
  }

  std::unique_ptr<osago::test::ScratchDatabase> db_;
  std::unique_ptr<pg::Pool> pool_, lease_pool_;
  std::unique_ptr<QuoteStore> store_, lease_store_;
  fs::path dir_;
  PluginsConfig plugins_;
  QuotesConfig quotes_;
  std::unique_ptr<PluginRegistry> registry_;
};

/// Ends the test binary with a message if `fn` does not return within `limit`:
/// a hung join cannot be undone.
void withinOrExit(std::chrono::seconds limit, const char* what, const std::function<void()>& fn) {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  std::thread watchdog([&] {
    std::unique_lock lock(m);
    if (!cv.wait_for(lock, limit, [&] { return done; })) {
      std::fprintf(stderr, "FAILED: %s did not return within %lld s\n", what, static_cast<long long>(limit.count()));
      std::fflush(stderr);
      std::_Exit(1);
    }
  });
  fn();
  {
    std::lock_guard lock(m);
    done = true;
  }
  cv.notify_all();
  watchdog.join();
}

// Issue 14, defect 4: stop() flipped running_ without the mutex the workers
// wait with; a worker between its check and its wait missed the only notify
// and join() never returned. The knob holds a worker exactly there while
// stop() runs.
TEST_F(SchedulerTest, StopReturnsWhenAWorkerIsBetweenItsCheckAndItsWait) {
  quotes_.workers = 1;
  registry();
  auto s = scheduler("stopper");
  std::promise<void> checked;
  std::atomic<bool> first{true};
  s->setTestingKnobs({[&] {
    if (first.exchange(false)) {
      checked.set_value();
      std::this_thread::sleep_for(300ms);  // stop() runs meanwhile, unless it must wait for the mutex
    }
  }});
  s->start();
  checked.get_future().wait();
  withinOrExit(20s, "QuoteScheduler::stop() with a worker between its check and its wait", [&] { s->stop(); });
}

// The same without a knob: started and stopped at once, again and again, with
// the threads still arriving at their first wait.
TEST_F(SchedulerTest, StopAlwaysReturnsEvenRightAfterStart) {
  quotes_.workers = 32;
  registry();
  withinOrExit(120s, "400 cycles of QuoteScheduler start() and stop()", [&] {
    for (int i = 0; i < 400; ++i) {
      auto s = scheduler("stopper");
      s->start();
      s->stop();
    }
  });
}

TEST_F(SchedulerTest, NeverHoldsMoreClaimsThanItHasWorkers) {
  quotes_.workers = 2;
  for (int i = 0; i < 6; ++i) newRequest();
  auto s = scheduler("two-workers");
  s->start();
  int most = 0;
  auto until = std::chrono::steady_clock::now() + 4s;
  while (std::chrono::steady_clock::now() < until) {
    most = std::max(most, leases("two-workers").first);
    std::this_thread::sleep_for(20ms);
  }
  s->stop();
  EXPECT_EQ(most, 2) << "two workers: two calls (and claims) at a time, the rest left for other instances";
}

TEST_F(SchedulerTest, TheLeaseOfACallInFlightIsRenewedUntilItIsRecordedAndStopWaitsForIt) {
  quotes_.workers = 1;
  quotes_.lease = 2s;  // renewed every 666 ms; the poll runs 3 s, past the lease
  std::string id = newRequest();
  auto s = scheduler("renewer");
  s->start();
  // The submit answers at once; then the poll hangs until its 3 s budget.
  auto polling = [&] {
    auto r = pool_->acquire()->query("SELECT external_id IS NOT NULL AND lease_owner IS NOT NULL FROM company_quotes "
                                     "WHERE request_id = $1",
                                     id);
    return r.text(0, 0) == "t";
  };
  auto until = std::chrono::steady_clock::now() + 10s;
  while (!polling() && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
  ASSERT_TRUE(polling()) << "the poll never started";
  auto started = std::chrono::steady_clock::now();
  int samples = 0, lapsed = 0;
  while (std::chrono::steady_clock::now() - started < 2500ms) {
    auto [held, valid] = leases("renewer");
    ++samples;
    if (held == 1 && valid == 0) ++lapsed;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(lapsed, 0) << "of " << samples << " looks, the lease of the running call had lapsed";
  // stop() lets the call in flight end (at its budget) and records it.
  s->stop();
  auto r = pool_->acquire()->query("SELECT lease_owner IS NULL, attempts FROM company_quotes WHERE request_id = $1", id);
  EXPECT_EQ(r.text(0, 0), "t") << "recorded, lease given up";
  EXPECT_EQ(r.text(0, 1), "2") << "the submit and the hung poll both recorded, nothing after the stop";
}

}  // namespace
