// The hostile-input probe's case end to end: a request whose path and User-Agent carry raw
// bytes that are not UTF-8 still gives an access log line that parses as JSON (Cloud Logging
// drops the line otherwise), with U+FFFD where the bytes were.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "http/server.hpp"
#include "integration/http_client.hpp"
#include "integration/support.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"

namespace bro::http {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

TEST(AccessLogUtf8, RawBytesInPathAndUserAgentGiveAValidLogLine) {
  testing::TempDir tmp;
  const auto log_path = tmp.Path() / "access.log";
  std::vector<std::string> lines;
  {
    std::ofstream(log_path).flush();
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    config::LoggingConfig cfg;
    cfg.level = config::LogLevel::kInfo;
    observability::Logger log(cfg, fd);
    observability::Registry registry;
    HttpMetrics metrics(registry);
    Router router;
    router.Add({Verb::get, "/files/*", "/files/{name}", [](Exchange& ex) -> Task<Response> {
                  Response res{Status::ok, ex.Req().version()};
                  res.body() = "ok";
                  res.keep_alive(false);
                  res.prepare_payload();
                  co_return res;
                }});
    asio::io_context ioc;
    auto work = asio::make_work_guard(ioc);
    Server server(ioc, ServerOptions{}, router, log, metrics);
    const auto port = server.Listen("127.0.0.1", 0);
    server.Start();
    std::thread runner([&ioc] { ioc.run(); });

    testing::Client client(port);
    client.Send(
        "GET /files/\xFF\xC3\xA9t\xC3\xA9\xC0\xAF HTTP/1.1\r\nHost: test\r\n"
        "User-Agent: probe\xED\xA0\x80/\xF5\r\nConnection: close\r\n\r\n");
    auto res = client.Read();

    server.BeginDrain();
    server.CloseAll();
    testing::WaitFor([&server] { return server.ActiveSessions() == 0; }, 5s);
    work.reset();
    ioc.stop();
    runner.join();
    log.Flush();
    ::close(fd);
    ASSERT_TRUE(res.has_value()) << client.Error().message();
    EXPECT_EQ(res->result(), Status::ok);

    std::ifstream in(log_path, std::ios::binary);
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  const std::string fffd = "\xEF\xBF\xBD";
  bool found = false;
  for (const auto& line : lines) {
    boost::system::error_code ec;
    const auto v = json::parse(line, ec);
    ASSERT_FALSE(ec) << "not a JSON line with valid UTF-8: " << line;
    const auto* req = v.as_object().if_contains("httpRequest");
    if (req == nullptr) continue;
    found = true;
    EXPECT_EQ(req->at("requestUrl").as_string(),
              "/files/" + fffd + "\xC3\xA9t\xC3\xA9" + fffd + fffd);
    EXPECT_EQ(req->at("userAgent").as_string(), "probe" + fffd + fffd + fffd + "/" + fffd);
  }
  EXPECT_TRUE(found) << "no access log line among " << lines.size() << " lines";
}

}  // namespace
}  // namespace bro::http
