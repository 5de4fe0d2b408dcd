// The registry contains misbehaving plugins and swaps versions blue/green;
// the host keeps serving the other companies throughout.
#include "plugins/plugin_registry.hpp"

#include <gtest/gtest.h>

#include <thread>

#include <osago/common/metrics.hpp>

#include <filesystem>
#include <fstream>
#include <future>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using namespace osago::host;
using namespace std::chrono_literals;

class Registry : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("osago-registry-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "plugins");
    config_.directory = (dir_ / "plugins").string();
    config_.cache_directory = (dir_ / "cache").string();
    config_.worker.binary = OSAGO_TEST_WORKER_BIN;
    config_.rescan = 0s;
  }
  void TearDown() override { fs::remove_all(dir_); }

  /// Installs `so` as <name>.so with a manifest declaring `companies` (YAML list body).
  void install(const std::string& name, const char* so, const std::string& companies) {
    fs::copy_file(so, dir_ / "plugins" / (name + ".so"), fs::copy_options::overwrite_existing);
    std::ofstream(dir_ / "plugins" / (name + ".yaml")) << "companies:\n" << companies;
  }

  CallContext ctx(std::chrono::seconds budget = 30s) {
    return CallContext{"test", std::chrono::system_clock::now() + budget, {}};
  }

  fs::path dir_;
  PluginsConfig config_;
};

TEST_F(Registry, LoadsPluginsWithTheirManifestsAndRoutesCompanies) {
  install("versioned", OSAGO_TEST_V1_SO, "  - {id: alpha, name: Альфа}\n  - {id: beta, name: Бета}\n");
  PluginRegistry registry(config_, nullptr, "test");
  auto report = registry.rescan();
  ASSERT_EQ(report.loaded, std::vector<std::string>{"versioned"});
  auto companies = registry.companies();
  ASSERT_EQ(companies.size(), 2u);
  EXPECT_EQ(companies[0].company.id, "alpha");
  EXPECT_TRUE(companies[0].enabled);
  auto route = registry.route("beta");
  ASSERT_TRUE(route && route->adapter);
  auto out = route->adapter->submit(ctx(), "{}");
  EXPECT_EQ(out.kind, PartnerOutcome::Kind::Pending);
  EXPECT_EQ(out.external_id, "1-app");
  EXPECT_FALSE(registry.route("gamma"));
  auto described = registry.describe();
  EXPECT_EQ(described["plugins"][0]["id"], "versioned");
  EXPECT_EQ(described["plugins"][0]["sha256"], PluginLibrary::fileSha256(OSAGO_TEST_V1_SO));
}

TEST_F(Registry, ADroppedInPluginAppearsOnRescanAndAReplacedOneUpgradesBlueGreen) {
  PluginRegistry registry(config_, nullptr, "test");
  registry.rescan();
  EXPECT_TRUE(registry.companies().empty());

  install("versioned", OSAGO_TEST_V1_SO, "  - {id: alpha, name: Альфа}\n");
  EXPECT_EQ(registry.rescan().loaded, std::vector<std::string>{"versioned"});
  auto v1 = registry.route("alpha")->adapter;
  EXPECT_TRUE(registry.rescan().loaded.empty()) << "an unchanged file is not loaded again";

  install("versioned", OSAGO_TEST_V2_SO, "  - {id: alpha, name: Альфа}\n");
  auto report = registry.rescan();
  EXPECT_EQ(report.upgraded, std::vector<std::string>{"versioned"});
  auto v2 = registry.route("alpha")->adapter;
  EXPECT_EQ(v2->submit(ctx(), "{}").external_id, "2-app") << "new work goes to the new version";
  EXPECT_EQ(v1->submit(ctx(), "{}").external_id, "1-app") << "work already holding the old version finishes on it";

  fs::remove(dir_ / "plugins" / "versioned.so");
  EXPECT_EQ(registry.rescan().removed, std::vector<std::string>{"versioned"});
  EXPECT_FALSE(registry.route("alpha"));
}

