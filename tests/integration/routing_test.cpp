// Routing and resilience through the whole API: fault injection per deployment against a
// scripted OpenAI-compatible upstream on loopback (its behaviour is chosen by the upstream
// model name), and the circuit breaker's transitions with an injected clock.
//
// Documented behaviour under test (see gateway/routing.hpp):
//   connection refused, 5xx, malformed JSON, slow first byte -> retried on another deployment
//   429 + short Retry-After -> retried on the same deployment after it
//   429 + long Retry-After  -> the deployment cools down; another one answers
//   400                      -> relayed, not retried, circuit untouched
//   stream reset mid-way, in-band error event -> OpenAI error event to the client, no retry
//   every deployment failed  -> the model's fallbacks, in order

#include <gtest/gtest.h>

#include <map>

#include "integration/gateway_fixture.hpp"

namespace bro::api {
namespace {

using namespace std::chrono_literals;

// The scripted upstream. Model names: ok-*, stream-ok-*, e500-*, e400-*, r429-0-* (429 with
// Retry-After: 0 on the first call, then ok), r429-60-*, slow-*, cut-*, inband-*, junk-*,
// flaky-* (500 until Heal()).
class ScriptedUpstream {
 public:
  int Calls(const std::string& model) {
    std::lock_guard lock(mu_);
    return calls_[model];
  }
  void Heal() { healed_ = true; }
  unsigned short Port() const { return server_.Port(); }

 private:
  static std::string Completion(const std::string& model) {
    return R"({"id":"c","object":"chat.completion","created":1,"model":")" + model +
           R"(","choices":[{"index":0,"message":{"role":"assistant","content":"from )" + model +
           R"("},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}})";
  }
  static std::string Chunk(const std::string& content) {
    return R"(data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":")" +
           content + R"("},"finish_reason":null}]})" + "\n\n";
  }
  static http::Response Json(http::Exchange& ex, http::Status s, const std::string& body) {
    return http::MakeJson(s, body, ex.Req().version());
  }

  Task<http::Response> Handle(http::Exchange& ex) {
    const auto request = json::parse(ex.Req().body()).as_object();
    const std::string model(request.at("model").as_string());
    int n = 0;
    {
      std::lock_guard lock(mu_);
      n = ++calls_[model];
    }
    if (model.starts_with("ok-") || (model.starts_with("flaky-") && healed_) ||
        (model.starts_with("r429-0-") && n > 1)) {
      co_return Json(ex, http::Status::ok, Completion(model));
    }
    if (model.starts_with("e500-") || model.starts_with("flaky-")) {
      co_return Json(ex, http::Status::internal_server_error, R"({"error":"boom"})");
    }
    if (model.starts_with("e400-")) {
      co_return Json(
          ex, http::Status::bad_request,
          R"({"error":{"message":"bad temperature","type":"invalid_request_error","param":"temperature","code":null}})");
    }
    if (model.starts_with("r429-")) {
      auto res = Json(ex, http::Status::too_many_requests,
                      R"({"error":{"message":"slow down","type":"rate_limit_error"}})");
      res.set(http::Field::retry_after, model.starts_with("r429-0-") ? "0" : "60");
      co_return res;
    }
    if (model.starts_with("junk-")) co_return Json(ex, http::Status::ok, "{\"choices\": [tru");
    http::Response head{http::Status::ok, ex.Req().version()};
    head.set(http::Field::content_type, "text/event-stream");
    if (!co_await ex.StartStream(std::move(head))) co_return http::Response{};
    if (model.starts_with("slow-")) {
      // The head at once, then nothing for longer than the first-token timeout.
      asio::steady_timer t(co_await asio::this_coro::executor, 1500ms);
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (model.starts_with("cut-")) {
      co_await ex.WriteChunk(Chunk("partial"));
      throw std::runtime_error("upstream resets mid-stream");
    }
    if (model.starts_with("inband-")) {
      co_await ex.WriteChunk(
          "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n");
      co_await ex.EndStream();
      co_return http::Response{};
    }
    co_await ex.WriteChunk(
        Chunk("streamed from " + model) +
        R"(data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"
        "\n\ndata: [DONE]\n\n");
    co_await ex.EndStream();
    co_return http::Response{};
  }

  std::mutex mu_;
  std::map<std::string, int> calls_;
  std::atomic<bool> healed_{false};
  LoopbackServer server_{"/v1/chat/completions", [this](http::Exchange& ex) { return Handle(ex); }};
};

