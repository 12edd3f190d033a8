// The vertex provider and /v1/embeddings end to end over loopback: bro-ai's /v1 in front of
// FakeVertex (Vertex AI's generateContent, streamGenerateContent?alt=sse and predict) with
// tokens from FakeMetadataServer, and the echo model's embeddings.

#include <set>

#include "integration/fake_vertex.hpp"

namespace bro::api {
namespace {

class VertexTest : public GatewayFixture {
 protected:
  std::string Catalog() const override {
    const std::string vertex =
        "    type: vertex\n    base_url: http://127.0.0.1:" + std::to_string(fake_.Port()) +
        "\n    project: test-proj\n    location: europe-west4\n"
        "    first_token_timeout: 2s\n    total_timeout: 10s\n"
        "    connect_timeout: 1s\n";
    std::string yaml = "server:\n  embeddings_max_body_bytes: 64KiB\nproviders:\n";
    yaml += "  - name: gemini\n" + vertex + "    metadata_host: " + metadata_.Host() + "\n";
    yaml += "  - name: gemini-batch\n" + vertex + "    metadata_host: " + metadata_.Host() +
            "\n    embedding_batch_size: 2\n";
    yaml += "  - name: gemini-key\n" + vertex + "    api_key_env: TEST_VERTEX_KEY\n";
    yaml += "  - name: echo\n    type: echo\n";
    yaml += "  - name: claude\n    type: anthropic\n    base_url: http://127.0.0.1:" +
            std::to_string(ClosedPort()) + "\n";
    yaml += "models:\n";
    for (const char* m :
         {"text", "tool", "error-event", "cut", "hang", "429", "400", "403", "500", "garbage"}) {
      yaml += "  - {name: " + std::string(m) + ", provider: gemini, upstream_model: gemini-" + m +
              "}\n";
    }
    yaml +=
        "  - {name: keyed, provider: gemini-key, upstream_model: gemini-text}\n"
        "  - {name: embed, provider: gemini-batch, upstream_model: text-embedding-005}\n"
        "  - {name: embed-429, provider: gemini, upstream_model: embed-429}\n"
        "  - {name: embed-garbage, provider: gemini, upstream_model: embed-garbage}\n"
        "  - {name: echo, provider: echo}\n"
        "  - {name: claude, provider: claude}\n";
    return yaml;
  }
  config::Environment Env() const override { return {{"TEST_VERTEX_KEY", "AIza-test-key"}}; }

  static std::string Body(const std::string& model, const std::string& extra = "") {
    return R"({"model":")" + model +
           R"(","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hi"}])" +
           extra + "}";
  }
  http::Response Embed(const std::string& body, const std::string& key) {
    Client c(port_);
    c.Send(Post("/v1/embeddings", body, Auth(key)));
    return c.MustRead();
  }

  FakeMetadataServer metadata_;
  FakeVertex fake_;
};

constexpr const char* kModelPath =
    "/v1/projects/test-proj/locations/europe-west4/publishers/google/models/";

