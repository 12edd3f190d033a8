// The storage contract: one suite, run against SQLite always and against
// PostgreSQL whenever BRO_TEST_POSTGRES_URL is set (scripts/test.sh sets it).
// Every PostgreSQL test gets a database of its own.

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdint>
#include <functional>
#include <future>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/api_keys.hpp"
#include "integration/support.hpp"
#include "observability/metrics.hpp"
#include "storage/sql/database.hpp"
#include "storage/sql/migrations.hpp"
#include "storage/sql/postgres_database.hpp"
#include "storage/sql/sqlite_database.hpp"
#include "usage/usage_recorder.hpp"

namespace bro::storage {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::RunTask;
namespace asio = boost::asio;

struct SqliteBackend {
  static std::string SkipReason() { return {}; }
  std::unique_ptr<Database> Open(asio::io_context& /*ioc*/, int max_connections,
                                 std::chrono::milliseconds timeout) {
    return std::make_unique<SqliteDatabase>((dir.Path() / "data" / "bro.db").string(),
                                            max_connections, timeout);
  }
  testing::TempDir dir;
};

struct PostgresBackend {
  static std::string SkipReason() {
    return testing::PostgresAdminUrl() ? "" : testing::kNoPostgres;
  }
  std::unique_ptr<Database> Open(asio::io_context& ioc, int max_connections,
                                 std::chrono::milliseconds timeout) {
    if (!pg) pg.emplace();
    return std::make_unique<PostgresDatabase>(ioc.get_executor(), pg->Url(), max_connections,
                                              timeout);
  }
  std::optional<testing::PostgresTestDatabase> pg;
};

template <class Backend>
class StorageContract : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto why = Backend::SkipReason(); !why.empty()) GTEST_SKIP() << why;
    db_ = backend_.Open(ioc_, 4, 5s);
  }

  template <class T>
  T Run(asio::awaitable<T> task) {
    return RunTask(ioc_, std::move(task));
  }
  Rows Exec(std::string_view sql, Params params = {}) {
    return Run(db_->Execute({"test", sql}, std::move(params)));
  }
  std::int64_t Count(const std::string& table) {
    return Exec("SELECT COUNT(*) FROM " + table).rows.at(0).Int(0);
  }
  bool TableExists(const std::string& table) {
    try {
      Count(table);
      return true;
    } catch (const DatabaseError&) {
      return false;
    }
  }
  std::vector<Migration> Schema() { return MigrationsFor(db_->Dialect(), EmbeddedMigrations()); }
  void MigrateSchema() {
    const auto migrations = Schema();
    Run(Migrate(*db_, migrations));
  }
  bool IsPostgres() const { return db_->Dialect() == "postgres"; }

  asio::io_context ioc_;
  Backend backend_;
  std::unique_ptr<Database> db_;
};

struct BackendNames {
  template <class T>
  static std::string GetName(int /*index*/) {
    return std::is_same_v<T, SqliteBackend> ? "Sqlite" : "Postgres";
  }
};

using Backends = ::testing::Types<SqliteBackend, PostgresBackend>;
TYPED_TEST_SUITE(StorageContract, Backends, BackendNames);

// --- migrations ------------------------------------------------------------

TYPED_TEST(StorageContract, MigrationsApplyOnceAndAreIdempotent) {
  const auto migrations = this->Schema();
  ASSERT_FALSE(migrations.empty());
  EXPECT_EQ(this->Run(CurrentSchemaVersion(*this->db_)), 0);
  const auto first = this->Run(Migrate(*this->db_, migrations));
  EXPECT_EQ(first.applied, static_cast<int>(migrations.size()));
  EXPECT_EQ(first.current_version, migrations.back().version);
  const auto second = this->Run(Migrate(*this->db_, migrations));
  EXPECT_EQ(second.applied, 0);
  EXPECT_EQ(second.current_version, migrations.back().version);
  EXPECT_EQ(this->Run(CurrentSchemaVersion(*this->db_)), migrations.back().version);
  EXPECT_EQ(this->Count("schema_migrations"), static_cast<std::int64_t>(migrations.size()));
  for (const char* table : {"users", "api_keys", "usage_records"}) {
    EXPECT_EQ(this->Count(table), 0) << table;
  }
  auto names = this->Exec("SELECT name FROM schema_migrations WHERE version = 1");
  EXPECT_EQ(names.rows.at(0).Text(0), migrations.front().name);
}

// Replicas starting together all migrate: each must end at the current version, with
// every migration applied exactly once. The race is run several times on an empty
// schema because its outcome depends on timing.
TYPED_TEST(StorageContract, ConcurrentMigrateFromTwoConnectionsEndsAtTheSameVersion) {
  auto other = this->backend_.Open(this->ioc_, 2, 5s);
  const auto migrations = this->Schema();
  for (int round = 1; round <= 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    for (const char* table : {"limit_overrides", "audit_log", "usage_records", "api_keys", "users",
                              "schema_migrations"}) {
      this->Exec(std::string("DROP TABLE IF EXISTS ") + table);
    }
    // Connect both first, so that the two migrators really race.
    ASSERT_TRUE(this->Run(this->db_->Ping()));
    ASSERT_TRUE(this->Run(other->Ping()));
    auto a = asio::co_spawn(this->ioc_, Migrate(*this->db_, migrations), asio::use_future);
    auto b = asio::co_spawn(this->ioc_, Migrate(*other, migrations), asio::use_future);
    this->ioc_.restart();
    this->ioc_.run();
    MigrationResult ra, rb;
    ASSERT_NO_THROW(ra = a.get());
    ASSERT_NO_THROW(rb = b.get());
    EXPECT_EQ(ra.applied + rb.applied, static_cast<int>(migrations.size()))
        << "each migration applied exactly once";
    EXPECT_EQ(ra.current_version, rb.current_version);
    EXPECT_EQ(this->Run(CurrentSchemaVersion(*this->db_)), migrations.back().version);
    EXPECT_EQ(this->Run(CurrentSchemaVersion(*other)), migrations.back().version);
    EXPECT_EQ(this->Count("schema_migrations"), static_cast<std::int64_t>(migrations.size()));
  }
  other.reset();
}

