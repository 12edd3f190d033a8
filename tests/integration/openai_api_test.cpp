// The OpenAI-compatible surface in-process: http::Server + OpenAiApi + SQLite +
// the echo provider, over real sockets: authentication, models, chat (plain and
// streamed), validation errors, roles, and the usage record of every call.

#include "integration/gateway_fixture.hpp"

namespace bro::api {
namespace {

const std::string kHello =
    R"({"model":"echo","messages":[{"role":"user","content":"hello gateway"}]})";

using OpenAiApiTest = GatewayFixture;

TEST_F(OpenAiApiTest, MissingOrWrongKeyIs401) {
  for (const std::string& headers :
       {std::string(), std::string("Authorization: Bearer sk-bro-wrong\r\n"),
        "Authorization: Bearer " + auth::KeyHasher::Generate() + "\r\n",
        "Authorization: Basic " + admin_key_ + "\r\n"}) {
    Client c(port_);
    c.Send(Get("/v1/models", headers));
    auto res = c.MustRead();
    EXPECT_EQ(res.result(), http::Status::unauthorized) << headers;
    EXPECT_EQ(res[http::Field::www_authenticate], "Bearer");
    EXPECT_EQ(ErrorOf(res).at("code").as_string(), "invalid_api_key");
    EXPECT_EQ(res.body().find(admin_key_), std::string::npos);
  }
  EXPECT_EQ(Chat(kHello, "sk-bro-nope").result(), http::Status::unauthorized);
}

TEST_F(OpenAiApiTest, HealthNeedsNoKey) {
  Client c(port_);
  c.Send(Get("/health"));
  EXPECT_EQ(c.MustRead().result(), http::Status::ok);
  c.Send(Get("/ready"));
  EXPECT_EQ(c.MustRead().result(), http::Status::ok);
  draining_ = true;
  c.Send(Get("/ready"));
  EXPECT_EQ(c.MustRead().result(), http::Status::service_unavailable);
}

TEST_F(OpenAiApiTest, ListsModels) {
  Client c(port_);
  c.Send(Get("/v1/models", Auth(admin_key_)));
  auto res = c.MustRead();
  ASSERT_EQ(res.result(), http::Status::ok);
  auto v = json::parse(res.body());
  EXPECT_EQ(v.at("object").as_string(), "list");
  std::vector<std::string> ids;
  for (const auto& m : v.at("data").as_array()) {
    EXPECT_EQ(m.at("object").as_string(), "model");
    ids.emplace_back(m.at("id").as_string());
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"echo", "slow", "other"}));
  c.Send(Get("/v1/models/slow", Auth(admin_key_)));
  auto one = c.MustRead();
  EXPECT_EQ(one.result(), http::Status::ok);
  EXPECT_EQ(json::parse(one.body()).at("owned_by").as_string(), "slow-echo");
  c.Send(Get("/v1/models/nope", Auth(admin_key_)));
  auto missing = c.MustRead();
  EXPECT_EQ(missing.result(), http::Status::not_found);
  EXPECT_EQ(ErrorOf(missing).at("code").as_string(), "model_not_found");
}

TEST_F(OpenAiApiTest, KeysLimitedToModelsSeeOnlyThose) {
  Client c(port_);
  c.Send(Get("/v1/models", Auth(restricted_key_)));
  auto v = json::parse(c.MustRead().body());
  ASSERT_EQ(v.at("data").as_array().size(), 1U);
  EXPECT_EQ(v.at("data").as_array()[0].at("id").as_string(), "other");
  c.Send(Get("/v1/models/echo", Auth(restricted_key_)));
  EXPECT_EQ(c.MustRead().result(), http::Status::not_found);
  auto denied = Chat(kHello, restricted_key_);
  EXPECT_EQ(denied.result(), http::Status::not_found)
      << "a model the key may not use does not exist for it";
  auto allowed =
      Chat(R"({"model":"other","messages":[{"role":"user","content":"x"}]})", restricted_key_);
  EXPECT_EQ(allowed.result(), http::Status::ok);
  EXPECT_EQ(json::parse(allowed.body()).at("model").as_string(), "echo-other")
      << "the upstream model name";
}