TEST_F(Registry, AManifestChangeIsPickedUp) {
  install("versioned", OSAGO_TEST_V1_SO, "  - {id: alpha, name: Альфа}\n");
  PluginRegistry registry(config_, nullptr, "test");
  registry.rescan();
  std::ofstream(dir_ / "plugins" / "versioned.yaml") << "companies:\n  - {id: alpha, name: Альфа}\n  - {id: beta, name: Бета}\n";
  EXPECT_EQ(registry.rescan().upgraded, std::vector<std::string>{"versioned"});
  EXPECT_EQ(registry.companies().size(), 2u);
}

TEST_F(Registry, TheAllowListAdmitsAManifestByItsDigestLikeItsLibrary) {
  install("versioned", OSAGO_TEST_V1_SO, "  - {id: alpha, name: Альфа}\n");
  auto manifest = dir_ / "plugins" / "versioned.yaml";
  config_.allowed_sha256 = {PluginLibrary::fileSha256(OSAGO_TEST_V1_SO)};
  {
    PluginRegistry registry(config_, nullptr, "test");
    registry.rescan();
    EXPECT_TRUE(registry.companies().empty()) << "the library alone is admitted, not what its manifest says";
    auto listing = registry.describe()["plugins"][0];
    EXPECT_NE(listing.value("manifestError", "").find("is not in plugins.allowed_sha256"), std::string::npos)
        << listing.dump();
  }
  config_.allowed_sha256.push_back(PluginLibrary::fileSha256(manifest));
  PluginRegistry registry(config_, nullptr, "test");
  registry.rescan();
  ASSERT_EQ(registry.companies().size(), 1u);
  EXPECT_EQ(registry.describe()["plugins"][0]["manifestSha256"], PluginLibrary::fileSha256(manifest));
  // A changed manifest (another partner URL, say) is refused until its new digest is listed.
  std::ofstream(manifest) << "companies:\n  - {id: alpha, name: Альфа, settings: {baseUrl: \"https://elsewhere.example\"}}\n";
  registry.rescan();
  EXPECT_TRUE(registry.companies().empty());
}

TEST_F(Registry, ABadFileIsRejectedAndTheOthersKeepServing) {
  install("versioned", OSAGO_TEST_V1_SO, "  - {id: alpha, name: Альфа}\n");
  fs::copy_file(OSAGO_TEST_ABI_MAJOR_SO, dir_ / "plugins" / "future.so");
  fs::copy_file(OSAGO_TEST_NO_ENTRY_SO, dir_ / "plugins" / "library.so");
  PluginRegistry registry(config_, nullptr, "test");
  auto report = registry.rescan();
  EXPECT_EQ(report.rejected.size(), 2u);
  EXPECT_EQ(registry.describe()["rejected"].size(), 2u);
  ASSERT_TRUE(registry.route("alpha"));
  EXPECT_EQ(registry.route("alpha")->adapter->submit(ctx(), "{}").kind, PartnerOutcome::Kind::Pending);
}

/// How many plugin files were tried (osago_plugin_loads_total), by result.
double loadAttempts(const std::string& result) {
  double n = 0;
  for (const auto& family : osago::metrics::registry().Collect())
    if (family.name == "osago_plugin_loads_total")
      for (const auto& m : family.metric)
        for (const auto& l : m.label)
          if (l.name == "result" && l.value == result) n += m.counter.value;
  return n;
}

