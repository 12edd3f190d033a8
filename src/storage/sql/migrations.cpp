#include "storage/sql/migrations.hpp"

#include <charconv>
#include <map>
#include <set>

#include "common/time.hpp"

namespace bro::storage {
namespace {

constexpr Query kCreateMigrationsTable{
    "create_schema_migrations",
    "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, "
    "applied_at TEXT NOT NULL)"};
constexpr Query kSelectVersions{"select_schema_versions",
                                "SELECT version FROM schema_migrations ORDER BY version"};

std::string EscapeLiteral(std::string_view s) {
  std::string out;
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out;
}

// On PostgreSQL every migration transaction first takes one advisory lock, so concurrent
// migrators (replicas starting together, a Job racing a pod) run one after the other. SQLite
// scripts already run under BEGIN IMMEDIATE, which serializes writers.
constexpr std::string_view kPostgresLock = "SELECT pg_advisory_xact_lock(7351002);\n";

std::string Locked(Database& db, std::string_view sql) {
  std::string out = db.Dialect() == "postgres" ? std::string(kPostgresLock) : std::string();
  out += sql;
  return out;
}

Task<std::set<int>> AppliedVersions(Database& db) {
  co_await db.ExecuteScript(Locked(db, kCreateMigrationsTable.sql));
  auto rows = co_await db.Execute(kSelectVersions, {});
  std::set<int> out;
  for (const auto& r : rows.rows) out.insert(static_cast<int>(r.Int(0)));
  co_return out;
}

}  // namespace

std::vector<Migration> MigrationsFor(std::string_view dialect,
                                     const std::vector<MigrationFile>& files) {
  std::map<int, Migration> common, specific;
  for (const auto& f : files) {
    auto slash = f.path.find('/');
    if (slash == std::string_view::npos)
      throw DatabaseError("migration outside a dialect folder: " + std::string(f.path));
    auto folder = f.path.substr(0, slash);
    auto file = f.path.substr(slash + 1);
    if (folder != "common" && folder != dialect) continue;
    int version = 0;
    auto [p, ec] = std::from_chars(file.data(), file.data() + file.size(), version);
    if (ec != std::errc{} || version <= 0 || p == file.data() + file.size() || *p != '_' ||
        !file.ends_with(".sql")) {
      throw DatabaseError("malformed migration file name: " + std::string(f.path));
    }
    Migration m{version, std::string(file.substr(0, file.size() - 4)), f.sql};
    auto& target = folder == "common" ? common : specific;
    if (!target.emplace(version, m).second)
      throw DatabaseError("duplicate migration version in " + std::string(f.path));
  }
  for (auto& [v, m] : specific) common[v] = m;
  // Versions ascend but may leave gaps: each capability owns a range of numbers (identity:
  // 0010-0019, limits: 0020-0029), so branches merged in any order never clash. Migrate applies
  // every version not yet recorded, so a lower number merged later is still applied.
  if (!common.empty() && common.begin()->first != 1)
    throw DatabaseError("migration versions must start at 1");
  std::vector<Migration> out;
  for (auto& [v, m] : common) out.push_back(m);
  return out;
}

Task<int> CurrentSchemaVersion(Database& db) {
  auto applied = co_await AppliedVersions(db);
  co_return applied.empty() ? 0 : *applied.rbegin();
}

Task<MigrationResult> Migrate(Database& db, const std::vector<Migration>& migrations) {
  MigrationResult result;
  auto applied = co_await AppliedVersions(db);
  for (const auto& m : migrations) {
    if (applied.contains(m.version)) continue;
    // The version row goes first: a concurrent migrator blocks on its primary key and then fails
    // cleanly.
    std::string script = Locked(db, "") +
                         "INSERT INTO schema_migrations (version, name, applied_at) VALUES (" +
                         std::to_string(m.version) + ", '" + EscapeLiteral(m.name) + "', '" +
                         common::NowIso8601() + "');\n" + std::string(m.sql);
    std::exception_ptr failure;
    try {
      co_await db.ExecuteScript(script);
      ++result.applied;
    } catch (const DatabaseError&) {
      failure = std::current_exception();
    }
    if (failure) {
      auto now = co_await AppliedVersions(db);
      if (!now.contains(m.version)) std::rethrow_exception(failure);
    }
  }
  result.current_version = migrations.empty() ? 0 : migrations.back().version;
  co_return result;
}

}  // namespace bro::storage
