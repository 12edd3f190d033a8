#include "gateway/echo_provider.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <string>
#include <variant>
#include <vector>

#include "gateway/sse.hpp"

namespace bro::gateway {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

// Records what a provider streams. Send fails from the `fail_at`-th call on (the
// client went away); ClientGone completes after `gone_after` when set.
class FakeSink : public StreamSink {
 public:
  Task<bool> Begin() override {
    ++begins;
    co_return begin_ok;
  }
  Task<bool> Send(std::string_view bytes) override {
    ++sends;
    if (fail_at >= 0 && sends > fail_at) co_return false;
    events.emplace_back(bytes);
    co_return true;
  }
  Task<void> End() override {
    ++ends;
    co_return;
  }
  Task<void> ClientGone() override {
    asio::steady_timer t(co_await asio::this_coro::executor);
    if (gone_after) {
      t.expires_after(*gone_after);
    } else {
      t.expires_at(asio::steady_timer::time_point::max());
    }
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
  }

  bool begin_ok = true;
  int fail_at = -1;
  std::optional<std::chrono::milliseconds> gone_after;
  int begins = 0, sends = 0, ends = 0;
  std::vector<std::string> events;
};

ChatRequest Parse(const std::string& body) {
  auto r = ParseChatRequest(body);
  if (auto* e = std::get_if<ApiError>(&r)) throw std::runtime_error(e->message);
  return std::get<ChatRequest>(std::move(r));
}

ChatOutcome RunChat(EchoProvider& p, const ChatRequest& req, FakeSink& sink) {
  asio::io_context ioc;
  ChatCall call{req, "echo-upstream", "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"};
  auto f = asio::co_spawn(ioc, p.Chat(call, sink), asio::use_future);
  ioc.run();
  return f.get();
}

EchoProvider MakeEcho(std::chrono::milliseconds token_delay = std::chrono::milliseconds(0)) {
  config::ProviderConfig cfg;
  cfg.name = "echo";
  cfg.type = config::ProviderType::kEcho;
  cfg.token_delay = token_delay;
  return EchoProvider(cfg);
}

std::string Request(const std::string& text, const std::string& extra = "") {
  std::string body =
      R"({"model":"echo","messages":[{"role":"system","content":"sys"},{"role":"user","content":)" +
      json::serialize(json::value(text)) + "}]";
  if (!extra.empty()) body += "," + extra;
  return body + "}";
}

// Every chunk's data, in order, as JSON (except the final [DONE]).
std::vector<json::object> Chunks(const FakeSink& sink) {
  std::vector<json::object> out;
  for (const auto& e : sink.events) {
    EXPECT_TRUE(e.starts_with("data: ") && e.ends_with("\n\n")) << e;
    const auto data = SseData(e);
    if (data == "[DONE]") continue;
    out.push_back(json::parse(data).as_object());
  }
  return out;
}

std::string StreamedContent(const std::vector<json::object>& chunks) {
  std::string out;
  for (const auto& c : chunks) {
    for (const auto& choice : c.at("choices").as_array()) {
      const auto& delta = choice.as_object().at("delta").as_object();
      if (const auto* content = delta.if_contains("content");
          content != nullptr && content->is_string()) {
        out += content->as_string();
      }
    }
  }
  return out;
}

bool ValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xE  ? 3
                    : (c >> 3) == 0x1E ? 4
                                       : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

TEST(EchoProvider, NonStreamingReply) {
  auto echo = MakeEcho();
  FakeSink sink;
  const auto req = Parse(Request("Hello there"));
  const auto out = RunChat(echo, req, sink);
  EXPECT_FALSE(out.streamed);
  EXPECT_EQ(out.status, http::Status::ok);
  EXPECT_TRUE(out.error_code.empty());
  EXPECT_TRUE(sink.events.empty());
  EXPECT_EQ(sink.begins, 0);
  auto body = json::parse(out.body).as_object();
  EXPECT_EQ(body.at("object").as_string(), "chat.completion");
  EXPECT_EQ(body.at("model").as_string(), "echo-upstream");
  EXPECT_TRUE(body.at("id").as_string().starts_with("chatcmpl-"));
  const auto& choice = body.at("choices").as_array().at(0).as_object();
  EXPECT_EQ(choice.at("message").as_object().at("role").as_string(), "assistant");
  EXPECT_EQ(choice.at("message").as_object().at("content").as_string(), "Echo: Hello there");
  EXPECT_EQ(choice.at("finish_reason").as_string(), "stop");
  const auto& usage = body.at("usage").as_object();
  EXPECT_EQ(usage.at("prompt_tokens").as_int64(), out.usage.prompt_tokens);
  EXPECT_EQ(usage.at("completion_tokens").as_int64(), out.usage.completion_tokens);
  EXPECT_EQ(usage.at("total_tokens").as_int64(),
            out.usage.prompt_tokens + out.usage.completion_tokens);
  EXPECT_EQ(out.usage.completion_tokens, EstimateTokens("Echo: Hello there"));
  EXPECT_EQ(out.usage.prompt_tokens, EstimatePromptTokens(req.body));
  EXPECT_TRUE(out.time_to_first_token.has_value());
}

TEST(EchoProvider, RepliesToTheLastUserMessageIncludingTextParts) {
  auto echo = MakeEcho();
  FakeSink sink;
  const auto req = Parse(
      R"({"model":"echo","messages":[{"role":"user","content":"old"},{"role":"assistant","content":"x"},
          {"role":"user","content":[{"type":"text","text":"new "},{"type":"image_url","image_url":{"url":"u"}},
          {"type":"text","text":"parts"}]}]})");
  const auto out = RunChat(echo, req, sink);
  auto body = json::parse(out.body).as_object();
  EXPECT_EQ(body.at("choices")
                .as_array()[0]
                .as_object()
                .at("message")
                .as_object()
                .at("content")
                .as_string(),
            "Echo: new parts");
}