TEST_F(Registry, ARefusedFileIsNotLoadedAgainUntilItChanges) {
  install("versioned", OSAGO_TEST_V1_SO, "  - {id: alpha, name: Альфа}\n");
  install("versioned-copy", OSAGO_TEST_V2_SO, "  - {id: beta, name: Бета}\n");  // the same plugin id
  fs::copy_file(OSAGO_TEST_ABI_MAJOR_SO, dir_ / "plugins" / "future.so");
  PluginRegistry registry(config_, nullptr, "test");
  double before = loadAttempts("refused") + loadAttempts("loaded");
  ASSERT_EQ(registry.rescan().rejected.size(), 2u) << "another ABI, and an id already served";
  auto first = registry.describe()["rejected"];
  EXPECT_EQ(loadAttempts("refused") + loadAttempts("loaded") - before, 3) << "each file tried once";

  // Rescans of unchanged files run none of their code again, and report nothing new.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(registry.rescan().rejected.empty());
  EXPECT_EQ(loadAttempts("refused") + loadAttempts("loaded") - before, 3) << "nothing loaded again";
  EXPECT_EQ(registry.describe()["rejected"], first) << "still listed, with the time of the first refusal";
  for (const auto& r : first) EXPECT_FALSE(r["since"].get<std::string>().empty());

  // A duplicate whose rival is gone loads ("versioned-copy.so" sorts first and won); a changed file is tried again.
  ASSERT_TRUE(registry.route("beta"));
  EXPECT_FALSE(registry.route("alpha"));
  fs::remove(dir_ / "plugins" / "versioned-copy.so");
  EXPECT_TRUE(registry.rescan().rejected.empty());
  EXPECT_TRUE(registry.route("alpha")) << "versioned.so serves once versioned-copy.so is gone";
  EXPECT_EQ(loadAttempts("refused") + loadAttempts("loaded") - before, 4) << "only versioned.so was tried again";
  fs::copy_file(OSAGO_TEST_ABI_MINOR_SO, dir_ / "plugins" / "future.so", fs::copy_options::overwrite_existing);
  EXPECT_EQ(registry.rescan().rejected.size(), 1u) << "a new version of future.so, refused anew";
  EXPECT_EQ(loadAttempts("refused") + loadAttempts("loaded") - before, 5);
}

TEST_F(Registry, ACompanyWhosePluginRefusesItsSettingsIsUnavailableWithTheReason) {
  install("create-fails", OSAGO_TEST_CREATE_FAILS_SO, "  - {id: broken, name: Сломанная}\n");
  install("versioned", OSAGO_TEST_V1_SO, "  - {id: alpha, name: Альфа}\n");
  PluginRegistry registry(config_, nullptr, "test");
  registry.rescan();
  auto broken = registry.route("broken");
  ASSERT_TRUE(broken);
  EXPECT_FALSE(broken->adapter);
  EXPECT_NE(broken->unavailable.find("refused its settings"), std::string::npos) << broken->unavailable;
  EXPECT_TRUE(registry.route("alpha")->adapter);
}

TEST_F(Registry, AThrowingCallIsContainedAsAPluginError) {
  install("throws", OSAGO_TEST_THROWS_SO, "  - {id: thrower, name: Бросающая}\n");
  PluginRegistry registry(config_, nullptr, "test");
  registry.rescan();
  auto out = registry.route("thrower")->adapter->submit(ctx(), "{}");
  EXPECT_EQ(out.kind, PartnerOutcome::Kind::Failed);
  EXPECT_EQ(out.failure, FailureCode::kPluginError);
  EXPECT_NE(out.message.find("boom from the plugin"), std::string::npos) << out.message;
}

TEST_F(Registry, AFailingCompanysBreakerOpensAndFailsFastWhileOthersGoOn) {
  install("throws", OSAGO_TEST_THROWS_SO,
          "  - {id: thrower, name: Бросающая, breaker: {window_calls: 4, minimum_calls: 2, failure_rate: 0.5, open_ms: 60000}}\n");
  install("versioned", OSAGO_TEST_V1_SO, "  - {id: alpha, name: Альфа}\n");
  PluginRegistry registry(config_, nullptr, "test");
  registry.rescan();
  auto thrower = registry.route("thrower")->adapter;
  EXPECT_EQ(thrower->submit(ctx(), "{}").failure, FailureCode::kPluginError);
  EXPECT_EQ(thrower->submit(ctx(), "{}").failure, FailureCode::kPluginError);
  auto refused = thrower->submit(ctx(), "{}");
  EXPECT_EQ(refused.failure, FailureCode::kCircuitOpen);
  auto health = registry.describePlugin("throws")["companies"][0]["health"];
  EXPECT_EQ(health["breaker"]["state"], "OPEN") << health.dump();
  EXPECT_EQ(health["calls"], 2);
  EXPECT_EQ(health["refusedCircuitOpen"], 1);
  EXPECT_EQ(registry.route("alpha")->adapter->submit(ctx(), "{}").kind, PartnerOutcome::Kind::Pending);

  // A new version of the plugin does not forget that the partner is failing.
  install("throws", OSAGO_TEST_THROWS_SO,
          "  - {id: thrower, name: Бросающая v2, breaker: {window_calls: 4, minimum_calls: 2, failure_rate: 0.5, open_ms: 60000}}\n");
  ASSERT_EQ(registry.rescan().upgraded, std::vector<std::string>{"throws"});
  EXPECT_EQ(registry.route("thrower")->adapter->submit(ctx(), "{}").failure, FailureCode::kCircuitOpen);
}

