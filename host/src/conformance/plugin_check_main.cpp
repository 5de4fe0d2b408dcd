// osago-plugin-check: the conformance kit for insurer plugins.
//   osago-plugin-check <plugin.so> --manifest <file.yaml> --simulator <url> [--company <id>] [--insurer <id>]
//   osago-plugin-check --digest <plugin.so> [<manifest.yaml>]
// Loads the plugin exactly as the aggregator does, runs the standard scenarios
// against the insurer simulator and prints a pass/fail table. Exit status:
// 0 all passed, 1 a scenario failed, 2 the plugin could not be checked at all.
// --digest prints the SHA-256 of the plugin and of its manifest (beside it by
// default) as the entries of plugins.allowed_sha256 that admit them.
#include "conformance/conformance_kit.hpp"
#include "plugins/plugin_library.hpp"
#include "plugins/plugin_manifest.hpp"
#include "plugins/verified_file.hpp"

#include <osago/common/logging.hpp>

#include <cstdio>
#include <filesystem>
#include <iostream>

namespace {

/// --digest: the allow-list entries of a plugin and its manifest, read as the aggregator reads them.
int printDigests(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::cerr << "usage: osago-plugin-check --digest <plugin.so> [<manifest.yaml>]\n";
    return 2;
  }
  std::filesystem::path so = argv[2];
  std::filesystem::path manifest = argc == 4 ? std::filesystem::path(argv[3]) : so;
  if (argc == 3) manifest.replace_extension(".yaml");
  try {
    auto library = osago::host::VerifiedFile::open(so, osago::host::PluginLibrary::kMaxPluginBytes);
    auto text = osago::host::VerifiedFile::open(manifest, osago::host::PluginManifest::kMaxBytes);
    std::cout << "# plugins.allowed_sha256 entries: the library and its manifest, both needed\n"
              << "- " << library->sha256() << "   # " << so.filename().string() << "\n"
              << "- " << text->sha256() << "   # " << manifest.filename().string() << "\n";
  } catch (const std::exception& e) {
    std::cerr << "osago-plugin-check: " << e.what() << "\n";
    return 2;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--digest") return printDigests(argc, argv);
  osago::host::ConformanceTarget target;
  target.simulator_url = "http://127.0.0.1:8090";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "osago-plugin-check: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--manifest") target.manifest_file = value();
    else if (a == "--simulator") target.simulator_url = value();
    else if (a == "--company") target.company_id = value();
    else if (a == "--insurer") target.insurer_id = value();
    else if (a == "-h" || a == "--help") {
      std::cout << "usage: osago-plugin-check <plugin.so> --manifest <file.yaml> [--simulator http://127.0.0.1:8090]\n"
                   "                          [--company <id>] [--insurer <simulator insurer id>]\n"
                   "       osago-plugin-check --digest <plugin.so> [<manifest.yaml>]   (the plugins.allowed_sha256 entries)\n";
      return 0;
    } else if (target.plugin_file.empty() && !a.empty() && a[0] != '-') target.plugin_file = a;
    else {
      std::cerr << "osago-plugin-check: unexpected argument '" << a << "' (see --help)\n";
      return 2;
    }
  }
  if (target.plugin_file.empty() || target.manifest_file.empty()) {
    std::cerr << "usage: osago-plugin-check <plugin.so> --manifest <file.yaml> [--simulator <url>] (see --help)\n";
    return 2;
  }
  osago::logging::configure("error");
  nlohmann::json info;
  std::vector<osago::host::ScenarioResult> results;
  try {
    results = osago::host::runConformance(target, info);
  } catch (const std::exception& e) {
    std::cerr << "osago-plugin-check: " << e.what() << "\n";
    return 2;
  }
  std::cout << "plugin " << info["id"].get<std::string>() << " " << info["version"].get<std::string>() << " (ABI "
            << info["abiVersion"].get<std::string>() << ", sha256 " << info["sha256"].get<std::string>().substr(0, 16)
            << "…), company " << info["company"].get<std::string>() << "\n\n";
  std::printf("%-22s %-6s %s\n", "scenario", "result", "detail");
  int failed = 0;
  for (const auto& r : results) {
    std::printf("%-22s %-6s %s\n", r.name.c_str(), r.passed ? "PASS" : "FAIL", r.detail.c_str());
    if (!r.passed) ++failed;
  }
  std::printf("\n%zu passed, %d failed\n", results.size() - static_cast<std::size_t>(failed), failed);
  return failed == 0 ? 0 : 1;
}
