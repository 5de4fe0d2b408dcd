// A plugin's manifest (the YAML file installed next to its .so; written by a
// partner-integration engineer, not by us), with the company's environment
// variables set. Properties: the only failure is ConfigError, which names the
// file; what is accepted is within the documented bounds.
#include "fuzz_support.hpp"

#include "plugins/plugin_manifest.hpp"

#include <osago/common/errors.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool env = [] {
    ::setenv("OSAGO_SECRET_ACME_API_KEY", "k-acme", 1);
    ::setenv("OSAGO_SECRET_ACME_BASE_URL", "https://partner.example:8443/v1", 1);
    return true;
  }();
  (void)env;
  std::string text(osago::fuzz::text(data, size));
  try {
    auto manifest = osago::host::PluginManifest::parse(text, "fuzz.yaml");
    for (const auto& c : manifest.companies) {
      OSAGO_FUZZ_CHECK(!c.id.empty() && c.call_timeout.count() >= 100 && c.call_timeout.count() <= 60000, c.id);
      OSAGO_FUZZ_CHECK(c.max_concurrent_calls >= 1 && c.max_concurrent_calls <= 256, c.id);
      (void)c.settings.dump();
    }
  } catch (const osago::ConfigError& e) {
    OSAGO_FUZZ_CHECK(std::string(e.what()).find("fuzz.yaml") != std::string::npos, e.what());
  }
  return 0;
}
