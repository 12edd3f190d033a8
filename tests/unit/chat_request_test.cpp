#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <variant>

#include "gateway/chat.hpp"

namespace bro::gateway {
namespace {

namespace json = boost::json;

constexpr const char* kMessages = R"("messages":[{"role":"user","content":"hi"}])";

std::string Body(const std::string& extra) {
  std::string b = std::string(R"({"model":"echo",)") + kMessages;
  if (!extra.empty()) b += "," + extra;
  return b + "}";
}

struct InvalidCase {
  std::string name;
  std::string body;
  std::string param;  // expected ApiError::param ("" for none)
  std::string code;   // expected ApiError::code ("" for none)
};

void PrintTo(const InvalidCase& c, std::ostream* os) {
  *os << c.name;
}

class ParseChatRequestInvalid : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(ParseChatRequestInvalid, AnswersBadRequestNamingTheParameter) {
  const auto& c = GetParam();
  auto result = ParseChatRequest(c.body);
  ASSERT_TRUE(std::holds_alternative<ApiError>(result)) << c.body;
  const auto& e = std::get<ApiError>(result);
  EXPECT_EQ(e.status, http::Status::bad_request);
  EXPECT_EQ(e.type, "invalid_request_error");
  EXPECT_EQ(e.param, c.param) << e.message;
  EXPECT_EQ(e.code, c.code) << e.message;
  EXPECT_FALSE(e.message.empty());
  // The error serializes to OpenAI's shape.
  auto v = json::parse(http::ErrorJson(e)).as_object().at("error").as_object();
  EXPECT_EQ(v.at("message").as_string(), e.message);
  EXPECT_EQ(v.at("type").as_string(), "invalid_request_error");
  if (c.param.empty()) {
    EXPECT_TRUE(v.at("param").is_null());
  } else {
    EXPECT_EQ(v.at("param").as_string(), c.param);
  }
}

const std::string kLongModel(257, 'm');

INSTANTIATE_TEST_SUITE_P(
    Table, ParseChatRequestInvalid,
    ::testing::Values(
        InvalidCase{"malformed_json", R"({"model":"echo",)", "", "invalid_json"},
        InvalidCase{"empty_body", "", "", "invalid_json"},
        InvalidCase{"trailing_garbage", Body("") + "x", "", "invalid_json"},
        InvalidCase{"array_body", R"([{"model":"echo"}])", "", "invalid_json"},
        InvalidCase{"string_body", R"("hello")", "", "invalid_json"},
        InvalidCase{"too_deep", std::string(100, '[') + std::string(100, ']'), "", "invalid_json"},
        InvalidCase{"missing_model", std::string("{") + kMessages + "}", "model", ""},
        InvalidCase{"empty_model", std::string(R"({"model":"",)") + kMessages + "}", "model", ""},
        InvalidCase{"numeric_model", std::string(R"({"model":5,)") + kMessages + "}", "model", ""},
        InvalidCase{"long_model", R"({"model":")" + kLongModel + "\"," + kMessages + "}", "model",
                    ""},
        InvalidCase{"missing_messages", R"({"model":"echo"})", "messages", ""},
        InvalidCase{"messages_object", R"({"model":"echo","messages":{}})", "messages", ""},
        InvalidCase{"messages_empty", R"({"model":"echo","messages":[]})", "messages", ""},
        InvalidCase{"message_not_object", R"({"model":"echo","messages":["hi"]})", "messages[0]",
                    ""},
        InvalidCase{"role_missing", R"({"model":"echo","messages":[{"content":"hi"}]})",
                    "messages[0].role", ""},
        InvalidCase{"role_number", R"({"model":"echo","messages":[{"role":1,"content":"hi"}]})",
                    "messages[0].role", ""},
        InvalidCase{
            "role_unknown",
            R"({"model":"echo","messages":[{"role":"user","content":"a"},{"role":"wizard","content":"b"}]})",
            "messages[1].role", ""},
        InvalidCase{"content_missing_for_user", R"({"model":"echo","messages":[{"role":"user"}]})",
                    "messages[0].content", ""},
        InvalidCase{"content_number",
                    R"({"model":"echo","messages":[{"role":"user","content":5}]})",
                    "messages[0].content", ""},
        InvalidCase{"content_part_not_object",
                    R"({"model":"echo","messages":[{"role":"user","content":["x"]}]})",
                    "messages[0].content[0]", ""},
        InvalidCase{
            "content_part_without_type",
            R"({"model":"echo","messages":[{"role":"user","content":[{"type":"text","text":"a"},{"text":"b"}]}]})",
            "messages[0].content[1].type", ""},
        InvalidCase{"stream_string", Body(R"("stream":"yes")"), "stream", ""},
        InvalidCase{"stream_number", Body(R"("stream":1)"), "stream", ""},
        InvalidCase{"stream_options_without_stream",
                    Body(R"("stream_options":{"include_usage":true})"), "stream_options", ""},
        InvalidCase{"stream_options_with_stream_false",
                    Body(R"("stream":false,"stream_options":{"include_usage":true})"),
                    "stream_options", ""},
        InvalidCase{"stream_options_not_object", Body(R"("stream":true,"stream_options":true)"),
                    "stream_options", ""},
        InvalidCase{"include_usage_string",
                    Body(R"("stream":true,"stream_options":{"include_usage":"true"})"),
                    "stream_options.include_usage", ""},
        InvalidCase{"max_tokens_zero", Body(R"("max_tokens":0)"), "max_tokens", ""},
        InvalidCase{"max_tokens_negative", Body(R"("max_tokens":-1)"), "max_tokens", ""},
        InvalidCase{"max_tokens_string", Body(R"("max_tokens":"3")"), "max_tokens", ""},
        InvalidCase{"max_tokens_fraction", Body(R"("max_tokens":2.5)"), "max_tokens", ""},
        InvalidCase{"max_completion_tokens_zero", Body(R"("max_completion_tokens":0)"),
                    "max_completion_tokens", ""},
        InvalidCase{"n_zero", Body(R"("n":0)"), "n", ""},
        InvalidCase{"temperature_3", Body(R"("temperature":3)"), "temperature", ""},
        InvalidCase{"temperature_negative", Body(R"("temperature":-0.1)"), "temperature", ""},
        InvalidCase{"temperature_string", Body(R"("temperature":"0.5")"), "temperature", ""},
        InvalidCase{"top_p_above_one", Body(R"("top_p":1.5)"), "top_p", ""},
        InvalidCase{"presence_penalty_low", Body(R"("presence_penalty":-3)"), "presence_penalty",
                    ""},
        InvalidCase{"frequency_penalty_high", Body(R"("frequency_penalty":2.01)"),
                    "frequency_penalty", ""},
        InvalidCase{"tools_object", Body(R"("tools":{})"), "tools", ""},
        InvalidCase{"tool_not_object", Body(R"("tools":["f"])"), "tools[0]", ""},
        InvalidCase{"tool_without_function", Body(R"("tools":[{"type":"function"}])"),
                    "tools[0].function", ""},
        InvalidCase{"tool_function_string", Body(R"("tools":[{"type":"function","function":"f"}])"),
                    "tools[0].function", ""},
        InvalidCase{
            "tool_function_without_name",
            Body(
                R"("tools":[{"type":"function","function":{"name":"ok"}},{"type":"function","function":{}}])"),
            "tools[1].function.name", ""},
        InvalidCase{"tool_function_empty_name",
                    Body(R"("tools":[{"type":"function","function":{"name":""}}])"),
                    "tools[0].function.name", ""}),
    [](const ::testing::TestParamInfo<InvalidCase>& p) { return p.param.name; });

TEST(ParseChatRequest, AcceptsAMinimalRequest) {
  auto result = ParseChatRequest(Body(""));
  ASSERT_TRUE(std::holds_alternative<ChatRequest>(result));
  const auto& r = std::get<ChatRequest>(result);
  EXPECT_EQ(r.model, "echo");
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.include_usage);
  EXPECT_TRUE(r.body.contains("messages"));
}