TEST_F(OpenAiApiTest, ChatCompletionAndItsUsageRecord) {
  auto res = Chat(kHello, admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  EXPECT_EQ(res[http::Field::content_type], "application/json");
  auto v = json::parse(res.body());
  EXPECT_EQ(v.at("choices").as_array()[0].at("message").at("content").as_string(),
            "Echo: hello gateway");
  const auto prompt = v.at("usage").at("prompt_tokens").as_int64();
  const auto completion = v.at("usage").at("completion_tokens").as_int64();
  const auto rows = UsageRows(1);
  ASSERT_EQ(rows.rows.size(), 1U);
  const auto& r = rows.rows[0];
  EXPECT_EQ(r.Int(0), 200);
  EXPECT_EQ(r.Int(1), 0);
  EXPECT_EQ(r.Text(2), "echo");
  EXPECT_EQ(r.Text(3), "echo");
  EXPECT_EQ(r.Text(4), "echo/echo");
  EXPECT_EQ(r.Int(5), prompt);
  EXPECT_EQ(r.Int(6), completion);
  EXPECT_FALSE(r.IsNull(7));
  EXPECT_FALSE(r.IsNull(8));
  EXPECT_TRUE(r.IsNull(9)) << "no error code on success";
  EXPECT_FALSE(r.IsNull(10));
  EXPECT_GE(r.Int(11), 0);
  EXPECT_EQ(testing::MetricValue(
                registry_.Render(),
                R"(bro_ai_requests_total{provider="echo",model="echo",outcome="success"})"),
            1);
}

TEST_F(OpenAiApiTest, StreamingChatWithUsage) {
  Client c(port_);
  c.Send(Post("/v1/chat/completions",
              R"({"model":"echo","stream":true,"stream_options":{"include_usage":true},
                  "messages":[{"role":"user","content":"stream me"}]})",
              Auth(admin_key_)));
  auto res = c.MustRead();
  ASSERT_EQ(res.result(), http::Status::ok);
  EXPECT_TRUE(res.chunked());
  EXPECT_EQ(res[http::Field::content_type], "text/event-stream; charset=utf-8");
  gateway::SseSplitter splitter;
  std::vector<std::string> data;
  splitter.Feed(res.body(), [&](std::string_view e) { data.push_back(gateway::SseData(e)); });
  ASSERT_GE(data.size(), 4U);
  EXPECT_EQ(data.back(), "[DONE]");
  std::string content;
  json::object usage;
  for (std::size_t i = 0; i + 1 < data.size(); ++i) {
    auto chunk = json::parse(data[i]).as_object();
    if (chunk.contains("usage")) usage = chunk.at("usage").as_object();
    for (const auto& choice : chunk.at("choices").as_array()) {
      if (const auto* t = choice.at("delta").as_object().if_contains("content");
          t && t->is_string()) {
        content += t->as_string();
      }
    }
  }
  EXPECT_EQ(content, "Echo: stream me");
  ASSERT_FALSE(usage.empty());
  const auto rows = UsageRows(1);
  ASSERT_EQ(rows.rows.size(), 1U);
  EXPECT_EQ(rows.rows[0].Int(0), 200);
  EXPECT_EQ(rows.rows[0].Int(1), 1) << "recorded as streamed";
  EXPECT_EQ(rows.rows[0].Int(5), usage.at("prompt_tokens").as_int64());
  EXPECT_EQ(rows.rows[0].Int(6), usage.at("completion_tokens").as_int64());
  c.Send(Get("/v1/models", Auth(admin_key_)));
  EXPECT_EQ(c.MustRead().result(), http::Status::ok) << "keep-alive after a stream";
}

TEST_F(OpenAiApiTest, ValidationErrorsAreOpenAiShaped) {
  auto malformed = Chat(R"({"model": "echo", "messages": [)", admin_key_);
  EXPECT_EQ(malformed.result(), http::Status::bad_request);
  EXPECT_EQ(ErrorOf(malformed).at("code").as_string(), "invalid_json");
  auto missing = Chat(R"({"messages":[{"role":"user","content":"x"}]})", admin_key_);
  EXPECT_EQ(missing.result(), http::Status::bad_request);
  EXPECT_EQ(ErrorOf(missing).at("param").as_string(), "model");
  auto unknown =
      Chat(R"({"model":"gpt-nope","messages":[{"role":"user","content":"x"}]})", admin_key_);
  EXPECT_EQ(unknown.result(), http::Status::not_found);
  EXPECT_EQ(ErrorOf(unknown).at("code").as_string(), "model_not_found");
  EXPECT_EQ(ErrorOf(unknown).at("param").as_string(), "model");
  EXPECT_EQ(usage_->Buffered(), 0U) << "refused requests are not AI calls";
}

TEST_F(OpenAiApiTest, ViewerMayNotChat) {
  auto res = Chat(kHello, viewer_key_);
  EXPECT_EQ(res.result(), http::Status::forbidden);
  EXPECT_EQ(ErrorOf(res).at("code").as_string(), "insufficient_permissions");
  Client c(port_);
  c.Send(Get("/v1/models", Auth(viewer_key_)));
  EXPECT_EQ(c.MustRead().result(), http::Status::ok) << "but may list models";
}

