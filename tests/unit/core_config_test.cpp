// core-app's configuration: environment overrides follow the one scheme and its checks.
#include "config/core_config.hpp"

#include <osago/common/errors.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

namespace {

using osago::core::CoreConfig;

class CoreConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set("OSAGO_TOKEN_SECRET", std::string(40, 's'));
    set("OSAGO_SERVICE_TOKEN_SECRET", std::string(40, 'k'));
  }
  void TearDown() override {
    for (auto& n : names_) ::unsetenv(n.c_str());
  }
  void set(const std::string& name, const std::string& value) {
    ::setenv(name.c_str(), value.c_str(), 1);
    names_.push_back(name);
  }
  std::string file(const std::string& yaml = "log_level: information\n") {
    auto dir = std::filesystem::temp_directory_path() / ("osago-core-cfg-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    auto path = dir / (std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ".yaml");
    std::ofstream(path) << yaml;
    return path.string();
  }
  static std::string errorOf(const std::function<void()>& fn) {
    try {
      fn();
    } catch (const osago::ConfigError& e) {
      return e.what();
    }
    return "";
  }

 private:
  std::vector<std::string> names_;
};

TEST_F(CoreConfigTest, BytesThatAreNotUtf8AreRefusedNamingTheFileOrTheVariable) {
  // yaml-cpp takes any bytes, and they reached JSON writers (the fuzz target plugin_manifest).
  std::string bad = file("log_level: \"inform\xff\"\n");
  EXPECT_NE(errorOf([&] { CoreConfig::load(bad); }).find("is not valid UTF-8"), std::string::npos);
  EXPECT_NE(errorOf([&] { CoreConfig::load(bad); }).find(bad), std::string::npos);
  set("OSAGO_CORE__LOG_LEVEL", "\xc0\x80");
  std::string why = errorOf([&] { CoreConfig::load(file()); });
  EXPECT_NE(why.find("OSAGO_CORE__LOG_LEVEL"), std::string::npos) << why;
  EXPECT_NE(why.find("is not valid UTF-8"), std::string::npos) << why;
}

TEST_F(CoreConfigTest, AShortOverrideNameIsCheckedLikeTheFile) {
  set("OSAGO_CORE_PORT", "70000");
  auto e = errorOf([&] { CoreConfig::load(file()); });
  EXPECT_NE(e.find("listen.port"), std::string::npos) << "out of range, yet accepted: '" << e << "'";
}

TEST_F(CoreConfigTest, TheServiceKeyIsRequired) {
  EXPECT_EQ(CoreConfig::load(file()).service_token_secret, std::string(40, 'k'));
  ::unsetenv("OSAGO_SERVICE_TOKEN_SECRET");
  auto e = errorOf([&] { CoreConfig::load(file()); });
  EXPECT_NE(e.find("OSAGO_SERVICE_TOKEN_SECRET"), std::string::npos) << e;
  EXPECT_NE(e.find("must be set"), std::string::npos) << e;
}

TEST_F(CoreConfigTest, ShortAndLongNamesReachTheSameKey) {
  set("OSAGO_AGGREGATOR_URL", "http://aggregator:8081");
  set("OSAGO_CORE__AGGREGATOR__TIMEOUT_MS", "250");
  set("OSAGO_CORE__CLIENT_INFO__URL", "http://client-info:8095/#frag");
  auto cfg = CoreConfig::load(file());
  EXPECT_EQ(cfg.aggregator_url, "http://aggregator:8081");
  EXPECT_EQ(cfg.aggregator_timeout.count(), 250);
  EXPECT_EQ(cfg.client_info_url, "http://client-info:8095/#frag") << "a string is taken as written";

  set("OSAGO_CORE__AGGREGATOR__TIMEOUT_MS", "20000");
  auto e = errorOf([&] { CoreConfig::load(file()); });
  EXPECT_NE(e.find("aggregator.timeout_ms"), std::string::npos) << "'" << e << "'";
}

TEST_F(CoreConfigTest, AMisspeltVariableIsAnError) {
  set("OSAGO_CORE__STREAMS__MAX_STREAM", "10");
  auto e = errorOf([&] { CoreConfig::load(file()); });
  EXPECT_NE(e.find("OSAGO_CORE__STREAMS__MAX_STREAM"), std::string::npos) << "'" << e << "'";
}

}  // namespace
