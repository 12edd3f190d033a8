// OpenAI chat <-> Gemini on Vertex AI, both ways, without sockets. Response, stream and error
// shapes follow Vertex AI's published reference (vertex_events.hpp).

#include "gateway/vertex_translate.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "gateway/sse.hpp"
#include "vertex_events.hpp"

namespace bro::gateway::vertex {
namespace {

namespace json = boost::json;
using namespace testing::vertex_events;

json::object Translate(const std::string& openai) {
  auto r = TranslateRequest(json::parse(openai).as_object());
  if (auto* e = std::get_if<ApiError>(&r)) {
    ADD_FAILURE() << "refused: " << e->message << " (" << e->param << ")";
    return {};
  }
  return std::get<json::object>(r);
}

struct RequestCase {
  const char* name;
  const char* openai;
  const char* gemini;  // the whole expected GenerateContentRequest
};

const RequestCase kRequests[] = {
    {"plain user text", R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
     R"({"contents":[{"role":"user","parts":[{"text":"hi"}]}]})"},
    {"system and developer become systemInstruction; sampling becomes generationConfig",
     R"({"model":"m","messages":[{"role":"system","content":"Be brief."},
        {"role":"developer","content":[{"type":"text","text":"Use French."}]},
        {"role":"user","content":"hi"}],
        "temperature":0.5,"top_p":0.9,"max_tokens":10,"max_completion_tokens":20,"stop":"END",
        "seed":7,"presence_penalty":0.1,"frequency_penalty":0.2,
        "response_format":{"type":"json_object"},"stream":true,"stream_options":{"include_usage":true},
        "user":"u-1"})",
     R"({"contents":[{"role":"user","parts":[{"text":"hi"}]}],
        "systemInstruction":{"parts":[{"text":"Be brief.\n\nUse French."}]},
        "generationConfig":{"temperature":0.5,"topP":0.9,"maxOutputTokens":20,
          "stopSequences":["END"],"seed":7,"presencePenalty":0.1,"frequencyPenalty":0.2,
          "responseMimeType":"application/json"}})"},
    {"tool round trip: declarations, ANY, functionCall, merged functionResponses",
     R"({"model":"m","messages":[{"role":"user","content":"weather?"},
        {"role":"assistant","content":null,"tool_calls":[
          {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
          {"id":"call_2","type":"function","function":{"name":"get_time","arguments":""}}]},
        {"role":"tool","tool_call_id":"call_1","content":"18C"},
        {"role":"tool","tool_call_id":"call_2","content":[{"type":"text","text":"noon"}]},
        {"role":"assistant","content":"It is 18C at noon."}],
        "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather",
          "parameters":{"type":"object","properties":{"city":{"type":"string"}},"additionalProperties":false}}},
          {"type":"function","function":{"name":"get_time"}}],
        "tool_choice":"required"})",
     R"({"contents":[
        {"role":"user","parts":[{"text":"weather?"}]},
        {"role":"model","parts":[
          {"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},
          {"functionCall":{"name":"get_time","args":{}}}]},
        {"role":"user","parts":[
          {"functionResponse":{"name":"get_weather","response":{"content":"18C"}}},
          {"functionResponse":{"name":"get_time","response":{"content":"noon"}}}]},
        {"role":"model","parts":[{"text":"It is 18C at noon."}]}],
        "tools":[{"functionDeclarations":[
          {"name":"get_weather","description":"Weather","parametersJsonSchema":
            {"type":"object","properties":{"city":{"type":"string"}},"additionalProperties":false}},
          {"name":"get_time"}]}],
        "toolConfig":{"functionCallingConfig":{"mode":"ANY"}}})"},
    {"named tool choice; images inline and by URL; consecutive user turns merged",
     R"({"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"see"},
        {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBOR"}},
        {"type":"image_url","image_url":{"url":"gs://bucket/cat.JPG"}}]},
        {"role":"user","content":"and?"}],
        "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
        "tool_choice":{"type":"function","function":{"name":"f"}}})",
     R"({"contents":[{"role":"user","parts":[{"text":"see"},
        {"inlineData":{"mimeType":"image/png","data":"iVBOR"}},
        {"fileData":{"mimeType":"image/jpeg","fileUri":"gs://bucket/cat.JPG"}},
        {"text":"and?"}]}],
        "tools":[{"functionDeclarations":[{"name":"f","parametersJsonSchema":{"type":"object"}}]}],
        "toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}}})"},
    {"tool_choice none; empty messages left out",
     R"({"model":"m","messages":[{"role":"system","content":""},{"role":"user","content":""},
        {"role":"assistant","content":null},{"role":"user","content":"x"}],
        "tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"none"})",
     R"({"contents":[{"role":"user","parts":[{"text":"x"}]}],
        "tools":[{"functionDeclarations":[{"name":"f"}]}],
        "toolConfig":{"functionCallingConfig":{"mode":"NONE"}}})"},
};