TEST_F(OpenAiApiTest, ChatRouteAllowsLargerBodiesThanTheDefault) {
  const std::string text(8000, 'a');
  auto res = Chat(R"({"model":"echo","messages":[{"role":"user","content":")" + text + "\"}]}",
                  admin_key_);
  EXPECT_EQ(res.result(), http::Status::ok) << "chat_max_body_bytes applies, not max_body_bytes";
  const std::string huge(70 * 1024, 'a');
  auto too_big = Chat(R"({"model":"echo","messages":[{"role":"user","content":")" + huge + "\"}]}",
                      admin_key_);
  EXPECT_EQ(too_big.result(), http::Status::payload_too_large);
}

TEST_F(OpenAiApiTest, ClientDisconnectMidStreamIsRecorded) {
  {
    Client c(port_);
    c.Send(Post("/v1/chat/completions",
                R"({"model":"slow","stream":true,"messages":[{"role":"user","content":")" +
                    std::string(2000, 'z') + "\"}]}",
                Auth(admin_key_)));
    ASSERT_TRUE(c.ReadUntil("chat.completion.chunk"));
    c.Close();
  }
  const auto rows = UsageRows(1);
  ASSERT_EQ(rows.rows.size(), 1U);
  EXPECT_EQ(rows.rows[0].Int(0), 499) << "a client that left is recorded as 499";
  EXPECT_EQ(rows.rows[0].Text(9), "client_disconnected");
  EXPECT_LT(rows.rows[0].Int(6), gateway::EstimateTokens("Echo: " + std::string(2000, 'z')))
      << "only what was produced before the client left is counted";
  EXPECT_EQ(Chat(kHello, admin_key_).result(), http::Status::ok) << "the server carries on";
}

// --- relay through the openai provider to a fake OpenAI-compatible upstream -----

// What the fake upstream saw of the last request.
struct UpstreamSeen {
  std::mutex mu;
  std::string authorization, traceparent, path, body;
  int requests = 0;
  std::atomic<bool> saw_disconnect{false};
};

// A scripted OpenAI-compatible server on 127.0.0.1:0: the requested model picks the script.
class FakeUpstream {
 public:
  FakeUpstream() = default;
  unsigned short Port() const { return server_.Port(); }
  std::size_t Connections() const { return server_.Connections(); }
  UpstreamSeen seen;

 private:
  static http::Response Json(http::Exchange& ex, http::Status status, const std::string& body) {
    return http::MakeJson(status, body, ex.Req().version());
  }
  static std::string Chunk(const std::string& content) {
    return R"(data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":)" +
           json::serialize(json::value(content)) + R"(},"finish_reason":null}]})" + "\n\n";
  }

  Task<http::Response> Handle(http::Exchange& ex) {
    auto request = json::parse(ex.Req().body()).as_object();
    const std::string model(request.at("model").as_string());
    {
      std::lock_guard lock(seen.mu);
      seen.authorization = std::string(ex.Req()[http::Field::authorization]);
      seen.traceparent = std::string(ex.Req()["traceparent"]);
      seen.path = std::string(ex.Req().target());
      seen.body = ex.Req().body();
      ++seen.requests;
    }
    if (model == "up-ok") {
      co_return Json(
          ex, http::Status::ok,
          R"({"id":"x","object":"chat.completion","created":1,"model":"up-ok",)"
          R"("choices":[{"index":0,"message":{"role":"assistant","content":"from upstream"},)"
          R"("finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}})");
    }
    if (model == "up-500")
      co_return Json(ex, http::Status::internal_server_error, R"({"error":"internal detail"})");
    if (model == "up-401")
      co_return Json(ex, http::Status::unauthorized, R"({"error":{"message":"bad key"}})");
    if (model == "up-429") {
      auto res = Json(
          ex, http::Status::too_many_requests,
          R"({"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"rate_limit"}})");
      res.set(http::Field::retry_after, "7");
      co_return res;
    }
    if (model == "up-slow") {
      asio::steady_timer t(co_await asio::this_coro::executor);
      for (int i = 0; i < 300 && !server_.Stopping(); ++i) {
        t.expires_after(10ms);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      co_return Json(ex, http::Status::ok, "{}");
    }
    http::Response head{http::Status::ok, ex.Req().version()};
    head.set(http::Field::content_type, "text/event-stream");
    if (!co_await ex.StartStream(std::move(head))) co_return http::Response{};
    if (model == "up-stream") {
      const std::string events =
          Chunk("Hel") + Chunk("lo") +
          R"(data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})"
          "\n\n"
          R"(data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}})"
          "\n\ndata: [DONE]\n\n";
      // Split mid-event: the relay must reassemble events across reads.
      co_await ex.WriteChunk(std::string_view(events).substr(0, 37));
      co_await ex.WriteChunk(std::string_view(events).substr(37));
      co_await ex.EndStream();
      co_return http::Response{};
    }
    if (model == "up-cut") {
      co_await ex.WriteChunk(Chunk("partial"));
      throw std::runtime_error("upstream dies mid-stream");
    }
    // up-hang: one chunk, then wait for the gateway to go away.
    co_await ex.WriteChunk(Chunk("waiting"));
    co_await ex.WaitClientGone();
    seen.saw_disconnect = true;
    co_return http::Response{};
  }

  LoopbackServer server_{"/v1/chat/completions", [this](http::Exchange& ex) { return Handle(ex); }};
};

