// OpenAI chat <-> Anthropic Messages, both ways, without sockets. Response and event shapes
// follow Anthropic's published examples (docs.anthropic.com, Messages and streaming).

#include "gateway/anthropic_translate.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "anthropic_events.hpp"
#include "gateway/sse.hpp"

namespace bro::gateway::anthropic {
namespace {

namespace json = boost::json;

json::object Translate(const std::string& openai, std::int64_t max_tokens_default = 4096) {
  auto r = TranslateRequest(json::parse(openai).as_object(), "claude-up", max_tokens_default);
  if (auto* e = std::get_if<ApiError>(&r)) {
    ADD_FAILURE() << "refused: " << e->message << " (" << e->param << ")";
    return {};
  }
  return std::get<json::object>(r);
}

ApiError Refused(const std::string& openai) {
  auto r = TranslateRequest(json::parse(openai).as_object(), "claude-up", 4096);
  if (auto* e = std::get_if<ApiError>(&r)) return *e;
  ADD_FAILURE() << "accepted: " << json::serialize(std::get<json::object>(r));
  return {};
}

struct RequestCase {
  const char* name;
  const char* openai;
  const char* anthropic;  // the whole expected Messages request
};

const RequestCase kRequests[] = {
    {"plain user text, default max_tokens",
     R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
     R"({"model":"claude-up","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"max_tokens":4096})"},
    {"system and developer messages become one top-level system",
     R"({"model":"m","messages":[{"role":"system","content":"Be brief."},
        {"role":"developer","content":[{"type":"text","text":"Use French."}]},
        {"role":"user","content":"hi"}]})",
     R"({"model":"claude-up","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],
        "system":"Be brief.\n\nUse French.","max_tokens":4096})"},
    {"sampling, stop, stream (no stream_options upstream), user, max_completion_tokens wins",
     R"({"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":0.5,"top_p":0.9,
        "stop":"END","stream":true,"stream_options":{"include_usage":true},"user":"u-1","max_tokens":10,"max_completion_tokens":20})",
     R"({"model":"claude-up","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],
        "max_tokens":20,"temperature":0.5,"top_p":0.9,"stop_sequences":["END"],
        "metadata":{"user_id":"u-1"},"stream":true})"},
    {"stop as an array, max_tokens",
     R"({"model":"m","messages":[{"role":"user","content":"hi"}],"stop":["a","b"],"max_tokens":7})",
     R"({"model":"claude-up","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],
        "max_tokens":7,"stop_sequences":["a","b"]})"},
    {"content parts: text, data-URL and plain-URL images; empty text dropped",
     R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"see"},
        {"type":"text","text":""},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}},
        {"type":"image_url","image_url":{"url":"https://x.test/a.jpg"}}]}]})",
     R"({"model":"claude-up","messages":[{"role":"user","content":[{"type":"text","text":"see"},
        {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}},
        {"type":"image","source":{"type":"url","url":"https://x.test/a.jpg"}}]}],"max_tokens":4096})"},
    {"tool round trip: tools, tool_choice required, tool_use, merged tool_results",
     R"({"model":"m","messages":[{"role":"user","content":"weather?"},
        {"role":"assistant","content":null,"tool_calls":[
          {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
          {"id":"call_2","type":"function","function":{"name":"get_time","arguments":""}}]},
        {"role":"tool","tool_call_id":"call_1","content":"18C"},
        {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"noon"}]},
        {"role":"assistant","content":"It is 18C at noon."}],
        "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather",
          "parameters":{"type":"object","properties":{"city":{"type":"string"}}}}},
          {"type":"function","function":{"name":"get_time"}}],
        "tool_choice":"required"})",
     R"({"model":"claude-up","messages":[
        {"role":"user","content":[{"type":"text","text":"weather?"}]},
        {"role":"assistant","content":[
          {"type":"tool_use","id":"call_1","name":"get_weather","input":{"city":"Paris"}},
          {"type":"tool_use","id":"call_2","name":"get_time","input":{}}]},
        {"role":"user","content":[
          {"type":"tool_result","tool_use_id":"call_1","content":"18C"},
          {"type":"tool_result","tool_use_id":"call_2","content":"noon"}]},
        {"role":"assistant","content":[{"type":"text","text":"It is 18C at noon."}]}],
        "max_tokens":4096,
        "tools":[{"name":"get_weather","description":"Weather",
          "input_schema":{"type":"object","properties":{"city":{"type":"string"}}}},
          {"name":"get_time","input_schema":{"type":"object","properties":{}}}],
        "tool_choice":{"type":"any"}})"},
    {"named tool choice, parallel calls off",
     R"({"model":"m","messages":[{"role":"user","content":"x"}],
        "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
        "tool_choice":{"type":"function","function":{"name":"f"}},"parallel_tool_calls":false})",
     R"({"model":"claude-up","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],
        "max_tokens":4096,"tools":[{"name":"f","input_schema":{"type":"object"}}],
        "tool_choice":{"type":"tool","name":"f","disable_parallel_tool_use":true}})"},
    {"tool_choice none and auto; empty messages left out",
     R"({"model":"m","messages":[{"role":"system","content":""},{"role":"user","content":""},
        {"role":"assistant","content":null},{"role":"user","content":"x"}],
        "tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none"})",
     R"({"model":"claude-up","messages":[{"role":"user","content":[{"type":"text","text":"x"}]}],
        "max_tokens":4096,"tools":[{"name":"f","input_schema":{"type":"object","properties":{}}}],
        "tool_choice":{"type":"none"}})"},
};