TEST(VertexTranslate, RequestsTable) {
  for (const auto& c : kRequests) {
    SCOPED_TRACE(c.name);
    const json::value got = Translate(c.openai);
    EXPECT_TRUE(got == json::parse(c.gemini)) << json::serialize(got);
  }
}

TEST(VertexTranslate, WhatGeminiCannotExpressIsA400NamingTheField) {
  const struct {
    const char* openai;
    const char* param;
  } cases[] = {
      {R"({"messages":[{"role":"user","content":"x"}],"n":2})", "n"},
      {R"({"messages":[{"role":"tool","tool_call_id":"nobody","content":"x"}]})",
       "messages[0].tool_call_id"},
      {R"({"messages":[{"role":"tool","content":"x"}]})", "messages[0].tool_call_id"},
      {R"({"messages":[{"role":"function","name":"f","content":"x"}]})", "messages[0].role"},
      {R"({"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]})",
       "messages[0].content[0].type"},
      {R"({"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x.test/img"}}]}]})",
       "messages[0].content[0].image_url.url"},
      {R"({"messages":[{"role":"assistant","tool_calls":[{"id":"c","type":"function",
          "function":{"name":"f","arguments":"[1]"}}]}]})",
       "messages[0].tool_calls[0].function.arguments"},
      {R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema"}})",
       "response_format.type"},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"custom","custom":{}}]})",
       "tools[0].type"},
      {R"({"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}],
          "tool_choice":"sometimes"})",
       "tool_choice"},
      {R"({"messages":"nope"})", "messages"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.openai);
    auto r = TranslateRequest(json::parse(c.openai).as_object());
    ASSERT_TRUE(std::holds_alternative<ApiError>(r)) << json::serialize(std::get<json::object>(r));
    EXPECT_EQ(std::get<ApiError>(r).status, http::Status::bad_request);
    EXPECT_EQ(std::get<ApiError>(r).param, c.param);
  }
}

TEST(VertexTranslate, FinishReasons) {
  const std::tuple<const char*, bool, const char*> table[] = {
      {"STOP", false, "stop"},
      {"STOP", true, "tool_calls"},
      {"MAX_TOKENS", false, "length"},
      {"MAX_TOKENS", true, "length"},
      {"SAFETY", false, "content_filter"},
      {"RECITATION", false, "content_filter"},
      {"BLOCKLIST", false, "content_filter"},
      {"PROHIBITED_CONTENT", false, "content_filter"},
      {"SPII", false, "content_filter"},
      {"MALFORMED_FUNCTION_CALL", false, "stop"},
      {"OTHER", false, "stop"},
      {"SOMETHING_NEW", false, "stop"}};
  for (const auto& [gemini, calls, openai] : table) {
    EXPECT_EQ(FinishReason(gemini, calls), openai) << gemini << " " << calls;
  }
}

TEST(VertexTranslate, ResponseWithText) {
  const auto c = TranslateResponse(
      Response("[" + TextPart("Hello! ") + "," + TextPart("How can I help?") + "]", "STOP",
               UsageMetadata(5, 9)),
      "alias", 1700000000);
  ASSERT_TRUE(c);
  const auto v = json::parse(c->body).as_object();
  EXPECT_EQ(v.at("id").as_string(), std::string("chatcmpl-") + kResponseId);
  EXPECT_EQ(v.at("object").as_string(), "chat.completion");
  EXPECT_EQ(v.at("model").as_string(), "alias");
  EXPECT_EQ(v.at("created").as_int64(), 1700000000);
  const auto& choice = v.at("choices").at(0).as_object();
  EXPECT_EQ(choice.at("finish_reason").as_string(), "stop");
  EXPECT_EQ(choice.at("message").at("content").as_string(), "Hello! How can I help?");
  EXPECT_EQ(c->usage.prompt_tokens, 5);
  EXPECT_EQ(c->usage.completion_tokens, 9);
  EXPECT_EQ(v.at("usage").at("total_tokens").as_int64(), 14);
}

