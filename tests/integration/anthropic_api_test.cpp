// The anthropic provider end to end over loopback: bro-ai's /v1/chat/completions in front of
// FakeAnthropic, a scripted fake of Anthropic's Messages API that answers with the response
// shapes, event sequences and error bodies Anthropic documents and sends.

#include <set>

#include "integration/gateway_fixture.hpp"
#include "unit/anthropic_events.hpp"

namespace bro::api {
namespace {

// What the fake saw of the last request.
struct AnthropicSeen {
  std::mutex mu;
  std::string path, api_key, version, authorization;
  json::object body;
  std::atomic<bool> saw_disconnect{false};
  std::atomic<bool> release_rest{false};  // lets a paused stream go on
};

using namespace testing::anthropic_events;

// A fake of Anthropic's Messages API on 127.0.0.1:0; the requested model picks the script.
class FakeAnthropic {
 public:
  unsigned short Port() const { return server_.Port(); }
  std::size_t Connections() const { return server_.Connections(); }
  AnthropicSeen seen;

 private:
  static http::Response Json(http::Exchange& ex, unsigned status, const std::string& body) {
    auto res = http::MakeJson(http::Status::ok, body, ex.Req().version());
    res.result(status);
    return res;
  }
  static std::string ErrorBody(const std::string& type, const std::string& message) {
    return R"({"type":"error","error":{"type":")" + type + R"(","message":")" + message + "\"}}";
  }

  Task<http::Response> Handle(http::Exchange& ex) {
    auto request = json::parse(ex.Req().body()).as_object();
    const std::string model(request.at("model").as_string());
    const bool stream = request.contains("stream") && request.at("stream").as_bool();
    {
      std::lock_guard lock(seen.mu);
      seen.path = std::string(ex.Req().target());
      seen.api_key = std::string(ex.Req()["x-api-key"]);
      seen.version = std::string(ex.Req()["anthropic-version"]);
      seen.authorization = std::string(ex.Req()[http::Field::authorization]);
      seen.body = request;
    }
    if (model == "claude-529") {
      co_return Json(ex, 529, ErrorBody("overloaded_error", "Overloaded"));
    }
    if (model == "claude-429") {
      auto res =
          Json(ex, 429,
               ErrorBody("rate_limit_error",
                         "Number of request tokens has exceeded your per-minute rate limit"));
      res.set(http::Field::retry_after, "12");
      co_return res;
    }
    if (model == "claude-401") {
      co_return Json(ex, 401, ErrorBody("authentication_error", "invalid x-api-key"));
    }
    if (model == "claude-400") {
      co_return Json(
          ex, 400,
          ErrorBody("invalid_request_error", "messages: text content blocks must be non-empty"));
    }
    if (model == "claude-slow") {
      asio::steady_timer t(co_await asio::this_coro::executor);
      for (int i = 0; i < 300 && !server_.Stopping(); ++i) {
        t.expires_after(10ms);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      co_return Json(ex, 200, "{}");
    }
    if (!stream) {
      if (model == "claude-tool") {
        co_return Json(
            ex, 200,
            R"({"id":"msg_fake_2","type":"message","role":"assistant","model":"claude-sonnet-4-5",)"
            R"("content":[{"type":"text","text":"Let me check."},)"
            R"({"type":"tool_use","id":"toolu_fake_1","name":"get_weather","input":{"city":"Paris"}}],)"
            R"("stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":40,"output_tokens":22}})");
      }
      co_return Json(
          ex, 200,
          R"({"id":"msg_fake_1","type":"message","role":"assistant","model":"claude-sonnet-4-5",)"
          R"("content":[{"type":"text","text":"Hello! How can I help?"}],)"
          R"("stop_reason":"end_turn","stop_sequence":null,)"
          R"("usage":{"input_tokens":12,"cache_read_input_tokens":3,"output_tokens":8}})");
    }

    http::Response head{http::Status::ok, ex.Req().version()};
    head.set(http::Field::content_type, "text/event-stream; charset=utf-8");
    if (!co_await ex.StartStream(std::move(head))) co_return http::Response{};
    // The first events of every stream: the message, a text block, some text.
    const std::string opening = MessageStart("msg_fake_1", 25) + TextStart(0);
    if (model == "claude-text") {
      const std::string events = opening + Ping() + TextDelta(0, "Hello") + TextDelta(0, "!") +
                                 BlockStop(0) + MessageDelta("end_turn", 6) + MessageStop();
      // Split mid-event: the provider must reassemble events across reads.
      co_await ex.WriteChunk(std::string_view(events).substr(0, 41));
      co_await ex.WriteChunk(std::string_view(events).substr(41));
    } else if (model == "claude-tool") {
      const std::string first = opening + TextDelta(0, "Checking.") + BlockStop(0) +
                                ToolStart(1, "toolu_fake_1", "get_weather") + JsonDelta(1, "") +
                                JsonDelta(1, R"({"city": "Pa)");
      co_await ex.WriteChunk(first);
      // The rest waits until the test saw the first piece reach the client.
      asio::steady_timer t(co_await asio::this_coro::executor);
      for (int i = 0; i < 500 && !seen.release_rest && !server_.Stopping(); ++i) {
        t.expires_after(10ms);
        co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      const std::string rest =
          JsonDelta(1, R"(ris"})") + BlockStop(1) + MessageDelta("tool_use", 31) + MessageStop();
      co_await ex.WriteChunk(rest);
    } else if (model == "claude-error-event") {
      const std::string events =
          opening + TextDelta(0, "Hel") + Error("overloaded_error", "Overloaded");
      co_await ex.WriteChunk(events);
    } else if (model == "claude-cut") {
      const std::string events = opening + TextDelta(0, "partial");
      co_await ex.WriteChunk(events);
      throw std::runtime_error("fake Anthropic dies mid-stream");
    } else {  // claude-hang: some output, then wait for the gateway to go away
      const std::string events = opening + TextDelta(0, "waiting");
      co_await ex.WriteChunk(events);
      co_await ex.WaitClientGone();
      seen.saw_disconnect = true;
      co_return http::Response{};
    }
    co_await ex.EndStream();
    co_return http::Response{};
  }

  LoopbackServer server_{"/v1/messages", [this](http::Exchange& ex) { return Handle(ex); }};
};

class AnthropicTest : public GatewayFixture {
 protected:
  std::string Catalog() const override {
    std::string yaml =
        "providers:\n"
        "  - name: claude\n    type: anthropic\n    base_url: http://127.0.0.1:" +
        std::to_string(fake_.Port()) +
        "\n    api_key_env: TEST_ANTHROPIC_KEY\n    max_tokens_default: 1024\n"
        "    first_token_timeout: 300ms\n    total_timeout: 10s\n    connect_timeout: 1s\n"
        "models:\n";
    for (const char* m :
         {"claude-text", "claude-tool", "claude-error-event", "claude-cut", "claude-hang",
          "claude-529", "claude-429", "claude-401", "claude-400", "claude-slow"}) {
      yaml += "  - name: " + std::string(m).substr(7) +
              "\n    provider: claude\n    upstream_model: " + m + "\n";
    }
    return yaml;
  }
  config::Environment Env() const override { return {{"TEST_ANTHROPIC_KEY", "sk-ant-secret"}}; }

