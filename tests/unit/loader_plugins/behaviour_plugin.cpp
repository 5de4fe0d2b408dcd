// A test plugin whose behaviour is chosen at build time (OSAGO_TEST_BEHAVIOUR):
//   normal       submit → PENDING "<version>-app", poll → OFFER 1000.00
//   create_fails the constructor throws
//   throws       submit and poll throw std::runtime_error
//   hangs        poll sleeps for 30 s before answering
#include <osago/plugin_sdk/plugin.hpp>

#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>

#define OSAGO_TEST_STR2(x) #x
#define OSAGO_TEST_STR(x) OSAGO_TEST_STR2(x)

namespace {

class BehaviourPlugin {
 public:
  BehaviourPlugin(osago::sdk::Host, const nlohmann::json& settings) {
    if (std::string(OSAGO_TEST_STR(OSAGO_TEST_BEHAVIOUR)) == "create_fails")
      throw std::invalid_argument("settings key 'baseUrl' is required");
    tag_ = settings.value("tag", "");
  }
  osago::sdk::Outcome submit(const osago::sdk::Call&, const nlohmann::json&) {
    maybeThrow();
    return osago::sdk::Outcome::pending(std::string(OSAGO_TEST_STR(OSAGO_TEST_VERSION)) + "-app" + tag_);
  }
  osago::sdk::Outcome poll(const osago::sdk::Call&, const std::string& id) {
    maybeThrow();
    if (std::string(OSAGO_TEST_STR(OSAGO_TEST_BEHAVIOUR)) == "hangs") std::this_thread::sleep_for(std::chrono::seconds(30));
    return osago::sdk::Outcome::offer(id, "1000.00");
  }

 private:
  static void maybeThrow() {
    if (std::string(OSAGO_TEST_STR(OSAGO_TEST_BEHAVIOUR)) == "throws") throw std::runtime_error("boom from the plugin");
  }
  std::string tag_;
};

}  // namespace

OSAGO_PLUGIN(BehaviourPlugin, OSAGO_TEST_STR(OSAGO_TEST_PLUGIN_ID), "Behaviour test plugin", OSAGO_TEST_STR(OSAGO_TEST_VERSION))