class RelayTest : public GatewayFixture {
 protected:
  std::string Catalog() const override {
    const std::string base = "http://127.0.0.1:" + std::to_string(upstream_.Port()) + "/v1";
    std::string yaml =
        "providers:\n"
        "  - name: up\n    type: openai\n    base_url: " +
        base +
        "/\n    api_key_env: TEST_UPSTREAM_KEY\n"
        "    first_token_timeout: 300ms\n    total_timeout: 5s\n    connect_timeout: 1s\n"
        "  - name: dead\n    type: openai\n    base_url: http://127.0.0.1:" +
        std::to_string(dead_port_) +
        "/v1\n"
        "    connect_timeout: 1s\n"
        "models:\n";
    for (const char* m :
         {"up-ok", "up-500", "up-401", "up-429", "up-slow", "up-stream", "up-cut", "up-hang"}) {
      yaml += "  - name: " + std::string(m).substr(3) +
              "\n    provider: up\n    upstream_model: " + m + "\n";
    }
    yaml += "  - name: unreachable\n    provider: dead\n";
    return yaml;
  }
  config::Environment Env() const override { return {{"TEST_UPSTREAM_KEY", "sk-upstream-secret"}}; }

  static std::string Body(const std::string& model, const std::string& extra = "") {
    return R"({"model":")" + model + R"(","messages":[{"role":"user","content":"hi"}])" + extra +
           "}";
  }

  FakeUpstream upstream_;
  unsigned short dead_port_ = ClosedPort();
};

TEST_F(RelayTest, NonStreamingRelayForwardsAndRecordsUpstreamUsage) {
  Client c(port_);
  c.Send(Post("/v1/chat/completions", Body("ok"),
              Auth(admin_key_) +
                  "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"));
  auto res = c.MustRead();
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  EXPECT_EQ(json::parse(res.body()).at("choices").at(0).at("message").at("content").as_string(),
            "from upstream");
  {
    std::lock_guard lock(upstream_.seen.mu);
    EXPECT_EQ(upstream_.seen.path, "/v1/chat/completions");
    EXPECT_EQ(upstream_.seen.authorization, "Bearer sk-upstream-secret")
        << "the provider's key, never the client's";
    EXPECT_TRUE(upstream_.seen.traceparent.starts_with("00-0af7651916cd43dd8448eb211c80319c-"))
        << "the trace continues upstream: " << upstream_.seen.traceparent;
    EXPECT_EQ(json::parse(upstream_.seen.body).at("model").as_string(), "up-ok")
        << "the upstream model name";
  }
  const auto rows = UsageRows(1);
  ASSERT_EQ(rows.rows.size(), 1U);
  EXPECT_EQ(rows.rows[0].Int(0), 200);
  EXPECT_EQ(rows.rows[0].Text(3), "up");
  EXPECT_EQ(rows.rows[0].Text(4), "up/up-ok");
  EXPECT_EQ(rows.rows[0].Int(5), 11) << "the upstream's own token counts";
  EXPECT_EQ(rows.rows[0].Int(6), 7);
  // A second call reuses the pooled keep-alive connection.
  ASSERT_EQ(Chat(Body("ok"), admin_key_).result(), http::Status::ok);
  EXPECT_EQ(upstream_.Connections(), 1U);
}