TYPED_TEST(StorageContract, FailedMigrationRollsBackAndIsRetried) {
  const std::vector<Migration> broken = {
      {1, "0001_a", "CREATE TABLE mig_a (x INTEGER);"},
      {2, "0002_b", "CREATE TABLE mig_b (y INTEGER); INSERT INTO mig_missing VALUES (1);"}};
  EXPECT_THROW(this->Run(Migrate(*this->db_, broken)), DatabaseError);
  EXPECT_EQ(this->Run(CurrentSchemaVersion(*this->db_)), 1);
  EXPECT_TRUE(this->TableExists("mig_a"));
  EXPECT_FALSE(this->TableExists("mig_b")) << "a failed migration leaves nothing behind";
  const std::vector<Migration> fixed = {{1, "0001_a", "CREATE TABLE mig_a (x INTEGER);"},
                                        {2, "0002_b", "CREATE TABLE mig_b (y INTEGER);"}};
  const auto result = this->Run(Migrate(*this->db_, fixed));
  EXPECT_EQ(result.applied, 1);
  EXPECT_TRUE(this->TableExists("mig_b"));
}

TYPED_TEST(StorageContract, MigrationNamesWithQuotesAreStored) {
  const std::vector<Migration> m = {{1, "0001_it's", "CREATE TABLE q (x INTEGER);"}};
  this->Run(Migrate(*this->db_, m));
  EXPECT_EQ(this->Exec("SELECT name FROM schema_migrations").rows.at(0).Text(0), "0001_it's");
}

// --- Execute -----------------------------------------------------------------

TYPED_TEST(StorageContract, ExecuteBindsParametersIncludingNullAndInt64Extremes) {
  this->Exec("CREATE TABLE kv (k TEXT PRIMARY KEY, i BIGINT, s TEXT)");
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
  const std::string tricky = "it's \"quoted\" \\ ünïcödé ✓ '; DROP TABLE kv; --";
  const std::string insert = "INSERT INTO kv (k, i, s) VALUES ($1, $2, $3)";
  EXPECT_EQ(this->Exec(insert, {std::string("max"), kMax, std::string("x")}).affected, 1);
  this->Exec(insert, {std::string("min"), kMin, nullptr});
  this->Exec(insert, {std::string("zero"), std::int64_t{0}, tricky});
  this->Exec(insert, {std::string("empty"), std::int64_t{-1}, std::string()});
  this->Exec(insert, {std::string("nulls"), nullptr, nullptr});

  auto get = [&](const std::string& k) {
    return this->Exec("SELECT i, s FROM kv WHERE k = $1", {k}).rows.at(0);
  };
  EXPECT_EQ(get("max").Int(0), kMax);
  EXPECT_EQ(get("min").Int(0), kMin);
  EXPECT_TRUE(get("min").IsNull(1));
  EXPECT_EQ(get("zero").Text(1), tricky);
  EXPECT_FALSE(get("empty").IsNull(1)) << "an empty string is not NULL";
  EXPECT_EQ(get("empty").Text(1), "");
  EXPECT_EQ(get("empty").Int(0), -1);
  EXPECT_TRUE(get("nulls").IsNull(0));
  EXPECT_EQ(get("nulls").OptText(0), std::nullopt);
  EXPECT_THROW(get("nulls").Text(0), DatabaseError);
  EXPECT_THROW(get("zero").Int(1), DatabaseError) << "text is not an integer";
  EXPECT_EQ(this->Count("kv"), 5) << "the injection attempt was stored as data";

  // Placeholders may appear in any order and more than once.
  auto rows = this->Exec("SELECT k FROM kv WHERE i > $2 AND i < $1 AND k <> $3 ORDER BY k",
                         {kMax, std::int64_t{-2}, std::string("nothing")});
  ASSERT_EQ(rows.rows.size(), 2U);
  EXPECT_EQ(rows.rows[0].Text(0), "empty");
  EXPECT_EQ(rows.rows[1].Text(0), "zero");
  EXPECT_EQ(this->Exec("UPDATE kv SET s = $1 WHERE i >= $2", {std::string("u"), std::int64_t{0}})
                .affected,
            2);
  EXPECT_EQ(this->Exec("DELETE FROM kv WHERE s IS NULL").affected, 2);
  EXPECT_TRUE(this->Exec("SELECT k FROM kv WHERE k = $1", {std::string("none")}).Empty());
}

TYPED_TEST(StorageContract, UpsertReturningWorksInBothDialects) {
  this->Exec("CREATE TABLE counters (name TEXT PRIMARY KEY, n BIGINT NOT NULL)");
  const std::string sql =
      "INSERT INTO counters (name, n) VALUES ($1, 1) ON CONFLICT (name) DO UPDATE SET n = "
      "counters.n + 1 "
      "RETURNING n";
  EXPECT_EQ(this->Exec(sql, {std::string("a")}).rows.at(0).Int(0), 1);
  EXPECT_EQ(this->Exec(sql, {std::string("a")}).rows.at(0).Int(0), 2);
  EXPECT_EQ(this->Exec(sql, {std::string("b")}).rows.at(0).Int(0), 1);
}

TYPED_TEST(StorageContract, BadSqlIsADatabaseErrorAndTheDatabaseStaysUsable) {
  EXPECT_THROW(this->Exec("SELEC 1"), DatabaseError);
  EXPECT_THROW(this->Exec("SELECT * FROM no_such_table"), DatabaseError);
  EXPECT_EQ(this->Exec("SELECT 1").rows.at(0).Int(0), 1);
  EXPECT_TRUE(this->Run(this->db_->Ping()));
  EXPECT_EQ(this->db_->Stats().in_use, 0);
}

// Query names label errors (database.hpp): whichever step fails, prepare or execute.
TYPED_TEST(StorageContract, ErrorsCarryTheQueryName) {
  for (const char* sql : {"SELECT * FROM no_such_table", "SELEC 1"}) {
    try {
      this->Run(this->db_->Execute({"named_query_x", sql}, {}));
      ADD_FAILURE() << sql << " did not fail";
    } catch (const DatabaseError& e) {
      EXPECT_NE(std::string(e.what()).find("named_query_x"), std::string::npos) << e.what();
    }
  }
  this->Exec("CREATE TABLE unique_t (id BIGINT PRIMARY KEY)");
  this->Exec("INSERT INTO unique_t (id) VALUES (1)");
  try {
    this->Run(this->db_->Execute({"named_insert_y", "INSERT INTO unique_t (id) VALUES (1)"}, {}));
    ADD_FAILURE() << "duplicate key accepted";
  } catch (const DatabaseError& e) {
    EXPECT_NE(std::string(e.what()).find("named_insert_y"), std::string::npos) << e.what();
  }
}

