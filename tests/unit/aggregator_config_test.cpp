// Configuration errors name the file, the key and the reason.
#include "config/aggregator_config.hpp"

#include <osago/common/errors.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace {

class AggregatorConfigTest : public ::testing::Test {
 protected:
  std::string write(const std::string& yaml) {
    auto dir = std::filesystem::temp_directory_path() / ("osago-cfg-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto path = dir / (std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ".yaml");
    std::ofstream(path) << yaml;
    return path.string();
  }
  static constexpr const char* kMinimal = R"(
companies:
  - id: a
    name: "A"
    plugin: polisnet
    settings:
      baseUrl: "${OSAGO_TEST_SIM_URL:-http://127.0.0.1:1}/a"
)";
};

TEST_F(AggregatorConfigTest, DefaultsAndEnvironmentExpansion) {
  ::unsetenv("OSAGO_TEST_SIM_URL");
  auto cfg = osago::host::AggregatorConfig::load(write(kMinimal));
  EXPECT_EQ(cfg.listen_port, 8081);
  EXPECT_EQ(cfg.quotes.deadline.count(), 60);
  ASSERT_EQ(cfg.companies.size(), 1u);
  EXPECT_EQ(cfg.companies[0].settings["baseUrl"], "http://127.0.0.1:1/a");
  ::setenv("OSAGO_TEST_SIM_URL", "http://sim:9", 1);
  cfg = osago::host::AggregatorConfig::load(write(kMinimal));
  EXPECT_EQ(cfg.companies[0].settings["baseUrl"], "http://sim:9/a");
  ::unsetenv("OSAGO_TEST_SIM_URL");
}

TEST_F(AggregatorConfigTest, UnknownKeyIsAnErrorNamingFileAndKey) {
  auto file = write(std::string(kMinimal) + "quotes:\n  deadline_secnds: 30\n");
  try {
    osago::host::AggregatorConfig::load(file);
    FAIL() << "an unknown key must be rejected";
  } catch (const osago::ConfigError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    EXPECT_NE(msg.find("quotes.deadline_secnds"), std::string::npos) << msg;
    EXPECT_NE(msg.find("unknown key"), std::string::npos) << msg;
  }
}

TEST_F(AggregatorConfigTest, WrongTypeAndRangeAreErrors) {
  EXPECT_THROW(osago::host::AggregatorConfig::load(write(std::string(kMinimal) + "listen:\n  port: eighty\n")),
               osago::ConfigError);
  EXPECT_THROW(osago::host::AggregatorConfig::load(write(std::string(kMinimal) + "quotes:\n  workers: 0\n")),
               osago::ConfigError);
  EXPECT_THROW(osago::host::AggregatorConfig::load(write("companies: []\n")), osago::ConfigError);
}

TEST_F(AggregatorConfigTest, DuplicateCompanyAndMissingVariable) {
  EXPECT_THROW(osago::host::AggregatorConfig::load(
                   write("companies:\n  - {id: a, name: A, plugin: p}\n  - {id: a, name: B, plugin: p}\n")),
               osago::ConfigError);
  ::unsetenv("OSAGO_TEST_UNSET_VARIABLE");
  try {
    osago::host::AggregatorConfig::load(
        write("companies:\n  - {id: a, name: A, plugin: p, settings: {key: \"${OSAGO_TEST_UNSET_VARIABLE}\"}}\n"));
    FAIL();
  } catch (const osago::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("OSAGO_TEST_UNSET_VARIABLE"), std::string::npos);
  }
}

}  // namespace
