#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "storage/sql/database.hpp"

namespace bro::storage {

// A migration file as embedded at build time, e.g. {"common/0001_init.sql", "..."}.
struct MigrationFile {
  std::string_view path;
  std::string_view sql;
};

struct Migration {
  int version = 0;
  std::string name;
  std::string_view sql;
};

const std::vector<MigrationFile>& EmbeddedMigrations();

// The ordered migrations for a dialect: "<dialect>/NNNN_name.sql" replaces
// "common/NNNN_name.sql" of the same version. Throws on malformed names or gaps.
std::vector<Migration> MigrationsFor(std::string_view dialect,
                                     const std::vector<MigrationFile>& files);

struct MigrationResult {
  int applied = 0;
  int current_version = 0;
};

// Applies pending migrations, each in its own transaction together with its
// schema_migrations row. Safe to run from several replicas at once: a loser of
// the race sees the version recorded and moves on.
Task<MigrationResult> Migrate(Database& db, const std::vector<Migration>& migrations);
Task<int> CurrentSchemaVersion(Database& db);

}  // namespace bro::storage
