// Partner isolation with the real binaries, PostgreSQL and Kafka: one tiny
// plain-C plugin per failure mode (fault_plugins/) is dropped into a running
// stack, as a partner engineer would, and each failure must stay with its own
// company — the aggregator is the same process afterwards, the other insurers
// quote, the bad company ends with a specific code, nothing keeps burning CPU,
// and a restarted worker serves the next request.
#include "flow_helpers.hpp"

#include <osago/common/http_client.hpp>
#include <osago/common/ids.hpp>

#include <gtest/gtest.h>

#include <librdkafka/rdkafkacpp.h>

#include <csignal>
#include <dirent.h>
#include <filesystem>
#include <sys/wait.h>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace {

using namespace osago::testing;
using nlohmann::json;
using namespace std::chrono_literals;

const char* const kFaultVin = "FAULT000000000000";

/// What each input-triggered fault must end as.
const std::map<std::string, std::set<std::string>>& expectedCodes() {
  static const std::map<std::string, std::set<std::string>> kCodes = {
      {"segfault", {"PLUGIN_CRASHED"}},
      {"abort", {"PLUGIN_CRASHED"}},
      {"stack_overflow", {"PLUGIN_CRASHED"}},
      {"cxx_throw", {"PLUGIN_ERROR", "PLUGIN_CRASHED"}},  // caught by the worker, or terminate() → SIGABRT
      {"endless_loop", {"PLUGIN_HUNG"}},
      {"stderr_flood", {"PLUGIN_HUNG"}},  // its writes block once over the host's stderr budget
#ifndef OSAGO_SANITIZED
      {"alloc_limit", {"PLUGIN_ERROR", "PLUGIN_CRASHED"}},  // malloc fails at the limit; then maybe the worker too
#else
      // No data limit in a sanitizer build: it allocates until killed at its budget.
      {"alloc_limit", {"PLUGIN_ERROR", "PLUGIN_CRASHED", "PLUGIN_HUNG"}},
#endif
      {"fd_leak", {"PLUGIN_ERROR"}},
      {"null_field", {"PLUGIN_ERROR"}},
      {"number_field", {"PLUGIN_ERROR"}},
      {"array_field", {"PLUGIN_ERROR"}},
      {"invalid_json", {"PLUGIN_ERROR"}},
      {"no_reply", {"PLUGIN_ERROR"}},
      {"two_replies", {"PLUGIN_ERROR"}},
      {"huge_reply", {"PLUGIN_ERROR"}},
      {"connect_pg", {"PLUGIN_FORBIDDEN"}},
      {"read_passwd", {"PLUGIN_FORBIDDEN"}},
      {"kill_host", {"PLUGIN_FORBIDDEN"}},  // kill(getppid(), SIGKILL): the worker runs as the aggregator's user
      {"egress", {"PLUGIN_FORBIDDEN"}},
  };
  return kCodes;
}

const std::vector<std::string>& loadFaults() {
  static const std::vector<std::string> kModes = {"entry_hangs", "entry_crashes", "create_hangs", "create_crashes"};
  return kModes;
}

std::string companyOf(std::string mode) {
  for (auto& c : mode)
    if (c == '_') c = '-';
  return "fault-" + mode;
}

