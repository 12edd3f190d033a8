#include "observability/log.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "log_file.hpp"

namespace bro::observability {
namespace {

namespace json = boost::json;

using testing::LogFile;

config::LoggingConfig Cfg(config::LogLevel level,
                          config::LogFormat format = config::LogFormat::kJson) {
  config::LoggingConfig c;
  c.level = level;
  c.format = format;
  return c;
}

const std::regex kRfc3339(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z)");

TEST(Logger, JsonLinesCarrySeverityTimeAndMessage) {
  LogFile file;
  {
    Logger log(Cfg(config::LogLevel::kDebug), file.Fd());
    log.Info("hello \"world\"\nsecond line", {{"n", 42}, {"nested", json::object{{"a", true}}}});
    log.Error("boom");
    log.Flush();
    const auto lines = file.Lines();
    ASSERT_EQ(lines.size(), 2U) << "a message with a newline must still be one line";
    auto first = json::parse(lines[0]).as_object();
    EXPECT_EQ(first.at("severity").as_string(), "INFO");
    EXPECT_EQ(first.at("message").as_string(), "hello \"world\"\nsecond line");
    EXPECT_TRUE(std::regex_match(std::string(first.at("time").as_string()), kRfc3339)) << lines[0];
    EXPECT_EQ(first.at("n").as_int64(), 42);
    EXPECT_TRUE(first.at("nested").as_object().at("a").as_bool());
    auto second = json::parse(lines[1]).as_object();
    EXPECT_EQ(second.at("severity").as_string(), "ERROR");
    EXPECT_EQ(second.at("message").as_string(), "boom");
  }
}

TEST(Logger, SeverityNames) {
  EXPECT_EQ(SeverityName(Severity::kDebug), "DEBUG");
  EXPECT_EQ(SeverityName(Severity::kInfo), "INFO");
  EXPECT_EQ(SeverityName(Severity::kWarning), "WARNING");
  EXPECT_EQ(SeverityName(Severity::kError), "ERROR");
  EXPECT_TRUE(std::regex_match(NowRfc3339(), kRfc3339));
}

TEST(Logger, LevelFiltering) {
  LogFile file;
  {
    Logger log(Cfg(config::LogLevel::kWarning), file.Fd());
    EXPECT_FALSE(log.Enabled(Severity::kDebug));
    EXPECT_FALSE(log.Enabled(Severity::kInfo));
    EXPECT_TRUE(log.Enabled(Severity::kWarning));
    EXPECT_TRUE(log.Enabled(Severity::kError));
    log.Debug("d");
    log.Info("i");
    log.Warning("w");
    log.Error("e");
  }
  const auto lines = file.Lines();
  ASSERT_EQ(lines.size(), 2U);
  EXPECT_EQ(json::parse(lines[0]).as_object().at("message").as_string(), "w");
  EXPECT_EQ(json::parse(lines[1]).as_object().at("message").as_string(), "e");
}

TEST(Logger, TextFormat) {
  LogFile file;
  {
    Logger log(Cfg(config::LogLevel::kInfo, config::LogFormat::kText), file.Fd());
    log.Warning("disk almost full", {{"path", "/var"}, {"free", 12}});
  }
  const auto lines = file.Lines();
  ASSERT_EQ(lines.size(), 1U);
  const std::regex text_line(
      R"(\d{4}-\d{2}-\d{2}T\S+Z WARNING disk almost full path=/var free=12)");
  EXPECT_TRUE(std::regex_match(lines[0], text_line)) << lines[0];
}

TEST(Logger, DestructorWritesEverythingBuffered) {
  LogFile file;
  {
    Logger log(Cfg(config::LogLevel::kInfo), file.Fd());
    for (int i = 0; i < 1000; ++i) log.Info("line", {{"seq", i}});
  }
  const auto lines = file.Lines();
  ASSERT_EQ(lines.size(), 1000U);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(json::parse(lines[static_cast<std::size_t>(i)]).as_object().at("seq").as_int64(), i);
  }
}

TEST(Logger, FlushWritesWithoutWaitingForTheWriter) {
  LogFile file;
  Logger log(Cfg(config::LogLevel::kInfo), file.Fd());
  log.Info("before flush");
  log.Flush();
  const auto lines = file.Lines();
  ASSERT_EQ(lines.size(), 1U);
  EXPECT_EQ(json::parse(lines[0]).as_object().at("message").as_string(), "before flush");
  EXPECT_EQ(log.Dropped(), 0U);
}

TEST(Logger, TraceResource) {
  LogFile file;
  Logger plain(Cfg(config::LogLevel::kInfo), file.Fd());
  EXPECT_EQ(plain.TraceResource("abc"), "abc");
  Logger gcp(Cfg(config::LogLevel::kInfo), file.Fd(), "my-project");
  EXPECT_EQ(gcp.TraceResource("abc"), "projects/my-project/traces/abc");
}

TEST(Logger, AccessLogSwitch) {
  LogFile file;
  auto cfg = Cfg(config::LogLevel::kInfo);
  cfg.access_log = false;
  Logger log(cfg, file.Fd());
  EXPECT_FALSE(log.AccessLogEnabled());
}

// Reads from `fd` until `lines` newlines arrived or 10 s passed.
std::string ReadLines(int fd, std::size_t lines) {
  std::string out;
  char buf[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (static_cast<std::size_t>(std::count(out.begin(), out.end(), '\n')) < lines &&
         std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    // A slow reader: the pipe stays full most of the time, as with a busy log collector.
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return out;
}

// Flush() and the background writer must never interleave their writes: on a pipe
// (stdout under a container runtime) a line written by one must not land inside a
// line written by the other, and lines must keep their order.
TEST(Logger, FlushDuringABlockedWriteKeepsLinesWholeAndOrdered) {
  std::signal(SIGPIPE, SIG_IGN);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ::fcntl(fds[1], F_SETPIPE_SZ, 4096);
  const std::string pad(1000, 'x');
  constexpr int kFirst = 100, kSecond = 10;
  std::string data;
  {
    Logger log(Cfg(config::LogLevel::kInfo), fds[1]);
    // More than the 64 KiB eager-flush threshold: the writer thread takes the buffer
    // and blocks on the full pipe.
    for (int i = 0; i < kFirst; ++i) log.Info("line", {{"seq", i}, {"pad", pad}});
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (int i = kFirst; i < kFirst + kSecond; ++i) log.Info("line", {{"seq", i}, {"pad", pad}});
    std::thread flusher([&log] { log.Flush(); });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    data = ReadLines(fds[0], kFirst + kSecond);
    // Whatever is still unwritten now fails with EPIPE instead of blocking the teardown.
    ::close(fds[0]);
    flusher.join();
  }
  ::close(fds[1]);
  std::istringstream in(data);
  std::string line;
  int expected = 0;
  while (std::getline(in, line)) {
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    ASSERT_FALSE(ec) << "torn log line #" << expected << ": " << line.substr(0, 120) << "...";
    ASSERT_EQ(v.as_object().at("seq").as_int64(), expected) << "log lines out of order";
    ++expected;
  }
  EXPECT_EQ(expected, kFirst + kSecond);
}

}  // namespace
}  // namespace bro::observability
