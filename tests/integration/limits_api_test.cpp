// Limits, quotas and usage analytics over real sockets: x-ratelimit-* headers on /v1
// responses (plain and streamed), 429s with Retry-After, tokens reserved and settled, cost
// budgets, concurrency, the admin API /api/v1/limits (with hostile input), the usage API
// /api/v1/usage (JSON and CSV), usage backpressure, and the limiter backend failing.

#include <regex>

#include "common/errors.hpp"
#include "integration/gateway_fixture.hpp"

namespace bro::api {
namespace {

std::string Put(const std::string& target, const std::string& body, const std::string& headers) {
  return "PUT " + target +
         " HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + headers + "\r\n" + body;
}
std::string Delete(const std::string& target, const std::string& headers) {
  return "DELETE " + target + " HTTP/1.1\r\nHost: test\r\n" + headers + "\r\n";
}

std::string ChatBody(const std::string& model = "echo", int max_tokens = 50, bool stream = false) {
  return R"({"model":")" + model + R"(","max_tokens":)" + std::to_string(max_tokens) +
         (stream ? R"(,"stream":true,"stream_options":{"include_usage":true})" : "") +
         R"(,"messages":[{"role":"user","content":"hello limits"}]})";
}

class LimitsTest : public GatewayFixture {
 protected:
  std::string Catalog() const override {
    return std::string(kCatalog) + R"(
limits:
  per_key: {requests_per_minute: 1000, tokens_per_minute: 1000000}
)";
  }

  void SetUp() override {
    GatewayFixture::SetUp();
    if (IsSkipped()) return;
    auto made = Call([this]() -> asio::awaitable<std::pair<auth::User, auth::NewKey>> {
      auth::KeyHasher hasher(kSecret);
      auto dev = co_await keys_->UpsertUser("dev@example.com", auth::Role::kDeveloper);
      auto key =
          co_await keys_->CreateKey(hasher, dev, "dev", auth::Role::kDeveloper, {}, std::nullopt);
      co_return std::make_pair(dev, key);
    }());
    dev_user_id_ = made.first.id;
    dev_key_id_ = made.second.id;
    dev_key_ = made.second.secret;
  }

  http::Response Send(const std::string& raw) {
    Client c(port_);
    c.Send(raw);
    return c.MustRead();
  }
  http::Response SetLimits(const std::string& scope, const std::string& id, const std::string& body,
                           const std::string& query = "") {
    return Send(Put("/api/v1/limits/" + scope + "/" + id + query, body, Auth(admin_key_)));
  }
  double Metric(const std::string& series) {
    return testing::MetricValue(registry_.Render(), series).value_or(-1);
  }
  static std::int64_t Header(const http::Response& res, const std::string& name) {
    return std::stoll(std::string(res[name]));
  }

