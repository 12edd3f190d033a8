// GcpTokenSource against FakeMetadataServer on loopback, with an injected clock: caching until
// shortly before expiry, refresh, one shared fetch for concurrent callers, and every way the
// metadata server can fail answered with an error instead of a crash.

#include "gateway/gcp_token_source.hpp"

#include <boost/asio/detached.hpp>

#include "integration/fake_vertex.hpp"

namespace bro::api {
namespace {

using gateway::GcpTokenSource;
using TokenResult = std::variant<std::string, http::ApiError>;

class GcpTokenSourceTest : public ::testing::Test {
 protected:
  std::unique_ptr<GcpTokenSource> Source(const std::string& host,
                                         std::chrono::milliseconds timeout = 2s) {
    return std::make_unique<GcpTokenSource>(host, ssl_, clock_, timeout);
  }
  TokenResult Token(GcpTokenSource& s) { return testing::RunTask(ioc_, s.Token()); }
  static std::string Ok(const TokenResult& r) {
    if (const auto* e = std::get_if<http::ApiError>(&r)) {
      ADD_FAILURE() << "no token: " << e->message;
      return {};
    }
    return std::get<std::string>(r);
  }
  static http::ApiError Failed(const TokenResult& r) {
    if (const auto* e = std::get_if<http::ApiError>(&r)) return *e;
    ADD_FAILURE() << "got a token: " << std::get<std::string>(r);
    return {};
  }

