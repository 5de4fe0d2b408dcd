#pragma once

#include <string>
#include <vector>

namespace osago::host {

/// One versioned schema migration (host/migrations/NNN_name.sql), embedded at build time.
struct Migration {
  std::string name;
  std::string sql;
};

/// All migrations in order of their names.
const std::vector<Migration>& embeddedMigrations();

/// Applies the migrations not yet recorded in schema_migrations, each in its
/// own transaction, under an advisory lock so that several instances starting
/// at once apply each exactly once. Throws osago::Error with the failing migration.
void applyMigrations(const std::string& dsn);

}  // namespace osago::host