  std::string dev_user_id_, dev_key_id_, dev_key_;
};

TEST_F(LimitsTest, RequestsPerMinuteAdmitsExactlyTheLimitAndEveryAnswerCarriesTheHeaders) {
  ASSERT_EQ(SetLimits("key", dev_key_id_, R"({"requests_per_minute":3})").result(),
            http::Status::ok);
  const std::regex reset(R"(^(\d+ms|(\d+h)?(\d+m)?\d+(\.\d+)?s)$)");
  for (int i = 0; i < 3; ++i) {
    auto res = Chat(ChatBody(), dev_key_);
    ASSERT_EQ(res.result(), http::Status::ok) << res.body();
    EXPECT_EQ(Header(res, "x-ratelimit-limit-requests"), 3);
    EXPECT_EQ(Header(res, "x-ratelimit-remaining-requests"), 2 - i);
    EXPECT_TRUE(std::regex_match(std::string(res["x-ratelimit-reset-requests"]), reset))
        << res["x-ratelimit-reset-requests"];
    EXPECT_EQ(Header(res, "x-ratelimit-limit-tokens"), 1000000) << "the default still applies";
  }
  auto refused = Chat(ChatBody(), dev_key_);
  ASSERT_EQ(refused.result(), http::Status::too_many_requests);
  const auto retry = Header(refused, "retry-after");
  EXPECT_GE(retry, 1);
  EXPECT_LE(retry, 61) << "a second counts for under 61 s";
  auto err = ErrorOf(refused);
  EXPECT_EQ(err.at("type").as_string(), "requests");
  EXPECT_EQ(err.at("code").as_string(), "rate_limit_exceeded");
  EXPECT_NE(std::string(err.at("message").as_string()).find("Limit 3"), std::string::npos);
  EXPECT_EQ(Header(refused, "x-ratelimit-remaining-requests"), 0);

  Client c(port_);
  c.Send(Get("/v1/models", Auth(dev_key_)));
  auto models = c.MustRead();
  EXPECT_EQ(models.result(), http::Status::ok);
  EXPECT_EQ(Header(models, "x-ratelimit-remaining-requests"), 0) << "listing uses no quota";

  EXPECT_EQ(Metric(R"(bro_limits_decisions_total{decision="limited",reason="requests"})"), 1);
  EXPECT_EQ(UsageRows(3).rows.size(), 3U) << "a refused request leaves no usage record";
  // Another key of the same user is not limited by this key's override.
  EXPECT_EQ(Chat(ChatBody(), admin_key_).result(), http::Status::ok);
}

TEST_F(LimitsTest, TheStreamHeadCarriesTheHeaders) {
  ASSERT_EQ(SetLimits("key", dev_key_id_, R"({"requests_per_minute":5})").result(),
            http::Status::ok);
  Client c(port_);
  c.Send(Post("/v1/chat/completions", ChatBody("echo", 50, true), Auth(dev_key_)));
  ASSERT_TRUE(c.ReadUntil("data: [DONE]"));
  const auto head = c.Raw().substr(0, c.Raw().find("\r\n\r\n"));
  EXPECT_NE(head.find("text/event-stream"), std::string::npos);
  EXPECT_NE(head.find("x-ratelimit-limit-requests: 5"), std::string::npos) << head;
  EXPECT_NE(head.find("x-ratelimit-remaining-requests: 4"), std::string::npos) << head;
  EXPECT_NE(head.find("x-ratelimit-remaining-tokens:"), std::string::npos) << head;
}

TEST_F(LimitsTest, TokensAreReservedAtTheWorstCaseAndSettledToTheActualUse) {
  ASSERT_EQ(SetLimits("key", dev_key_id_, R"({"tokens_per_minute":300})").result(),
            http::Status::ok);
  auto first = Chat(ChatBody("echo", 200), dev_key_);
  ASSERT_EQ(first.result(), http::Status::ok);
  const auto usage = json::parse(first.body()).at("usage");
  const auto used = usage.at("total_tokens").as_int64();
  const auto prompt = usage.at("prompt_tokens").as_int64();
  // While it ran, the whole worst case was held: prompt estimate + max_tokens.
  EXPECT_EQ(Header(first, "x-ratelimit-remaining-tokens"), 300 - (prompt + 200));
  Client c(port_);
  c.Send(Get("/v1/models", Auth(dev_key_)));
  EXPECT_EQ(Header(c.MustRead(), "x-ratelimit-remaining-tokens"), 300 - used)
      << "settled: only what was used still counts";
  // Streamed, the same.
  Client s(port_);
  s.Send(Post("/v1/chat/completions", ChatBody("echo", 200, true), Auth(dev_key_)));
  ASSERT_TRUE(s.ReadUntil("data: [DONE]"));
  // The stream's settlement follows its last byte: the client may ask before it lands.
  EXPECT_TRUE(WaitFor([&] {
    c.Send(Get("/v1/models", Auth(dev_key_)));
    return Header(c.MustRead(), "x-ratelimit-remaining-tokens") == 300 - 2 * used;
  }));
  // A request whose worst case exceeds the limit can never pass: no Retry-After.
  auto too_large = Chat(ChatBody("echo", 1000), dev_key_);
  ASSERT_EQ(too_large.result(), http::Status::too_many_requests);
  EXPECT_EQ(ErrorOf(too_large).at("type").as_string(), "tokens");
  EXPECT_EQ(too_large.count(http::Field::retry_after), 0U);
  // One that fits the limit but not what is left waits.
  auto later = Chat(ChatBody("echo", 300 - 2 * used - prompt + 1), dev_key_);
  ASSERT_EQ(later.result(), http::Status::too_many_requests);
  EXPECT_GE(Header(later, "retry-after"), 1);
}

// echo at $1000 / $2000 per million tokens: 1e6 / 2e6 nano-dollars per token.
class PricedLimitsTest : public LimitsTest {
 protected:
  std::string Catalog() const override {
    return R"(
providers:
  - {name: echo, type: echo}
  - {name: echo-b, type: echo}
models:
  - {name: echo, provider: echo, input_price_per_million: 1000, output_price_per_million: 2000}
  - {name: other, provider: echo, upstream_model: echo-other}
  - name: mixed
    deployments:
      - {provider: echo, input_price_per_million: 1000, output_price_per_million: 2000}
      - {provider: echo-b, input_price_per_million: 3000, output_price_per_million: 1000}
limits:
  per_key: {requests_per_minute: 1000, tokens_per_minute: 1000000}
)";
  }
};

