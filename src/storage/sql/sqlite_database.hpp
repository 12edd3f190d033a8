#pragma once

#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "storage/sql/database.hpp"

struct sqlite3;

namespace bro::storage {

// SQLite in WAL mode. Statements run on a small dedicated thread pool (SQLite's
// API is blocking) with one connection per worker; prepared statements are cached
// per connection. Writers are serialized by SQLite itself (busy_timeout). The files hold key
// hashes, users and usage: a directory it creates is 0700 and the database and its -wal and
// -shm files are 0600.
class SqliteDatabase : public Database {
 public:
  SqliteDatabase(std::string path, int connections, std::chrono::milliseconds timeout);
  ~SqliteDatabase() override;

  std::string_view Dialect() const override { return "sqlite"; }
  Task<Rows> Execute(Query q, Params params) override;
  Task<void> ExecuteInTransaction(std::vector<Statement> statements) override;
  Task<void> ExecuteScript(std::string_view sql) override;
  Task<bool> Ping() override;
  PoolStats Stats() const override;

  // The mode of the database's directory when it existed already and lets group or others in
  // (0755 say), for the caller to warn about: bro-ai does not chmod a directory it did not make.
  std::optional<unsigned> SharedDirectoryMode() const { return shared_directory_mode_; }

 private:
  struct Connection;
  Connection& Acquire();
  void Release(Connection& c);
  template <class F>
  auto Run(F&& f) -> Task<decltype(f(std::declval<Connection&>()))>;

  std::string path_;
  std::chrono::milliseconds timeout_;
  std::optional<unsigned> shared_directory_mode_;
  boost::asio::thread_pool pool_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> all_;
  std::vector<Connection*> idle_;
};

}  // namespace bro::storage
