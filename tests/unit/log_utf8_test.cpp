// Every line the logger writes is valid UTF-8, whatever bytes reach it: Cloud Logging drops
// a line that is not, and user agents and URL paths are whatever the client sent.

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/utf8.hpp"
#include "log_file.hpp"
#include "observability/log.hpp"

namespace bro::observability {
namespace {

namespace json = boost::json;

using testing::LogFile;

config::LoggingConfig Cfg(config::LogFormat format) {
  config::LoggingConfig c;
  c.level = config::LogLevel::kDebug;
  c.format = format;
  return c;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// Short strings of random bytes, weighted towards bytes >= 0x80 and pieces of real
// multi-byte characters so that valid, truncated and overlong sequences all turn up.
class Bytes {
 public:
  explicit Bytes(unsigned seed) : rng_(seed) {}
  std::string Next() {
    static const std::vector<std::string> kPieces = {
        "\xC3\xA9",     "\xE6\x97\xA5", "\xF0\x9F\x98\x80", "\xC3", "\xE6\x97", "\xF0\x9F\x98",
        "\xED\xA0\x80", "\xC0\xAF",     "\xF4\x90\x80\x80", "\"",   "\\",       "\n",
        "\x7F",         "\x01"};
    std::string out;
    const int n = Pick(24);
    for (int i = 0; i < n; ++i) {
      switch (Pick(3)) {
        case 0:
          out += static_cast<char>(Pick(256));
          break;
        case 1:
          out += static_cast<char>(0x80 + Pick(128));
          break;
        default:
          out += kPieces[static_cast<std::size_t>(Pick(static_cast<int>(kPieces.size())))];
      }
    }
    return out;
  }

 private:
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::mt19937 rng_;
};

TEST(LoggerUtf8, AnAccessLogLineWithRawBytesParsesAndKeepsValidText) {
  LogFile file;
  {
    Logger log(Cfg(config::LogFormat::kJson), file.Fd());
    json::object http_request;
    http_request["requestUrl"] = "/v1/\xFF\xC3\xA9t\xC3\xA9";
    http_request["userAgent"] = "curl\xC0\xAF\xED\xA0\x80";
    log.Info("request", {{"httpRequest", std::move(http_request)}});
  }
  const auto lines = Lines(file.Contents());
  ASSERT_EQ(lines.size(), 1U);
  const auto v = json::parse(lines[0]);
  const auto& req = v.at("httpRequest");
  EXPECT_EQ(req.at("requestUrl").as_string(), "/v1/\xEF\xBF\xBD\xC3\xA9t\xC3\xA9");
  // An overlong "/" (two bytes) and an encoded surrogate (three): five replacements.
  std::string user_agent = "curl";
  for (int i = 0; i < 5; ++i) user_agent += "\xEF\xBF\xBD";
  EXPECT_EQ(req.at("userAgent").as_string(), user_agent);
}

TEST(LoggerUtf8, RandomBytesInMessagesKeysAndValuesGiveParseableUtf8Lines) {
  constexpr int kLines = 3000;
  Bytes bytes(20261208);
  std::vector<std::string> messages;
  LogFile file;
  {
    Logger log(Cfg(config::LogFormat::kJson), file.Fd());
    for (int i = 0; i < kLines; ++i) {
      messages.push_back(bytes.Next());
      json::object fields;
      fields["seq"] = i;
      fields[bytes.Next()] = bytes.Next();
      fields["nested"] = json::object{{bytes.Next(), json::array{bytes.Next(), 7, bytes.Next()}},
                                      {"inner", json::object{{bytes.Next(), bytes.Next()}}}};
      log.Info(messages.back(), std::move(fields));
    }
    log.Flush();
    EXPECT_EQ(log.Dropped(), 0U);
  }
  const auto lines = Lines(file.Contents());
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kLines));
  for (std::size_t i = 0; i < lines.size(); ++i) {
    // boost::json's parser rejects strings that are not valid UTF-8, keys included.
    boost::system::error_code ec;
    const auto v = json::parse(lines[i], ec);
    ASSERT_FALSE(ec) << "line " << i << ": " << ec.message();
    ASSERT_TRUE(common::IsValidUtf8(lines[i])) << "line " << i;
    const auto& o = v.as_object();
    ASSERT_EQ(o.at("seq").as_int64(), static_cast<std::int64_t>(i));
    // What was valid survives; what was not became U+FFFD.
    EXPECT_EQ(o.at("message").as_string(), common::ToValidUtf8(messages[i])) << "line " << i;
  }
}

TEST(LoggerUtf8, TextFormatLinesAreValidUtf8) {
  Bytes bytes(7);
  LogFile file;
  {
    Logger log(Cfg(config::LogFormat::kText), file.Fd());
    for (int i = 0; i < 3000; ++i) {
      log.Warning(bytes.Next(), {{bytes.Next(), bytes.Next()},
                                 {"nested", json::object{{bytes.Next(), bytes.Next()}}}});
    }
  }
  const std::string out = file.Contents();
  EXPECT_GT(out.size(), 3000U);
  EXPECT_TRUE(common::IsValidUtf8(out));
  // The reference here is boost::json's own UTF-8 check: a JSON string of the output.
  boost::system::error_code ec;
  json::parse(json::serialize(json::value(json::string_view(out.data(), out.size()))), ec);
  EXPECT_FALSE(ec) << ec.message();
}

}  // namespace
}  // namespace bro::observability