TEST(EchoProvider, StreamingCarriesTheSameTextAsNonStreaming) {
  const std::string text = "The quick brown fox jumps over the lazy dog, twice.";
  auto echo = MakeEcho();
  FakeSink plain_sink;
  const auto plain = RunChat(echo, Parse(Request(text)), plain_sink);
  const auto plain_content = json::parse(plain.body)
                                 .as_object()
                                 .at("choices")
                                 .as_array()[0]
                                 .as_object()
                                 .at("message")
                                 .as_object()
                                 .at("content")
                                 .as_string();

  FakeSink sink;
  const auto out = RunChat(echo, Parse(Request(text, R"("stream":true)")), sink);
  EXPECT_TRUE(out.streamed);
  EXPECT_FALSE(out.client_gone);
  EXPECT_TRUE(out.error_code.empty());
  EXPECT_EQ(sink.begins, 1);
  EXPECT_EQ(sink.ends, 1);
  ASSERT_FALSE(sink.events.empty());
  EXPECT_EQ(sink.events.back(), "data: [DONE]\n\n") << "[DONE] is the last event";
  const auto chunks = Chunks(sink);
  ASSERT_GE(chunks.size(), 4U) << "role chunk, several content pieces, finish chunk";
  EXPECT_EQ(StreamedContent(chunks), plain_content);
  EXPECT_GT(chunks.size() - 2, 3U) << "the reply is streamed in pieces";
  EXPECT_EQ(chunks.front()
                .at("choices")
                .as_array()[0]
                .as_object()
                .at("delta")
                .as_object()
                .at("role")
                .as_string(),
            "assistant");
  const auto& last = chunks.back().at("choices").as_array()[0].as_object();
  EXPECT_EQ(last.at("finish_reason").as_string(), "stop");
  const std::string id(chunks.front().at("id").as_string());
  for (const auto& c : chunks) {
    EXPECT_EQ(c.at("object").as_string(), "chat.completion.chunk");
    EXPECT_EQ(c.at("id").as_string(), id) << "every chunk of a stream shares its id";
    EXPECT_FALSE(c.contains("usage")) << "no usage chunk unless include_usage";
  }
  EXPECT_EQ(out.usage.completion_tokens, plain.usage.completion_tokens);
  EXPECT_EQ(out.usage.prompt_tokens, plain.usage.prompt_tokens);
}

