#include "storage/sql/postgres_database.hpp"

#include <libpq-fe.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace bro::storage {

namespace asio = boost::asio;
using asio::as_tuple;
using asio::use_awaitable;
using namespace asio::experimental::awaitable_operators;

namespace {
Rows TakeRows(std::vector<PGresult*>& results, std::string_view name);
}  // namespace

struct PgWaiter {
  explicit PgWaiter(const asio::any_io_executor& ex)
      : timer(ex, std::chrono::steady_clock::time_point::max()) {}
  asio::steady_timer timer;
  bool notified = false;
};

struct PostgresDatabase::Connection {
  PGconn* pg = nullptr;
  std::unique_ptr<asio::posix::stream_descriptor> socket;

  ~Connection() {
    if (socket) {
      boost::system::error_code ec;
      socket->close(ec);
    }
    if (pg != nullptr) PQfinish(pg);
  }

  std::string Error() const { return pg != nullptr ? PQerrorMessage(pg) : "no connection"; }

  // Waits until the socket is readable/writable or the deadline passes.
  Task<void> Wait(asio::posix::descriptor_base::wait_type type,
                  std::chrono::steady_clock::time_point deadline) {
    asio::steady_timer timer(socket->get_executor(), deadline);
    auto result = co_await (socket->async_wait(type, as_tuple(use_awaitable)) ||
                            timer.async_wait(as_tuple(use_awaitable)));
    if (result.index() == 1) throw DatabaseError("postgres: timed out");
    auto [ec] = std::get<0>(result);
    if (ec) throw DatabaseError("postgres: socket wait failed: " + ec.message());
  }

  Task<std::vector<PGresult*>> Collect(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      int f = PQflush(pg);
      if (f == 0) break;
      if (f < 0) throw DatabaseError("postgres: send failed: " + Error());
      co_await Wait(asio::posix::descriptor_base::wait_write, deadline);
    }
    std::vector<PGresult*> results;
    try {
      for (;;) {
        while (!PQisBusy(pg)) {
          PGresult* r = PQgetResult(pg);
          if (r == nullptr) co_return results;
          results.push_back(r);
        }
        co_await Wait(asio::posix::descriptor_base::wait_read, deadline);
        if (PQconsumeInput(pg) == 0) throw DatabaseError("postgres: " + Error());
      }
    } catch (...) {
      for (auto* r : results) PQclear(r);
      throw;
    }
  }
};

struct PostgresDatabase::Lease {
  PostgresDatabase* db;
  std::unique_ptr<Connection> conn;
  bool healthy = false;
  Lease(PostgresDatabase* d, std::unique_ptr<Connection> c) : db(d), conn(std::move(c)) {}
  Lease(Lease&& o) noexcept : db(o.db), conn(std::move(o.conn)), healthy(o.healthy) {}
  Lease& operator=(Lease&&) = delete;
  ~Lease() {
    if (conn) db->Release(std::move(conn), healthy);
  }
};

PostgresDatabase::PostgresDatabase(asio::any_io_executor executor, std::string url,
                                   int max_connections, std::chrono::milliseconds timeout)
    : executor_(std::move(executor)),
      url_(std::move(url)),
      max_(max_connections),
      timeout_(timeout) {}

PostgresDatabase::~PostgresDatabase() = default;

