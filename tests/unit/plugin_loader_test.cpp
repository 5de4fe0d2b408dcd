// The loader refuses unusable plugin files with a message a person can act on.
#include "plugins/plugin_library.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <sys/stat.h>

namespace {

namespace fs = std::filesystem;
using osago::host::PluginLibrary;
using osago::host::PluginLoadError;

std::string refusal(const fs::path& path) {
  try {
    PluginLibrary::load(path);
  } catch (const PluginLoadError& e) {
    return e.what();
  }
  return "";
}

TEST(PluginLoader, LoadsTheBundledPlugin) {
  auto lib = PluginLibrary::load(OSAGO_TEST_POLISNET_SO);
  EXPECT_EQ(lib->id(), "polisnet");
  EXPECT_EQ(lib->abiVersion(), "1.0");
}

TEST(PluginLoader, RefusesALibraryWithoutEntrySymbol) {
  EXPECT_NE(refusal(OSAGO_TEST_NO_ENTRY_SO).find("does not export osago_plugin_entry"), std::string::npos);
}

TEST(PluginLoader, RefusesAnotherAbiMajorAndANewerMinor) {
  auto major = refusal(OSAGO_TEST_ABI_MAJOR_SO);
  EXPECT_NE(major.find("plugin built for ABI 2.0, host supports 1.0"), std::string::npos) << major;
  auto minor = refusal(OSAGO_TEST_ABI_MINOR_SO);
  EXPECT_NE(minor.find("plugin built for ABI 1.9"), std::string::npos) << minor;
}

TEST(PluginLoader, RefusesAFileWritableByOthersBeforeLoadingIt) {
  auto dir = fs::temp_directory_path() / ("osago-loader-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  auto copy = dir / "writable.so";
  fs::copy_file(OSAGO_TEST_POLISNET_SO, copy, fs::copy_options::overwrite_existing);
  ::chmod(copy.c_str(), 0666);
  EXPECT_NE(refusal(copy).find("writable by group or others"), std::string::npos);
  EXPECT_NE(refusal(dir / "missing.so").find("cannot be read"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
