// The loader refuses unusable plugin files, before running any of their code,
// with a message a person can act on.
#include "plugins/plugin_library.hpp"
#include "plugins/plugin_manifest.hpp"

#include <osago/common/errors.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
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
  EXPECT_EQ(lib->abiVersion(), std::to_string(OSAGO_PLUGIN_ABI_MAJOR) + "." + std::to_string(OSAGO_PLUGIN_ABI_MINOR));
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
  EXPECT_NE(major.find("plugin built for ABI 2.0, host supports 1.0 to 1." + std::to_string(OSAGO_PLUGIN_ABI_MINOR)), std::string::npos) << major;
  auto minor = refusal(OSAGO_TEST_ABI_MINOR_SO);
  EXPECT_NE(minor.find("plugin built for ABI 1.9"), std::string::npos) << minor;
}

TEST_F(PluginLoader, RefusesAFileWritableByOthersBeforeLoadingIt) {
  auto copy = dir_ / "writable.so";
  fs::copy_file(OSAGO_TEST_POLISNET_SO, copy);
  ::chmod(copy.c_str(), 0666);
  EXPECT_NE(refusal(copy).find("writable by group or others"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "cache")) << "nothing was copied or loaded";
  EXPECT_NE(refusal(dir_ / "missing.so").find("cannot be opened: No such file"), std::string::npos);
}

TEST_F(PluginLoader, RefusesADigestNotOnTheAllowList) {
  admission_.allowed_sha256 = {std::string(64, 'a')};
  auto msg = refusal(OSAGO_TEST_POLISNET_SO);
  EXPECT_NE(msg.find("is not in plugins.allowed_sha256"), std::string::npos) << msg;
  admission_.allowed_sha256.push_back(PluginLibrary::fileSha256(OSAGO_TEST_POLISNET_SO));
  EXPECT_EQ(refusal(OSAGO_TEST_POLISNET_SO), "");
}

TEST_F(PluginLoader, RefusesASymbolicLinkToAPlugin) {
  auto link = dir_ / "linked.so";
  fs::create_symlink(OSAGO_TEST_POLISNET_SO, link);
  auto msg = refusal(link);
  EXPECT_NE(msg.find("a symbolic link"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir_ / "cache")) << "nothing was copied or loaded";
}

TEST_F(PluginLoader, ACachedCopyThatIsNotWhatItsNameSaysIsReplaced) {
  auto file = dir_ / "versioned.so";
  fs::copy_file(OSAGO_TEST_V1_SO, file);
  auto v1 = PluginLibrary::load(file, admission_);
  fs::path cached = v1->loadedFrom();
  v1.reset();
  // Someone with the service's rights swaps the copy for other code under the same name.
  fs::permissions(cached, fs::perms::owner_all);
  fs::copy_file(OSAGO_TEST_V2_SO, cached, fs::copy_options::overwrite_existing);
  auto again = PluginLibrary::load(file, admission_);
  EXPECT_EQ(again->version(), "1") << "the copy was re-hashed, found wrong and written anew";
  EXPECT_EQ(PluginLibrary::fileSha256(cached), again->sha256());
}

TEST_F(PluginLoader, WhatWasCheckedIsWhatIsLoadedEvenIfTheCopyIsSwappedAfterwards) {
  auto v1 = PluginLibrary::load(OSAGO_TEST_V1_SO, admission_);
  // The copy at its path is replaced (a rename, as an attacker would do it) after the check...
  auto swapped = dir_ / "cache" / "swap.tmp";
  fs::copy_file(OSAGO_TEST_V2_SO, swapped);
  fs::rename(swapped, v1->loadedFrom());
  // ...and a worker (re)started later still loads the verified file, from the descriptor.
  auto identity = osago::host::PluginWorker::probe(v1->loadedFile().fd(), v1->loadedFrom().string(), admission_.worker);
  EXPECT_EQ(identity.version, "1") << "loading by name would have run the swapped-in version 2";
}

