# Generates a C++ source holding every host/migrations/*.sql file, in name order.
# Inputs: MIGRATIONS_DIR, OUTPUT.
file(GLOB files "${MIGRATIONS_DIR}/*.sql")
list(SORT files)
set(entries "")
foreach(f IN LISTS files)
  file(READ "${f}" sql)
  get_filename_component(name "${f}" NAME)
  string(APPEND entries "      {\"${name}\", R\"osago_sql(${sql})osago_sql\"},\n")
endforeach()
file(CONFIGURE OUTPUT "${OUTPUT}" CONTENT "// Generated from host/migrations by embed.cmake; do not edit.
#include \"store/migrations.hpp\"

namespace osago::host {

const std::vector<Migration>& embeddedMigrations() {
  static const std::vector<Migration> kMigrations = {
${entries}  };
  return kMigrations;
}

}  // namespace osago::host
" @ONLY)