TEST_F(PricedLimitsTest, ReservationsAssumeTheDearestDeployment) {
  const auto prices = limits::CatalogPrices(*catalog_);
  const auto mixed = prices("mixed");
  ASSERT_TRUE(mixed.has_value());
  EXPECT_EQ(*mixed, gateway::Price::FromUsdPerMillion(3000, 2000));
  EXPECT_FALSE(prices("other").has_value()) << "unpriced";
  EXPECT_FALSE(prices("nope").has_value());
}

TEST_F(PricedLimitsTest, ADailyCostBudgetIsNeverOverspentAndAdmitsNothingOnceExhausted) {
  ASSERT_EQ(SetLimits("user", dev_user_id_, R"({"daily_cost_usd":0.25})").result(),
            http::Status::ok);
  int admitted = 0;
  for (int i = 0; i < 20; ++i) {
    auto res = Chat(ChatBody("echo", 20), dev_key_);
    if (res.result() == http::Status::ok) {
      ++admitted;
      continue;
    }
    ASSERT_EQ(res.result(), http::Status::too_many_requests) << res.body();
    EXPECT_EQ(ErrorOf(res).at("code").as_string(), "insufficient_quota");
    EXPECT_GE(Header(res, "retry-after"), 1);
  }
  ASSERT_GT(admitted, 0);
  auto rows = UsageRows(static_cast<std::size_t>(admitted));
  ASSERT_EQ(rows.rows.size(), static_cast<std::size_t>(admitted));
  auto cost =
      Sql("SELECT SUM(cost_nanos), SUM(prompt_tokens) * 1000000 + "
          "SUM(completion_tokens) * 2000000 FROM usage_records");
  const auto charged = cost.rows.at(0).Int(0);
  EXPECT_EQ(charged, cost.rows.at(0).Int(1)) << "cost = tokens at the model's prices";
  EXPECT_LE(charged, 250'000'000) << "the budget is never overspent";
  // Exhausted for this size: it stays refused (what was refused is not charged).
  EXPECT_EQ(Chat(ChatBody("echo", 20), dev_key_).result(), http::Status::too_many_requests);
  // An unpriced model costs nothing and passes.
  EXPECT_EQ(Chat(ChatBody("other", 20), dev_key_).result(), http::Status::ok);
}

TEST_F(LimitsTest, ConcurrentRequestsAreCappedAndFreedWhenAStreamEnds) {
  ASSERT_EQ(SetLimits("key", dev_key_id_, R"({"concurrent_requests":1})").result(),
            http::Status::ok);
  Client slow(port_);
  slow.Send(Post("/v1/chat/completions", ChatBody("slow", 50, true), Auth(dev_key_)));
  ASSERT_TRUE(slow.ReadUntil("data: "));
  auto refused = Chat(ChatBody(), dev_key_);
  EXPECT_EQ(refused.result(), http::Status::too_many_requests);
  EXPECT_NE(std::string(ErrorOf(refused).at("message").as_string()).find("concurrent"),
            std::string::npos);
  ASSERT_TRUE(slow.ReadUntil("data: [DONE]"));
  EXPECT_TRUE(WaitFor([&] { return Chat(ChatBody(), dev_key_).result() == http::Status::ok; }));
}

