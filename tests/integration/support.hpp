#pragma once

// Shared helpers of the integration tests: running coroutines to completion,
// temp dirs, a controllable clock, a throw-away PostgreSQL database per test,
// reading metric values from an exposition.

#include <fcntl.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "common/random.hpp"
#include "common/time.hpp"
#include "config/config.hpp"
#include "observability/log.hpp"

namespace bro::testing {

namespace asio = boost::asio;

// Runs `task` on `ioc` until it and everything it started has finished; rethrows its exception.
template <class T>
T RunTask(asio::io_context& ioc, asio::awaitable<T> task) {
  auto future = asio::co_spawn(ioc, std::move(task), asio::use_future);
  ioc.restart();
  ioc.run();
  return future.get();
}

// Polls `done` until it holds or `limit` passes; for conditions set by other threads.
template <class F>
bool WaitFor(F&& done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "bro-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& Path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class FakeClock final : public common::Clock {
 public:
  FakeClock() : now_(std::chrono::system_clock::from_time_t(1'800'000'000)) {}
  std::chrono::system_clock::time_point Now() const override { return now_.load(); }
  void Advance(std::chrono::milliseconds d) { now_.store(now_.load() + d); }

 private:
  std::atomic<std::chrono::system_clock::time_point> now_;
};

// A logger writing to /dev/null, or to stderr when BRO_TEST_LOG is set (debugging).
class TestLogger {
 public:
  TestLogger()
      : fd_(std::getenv("BRO_TEST_LOG") != nullptr ? ::dup(STDERR_FILENO)
                                                   : ::open("/dev/null", O_WRONLY)),
        log_(Config(), fd_) {}
  ~TestLogger() = default;
  TestLogger(const TestLogger&) = delete;
  TestLogger& operator=(const TestLogger&) = delete;
  observability::Logger& Get() { return log_; }

 private:
  static config::LoggingConfig Config() {
    config::LoggingConfig c;
    c.level = config::LogLevel::kDebug;
    return c;
  }
  struct Fd {
    explicit Fd(int f) : fd(f) {}
    ~Fd() { ::close(fd); }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    operator int() const { return fd; }  // NOLINT(google-explicit-constructor)
    int fd;
  };
  Fd fd_;
  observability::Logger log_;
};

// The value of one series ("name" or "name{labels}") in a Prometheus exposition.
inline std::optional<double> MetricValue(const std::string& exposition, const std::string& series) {
  std::istringstream in(exposition);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

inline std::optional<std::string> PostgresAdminUrl() {
  const char* url = std::getenv("BRO_TEST_POSTGRES_URL");
  if (url == nullptr || *url == '\0') return std::nullopt;
  return std::string(url);
}

inline constexpr const char* kNoPostgres =
    "BRO_TEST_POSTGRES_URL is not set: the PostgreSQL half of the contract was NOT run "
    "(scripts/test.sh sets it; or: export BRO_TEST_POSTGRES_URL=$(scripts/services/postgres.sh "
    "start DIR))";

inline std::optional<std::string> RedisTestUrl() {
  const char* url = std::getenv("BRO_TEST_REDIS_URL");
  if (url == nullptr || *url == '\0') return std::nullopt;
  return std::string(url);
}

inline constexpr const char* kNoRedis =
    "BRO_TEST_REDIS_URL is not set: the Redis half of the contract was NOT run "
    "(scripts/test.sh sets it; or: export BRO_TEST_REDIS_URL=$(scripts/services/redis.sh "
    "start DIR))";

// Runs one SQL command on a fresh synchronous libpq connection; throws on failure.
inline void PostgresAdminExec(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string error = PQerrorMessage(c);
    PQfinish(c);
    throw std::runtime_error("cannot connect to " + url + ": " + error);
  }
  PGresult* r = PQexec(c, sql.c_str());
  const auto status = PQresultStatus(r);
  std::string error = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
    throw std::runtime_error(sql + ": " + error);
}

// A database of its own on the test server, dropped at the end: test processes
// run in parallel and never see each other's rows or schema.
class PostgresTestDatabase {
 public:
  PostgresTestDatabase() : admin_(PostgresAdminUrl().value()) {
    name_ = "bro_test_" + std::to_string(::getpid()) + "_" + common::RandomHex(6);
    PostgresAdminExec(admin_, "CREATE DATABASE " + name_);
    auto parsed = boost::urls::parse_uri(admin_);
    if (!parsed) throw std::runtime_error("BRO_TEST_POSTGRES_URL is not a URL");
    boost::urls::url u(*parsed);
    u.set_path("/" + name_);
    url_ = std::string(u.buffer());
  }
  ~PostgresTestDatabase() {
    try {
      PostgresAdminExec(admin_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
    } catch (const std::exception&) {
      // Best effort: the server is thrown away at the end of the run anyway.
    }
  }
  PostgresTestDatabase(const PostgresTestDatabase&) = delete;
  PostgresTestDatabase& operator=(const PostgresTestDatabase&) = delete;
  const std::string& Url() const { return url_; }
  const std::string& Name() const { return name_; }

 private:
  std::string admin_;
  std::string name_;
  std::string url_;
};

}  // namespace bro::testing