TEST(ParseChatRequest, AcceptsEveryValidShape) {
  const std::string body = R"({
    "model": "echo",
    "messages": [
      {"role": "system", "content": "be brief"},
      {"role": "developer", "content": null},
      {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "x"}}]},
      {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "42"}
    ],
    "stream": true,
    "stream_options": {"include_usage": true},
    "max_tokens": 10, "max_completion_tokens": 20, "n": 1,
    "temperature": 2, "top_p": 0, "presence_penalty": -2, "frequency_penalty": 2,
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    "tool_choice": "auto",
    "user": "u-1", "seed": 7, "response_format": {"type": "json_object"}
  })";
  auto result = ParseChatRequest(body);
  ASSERT_TRUE(std::holds_alternative<ChatRequest>(result)) << std::get<ApiError>(result).message;
  const auto& r = std::get<ChatRequest>(result);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
  // Unknown and pass-through fields are kept as sent.
  EXPECT_EQ(r.body.at("seed").as_int64(), 7);
  EXPECT_EQ(r.body.at("tool_choice").as_string(), "auto");
}

TEST(ParseChatRequest, NullOptionalFieldsAreIgnored) {
  auto result = ParseChatRequest(Body(
      R"("stream":null,"stream_options":null,"max_tokens":null,"temperature":null,"tools":null)"));
  ASSERT_TRUE(std::holds_alternative<ChatRequest>(result)) << std::get<ApiError>(result).message;
  EXPECT_FALSE(std::get<ChatRequest>(result).stream);
}

