#include "storage/sql/sqlite_database.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <unordered_map>

namespace bro::storage {
namespace {

[[noreturn]] void Throw(sqlite3* db, std::string_view what) {
  throw DatabaseError(std::string(what) + ": " +
                      (db != nullptr ? sqlite3_errmsg(db) : "out of memory"));
}

[[noreturn]] void ThrowErrno(std::string_view what, const std::filesystem::path& path) {
  throw DatabaseError("sqlite: " + std::string(what) + " " + path.string() + ": " +
                      std::generic_category().message(errno));
}

// Creates `dir` and its missing parents 0700, parents first; returns whether `dir` was made.
// mkdir rather than std::filesystem::create_directories, whose 0777 & ~umask is usually 0755.
bool CreatePrivateDirectories(const std::filesystem::path& dir) {
  if (dir.empty() || std::filesystem::is_directory(dir)) return false;
  if (auto parent = dir.parent_path(); parent != dir) CreatePrivateDirectories(parent);
  if (::mkdir(dir.c_str(), 0700) == 0) return true;
  if (errno == EEXIST && std::filesystem::is_directory(dir)) return false;
  ThrowErrno("cannot create directory", dir);
}

// SQLite creates a new database file 0644 & ~umask and gives its -wal and -shm files the mode of
// the database file, whatever the umask. Creating the file 0600 first makes all three private; an
// existing file keeps the mode its operator gave it.
void CreatePrivateFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) ThrowErrno("cannot create", path);
  ::close(fd);
}

}  // namespace

// A prepared statement and, for each $N parameter, its SQLite bind index (0 when unused).
struct Prepared {
  sqlite3_stmt* stmt = nullptr;
  std::vector<int> index_of;
};

struct SqliteDatabase::Connection {
  sqlite3* db = nullptr;
  std::unordered_map<std::string, Prepared> statements;

  ~Connection() {
    for (auto& [sql, p] : statements) sqlite3_finalize(p.stmt);
    sqlite3_close_v2(db);
  }

  void Exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err != nullptr ? err : "unknown error";
      sqlite3_free(err);
      throw DatabaseError(std::string("sqlite: ") + msg);
    }
  }

  const Prepared& Prepare(std::string_view query_name, std::string_view sql) {
    std::string key(sql);
    if (auto it = statements.find(key); it != statements.end()) return it->second;
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db, key.c_str(), static_cast<int>(key.size()), SQLITE_PREPARE_PERSISTENT,
                           &stmt, nullptr) != SQLITE_OK) {
      Throw(db, std::string(query_name) + ": prepare");
    }
    // Placeholders are written $1, $2 ... as in PostgreSQL. Map each once to SQLite's index so
    // that binding is by position, whatever order the SQL uses them in.
    Prepared p{stmt, {}};
    for (int idx = 1; idx <= sqlite3_bind_parameter_count(stmt); ++idx) {
      const char* name = sqlite3_bind_parameter_name(stmt, idx);
      if (name == nullptr || name[0] != '$') continue;
      const int n = std::atoi(name + 1);
      if (n <= 0) continue;
      if (p.index_of.size() < static_cast<std::size_t>(n))
        p.index_of.resize(static_cast<std::size_t>(n), 0);
      p.index_of[static_cast<std::size_t>(n - 1)] = idx;
    }
    return statements.emplace(std::move(key), std::move(p)).first->second;
  }

  Rows Run(const Query& q, const Params& params) {
    const Prepared& prepared = Prepare(q.name, q.sql);
    sqlite3_stmt* stmt = prepared.stmt;
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    for (std::size_t i = 0; i < params.size(); ++i) {
      const int idx = i < prepared.index_of.size() ? prepared.index_of[i] : 0;
      if (idx == 0) continue;
      int rc = SQLITE_OK;
      if (std::holds_alternative<std::nullptr_t>(params[i])) {
        rc = sqlite3_bind_null(stmt, idx);
      } else if (auto* n = std::get_if<std::int64_t>(&params[i])) {
        rc = sqlite3_bind_int64(stmt, idx, *n);
      } else {
        const auto& s = std::get<std::string>(params[i]);
        rc = sqlite3_bind_text(stmt, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
      }
      if (rc != SQLITE_OK) Throw(db, std::string(q.name) + ": bind");
    }
    Rows out;
    const int cols = sqlite3_column_count(stmt);
    for (;;) {
      int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) {
        std::string msg = std::string(q.name) + ": " + sqlite3_errmsg(db);
        sqlite3_reset(stmt);
        throw DatabaseError(msg);
      }
      Row row;
      row.cells.reserve(static_cast<std::size_t>(cols));
      for (int c = 0; c < cols; ++c) {
        if (sqlite3_column_type(stmt, c) == SQLITE_NULL) {
          row.cells.emplace_back(std::nullopt);
        } else {
          const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
          row.cells.emplace_back(
              std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(stmt, c))));
        }
      }
      out.rows.push_back(std::move(row));
    }
    out.affected = sqlite3_changes64(db);
    sqlite3_reset(stmt);
    return out;
  }
};