Task<std::unique_ptr<PostgresDatabase::Connection>> PostgresDatabase::Connect() {
  // The statement timeout is set after connecting (SET), not through the `options`
  // keyword, so that options given in the URL (search_path...) are kept.
  const char* keys[] = {"dbname", "connect_timeout", nullptr};
  const std::string connect_timeout =
      std::to_string(std::max<long>(2, static_cast<long>(timeout_.count() / 1000)));
  const char* values[] = {url_.c_str(), connect_timeout.c_str(), nullptr};
  auto c = std::make_unique<Connection>();
  c->pg = PQconnectStartParams(keys, values, 1);
  if (c->pg == nullptr) throw DatabaseError("postgres: out of memory");
  if (PQstatus(c->pg) == CONNECTION_BAD) throw DatabaseError("postgres: " + c->Error());
  const auto deadline = std::chrono::steady_clock::now() + timeout_ + std::chrono::seconds(2);
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  while (st != PGRES_POLLING_OK) {
    if (st == PGRES_POLLING_FAILED) throw DatabaseError("postgres: connect failed: " + c->Error());
    int fd = ::dup(PQsocket(c->pg));
    if (fd < 0) throw DatabaseError("postgres: no socket");
    c->socket = std::make_unique<asio::posix::stream_descriptor>(executor_, fd);
    co_await c->Wait(st == PGRES_POLLING_READING ? asio::posix::descriptor_base::wait_read
                                                 : asio::posix::descriptor_base::wait_write,
                     deadline);
    c->socket.reset();
    st = PQconnectPoll(c->pg);
  }
  if (PQsetnonblocking(c->pg, 1) != 0)
    throw DatabaseError("postgres: cannot set non-blocking: " + c->Error());
  int fd = ::dup(PQsocket(c->pg));
  if (fd < 0) throw DatabaseError("postgres: no socket");
  c->socket = std::make_unique<asio::posix::stream_descriptor>(executor_, fd);
  const std::string set_timeout = "SET statement_timeout = " + std::to_string(timeout_.count());
  if (PQsendQuery(c->pg, set_timeout.c_str()) == 0) {
    throw DatabaseError("postgres: " + c->Error());
  }
  auto results = co_await c->Collect(deadline);
  TakeRows(results, "set_statement_timeout");
  co_return c;
}

Task<PostgresDatabase::Lease> PostgresDatabase::Acquire() {
  const auto deadline = std::chrono::steady_clock::now() + timeout_;
  for (;;) {
    std::shared_ptr<PgWaiter> waiter;
    bool connect = false;
    {
      std::lock_guard lock(mu_);
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        co_return Lease(this, std::move(c));
      }
      if (total_ < max_) {
        ++total_;
        connect = true;
      } else {
        waiter = std::make_shared<PgWaiter>(co_await asio::this_coro::executor);
        waiter->timer.expires_at(deadline);
        waiters_.push_back(waiter);
      }
    }
    if (connect) {
      try {
        co_return Lease(this, co_await Connect());
      } catch (...) {
        std::lock_guard lock(mu_);
        --total_;
        throw;
      }
    }
    co_await waiter->timer.async_wait(as_tuple(use_awaitable));
    bool notified = false;
    {
      std::lock_guard lock(mu_);
      notified = waiter->notified;
      if (!notified) std::erase(waiters_, waiter);
    }
    if (!notified) throw DatabaseError("postgres: timed out waiting for a pool connection");
  }
}

void PostgresDatabase::Release(std::unique_ptr<Connection> c, bool healthy) {
  std::shared_ptr<PgWaiter> wake;
  {
    std::lock_guard lock(mu_);
    if (healthy && PQstatus(c->pg) == CONNECTION_OK && PQtransactionStatus(c->pg) == PQTRANS_IDLE) {
      idle_.push_back(std::move(c));
    } else {
      --total_;
      c.reset();
    }
    if (!waiters_.empty()) {
      wake = waiters_.front();
      waiters_.pop_front();
      wake->notified = true;
    }
  }
  if (wake) asio::post(wake->timer.get_executor(), [wake] { wake->timer.cancel(); });
}