TEST_F(RelayTest, StreamingRelayDropsTheUsageChunkUnlessAsked) {
  auto plain = Chat(Body("stream", R"(,"stream":true)"), admin_key_);
  ASSERT_EQ(plain.result(), http::Status::ok);
  EXPECT_EQ(plain.body().find("\"usage\""), std::string::npos) << plain.body();
  EXPECT_NE(plain.body().find("data: [DONE]\n\n"), std::string::npos);
  {
    std::lock_guard lock(upstream_.seen.mu);
    EXPECT_TRUE(json::parse(upstream_.seen.body).at("stream_options").at("include_usage").as_bool())
        << "usage is always requested upstream";
  }
  auto with_usage =
      Chat(Body("stream", R"(,"stream":true,"stream_options":{"include_usage":true})"), admin_key_);
  ASSERT_EQ(with_usage.result(), http::Status::ok);
  gateway::SseSplitter splitter;
  std::vector<std::string> data;
  splitter.Feed(with_usage.body(),
                [&](std::string_view e) { data.push_back(gateway::SseData(e)); });
  ASSERT_EQ(data.size(), 5U) << with_usage.body();
  EXPECT_EQ(json::parse(data[3]).at("usage").at("completion_tokens").as_int64(), 2);
  EXPECT_EQ(data[4], "[DONE]");
  const auto rows = UsageRows(2);
  ASSERT_EQ(rows.rows.size(), 2U);
  for (const auto& r : rows.rows) {
    EXPECT_EQ(r.Int(1), 1);
    EXPECT_EQ(r.Int(5), 5) << "usage from the upstream's usage chunk, asked for or not";
    EXPECT_EQ(r.Int(6), 2);
  }
}

TEST_F(RelayTest, UpstreamFailuresMapToOpenAiErrors) {
  auto e500 = Chat(Body("500"), admin_key_);
  EXPECT_EQ(e500.result(), http::Status::bad_gateway);
  EXPECT_EQ(ErrorOf(e500).at("code").as_string(), "upstream_error");
  EXPECT_EQ(e500.body().find("internal detail"), std::string::npos);
  auto e401 = Chat(Body("401"), admin_key_);
  EXPECT_EQ(e401.result(), http::Status::bad_gateway);
  EXPECT_EQ(ErrorOf(e401).at("code").as_string(), "upstream_auth_error");
  auto e429 = Chat(Body("429"), admin_key_);
  EXPECT_EQ(e429.result(), http::Status::too_many_requests);
  EXPECT_EQ(e429[http::Field::retry_after], "7");
  EXPECT_EQ(ErrorOf(e429).at("code").as_string(), "rate_limit")
      << "the provider's error is relayed";
  auto refused = Chat(Body("unreachable"), admin_key_);
  EXPECT_EQ(refused.result(), http::Status::bad_gateway);
  EXPECT_EQ(ErrorOf(refused).at("code").as_string(), "upstream_unavailable");
  const auto rows = UsageRows(4);
  ASSERT_EQ(rows.rows.size(), 4U);
  for (const auto& r : rows.rows) EXPECT_FALSE(r.IsNull(9)) << "failed calls carry an error code";
}

TEST_F(RelayTest, FirstTokenTimeoutIs504) {
  auto res = Chat(Body("slow"), admin_key_);
  EXPECT_EQ(res.result(), http::Status::gateway_timeout);
  EXPECT_EQ(ErrorOf(res).at("code").as_string(), "upstream_timeout");
}

TEST_F(RelayTest, StreamCutUpstreamEndsWithAnInBandError) {
  auto res = Chat(Body("cut", R"(,"stream":true)"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok);
  EXPECT_NE(res.body().find("partial"), std::string::npos);
  EXPECT_EQ(res.body().find("[DONE]"), std::string::npos)
      << "a broken stream must not claim completion";
  EXPECT_NE(res.body().find("upstream_stream_error"), std::string::npos) << res.body();
  const auto rows = UsageRows(1);
  EXPECT_EQ(rows.rows.at(0).Text(9), "upstream_stream_error");
}

TEST_F(RelayTest, ClientDisconnectCancelsTheUpstreamRequest) {
  {
    Client c(port_);
    c.Send(Post("/v1/chat/completions", Body("hang", R"(,"stream":true)"), Auth(admin_key_)));
    ASSERT_TRUE(c.ReadUntil("waiting"));
    c.Close();
  }
  EXPECT_TRUE(WaitFor([&] { return upstream_.seen.saw_disconnect.load(); }))
      << "the upstream request kept running after the client left";
  const auto rows = UsageRows(1);
  EXPECT_EQ(rows.rows.at(0).Int(0), 499);
  EXPECT_EQ(rows.rows.at(0).Text(9), "client_disconnected");
}

}  // namespace
}  // namespace bro::api