TEST_F(Registry, AHangingCallGetsItsWorkerKilledAndRestartedWithNothingLeftRunning) {
  install("hangs", OSAGO_TEST_HANGS_SO,
          "  - {id: sloth, name: Ленивая, call_timeout_ms: 300, max_concurrent_calls: 2, max_queued_calls: 0}\n");
  install("versioned", OSAGO_TEST_V1_SO, "  - {id: alpha, name: Альфа}\n");
  config_.worker.restart_initial = 50ms;
  PluginRegistry registry(config_, nullptr, "test");
  registry.rescan();
  auto sloth = registry.route("sloth")->adapter;
  ASSERT_FALSE(sloth->describeWorker().is_null()) << "out of process by default";

  auto started = std::chrono::steady_clock::now();
  auto first = std::async(std::launch::async, [&] { return sloth->poll(ctx(), "x"); });
  auto second = std::async(std::launch::async, [&] { return sloth->poll(ctx(), "y"); });
  auto a = first.get();
  auto b = second.get();
  // The first call past its budget gets the worker killed; the other ends hung or cut short with it.
  EXPECT_TRUE(a.failure == FailureCode::kPluginHung || b.failure == FailureCode::kPluginHung) << a.failure << " " << b.failure;
  for (const auto& o : {a, b}) EXPECT_TRUE(o.failure == FailureCode::kPluginHung || o.failure == FailureCode::kPluginCrashed) << o.failure;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << "released at the budget, not when the plugin returned";
  EXPECT_EQ(sloth->callsRunning(), 0) << "no call is left running: the worker is gone, not its threads";

  // Restarted: it serves the next call (which hangs again, at its budget).
  for (int i = 0; i < 100 && !sloth->workerUp(); ++i) std::this_thread::sleep_for(20ms);
  ASSERT_TRUE(sloth->workerUp());
  auto worker = sloth->describeWorker();
  EXPECT_GE(worker["restartsByReason"].value("hung", 0), 1) << worker.dump();
  EXPECT_EQ(sloth->poll(ctx(), "z").failure, FailureCode::kPluginHung);

  // Another company is not affected.
  EXPECT_EQ(registry.route("alpha")->adapter->poll(ctx(), "1-app").kind, PartnerOutcome::Kind::Offer);
}

TEST_F(Registry, InProcessAHangingCallIsAbandonedAtItsBudgetAndItsBulkheadStaysBounded) {
  install("hangs", OSAGO_TEST_HANGS_SO,
          "  - {id: sloth, name: Ленивая, call_timeout_ms: 300, max_concurrent_calls: 2, max_queued_calls: 0}\n");
  config_.in_process = {"hangs"};  // the operator's explicit trust
  PluginRegistry registry(config_, nullptr, "test");
  registry.rescan();
  auto sloth = registry.route("sloth")->adapter;
  EXPECT_TRUE(sloth->describeWorker().is_null());

  auto first = std::async(std::launch::async, [&] { return sloth->poll(ctx(), "x"); });
  auto second = std::async(std::launch::async, [&] { return sloth->poll(ctx(), "y"); });
  EXPECT_EQ(first.get().failure, FailureCode::kPluginHung);
  EXPECT_EQ(second.get().failure, FailureCode::kPluginHung);
  // In process a stuck thread cannot be killed: the next call is refused at once instead of piling up.
  auto third = sloth->poll(ctx(), "z");
  EXPECT_EQ(third.failure, FailureCode::kBulkheadFull);
  EXPECT_TRUE(third.retryable);
  EXPECT_EQ(sloth->callsRunning(), 2);
}

}  // namespace
