// The services' configuration: a YAML file and environment overrides, read by
// core-app's and the aggregator's loaders. The input is the file, then a line
// "=====", then NAME=VALUE lines set as OSAGO_-prefixed variables for the load.
// Property: the only failure is osago::Error (ConfigError names the file or
// the variable), which the services print before they exit with status 2.
#include "fuzz_support.hpp"

#include "config/aggregator_config.hpp"
#include "config/core_config.hpp"

#include <osago/common/errors.hpp>

#include <fstream>
#include <unistd.h>

namespace {

void loadBoth(const std::string& file) {
  try {
    (void)osago::core::CoreConfig::load(file);
  } catch (const osago::Error&) {
  }
  try {
    (void)osago::host::AggregatorConfig::load(file);
  } catch (const osago::Error&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string file = [] {
    std::string dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    return dir + "/osago-config-fuzz-" + std::to_string(::getpid()) + ".yaml";
  }();
  auto p = osago::fuzz::parts(osago::fuzz::text(data, size), 2);
  std::ofstream(file, std::ios::trunc | std::ios::binary) << p[0];
  std::vector<std::string> set;
  if (p.size() == 2) {
    std::string_view env = p[1];
    while (!env.empty() && set.size() < 8) {
      auto end = env.find('\n');
      std::string_view line = env.substr(0, end);
      env.remove_prefix(end == std::string_view::npos ? env.size() : end + 1);
      auto eq = line.find('=');
      if (eq == std::string_view::npos || eq == 0) continue;
      std::string name = "OSAGO_" + std::string(line.substr(0, eq));
      if (name.find('\0') != std::string::npos) continue;
      std::string value(line.substr(eq + 1));
      if (value.find('\0') != std::string::npos) continue;
      ::setenv(name.c_str(), value.c_str(), 1);
      set.push_back(name);
    }
  }
  loadBoth(file);
  for (const auto& name : set) ::unsetenv(name.c_str());
  return 0;
}