TEST(EchoProvider, UsageChunkOnlyWithIncludeUsage) {
  auto echo = MakeEcho();
  FakeSink sink;
  const auto out = RunChat(
      echo, Parse(Request("count me", R"("stream":true,"stream_options":{"include_usage":true})")),
      sink);
  ASSERT_GE(sink.events.size(), 3U);
  EXPECT_EQ(sink.events.back(), "data: [DONE]\n\n");
  auto usage_chunk = json::parse(SseData(sink.events[sink.events.size() - 2])).as_object();
  EXPECT_TRUE(usage_chunk.at("choices").as_array().empty()) << "the usage chunk has no choices";
  const auto& usage = usage_chunk.at("usage").as_object();
  EXPECT_EQ(usage.at("prompt_tokens").as_int64(), out.usage.prompt_tokens);
  EXPECT_EQ(usage.at("completion_tokens").as_int64(), out.usage.completion_tokens);
  EXPECT_EQ(usage.at("completion_tokens").as_int64(), EstimateTokens("Echo: count me"));
  EXPECT_EQ(usage.at("total_tokens").as_int64(),
            out.usage.prompt_tokens + out.usage.completion_tokens);
  int with_usage = 0;
  for (const auto& c : Chunks(sink)) with_usage += c.contains("usage") ? 1 : 0;
  EXPECT_EQ(with_usage, 1);
}

TEST(EchoProvider, StreamedPiecesNeverSplitUtf8) {
  auto echo = MakeEcho();
  FakeSink sink;
  const std::string text =
      "h\xC3\xA9llo w\xC3\xB6rld \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80\xF0\x9F\x98\x80!";
  RunChat(echo, Parse(Request(text, R"("stream":true)")), sink);
  const auto chunks = Chunks(sink);
  std::string joined;
  for (const auto& c : chunks) {
    const auto& delta = c.at("choices").as_array()[0].as_object().at("delta").as_object();
    if (const auto* content = delta.if_contains("content");
        content != nullptr && content->is_string()) {
      EXPECT_TRUE(ValidUtf8(content->as_string())) << "piece splits a UTF-8 sequence";
      joined += content->as_string();
    }
  }
  EXPECT_EQ(joined, "Echo: " + text);
}

TEST(EchoProvider, ToolChoiceForcesAToolCall) {
  auto echo = MakeEcho();
  const std::string tools =
      R"("tools":[{"type":"function","function":{"name":"other"}},{"type":"function","function":{"name":"get_weather"}}],
         "tool_choice":{"type":"function","function":{"name":"get_weather"}})";
  FakeSink sink;
  const auto out = RunChat(echo, Parse(Request("Paris", tools)), sink);
  const auto body = json::parse(out.body);
  const auto& choice = body.as_object().at("choices").as_array()[0].as_object();
  EXPECT_EQ(choice.at("finish_reason").as_string(), "tool_calls");
  const auto& message = choice.at("message").as_object();
  EXPECT_TRUE(message.at("content").is_null());
  const auto& call = message.at("tool_calls").as_array().at(0).as_object();
  EXPECT_EQ(call.at("type").as_string(), "function");
  EXPECT_TRUE(call.at("id").as_string().starts_with("call_"));
  EXPECT_EQ(call.at("function").as_object().at("name").as_string(), "get_weather");
  const auto args = json::parse(call.at("function").as_object().at("arguments").as_string());
  EXPECT_EQ(args, json::parse(R"({"text":"Paris"})"));
}

TEST(EchoProvider, RequiredToolChoiceUsesTheFirstTool) {
  auto echo = MakeEcho();
  FakeSink sink;
  const auto out = RunChat(
      echo,
      Parse(Request(
          "x",
          R"("tools":[{"type":"function","function":{"name":"first"}}],"tool_choice":"required")")),
      sink);
  const auto body = json::parse(out.body);
  const auto& message =
      body.as_object().at("choices").as_array()[0].as_object().at("message").as_object();
  EXPECT_EQ(message.at("tool_calls")
                .as_array()[0]
                .as_object()
                .at("function")
                .as_object()
                .at("name")
                .as_string(),
            "first");
}