  asio::io_context ioc_;
  asio::ssl::context ssl_{asio::ssl::context::tls_client};
  testing::FakeClock clock_;
  FakeMetadataServer metadata_;
};

TEST_F(GcpTokenSourceTest, CachedUntilFiveMinutesBeforeExpiry) {
  auto source = Source(metadata_.Host());
  metadata_.expires_in = 3600;
  EXPECT_EQ(Ok(Token(*source)), "ya29.fake-1");
  EXPECT_EQ(Ok(Token(*source)), "ya29.fake-1");
  clock_.Advance(54min);
  EXPECT_EQ(Ok(Token(*source)), "ya29.fake-1");
  EXPECT_EQ(metadata_.Requests(), 1);
  clock_.Advance(2min);  // 56 min: inside the refresh margin
  EXPECT_EQ(Ok(Token(*source)), "ya29.fake-2");
  EXPECT_EQ(Ok(Token(*source)), "ya29.fake-2");
  clock_.Advance(61min);  // past the second token's expiry
  EXPECT_EQ(Ok(Token(*source)), "ya29.fake-3");
  EXPECT_EQ(metadata_.Requests(), 3);
  EXPECT_EQ(source->Fetches(), 3U);
}

TEST_F(GcpTokenSourceTest, ShortLivedTokensAreRefreshedAtHalfLife) {
  auto source = Source(metadata_.Host());
  metadata_.expires_in = 120;
  EXPECT_EQ(Ok(Token(*source)), "ya29.fake-1");
  clock_.Advance(59s);
  EXPECT_EQ(Ok(Token(*source)), "ya29.fake-1");
  clock_.Advance(2s);
  EXPECT_EQ(Ok(Token(*source)), "ya29.fake-2");
}

TEST_F(GcpTokenSourceTest, ConcurrentCallersShareOneFetch) {
  auto source = Source(metadata_.Host());
  metadata_.hold = true;
  constexpr int kCallers = 6;
  std::atomic<int> started{0};
  std::mutex mu;
  std::vector<std::string> tokens;
  for (int i = 0; i < kCallers; ++i) {
    asio::co_spawn(
        ioc_,
        [&]() -> Task<void> {
          ++started;
          auto r = co_await source->Token();
          std::lock_guard lock(mu);
          tokens.push_back(std::holds_alternative<std::string>(r) ? std::get<std::string>(r)
                                                                  : "error");
        },
        asio::detached);
  }
  std::thread runner([&] { ioc_.run(); });
  // Every caller is waiting while the one fetch is held by the fake.
  EXPECT_TRUE(WaitFor([&] { return started == kCallers && metadata_.Requests() >= 1; }));
  metadata_.release = true;
  runner.join();
  EXPECT_EQ(metadata_.Requests(), 1) << "one fetch for all concurrent callers";
  ASSERT_EQ(tokens.size(), static_cast<std::size_t>(kCallers));
  for (const auto& t : tokens) EXPECT_EQ(t, "ya29.fake-1");
}

TEST_F(GcpTokenSourceTest, FailuresAreErrorsAndAreNotRetriedAtOnce) {
  auto source = Source(metadata_.Host());
  metadata_.status = 500;
  const auto e = Failed(Token(*source));
  EXPECT_EQ(e.status, http::Status::bad_gateway);
  EXPECT_EQ(e.code, "upstream_auth_error");
  EXPECT_NE(e.message.find("GCE metadata server"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("HTTP 500"), std::string::npos) << e.message;
  Failed(Token(*source));
  EXPECT_EQ(metadata_.Requests(), 1) << "within the back-off the failure is answered from memory";
  clock_.Advance(2s);
  metadata_.status = 200;
  EXPECT_EQ(Ok(Token(*source)), "ya29.fake-2");
}

TEST_F(GcpTokenSourceTest, AFailedRefreshKeepsTheValidToken) {
  auto source = Source(metadata_.Host());
  EXPECT_EQ(Ok(Token(*source)), "ya29.fake-1");
  clock_.Advance(56min);
  metadata_.status = 503;
  EXPECT_EQ(Ok(Token(*source)), "ya29.fake-1") << "still valid for 4 minutes";
  EXPECT_EQ(metadata_.Requests(), 2);
  clock_.Advance(5min);
  EXPECT_EQ(Failed(Token(*source)).code, "upstream_auth_error") << "expired now";
}

TEST_F(GcpTokenSourceTest, HostileAnswersAreRefused) {
  const std::string huge =
      R"({"access_token":")" + std::string(70000, 'a') + R"(","expires_in":3600})";
  const std::string long_token = R"({"access_token":")" +
                                 std::string(GcpTokenSource::kMaxTokenBytes + 1, 'a') +
                                 R"(","expires_in":3600})";
  for (const std::string& body :
       {std::string("not json"), std::string("[]"), std::string("{}"),
        std::string(R"({"access_token":"","expires_in":3600})"),
        std::string(R"({"access_token":"ya29.x\r\nX-Injected: 1","expires_in":3600})"),
        std::string(R"({"access_token":"ya29 x","expires_in":3600})"),
        std::string(R"({"access_token":7,"expires_in":3600})"),
        std::string(R"({"access_token":"ya29.x"})"),
        std::string(R"({"access_token":"ya29.x","expires_in":0})"),
        std::string(R"({"access_token":"ya29.x","expires_in":-5})"),
        std::string(R"({"access_token":"ya29.x","expires_in":"3600"})"),
        std::string(R"({"access_token":"ya29.x","expires_in":1e12})"), huge, long_token}) {
    SCOPED_TRACE(body.substr(0, 80));
    {
      std::lock_guard lock(metadata_.mu);
      metadata_.body_override = body;
    }
    auto source = Source(metadata_.Host());
    EXPECT_EQ(Failed(Token(*source)).code, "upstream_auth_error");
  }
}

TEST_F(GcpTokenSourceTest, UnreachableOrSlowMetadataServer) {
  auto closed = Source("127.0.0.1:" + std::to_string(ClosedPort()));
  const auto refused = Failed(Token(*closed));
  EXPECT_EQ(refused.code, "upstream_auth_error");
  EXPECT_NE(refused.message.find("could not be reached"), std::string::npos) << refused.message;

  metadata_.hold = true;
  auto slow = Source(metadata_.Host(), 300ms);
  const auto late = Failed(Token(*slow));
  EXPECT_NE(late.message.find("did not answer in time"), std::string::npos) << late.message;
  metadata_.release = true;
}

}  // namespace
}  // namespace bro::api
