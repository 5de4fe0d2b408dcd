// Configuration and plugin-manifest errors name the file, the key and the reason.
#include "config/aggregator_config.hpp"
#include "plugins/plugin_manifest.hpp"

#include <osago/common/errors.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace {

using osago::host::AggregatorConfig;
using osago::host::PluginManifest;

std::string write(const std::string& yaml) {
  auto dir = std::filesystem::temp_directory_path() / ("osago-cfg-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = dir / (std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ".yaml");
  std::ofstream(path) << yaml;
  return path.string();
}

// Every aggregator needs its service key (the test of it unsets and restores it).
const std::string kServiceKey(40, 'k');
[[maybe_unused]] const bool kServiceKeySet = ::setenv("OSAGO_SERVICE_TOKEN_SECRET", kServiceKey.c_str(), 1) == 0;
// As systemd's StateDirectory= gives it: where the plugin cache goes when the file names none.
[[maybe_unused]] const bool kStateDirectorySet = ::setenv("STATE_DIRECTORY", "/var/lib/osago-test-state", 1) == 0;

std::string errorOf(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const osago::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(AggregatorConfig, DefaultsFromAnEmptyFile) {
  auto file = write("log_level: information\n");
  auto cfg = AggregatorConfig::load(file);
  EXPECT_EQ(cfg.listen_port, 8081);
  EXPECT_EQ(cfg.quotes.deadline.count(), 60);
  EXPECT_FALSE(cfg.plugins.enable_new);
  EXPECT_EQ(cfg.plugins.directory, (std::filesystem::path(file).parent_path() / "plugins").string())
      << "a relative plugin directory is relative to the config file";
  EXPECT_FALSE(cfg.plugins.cache_directory.empty());
}

TEST(AggregatorConfig, UnknownKeyIsAnErrorNamingFileAndKey) {
  auto file = write("quotes:\n  deadline_secnds: 30\n");
  std::string msg = errorOf([&] { AggregatorConfig::load(file); });
  EXPECT_NE(msg.find(file), std::string::npos) << msg;
  EXPECT_NE(msg.find("quotes.deadline_secnds"), std::string::npos) << msg;
  EXPECT_NE(msg.find("unknown key"), std::string::npos) << msg;
}

TEST(AggregatorConfig, WrongTypeAndRangeAreErrors) {
  EXPECT_NE(errorOf([] { AggregatorConfig::load(write("listen:\n  port: eighty\n")); }).find("listen.port"), std::string::npos);
  EXPECT_NE(errorOf([] { AggregatorConfig::load(write("quotes:\n  workers: 0\n")); }).find("quotes.workers"), std::string::npos);
  EXPECT_NE(errorOf([] { AggregatorConfig::load(write("plugins:\n  allowed_sha256: [abc]\n")); }).find("allowed_sha256"),
            std::string::npos);
}

TEST(PluginManifest, CompaniesWithEnvironmentExpansion) {
  ::unsetenv("OSAGO_SECRET_A_COMPANY_SIM_URL");
  ::setenv("OSAGO_SECRET_A_COMPANY_API_KEY", "k-123", 1);
  std::string yaml = R"(
companies:
  - id: a-company
    name: "А"
    call_timeout_ms: 3000
    settings: {baseUrl: "${OSAGO_SECRET_A_COMPANY_SIM_URL:-https://127.0.0.1:1}/a"}
    secrets: {apiKey: "${OSAGO_SECRET_A_COMPANY_API_KEY}"}
)";
  auto m = PluginManifest::load(write(yaml));
  ASSERT_EQ(m.companies.size(), 1u);
  EXPECT_EQ(m.companies[0].settings["baseUrl"], "https://127.0.0.1:1/a");
  EXPECT_EQ(m.companies[0].secrets.at("apiKey"), "k-123");
  EXPECT_EQ(m.companies[0].call_timeout.count(), 3000);
  ::setenv("OSAGO_SECRET_A_COMPANY_SIM_URL", "https://sim:9", 1);
  EXPECT_EQ(PluginManifest::load(write(yaml)).companies[0].settings["baseUrl"], "https://sim:9/a");
  ::unsetenv("OSAGO_SECRET_A_COMPANY_SIM_URL");
  ::unsetenv("OSAGO_SECRET_A_COMPANY_API_KEY");
}

TEST(PluginManifest, AnEscapeThatYamlCppTurnsIntoAStrayByteIsRefused) {
  // YAML's "\_" is U+00A0, which yaml-cpp writes as the single byte 0xA0: the
  // settings could not be sent to the worker as JSON (the fuzz target plugin_manifest).
  auto why = errorOf([] {
    PluginManifest::load(write("companies:\n  - {id: a, name: A, settings: {baseUrl: \"https://p\\_x/\"}}\n"));
  });
  EXPECT_NE(why.find("companies[0].settings"), std::string::npos) << why;
  EXPECT_NE(why.find("is not valid UTF-8"), std::string::npos) << why;
  EXPECT_NE(errorOf([] { PluginManifest::load(write("companies:\n  - {id: a, name: \"\\_\"}\n")); }).find("is not valid UTF-8"),
            std::string::npos)
      << "a name read as a string is checked too";
}

TEST(PluginManifest, MistakesAreNamed) {
  EXPECT_NE(errorOf([] { PluginManifest::load(write("companies:\n  - {id: a, name: A, colour: red}\n")); })
                .find("companies[0].colour"),
            std::string::npos);
  EXPECT_NE(errorOf([] { PluginManifest::load(write("companies:\n  - {id: a, name: A}\n  - {id: a, name: B}\n")); })
                .find("duplicate company id"),
            std::string::npos);
  EXPECT_NE(errorOf([] { PluginManifest::load(write("companies:\n  - {id: Bad Id, name: A}\n")); }).find("companies[0].id"),
            std::string::npos);
  ::unsetenv("OSAGO_SECRET_A_UNSET_VARIABLE");
  EXPECT_NE(errorOf([] {
              PluginManifest::load(write("companies:\n  - {id: a, name: A, secrets: {k: \"${OSAGO_SECRET_A_UNSET_VARIABLE}\"}}\n"));
            }).find("environment variable OSAGO_SECRET_A_UNSET_VARIABLE is not set"),
            std::string::npos);
}

TEST(AggregatorConfig, EveryKeyCanBeOverriddenFromTheEnvironment) {
  auto file = write("quotes:\n  deadline_seconds: 60\nplugins:\n  enable_new: false\n");
  ::setenv("OSAGO_AGGREGATOR__QUOTES__DEADLINE_SECONDS", "45", 1);
  ::setenv("OSAGO_AGGREGATOR__PLUGINS__ENABLE_NEW", "true", 1);
  ::setenv("OSAGO_AGGREGATOR__PLUGINS__ALLOWED_SHA256", ("[" + std::string(64, 'a') + "]").c_str(), 1);
  auto cfg = AggregatorConfig::load(file);
  EXPECT_EQ(cfg.quotes.deadline.count(), 45);
  EXPECT_TRUE(cfg.plugins.enable_new);
  ASSERT_EQ(cfg.plugins.allowed_sha256.size(), 1u);

  ::setenv("OSAGO_AGGREGATOR__QUOTES__DEADLINE_SECONDS", "soon", 1);
  auto bad = errorOf([&] { AggregatorConfig::load(file); });
  EXPECT_NE(bad.find("OSAGO_AGGREGATOR__QUOTES__DEADLINE_SECONDS"), std::string::npos) << bad;
  EXPECT_NE(bad.find("quotes.deadline_seconds"), std::string::npos) << bad;
  ::unsetenv("OSAGO_AGGREGATOR__QUOTES__DEADLINE_SECONDS");

  ::setenv("OSAGO_AGGREGATOR__QUOTES__DEADLINE_SECOND", "45", 1);  // misspelt
  auto unknown = errorOf([&] { AggregatorConfig::load(file); });
  EXPECT_NE(unknown.find("OSAGO_AGGREGATOR__QUOTES__DEADLINE_SECOND"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find("names no configuration key"), std::string::npos) << unknown;
  for (const char* v : {"OSAGO_AGGREGATOR__QUOTES__DEADLINE_SECOND", "OSAGO_AGGREGATOR__PLUGINS__ENABLE_NEW",
                        "OSAGO_AGGREGATOR__PLUGINS__ALLOWED_SHA256"})
    ::unsetenv(v);
}

TEST(AggregatorConfig, AdminTokenRotationAcceptsASecondTokenBesideTheFirst) {
  auto file = write("log_level: information\n");
  ::setenv("OSAGO_ADMIN_TOKEN", "new-admin-token-0123", 1);
  ::setenv("OSAGO_ADMIN_TOKEN_ACCEPTED", "old-admin-token-0123", 1);
  auto cfg = AggregatorConfig::load(file);
  EXPECT_EQ(cfg.admin_token, "new-admin-token-0123");
  EXPECT_EQ(cfg.admin_token_accepted, "old-admin-token-0123");
  ::setenv("OSAGO_ADMIN_TOKEN_ACCEPTED", "short", 1);
  EXPECT_NE(errorOf([&] { AggregatorConfig::load(file); }).find("OSAGO_ADMIN_TOKEN_ACCEPTED"), std::string::npos);
  ::unsetenv("OSAGO_ADMIN_TOKEN");
  ::setenv("OSAGO_ADMIN_TOKEN_ACCEPTED", "old-admin-token-0123", 1);
  EXPECT_NE(errorOf([&] { AggregatorConfig::load(file); }).find("beside OSAGO_ADMIN_TOKEN"), std::string::npos)
      << "an accepted token alone would be the admin token under another name";
  ::unsetenv("OSAGO_ADMIN_TOKEN_ACCEPTED");
}

TEST(AggregatorConfig, TheServiceKeyIsRequiredAndMayRotate) {
  auto file = write("log_level: information\n");
  EXPECT_EQ(AggregatorConfig::load(file).service_token.current, kServiceKey);
  ::unsetenv("OSAGO_SERVICE_TOKEN_SECRET");
  auto missing = errorOf([&] { AggregatorConfig::load(file); });
  EXPECT_NE(missing.find("OSAGO_SERVICE_TOKEN_SECRET"), std::string::npos) << missing;
  EXPECT_NE(missing.find("must be set"), std::string::npos) << "no /osago/* API open to anyone: " << missing;
  ::setenv("OSAGO_SERVICE_TOKEN_SECRET", "short-key", 1);
  EXPECT_NE(errorOf([&] { AggregatorConfig::load(file); }).find("at least 32 characters"), std::string::npos);
  ::setenv("OSAGO_SERVICE_TOKEN_SECRET", kServiceKey.c_str(), 1);
  ::setenv("OSAGO_SERVICE_TOKEN_SECRET_ACCEPTED", std::string(40, 'o').c_str(), 1);
  auto rotating = AggregatorConfig::load(file);
  EXPECT_EQ(rotating.service_token.accepted, std::string(40, 'o'));
  ::setenv("OSAGO_SERVICE_TOKEN_SECRET_ACCEPTED", "short", 1);
  EXPECT_NE(errorOf([&] { AggregatorConfig::load(file); }).find("OSAGO_SERVICE_TOKEN_SECRET_ACCEPTED"), std::string::npos);
  ::unsetenv("OSAGO_SERVICE_TOKEN_SECRET_ACCEPTED");
}

TEST(AggregatorConfig, LogLevelAndFormatAreCheckedWithTheRestOfTheFile) {
  // A bad level used to pass --check-config and stop the start-up without "configuration error".
  auto level = errorOf([&] { AggregatorConfig::load(write("log_level: verbose\n")); });
  EXPECT_NE(level.find("log_level"), std::string::npos) << level;
  EXPECT_NE(level.find("unknown log level 'verbose'"), std::string::npos) << level;
  auto format = errorOf([&] { AggregatorConfig::load(write("log_format: xml\n")); });
  EXPECT_NE(format.find("log_format"), std::string::npos) << format;
}

}  // namespace

namespace {

TEST(AggregatorConfig, PluginWorkersAreTheDefaultAndTheirLimitsAreChecked) {
  auto cfg = AggregatorConfig::load(write("log_level: information\n"));
  EXPECT_TRUE(cfg.plugins.in_process.empty()) << "no plugin is trusted in process unless the operator says so";
  EXPECT_EQ(cfg.plugins.worker.memory_bytes, 512u << 20);
  EXPECT_TRUE(cfg.plugins.worker.sandbox);
  EXPECT_FALSE(cfg.plugins.worker.binary.empty());

  cfg = AggregatorConfig::load(write("plugins:\n  in_process: [polisnet]\n  worker: {memory_mb: 128, max_open_files: 32, "
                                     "load_timeout_ms: 2000, restart_initial_ms: 50, restart_max_ms: 1000, max_reply_kb: 64, "
                                     "binary: bin/worker}\n"));
  EXPECT_EQ(cfg.plugins.in_process, std::vector<std::string>{"polisnet"});
  EXPECT_EQ(cfg.plugins.worker.memory_bytes, 128u << 20);
  EXPECT_EQ(cfg.plugins.worker.max_open_files, 32);
  EXPECT_EQ(cfg.plugins.worker.load_timeout.count(), 2000);
  EXPECT_EQ(cfg.plugins.worker.max_reply_bytes, 64u << 10);
  EXPECT_NE(cfg.plugins.worker.binary.find("/bin/worker"), std::string::npos) << "relative to the config file";

  for (const auto& [yaml, key] : std::vector<std::pair<std::string, std::string>>{
           {"plugins: {worker: {memory_mb: 8}}", "plugins.worker.memory_mb"},
           {"plugins: {worker: {memory_mb: lots}}", "plugins.worker.memory_mb"},
           {"plugins: {worker: {max_open_files: 2}}", "plugins.worker.max_open_files"},
           {"plugins: {worker: {load_timeout_ms: 10}}", "plugins.worker.load_timeout_ms"},
           {"plugins: {worker: {restart_initial_ms: 500, restart_max_ms: 100}}", "plugins.worker.restart_initial_ms"},
           {"plugins: {worker: {max_reply_kb: 0}}", "plugins.worker.max_reply_kb"},
           {"plugins: {worker: {sandbox: maybe}}", "plugins.worker.sandbox"},
           {"plugins: {worker: {cgroup: x}}", "plugins.worker.cgroup"},
           {"plugins: {in_process: polisnet}", "plugins.in_process"}}) {
    auto error = errorOf([&] { AggregatorConfig::load(write(yaml + "\n")); });
    EXPECT_NE(error.find(key), std::string::npos) << yaml << " → " << error;
  }
}

TEST(PluginManifest, AllowedHostsComeFromTheSettingsUrlsAndTheManifest) {
  auto m = PluginManifest::load(write(
      "companies:\n  - {id: a, name: A, settings: {baseUrl: \"https://Sim.Local:8090/a\", auth: {tokenUrl: \"https://id.example/t\"}},\n"
      "     allowed_hosts: [files.example, \"cdn.example:8443\"]}\n"));
  EXPECT_EQ(m.companies[0].allowed_hosts,
            (std::vector<std::string>{"cdn.example:8443", "files.example:443", "files.example:80", "id.example:443",
                                      "sim.local:8090"}));
  auto error = errorOf([&] {
    PluginManifest::load(write("companies:\n  - {id: a, name: A, allowed_hosts: [\"http://x/y\"]}\n"));
  });
  EXPECT_NE(error.find("allowed_hosts"), std::string::npos) << error;
}

TEST(PluginManifest, PartnersAreCalledOverHttpsAndPlainHttpOnlyToLoopbackInDevelopment) {
  const std::string plain = "companies:\n  - {id: a, name: A, settings: {baseUrl: \"http://127.0.0.1:8090/a\"}}\n";
  auto error = errorOf([&] { PluginManifest::load(write(plain)); });
  EXPECT_NE(error.find("companies[0].settings"), std::string::npos) << error;
  EXPECT_NE(error.find("'http://127.0.0.1:8090/a' is plain http"), std::string::npos) << error;
  osago::host::PartnerHttp development;
  development.plain_http_to_loopback = true;
  EXPECT_EQ(PluginManifest::load(write(plain), development).companies[0].settings["baseUrl"], "http://127.0.0.1:8090/a");
  // Never to another host, not even in development; nor hidden deeper in the settings.
  EXPECT_NE(errorOf([&] {
              PluginManifest::load(
                  write("companies:\n  - {id: a, name: A, settings: {auth: {tokenUrl: \"http://id.example/t\"}}}\n"),
                  development);
            }).find("'http://id.example/t' is plain http"),
            std::string::npos);
}

TEST(PluginManifest, TlsPathsAreRelativeToTheManifestAndCheckedTogether) {
  osago::host::PartnerHttp defaults;
  defaults.tls.ca_file = "/etc/osago/partners-ca.pem";
  defaults.max_response_bytes = 1u << 20;
  auto file = write("companies:\n  - {id: a, name: A}\n"
                    "  - {id: b, name: B, max_redirects: 2, tls: {ca_file: b-ca.pem, client_cert: /etc/osago/b.pem,"
                    " client_key: b-key.pem}}\n");
  auto m = PluginManifest::load(file, defaults);
  auto dir = std::filesystem::path(file).parent_path();
  EXPECT_EQ(m.companies[0].http.tls.ca_file, "/etc/osago/partners-ca.pem") << "the aggregator's CA by default";
  EXPECT_EQ(m.companies[0].http.max_redirects, 0) << "no redirect followed unless the company allows it";
  EXPECT_EQ(m.companies[0].http.max_response_bytes, 1u << 20);
  EXPECT_EQ(m.companies[1].http.tls.ca_file, (dir / "b-ca.pem").string());
  EXPECT_EQ(m.companies[1].http.tls.client_cert, "/etc/osago/b.pem");
  EXPECT_EQ(m.companies[1].http.tls.client_key, (dir / "b-key.pem").string());
  EXPECT_EQ(m.companies[1].http.max_redirects, 2);
  EXPECT_NE(errorOf([] { PluginManifest::load(write("companies:\n  - {id: a, name: A, tls: {client_cert: c.pem}}\n")); })
                .find("client_cert and client_key come together"),
            std::string::npos);
  EXPECT_NE(errorOf([] { PluginManifest::load(write("companies:\n  - {id: a, name: A, max_redirects: 50}\n")); })
                .find("companies[0].max_redirects"),
            std::string::npos);
  EXPECT_NE(errorOf([] { PluginManifest::load(write("companies:\n  - {id: a, name: A, tls: {ca: x.pem}}\n")); })
                .find("companies[0].tls.ca"),
            std::string::npos)
      << "a misspelt TLS key is an error, not silently the system store";
}

TEST(AggregatorConfig, ThePluginCacheIsNeverASharedDefault) {
  EXPECT_EQ(AggregatorConfig::load(write("log_level: information\n")).plugins.cache_directory,
            "/var/lib/osago-test-state/plugin-cache");
  auto file = write("plugins: {cache_directory: cache}\n");
  EXPECT_EQ(AggregatorConfig::load(file).plugins.cache_directory,
            (std::filesystem::path(file).parent_path() / "cache").string());
  ::unsetenv("STATE_DIRECTORY");
  auto msg = errorOf([] { AggregatorConfig::load(write("log_level: information\n")); });
  EXPECT_NE(msg.find("plugins.cache_directory"), std::string::npos) << msg;
  EXPECT_NE(msg.find("no /tmp default"), std::string::npos) << msg;
  ::setenv("STATE_DIRECTORY", "/var/lib/osago-test-state", 1);
}

TEST(AggregatorConfig, AnEmptyAllowListIsRefusedWhenRequired) {
  auto msg = errorOf([] { AggregatorConfig::load(write("plugins: {require_allowed_sha256: true}\n")); });
  EXPECT_NE(msg.find("plugins.allowed_sha256"), std::string::npos) << msg;
  EXPECT_NE(msg.find("osago-plugin-check --digest"), std::string::npos) << "says how to list them: " << msg;
  std::string digest(64, 'a');
  EXPECT_EQ(AggregatorConfig::load(write("plugins: {require_allowed_sha256: true, allowed_sha256: [" + digest + "]}\n"))
                .plugins.allowed_sha256,
            std::vector<std::string>{digest});
  EXPECT_NE(errorOf([] { AggregatorConfig::load(write("plugins: {allowed_sha256: [ABC]}\n")); })
                .find("is not a SHA-256"),
            std::string::npos);
}

TEST(AggregatorConfig, PartnerHttpIsReadAndChecked) {
  auto cfg = AggregatorConfig::load(
      write("plugins:\n  partner_http: {ca_file: ca.pem, max_response_kb: 64, plain_http_to_loopback: true}\n"));
  EXPECT_EQ(std::filesystem::path(cfg.plugins.partner_http.tls.ca_file).filename(), "ca.pem");
  EXPECT_TRUE(std::filesystem::path(cfg.plugins.partner_http.tls.ca_file).is_absolute());
  EXPECT_EQ(cfg.plugins.partner_http.max_response_bytes, 64u << 10);
  EXPECT_TRUE(cfg.plugins.partner_http.plain_http_to_loopback);
  auto defaults = AggregatorConfig::load(write("log_level: information\n"));
  EXPECT_FALSE(defaults.plugins.partner_http.plain_http_to_loopback) << "plain http is for development, asked for";
  EXPECT_EQ(defaults.plugins.partner_http.max_response_bytes, 4096u << 10);
  EXPECT_NE(errorOf([] { AggregatorConfig::load(write("plugins:\n  partner_http: {max_response_kb: 0}\n")); })
                .find("plugins.partner_http.max_response_kb"),
            std::string::npos);
}

}  // namespace

namespace {

// Issue 14, defect 3: 24 connections served 32 workers and the lease keeper.
TEST(AggregatorConfig, ThePoolMustServeEveryWorkerAtOnce) {
  auto msg = errorOf([] { AggregatorConfig::load(write("postgres: {pool_size: 24}\nquotes: {workers: 32}\n")); });
  EXPECT_NE(msg.find("postgres.pool_size"), std::string::npos) << msg;
  EXPECT_NE(msg.find("quotes.workers + 5 (37)"), std::string::npos) << msg;
  auto cfg = AggregatorConfig::load(write("postgres: {pool_size: 21}\nquotes: {workers: 16}\n"));
  EXPECT_EQ(cfg.postgres_pool_size, 21);
  auto defaults = AggregatorConfig::load(write("log_level: information\n"));
  EXPECT_GE(defaults.postgres_pool_size, defaults.quotes.workers + AggregatorConfig::kPoolUsersBesideWorkers);
}

TEST(AggregatorConfig, PostgresTimeBoundsAreReadAndChecked) {
  auto cfg = AggregatorConfig::load(write("log_level: information\n"));
  EXPECT_EQ(cfg.postgres_settings.statement_timeout.count(), 10000);
  EXPECT_EQ(cfg.postgres_settings.lock_timeout.count(), 3000);
  EXPECT_EQ(cfg.postgres_settings.idle_in_transaction.count(), 10000);
  auto lease = cfg.leaseKeeperSettings();
  EXPECT_LE(lease.answerBound(), std::chrono::duration_cast<std::chrono::milliseconds>(cfg.quotes.lease) / 3)
      << "a renewal gives up within a third of a lease, while the lease still holds";
  auto set = AggregatorConfig::load(write("postgres: {statement_timeout_ms: 2000, lock_timeout_ms: 500}\n"));
  EXPECT_EQ(set.postgres_settings.answerBound().count(), 7000);
  auto msg = errorOf([] { AggregatorConfig::load(write("postgres: {statement_timeout_ms: 2000, lock_timeout_ms: 5000}\n")); });
  EXPECT_NE(msg.find("postgres.lock_timeout_ms"), std::string::npos) << msg;
  msg = errorOf([] { AggregatorConfig::load(write("postgres: {statement_timeout_ms: 0}\n")); });
  EXPECT_NE(msg.find("postgres.statement_timeout_ms"), std::string::npos) << msg;
}

}  // namespace

namespace env_scheme {

/// Sets environment variables for one test and unsets them after it.
struct ScopedEnv {
  std::vector<std::string> names;
  ScopedEnv(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (auto [k, v] : vars) {
      ::setenv(k, v, 1);
      names.emplace_back(k);
    }
  }
  ~ScopedEnv() {
    for (auto& n : names) ::unsetenv(n.c_str());
  }
};

TEST(AggregatorConfig, AShortOverrideNameIsCheckedLikeTheFile) {
  auto file = write("log_level: information\n");
  {
    ScopedEnv env{{"OSAGO_QUOTE_DEADLINE_SECONDS", "100000"}};
    auto e = errorOf([&] { AggregatorConfig::load(file); });
    EXPECT_NE(e.find("quotes.deadline_seconds"), std::string::npos) << "out of range, yet accepted: '" << e << "'";
  }
  {
    ScopedEnv env{{"OSAGO_AGGREGATOR_PORT", "70000"}};
    auto e = errorOf([&] { AggregatorConfig::load(file); });
    EXPECT_NE(e.find("listen.port"), std::string::npos) << "'" << e << "'";
  }
  {
    ScopedEnv env{{"OSAGO_QUOTE_DEADLINE_SECONDS", "45"}};
    EXPECT_EQ(AggregatorConfig::load(file).quotes.deadline.count(), 45);
  }
  {
    ScopedEnv env{{"OSAGO_QUOTE_DEADLINE_SECONDS", "45"}, {"OSAGO_AGGREGATOR__QUOTES__DEADLINE_SECONDS", "50"}};
    auto e = errorOf([&] { AggregatorConfig::load(file); });
    EXPECT_NE(e.find("OSAGO_QUOTE_DEADLINE_SECONDS"), std::string::npos) << "two names, two values: '" << e << "'";
  }
}

TEST(AggregatorConfig, AnOverrideIsTakenAsWrittenNotCutAtAHash) {
  auto file = write("log_level: information\n");
  {
    // A '#' in a password is part of the password.
    ScopedEnv env{{"OSAGO_AGGREGATOR__POSTGRES__DSN", "host=db user=osago password=a #b"}};
    EXPECT_EQ(AggregatorConfig::load(file).postgres_dsn, "host=db user=osago password=a #b");
  }
  {
    ScopedEnv env{{"OSAGO_PG_DSN", "host=db password=x #y: z"}};
    EXPECT_EQ(AggregatorConfig::load(file).postgres_dsn, "host=db password=x #y: z");
  }
  {
    // Not a number: "8 # comment" is no comment in a variable.
    ScopedEnv env{{"OSAGO_AGGREGATOR__QUOTES__WORKERS", "8 # eight"}};
    auto e = errorOf([&] { AggregatorConfig::load(file); });
    EXPECT_NE(e.find("OSAGO_AGGREGATOR__QUOTES__WORKERS"), std::string::npos) << "'" << e << "'";
  }
  for (const char* huge : {"99999999999999999999", "[1, 2]", "{a: 1}", "4.5"}) {
    ScopedEnv env{{"OSAGO_AGGREGATOR__QUOTES__WORKERS", huge}};
    auto e = errorOf([&] { AggregatorConfig::load(file); });
    EXPECT_NE(e.find("quotes.workers"), std::string::npos) << huge << ": '" << e << "'";
  }
  {
    ScopedEnv env{{"OSAGO_AGGREGATOR__PLUGINS__IN_PROCESS", "[a, b] # c"}};
    auto e = errorOf([&] { AggregatorConfig::load(file); });
    EXPECT_NE(e.find("plugins.in_process"), std::string::npos) << "'" << e << "'";
  }
  {
    // Nesting is refused before the YAML parser could recurse into it.
    std::string deep = std::string(100000, '[') + std::string(100000, ']');
    ScopedEnv env{{"OSAGO_AGGREGATOR__PLUGINS__IN_PROCESS", deep.c_str()}};
    auto e = errorOf([&] { AggregatorConfig::load(file); });
    EXPECT_NE(e.find("flat list"), std::string::npos) << e.substr(0, 200);
  }
  {
    ScopedEnv env{{"OSAGO_AGGREGATOR__PLUGINS__IN_PROCESS", "just-one"}};
    auto e = errorOf([&] { AggregatorConfig::load(file); });
    EXPECT_NE(e.find("plugins.in_process"), std::string::npos) << "a list is required: '" << e << "'";
  }
}

}  // namespace env_scheme

TEST(AggregatorConfig, LoadSheddingBoundsAreReadAndChecked) {
  auto defaults = AggregatorConfig::load(write("log_level: information\n"));
  EXPECT_EQ(defaults.quotes.admission.max_backlog.count(), 2000);
  EXPECT_EQ(defaults.quotes.admission.max_pool_wait.count(), 500);
  auto cfg = AggregatorConfig::load(write("quotes:\n  admission: {max_backlog_ms: 0, max_pool_wait_ms: 250}\n"));
  EXPECT_EQ(cfg.quotes.admission.max_backlog.count(), 0);
  EXPECT_EQ(cfg.quotes.admission.max_pool_wait.count(), 250);
  auto negative = errorOf([] { AggregatorConfig::load(write("quotes:\n  admission: {max_backlog_ms: -1}\n")); });
  EXPECT_NE(negative.find("quotes.admission.max_backlog_ms"), std::string::npos) << negative;
  EXPECT_NE(negative.find("0 (never refuse)"), std::string::npos) << negative;
  auto huge = errorOf([] { AggregatorConfig::load(write("quotes:\n  admission: {max_pool_wait_ms: 99999999999}\n")); });
  EXPECT_NE(huge.find("quotes.admission.max_pool_wait_ms"), std::string::npos) << huge;
  auto typo = errorOf([] { AggregatorConfig::load(write("quotes:\n  admission: {max_backlog: 5}\n")); });
  EXPECT_NE(typo.find("quotes.admission.max_backlog"), std::string::npos) << typo;
}

TEST(AggregatorConfig, PollLearningIsReadAndChecked) {
  auto defaults = AggregatorConfig::load(write("log_level: information\n"));
  EXPECT_TRUE(defaults.quotes.poll_learning.enabled);
  EXPECT_EQ(defaults.quotes.poll_learning.quantile, 0.5);
  EXPECT_EQ(defaults.quotes.poll_learning.max_gap.count(), 500);
  EXPECT_EQ(defaults.quotes.poll_learning.min_samples, 20);
  auto cfg = AggregatorConfig::load(
      write("quotes:\n  poll_learning: {enabled: false, quantile: 0.7, max_gap_ms: 3000, min_samples: 5}\n"));
  EXPECT_FALSE(cfg.quotes.poll_learning.enabled);
  EXPECT_EQ(cfg.quotes.poll_learning.quantile, 0.7);
  EXPECT_EQ(cfg.quotes.poll_learning.max_gap.count(), 3000);
  EXPECT_EQ(cfg.quotes.poll_learning.min_samples, 5);
  for (const char* bad : {"quantile: 1.5", "quantile: 0", "quantile: .nan", "quantile: fast", "max_gap_ms: 10",
                          "max_gap_ms: 99999999999", "min_samples: 0", "min_samples: 1000", "enabled: maybe"}) {
    auto error = errorOf([&] { AggregatorConfig::load(write(std::string("quotes:\n  poll_learning: {") + bad + "}\n")); });
    std::string field = std::string(bad).substr(0, std::string(bad).find(':'));
    EXPECT_NE(error.find("quotes.poll_learning." + field), std::string::npos) << bad << ": " << error;
  }
}
