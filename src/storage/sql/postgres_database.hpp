#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/sql/database.hpp"

namespace bro::storage {

// PostgreSQL through libpq's asynchronous API: every connection is in non-blocking
// mode and its socket is awaited with Asio, so no thread ever blocks on the
// database. A bounded pool of `max_connections`; callers wait (up to `timeout`)
// when all are busy. Statement timeout is set per connection; TLS and other
// libpq parameters pass through the URL (sslmode, sslrootcert, ...).
class PostgresDatabase : public Database {
 public:
  PostgresDatabase(boost::asio::any_io_executor executor, std::string url, int max_connections,
                   std::chrono::milliseconds timeout);
  ~PostgresDatabase() override;

  std::string_view Dialect() const override { return "postgres"; }
  Task<Rows> Execute(Query q, Params params) override;
  Task<void> ExecuteInTransaction(std::vector<Statement> statements) override;
  Task<void> ExecuteScript(std::string_view sql) override;
  Task<bool> Ping() override;
  PoolStats Stats() const override;

 private:
  struct Connection;
  struct Lease;
  Task<std::unique_ptr<Connection>> Connect();
  Task<Lease> Acquire();
  void Release(std::unique_ptr<Connection> c, bool healthy);

  boost::asio::any_io_executor executor_;
  std::string url_;
  int max_;
  std::chrono::milliseconds timeout_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
  int total_ = 0;
  std::deque<std::shared_ptr<struct PgWaiter>> waiters_;
};

}  // namespace bro::storage
