#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "config/config.hpp"

namespace bro::observability {

enum class Severity { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Structured logger: one JSON object per line with Cloud Logging's field names
// (severity, message, time, httpRequest, logging.googleapis.com/trace), or a
// human-readable text line. Lines are formatted by the caller's thread and
// written by one background thread so request threads never block on stdout;
// the buffer is bounded and overflow is counted, never unbounded.
class Logger {
 public:
  Logger(const config::LoggingConfig& cfg, int fd, std::string project_id = {});
  ~Logger();
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  bool Enabled(Severity s) const { return static_cast<int>(s) >= static_cast<int>(min_); }
  bool AccessLogEnabled() const { return access_log_; }
  void Log(Severity s, std::string_view message, boost::json::object fields = {});
  void Debug(std::string_view m, boost::json::object f = {}) {
    Log(Severity::kDebug, m, std::move(f));
  }
  void Info(std::string_view m, boost::json::object f = {}) {
    Log(Severity::kInfo, m, std::move(f));
  }
  void Warning(std::string_view m, boost::json::object f = {}) {
    Log(Severity::kWarning, m, std::move(f));
  }
  void Error(std::string_view m, boost::json::object f = {}) {
    Log(Severity::kError, m, std::move(f));
  }

  // Cloud Logging's trace field value for a W3C trace id.
  std::string TraceResource(std::string_view trace_id) const;

  // Writes everything buffered; called at shutdown and by tests.
  void Flush();
  std::uint64_t Dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  void Append(const std::string& line);
  void WriterLoop();
  void WriteAll(const std::string& data);

  Severity min_;
  config::LogFormat format_;
  bool access_log_;
  int fd_;
  std::string project_id_;
  std::mutex mu_;        // guards buffer_ and stopping_
  std::mutex write_mu_;  // one writer at a time, in order
  std::condition_variable cv_;
  std::string buffer_;
  bool stopping_ = false;
  std::atomic<std::uint64_t> dropped_{0};
  std::thread writer_;
};

std::string_view SeverityName(Severity s);
std::string NowRfc3339();

}  // namespace bro::observability