class RoutingTest : public GatewayFixture {
 protected:
  std::string Catalog() const override {
    const std::string up = "http://127.0.0.1:" + std::to_string(upstream_.Port()) + "/v1";
    const std::string dead = "http://127.0.0.1:" + std::to_string(dead_port_) + "/v1";
    std::string y =
        "routing:\n  max_attempts: 3\n  backoff_base: 1ms\n  backoff_max: 5ms\n"
        "  retry_after_max: 1s\n  breaker_failures: 2\n  breaker_open_for: 30s\n"
        "providers:\n"
        "  - {name: up, type: openai, base_url: '" +
        up +
        "', first_token_timeout: 300ms, total_timeout: 5s, connect_timeout: 1s}\n"
        "  - {name: dead, type: openai, base_url: '" +
        dead +
        "', connect_timeout: 1s}\n"
        "  - {name: local, type: echo}\n"
        "models:\n"
        "  - {name: echo, provider: local}\n";
    auto model = [&y](const std::string& name, const std::vector<std::string>& deployments,
                      const std::string& extra = "") {
      y += "  - name: " + name + "\n    deployments:\n";
      for (const auto& d : deployments) {
        const auto slash = d.find('/');
        y += "      - {provider: " + d.substr(0, slash) +
             ", upstream_model: " + d.substr(slash + 1) + "}\n";
      }
      y += extra;
    };
    model("failover", {"up/e500-f", "up/ok-f"});
    model("refused", {"dead/x", "up/ok-r"});
    model("junk", {"up/junk-j", "up/ok-j"});
    model("slow", {"up/slow-s", "up/stream-ok-s"});
    model("solo429", {"up/r429-0-s"});
    model("cool", {"up/r429-60-c", "up/ok-c"});
    model("bad", {"up/e400-b", "up/ok-b"});
    model("cut", {"up/cut-x"}, "    fallbacks: [echo]\n");
    model("inband", {"up/inband-x"}, "    fallbacks: [echo]\n");
    model("flaky", {"up/flaky-x"});
    model("chain", {"up/e500-ch"}, "    fallbacks: [echo]\n");
    return y;
  }
  // Always the first eligible deployment, and no jitter: every path is deterministic.
  std::function<double()> Random() const override {
    return [] { return 0.0; };
  }

  static std::string Body(const std::string& model, const std::string& extra = "") {
    return R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}])" + extra +
           "}";
  }
  double Metric(const std::string& series) {
    return testing::MetricValue(registry_.Render(), series).value_or(-1);
  }

  ScriptedUpstream upstream_;
  unsigned short dead_port_ = ClosedPort();
};