// An exception between admission and settlement must not leak the reservation.
TEST_F(LimitsTest, AnAdmissionDroppedUnsettledReleasesItsReservationInTheBackground) {
  ASSERT_EQ(SetLimits("key", dev_key_id_, R"({"concurrent_requests":1})").result(),
            http::Status::ok);
  auth::Principal who;
  who.key_id = dev_key_id_;
  who.user_id = dev_user_id_;
  who.role = auth::Role::kDeveloper;
  const std::string body = ChatBody();
  auto parsed = gateway::ParseChatRequest(body);
  const auto& request = std::get<gateway::ChatRequest>(parsed);
  bool admitted = false;
  Call([&]() -> asio::awaitable<void> {
    limits::Admission a;
    co_await governor_->Admit(a, who, request, "echo");
    admitted = a.Admitted();
  }());
  ASSERT_TRUE(admitted);
  EXPECT_TRUE(WaitFor([&] { return Chat(ChatBody(), dev_key_).result() == http::Status::ok; }))
      << "the slot stays taken until its 10-minute lease ends";
  EXPECT_EQ(usage_->Promised(), 0U) << "its usage room is given back too";
}

TEST_F(LimitsTest, PerModelOverridesCountOnlyThatModel) {
  ASSERT_EQ(
      SetLimits("user", dev_user_id_, R"({"requests_per_minute":1})", "?model=other").result(),
      http::Status::ok);
  EXPECT_EQ(Chat(ChatBody("other"), dev_key_).result(), http::Status::ok);
  EXPECT_EQ(Chat(ChatBody("other"), dev_key_).result(), http::Status::too_many_requests);
  EXPECT_EQ(Chat(ChatBody("echo"), dev_key_).result(), http::Status::ok);
}

TEST_F(LimitsTest, AdminApiSetsReadsAndDeletesOverridesAndAuditsEachChange) {
  auto set =
      SetLimits("key", dev_key_id_,
                R"({"requests_per_minute":7,"daily_cost_usd":1.5,"tokens_per_minute":null})");
  ASSERT_EQ(set.result(), http::Status::ok) << set.body();
  auto o = json::parse(set.body()).as_object();
  EXPECT_EQ(o.at("requests_per_minute").as_int64(), 7);
  EXPECT_TRUE(o.at("tokens_per_minute").is_null());
  EXPECT_DOUBLE_EQ(o.at("daily_cost_usd").as_double(), 1.5);

  auto effective = Send(Get("/api/v1/limits/key/" + dev_key_id_, Auth(admin_key_)));
  ASSERT_EQ(effective.result(), http::Status::ok);
  auto limits = json::parse(effective.body()).at("limits");
  EXPECT_EQ(limits.at("requests_per_minute").as_int64(), 7);
  EXPECT_EQ(limits.at("tokens_per_minute").as_int64(), 1000000) << "null inherits the default";

  auto list = Send(Get("/api/v1/limits", Auth(admin_key_)));
  ASSERT_EQ(list.result(), http::Status::ok);
  auto lv = json::parse(list.body());
  EXPECT_EQ(lv.at("data").as_array().size(), 1U);
  EXPECT_EQ(lv.at("defaults").at("key").at("requests_per_minute").as_int64(), 1000);

  EXPECT_EQ(Send(Delete("/api/v1/limits/key/" + dev_key_id_, Auth(admin_key_))).result(),
            http::Status::no_content);
  EXPECT_EQ(Send(Delete("/api/v1/limits/key/" + dev_key_id_, Auth(admin_key_))).result(),
            http::Status::not_found);
  std::lock_guard lock(audit_mu_);
  ASSERT_EQ(audit_events_.size(), 2U);
  EXPECT_EQ(audit_events_[0].rfind("limits.override.set ", 0), 0U) << audit_events_[0];
  EXPECT_NE(audit_events_[0].find(dev_key_id_), std::string::npos);
  EXPECT_EQ(audit_events_[1].rfind("limits.override.delete ", 0), 0U);
}

