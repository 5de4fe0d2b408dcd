// Plugins as operators and partner engineers use them: the admin REST API, the
// switch shared by instances, the conformance kit, and the plugin guide
// followed literally — against the real binaries, PostgreSQL and Kafka.
#include "flow_helpers.hpp"

#include <osago/common/ids.hpp>
#include <osago/plugin_abi.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <sstream>
#include <sys/wait.h>
#include <thread>

namespace {

using namespace osago::testing;
using nlohmann::json;
namespace fs = std::filesystem;

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

/// Runs `script` with bash (errexit, pipefail) and `env` added; output goes to `log` too.
CommandResult runShell(const std::string& script, const std::map<std::string, std::string>& env, const std::string& log) {
  std::string file = log + ".sh";
  {
    std::ofstream out(file);
    out << "set -euo pipefail\n";
    for (const auto& [k, v] : env) out << "export " << k << "='" << v << "'\n";
    out << script << "\n";
  }
  std::string command = "bash " + file + " > " + log + " 2>&1";
  int status = std::system(command.c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

std::string sha256Of(const fs::path& file) {
  auto r = runShell("sha256sum '" + file.string() + "' | cut -d' ' -f1", {}, stack().logDir() + "/sha256");
  return r.output.substr(0, 64);
}

TEST(PluginAdmin, RequiresTheAdminToken) {
  EXPECT_EQ(httpJson("GET", stack().aggregatorUrl() + "/admin/plugins").status, 401);
  EXPECT_EQ(httpJson("GET", stack().aggregatorUrl() + "/admin/plugins", nullptr, "wrong-token-wrong-token").status, 401);
  EXPECT_EQ(httpJson("POST", stack().aggregatorUrl() + "/admin/plugins/garant/disable", nullptr, "x").status, 401);
  EXPECT_EQ(admin("GET", "/admin/plugins").status, 200);
}

TEST(PluginAdmin, ListsEveryPluginWithItsDigestAndCompanies) {
  auto r = admin("GET", "/admin/plugins");
  ASSERT_EQ(r.status, 200);
  for (const char* id : {"polisnet", "garant", "volna"}) {
    json p = pluginNamed(r.body, id);
    ASSERT_FALSE(p.is_null()) << id;
    EXPECT_EQ(p["state"], "LOADED");
    EXPECT_EQ(p["enabled"], true);
    EXPECT_EQ(p["abiVersion"], std::to_string(OSAGO_PLUGIN_ABI_MAJOR) + "." + std::to_string(OSAGO_PLUGIN_ABI_MINOR))
        << "built against this ABI";
    EXPECT_FALSE(p["version"].get<std::string>().empty());
    EXPECT_EQ(p["sha256"], sha256Of(p["file"].get<std::string>())) << "the digest of the file in the plugin directory";
  }
  auto polisnet = pluginNamed(r.body, "polisnet");
  std::set<std::string> companies;
  for (const auto& c : polisnet["companies"]) companies.insert(c["id"].get<std::string>());
  EXPECT_EQ(companies, (std::set<std::string>{"severny-shchit", "ural-polis", "slow", "ghost"}));
  for (const auto& c : polisnet["companies"])
    if (c["id"] == "ghost") {
      EXPECT_EQ(c["state"], "UNAVAILABLE") << "its manifest gives no apiKey";
    }
  EXPECT_EQ(admin("POST", "/admin/plugins/no-such-plugin/disable").status, 404);
  EXPECT_EQ(admin("POST", "/admin/plugins/no-such-plugin/disable").body["error"], "UNKNOWN_PLUGIN");
}

TEST(PluginAdmin, DisablingThroughOneInstanceStopsCallsFromAnother) {
  std::string second = stack().secondAggregatorUrl();
  auto count = [](const std::string& insurer) {
    return httpJson("GET", stack().simulatorUrl() + "/control/insurers/" + insurer).body["stats"]["applications"].get<long>();
  };

  ASSERT_EQ(admin("POST", "/admin/plugins/garant/disable").status, 200);
  // The second instance follows the switch in PostgreSQL within seconds.
  bool seen = false;
  for (int i = 0; i < 50 && !seen; ++i) {
    seen = pluginNamed(admin("GET", "/admin/plugins", second).body, "garant")["enabled"] == false;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(seen) << "instance 2 did not see the switch within 5 s";

  long volga_before = count("volga-garant"), baltic_before = count("baltiyskaya");
  json body = quote();
  body["userId"] = "operator-test";
  body["correlationId"] = osago::newUuid();
  auto created = aggregatorJson("POST", second + "/osago/requests", body);
  ASSERT_EQ(created.status, 201);
  auto initial = byCompany(created.body["insuranceCompanies"]);
  EXPECT_EQ(initial["volga-garant"]["status"], "FAILED") << "reported, not silently dropped";
  EXPECT_EQ(initial["baltiyskaya"]["status"], "FAILED");
  auto final_view = byCompany(waitFinal(created.body["osagoRequestId"], second)["insuranceCompanies"]);
  EXPECT_EQ(final_view["volga-garant"]["error"]["code"], "COMPANY_DISABLED");
  EXPECT_EQ(final_view["severny-shchit"]["status"], "COMPLETED") << "the other partners are not affected";
  EXPECT_EQ(count("volga-garant"), volga_before) << "no call reached the disabled partner";
  EXPECT_EQ(count("baltiyskaya"), baltic_before);

  ASSERT_EQ(admin("POST", "/admin/plugins/garant/enable", second).status, 200);
  seen = false;
  for (int i = 0; i < 50 && !seen; ++i) {
    seen = pluginNamed(admin("GET", "/admin/plugins").body, "garant")["enabled"] == true;
    if (!seen) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(seen);
  body["correlationId"] = osago::newUuid();
  auto again = aggregatorJson("POST", stack().aggregatorUrl() + "/osago/requests", body);
  ASSERT_EQ(again.status, 201);
  auto back = byCompany(waitFinal(again.body["osagoRequestId"])["insuranceCompanies"]);
  EXPECT_EQ(back["volga-garant"]["status"], "COMPLETED");
  EXPECT_EQ(back["volga-garant"]["offer"]["premium"]["amount"], expectedPremium(quote(), 720000));
}

TEST(PluginAdmin, PartnerHealthIsOneViewOverEveryInstance) {
  std::string second = stack().secondAggregatorUrl();
  EXPECT_EQ(httpJson("GET", stack().aggregatorUrl() + "/admin/partners").status, 401);
  std::string first_id = admin("GET", "/admin/plugins").body["instance"];
  std::string second_id = admin("GET", "/admin/plugins", second).body["instance"];
  ASSERT_NE(first_id, second_id);
  // Each instance reports every 2 s; either one answers with both reports.
  json severny;
  for (int i = 0; i < 50; ++i) {
    auto r = admin("GET", "/admin/partners", i % 2 ? second : stack().aggregatorUrl());
    ASSERT_EQ(r.status, 200) << r.body.dump();
    severny = nullptr;
    for (const auto& c : r.body["companies"])
      if (c["id"] == "severny-shchit") severny = c;
    if (!severny.is_null() && severny["instances"] == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(severny.is_null());
  ASSERT_EQ(severny["instances"], 2) << severny.dump();
  EXPECT_EQ(severny["plugin"], "polisnet");
  std::set<std::string> instances;
  long long calls = 0;
  for (const auto& i : severny["perInstance"]) {
    instances.insert(i["instance"].get<std::string>());
    calls += i["health"]["calls"].get<long long>();
    EXPECT_TRUE(i["health"].contains("breaker"));
    EXPECT_TRUE(i["health"].contains("retryBudget"));
    EXPECT_LT(i["ageMs"].get<long long>(), 10000);
  }
  EXPECT_EQ(instances, (std::set<std::string>{first_id, second_id}));
  EXPECT_EQ(severny["calls"].get<long long>(), calls) << "the fleet total is the sum of the instances' counters";
  EXPECT_GT(calls, 0) << "earlier tests called this partner";
  EXPECT_TRUE(severny["breaker"] == "CLOSED" || severny["breaker"] == "OPEN" || severny["breaker"] == "HALF_OPEN");
}

TEST(ConformanceKit, TheBundledPluginsPassEveryScenario) {
  for (const char* plugin : {"polisnet", "garant", "volna"}) {
    std::string so = stack().pluginDir() + "/osago_plugin_" + plugin + ".so";
    // The stack's manifest, pointed at the simulator's plain HTTP port the kit drives (it allows loopback HTTP).
    std::ifstream in(stack().pluginDir() + "/osago_plugin_" + plugin + ".yaml");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    for (auto at = text.find(stack().simulatorTlsUrl()); at != std::string::npos; at = text.find(stack().simulatorTlsUrl()))
      text.replace(at, stack().simulatorTlsUrl().size(), stack().simulatorUrl());
    std::string manifest = stack().logDir() + "/kit-" + plugin + ".yaml";
    std::ofstream(manifest) << text;
    auto r = runShell("'" OSAGO_TEST_PLUGIN_CHECK_BIN "' '" + so + "' --manifest '" + manifest + "' --simulator " +
                          stack().simulatorUrl(),
                      {}, stack().logDir() + "/plugin-check-" + plugin);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("11 passed, 0 failed"), std::string::npos) << r.output;
    for (const char* selling : {"purchase to policy     PASS", "purchase idempotent    PASS", "purchase declined      PASS"})
      EXPECT_NE(r.output.find(selling), std::string::npos) << plugin << ": " << selling << "\n" << r.output;
    EXPECT_NE(r.output.find("wrong-typed fields     PASS"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("oversized body         PASS"), std::string::npos) << r.output;
  }
}

TEST(ConformanceKit, ABrokenPluginFails) {
  std::string manifest = stack().logDir() + "/throws.yaml";
  std::ofstream(manifest) << "companies:\n  - {id: severny-shchit, name: x, settings: {baseUrl: \"" << stack().simulatorUrl()
                          << "/severny-shchit\"}, secrets: {apiKey: k-severny}}\n";
  auto r = runShell("'" OSAGO_TEST_PLUGIN_CHECK_BIN "' '" OSAGO_TEST_THROWS_SO "' --manifest '" + manifest +
                        "' --simulator " + stack().simulatorUrl(),
                    {}, stack().logDir() + "/plugin-check-throws");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("FAIL"), std::string::npos) << r.output;
}

TEST(ConformanceKit, AManifestPointingAwayFromTheSimulatorIsRefusedUpFront) {
  std::string manifest = stack().logDir() + "/elsewhere.yaml";
  std::ofstream(manifest) << "companies:\n  - {id: severny-shchit, name: x, settings: {baseUrl: "
                             "\"http://127.0.0.1:9/severny-shchit\"}, secrets: {apiKey: k-severny}}\n";
  std::string so = stack().pluginDir() + "/osago_plugin_polisnet.so";
  auto r = runShell("'" OSAGO_TEST_PLUGIN_CHECK_BIN "' '" + so + "' --manifest '" + manifest + "' --simulator " +
                        stack().simulatorUrl(),
                    {}, stack().logDir() + "/plugin-check-elsewhere");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("is not on the simulator this check drives"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("PASS"), std::string::npos) << "no scenario may pass against another address: " << r.output;
}

TEST(PluginGuide, APartnerEngineerFollowsItLiterally) {
  // Every ```sh block of the guide, in order.
  std::ifstream guide(OSAGO_TEST_SOURCE_DIR "/docs/plugin-guide.md");
  std::vector<std::string> blocks;
  std::string line, current;
  bool inside = false;
  while (std::getline(guide, line)) {
    if (!inside && line == "```sh") {
      inside = true;
      current.clear();
    } else if (inside && line == "```") {
      inside = false;
      blocks.push_back(current);
    } else if (inside) {
      current += line + "\n";
    }
  }
  ASSERT_GE(blocks.size(), 6u) << "the guide lost its steps";
  std::string work = stack().logDir() + "/guide";
  std::map<std::string, std::string> env = {
      {"OSAGO_SOURCE", OSAGO_TEST_SOURCE_DIR},     {"OSAGO_BUILD", OSAGO_TEST_BUILD_DIR},
      {"SDK_PREFIX", work + "/sdk"},               {"WORK", work + "/work"},
      {"SIMULATOR", stack().simulatorUrl()},       {"OSAGO_SECRET_DOBRY_PUT_BASE_URL", stack().simulatorUrl() + "/dobry-put"},
      {"PLUGIN_DIR", stack().pluginDir()},         {"AGGREGATOR", stack().aggregatorUrl()},
      {"ADMIN_TOKEN", stack().adminToken()}};
  ASSERT_TRUE(pluginNamed(admin("GET", "/admin/plugins").body, "hello-insurer").is_null());

  // Every step but the last (switching it on).
  for (std::size_t i = 0; i + 1 < blocks.size(); ++i) {
    auto r = runShell(blocks[i], env, work + "-step" + std::to_string(i + 1) + ".log");
    ASSERT_EQ(r.exit_code, 0) << "guide step " << i + 1 << ":\n" << blocks[i] << "\n" << r.output;
  }
  json hello = pluginNamed(admin("GET", "/admin/plugins").body, "hello-insurer");
  ASSERT_FALSE(hello.is_null()) << "dropped in, rescanned, and listed — no rebuild, no restart";
  EXPECT_EQ(hello["enabled"], false) << "a new partner starts switched off";
  EXPECT_EQ(hello["version"], "1.0.0");
  std::string token = login("guide-reader");
  auto before = httpJson("POST", stack().coreUrl() + "/api/osago/requests", quote(), token);
  ASSERT_EQ(before.status, 201);
  EXPECT_EQ(byCompany(before.body["insuranceCompanies"])["dobry-put"]["status"], "FAILED");

  auto last = runShell(blocks.back(), env, work + "-step" + std::to_string(blocks.size()) + ".log");
  ASSERT_EQ(last.exit_code, 0) << last.output;
  auto after = httpJson("POST", stack().coreUrl() + "/api/osago/requests", quote(), token);
  ASSERT_EQ(after.status, 201);
  auto companies = byCompany(waitFinal(after.body["osagoRequestId"])["insuranceCompanies"]);
  EXPECT_EQ(companies["dobry-put"]["status"], "COMPLETED") << companies["dobry-put"].dump();
  EXPECT_EQ(companies["dobry-put"]["offer"]["premium"]["amount"], expectedPremium(quote(), 610000));

  // Removed from the directory, it can be switched off but not on.
  fs::remove(stack().pluginDir() + "/osago_plugin_hello_insurer.so");
  ASSERT_EQ(admin("POST", "/admin/plugins/rescan").status, 200);
  EXPECT_EQ(pluginNamed(admin("GET", "/admin/plugins").body, "hello-insurer")["state"], "NOT_LOADED");
  auto refused = admin("POST", "/admin/plugins/hello-insurer/enable");
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(refused.body["error"], "PLUGIN_NOT_LOADED");
  EXPECT_EQ(admin("POST", "/admin/plugins/hello-insurer/disable").status, 200);
}

}  // namespace
