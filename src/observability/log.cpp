#include "observability/log.hpp"

#include <unistd.h>

#include <boost/json/serialize.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "common/utf8.hpp"

namespace bro::observability {
namespace {

constexpr std::size_t kMaxBuffered = std::size_t{8} << 20;
constexpr std::size_t kEagerFlush = std::size_t{64} << 10;
constexpr auto kFlushEvery = std::chrono::milliseconds(100);

Severity SeverityOf(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::kDebug:
      return Severity::kDebug;
    case config::LogLevel::kWarning:
      return Severity::kWarning;
    case config::LogLevel::kError:
      return Severity::kError;
    case config::LogLevel::kInfo:
      break;
  }
  return Severity::kInfo;
}

}  // namespace

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kDebug:
      return "DEBUG";
    case Severity::kInfo:
      return "INFO";
    case Severity::kWarning:
      return "WARNING";
    case Severity::kError:
      return "ERROR";
  }
  return "DEFAULT";
}

std::string NowRfc3339() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::time_point_cast<std::chrono::seconds>(now);
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now - secs).count();
  std::time_t t = std::chrono::system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long>(micros));
  return buf;
}

Logger::Logger(const config::LoggingConfig& cfg, int fd, std::string project_id)
    : min_(SeverityOf(cfg.level)),
      format_(cfg.format),
      access_log_(cfg.access_log),
      fd_(fd),
      project_id_(std::move(project_id)),
      writer_([this] { WriterLoop(); }) {}

Logger::~Logger() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  writer_.join();
}

std::string Logger::TraceResource(std::string_view trace_id) const {
  if (project_id_.empty()) return std::string(trace_id);
  return "projects/" + project_id_ + "/traces/" + std::string(trace_id);
}

void Logger::Log(Severity s, std::string_view message, boost::json::object fields) {
  if (!Enabled(s)) return;
  std::string line;
  if (format_ == config::LogFormat::kJson) {
    boost::json::object o;
    o.reserve(fields.size() + 3);
    o["severity"] = SeverityName(s);
    o["time"] = NowRfc3339();
    o["message"] = message;
    for (auto& kv : fields) o[kv.key()] = std::move(kv.value());
    line = boost::json::serialize(o);
  } else {
    line = NowRfc3339();
    line += ' ';
    line += SeverityName(s);
    line += ' ';
    line += message;
    for (const auto& kv : fields) {
      line += ' ';
      line += kv.key();
      line += '=';
      line += kv.value().is_string() ? std::string(kv.value().get_string())
                                     : boost::json::serialize(kv.value());
    }
  }
  // Cloud Logging drops a line that is not UTF-8, and user agents and URL paths are whatever
  // the client sent. boost::json copies string bytes verbatim, so the line is repaired as a
  // whole: that covers the message, keys and nested values alike, and cannot touch the JSON
  // structure, because ill-formed bytes are all >= 0x80 and every string is delimited by ASCII.
  common::RepairUtf8(line);
  line += '\n';
  Append(line);
}

void Logger::Append(const std::string& line) {
  bool eager = false;
  {
    std::lock_guard lock(mu_);
    if (buffer_.size() + line.size() > kMaxBuffered) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    buffer_ += line;
    eager = buffer_.size() >= kEagerFlush;
  }
  if (eager) cv_.notify_one();
}

void Logger::WriteAll(const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // stdout closed: nothing sensible to do
    }
    off += static_cast<std::size_t>(n);
  }
}

void Logger::Flush() {
  // write_mu_ is held from taking the buffer until it is written, so that lines reach the
  // output whole and in order whichever thread writes them.
  std::lock_guard write_lock(write_mu_);
  std::string out;
  {
    std::lock_guard lock(mu_);
    out.swap(buffer_);
  }
  WriteAll(out);
}

void Logger::WriterLoop() {
  for (;;) {
    bool stop = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, kFlushEvery,
                   [this] { return stopping_ || buffer_.size() >= kEagerFlush; });
      stop = stopping_;
    }
    Flush();
    if (stop) return;
  }
}

}  // namespace bro::observability