TYPED_TEST(StorageContract, ConstraintViolationsAreDatabaseErrors) {
  this->MigrateSchema();
  Params key{std::string("k1"),
             std::string("no-such-user"),
             std::string("n"),
             std::string("p"),
             std::string("h"),
             std::string("viewer"),
             std::string(),
             std::string("2026-01-01T00:00:00.000Z"),
             nullptr};
  EXPECT_THROW(this->Exec("INSERT INTO api_keys (id, user_id, name, prefix, hash, role, "
                          "allowed_models, created_at, "
                          "expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                          key),
               DatabaseError)
      << "foreign keys are enforced";
  Params user{std::string("u1"), std::string("a@x"), std::string("root"), std::string("t")};
  EXPECT_THROW(
      this->Exec(
          "INSERT INTO users (id, email, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)",
          user),
      DatabaseError)
      << "role is checked";
}

// --- transactions ------------------------------------------------------------

TYPED_TEST(StorageContract, ExecuteInTransactionIsAllOrNothing) {
  this->Exec("CREATE TABLE tx (id BIGINT PRIMARY KEY, v TEXT)");
  const Query insert{"insert_tx", "INSERT INTO tx (id, v) VALUES ($1, $2)"};
  std::vector<Statement> duplicate = {{insert, {std::int64_t{1}, std::string("a")}},
                                      {insert, {std::int64_t{1}, std::string("b")}}};
  EXPECT_THROW(this->Run(this->db_->ExecuteInTransaction(duplicate)), DatabaseError);
  EXPECT_EQ(this->Count("tx"), 0) << "the first statement must not be visible";

  std::vector<Statement> bad_sql = {{insert, {std::int64_t{1}, std::string("a")}},
                                    {{"broken", "INSERT INTO tx_missing VALUES (1)"}, {}}};
  EXPECT_THROW(this->Run(this->db_->ExecuteInTransaction(bad_sql)), DatabaseError);
  EXPECT_EQ(this->Count("tx"), 0);

  std::vector<Statement> good = {
      {insert, {std::int64_t{1}, std::string("a")}},
      {insert, {std::int64_t{2}, nullptr}},
      {{"update_tx", "UPDATE tx SET v = $1 WHERE id = $2"}, {std::string("c"), std::int64_t{2}}}};
  this->Run(this->db_->ExecuteInTransaction(good));
  EXPECT_EQ(this->Count("tx"), 2);
  EXPECT_EQ(this->Exec("SELECT v FROM tx WHERE id = 2").rows.at(0).Text(0), "c");
  EXPECT_EQ(this->db_->Stats().in_use, 0) << "a failed transaction never leaks a connection";
  EXPECT_TRUE(this->Run(this->db_->Ping()));
}

TYPED_TEST(StorageContract, EmptyTransactionIsANoOp) {
  this->Run(this->db_->ExecuteInTransaction({}));
  EXPECT_TRUE(this->Run(this->db_->Ping()));
}

TYPED_TEST(StorageContract, ExecuteScriptIsOneTransaction) {
  EXPECT_THROW(this->Run(this->db_->ExecuteScript("CREATE TABLE s1 (x INTEGER); INSERT INTO s1 "
                                                  "VALUES (1); INSERT INTO s_missing VALUES (1);")),
               DatabaseError);
  EXPECT_FALSE(this->TableExists("s1"));
  this->Run(this->db_->ExecuteScript(
      "CREATE TABLE s1 (x INTEGER);\nINSERT INTO s1 VALUES (1);\n-- comment\n"
      "INSERT INTO s1 VALUES (2);"));
  EXPECT_EQ(this->Count("s1"), 2);
}

// --- pool ------------------------------------------------------------------------

TYPED_TEST(StorageContract, PoolOfTwoServesTenConcurrentQueries) {
  auto db = this->backend_.Open(this->ioc_, 2, 5s);
  const std::string sql = this->IsPostgres() ? "SELECT $1::text, pg_sleep(0.02)" : "SELECT $1";
  int max_in_use = 0, max_total = 0;
  int finished = 0;
  std::vector<std::future<std::string>> results;
  for (int i = 0; i < 10; ++i) {
    results.push_back(asio::co_spawn(
        this->ioc_,
        [&, i]() -> asio::awaitable<std::string> {
          Params p;
          p.emplace_back(std::string("q") + std::to_string(i));
          const Query q{"pool_test", sql};
          auto rows = co_await db->Execute(q, std::move(p));
          ++finished;
          co_return rows.rows.at(0).Text(0);
        },
        asio::use_future));
  }
  // Sample the pool while the queries run.
  asio::co_spawn(
      this->ioc_,
      [&]() -> asio::awaitable<void> {
        asio::steady_timer t(co_await asio::this_coro::executor);
        while (finished < 10) {
          const auto s = db->Stats();
          max_in_use = std::max(max_in_use, s.in_use);
          max_total = std::max(max_total, s.in_use + s.idle);
          t.expires_after(1ms);
          co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
        }
      },
      asio::detached);
  this->ioc_.restart();
  this->ioc_.run();
  for (std::size_t i = 0; i < results.size(); ++i) {
    const std::string expected = std::string("q").append(std::to_string(i));
    EXPECT_EQ(results[i].get(), expected);
  }
  const auto s = db->Stats();
  EXPECT_EQ(s.max, 2);
  EXPECT_EQ(s.in_use, 0);
  EXPECT_GE(s.idle, 1);
  EXPECT_LE(s.idle, 2);
  EXPECT_LE(max_in_use, 2);
  EXPECT_LE(max_total, 2);
  if (this->IsPostgres()) {
    EXPECT_GE(max_in_use, 1) << "20 ms queries were seen in flight";
  }
}

}  // namespace

// --- API keys --------------------------------------------------------------------