TEST(AnthropicTranslate, RequestsTable) {
  for (const auto& c : kRequests) {
    SCOPED_TRACE(c.name);
    const json::value got = Translate(c.openai);
    EXPECT_TRUE(got == json::parse(c.anthropic)) << json::serialize(got);  // key order aside
  }
}

TEST(AnthropicTranslate, ConfiguredMaxTokensDefault) {
  EXPECT_EQ(Translate(R"({"model":"m","messages":[{"role":"user","content":"x"}]})", 123)
                .at("max_tokens")
                .as_int64(),
            123);
}

TEST(AnthropicTranslate, WhatAnthropicCannotExpressIsA400NamingTheField) {
  const struct {
    const char* openai;
    const char* param;
  } cases[] = {
      {R"({"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function",
          "function":{"name":"f","arguments":"{not json"}}]}]})",
       "messages[0].tool_calls[0].function.arguments"},
      {R"({"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function",
          "function":{"name":"f","arguments":"[1,2]"}}]}]})",
       "messages[0].tool_calls[0].function.arguments"},
      {R"({"messages":[{"role":"assistant","tool_calls":[{"type":"function",
          "function":{"name":"f","arguments":"{}"}}]}]})",
       "messages[0].tool_calls[0].id"},
      {R"({"messages":[{"role":"tool","content":"x"}]})", "messages[0].tool_call_id"},
      {R"({"messages":[{"role":"function","name":"f","content":"x"}]})", "messages[0].role"},
      {R"({"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]})",
       "messages[0].content[0].type"},
      {R"({"messages":[{"role":"user","content":"x"}],"n":2})", "n"},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"custom","custom":{}}]})",
       "tools[0].type"},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],
          "tool_choice":"sometimes"})",
       "tool_choice"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.openai);
    const auto e = Refused(c.openai);
    EXPECT_EQ(e.status, http::Status::bad_request);
    EXPECT_EQ(e.param, c.param);
  }
}

TEST(AnthropicTranslate, StopReasons) {
  const std::pair<const char*, const char*> table[] = {{"end_turn", "stop"},
                                                       {"stop_sequence", "stop"},
                                                       {"max_tokens", "length"},
                                                       {"tool_use", "tool_calls"},
                                                       {"refusal", "content_filter"},
                                                       {"pause_turn", "stop"},
                                                       {"", "stop"},
                                                       {"something_new", "stop"}};
  for (const auto& [anthropic, openai] : table) EXPECT_EQ(FinishReason(anthropic), openai);
}

TEST(AnthropicTranslate, ResponseWithTextAndToolUse) {
  const auto c = TranslateResponse(
      R"({"id":"msg_01","type":"message","role":"assistant","model":"claude-up",
          "content":[{"type":"thinking","thinking":"hmm","signature":"s"},
                     {"type":"text","text":"Let me check."},
                     {"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Paris"}},
                     {"type":"brand_new_block","x":1}],
          "stop_reason":"tool_use","stop_sequence":null,
          "usage":{"input_tokens":20,"cache_read_input_tokens":5,"output_tokens":9}})",
      "alias", 1700000000);
  ASSERT_TRUE(c);
  const auto v = json::parse(c->body).as_object();
  EXPECT_EQ(v.at("id").as_string(), "chatcmpl-msg_01");
  EXPECT_EQ(v.at("object").as_string(), "chat.completion");
  EXPECT_EQ(v.at("model").as_string(), "alias");
  const auto& choice = v.at("choices").at(0).as_object();
  EXPECT_EQ(choice.at("finish_reason").as_string(), "tool_calls");
  const auto& msg = choice.at("message").as_object();
  EXPECT_EQ(msg.at("content").as_string(), "Let me check.");
  const auto& call = msg.at("tool_calls").at(0).as_object();
  EXPECT_EQ(call.at("id").as_string(), "toolu_01");
  EXPECT_EQ(call.at("type").as_string(), "function");
  EXPECT_EQ(call.at("function").at("name").as_string(), "get_weather");
  EXPECT_EQ(call.at("function").at("arguments").as_string(), R"({"city":"Paris"})")
      << "arguments are a JSON string, as OpenAI sends them";
  EXPECT_EQ(c->usage.prompt_tokens, 25) << "cached input counts as prompt";
  EXPECT_EQ(c->usage.completion_tokens, 9);
  EXPECT_EQ(v.at("usage").at("total_tokens").as_int64(), 34);
}

