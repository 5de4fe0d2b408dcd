// The loader refuses unusable plugin files, before running any of their code,
// with a message a person can act on.
#include "plugins/plugin_library.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using osago::host::PluginLibrary;
using osago::host::PluginLoadError;

class PluginLoader : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("osago-loader-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    admission_.cache_directory = dir_ / "cache";
    admission_.worker.binary = OSAGO_TEST_WORKER_BIN;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string refusal(const fs::path& path) {
    try {
      PluginLibrary::load(path, admission_);
    } catch (const PluginLoadError& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
  PluginLibrary::Admission admission_;
};

TEST_F(PluginLoader, LoadsTheBundledPluginFromAContentAddressedCopy) {
  auto lib = PluginLibrary::load(OSAGO_TEST_POLISNET_SO, admission_);
  EXPECT_EQ(lib->id(), "polisnet");
  EXPECT_EQ(lib->abiVersion(), "1.0");
  EXPECT_EQ(lib->sha256(), PluginLibrary::fileSha256(OSAGO_TEST_POLISNET_SO));
  EXPECT_EQ(lib->loadedFrom(), dir_ / "cache" / (lib->sha256() + ".so"));
  EXPECT_TRUE(fs::exists(lib->loadedFrom()));
}

TEST_F(PluginLoader, ANewVersionUnderTheSameNameReallyLoads) {
  auto file = dir_ / "versioned.so";
  fs::copy_file(OSAGO_TEST_V1_SO, file);
  auto v1 = PluginLibrary::load(file, admission_);
  fs::copy_file(OSAGO_TEST_V2_SO, file, fs::copy_options::overwrite_existing);
  auto v2 = PluginLibrary::load(file, admission_);
  EXPECT_EQ(v1->version(), "1");
  EXPECT_EQ(v2->version(), "2") << "dlopen of the same path would have returned version 1 again";
  EXPECT_NE(v1->loadedFrom(), v2->loadedFrom());
}

TEST_F(PluginLoader, RefusesALibraryWithoutEntrySymbol) {
  EXPECT_NE(refusal(OSAGO_TEST_NO_ENTRY_SO).find("does not export osago_plugin_entry"), std::string::npos);
}

TEST_F(PluginLoader, RefusesAnotherAbiMajorAndANewerMinor) {
  auto major = refusal(OSAGO_TEST_ABI_MAJOR_SO);
  EXPECT_NE(major.find("plugin built for ABI 2.0, host supports 1.0"), std::string::npos) << major;
  auto minor = refusal(OSAGO_TEST_ABI_MINOR_SO);
  EXPECT_NE(minor.find("plugin built for ABI 1.9"), std::string::npos) << minor;
}

TEST_F(PluginLoader, RefusesAFileWritableByOthersBeforeLoadingIt) {
  auto copy = dir_ / "writable.so";
  fs::copy_file(OSAGO_TEST_POLISNET_SO, copy);
  ::chmod(copy.c_str(), 0666);
  EXPECT_NE(refusal(copy).find("writable by group or others"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "cache")) << "nothing was copied or loaded";
  EXPECT_NE(refusal(dir_ / "missing.so").find("cannot be read"), std::string::npos);
}

TEST_F(PluginLoader, RefusesADigestNotOnTheAllowList) {
  admission_.allowed_sha256 = {std::string(64, 'a')};
  auto msg = refusal(OSAGO_TEST_POLISNET_SO);
  EXPECT_NE(msg.find("is not in plugins.allowed_sha256"), std::string::npos) << msg;
  admission_.allowed_sha256.push_back(PluginLibrary::fileSha256(OSAGO_TEST_POLISNET_SO));
  EXPECT_EQ(refusal(OSAGO_TEST_POLISNET_SO), "");
}

}  // namespace
