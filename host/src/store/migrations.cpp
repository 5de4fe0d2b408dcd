#include "store/migrations.hpp"

#include <osago/common/errors.hpp>

#include "store/pg.hpp"

#include <Poco/Logger.h>

#include <memory>

namespace osago::host {
namespace {

/// Runs one (possibly multi-statement) SQL text; throws with the server's message.
void exec(PGconn* conn, const std::string& sql, const std::string& what) {
  std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(conn, sql.c_str()), &PQclear);
  auto status = PQresultStatus(r.get());
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    throw Error(what + " failed: " + PQresultErrorMessage(r.get()));
}

}  // namespace

void applyMigrations(const std::string& dsn) {
  auto& log = Poco::Logger::get("store");
  // A connection of its own: PQexec (no parameters) runs a multi-statement migration.
  pg::Connection connection(dsn, pg::Settings::forMigrations());
  PGconn* conn = connection.native();
  exec(conn, "SELECT pg_advisory_lock(hashtext('osago.schema_migrations'))", "taking the migration lock");
  try {
    exec(conn,
         "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
         "creating schema_migrations");
    for (const auto& m : embeddedMigrations()) {
      std::string escaped(m.name.size() * 2 + 1, '\0');
      escaped.resize(PQescapeStringConn(conn, escaped.data(), m.name.c_str(), m.name.size(), nullptr));
      std::unique_ptr<PGresult, decltype(&PQclear)> r(
          PQexec(conn, ("SELECT 1 FROM schema_migrations WHERE name = '" + escaped + "'").c_str()), &PQclear);
      if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) throw Error(std::string("reading schema_migrations failed: ") + PQresultErrorMessage(r.get()));
      if (PQntuples(r.get()) > 0) continue;
      exec(conn, "BEGIN", "migration " + m.name);
      try {
        exec(conn, m.sql, "migration " + m.name);
        exec(conn, "INSERT INTO schema_migrations (name) VALUES ('" + escaped + "')", "recording migration " + m.name);
        exec(conn, "COMMIT", "migration " + m.name);
      } catch (...) {
        exec(conn, "ROLLBACK", "rollback of " + m.name);
        throw;
      }
      log.information("applied migration " + m.name);
    }
  } catch (...) {
    exec(conn, "SELECT pg_advisory_unlock(hashtext('osago.schema_migrations'))", "releasing the migration lock");
    throw;
  }
  exec(conn, "SELECT pg_advisory_unlock(hashtext('osago.schema_migrations'))", "releasing the migration lock");
}

}  // namespace osago::host