TEST(VertexTranslate, ResponseWithFunctionCallsAndThoughts) {
  const auto c = TranslateResponse(
      R"({"candidates":[{"content":{"role":"model","parts":[
          {"text":"thinking about it","thought":true},
          {"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},
          {"functionCall":{"id":"fc-2","name":"get_time","args":{}}}]},
        "finishReason":"STOP"}],
        "usageMetadata":{"promptTokenCount":20,"candidatesTokenCount":9,"thoughtsTokenCount":4,
          "totalTokenCount":33}})",
      "alias", 1);
  ASSERT_TRUE(c);
  const auto v = json::parse(c->body);
  const auto& choice = v.at("choices").at(0).as_object();
  EXPECT_EQ(choice.at("finish_reason").as_string(), "tool_calls");
  EXPECT_TRUE(choice.at("message").at("content").is_null()) << "no text besides the calls";
  const auto& calls = choice.at("message").at("tool_calls").as_array();
  ASSERT_EQ(calls.size(), 2U);
  EXPECT_TRUE(calls[0].at("id").as_string().starts_with("call_"));
  EXPECT_NE(calls[0].at("id").as_string(), "call_");
  EXPECT_EQ(calls[0].at("type").as_string(), "function");
  EXPECT_EQ(calls[0].at("function").at("name").as_string(), "get_weather");
  EXPECT_EQ(calls[0].at("function").at("arguments").as_string(), R"({"city":"Paris"})");
  EXPECT_EQ(calls[1].at("id").as_string(), "fc-2") << "Gemini's own id when it sends one";
  EXPECT_EQ(c->usage.completion_tokens, 13) << "thinking is billed as output";
}

TEST(VertexTranslate, ResponseOddShapes) {
  const auto blocked = TranslateResponse(
      R"({"promptFeedback":{"blockReason":"SAFETY","safetyRatings":[]},
          "usageMetadata":{"promptTokenCount":7,"totalTokenCount":7}})",
      "alias", 1);
  ASSERT_TRUE(blocked);
  const auto b = json::parse(blocked->body);
  EXPECT_EQ(b.at("choices").at(0).at("finish_reason").as_string(), "content_filter");
  EXPECT_EQ(b.at("choices").at(0).at("message").at("content").as_string(), "");
  EXPECT_EQ(blocked->usage.prompt_tokens, 7);
  const auto cut =
      TranslateResponse(Response("[" + TextPart("par") + "]", "MAX_TOKENS", ""), "alias", 1);
  ASSERT_TRUE(cut);
  EXPECT_EQ(json::parse(cut->body).at("choices").at(0).at("finish_reason").as_string(), "length");
  for (const char* bad : {"", "not json", "[]", R"({"candidates":[]})", R"({"foo":1})"}) {
    EXPECT_FALSE(TranslateResponse(bad, "alias", 1)) << bad;
  }
}

TEST(VertexTranslate, ErrorBodies) {
  const auto limited = json::parse(TranslateError(
      ErrorBody(429, "RESOURCE_EXHAUSTED", "Resource exhausted. Please try again later."), 429));
  EXPECT_EQ(limited.at("error").at("type").as_string(), "rate_limit_error");
  EXPECT_EQ(limited.at("error").at("code").as_string(), "resource_exhausted");
  EXPECT_EQ(limited.at("error").at("message").as_string(),
            "Resource exhausted. Please try again later.");
  // streamGenerateContent without alt=sse wraps it in an array.
  const auto invalid = json::parse(TranslateError(
      "[" + ErrorBody(400, "INVALID_ARGUMENT", "Unable to submit request.") + "]", 400));
  EXPECT_EQ(invalid.at("error").at("type").as_string(), "invalid_request_error");
  EXPECT_EQ(invalid.at("error").at("code").as_string(), "invalid_argument");
  const auto html = json::parse(TranslateError("<html>502 Bad Gateway</html>", 503));
  EXPECT_EQ(html.at("error").at("type").as_string(), "upstream_error");
  EXPECT_EQ(html.at("error").at("code").as_string(), "upstream_503");
}