TEST_F(VertexTest, NonStreamingTranslatesBothWays) {
  auto res = Chat(Body("text"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  const auto v = json::parse(res.body());
  EXPECT_EQ(v.at("object").as_string(), "chat.completion");
  EXPECT_EQ(v.at("model").as_string(), "text") << "the model the client asked for";
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content").as_string(),
            "Hello! How can I help?");
  EXPECT_EQ(v.at("choices").at(0).at("finish_reason").as_string(), "stop");
  EXPECT_EQ(v.at("usage").at("prompt_tokens").as_int64(), 12);
  EXPECT_EQ(v.at("usage").at("completion_tokens").as_int64(), 8);
  {
    std::lock_guard lock(fake_.seen.mu);
    EXPECT_EQ(fake_.seen.target, std::string(kModelPath) + "gemini-text:generateContent");
    EXPECT_EQ(fake_.seen.authorization, "Bearer ya29.fake-1") << "the metadata server's token";
    EXPECT_EQ(fake_.seen.api_key, "");
    EXPECT_EQ(fake_.seen.body.at("systemInstruction").at("parts").at(0).at("text").as_string(),
              "Be brief.");
    EXPECT_EQ(fake_.seen.body.at("contents").as_array().size(), 1U);
    EXPECT_FALSE(fake_.seen.body.contains("model")) << "the model is in the URL";
  }
  auto tool = Chat(Body("tool"), admin_key_);
  ASSERT_EQ(tool.result(), http::Status::ok) << tool.body();
  const auto tool_json = json::parse(tool.body());
  EXPECT_EQ(tool_json.at("choices").at(0).at("finish_reason").as_string(), "tool_calls");
  const auto& call = tool_json.at("choices").at(0).at("message").at("tool_calls").at(0);
  EXPECT_EQ(call.at("function").at("name").as_string(), "get_weather");
  EXPECT_EQ(json::parse(call.at("function").at("arguments").as_string()).at("city").as_string(),
            "Paris");
  const auto rows = UsageRows(2);
  std::set<std::pair<std::int64_t, std::int64_t>> tokens;
  for (const auto& r : rows.rows) {
    EXPECT_EQ(r.Text(3), "gemini");
    tokens.emplace(r.Int(5), r.Int(6));
  }
  const std::set<std::pair<std::int64_t, std::int64_t>> want = {{12, 8}, {40, 22}};
  EXPECT_EQ(tokens, want);
  EXPECT_EQ(metadata_.Requests(), 1) << "the token is cached";
  EXPECT_EQ(fake_.Connections(), 1U) << "the second call reused the pooled connection";
}

TEST_F(VertexTest, TextStreamBecomesChunksWithUsage) {
  auto res =
      Chat(Body("text", R"(,"stream":true,"stream_options":{"include_usage":true})"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok);
  const auto data = Events(res.body());
  ASSERT_EQ(data.size(), 6U) << res.body();
  std::string content;
  for (std::size_t i = 0; i < 3; ++i) {
    const auto chunk = json::parse(data[i]);
    EXPECT_EQ(chunk.at("object").as_string(), "chat.completion.chunk");
    content += chunk.at("choices").at(0).at("delta").at("content").as_string();
  }
  EXPECT_EQ(content, "Hello!");
  EXPECT_EQ(json::parse(data[3]).at("choices").at(0).at("finish_reason").as_string(), "stop");
  EXPECT_EQ(json::parse(data[4]).at("usage").at("completion_tokens").as_int64(), 6);
  EXPECT_EQ(data[5], "[DONE]");
  {
    std::lock_guard lock(fake_.seen.mu);
    EXPECT_EQ(fake_.seen.target,
              std::string(kModelPath) + "gemini-text:streamGenerateContent?alt=sse");
  }
  auto plain = Chat(Body("text", R"(,"stream":true)"), admin_key_);
  EXPECT_EQ(plain.body().find("\"usage\""), std::string::npos) << "usage chunk only when asked";
  EXPECT_NE(plain.body().find("[DONE]"), std::string::npos);
  const auto rows = UsageRows(2);
  for (const auto& r : rows.rows) {
    EXPECT_EQ(r.Int(1), 1);
    EXPECT_EQ(r.Int(5), 25);
    EXPECT_EQ(r.Int(6), 6) << "recorded whether or not the client asked for usage";
  }
}

TEST_F(VertexTest, ToolCallsAreForwardedAsTheyArrive) {
  Client c(port_);
  c.Send(Post("/v1/chat/completions", Body("tool", R"(,"stream":true,"tools":[{"type":"function",
                "function":{"name":"get_weather","parameters":{"type":"object"}}},
                {"type":"function","function":{"name":"get_time"}}],"tool_choice":"required")"),
              Auth(admin_key_)));
  // The first call reaches the client while the fake holds back the rest.
  ASSERT_TRUE(c.ReadUntil("get_weather")) << c.Raw();
  EXPECT_EQ(c.Raw().find("get_time"), std::string::npos);
  fake_.seen.release_rest = true;
  ASSERT_TRUE(c.ReadUntil("data: [DONE]")) << c.Raw();
  {
    std::lock_guard lock(fake_.seen.mu);
    const auto& decl = fake_.seen.body.at("tools").at(0).at("functionDeclarations");
    EXPECT_EQ(decl.at(0).at("name").as_string(), "get_weather");
    EXPECT_EQ(fake_.seen.body.at("toolConfig").at("functionCallingConfig").at("mode").as_string(),
              "ANY");
  }
  const auto body = c.Raw().substr(c.Raw().find("\r\n\r\n") + 4);
  std::vector<json::object> calls;
  std::string finish;
  gateway::SseSplitter splitter;
  splitter.Feed(body, [&](std::string_view e) {
    const auto data = gateway::SseData(e);
    if (data.empty() || data.front() != '{') return;
    const auto chunk = json::parse(data);
    const auto& choice = chunk.at("choices").at(0).as_object();
    if (choice.at("finish_reason").is_string()) finish = choice.at("finish_reason").as_string();
    if (const auto* tc = choice.at("delta").as_object().if_contains("tool_calls")) {
      calls.push_back(tc->at(0).as_object());
    }
  });
  ASSERT_EQ(calls.size(), 2U);
  EXPECT_EQ(calls[0].at("index").as_int64(), 0);
  EXPECT_EQ(calls[1].at("index").as_int64(), 1);
  EXPECT_EQ(calls[1].at("function").at("name").as_string(), "get_time");
  EXPECT_EQ(calls[1].at("function").at("arguments").as_string(), R"({"tz":"CET"})");
  EXPECT_NE(calls[0].at("id").as_string(), calls[1].at("id").as_string());
  EXPECT_EQ(finish, "tool_calls");
}