namespace {

struct ParamBuffers {
  std::vector<std::string> storage;
  std::vector<const char*> values;
  explicit ParamBuffers(const Params& params) {
    storage.reserve(params.size());
    values.reserve(params.size());
    for (const auto& p : params) {
      if (std::holds_alternative<std::nullptr_t>(p)) {
        storage.emplace_back();
        values.push_back(nullptr);
      } else if (auto* n = std::get_if<std::int64_t>(&p)) {
        storage.push_back(std::to_string(*n));
        values.push_back(storage.back().c_str());
      } else {
        storage.push_back(std::get<std::string>(p));
        values.push_back(storage.back().c_str());
      }
    }
  }
};

Rows TakeRows(std::vector<PGresult*>& results, std::string_view name) {
  Rows out;
  std::string error;
  for (auto* r : results) {
    auto st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK) {
      const int n = PQntuples(r), cols = PQnfields(r);
      out.rows.reserve(static_cast<std::size_t>(n));
      for (int i = 0; i < n; ++i) {
        Row row;
        row.cells.reserve(static_cast<std::size_t>(cols));
        for (int c = 0; c < cols; ++c) {
          if (PQgetisnull(r, i, c)) {
            row.cells.emplace_back(std::nullopt);
          } else {
            row.cells.emplace_back(
                std::string(PQgetvalue(r, i, c), static_cast<std::size_t>(PQgetlength(r, i, c))));
          }
        }
        out.rows.push_back(std::move(row));
      }
      out.affected = n;
      if (const char* t = PQcmdTuples(r); t != nullptr && *t != '\0') out.affected = std::atoll(t);
    } else if (st == PGRES_COMMAND_OK) {
      if (const char* t = PQcmdTuples(r); t != nullptr && *t != '\0') out.affected = std::atoll(t);
    } else if (error.empty()) {
      error = PQresultErrorMessage(r);
    }
    PQclear(r);
  }
  results.clear();
  if (!error.empty()) throw DatabaseError(std::string(name) + ": " + error);
  return out;
}

}  // namespace

Task<Rows> PostgresDatabase::Execute(Query q, Params params) {
  auto lease = co_await Acquire();
  const std::string sql(q.sql);
  ParamBuffers buffers(params);
  if (PQsendQueryParams(lease.conn->pg, sql.c_str(), static_cast<int>(params.size()), nullptr,
                        buffers.values.data(), nullptr, nullptr, 0) == 0) {
    throw DatabaseError(std::string(q.name) + ": " + lease.conn->Error());
  }
  auto results = co_await lease.conn->Collect(std::chrono::steady_clock::now() + timeout_ +
                                              std::chrono::seconds(1));
  lease.healthy = true;  // the connection is in a clean state even if the statement failed
  co_return TakeRows(results, q.name);
}

Task<void> PostgresDatabase::ExecuteInTransaction(std::vector<Statement> statements) {
  auto lease = co_await Acquire();
  auto deadline = std::chrono::steady_clock::now() + timeout_ * 2 + std::chrono::seconds(1);
  auto simple = [&](const char* sql) -> Task<void> {
    if (PQsendQuery(lease.conn->pg, sql) == 0) throw DatabaseError(lease.conn->Error());
    auto r = co_await lease.conn->Collect(deadline);
    TakeRows(r, sql);
  };
  co_await simple("BEGIN");
  try {
    for (const auto& s : statements) {
      const std::string sql(s.query.sql);
      ParamBuffers buffers(s.params);
      if (PQsendQueryParams(lease.conn->pg, sql.c_str(), static_cast<int>(s.params.size()), nullptr,
                            buffers.values.data(), nullptr, nullptr, 0) == 0) {
        throw DatabaseError(std::string(s.query.name) + ": " + lease.conn->Error());
      }
      auto r = co_await lease.conn->Collect(deadline);
      TakeRows(r, s.query.name);
    }
  } catch (...) {
    // Leave the connection to be discarded: a half-done transaction never returns to the pool.
    throw;
  }
  co_await simple("COMMIT");
  lease.healthy = true;
}

Task<void> PostgresDatabase::ExecuteScript(std::string_view sql) {
  auto lease = co_await Acquire();
  const std::string script = "BEGIN;\n" + std::string(sql) + ";\nCOMMIT;";
  if (PQsendQuery(lease.conn->pg, script.c_str()) == 0) throw DatabaseError(lease.conn->Error());
  auto r = co_await lease.conn->Collect(std::chrono::steady_clock::now() + std::chrono::minutes(5));
  TakeRows(r, "script");
  lease.healthy = true;
}

Task<bool> PostgresDatabase::Ping() {
  try {
    co_await Execute({"ping", "SELECT 1"}, {});
    co_return true;
  } catch (const DatabaseError&) {
    co_return false;
  }
}

PoolStats PostgresDatabase::Stats() const {
  std::lock_guard lock(mu_);
  const int idle = static_cast<int>(idle_.size());
  return {total_ - idle, idle, max_};
}

}  // namespace bro::storage