TEST_F(LimitsTest, AdminApiRefusesOthersAndHostileInput) {
  EXPECT_EQ(Send(Get("/api/v1/limits", Auth(dev_key_))).result(), http::Status::forbidden);
  EXPECT_EQ(Send(Get("/api/v1/limits", "")).result(), http::Status::unauthorized);
  EXPECT_EQ(Send(Put("/api/v1/limits/key/" + dev_key_id_, "{}", Auth(dev_key_))).result(),
            http::Status::forbidden);
  const std::string path = "/api/v1/limits/key/" + dev_key_id_;
  const std::vector<std::pair<std::string, std::string>> bad_bodies = {
      {R"({"requests_per_minute":-1})", "requests_per_minute"},
      {R"({"requests_per_minute":1.5})", "requests_per_minute"},
      {R"({"requests_per_minute":"10"})", "requests_per_minute"},
      {R"({"requests_per_minute":18446744073709551615})", "requests_per_minute"},
      {R"({"daily_cost_usd":-0.01})", "daily_cost_usd"},
      {R"({"daily_cost_usd":1e300})", "daily_cost_usd"},
      {R"({"bogus":1})", "bogus"},
      {R"([1])", ""},
      {R"({"a":)", ""},
      {R"({"requests_per_minute":[[[[[[1]]]]]]})", ""},
  };
  for (const auto& [body, param] : bad_bodies) {
    auto res = Send(Put(path, body, Auth(admin_key_)));
    EXPECT_EQ(res.result(), http::Status::bad_request) << body;
    if (!param.empty()) {
      EXPECT_EQ(ErrorOf(res).at("param").as_string(), param) << body;
    }
  }
  EXPECT_EQ(Send(Put("/api/v1/limits/team/x", "{}", Auth(admin_key_))).result(),
            http::Status::not_found);
  EXPECT_EQ(Send(Put("/api/v1/limits/key/no-such-key", "{}", Auth(admin_key_))).result(),
            http::Status::not_found);
  EXPECT_EQ(Send(Put("/api/v1/limits/key/a'b", "{}", Auth(admin_key_))).result(),
            http::Status::bad_request);
  auto empty_model = Send(Put(path + "?model=", "{}", Auth(admin_key_)));
  EXPECT_EQ(empty_model.result(), http::Status::bad_request) << empty_model.body();
  EXPECT_EQ(Send(Put(path + "?scope=x", "{}", Auth(admin_key_))).result(),
            http::Status::bad_request);
  EXPECT_EQ(Send(Put(path, std::string(17 * 1024, ' '), Auth(admin_key_))).result(),
            http::Status::payload_too_large);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM limit_overrides").rows.at(0).Int(0), 0)
      << "no refused change was stored";
  std::lock_guard lock(audit_mu_);
  EXPECT_TRUE(audit_events_.empty());
}