TEST(EchoProvider, AutoToolChoiceAnswersWithText) {
  auto echo = MakeEcho();
  FakeSink sink;
  const auto out = RunChat(
      echo,
      Parse(Request(
          "x", R"("tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"auto")")),
      sink);
  const auto body = json::parse(out.body);
  const auto& message =
      body.as_object().at("choices").as_array()[0].as_object().at("message").as_object();
  EXPECT_EQ(message.at("content").as_string(), "Echo: x");
  EXPECT_FALSE(message.contains("tool_calls"));
}

TEST(EchoProvider, StreamedToolCallArgumentsArriveInPieces) {
  auto echo = MakeEcho();
  const std::string tools =
      R"("stream":true,"tools":[{"type":"function","function":{"name":"lookup"}}],
         "tool_choice":{"type":"function","function":{"name":"lookup"}})";
  FakeSink sink;
  const auto out = RunChat(echo, Parse(Request("a somewhat longer question", tools)), sink);
  EXPECT_TRUE(out.error_code.empty());
  EXPECT_EQ(sink.events.back(), "data: [DONE]\n\n");
  const auto chunks = Chunks(sink);
  ASSERT_GE(chunks.size(), 3U);
  const auto& first_delta =
      chunks.front().at("choices").as_array()[0].as_object().at("delta").as_object();
  const auto& first_call = first_delta.at("tool_calls").as_array()[0].as_object();
  EXPECT_EQ(first_call.at("function").as_object().at("name").as_string(), "lookup");
  EXPECT_TRUE(first_call.at("id").as_string().starts_with("call_"));
  std::string arguments;
  int pieces = 0;
  for (std::size_t i = 1; i < chunks.size(); ++i) {
    const auto& delta = chunks[i].at("choices").as_array()[0].as_object().at("delta").as_object();
    if (const auto* calls = delta.if_contains("tool_calls")) {
      const auto& fn = calls->as_array()[0].as_object().at("function").as_object();
      EXPECT_FALSE(fn.contains("name")) << "the name is sent once";
      arguments += fn.at("arguments").as_string();
      ++pieces;
    }
  }
  EXPECT_GT(pieces, 1) << "arguments are streamed in several pieces";
  EXPECT_EQ(json::parse(arguments), json::parse(R"({"text":"a somewhat longer question"})"));
  EXPECT_EQ(chunks.back().at("choices").as_array()[0].as_object().at("finish_reason").as_string(),
            "tool_calls");
}

TEST(EchoProvider, SinkRefusingStopsTheStream) {
  auto echo = MakeEcho();
  FakeSink sink;
  sink.fail_at = 2;
  const auto out = RunChat(
      echo, Parse(Request("a long enough text to need many chunks", R"("stream":true)")), sink);
  EXPECT_TRUE(out.client_gone);
  EXPECT_EQ(out.error_code, "client_disconnected");
  EXPECT_EQ(sink.sends, 3) << "no Send after the first refused one";
  EXPECT_EQ(sink.events.size(), 2U);
  EXPECT_EQ(sink.ends, 0) << "a stream to a gone client is not ended";
}

TEST(EchoProvider, BeginRefusedMeansClientGone) {
  auto echo = MakeEcho();
  FakeSink sink;
  sink.begin_ok = false;
  const auto out = RunChat(echo, Parse(Request("x", R"("stream":true)")), sink);
  EXPECT_TRUE(out.client_gone);
  EXPECT_EQ(out.error_code, "client_disconnected");
  EXPECT_EQ(sink.sends, 0);
}

TEST(EchoProvider, ClientGoneCancelsAStreamInProgress) {
  auto echo = MakeEcho(std::chrono::milliseconds(20));
  FakeSink sink;
  sink.gone_after = std::chrono::milliseconds(50);
  const auto out = RunChat(echo, Parse(Request(std::string(400, 'z'), R"("stream":true)")), sink);
  EXPECT_TRUE(out.client_gone);
  EXPECT_EQ(out.error_code, "client_disconnected");
  EXPECT_EQ(sink.ends, 0);
  ASSERT_FALSE(sink.events.empty());
  EXPECT_NE(sink.events.back(), "data: [DONE]\n\n")
      << "a cancelled stream must not claim completion";
  EXPECT_LT(sink.events.size(), 100U)
      << "~100 pieces at 20 ms each cannot all be sent within 50 ms";
}

}  // namespace
}  // namespace bro::gateway