TEST_F(RoutingTest, Http500IsRetriedOnTheNextDeployment) {
  auto res = Chat(Body("failover"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  EXPECT_NE(res.body().find("from ok-f"), std::string::npos);
  EXPECT_EQ(upstream_.Calls("e500-f"), 1);
  EXPECT_EQ(Metric(R"(bro_ai_retries_total{model="failover"})"), 1);
  const auto rows = UsageRows(1);
  EXPECT_EQ(rows.rows.at(0).Text(4), "up/ok-f");
  EXPECT_EQ(rows.rows.at(0).Int(0), 200);
}

TEST_F(RoutingTest, ConnectionRefusedIsRetriedOnTheNextDeployment) {
  auto res = Chat(Body("refused"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  EXPECT_EQ(upstream_.Calls("ok-r"), 1);
}

TEST_F(RoutingTest, MalformedJsonIsNeverRelayedAsSuccess) {
  auto res = Chat(Body("junk"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  EXPECT_NE(res.body().find("from ok-j"), std::string::npos);
  EXPECT_EQ(upstream_.Calls("junk-j"), 1);
}

TEST_F(RoutingTest, SlowFirstByteIsRetriedBeforeTheClientSeesAnything) {
  auto res = Chat(Body("slow", R"(,"stream":true)"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  EXPECT_NE(res.body().find("streamed from stream-ok-s"), std::string::npos) << res.body();
  EXPECT_EQ(res.body().find("error"), std::string::npos) << res.body();
  EXPECT_NE(res.body().find("[DONE]"), std::string::npos);
  EXPECT_EQ(upstream_.Calls("slow-s"), 1);
}

TEST_F(RoutingTest, ShortRetryAfterIsWaitedOutOnTheSameDeployment) {
  auto res = Chat(Body("solo429"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  EXPECT_EQ(upstream_.Calls("r429-0-s"), 2);
}

TEST_F(RoutingTest, LongRetryAfterCoolsTheDeploymentDown) {
  for (int i = 0; i < 3; ++i) {
    auto res = Chat(Body("cool"), admin_key_);
    ASSERT_EQ(res.result(), http::Status::ok) << res.body();
    EXPECT_NE(res.body().find("from ok-c"), std::string::npos);
  }
  EXPECT_EQ(upstream_.Calls("r429-60-c"), 1) << "cooling down for 60 s after the first 429";
  EXPECT_EQ(upstream_.Calls("ok-c"), 3);
  clock_.Advance(61s);
  Chat(Body("cool"), admin_key_);
  EXPECT_EQ(upstream_.Calls("r429-60-c"), 2) << "back in rotation after the Retry-After";
}

TEST_F(RoutingTest, ClientErrorsAreRelayedNotRetried) {
  auto res = Chat(Body("bad"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::bad_request);
  EXPECT_EQ(ErrorOf(res).at("param").as_string(), "temperature");
  EXPECT_EQ(upstream_.Calls("ok-b"), 0);
  EXPECT_EQ(Metric(R"(bro_ai_circuit_state{model="bad",deployment="up/e400-b"})"), 0);
}

TEST_F(RoutingTest, StreamResetMidwayEndsWithAnErrorEventAndNoRetry) {
  auto res = Chat(Body("cut", R"(,"stream":true)"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok);
  const auto events = Events(res.body());
  ASSERT_GE(events.size(), 2U) << res.body();
  EXPECT_NE(events.front().find("partial"), std::string::npos);
  EXPECT_NE(events.back().find("upstream_stream_error"), std::string::npos) << res.body();
  EXPECT_EQ(res.body().find("[DONE]"), std::string::npos);
  EXPECT_EQ(Metric(R"(bro_ai_fallbacks_total{model="cut"})"), -1) << "no fallback once started";
  EXPECT_EQ(upstream_.Calls("cut-x"), 1);
}

TEST_F(RoutingTest, InBandErrorEventReachesTheClient) {
  auto res = Chat(Body("inband", R"(,"stream":true)"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok);
  EXPECT_NE(res.body().find("overloaded"), std::string::npos) << res.body();
  EXPECT_EQ(res.body().find("[DONE]"), std::string::npos);
  EXPECT_EQ(upstream_.Calls("inband-x"), 1);
  const auto rows = UsageRows(1);
  EXPECT_EQ(rows.rows.at(0).Text(9), "upstream_stream_error");
}

TEST_F(RoutingTest, CircuitOpensThenHalfOpensThenCloses) {
  const std::string state = R"(bro_ai_circuit_state{model="flaky",deployment="up/flaky-x"})";
  auto transitions = [this](const char* to) {
    return Metric(
        std::string(
            R"(bro_ai_circuit_transitions_total{model="flaky",deployment="up/flaky-x",state=")") +
        to + "\"}");
  };
  // Two consecutive failures open the circuit; the third attempt finds no deployment.
  auto first = Chat(Body("flaky"), admin_key_);
  EXPECT_EQ(first.result(), http::Status::bad_gateway);
  EXPECT_EQ(upstream_.Calls("flaky-x"), 2);
  EXPECT_EQ(Metric(state), 2);
  EXPECT_EQ(transitions("open"), 1);
  // Open: answered at once, the upstream is not called.
  auto refused = Chat(Body("flaky"), admin_key_);
  EXPECT_EQ(refused.result(), http::Status::service_unavailable);
  EXPECT_EQ(ErrorOf(refused).at("code").as_string(), "no_healthy_deployment");
  EXPECT_FALSE(refused[http::Field::retry_after].empty());
  EXPECT_EQ(upstream_.Calls("flaky-x"), 2);
  // After open_for a probe goes through; it fails: open again.
  clock_.Advance(31s);
  EXPECT_EQ(Chat(Body("flaky"), admin_key_).result(), http::Status::bad_gateway);
  EXPECT_EQ(upstream_.Calls("flaky-x"), 3);
  EXPECT_EQ(transitions("half_open"), 1);
  EXPECT_EQ(transitions("open"), 2);
  // Next probe succeeds: closed.
  upstream_.Heal();
  clock_.Advance(31s);
  EXPECT_EQ(Chat(Body("flaky"), admin_key_).result(), http::Status::ok);
  EXPECT_EQ(Metric(state), 0);
  EXPECT_EQ(transitions("closed"), 1);
}

TEST_F(RoutingTest, FallbackModelAnswersWhenEveryDeploymentFailed) {
  auto res = Chat(Body("chain"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  EXPECT_EQ(upstream_.Calls("e500-ch"), 2) << "two attempts, then the circuit opened";
  EXPECT_EQ(Metric(R"(bro_ai_fallbacks_total{model="chain"})"), 1);
  const auto rows = UsageRows(1);
  EXPECT_EQ(rows.rows.at(0).Text(2), "echo") << "accounted to the model that answered";
}

// Weighted choice with the real random source.
class WeightedRoutingTest : public RoutingTest {
 protected:
  std::string Catalog() const override {
    return RoutingTest::Catalog() +
           "  - name: weighted\n    deployments:\n"
           "      - {provider: up, upstream_model: ok-w3, weight: 3}\n"
           "      - {provider: up, upstream_model: ok-w1, weight: 1}\n";
  }
  std::function<double()> Random() const override { return {}; }
};

TEST_F(WeightedRoutingTest, TrafficFollowsTheWeights) {
  constexpr int kRequests = 200;
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_EQ(Chat(Body("weighted"), admin_key_).result(), http::Status::ok);
  }
  const int heavy = upstream_.Calls("ok-w3");
  EXPECT_EQ(heavy + upstream_.Calls("ok-w1"), kRequests);
  // Expected share 0.75; the bounds are more than six standard deviations away.
  EXPECT_GT(heavy, kRequests * 0.55) << heavy;
  EXPECT_LT(heavy, kRequests * 0.93) << heavy;
}

}  // namespace
}  // namespace bro::api