TEST_F(LimitsTest, UsageApiAggregatesAndScopesToTheCaller) {
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Chat(ChatBody(), dev_key_).result(), http::Status::ok);
  ASSERT_EQ(Chat(ChatBody("other"), dev_key_).result(), http::Status::ok);
  ASSERT_EQ(Chat(ChatBody(), admin_key_).result(), http::Status::ok);
  ASSERT_EQ(UsageRows(5).rows.size(), 5U);
  const std::string day = common::NowIso8601().substr(0, 10);
  // The fixture's clock is fixed in 2027; the records carry today's date: ask for today.
  const std::string range = "?start=" + day + "&end=" + day;

  auto admin = Send(Get("/api/v1/usage" + range + "&group_by=user,model", Auth(admin_key_)));
  ASSERT_EQ(admin.result(), http::Status::ok) << admin.body();
  auto av = json::parse(admin.body());
  EXPECT_EQ(av.at("total").at("requests").as_int64(), 5);
  EXPECT_EQ(av.at("data").as_array().size(), 3U) << "dev/echo, dev/other, admin/echo";

  auto own = Send(Get("/api/v1/usage" + range, Auth(dev_key_)));
  ASSERT_EQ(own.result(), http::Status::ok);
  auto ov = json::parse(own.body());
  EXPECT_EQ(ov.at("total").at("requests").as_int64(), 4) << "a developer sees only their usage";
  std::int64_t tokens = 0;
  for (const auto& g : ov.at("data").as_array()) {
    EXPECT_EQ(g.at("user_id").as_string(), dev_user_id_);
    EXPECT_EQ(g.at("day").as_string(), day);
    tokens += g.at("total_tokens").as_int64();
  }
  auto stored = Sql(("SELECT SUM(prompt_tokens + completion_tokens) FROM usage_records WHERE "
                     "user_id = '" +
                     dev_user_id_ + "'")
                        .c_str());
  EXPECT_EQ(tokens, stored.rows.at(0).Int(0));
  EXPECT_EQ(Send(Get("/api/v1/usage?user_id=someone-else", Auth(dev_key_))).result(),
            http::Status::forbidden);

  auto csv = Send(Get("/api/v1/usage" + range + "&group_by=model&format=csv", Auth(dev_key_)));
  ASSERT_EQ(csv.result(), http::Status::ok) << csv.body();
  EXPECT_EQ(csv[http::Field::content_type], "text/csv; charset=utf-8");
  EXPECT_EQ(
      csv.body().rfind(
          "model,requests,errors,prompt_tokens,completion_tokens,total_tokens,cost_usd\r\n", 0),
      0U)
      << csv.body();
  EXPECT_NE(csv.body().find("\r\necho,3,0,"), std::string::npos) << csv.body();
  EXPECT_NE(csv.body().find("\r\nother,1,0,"), std::string::npos) << csv.body();

  for (const std::string q :
       {"?start=2026-02-30", "?end=yesterday", "?start=2026-01-02&end=2026-01-01",
        "?start=2020-01-01&end=2026-01-01", "?group_by=day,day", "?group_by=team", "?format=xml",
        "?bogus=1", "?start=%ZZ", "?model=a&model=b"}) {
    EXPECT_EQ(Send(Get("/api/v1/usage" + q, Auth(admin_key_))).result(), http::Status::bad_request)
        << q;
  }
}