struct Run {
  std::vector<std::string> data;  // the data of every OpenAI event produced
  bool ended = false;             // a translation asked to stop
};
Run Feed(StreamTranslator& t, const std::vector<std::string>& events, bool end = true) {
  Run r;
  std::vector<std::string> out;
  for (const auto& e : events) {
    if (!t.OnEvent(e, out)) {
      r.ended = true;
      break;
    }
  }
  if (end && !r.ended) t.OnEnd(out);
  for (const auto& o : out) r.data.push_back(SseData(o));
  return r;
}

TEST(VertexStream, TextStreamWithUsage) {
  StreamTranslator t("alias", true, 7);
  const auto r = Feed(t, {Sse(Response("[" + TextPart("Hel") + "]", "", "")),
                          Sse(Response("[" + TextPart("lo!") + "]", "", "")),
                          Sse(Response("[" + TextPart("") + "]", "STOP", UsageMetadata(12, 3)))});
  ASSERT_EQ(r.data.size(), 6U);
  const auto role = json::parse(r.data[0]);
  EXPECT_EQ(role.at("id").as_string(), std::string("chatcmpl-") + kResponseId);
  EXPECT_EQ(role.at("choices").at(0).at("delta").at("role").as_string(), "assistant");
  EXPECT_EQ(json::parse(r.data[1]).at("choices").at(0).at("delta").at("content").as_string(),
            "Hel");
  EXPECT_EQ(json::parse(r.data[2]).at("choices").at(0).at("delta").at("content").as_string(),
            "lo!");
  EXPECT_EQ(json::parse(r.data[3]).at("choices").at(0).at("finish_reason").as_string(), "stop");
  const auto usage = json::parse(r.data[4]);
  EXPECT_TRUE(usage.at("choices").as_array().empty());
  EXPECT_EQ(usage.at("usage").at("prompt_tokens").as_int64(), 12);
  EXPECT_EQ(usage.at("usage").at("completion_tokens").as_int64(), 3);
  EXPECT_EQ(r.data[5], "[DONE]");
  EXPECT_TRUE(t.Finished());
  EXPECT_TRUE(t.PromptReported());
  EXPECT_TRUE(t.CompletionReported());
  EXPECT_EQ(t.GeneratedChars(), 6U);
}

TEST(VertexStream, NoUsageChunkUnlessAsked) {
  StreamTranslator t("alias", false, 7);
  const auto r = Feed(t, {Sse(Response("[" + TextPart("Hi") + "]", "STOP", UsageMetadata(2, 1)))});
  ASSERT_EQ(r.data.size(), 4U);
  EXPECT_EQ(r.data.back(), "[DONE]");
  EXPECT_EQ(t.Tokens().completion_tokens, 1) << "still counted for the usage record";
}

TEST(VertexStream, FunctionCallsBecomeToolCallDeltasAsTheyArrive) {
  StreamTranslator t("alias", false, 7);
  std::vector<std::string> out;
  ASSERT_TRUE(t.OnEvent(Sse(Response("[" + TextPart("Checking.") + "]", "", "")), out));
  ASSERT_TRUE(t.OnEvent(
      Sse(Response("[" + CallPart("get_weather", R"({"city":"Paris"})") + "]", "", "")), out));
  // The first call is out before the next event arrives.
  ASSERT_EQ(out.size(), 3U);
  const auto first = json::parse(SseData(out[2]));
  const auto& call = first.at("choices").at(0).at("delta").at("tool_calls").at(0).as_object();
  EXPECT_EQ(call.at("index").as_int64(), 0);
  EXPECT_TRUE(call.at("id").as_string().starts_with("call_"));
  EXPECT_EQ(call.at("type").as_string(), "function");
  EXPECT_EQ(call.at("function").at("name").as_string(), "get_weather");
  EXPECT_EQ(call.at("function").at("arguments").as_string(), R"({"city":"Paris"})");
  ASSERT_TRUE(t.OnEvent(
      Sse(Response("[" + CallPart("get_time", "{}") + "]", "STOP", UsageMetadata(9, 4))), out));
  t.OnEnd(out);
  ASSERT_EQ(out.size(), 6U);
  EXPECT_EQ(json::parse(SseData(out[3]))
                .at("choices")
                .at(0)
                .at("delta")
                .at("tool_calls")
                .at(0)
                .at("index")
                .as_int64(),
            1);
  EXPECT_EQ(json::parse(SseData(out[4])).at("choices").at(0).at("finish_reason").as_string(),
            "tool_calls");
  EXPECT_EQ(SseData(out[5]), "[DONE]");
}