TEST_F(PluginLoader, RefusesACacheDirectoryOfAnotherUserOpenToOthersOrALink) {
  fs::create_directories(dir_ / "cache");
  ASSERT_EQ(::chown((dir_ / "cache").c_str(), 12345, 12345), 0) << "the tests run as root";
  auto msg = refusal(OSAGO_TEST_POLISNET_SO);
  EXPECT_NE(msg.find("owned by uid 12345"), std::string::npos) << msg;
  EXPECT_TRUE(fs::is_empty(dir_ / "cache")) << "nothing was written into it";
  ASSERT_EQ(::chown((dir_ / "cache").c_str(), ::geteuid(), ::getegid()), 0);
  ::chmod((dir_ / "cache").c_str(), 0755);
  msg = refusal(OSAGO_TEST_POLISNET_SO);
  EXPECT_NE(msg.find("open to group or others"), std::string::npos) << msg;
  fs::remove(dir_ / "cache");
  fs::create_directories(dir_ / "elsewhere");
  ::chmod((dir_ / "elsewhere").c_str(), 0700);
  fs::create_directory_symlink(dir_ / "elsewhere", dir_ / "cache");
  msg = refusal(OSAGO_TEST_POLISNET_SO);
  EXPECT_NE(msg.find("a symbolic link"), std::string::npos) << msg;
  fs::remove(dir_ / "cache");
  EXPECT_EQ(refusal(OSAGO_TEST_POLISNET_SO), "") << "made anew, 0700";
  EXPECT_EQ(fs::status(dir_ / "cache").permissions(), fs::perms::owner_all);
}

std::string manifestRefusal(const fs::path& file) {
  try {
    osago::host::PluginManifest::load(file.string());
  } catch (const osago::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST_F(PluginLoader, RefusesAManifestWritableByOthersOrALink) {
  auto manifest = dir_ / "m.yaml";
  std::ofstream(manifest) << "companies:\n  - {id: a, name: A}\n";
  ::chmod(manifest.c_str(), 0644);
  EXPECT_EQ(manifestRefusal(manifest), "");
  ::chmod(manifest.c_str(), 0664);
  auto msg = manifestRefusal(manifest);
  EXPECT_NE(msg.find("writable by group or others"), std::string::npos) << msg;
  ::chmod(manifest.c_str(), 0644);
  fs::create_symlink(manifest, dir_ / "linked.yaml");
  msg = manifestRefusal(dir_ / "linked.yaml");
  EXPECT_NE(msg.find("a symbolic link"), std::string::npos) << msg;
  ASSERT_EQ(::chown(manifest.c_str(), 12345, 12345), 0);
  msg = manifestRefusal(manifest);
  EXPECT_NE(msg.find("owned by uid 12345"), std::string::npos) << msg;
}

TEST_F(PluginLoader, AManifestReadsOnlyItsCompanysVariables) {
  ::setenv("OSAGO_PG_DSN", "host=db password=hunter2", 1);
  ::setenv("OSAGO_SECRET_OTHER_CO_API_KEY", "not-yours", 1);
  ::setenv("OSAGO_SECRET_SEVERNY_SHCHIT_API_KEY", "k-1", 1);
  auto manifest = dir_ / "m.yaml";
  auto write = [&](const std::string& value) {
    std::ofstream(manifest) << "companies:\n  - {id: severny-shchit, name: A, settings: {baseUrl: \"https://x.example/"
                            << value << "\"}, secrets: {apiKey: \"${OSAGO_SECRET_SEVERNY_SHCHIT_API_KEY}\"}}\n";
  };
  write("${OSAGO_PG_DSN}");
  auto msg = manifestRefusal(manifest);
  EXPECT_NE(msg.find("${OSAGO_PG_DSN}"), std::string::npos) << msg;
  EXPECT_NE(msg.find("only its company's environment variables, OSAGO_SECRET_SEVERNY_SHCHIT_"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("hunter2"), std::string::npos) << "the value is never echoed";
  write("${OSAGO_SECRET_OTHER_CO_API_KEY}");
  EXPECT_NE(manifestRefusal(manifest).find("${OSAGO_SECRET_OTHER_CO_API_KEY}"), std::string::npos)
      << "another company's secret is foreign too";
  write("${OSAGO_SECRET_SEVERNY_SHCHIT_:-x}");
  EXPECT_NE(manifestRefusal(manifest), "") << "the bare prefix names no variable";
  write("v1");
  auto m = osago::host::PluginManifest::load(manifest.string());
  EXPECT_EQ(m.companies[0].secrets.at("apiKey"), "k-1");
  ::unsetenv("OSAGO_PG_DSN");
  ::unsetenv("OSAGO_SECRET_OTHER_CO_API_KEY");
  ::unsetenv("OSAGO_SECRET_SEVERNY_SHCHIT_API_KEY");
}

}  // namespace