namespace {

using auth::Authenticator;
using auth::KeyHasher;
using auth::KeyRepository;
using auth::Role;

constexpr const char* kHmacSecret = "test-secret-test-secret-test-secret-!";

template <class Backend>
class KeyContract : public StorageContract<Backend> {
 protected:
  void SetUp() override {
    StorageContract<Backend>::SetUp();
    if (this->IsSkipped()) return;
    this->MigrateSchema();
    repo_.emplace(*this->db_);
  }
  auth::User User(const std::string& email, Role role) {
    return this->Run(repo_->UpsertUser(email, role));
  }
  auth::NewKey Key(const auth::User& user, Role role, std::vector<std::string> models = {},
                   std::optional<std::chrono::system_clock::time_point> expires = std::nullopt) {
    return this->Run(repo_->CreateKey(hasher_, user, "test", role, models, expires));
  }
  std::optional<auth::Principal> Find(
      const auth::NewKey& key,
      std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) {
    return this->Run(repo_->FindActive(hasher_.Hash(key.secret), now));
  }

  KeyHasher hasher_{kHmacSecret};
  std::optional<KeyRepository> repo_;
};

TYPED_TEST_SUITE(KeyContract, Backends, BackendNames);

TYPED_TEST(KeyContract, UpsertUserIsIdempotentByEmail) {
  EXPECT_EQ(this->Run(this->repo_->CountUsers()), 0);
  const auto a = this->User("dev@example.com", Role::kDeveloper);
  EXPECT_EQ(a.email, "dev@example.com");
  EXPECT_EQ(a.role, Role::kDeveloper);
  EXPECT_TRUE(a.active);
  EXPECT_EQ(a.id.size(), 32U);
  const auto again = this->User("dev@example.com", Role::kAdmin);
  EXPECT_EQ(again.id, a.id);
  // An existing user keeps the role it has: a key request cannot promote its owner.
  EXPECT_EQ(again.role, Role::kDeveloper);
  this->User("other@example.com", Role::kViewer);
  EXPECT_EQ(this->Run(this->repo_->CountUsers()), 2);
}

TYPED_TEST(KeyContract, CreateKeyStoresOnlyAKeyedHash) {
  const auto user = this->User("a@example.com", Role::kAdmin);
  const auto key = this->Key(user, Role::kAdmin);
  EXPECT_TRUE(KeyHasher::LooksLikeKey(key.secret));
  EXPECT_EQ(key.prefix, key.secret.substr(0, 12));
  auto rows = this->Exec("SELECT * FROM api_keys");
  ASSERT_EQ(rows.rows.size(), 1U);
  const std::string random_part = key.secret.substr(7);
  for (const auto& cell : rows.rows[0].cells) {
    if (!cell) continue;
    EXPECT_EQ(cell->find(random_part), std::string::npos) << "the secret is stored: " << *cell;
  }
  auto stored =
      this->Exec("SELECT hash, prefix, role, user_id FROM api_keys WHERE id = $1", {key.id})
          .rows.at(0);
  EXPECT_NE(stored.Text(0), key.secret);
  EXPECT_EQ(stored.Text(0), this->hasher_.Hash(key.secret));
  EXPECT_EQ(stored.Text(1), key.prefix) << "the prefix is visible";
  EXPECT_EQ(stored.Text(2), "admin");
  EXPECT_EQ(stored.Text(3), user.id);
  const auto second = this->Key(user, Role::kAdmin);
  EXPECT_NE(second.secret, key.secret);
  EXPECT_NE(second.id, key.id);
}

TYPED_TEST(KeyContract, FindActiveReturnsThePrincipal) {
  const auto user = this->User("dev@example.com", Role::kDeveloper);
  const auto key = this->Key(user, Role::kDeveloper, {"echo", "gpt-4o"});
  const auto p = this->Find(key);
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->user_id, user.id);
  EXPECT_EQ(p->email, "dev@example.com");
  EXPECT_EQ(p->role, Role::kDeveloper);
  EXPECT_EQ(p->key_id, key.id);
  EXPECT_EQ(p->key_prefix, key.prefix);
  EXPECT_EQ(p->allowed_models, (std::vector<std::string>{"echo", "gpt-4o"}));
  EXPECT_TRUE(p->MayUseModel("echo"));
  EXPECT_FALSE(p->MayUseModel("other"));
  EXPECT_FALSE(this->Run(this->repo_->FindActive(this->hasher_.Hash(KeyHasher::Generate()),
                                                 std::chrono::system_clock::now())))
      << "an unknown key";
  KeyHasher other_secret("another-secret-another-secret-another");
  EXPECT_FALSE(this->Run(
      this->repo_->FindActive(other_secret.Hash(key.secret), std::chrono::system_clock::now())))
      << "a hash under another server secret";
}

TYPED_TEST(KeyContract, RevokedKeyIsNotActive) {
  const auto key = this->Key(this->User("a@example.com", Role::kAdmin), Role::kAdmin);
  ASSERT_TRUE(this->Find(key));
  this->Exec("UPDATE api_keys SET revoked_at = $1 WHERE id = $2", {common::NowIso8601(), key.id});
  EXPECT_FALSE(this->Find(key));
}

TYPED_TEST(KeyContract, ExpiredKeyIsNotActive) {
  const auto now = std::chrono::system_clock::now();
  const auto key = this->Key(this->User("a@example.com", Role::kAdmin), Role::kAdmin, {}, now + 1h);
  EXPECT_TRUE(this->Find(key, now));
  EXPECT_TRUE(this->Find(key, now + 59min));
  EXPECT_FALSE(this->Find(key, now + 1h)) << "expiry is exclusive";
  EXPECT_FALSE(this->Find(key, now + 2h));
}

TYPED_TEST(KeyContract, InactiveUserMakesKeysInactive) {
  const auto user = this->User("gone@example.com", Role::kDeveloper);
  const auto key = this->Key(user, Role::kDeveloper);
  ASSERT_TRUE(this->Find(key));
  this->Exec("UPDATE users SET active = 0 WHERE id = $1", {user.id});
  EXPECT_FALSE(this->Find(key));
}

TYPED_TEST(KeyContract, RoleIsCappedByTheUsersRole) {
  const auto viewer = this->User("viewer@example.com", Role::kViewer);
  const auto escalated = this->Key(viewer, Role::kAdmin);
  EXPECT_EQ(
      this->Exec("SELECT role FROM api_keys WHERE id = $1", {escalated.id}).rows.at(0).Text(0),
      "viewer")
      << "a key is never created above its user's role";
  EXPECT_EQ(this->Find(escalated)->role, Role::kViewer);

  const auto admin = this->User("admin@example.com", Role::kAdmin);
  const auto narrow = this->Key(admin, Role::kDeveloper);
  EXPECT_EQ(this->Find(narrow)->role, Role::kDeveloper) << "a key may hold less than its user";
  const auto full = this->Key(admin, Role::kAdmin);
  EXPECT_EQ(this->Find(full)->role, Role::kAdmin);
  this->Exec("UPDATE users SET role = 'viewer' WHERE id = $1", {admin.id});
  EXPECT_EQ(this->Find(full)->role, Role::kViewer) << "a demoted user's keys shrink with them";
}