TEST(VertexStream, InBandErrorEndsTheStreamWithAnOpenAiError) {
  StreamTranslator t("alias", true, 7);
  const auto r = Feed(t, {Sse(Response("[" + TextPart("Hel") + "]", "", "")),
                          Sse(ErrorBody(503, "UNAVAILABLE", "The model is overloaded.")),
                          Sse(Response("[" + TextPart("never") + "]", "STOP", ""))});
  EXPECT_TRUE(r.ended);
  ASSERT_EQ(r.data.size(), 3U);
  const auto e = json::parse(r.data.back());
  EXPECT_EQ(e.at("error").at("code").as_string(), "upstream_stream_error");
  EXPECT_EQ(e.at("error").at("message").as_string(),
            "Upstream UNAVAILABLE: The model is overloaded.");
  EXPECT_EQ(t.Error(), "upstream_stream_error");
  EXPECT_FALSE(t.Finished());
}

TEST(VertexStream, OddEvents) {
  StreamTranslator t("alias", false, 7);
  const auto r =
      Feed(t, {": keep-alive\r\n\r\n", Sse(Response("[" + TextPart("x") + "]", "", ""))});
  EXPECT_FALSE(r.ended);
  EXPECT_FALSE(t.Finished()) << "no finishReason: the stream is incomplete";
  ASSERT_EQ(r.data.size(), 2U) << "nothing closes a stream that did not finish";
  StreamTranslator bad("alias", false, 7);
  EXPECT_TRUE(Feed(bad, {Sse("{not json")}).ended);
  EXPECT_EQ(bad.Error(), "upstream_stream_error");
  StreamTranslator blocked("alias", false, 7);
  const auto b = Feed(blocked, {Sse(R"({"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"}})")});
  EXPECT_TRUE(blocked.Finished());
  EXPECT_EQ(json::parse(b.data.at(1)).at("choices").at(0).at("finish_reason").as_string(),
            "content_filter");
}

TEST(VertexEmbeddings, RequestAndResponse) {
  const std::vector<std::string> texts = {"a", "b"};
  EXPECT_TRUE(json::value(EmbeddingRequest(texts, std::nullopt)) ==
              json::parse(R"({"instances":[{"content":"a"},{"content":"b"}]})"));
  EXPECT_TRUE(json::value(EmbeddingRequest(texts, 64)) ==
              json::parse(R"({"instances":[{"content":"a"},{"content":"b"}],
                              "parameters":{"outputDimensionality":64}})"));
  const auto got = TranslateEmbeddings(Predictions("[0.25,-0.5,1]", 3, 2), 2);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->vectors.size(), 2U);
  EXPECT_EQ(got->vectors[1], (std::vector<float>{0.25F, -0.5F, 1.0F}));
  EXPECT_EQ(got->tokens, 6);
  EXPECT_FALSE(TranslateEmbeddings(Predictions("[0.25]", 3, 1), 2)) << "one vector per input";
  EXPECT_FALSE(TranslateEmbeddings(Predictions(R"(["x"])", 3, 1), 1));
  EXPECT_FALSE(TranslateEmbeddings(Predictions("[]", 3, 1), 1));
  EXPECT_FALSE(TranslateEmbeddings(R"({"predictions":[{"nothing":1}]})", 1));
  EXPECT_FALSE(TranslateEmbeddings("garbage", 1));
}

}  // namespace
}  // namespace bro::gateway::vertex