SqliteDatabase::SqliteDatabase(std::string path, int connections, std::chrono::milliseconds timeout)
    : path_(std::move(path)), timeout_(timeout), pool_(static_cast<std::size_t>(connections)) {
  // ":memory:" and "" are private in-memory and temporary databases, not file names.
  if (path_ != ":memory:" && !path_.empty()) {
    auto dir = std::filesystem::path(path_).parent_path();
    if (dir.empty()) dir = ".";
    struct stat st {};
    if (!CreatePrivateDirectories(dir) && ::stat(dir.c_str(), &st) == 0 &&
        (st.st_mode & 077) != 0) {
      shared_directory_mode_ = static_cast<unsigned>(st.st_mode & 07777);
    }
    CreatePrivateFile(path_);
  }
  for (int i = 0; i < connections; ++i) {
    auto c = std::make_unique<Connection>();
    if (sqlite3_open_v2(path_.c_str(), &c->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      Throw(c->db, "sqlite open " + path_);
    }
    sqlite3_busy_timeout(c->db, static_cast<int>(timeout_.count()));
    if (i == 0) c->Exec("PRAGMA journal_mode=WAL");
    c->Exec("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA temp_store=MEMORY;");
    idle_.push_back(c.get());
    all_.push_back(std::move(c));
  }
}

SqliteDatabase::~SqliteDatabase() {
  pool_.join();
}

SqliteDatabase::Connection& SqliteDatabase::Acquire() {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout_, [this] { return !idle_.empty(); })) {
    throw DatabaseError("sqlite: timed out waiting for a connection");
  }
  auto* c = idle_.back();
  idle_.pop_back();
  return *c;
}

void SqliteDatabase::Release(Connection& c) {
  {
    std::lock_guard lock(mu_);
    idle_.push_back(&c);
  }
  cv_.notify_one();
}

template <class F>
auto SqliteDatabase::Run(F&& f) -> Task<decltype(f(std::declval<Connection&>()))> {
  using R = decltype(f(std::declval<Connection&>()));
  co_return co_await boost::asio::co_spawn(
      pool_.get_executor(),
      [this, &f]() -> Task<R> {
        auto& c = Acquire();
        struct Guard {
          SqliteDatabase* self;
          Connection& c;
          ~Guard() { self->Release(c); }
        } guard{this, c};
        if constexpr (std::is_void_v<R>) {
          f(c);
          co_return;
        } else {
          co_return f(c);
        }
      },
      boost::asio::use_awaitable);
}

Task<Rows> SqliteDatabase::Execute(Query q, Params params) {
  co_return co_await Run([&](Connection& c) { return c.Run(q, params); });
}

Task<void> SqliteDatabase::ExecuteInTransaction(std::vector<Statement> statements) {
  co_await Run([&](Connection& c) {
    c.Exec("BEGIN IMMEDIATE");
    try {
      for (const auto& s : statements) c.Run(s.query, s.params);
      c.Exec("COMMIT");
    } catch (...) {
      sqlite3_exec(c.db, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  });
}

Task<void> SqliteDatabase::ExecuteScript(std::string_view sql) {
  std::string script(sql);
  co_await Run([&](Connection& c) {
    c.Exec("BEGIN IMMEDIATE");
    try {
      c.Exec(script.c_str());
      c.Exec("COMMIT");
    } catch (...) {
      sqlite3_exec(c.db, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  });
}

Task<bool> SqliteDatabase::Ping() {
  try {
    co_await Execute({"ping", "SELECT 1"}, {});
    co_return true;
  } catch (const DatabaseError&) {
    co_return false;
  }
}

PoolStats SqliteDatabase::Stats() const {
  std::lock_guard lock(mu_);
  const int total = static_cast<int>(all_.size());
  const int idle = static_cast<int>(idle_.size());
  return {total - idle, idle, total};
}

}  // namespace bro::storage