TEST(AnthropicTranslate, ResponseOddShapes) {
  // Only tool calls: content is null, as with OpenAI.
  auto only_tools = TranslateResponse(
      R"({"id":"m","content":[{"type":"tool_use","id":"t","name":"f","input":{}}],"stop_reason":"tool_use"})",
      "a", 1);
  ASSERT_TRUE(only_tools);
  EXPECT_TRUE(
      json::parse(only_tools->body).at("choices").at(0).at("message").at("content").is_null());
  // Empty content, no usage, max_tokens.
  auto empty = TranslateResponse(R"({"id":"m","content":[],"stop_reason":"max_tokens"})", "a", 1);
  ASSERT_TRUE(empty);
  const auto v = json::parse(empty->body);
  EXPECT_EQ(v.at("choices").at(0).at("message").at("content").as_string(), "");
  EXPECT_EQ(v.at("choices").at(0).at("finish_reason").as_string(), "length");
  EXPECT_EQ(empty->usage.prompt_tokens, 0);
  for (const char* bad : {"", "not json", "[]", R"({"type":"message"})", R"({"content":"x"})"}) {
    EXPECT_FALSE(TranslateResponse(bad, "a", 1)) << bad;
  }
}

TEST(AnthropicTranslate, ErrorBodies) {
  const auto e = json::parse(TranslateError(
      R"({"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit"}})",
      429));
  EXPECT_EQ(e.at("error").at("type").as_string(), "rate_limit_error");
  EXPECT_EQ(e.at("error").at("code").as_string(), "rate_limit_error");
  EXPECT_EQ(e.at("error").at("message").as_string(),
            "Number of requests has exceeded your rate limit");
  for (const char* odd : {"", "<html>busy</html>", R"({"error":"flat"})", R"({"error":{}})"}) {
    const auto g = json::parse(TranslateError(odd, 400));
    EXPECT_EQ(g.at("error").at("code").as_string(), "upstream_400") << odd;
  }
}

// --- streams ---------------------------------------------------------------------------

using namespace testing::anthropic_events;

// The data of every event the translator made for `events`, and whether it wants more.
struct Run {
  std::vector<std::string> data;
  bool more = true;
};
Run Feed(StreamTranslator& t, const std::vector<std::string>& events) {
  Run r;
  std::vector<std::string> out;
  for (const auto& e : events) {
    r.more = t.OnEvent(e, out);
    if (!r.more) break;
  }
  for (const auto& o : out) r.data.push_back(SseData(o));
  return r;
}

const std::string kMessageStart = MessageStart("msg_1", 25);

TEST(AnthropicStream, TextStreamWithUsage) {
  StreamTranslator t("alias", true, 7);
  const auto r =
      Feed(t, {kMessageStart, TextStart(0), Ping(), TextDelta(0, "Hel"), TextDelta(0, "lo"),
               BlockStop(0), MessageDelta("end_turn", 15), MessageStop()});
  EXPECT_TRUE(r.more);
  EXPECT_TRUE(t.Finished());
  EXPECT_TRUE(t.Error().empty());
  ASSERT_EQ(r.data.size(), 6U);
  const auto first = json::parse(r.data[0]);
  EXPECT_EQ(first.at("id").as_string(), "chatcmpl-msg_1");
  EXPECT_EQ(first.at("object").as_string(), "chat.completion.chunk");
  EXPECT_EQ(first.at("model").as_string(), "alias");
  EXPECT_EQ(first.at("choices").at(0).at("delta").at("role").as_string(), "assistant");
  EXPECT_EQ(json::parse(r.data[1]).at("choices").at(0).at("delta").at("content").as_string(),
            "Hel");
  EXPECT_EQ(json::parse(r.data[2]).at("choices").at(0).at("delta").at("content").as_string(), "lo");
  EXPECT_EQ(json::parse(r.data[3]).at("choices").at(0).at("finish_reason").as_string(), "stop");
  const auto usage = json::parse(r.data[4]);
  EXPECT_TRUE(usage.at("choices").as_array().empty());
  EXPECT_EQ(usage.at("usage").at("prompt_tokens").as_int64(), 25);
  EXPECT_EQ(usage.at("usage").at("completion_tokens").as_int64(), 15);
  EXPECT_EQ(r.data[5], "[DONE]");
  EXPECT_EQ(t.Tokens().completion_tokens, 15);
  EXPECT_TRUE(t.PromptReported() && t.CompletionReported());
}

