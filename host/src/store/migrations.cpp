#include "store/migrations.hpp"

#include <osago/common/errors.hpp>

#include "store/pg.hpp"

#include <Poco/Logger.h>


namespace osago::host {
namespace {

/// Runs one (possibly multi-statement) SQL text; throws naming what failed, with the server's message.
void script(pg::Connection& c, const std::string& sql, const std::string& what) {
  try {
    c.script(sql);
  } catch (const pg::Error& e) {
    throw Error(what + " failed: " + e.what(), e.unavailable());
  }
}

void bestEffort(pg::Connection& c, const std::string& sql) {
  try {
    c.script(sql);
  } catch (const pg::Error&) {
    // The connection is gone or broken: the server rolls back and unlocks with the session.
  }
}

}  // namespace

void applyMigrations(const std::string& dsn) {
  auto& log = Poco::Logger::get("store");
  // A connection of its own, without statement or lock timeouts (a migration may be long).
  pg::Connection c(dsn, pg::Settings::forMigrations());
  script(c, "SELECT pg_advisory_lock(hashtext('osago.schema_migrations'))", "taking the migration lock");
  try {
    script(c, "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
           "creating schema_migrations");
    for (const auto& m : embeddedMigrations()) {
      if (c.query("SELECT 1 FROM schema_migrations WHERE name = $1", m.name).rows() > 0) continue;
      script(c, "BEGIN", "migration " + m.name);
      try {
        script(c, m.sql, "migration " + m.name);
        c.query("INSERT INTO schema_migrations (name) VALUES ($1)", m.name);
        script(c, "COMMIT", "migration " + m.name);
      } catch (...) {
        bestEffort(c, "ROLLBACK");  // the migration's own error is the one to report
        throw;
      }
      log.information("applied migration " + m.name);
    }
  } catch (...) {
    bestEffort(c, "SELECT pg_advisory_unlock(hashtext('osago.schema_migrations'))");  // also ends with the session
    throw;
  }
  script(c, "SELECT pg_advisory_unlock(hashtext('osago.schema_migrations'))", "releasing the migration lock");
}

}  // namespace osago::host