TYPED_TEST(KeyContract, TouchLastUsed) {
  const auto key = this->Key(this->User("a@example.com", Role::kAdmin), Role::kAdmin);
  EXPECT_TRUE(this->Exec("SELECT last_used_at FROM api_keys").rows.at(0).IsNull(0));
  const auto when = std::chrono::system_clock::from_time_t(1'700'000'000);
  this->Run(this->repo_->TouchLastUsed(key.id, when));
  EXPECT_EQ(this->Exec("SELECT last_used_at FROM api_keys").rows.at(0).Text(0),
            common::FormatIso8601(when));
}

// --- Authenticator -------------------------------------------------------------------

template <class Backend>
class AuthContract : public KeyContract<Backend> {
 protected:
  Authenticator MakeAuth(std::chrono::milliseconds ttl) {
    return Authenticator(*this->repo_, this->hasher_, ttl, clock_);
  }
  std::optional<auth::Principal> Auth(Authenticator& a, std::string_view header) {
    return this->Run(a.Authenticate(header));
  }
  FakeClock clock_;
};

TYPED_TEST_SUITE(AuthContract, Backends, BackendNames);

TYPED_TEST(AuthContract, ValidKeyAuthenticates) {
  const auto user = this->User("dev@example.com", Role::kDeveloper);
  const auto key = this->Key(user, Role::kDeveloper);
  auto a = this->MakeAuth(5s);
  for (const std::string& header : {"Bearer " + key.secret, "bearer " + key.secret,
                                    "BEARER " + key.secret, "Bearer " + key.secret + "   "}) {
    const auto p = this->Auth(a, header);
    ASSERT_TRUE(p.has_value()) << header;
    EXPECT_EQ(p->user_id, user.id);
    EXPECT_EQ(p->key_id, key.id);
  }
  EXPECT_EQ(
      this->Exec("SELECT last_used_at FROM api_keys WHERE id = $1", {key.id}).rows.at(0).Text(0),
      common::FormatIso8601(this->clock_.Now()))
      << "last use is recorded with the injected clock";
}

TYPED_TEST(AuthContract, MalformedAndHostileHeadersAreRejected) {
  const auto key = this->Key(this->User("dev@example.com", Role::kDeveloper), Role::kDeveloper);
  auto a = this->MakeAuth(5s);
  std::string with_nul = "Bearer " + key.secret;
  with_nul[20] = '\0';
  std::string non_ascii = "Bearer sk-bro-";
  for (int i = 0; i < 43; ++i) non_ascii += '\xE9';
  const std::string hostile[] = {
      "",
      "Bearer",
      "Bearer ",
      "Bearer    ",
      "Bearer  " + key.secret,
      "Basic " + key.secret,
      key.secret,
      "Token " + key.secret,
      "Bearer sk-bro-short",
      "Bearer " + key.secret + "x",
      "Bearer " + key.secret.substr(0, key.secret.size() - 1),
      "Bearer " + std::string(100'000, 'A'),
      "Bearer sk-bro-" + std::string(100'000, 'A'),
      with_nul,
      non_ascii,
      "Bearer sk-bro-\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80"
      "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80"
      "\xF0\x9F\x98\x80x",
      "Bearer\t" + key.secret};
  for (const auto& header : hostile) {
    EXPECT_FALSE(this->Auth(a, header).has_value()) << header.substr(0, 60);
  }
  EXPECT_TRUE(this->Auth(a, "Bearer " + key.secret).has_value()) << "the real key still works";
}

TYPED_TEST(AuthContract, WrongKeyIsRejected) {
  this->Key(this->User("dev@example.com", Role::kDeveloper), Role::kDeveloper);
  auto a = this->MakeAuth(5s);
  EXPECT_FALSE(this->Auth(a, "Bearer " + KeyHasher::Generate()));
  // A key hashed under another secret is unknown here.
  Authenticator other(*this->repo_, KeyHasher("another-secret-another-secret-another"), 5s,
                      this->clock_);
  const auto key = this->Key(this->User("b@example.com", Role::kDeveloper), Role::kDeveloper);
  EXPECT_FALSE(this->Auth(other, "Bearer " + key.secret));
  EXPECT_TRUE(this->Auth(a, "Bearer " + key.secret));
}

TYPED_TEST(AuthContract, CacheHidesRevocationOnlyUntilTheTtl) {
  const auto key = this->Key(this->User("dev@example.com", Role::kDeveloper), Role::kDeveloper);
  auto a = this->MakeAuth(5s);
  ASSERT_TRUE(this->Auth(a, "Bearer " + key.secret));
  this->Exec("UPDATE api_keys SET revoked_at = $1 WHERE id = $2", {common::NowIso8601(), key.id});
  this->clock_.Advance(4999ms);
  EXPECT_TRUE(this->Auth(a, "Bearer " + key.secret)) << "served from the cache within the TTL";
  this->clock_.Advance(1ms);
  EXPECT_FALSE(this->Auth(a, "Bearer " + key.secret)) << "revocation visible once the TTL passed";
  EXPECT_FALSE(this->Auth(a, "Bearer " + key.secret));
}

TYPED_TEST(AuthContract, CacheHitDoesNotTouchTheDatabase) {
  const auto key = this->Key(this->User("dev@example.com", Role::kDeveloper), Role::kDeveloper);
  auto a = this->MakeAuth(5s);
  ASSERT_TRUE(this->Auth(a, "Bearer " + key.secret));
  const auto first_use = this->Exec("SELECT last_used_at FROM api_keys").rows.at(0).Text(0);
  this->clock_.Advance(1s);
  ASSERT_TRUE(this->Auth(a, "Bearer " + key.secret));
  EXPECT_EQ(this->Exec("SELECT last_used_at FROM api_keys").rows.at(0).Text(0), first_use);
  this->clock_.Advance(5s);
  ASSERT_TRUE(this->Auth(a, "Bearer " + key.secret));
  EXPECT_EQ(this->Exec("SELECT last_used_at FROM api_keys").rows.at(0).Text(0),
            common::FormatIso8601(this->clock_.Now()))
      << "after the TTL the key is looked up (and touched) again";
}

TYPED_TEST(AuthContract, ZeroTtlSeesRevocationImmediately) {
  const auto key = this->Key(this->User("dev@example.com", Role::kDeveloper), Role::kDeveloper);
  auto a = this->MakeAuth(0ms);
  ASSERT_TRUE(this->Auth(a, "Bearer " + key.secret));
  this->Exec("UPDATE api_keys SET revoked_at = $1 WHERE id = $2", {common::NowIso8601(), key.id});
  EXPECT_FALSE(this->Auth(a, "Bearer " + key.secret));
}

TYPED_TEST(AuthContract, ExpiryFollowsTheInjectedClock) {
  const auto key = this->Key(this->User("dev@example.com", Role::kDeveloper), Role::kDeveloper, {},
                             this->clock_.Now() + 1h);
  auto a = this->MakeAuth(5s);
  EXPECT_TRUE(this->Auth(a, "Bearer " + key.secret));
  this->clock_.Advance(2h);
  EXPECT_FALSE(this->Auth(a, "Bearer " + key.secret));
}

// --- usage recorder ------------------------------------------------------------------

template <class Backend>
class UsageContract : public StorageContract<Backend> {
 protected:
  void SetUp() override {
    StorageContract<Backend>::SetUp();
    if (this->IsSkipped()) return;
    this->MigrateSchema();
  }
  std::unique_ptr<usage::UsageRecorder> Recorder(config::UsageConfig cfg) {
    return std::make_unique<usage::UsageRecorder>(*this->db_, asio::make_strand(this->ioc_), cfg,
                                                  log_.Get(), registry_);
  }
  static usage::UsageRecord Record(int i) {
    usage::UsageRecord r;
    r.id = "rec-" + std::to_string(i);
    r.created_at = common::NowIso8601();
    r.request_id = "req-" + std::to_string(i);
    r.api_key_id = "key-1";
    r.user_id = "user-1";
    r.model = "echo";
    r.provider = "echo";
    r.deployment = "echo/echo";
    r.prompt_tokens = i;
    r.completion_tokens = 2 * i;
    r.latency_ms = 5;
    r.status = 200;
    return r;
  }
  double Metric(const std::string& name) {
    return testing::MetricValue(registry_.Render(), name).value_or(-1);
  }

  testing::TestLogger log_;
  observability::Registry registry_;
};

TYPED_TEST_SUITE(UsageContract, Backends, BackendNames);

TYPED_TEST(UsageContract, RecordsAreWrittenInBatchesExactly) {
  config::UsageConfig cfg;
  cfg.batch_size = 500;
  auto rec = this->Recorder(cfg);
  for (int i = 0; i < 1234; ++i) ASSERT_TRUE(rec->Record(this->Record(i)));
  EXPECT_EQ(rec->Buffered(), 1234U);
  EXPECT_TRUE(this->Run(rec->FlushOnce()));
  EXPECT_EQ(rec->Buffered(), 0U);
  EXPECT_EQ(this->Count("usage_records"), 1234);
  EXPECT_EQ(this->Metric("bro_usage_records_written_total"), 1234);
  EXPECT_EQ(this->Metric("bro_usage_records_dropped_total"), 0);
  EXPECT_EQ(this->Metric("bro_usage_buffered_records"), 0);
  auto sums = this->Exec(
      "SELECT SUM(prompt_tokens), SUM(completion_tokens), COUNT(DISTINCT id) FROM usage_records");
  EXPECT_EQ(sums.rows.at(0).Int(0), 1233 * 1234 / 2) << "every record written once";
  EXPECT_EQ(sums.rows.at(0).Int(1), 1233 * 1234);
  EXPECT_EQ(sums.rows.at(0).Int(2), 1234);
}

TYPED_TEST(UsageContract, RecordFieldsRoundTrip) {
  auto rec = this->Recorder({});
  auto full = this->Record(7);
  full.ttft_ms = 42;
  full.streamed = true;
  full.status = 499;
  full.error_code = "client_disconnected";
  auto sparse = this->Record(8);
  sparse.api_key_id.clear();
  sparse.user_id.clear();
  rec->Record(full);
  rec->Record(sparse);
  ASSERT_TRUE(this->Run(rec->FlushOnce()));
  auto row =
      this->Exec(
              "SELECT request_id, api_key_id, user_id, model, provider, deployment, prompt_tokens, "
              "completion_tokens, latency_ms, ttft_ms, status, streamed, error_code, created_at "
              "FROM usage_records WHERE id = 'rec-7'")
          .rows.at(0);
  EXPECT_EQ(row.Text(0), "req-7");
  EXPECT_EQ(row.Text(1), "key-1");
  EXPECT_EQ(row.Text(2), "user-1");
  EXPECT_EQ(row.Text(3), "echo");
  EXPECT_EQ(row.Text(5), "echo/echo");
  EXPECT_EQ(row.Int(6), 7);
  EXPECT_EQ(row.Int(7), 14);
  EXPECT_EQ(row.Int(8), 5);
  EXPECT_EQ(row.Int(9), 42);
  EXPECT_EQ(row.Int(10), 499);
  EXPECT_EQ(row.Int(11), 1);
  EXPECT_EQ(row.Text(12), "client_disconnected");
  EXPECT_EQ(row.Text(13), full.created_at);
  auto s = this->Exec(
                   "SELECT api_key_id, user_id, ttft_ms, error_code, streamed FROM usage_records "
                   "WHERE id = 'rec-8'")
               .rows.at(0);
  EXPECT_TRUE(s.IsNull(0));
  EXPECT_TRUE(s.IsNull(1));
  EXPECT_TRUE(s.IsNull(2));
  EXPECT_TRUE(s.IsNull(3));
  EXPECT_EQ(s.Int(4), 0);
}

TYPED_TEST(UsageContract, StopFlushesEverything) {
  config::UsageConfig cfg;
  cfg.flush_interval = std::chrono::hours(1);
  auto rec = this->Recorder(cfg);
  rec->Start();
  for (int i = 0; i < 10; ++i) rec->Record(this->Record(i));
  this->Run(rec->Stop());
  EXPECT_EQ(rec->Buffered(), 0U);
  EXPECT_EQ(this->Count("usage_records"), 10);
}

// Stop() is the last word at shutdown: when it returns, every record is in the
// database, including a batch the periodic flusher had in flight. A writer lock
// held on another connection stalls that batch mid-write (reads still work) and
// is released 300 ms after Stop() is called, whatever Stop() does.
TYPED_TEST(UsageContract, StopWaitsForTheBatchInFlight) {
  std::function<void()> release;
  if constexpr (std::is_same_v<TypeParam, SqliteBackend>) {
    sqlite3* blocker = nullptr;
    ASSERT_EQ(sqlite3_open((this->backend_.dir.Path() / "data" / "bro.db").c_str(), &blocker),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    release = [blocker] {
      sqlite3_exec(blocker, "COMMIT", nullptr, nullptr, nullptr);
      sqlite3_close(blocker);
    };
  } else {
    PGconn* blocker = PQconnectdb(this->backend_.pg->Url().c_str());
    ASSERT_EQ(PQstatus(blocker), CONNECTION_OK);
    PQclear(PQexec(blocker, "BEGIN"));
    PGresult* r = PQexec(blocker, "LOCK TABLE usage_records IN SHARE MODE");
    ASSERT_EQ(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    release = [blocker] {
      PQclear(PQexec(blocker, "COMMIT"));
      PQfinish(blocker);
    };
  }
  config::UsageConfig cfg;
  cfg.flush_interval = 10ms;
  auto rec = this->Recorder(cfg);
  rec->Start();
  for (int i = 0; i < 10; ++i) rec->Record(this->Record(i));
  std::int64_t rows_after_stop = -1;
  this->Run([&]() -> asio::awaitable<void> {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer t(ex);
    for (int i = 0; i < 1000 && rec->Buffered() > 0; ++i) {  // the flusher took the batch
      t.expires_after(5ms);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    asio::co_spawn(
        ex,
        [&]() -> asio::awaitable<void> {
          asio::steady_timer later(co_await asio::this_coro::executor, 300ms);
          co_await later.async_wait(asio::as_tuple(asio::use_awaitable));
          release();
        },
        asio::detached);
    co_await rec->Stop();
    const Query count{"count", "SELECT COUNT(*) FROM usage_records"};
    Params none;
    const auto rows = co_await this->db_->Execute(count, std::move(none));
    rows_after_stop = rows.rows.at(0).Int(0);
  }());
  EXPECT_EQ(rows_after_stop, 10) << "Stop() returned while a batch was still being written";
  EXPECT_EQ(this->Count("usage_records"), 10);
}

TYPED_TEST(UsageContract, FlushesPeriodically) {
  config::UsageConfig cfg;
  cfg.flush_interval = 20ms;
  auto rec = this->Recorder(cfg);
  rec->Start();
  for (int i = 0; i < 3; ++i) rec->Record(this->Record(i));
  bool flushed = false;
  this->Run([&]() -> asio::awaitable<void> {
    asio::steady_timer t(co_await asio::this_coro::executor);
    for (int i = 0; i < 1000 && !flushed; ++i) {
      t.expires_after(10ms);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      const Query count{"count", "SELECT COUNT(*) FROM usage_records"};
      Params none;
      const auto rows = co_await this->db_->Execute(count, std::move(none));
      flushed = rec->Buffered() == 0 && rows.rows.at(0).Int(0) == 3;
    }
    co_await rec->Stop();
  }());
  EXPECT_TRUE(flushed) << "records were not written by the periodic flush";
}

TYPED_TEST(UsageContract, AFullBatchWakesTheFlusherEarly) {
  config::UsageConfig cfg;
  cfg.flush_interval = std::chrono::hours(1);
  cfg.batch_size = 5;
  auto rec = this->Recorder(cfg);
  rec->Start();
  bool flushed = false;
  this->Run([&]() -> asio::awaitable<void> {
    asio::steady_timer t(co_await asio::this_coro::executor);
    t.expires_after(20ms);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));  // the loop is now waiting its hour
    for (int i = 0; i < 5; ++i) rec->Record(this->Record(i));
    for (int i = 0; i < 1000 && !flushed; ++i) {
      t.expires_after(10ms);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      flushed = rec->Buffered() == 0;
    }
    co_await rec->Stop();
  }());
  EXPECT_TRUE(flushed) << "a full batch must not wait for the flush interval";
  EXPECT_EQ(this->Count("usage_records"), 5);
}

TYPED_TEST(UsageContract, BufferOverflowIsCountedAsDropped) {
  config::UsageConfig cfg;
  cfg.buffer_capacity = 10;
  auto rec = this->Recorder(cfg);
  int accepted = 0;
  for (int i = 0; i < 15; ++i) accepted += rec->Record(this->Record(i)) ? 1 : 0;
  EXPECT_EQ(accepted, 10);
  EXPECT_EQ(rec->Buffered(), 10U);
  EXPECT_EQ(this->Metric("bro_usage_records_dropped_total"), 5);
  EXPECT_EQ(this->Metric("bro_usage_buffered_records"), 10);
  ASSERT_TRUE(this->Run(rec->FlushOnce()));
  EXPECT_EQ(this->Count("usage_records"), 10);
  EXPECT_EQ(this->Metric("bro_usage_records_written_total"), 10);
}

TYPED_TEST(UsageContract, DatabaseFailureKeepsRecordsBuffered) {
  config::UsageConfig cfg;
  cfg.batch_size = 10;
  auto rec = this->Recorder(cfg);
  for (int i = 0; i < 25; ++i) rec->Record(this->Record(i));
  this->Exec("ALTER TABLE usage_records RENAME TO usage_records_away");
  EXPECT_FALSE(this->Run(rec->FlushOnce()));
  EXPECT_EQ(rec->Buffered(), 25U) << "a failed batch goes back into the buffer";
  EXPECT_EQ(this->Metric("bro_usage_flush_errors_total"), 1);
  EXPECT_FALSE(this->Run(rec->FlushOnce()));
  EXPECT_EQ(rec->Buffered(), 25U);
  this->Exec("ALTER TABLE usage_records_away RENAME TO usage_records");
  EXPECT_TRUE(this->Run(rec->FlushOnce()));
  EXPECT_EQ(rec->Buffered(), 0U);
  EXPECT_EQ(this->Count("usage_records"), 25);
  EXPECT_EQ(this->Exec("SELECT COUNT(DISTINCT id) FROM usage_records").rows.at(0).Int(0), 25);
  EXPECT_EQ(this->Metric("bro_usage_records_written_total"), 25);
  EXPECT_EQ(this->Metric("bro_usage_records_dropped_total"), 0);
  EXPECT_EQ(this->Metric("bro_usage_flush_errors_total"), 2);
}

// Backpressure: records promised to requests in flight, waiting, and being written together
// never exceed the capacity, so an admitted request's record is never dropped; once full,
// Reserve refuses (the API answers 503) until the database takes records again.
TYPED_TEST(UsageContract, AFullBufferRefusesNewWorkInsteadOfDroppingRecords) {
  config::UsageConfig cfg;
  cfg.buffer_capacity = 5;
  cfg.batch_size = 2;
  auto rec = this->Recorder(cfg);
  for (int i = 0; i < 3; ++i) {
    auto slot = rec->Reserve();
    ASSERT_TRUE(slot.Valid());
    rec->Record(std::move(slot), this->Record(i));
  }
  this->Exec("ALTER TABLE usage_records RENAME TO usage_records_away");
  EXPECT_FALSE(this->Run(rec->FlushOnce()));
  auto a = rec->Reserve();
  auto b = rec->Reserve();
  ASSERT_TRUE(a.Valid());
  ASSERT_TRUE(b.Valid());
  EXPECT_EQ(rec->Promised(), 2U);
  EXPECT_FALSE(rec->Reserve().Valid()) << "3 buffered + 2 promised = capacity";
  EXPECT_EQ(this->Metric("bro_usage_backpressure_total"), 1);
  rec->Record(std::move(a), this->Record(3));
  { auto unused = std::move(b); }  // a request refused later gives its room back
  EXPECT_EQ(rec->Promised(), 0U);
  auto c = rec->Reserve();
  ASSERT_TRUE(c.Valid());
  rec->Record(std::move(c), this->Record(4));
  EXPECT_FALSE(rec->Reserve().Valid());
  EXPECT_FALSE(this->Run(rec->FlushOnce()));
  EXPECT_EQ(rec->Buffered(), 5U);
  this->Exec("ALTER TABLE usage_records_away RENAME TO usage_records");
  EXPECT_TRUE(this->Run(rec->FlushOnce()));
  EXPECT_EQ(this->Count("usage_records"), 5);
  EXPECT_EQ(this->Metric("bro_usage_records_dropped_total"), 0);
  EXPECT_TRUE(rec->Reserve().Valid()) << "room again once the database took the records";
}

TYPED_TEST(UsageContract, CostIsStoredExactly) {
  auto rec = this->Recorder({});
  auto r = this->Record(1);
  r.cost_nanos = 123'456'789'012;
  rec->Record(r);
  ASSERT_TRUE(this->Run(rec->FlushOnce()));
  EXPECT_EQ(this->Exec("SELECT cost_nanos FROM usage_records").rows.at(0).Int(0), 123'456'789'012);
}

// --- PostgreSQL only ---------------------------------------------------------------

class PostgresOnly : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::PostgresAdminUrl()) GTEST_SKIP() << testing::kNoPostgres;
    pg_.emplace();
  }
  template <class T>
  T Run(asio::awaitable<T> task) {
    return RunTask(ioc_, std::move(task));
  }
  asio::io_context ioc_;
  std::optional<testing::PostgresTestDatabase> pg_;
};

TEST_F(PostgresOnly, StatementTimeoutApplies) {
  PostgresDatabase db(ioc_.get_executor(), pg_->Url(), 2, 300ms);
  EXPECT_EQ(Run(db.Execute({"show", "SHOW statement_timeout"}, {})).rows.at(0).Text(0), "300ms");
  EXPECT_THROW(Run(db.Execute({"sleep", "SELECT pg_sleep(10)"}, {})), DatabaseError);
  EXPECT_EQ(Run(db.Execute({"one", "SELECT 1"}, {})).rows.at(0).Int(0), 1) << "the pool recovers";
  EXPECT_EQ(db.Stats().in_use, 0);
}

TEST_F(PostgresOnly, UrlParametersPassThrough) {
  std::string url = pg_->Url();
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += "application_name=bro-contract&options=-c%20search_path%3Dbro_custom%2Cpublic";
  PostgresDatabase db(ioc_.get_executor(), url, 1, 5s);
  EXPECT_EQ(Run(db.Execute({"show", "SHOW application_name"}, {})).rows.at(0).Text(0),
            "bro-contract");
  EXPECT_EQ(Run(db.Execute({"show", "SHOW statement_timeout"}, {})).rows.at(0).Text(0), "5s");
  EXPECT_EQ(Run(db.Execute({"show", "SHOW search_path"}, {})).rows.at(0).Text(0),
            "bro_custom,public")
      << "libpq 'options' from DATABASE_URL must not be replaced by the statement timeout";
}

TEST_F(PostgresOnly, UnreachableServerFailsFastAndCleanly) {
  PostgresDatabase db(ioc_.get_executor(), "postgres://postgres@127.0.0.1:1/none?sslmode=disable",
                      2, 500ms);
  EXPECT_THROW(Run(db.Execute({"one", "SELECT 1"}, {})), DatabaseError);
  EXPECT_FALSE(Run(db.Ping()));
  const auto s = db.Stats();
  EXPECT_EQ(s.in_use, 0) << "failed connects are not counted as pool members";
  EXPECT_EQ(s.idle, 0);
}

TEST_F(PostgresOnly, PoolWaitersGetConnectionsInTurn) {
  PostgresDatabase db(ioc_.get_executor(), pg_->Url(), 1, 5s);
  std::vector<std::future<std::int64_t>> results;
  for (int i = 0; i < 5; ++i) {
    results.push_back(asio::co_spawn(
        ioc_,
        [&db, i]() -> asio::awaitable<std::int64_t> {
          Params p;
          p.emplace_back(std::int64_t{i});
          const Query q{"sleepy", "SELECT $1::bigint, pg_sleep(0.02)"};
          auto rows = co_await db.Execute(q, std::move(p));
          co_return rows.rows.at(0).Int(0);
        },
        asio::use_future));
  }
  ioc_.restart();
  ioc_.run();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(results[static_cast<std::size_t>(i)].get(), i);
  EXPECT_EQ(db.Stats().idle, 1);
}

}  // namespace
}  // namespace bro::storage