TEST(ParseChatRequest, StreamWithoutIncludeUsage) {
  auto result = ParseChatRequest(Body(R"("stream":true,"stream_options":{})"));
  ASSERT_TRUE(std::holds_alternative<ChatRequest>(result));
  EXPECT_TRUE(std::get<ChatRequest>(result).stream);
  EXPECT_FALSE(std::get<ChatRequest>(result).include_usage);
}

TEST(ParseChatRequest, ModelOf256CharactersIsAccepted) {
  const std::string model(256, 'm');
  auto result = ParseChatRequest(R"({"model":")" + model + "\"," + kMessages + "}");
  ASSERT_TRUE(std::holds_alternative<ChatRequest>(result));
  EXPECT_EQ(std::get<ChatRequest>(result).model, model);
}

TEST(ParseChatRequest, HostileInputsAreRejected) {
  const std::string inputs[] = {
      std::string(1 << 16, '{'),
      std::string("{\"model\":\"") + std::string(1 << 20, 'a') + "\"}",
      std::string("\0\0\0", 3),
      "\xff\xfe\xfd",
      R"({"model":"echo","messages":[{"role":"user","content":"\ud800"}]})",
      "1e999999",
      "null"};
  for (const auto& input : inputs) {
    auto result = ParseChatRequest(input);
    EXPECT_TRUE(std::holds_alternative<ApiError>(result)) << input.substr(0, 80);
  }
}

TEST(EstimateTokens, AboutFourCharactersPerToken) {
  EXPECT_EQ(EstimateTokens(""), 0);
  EXPECT_EQ(EstimateTokens("a"), 1);
  EXPECT_EQ(EstimateTokens("abcd"), 1);
  EXPECT_EQ(EstimateTokens("abcde"), 2);
  EXPECT_EQ(EstimateTokens(std::string(400, 'x')), 100);
}

TEST(EstimateTokens, PromptCountsFramingAndTextParts) {
  auto one = json::parse(R"({"messages":[{"role":"user","content":"abcdefgh"}]})").as_object();
  EXPECT_EQ(EstimatePromptTokens(one), 3 + 4 + 2);
  auto parts = json::parse(
                   R"({"messages":[{"role":"system","content":"abcd"},
                      {"role":"user","content":[{"type":"text","text":"abcdefgh"},{"type":"image_url","image_url":{}}]},
                      {"role":"assistant","content":null}]})")
                   .as_object();
  EXPECT_EQ(EstimatePromptTokens(parts), 3 + 3 * 4 + 1 + 2);
  EXPECT_EQ(EstimatePromptTokens(json::object{}), 3);
}

TEST(ErrorOutcome, CarriesStatusBodyAndCode) {
  auto o = ErrorOutcome(
      {http::Status::not_found, "invalid_request_error", "model_not_found", "nope", "model"});
  EXPECT_EQ(o.status, http::Status::not_found);
  EXPECT_EQ(o.error_code, "model_not_found");
  auto e = json::parse(o.body).as_object().at("error").as_object();
  EXPECT_EQ(e.at("code").as_string(), "model_not_found");
  EXPECT_EQ(e.at("param").as_string(), "model");
  auto typed = ErrorOutcome({http::Status::bad_gateway, "upstream_error", "", "x", ""});
  EXPECT_EQ(typed.error_code, "upstream_error") << "without a code the type is the error code";
  EXPECT_TRUE(json::parse(typed.body).as_object().at("error").as_object().at("code").is_null());
}

}  // namespace
}  // namespace bro::gateway