/// The fields of /proc/<pid>/stat after the command name (field 3, the state, first); empty when it is gone.
std::vector<std::string> statFields(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto close = text.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream rest(text.substr(close + 2));
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

/// CPU seconds (user + system, fields 14 and 15) of `pid`.
double cpuSeconds(pid_t pid) {
  auto f = statFields(pid);
  if (f.size() < 13) return 0;
  return (std::stod(f[11]) + std::stod(f[12])) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

pid_t parentOf(pid_t pid) {
  auto f = statFields(pid);
  return f.size() < 2 ? 0 : std::stoi(f[1]);
}

/// The aggregator and all its worker processes.
std::vector<pid_t> familyOf(pid_t root) {
  std::vector<pid_t> out{root};
  if (DIR* d = ::opendir("/proc")) {
    while (dirent* e = ::readdir(d)) {
      pid_t pid = std::atoi(e->d_name);
      if (pid > 0 && parentOf(pid) == root) out.push_back(pid);
    }
    ::closedir(d);
  }
  return out;
}

long rssKiB(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

json faultQuote(bool trigger) {
  json body = quote();
  if (trigger) body["vehicle"]["vin"] = kFaultVin;
  body["userId"] = "isolation-test";
  body["correlationId"] = osago::newUuid();
  return body;
}

std::string metricsText(const std::string& url) {
  osago::http::ClientRequest req;
  req.url = url + "/metrics";
  req.timeout = std::chrono::seconds(5);
  return osago::http::call(req).body;
}

class Isolation : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string dir = OSAGO_TEST_FAULT_PLUGIN_DIR;
    std::vector<std::string> modes;
    for (const auto& [mode, codes] : expectedCodes()) modes.push_back(mode);
    for (const auto& mode : loadFaults()) modes.push_back(mode);
    for (const auto& mode : modes)
      stack().installPlugin(dir + "/osago_fault_" + mode + ".so", "osago_fault_" + mode,
                            "companies:\n  - {id: " + companyOf(mode) + ", name: \"" + mode +
                                "\", call_timeout_ms: 1000, max_concurrent_calls: 2}\n");
    ASSERT_EQ(admin("POST", "/admin/plugins/rescan").status, 200);
    for (const auto& [mode, codes] : expectedCodes())
      ASSERT_EQ(admin("POST", "/admin/plugins/fault-" + mode + "/enable").status, 200) << mode;
    for (const char* mode : {"create_hangs", "create_crashes"})
      ASSERT_EQ(admin("POST", std::string("/admin/plugins/fault-") + mode + "/enable").status, 200) << mode;
  }
};

TEST_F(Isolation, APluginThatFailsToLoadIsRefusedWithTheReasonAndNothingElseIsHarmed) {
  auto listing = admin("GET", "/admin/plugins").body;
  std::map<std::string, std::string> rejected;
  for (const auto& r : listing["rejected"]) rejected[r["file"].get<std::string>()] = r["error"].get<std::string>();
  auto error_of = [&](const std::string& mode) {
    for (const auto& [file, error] : rejected)
      if (file.find("osago_fault_" + mode + ".so") != std::string::npos) return error;
    return std::string("(not rejected)");
  };
  EXPECT_NE(error_of("entry_hangs").find("did not finish loading"), std::string::npos) << error_of("entry_hangs");
  EXPECT_NE(error_of("entry_crashes").find("SIGSEGV"), std::string::npos) << error_of("entry_crashes");

  for (const auto& [mode, expected] : std::map<std::string, std::string>{{"create_hangs", "did not finish loading"},
                                                                         {"create_crashes", "SIGSEGV"}}) {
    auto plugin = pluginNamed(listing, "fault-" + mode);
    ASSERT_FALSE(plugin.is_null()) << mode << " loads (its entry point is fine)";
    auto company = plugin["companies"][0];
    EXPECT_EQ(company["state"], "UNAVAILABLE") << mode;
    EXPECT_NE(company["error"].get<std::string>().find(expected), std::string::npos) << company.dump();
  }
  EXPECT_EQ(pluginNamed(listing, "polisnet")["isolation"], "process") << "the default for every plugin";
  EXPECT_EQ(httpJson("GET", stack().aggregatorUrl() + "/health/ready").status, 200)
      << "readiness stays green while other plugins serve";
}

TEST_F(Isolation, EveryMisbehaviourStaysWithItsCompany) {
  pid_t aggregator = stack().pidOf("osago-aggregator");
  ASSERT_GT(aggregator, 0);

  auto created = aggregatorJson("POST", stack().aggregatorUrl() + "/osago/requests", faultQuote(true));
  ASSERT_EQ(created.status, 201) << created.body.dump();
  auto final_view = byCompany(waitFinal(created.body["osagoRequestId"])["insuranceCompanies"]);

  EXPECT_EQ(::kill(aggregator, 0), 0) << "the aggregator is the same process afterwards";
  EXPECT_EQ(stack().pidOf("osago-aggregator"), aggregator);
  for (const auto& [insurer, rate] : TestStack::offeringInsurers())
    EXPECT_EQ(final_view[insurer]["status"], "COMPLETED") << insurer << " (another company of the same request)";
  for (const auto& [mode, codes] : expectedCodes()) {
    const auto& c = final_view[companyOf(mode)];
    EXPECT_EQ(c["status"], "FAILED") << mode << ": " << c.dump();
    std::string code = c["error"].value("code", "");
    EXPECT_TRUE(codes.count(code)) << mode << " ended " << code << ": " << c.dump();
  }
  auto message = [&](const std::string& mode) { return final_view[companyOf(mode)]["error"].value("message", ""); };
  EXPECT_NE(message("segfault").find("SIGSEGV"), std::string::npos) << message("segfault");
  EXPECT_NE(message("abort").find("SIGABRT"), std::string::npos) << message("abort");
  EXPECT_NE(message("segfault").find("quarantined"), std::string::npos) << "after two worker deaths: " << message("segfault");
  EXPECT_NE(message("read_passwd").find("openat"), std::string::npos) << message("read_passwd");
  EXPECT_NE(message("connect_pg").find("socket"), std::string::npos) << message("connect_pg");
  EXPECT_NE(message("kill_host").find("kill"), std::string::npos) << message("kill_host");
  EXPECT_NE(message("egress").find("outside its manifest"), std::string::npos) << message("egress");
  EXPECT_NE(message("huge_reply").find("over the limit"), std::string::npos) << message("huge_reply");
  EXPECT_NE(message("number_field").find("'outcome'"), std::string::npos) << message("number_field");

  // Within seconds nothing is left burning CPU: not the aggregator, not a worker.
  std::this_thread::sleep_for(2s);
  auto family = familyOf(aggregator);
  double before = 0;
  for (pid_t pid : family) before += cpuSeconds(pid);
  std::this_thread::sleep_for(2s);
  double after = 0;
  for (pid_t pid : family) after += cpuSeconds(pid);
  EXPECT_LT(after - before, 0.5) << "CPU seconds used in 2 s by the aggregator and its " << family.size() - 1 << " workers";
  EXPECT_LT(rssKiB(aggregator), 400 * 1024) << "the aggregator's RSS (a 64 MB reply and a leak stayed in workers)";

  // The worker was restarted and serves the next request.
  auto next = aggregatorJson("POST", stack().aggregatorUrl() + "/osago/requests", faultQuote(false));
  ASSERT_EQ(next.status, 201);
  auto next_view = byCompany(waitFinal(next.body["osagoRequestId"])["insuranceCompanies"]);
  for (const auto& [mode, codes] : expectedCodes())
    EXPECT_EQ(next_view[companyOf(mode)]["status"], "COMPLETED") << mode << ": " << next_view[companyOf(mode)].dump();

  // What operators see.
  auto segfault = pluginNamed(admin("GET", "/admin/plugins").body, "fault-segfault")["companies"][0];
  EXPECT_GE(segfault["worker"]["restarts"].get<int>(), 2) << segfault.dump();
  EXPECT_EQ(segfault["worker"]["lastExit"]["signal"], "SIGSEGV") << segfault.dump();
  EXPECT_GE(segfault["health"]["quarantined"].get<int>(), 1) << segfault.dump();
  EXPECT_EQ(segfault["worker"]["state"], "RUNNING");
  std::string metrics = metricsText(stack().aggregatorUrl());
  EXPECT_NE(metrics.find("osago_plugin_worker_restarts_total{company=\"fault-segfault\",reason=\"crash\"}"), std::string::npos);
  EXPECT_NE(metrics.find("osago_plugin_denied_total{company=\"fault-egress\",kind=\"egress\"}"), std::string::npos);
  EXPECT_NE(metrics.find("osago_plugin_denied_total{company=\"fault-read-passwd\",kind=\"syscall\"}"), std::string::npos);
  EXPECT_NE(metrics.find("osago_rejected_documents_total{source=\"plugin_outcome\"}"), std::string::npos);
  EXPECT_NE(metrics.find("osago_quote_quarantined_total{company=\"fault-segfault\",reason=\"worker_crashes\"}"),
            std::string::npos);
  EXPECT_NE(metrics.find("osago_plugin_worker_up{company=\"fault-segfault\"} 1"), std::string::npos);
}

TEST_F(Isolation, APoisonousRequestIsQuarantinedAfterTwoWorkerDeathsOverTwoInstances) {
  std::string second = stack().secondAggregatorUrl();
  pid_t first_pid = stack().pidOf("osago-aggregator"), second_pid = stack().pidOf("osago-aggregator-2");
  pid_t core_pid = stack().pidOf("core-app"), simulator_pid = stack().pidOf("insurer-simulator");
  auto restarts = [&](const std::string& url) {
    auto c = pluginNamed(admin("GET", "/admin/plugins", url).body, "fault-segfault")["companies"][0];
    return c["worker"].value("restartsByReason", json::object()).value("crash", 0);
  };
  int before = restarts(stack().aggregatorUrl()) + restarts(second);

  auto created = aggregatorJson("POST", second + "/osago/requests", faultQuote(true));
  ASSERT_EQ(created.status, 201);
  std::string id = created.body["osagoRequestId"];
  auto view = byCompany(waitFinal(id, second)["insuranceCompanies"]);
  EXPECT_EQ(view["fault-segfault"]["status"], "FAILED");
  EXPECT_EQ(view["fault-segfault"]["error"]["code"], "PLUGIN_CRASHED");
  EXPECT_EQ(stack().query("SELECT worker_crashes FROM company_quotes WHERE request_id = '" + id +
                          "' AND company_id = 'fault-segfault'"),
            std::vector<std::string>{"2"});
  // Restarts are counted when the death is noticed, at once; allow the last one a moment.
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(restarts(stack().aggregatorUrl()) + restarts(second) - before, 2) << "two worker deaths in total";
  EXPECT_EQ(stack().pidOf("osago-aggregator"), first_pid);
  EXPECT_EQ(stack().pidOf("osago-aggregator-2"), second_pid);
  EXPECT_EQ(::kill(first_pid, 0), 0) << "no process of the stack restarted";
  EXPECT_EQ(::kill(second_pid, 0), 0);
  EXPECT_EQ(stack().pidOf("core-app"), core_pid);
  EXPECT_EQ(stack().pidOf("insurer-simulator"), simulator_pid);
  EXPECT_EQ(::kill(core_pid, 0), 0);
}

TEST_F(Isolation, AWrongTypedEventIsSkippedAndCountedByEveryCoreApp) {
  std::string second_core = stack().secondCoreUrl();
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", stack().kafkaBrokers(), err);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  ASSERT_TRUE(producer) << err;
  std::string bad = R"({"osagoRequestId":"x","eventId":1})";
  for (int i = 0; i < 3; ++i) {
    auto code = producer->produce(stack().topic(), RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                                  bad.data(), bad.size(), "x", 1, 0, nullptr);
    ASSERT_EQ(code, RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(producer->flush(10000), RdKafka::ERR_NO_ERROR);

  const std::string series = "osago_rejected_documents_total{source=\"kafka_event\"}";
  for (const std::string& core : {stack().coreUrl(), second_core}) {
    bool counted = false;
    for (int i = 0; i < 100 && !counted; ++i) {
      counted = metricsText(core).find(series) != std::string::npos;
      if (!counted) std::this_thread::sleep_for(200ms);
    }
    EXPECT_TRUE(counted) << core << " did not count the malformed event";
    EXPECT_EQ(httpJson("GET", core + "/health/ready").status, 200) << core << " is still up";
  }
  // Both keep streaming other requests' events.
  for (const std::string& core : {stack().coreUrl(), second_core}) {
    std::string token = stack().issueToken("isolation-streams", 600s);
    auto created = httpJson("POST", core + "/api/osago/requests", quote(), token);
    ASSERT_EQ(created.status, 201) << created.body.dump();
    std::string id = created.body["osagoRequestId"];
    auto [status, events] = readEventStream(core + "/api/osago/requests/" + id + "/stream", token, 30s);
    EXPECT_EQ(status, 200);
    int offers = 0;
    for (const auto& e : events)
      if (e.data.is_object() && e.data.value("status", "") == "COMPLETED") ++offers;
    EXPECT_GE(offers, 6) << core << ": offers streamed after the bad event";
  }
}

TEST_F(Isolation, ATrustedInProcessPluginThatCrashesItsInstanceIsQuarantinedAfterThreeDeaths) {
  // Only this instance runs, with fault-segfault trusted in process (and polisnet in a worker):
  // the poisonous input ends the whole aggregator, as in-process code can; restarted as systemd
  // would, it must quarantine the work on its fourth claim instead of dying forever.
  stack().stop("osago-aggregator-2", SIGTERM);
  stack().stopFirstAggregator(SIGTERM);
  std::string dir = stack().workDir() + "/plugins-trusting";
  std::filesystem::create_directories(dir);
  std::filesystem::copy_file(stack().pluginDir() + "/osago_fault_segfault.so", dir + "/osago_fault_segfault.so");
  std::filesystem::copy_file(stack().pluginDir() + "/osago_fault_segfault.yaml", dir + "/osago_fault_segfault.yaml");
  std::filesystem::copy_file(stack().pluginDir() + "/osago_plugin_polisnet.so", dir + "/osago_plugin_polisnet.so");
  std::filesystem::copy_file(stack().pluginDir() + "/osago_plugin_polisnet.yaml", dir + "/osago_plugin_polisnet.yaml");
  const std::map<std::string, std::string> env = {{"OSAGO_PLUGIN_DIR", dir},
                                                  {"OSAGO_AGGREGATOR__PLUGINS__IN_PROCESS", "[fault-segfault]"},
                                                  {"OSAGO_QUOTE_DEADLINE_SECONDS", "60"}};
  std::string url = stack().startExtraAggregator("osago-aggregator-trusting", env);
  auto listing = admin("GET", "/admin/plugins", url).body;
  ASSERT_EQ(pluginNamed(listing, "fault-segfault")["isolation"], "in_process");
  ASSERT_EQ(pluginNamed(listing, "polisnet")["isolation"], "process");

  int deaths = 0;
  // Waits for the instance to die of the plugin, restarts it as systemd would, and counts the death;
  // false when it lived on for 10 s.
  auto diedOfThePlugin = [&] {
    int status = stack().waitForExit("osago-aggregator-trusting", 10s);
    if (status == -1) return false;
    // The plugin's segfault ends the instance: SIGSEGV, or SIGABRT where Poco's own SIGSEGV
    // handler is installed (libPocoFoundation aborts from it; seen in a core dump).
    EXPECT_TRUE(WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGABRT)) << "status " << status;
    ++deaths;
    url = stack().startExtraAggregator("osago-aggregator-trusting", env);
    return true;
  };
  // Storing the request wakes the scheduler at once, so the instance may die before its 201 is
  // sent; the client then sends the same body again (same correlationId, so the same request).
  const json body = faultQuote(true);
  std::string id;
  while (id.empty() && deaths < 5) {
    try {
      auto created = aggregatorJson("POST", url + "/osago/requests", body);
      ASSERT_TRUE(created.status == 201 || created.status == 200) << created.status << " " << created.body.dump();
      id = created.body["osagoRequestId"];
    } catch (const std::exception& e) {
      ASSERT_TRUE(diedOfThePlugin()) << "no answer to the create, yet the instance lives on: " << e.what();
    }
  }
  ASSERT_FALSE(id.empty());
  while (deaths < 5 && diedOfThePlugin()) {
  }
  EXPECT_EQ(deaths, 3) << "three instances died working on it; the fourth claim quarantined it";
  auto view = byCompany(waitFinal(id, url)["insuranceCompanies"]);
  EXPECT_EQ(view["fault-segfault"]["status"], "FAILED");
  EXPECT_EQ(view["fault-segfault"]["error"]["code"], "PLUGIN_CRASHED");
  EXPECT_NE(view["fault-segfault"]["error"]["message"].get<std::string>().find("quarantined"), std::string::npos)
      << view["fault-segfault"].dump();
  EXPECT_EQ(stack().waitForExit("osago-aggregator-trusting", 2s), -1) << "the instance lives on";

  stack().stop("osago-aggregator-trusting", SIGTERM);
  stack().restartFirstAggregator();
}

/// The text of a /proc file of `pid` ("" when it is gone).
std::string procFile(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + name);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool gone(pid_t pid) {
  auto f = statFields(pid);
  return f.empty() || f[0] == "Z";
}

TEST_F(Isolation, AWorkerRunsBoundedWithNoEnvironmentInItsSandboxAndDiesWithItsHost) {
  pid_t aggregator = stack().pidOf("osago-aggregator");
  auto polisnet = pluginNamed(admin("GET", "/admin/plugins").body, "polisnet");
  pid_t worker = 0;
  for (const auto& c : polisnet["companies"])
    if (c["id"] == "severny-shchit") worker = c["worker"]["pid"].get<pid_t>();
  ASSERT_GT(worker, 0);
  EXPECT_EQ(parentOf(worker), aggregator);
  EXPECT_NE(procFile(worker, "cmdline").find("osago-plugin-worker"), std::string::npos);
  EXPECT_EQ(procFile(worker, "environ"), "") << "no environment: no DSN, no admin token, no other partner's secret";
  std::string status = procFile(worker, "status");
  EXPECT_NE(status.find("Seccomp:\t2"), std::string::npos) << "a seccomp filter is in force";
  EXPECT_NE(status.find("NoNewPrivs:\t1"), std::string::npos);
  EXPECT_EQ(procFile(worker, "oom_score_adj"), "1000\n") << "short of memory, the kernel kills a worker before its host";
  std::string limits = procFile(worker, "limits");
  auto limit = [&](const std::string& name) {
    auto at = limits.find(name);
    if (at == std::string::npos) return std::string("?");
    std::istringstream line(limits.substr(at + name.size()));
    std::string soft;
    line >> soft;
    return soft;
  };
#ifndef OSAGO_SANITIZED
  EXPECT_EQ(limit("Max data size"), std::to_string(256LL << 20)) << "plugins.worker.memory_mb of the test stack";
#else
  EXPECT_EQ(limit("Max data size"), "unlimited") << "a sanitizer build sets no data limit (its shadow memory would not fit)";
#endif
  EXPECT_EQ(limit("Max core file size"), "0");
  EXPECT_EQ(limit("Max open files"), std::to_string(64 + 6 + 8))
      << "max_open_files + its own descriptors (0-4, the library) + 8 call channels";
  // It loaded its library from the descriptor the host verified (after its 8 channels), not by name.
  std::error_code ec;
  auto library = std::filesystem::read_symlink("/proc/" + std::to_string(worker) + "/fd/" + std::to_string(5 + 8), ec);
  EXPECT_NE(library.string().find("/plugin-cache/"), std::string::npos) << "fd 13 of the worker: " << library;
  EXPECT_EQ(library.extension(), ".so") << library;

  // Killed without a chance to clean up, the aggregator takes its workers with it.
  auto family = familyOf(aggregator);
  ASSERT_GT(family.size(), 5u);
  stack().stopFirstAggregator(SIGKILL);
  bool all_gone = false;
  for (int i = 0; i < 50 && !all_gone; ++i) {
    all_gone = true;
    for (std::size_t k = 1; k < family.size(); ++k) all_gone = all_gone && gone(family[k]);
    if (!all_gone) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(all_gone) << "every worker died with its aggregator within 5 s";
  stack().restartFirstAggregator();
}

}  // namespace