TEST(AnthropicStream, ToolUseDeltasAreForwardedPieceByPiece) {
  StreamTranslator t("alias", false, 7);
  const auto r = Feed(
      t, {kMessageStart, TextStart(0), TextDelta(0, "Checking."), BlockStop(0),
          ToolStart(1, "toolu_9", "get_weather"), JsonDelta(1, ""), JsonDelta(1, R"({"city": "Pa)"),
          JsonDelta(1, R"(ris"})"), BlockStop(1), ToolStart(2, "toolu_10", "get_time"),
          JsonDelta(2, "{}"), MessageDelta("tool_use", 30), MessageStop()});
  // role, text, tool 0 start, 2 argument pieces, tool 1 start, 1 piece, finish, [DONE]
  ASSERT_EQ(r.data.size(), 9U);
  const auto start0 = json::parse(r.data[2]).at("choices").at(0).at("delta").at("tool_calls").at(0);
  EXPECT_EQ(start0.at("index").as_int64(), 0);
  EXPECT_EQ(start0.at("id").as_string(), "toolu_9");
  EXPECT_EQ(start0.at("type").as_string(), "function");
  EXPECT_EQ(start0.at("function").at("name").as_string(), "get_weather");
  EXPECT_EQ(start0.at("function").at("arguments").as_string(), "");
  const auto piece = json::parse(r.data[3]).at("choices").at(0).at("delta").at("tool_calls").at(0);
  EXPECT_EQ(piece.at("index").as_int64(), 0);
  EXPECT_FALSE(piece.as_object().contains("id")) << "id and name only on the first chunk";
  EXPECT_EQ(piece.at("function").at("arguments").as_string(), R"({"city": "Pa)");
  EXPECT_EQ(json::parse(r.data[4])
                .at("choices")
                .at(0)
                .at("delta")
                .at("tool_calls")
                .at(0)
                .at("function")
                .at("arguments")
                .as_string(),
            R"(ris"})");
  const auto start1 = json::parse(r.data[5]).at("choices").at(0).at("delta").at("tool_calls").at(0);
  EXPECT_EQ(start1.at("index").as_int64(), 1) << "OpenAI tool index, not Anthropic block index";
  EXPECT_EQ(start1.at("id").as_string(), "toolu_10");
  EXPECT_EQ(json::parse(r.data[7]).at("choices").at(0).at("finish_reason").as_string(),
            "tool_calls");
  EXPECT_EQ(r.data[8], "[DONE]");
}

TEST(AnthropicStream, InBandErrorEndsTheStreamWithAnOpenAiError) {
  StreamTranslator t("alias", true, 7);
  const auto r = Feed(t, {kMessageStart, Error("overloaded_error", "Overloaded"), MessageStop()});
  EXPECT_FALSE(r.more);
  EXPECT_FALSE(t.Finished());
  EXPECT_EQ(t.Error(), "upstream_stream_error");
  ASSERT_EQ(r.data.size(), 2U);
  const auto e = json::parse(r.data[1]);
  EXPECT_EQ(e.at("error").at("code").as_string(), "upstream_stream_error");
  EXPECT_NE(e.at("error").at("message").as_string().find("overloaded_error"), std::string::npos);
}

TEST(AnthropicStream, OddEvents) {
  StreamTranslator t("alias", false, 7);
  auto r = Feed(t, {": a comment\n\n", Ping(), kMessageStart,
                    BlockStart(0, R"({"type":"thinking","thinking":""})"),
                    Delta(0, R"({"type":"thinking_delta","thinking":"hmm"})"),
                    JsonDelta(5, "{}"),  // a block that never started
                    Event("brand_new_event", R"({"type":"brand_new_event"})"),
                    Event("content_block_delta", R"({"type":"content_block_delta","index":0})"),
                    MessageStop()});
  EXPECT_TRUE(t.Finished());
  ASSERT_EQ(r.data.size(), 3U) << "role, finish (stop when no message_delta came), [DONE]";
  EXPECT_EQ(json::parse(r.data[1]).at("choices").at(0).at("finish_reason").as_string(), "stop");
  EXPECT_FALSE(t.CompletionReported());

  StreamTranslator bad("alias", false, 7);
  r = Feed(bad, {kMessageStart, "data: {not json\n\n"});
  EXPECT_FALSE(r.more);
  EXPECT_EQ(bad.Error(), "upstream_stream_error");
  EXPECT_TRUE(json::parse(r.data.back()).as_object().contains("error"));
}

}  // namespace
}  // namespace bro::gateway::anthropic