TEST_F(VertexTest, InBandErrorBecomesAnOpenAiErrorEvent) {
  auto res = Chat(Body("error-event", R"(,"stream":true)"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok);
  const auto data = Events(res.body());
  ASSERT_FALSE(data.empty());
  EXPECT_EQ(res.body().find("[DONE]"), std::string::npos) << "never a silent success";
  EXPECT_NE(res.body().find("Hel"), std::string::npos);
  const auto last = json::parse(data.back());
  EXPECT_EQ(last.at("error").at("code").as_string(), "upstream_stream_error");
  EXPECT_NE(last.at("error").at("message").as_string().find("overloaded"), std::string::npos);
  const auto rows = UsageRows(1);
  EXPECT_EQ(rows.rows.at(0).Text(9), "upstream_stream_error");
}

TEST_F(VertexTest, StreamCutBeforeFinishEndsWithAnError) {
  auto res = Chat(Body("cut", R"(,"stream":true)"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok);
  EXPECT_NE(res.body().find("partial"), std::string::npos);
  EXPECT_EQ(res.body().find("[DONE]"), std::string::npos);
  EXPECT_NE(res.body().find("upstream_stream_error"), std::string::npos) << res.body();
}

TEST_F(VertexTest, UpstreamErrorsMapToOpenAiErrors) {
  auto limited = Chat(Body("429"), admin_key_);
  EXPECT_EQ(limited.result(), http::Status::too_many_requests);
  EXPECT_EQ(limited[http::Field::retry_after], "12");
  EXPECT_EQ(ErrorOf(limited).at("type").as_string(), "rate_limit_error");
  EXPECT_EQ(ErrorOf(limited).at("code").as_string(), "resource_exhausted");
  EXPECT_NE(ErrorOf(limited).at("message").as_string().find("Resource exhausted"),
            std::string::npos);
  auto streamed_429 = Chat(Body("429", R"(,"stream":true)"), admin_key_);
  EXPECT_EQ(streamed_429.result(), http::Status::too_many_requests) << "before any byte";
  auto refused = Chat(Body("400"), admin_key_);
  EXPECT_EQ(refused.result(), http::Status::bad_request);
  EXPECT_EQ(ErrorOf(refused).at("type").as_string(), "invalid_request_error");
  auto denied = Chat(Body("403"), admin_key_);
  EXPECT_EQ(denied.result(), http::Status::bad_gateway);
  EXPECT_EQ(ErrorOf(denied).at("code").as_string(), "upstream_auth_error");
  auto internal = Chat(Body("500"), admin_key_);
  EXPECT_EQ(internal.result(), http::Status::bad_gateway);
  EXPECT_EQ(ErrorOf(internal).at("code").as_string(), "upstream_error");
  auto garbage = Chat(Body("garbage"), admin_key_);
  EXPECT_EQ(garbage.result(), http::Status::bad_gateway);
  // What Gemini cannot express is refused by the gateway, naming the field.
  auto unsupported = Chat(Body("text", R"(,"n":3)"), admin_key_);
  EXPECT_EQ(unsupported.result(), http::Status::bad_request);
  EXPECT_EQ(ErrorOf(unsupported).at("param").as_string(), "n");
  const auto rows = UsageRows(7);
  for (const auto& r : rows.rows) EXPECT_FALSE(r.IsNull(9)) << "failed calls carry an error code";
}

TEST_F(VertexTest, ClientDisconnectCancelsTheUpstreamCall) {
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
  EXPECT_GE(rows.rows.at(0).Int(6), 1) << "the partial output is counted";
}

TEST_F(VertexTest, MetadataTokenIsCachedThenRefreshedByTheClock) {
  ASSERT_EQ(Chat(Body("text"), admin_key_).result(), http::Status::ok);
  ASSERT_EQ(Chat(Body("text"), admin_key_).result(), http::Status::ok);
  EXPECT_EQ(metadata_.Requests(), 1);
  clock_.Advance(56min);  // the token (3599 s) is within 5 minutes of its expiry
  ASSERT_EQ(Chat(Body("text"), admin_key_).result(), http::Status::ok);
  EXPECT_EQ(metadata_.Requests(), 2);
  std::lock_guard lock(fake_.seen.mu);
  EXPECT_EQ(fake_.seen.authorization, "Bearer ya29.fake-2");
}

TEST_F(VertexTest, MetadataServerFailureIsA502BeforeAnyUpstreamCall) {
  metadata_.status = 500;
  for (const char* extra : {"", R"(,"stream":true)"}) {
    auto res = Chat(Body("text", extra), admin_key_);
    EXPECT_EQ(res.result(), http::Status::bad_gateway);
    EXPECT_EQ(ErrorOf(res).at("code").as_string(), "upstream_auth_error");
    EXPECT_NE(ErrorOf(res).at("message").as_string().find("metadata server"), std::string::npos);
  }
  std::lock_guard lock(fake_.seen.mu);
  EXPECT_EQ(fake_.seen.target, "") << "Vertex was never called without credentials";
}

TEST_F(VertexTest, ApiKeyAuthentication) {
  auto res = Chat(Body("keyed"), admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  std::lock_guard lock(fake_.seen.mu);
  EXPECT_EQ(fake_.seen.api_key, "AIza-test-key");
  EXPECT_EQ(fake_.seen.authorization, "");
  EXPECT_EQ(metadata_.Requests(), 0);
}

TEST_F(VertexTest, VertexEmbeddingsInBatches) {
  auto res = Embed(R"({"model":"embed","input":["a","bb","ccc"],"dimensions":3})", admin_key_);
  ASSERT_EQ(res.result(), http::Status::ok) << res.body();
  const auto v = json::parse(res.body());
  EXPECT_EQ(v.at("object").as_string(), "list");
  EXPECT_EQ(v.at("model").as_string(), "embed");
  const auto& data = v.at("data").as_array();
  ASSERT_EQ(data.size(), 3U);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(data[i].at("index").to_number<std::size_t>(), i);
    // FakeVertex answers [len, len+1, len+2] for each text: order is kept across batches.
    EXPECT_EQ(data[i].at("embedding").at(0).as_double(), static_cast<double>(i + 1));
    EXPECT_EQ(data[i].at("embedding").as_array().size(), 3U);
  }
  EXPECT_EQ(v.at("usage").at("prompt_tokens").as_int64(), 6) << "2 tokens per text, as reported";
  {
    std::lock_guard lock(fake_.seen.mu);
    EXPECT_EQ(fake_.seen.instances, (std::vector<std::size_t>{2, 1})) << "embedding_batch_size 2";
    EXPECT_EQ(fake_.seen.target, std::string(kModelPath) + "text-embedding-005:predict");
    EXPECT_EQ(fake_.seen.body.at("parameters").at("outputDimensionality").as_int64(), 3);
    EXPECT_EQ(fake_.seen.authorization, "Bearer ya29.fake-1");
  }
  auto b64 = Embed(R"({"model":"embed","input":"a","encoding_format":"base64"})", admin_key_);
  ASSERT_EQ(b64.result(), http::Status::ok);
  // [1,2,3,4] as little-endian float32.
  EXPECT_EQ(json::parse(b64.body()).at("data").at(0).at("embedding").as_string(),
            "AACAPwAAAEAAAEBAAACAQA==");
  const auto rows = UsageRows(2);
  for (const auto& r : rows.rows) {
    EXPECT_EQ(r.Text(2), "embed");
    EXPECT_EQ(r.Int(1), 0) << "not streamed";
    EXPECT_EQ(r.Int(6), 0) << "embeddings have no completion tokens";
  }
}

TEST_F(VertexTest, EmbeddingErrorsAndProvidersWithoutEmbeddings) {
  auto limited = Embed(R"({"model":"embed-429","input":"a"})", admin_key_);
  EXPECT_EQ(limited.result(), http::Status::too_many_requests);
  EXPECT_EQ(limited[http::Field::retry_after], "7");
  auto garbage = Embed(R"({"model":"embed-garbage","input":"a"})", admin_key_);
  EXPECT_EQ(garbage.result(), http::Status::bad_gateway);
  auto claude = Embed(R"({"model":"claude","input":"a"})", admin_key_);
  EXPECT_EQ(claude.result(), http::Status::bad_request);
  EXPECT_EQ(ErrorOf(claude).at("message").as_string(), "The model does not support embeddings.");
  EXPECT_EQ(ErrorOf(claude).at("param").as_string(), "model");
}

TEST_F(VertexTest, EchoEmbeddingsAreDeterministic) {
  auto a = Embed(R"({"model":"echo","input":["hello","world"]})", admin_key_);
  auto b = Embed(R"({"model":"echo","input":["hello"],"dimensions":16})", admin_key_);
  ASSERT_EQ(a.result(), http::Status::ok) << a.body();
  ASSERT_EQ(b.result(), http::Status::ok) << b.body();
  const auto va = json::parse(a.body());
  const auto vb = json::parse(b.body());
  EXPECT_EQ(va.at("data").at(0).at("embedding").as_array().size(), 16U);
  EXPECT_TRUE(va.at("data").at(0).at("embedding") == vb.at("data").at(0).at("embedding"));
  EXPECT_FALSE(va.at("data").at(0).at("embedding") == va.at("data").at(1).at("embedding"));
  EXPECT_EQ(va.at("usage").at("prompt_tokens").as_int64(), 4);
  auto wide = Embed(R"({"model":"echo","input":"x","dimensions":256})", admin_key_);
  EXPECT_EQ(json::parse(wide.body()).at("data").at(0).at("embedding").as_array().size(), 256U);
}

TEST_F(VertexTest, EmbeddingsHostileInputsAndAccess) {
  std::string too_many = R"({"model":"echo","input":[)";
  for (int i = 0; i <= 2048; ++i) too_many += i == 0 ? "\"x\"" : ",\"x\"";
  too_many += "]}";
  const struct {
    std::string body;
    std::string param;
  } cases[] = {
      {"{", ""},
      {R"({"model":"echo","input":[[1,2,3]]})", "input[0]"},
      {R"({"model":"echo","input":[1,2,3]})", "input[0]"},
      {R"({"model":"echo","input":["a",""]})", "input[1]"},
      {R"({"model":"echo","input":"a","encoding_format":"int8"})", "encoding_format"},
      {R"({"model":"echo","input":"a","dimensions":0})", "dimensions"},
      {too_many, "input"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body.substr(0, 60));
    auto res = Embed(c.body, admin_key_);
    EXPECT_EQ(res.result(), http::Status::bad_request) << res.body();
    EXPECT_EQ(ErrorOf(res).at("param").is_null() ? "" : ErrorOf(res).at("param").as_string(),
              c.param);
  }
  const std::string big = R"({"model":"echo","input":")" + std::string(70 * 1024, 'a') + "\"}";
  EXPECT_EQ(Embed(big, admin_key_).result(), http::Status::payload_too_large);
  EXPECT_EQ(Embed(R"({"model":"echo","input":"a"})", viewer_key_).result(),
            http::Status::forbidden);
  EXPECT_EQ(Embed(R"({"model":"echo","input":"a"})", restricted_key_).result(),
            http::Status::not_found);
  EXPECT_EQ(Embed(R"({"model":"nope","input":"a"})", admin_key_).result(), http::Status::not_found);
  EXPECT_EQ(Embed(R"({"model":"echo","input":"a"})", "sk-bro-wrong").result(),
            http::Status::unauthorized);
}

}  // namespace
}  // namespace bro::api