  static std::string Body(const std::string& model, const std::string& extra = "") {
    return R"({"model":")" + model +
           R"(","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}])" +
           extra + "}";
  }

  FakeAnthropic fake_;
};

TEST_F(AnthropicTest, NonStreamingTranslatesBothWays) {
  auto res = Chat(Body("text"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  const auto v = json::parse(res.body());
  EXPECT_EQ(v.at("object").as_string(), "chat.completion");
  EXPECT_EQ(v.at("model").as_string(), "text") << "the model the client asked for";
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content").as_string(),
            "Hello! How can I help?");
  EXPECT_EQ(v.at("choices").at(0).at("finish_reason").as_string(), "stop");
  EXPECT_EQ(v.at("usage").at("prompt_tokens").as_int64(), 15);
  EXPECT_EQ(v.at("usage").at("completion_tokens").as_int64(), 8);
  {
    std::lock_guard lock(fake_.seen.mu);
    EXPECT_EQ(fake_.seen.path, "/v1/messages");
    EXPECT_EQ(fake_.seen.api_key, "sk-ant-secret") << "the provider's key, never the client's";
    EXPECT_EQ(fake_.seen.authorization, "") << "no bearer token to Anthropic";
    EXPECT_EQ(fake_.seen.version, "2023-06-01");
    EXPECT_EQ(fake_.seen.body.at("model").as_string(), "claude-text");
    EXPECT_EQ(fake_.seen.body.at("system").as_string(), "Be brief.");
    EXPECT_EQ(fake_.seen.body.at("max_tokens").as_int64(), 1024) << "max_tokens_default";
    EXPECT_EQ(fake_.seen.body.at("messages").as_array().size(), 1U);
  }
  auto tool = Chat(Body("tool"), admin_key_);
  ASSERT_EQ(tool.result(), http::Status::ok) << tool.body();
  const auto tool_json = json::parse(tool.body());
  const auto& call = tool_json.at("choices").at(0).at("message").at("tool_calls").at(0);
  EXPECT_EQ(call.at("id").as_string(), "toolu_fake_1");
  EXPECT_EQ(json::parse(call.at("function").at("arguments").as_string()).at("city").as_string(),
            "Paris");
  const auto rows = UsageRows(2);
  ASSERT_EQ(rows.rows.size(), 2U);
  std::set<std::pair<std::int64_t, std::int64_t>> tokens;
  for (const auto& r : rows.rows) {
    EXPECT_EQ(r.Text(3), "claude");
    tokens.emplace(r.Int(5), r.Int(6));
  }
  // Anthropic's own counts, cached input included in the prompt.
  const std::set<std::pair<std::int64_t, std::int64_t>> want = {{15, 8}, {40, 22}};
  EXPECT_EQ(tokens, want);
  // The second call went over the pooled keep-alive connection.
  EXPECT_EQ(fake_.Connections(), 1U);
}

TEST_F(AnthropicTest, TextStreamBecomesChunksWithUsage) {
  auto res =
      Chat(Body("text", R"(,"stream":true,"stream_options":{"include_usage":true})"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok);
  const auto data = Events(res.body());
  ASSERT_EQ(data.size(), 6U) << res.body();
  std::string content;
  for (std::size_t i = 0; i < 3; ++i) {
    const auto chunk = json::parse(data[i]);
    EXPECT_EQ(chunk.at("object").as_string(), "chat.completion.chunk");
    if (const auto* t = chunk.at("choices").at(0).at("delta").as_object().if_contains("content")) {
      content += t->as_string();
    }
  }
  EXPECT_EQ(content, "Hello!");
  EXPECT_EQ(json::parse(data[3]).at("choices").at(0).at("finish_reason").as_string(), "stop");
  EXPECT_EQ(json::parse(data[4]).at("usage").at("completion_tokens").as_int64(), 6);
  EXPECT_EQ(data[5], "[DONE]");
  {
    std::lock_guard lock(fake_.seen.mu);
    EXPECT_TRUE(fake_.seen.body.at("stream").as_bool());
  }
  auto plain = Chat(Body("text", R"(,"stream":true)"), admin_key_);
  EXPECT_EQ(plain.body().find("\"usage\""), std::string::npos) << "usage chunk only when asked";
  const auto rows = UsageRows(2);
  for (const auto& r : rows.rows) {
    EXPECT_EQ(r.Int(1), 1);
    EXPECT_EQ(r.Int(5), 25);
    EXPECT_EQ(r.Int(6), 6) << "recorded whether or not the client asked for usage";
  }
}

TEST_F(AnthropicTest, ToolCallArgumentsAreForwardedAsTheyArrive) {
  Client c(port_);
  c.Send(Post("/v1/chat/completions", Body("tool", R"(,"stream":true,"tools":[{"type":"function",
                "function":{"name":"get_weather","parameters":{"type":"object"}}}])"),
              Auth(admin_key_)));
  // The first argument piece reaches the client while the fake holds back the rest.
  ASSERT_TRUE(c.ReadUntil(R"(\"city\": \"Pa)")) << c.Raw();
  EXPECT_EQ(c.Raw().find("[DONE]"), std::string::npos);
  fake_.seen.release_rest = true;
  ASSERT_TRUE(c.ReadUntil("data: [DONE]")) << c.Raw();
  {
    std::lock_guard lock(fake_.seen.mu);
    EXPECT_EQ(fake_.seen.body.at("tools").at(0).at("name").as_string(), "get_weather");
    EXPECT_TRUE(fake_.seen.body.at("tools").at(0).as_object().contains("input_schema"));
  }
  const auto body = c.Raw().substr(c.Raw().find("\r\n\r\n") + 4);
  std::string arguments, id, name, finish;
  int pieces = 0;
  gateway::SseSplitter splitter;
  splitter.Feed(body, [&](std::string_view e) {
    const auto data = gateway::SseData(e);
    if (data.empty() || data.front() != '{') return;
    const auto chunk = json::parse(data);
    const auto& choice = chunk.at("choices").at(0).as_object();
    if (choice.at("finish_reason").is_string()) finish = choice.at("finish_reason").as_string();
    const auto* calls = choice.at("delta").as_object().if_contains("tool_calls");
    if (calls == nullptr) return;
    const auto& call = calls->at(0).as_object();
    EXPECT_EQ(call.at("index").as_int64(), 0);
    if (call.contains("id")) id = call.at("id").as_string();
    if (call.contains("function") && call.at("function").as_object().contains("name")) {
      name = call.at("function").at("name").as_string();
    }
    const auto piece = call.at("function").at("arguments").as_string();
    if (!piece.empty()) ++pieces;
    arguments += piece;
  });
  EXPECT_EQ(id, "toolu_fake_1");
  EXPECT_EQ(name, "get_weather");
  EXPECT_EQ(arguments, R"({"city": "Paris"})");
  EXPECT_EQ(pieces, 2) << "one chunk per upstream piece, not buffered to the end";
  EXPECT_EQ(finish, "tool_calls");
}

TEST_F(AnthropicTest, InBandErrorEventBecomesAnOpenAiErrorEvent) {
  auto res = Chat(Body("error-event", R"(,"stream":true)"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok);
  const auto data = Events(res.body());
  ASSERT_FALSE(data.empty());
  EXPECT_EQ(res.body().find("[DONE]"), std::string::npos) << "never a silent success";
  const auto last = json::parse(data.back());
  EXPECT_EQ(last.at("error").at("code").as_string(), "upstream_stream_error");
  EXPECT_NE(last.at("error").at("message").as_string().find("Overloaded"), std::string::npos);
  const auto rows = UsageRows(1);
  EXPECT_EQ(rows.rows.at(0).Text(9), "upstream_stream_error");
  EXPECT_EQ(rows.rows.at(0).Int(5), 25) << "prompt tokens from message_start";
}

TEST_F(AnthropicTest, StreamCutBeforeMessageStopEndsWithAnError) {
  auto res = Chat(Body("cut", R"(,"stream":true)"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok);
  EXPECT_NE(res.body().find("partial"), std::string::npos);
  EXPECT_EQ(res.body().find("[DONE]"), std::string::npos);
  EXPECT_NE(res.body().find("upstream_stream_error"), std::string::npos) << res.body();
}

TEST_F(AnthropicTest, UpstreamErrorsMapToOpenAiErrors) {
  auto overloaded = Chat(Body("529"), admin_key_);
  EXPECT_EQ(overloaded.result(), http::Status::bad_gateway);
  EXPECT_EQ(ErrorOf(overloaded).at("code").as_string(), "upstream_error");
  auto limited = Chat(Body("429"), admin_key_);
  EXPECT_EQ(limited.result(), http::Status::too_many_requests);
  EXPECT_EQ(limited[http::Field::retry_after], "12");
  EXPECT_EQ(ErrorOf(limited).at("type").as_string(), "rate_limit_error");
  EXPECT_NE(ErrorOf(limited).at("message").as_string().find("rate limit"), std::string::npos);
  auto auth = Chat(Body("401"), admin_key_);
  EXPECT_EQ(auth.result(), http::Status::bad_gateway);
  EXPECT_EQ(ErrorOf(auth).at("code").as_string(), "upstream_auth_error");
  auto refused = Chat(Body("400"), admin_key_);
  EXPECT_EQ(refused.result(), http::Status::bad_request);
  EXPECT_EQ(ErrorOf(refused).at("type").as_string(), "invalid_request_error");
  auto streamed_529 = Chat(Body("529", R"(,"stream":true)"), admin_key_);
  EXPECT_EQ(streamed_529.result(), http::Status::bad_gateway) << "before any byte: a plain error";
  // What Anthropic cannot express is refused by the gateway, naming the field.
  auto unsupported = Chat(Body("text", R"(,"n":3)"), admin_key_);
  EXPECT_EQ(unsupported.result(), http::Status::bad_request);
  EXPECT_EQ(ErrorOf(unsupported).at("param").as_string(), "n");
  auto slow = Chat(Body("slow"), admin_key_);
  EXPECT_EQ(slow.result(), http::Status::gateway_timeout);
  EXPECT_EQ(ErrorOf(slow).at("code").as_string(), "upstream_timeout");
  const auto rows = UsageRows(7);
  for (const auto& r : rows.rows) EXPECT_FALSE(r.IsNull(9)) << "failed calls carry an error code";
}

TEST_F(AnthropicTest, ClientDisconnectCancelsTheUpstreamCall) {
  {
    Client c(port_);
    c.Send(Post("/v1/chat/completions", Body("hang", R"(,"stream":true)"), Auth(admin_key_)));
    ASSERT_TRUE(c.ReadUntil("waiting"));
    c.Close();
  }
  EXPECT_TRUE(WaitFor([&] { return fake_.seen.saw_disconnect.load(); }))
      << "the upstream request kept running after the client left";
  const auto rows = UsageRows(1);
  EXPECT_EQ(rows.rows.at(0).Int(0), 499);
  EXPECT_EQ(rows.rows.at(0).Text(9), "client_disconnected");
  EXPECT_EQ(rows.rows.at(0).Int(5), 25) << "prompt tokens Anthropic reported before the cut";
  EXPECT_GE(rows.rows.at(0).Int(6), 1) << "the partial output is counted";
}

}  // namespace
}  // namespace bro::api
