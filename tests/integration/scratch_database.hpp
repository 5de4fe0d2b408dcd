#pragma once
// A scratch PostgreSQL database with every migration applied, for tests where
// SQL is the point: each test gets its own, so none depends on another's rows.

#include "store/migrations.hpp"
#include "store/pg.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>

namespace osago::test {

/// The environment variable ./osago test sets; throws when it is missing.
inline std::string requiredEnv(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) throw std::runtime_error(std::string(name) + " is not set: run through ./osago test");
  return v;
}

/// Creates `<prefix><test name>` on the test PostgreSQL (OSAGO_TEST_PG_DSN),
/// migrated; drops it on destruction.
class ScratchDatabase {
 public:
  explicit ScratchDatabase(const std::string& prefix) {
    std::string base = requiredEnv("OSAGO_TEST_PG_DSN");
    admin_ = std::make_unique<host::pg::Connection>(base);
    admin_->exec("SET client_min_messages = warning");  // no NOTICE for a database that is not there yet
    name_ = prefix + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()).substr(0, 40);
    for (auto& ch : name_) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    admin_->exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    admin_->exec("CREATE DATABASE " + name_);
    dsn_ = base;
    auto at = dsn_.find("dbname=");
    auto end = dsn_.find(' ', at);
    dsn_.replace(at, end == std::string::npos ? std::string::npos : end - at, "dbname=" + name_);
    host::applyMigrations(dsn_);
  }
  ~ScratchDatabase() {
    try {
      admin_->exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception& e) {
      ADD_FAILURE() << "cannot drop " << name_ << ": " << e.what();
    }
  }
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;

  const std::string& dsn() const { return dsn_; }
  /// A connection to the server's own database (e.g. to end another backend).
  host::pg::Connection& admin() { return *admin_; }

 private:
  std::unique_ptr<host::pg::Connection> admin_;
  std::string name_;
  std::string dsn_;
};

}  // namespace osago::test