TEST(CsvField, QuotesAndDefusesFormulas) {
  EXPECT_EQ(CsvField("gpt-4o"), "gpt-4o");
  EXPECT_EQ(CsvField("a,b"), "\"a,b\"");
  EXPECT_EQ(CsvField("say \"hi\""), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(CsvField("=HYPERLINK(1)"), "'=HYPERLINK(1)");
  EXPECT_EQ(CsvField("-1+2,3"), "\"'-1+2,3\"");
  EXPECT_EQ(CsvField("line\nbreak"), "\"line\nbreak\"");
}

class UsageBackpressureTest : public LimitsTest {
 protected:
  config::Environment Env() const override { return {{"BRO_USAGE_BUFFER_CAPACITY", "2"}}; }
};

TEST_F(UsageBackpressureTest, AFullUsageBufferRefusesRequestsUntilItDrains) {
  ASSERT_EQ(Chat(ChatBody(), dev_key_).result(), http::Status::ok);
  ASSERT_EQ(Chat(ChatBody(), dev_key_).result(), http::Status::ok);
  auto refused = Chat(ChatBody(), dev_key_);
  ASSERT_EQ(refused.result(), http::Status::service_unavailable);
  EXPECT_EQ(ErrorOf(refused).at("code").as_string(), "service_unavailable");
  EXPECT_EQ(refused[http::Field::retry_after], "1");
  EXPECT_EQ(Metric("bro_usage_backpressure_total"), 1);
  EXPECT_EQ(Metric("bro_usage_records_dropped_total"), 0);
  ASSERT_TRUE(Call(usage_->FlushOnce()));
  EXPECT_EQ(Chat(ChatBody(), dev_key_).result(), http::Status::ok);
  EXPECT_EQ(UsageRows(1).rows.size(), 3U);
}

// A limiter whose backend is down until told otherwise (what a Redis outage looks like to the
// governor; the real Redis outage is tested in tests/cluster/).
class BrokenLimiter final : public limits::Limiter {
 public:
  explicit BrokenLimiter(std::atomic<bool>& broken) : broken_(broken) {}
  std::string_view Backend() const override { return "broken"; }
  Task<limits::Decision> Reserve(limits::ReserveRequest r) override {
    if (broken_) throw common::InfrastructureError("backend down");
    co_return inner_.ReserveNow(r);
  }
  Task<void> Settle(limits::Settlement s) override {
    if (broken_) throw common::InfrastructureError("backend down");
    inner_.SettleNow(s);
    co_return;
  }
  void SettleLater(limits::Settlement s, boost::asio::any_io_executor /*executor*/,
                   Done done) override {
    if (broken_) {
      done(std::make_exception_ptr(common::InfrastructureError("backend down")));
      return;
    }
    inner_.SettleNow(s);
    done(nullptr);
  }
  Task<void> Drain() override { co_return; }
  Task<limits::Decision> Peek(std::vector<limits::Subject> s, std::int64_t now) override {
    if (broken_) throw common::InfrastructureError("backend down");
    co_return inner_.PeekNow(s, now);
  }

 private:
  std::atomic<bool>& broken_;
  limits::MemoryLimiter inner_;
};

class FailClosedTest : public LimitsTest {
 protected:
  config::Environment Env() const override {
    return {{"BRO_LIMITS_FAILURE_MODE", Mode()}, {"BRO_LIMITS_RETRY_INTERVAL", "2s"}};
  }
  virtual std::string Mode() const { return "closed"; }
  std::unique_ptr<limits::Limiter> MakeLimiter() override {
    return std::make_unique<BrokenLimiter>(broken_);
  }
  std::atomic<bool> broken_{true};
};

TEST_F(FailClosedTest, RefusesWhileTheBackendIsDownAndRecovers) {
  auto refused = Chat(ChatBody(), dev_key_);
  ASSERT_EQ(refused.result(), http::Status::service_unavailable);
  EXPECT_EQ(ErrorOf(refused).at("code").as_string(), "limits_unavailable");
  EXPECT_EQ(refused[http::Field::retry_after], "2");
  EXPECT_EQ(Metric(R"(bro_limits_degraded{backend="broken"})"), 1);
  broken_ = false;
  // Not retried before retry_interval: the answer stays the same without touching the backend.
  EXPECT_EQ(Chat(ChatBody(), dev_key_).result(), http::Status::service_unavailable);
  clock_.Advance(2s);
  auto ok = Chat(ChatBody(), dev_key_);
  EXPECT_EQ(ok.result(), http::Status::ok);
  EXPECT_EQ(Header(ok, "x-ratelimit-remaining-requests"), 999);
  EXPECT_EQ(Metric(R"(bro_limits_degraded{backend="broken"})"), 0);
  EXPECT_EQ(
      Metric(R"(bro_limits_decisions_total{decision="refused",reason="backend_unavailable"})"), 2);
  EXPECT_GE(Metric(R"(bro_limits_backend_errors_total{backend="broken"})"), 1);
}

class FailOpenTest : public FailClosedTest {
 protected:
  std::string Mode() const override { return "open"; }
};

TEST_F(FailOpenTest, AdmitsUncountedWhileTheBackendIsDown) {
  auto res = Chat(ChatBody(), dev_key_);
  ASSERT_EQ(res.result(), http::Status::ok);
  EXPECT_EQ(res.count("x-ratelimit-limit-requests"), 0U) << "nothing was counted";
  EXPECT_EQ(
      Metric(R"(bro_limits_decisions_total{decision="admitted",reason="backend_unavailable"})"), 1);
  EXPECT_EQ(UsageRows(1).rows.size(), 1U) << "usage is still recorded";
  broken_ = false;
  clock_.Advance(2s);
  auto counted = Chat(ChatBody(), dev_key_);
  EXPECT_EQ(Header(counted, "x-ratelimit-remaining-requests"), 999);
}

}  // namespace
}  // namespace bro::api
