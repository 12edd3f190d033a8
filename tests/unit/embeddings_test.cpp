// POST /v1/embeddings: request validation, the echo model's vectors and the response encodings.

#include "gateway/embeddings.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <cmath>
#include <cstring>

namespace bro::gateway {
namespace {

namespace json = boost::json;

EmbeddingRequest Parse(const std::string& body) {
  auto r = ParseEmbeddingRequest(body);
  if (auto* e = std::get_if<ApiError>(&r)) {
    ADD_FAILURE() << "refused: " << e->message << " (" << e->param << ")";
    return {};
  }
  return std::move(std::get<EmbeddingRequest>(r));
}

TEST(Embeddings, AcceptsTextAndArrays) {
  const auto one = Parse(R"({"model":"m","input":"hello"})");
  EXPECT_EQ(one.model, "m");
  EXPECT_EQ(one.inputs, std::vector<std::string>{"hello"});
  EXPECT_FALSE(one.base64);
  EXPECT_FALSE(one.dimensions);
  const auto many = Parse(
      R"({"model":"m","input":["a","b"],"encoding_format":"base64","dimensions":8,"user":"u"})");
  EXPECT_EQ(many.inputs, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(many.base64);
  EXPECT_EQ(many.dimensions, 8);
  EXPECT_EQ(Parse(R"({"model":"m","input":"x","encoding_format":"float"})").base64, false);
}

TEST(Embeddings, HostileInputsAreRefusedNamingTheField) {
  std::string too_many = R"({"model":"m","input":[)";
  for (std::size_t i = 0; i <= kMaxEmbeddingInputs; ++i) too_many += i == 0 ? "\"x\"" : ",\"x\"";
  too_many += "]}";
  const std::string huge =
      R"({"model":"m","input":[")" + std::string(kMaxEmbeddingInputBytes + 1, 'a') + "\"]}";
  std::string deep = R"({"model":"m","input":)";
  for (int i = 0; i < 100; ++i) deep += "[";
  const struct {
    std::string body;
    std::string param;
  } cases[] = {
      {"not json", ""},
      {"[1,2]", ""},
      {deep, ""},
      {R"({"input":"x"})", "model"},
      {R"({"model":"","input":"x"})", "model"},
      {R"({"model":7,"input":"x"})", "model"},
      {R"({"model":"m"})", "input"},
      {R"({"model":"m","input":null})", "input"},
      {R"({"model":"m","input":""})", "input"},
      {R"({"model":"m","input":[]})", "input"},
      {R"({"model":"m","input":{"text":"x"}})", "input"},
      {R"({"model":"m","input":[1,2,3]})", "input[0]"},
      {R"({"model":"m","input":[[1,2],[3]]})", "input[0]"},
      {R"({"model":"m","input":["ok",""]})", "input[1]"},
      {R"({"model":"m","input":["ok",null]})", "input[1]"},
      {R"({"model":"m","input":["ok",{"a":1}]})", "input[1]"},
      {too_many, "input"},
      {huge, "input[0]"},
      {R"({"model":"m","input":"x","encoding_format":"hex"})", "encoding_format"},
      {R"({"model":"m","input":"x","encoding_format":1})", "encoding_format"},
      {R"({"model":"m","input":"x","dimensions":0})", "dimensions"},
      {R"({"model":"m","input":"x","dimensions":-3})", "dimensions"},
      {R"({"model":"m","input":"x","dimensions":1.5})", "dimensions"},
      {R"({"model":"m","input":"x","dimensions":"8"})", "dimensions"},
      {R"({"model":"m","input":"x","dimensions":100000})", "dimensions"},
      {R"({"model":"m","input":"x","dimensions":18446744073709551615})", "dimensions"},
      {R"({"model":"m","input":"x","user":5})", "user"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body.substr(0, 80));
    auto r = ParseEmbeddingRequest(c.body);
    ASSERT_TRUE(std::holds_alternative<ApiError>(r));
    const auto& e = std::get<ApiError>(r);
    EXPECT_EQ(e.status, http::Status::bad_request);
    EXPECT_EQ(e.type, "invalid_request_error");
    EXPECT_EQ(e.param, c.param) << e.message;
    EXPECT_FALSE(e.message.empty());
  }
}

TEST(Embeddings, EchoVectorsAreDeterministicUnitVectors) {
  const auto a = EchoEmbedding("hello", 16);
  EXPECT_EQ(a, EchoEmbedding("hello", 16)) << "same text, same vector";
  EXPECT_NE(a, EchoEmbedding("hello!", 16));
  ASSERT_EQ(a.size(), 16U);
  double norm = 0;
  for (float x : a) norm += static_cast<double>(x) * x;
  EXPECT_NEAR(norm, 1.0, 1e-5);
  EXPECT_EQ(EchoEmbedding("hello", 3).size(), 3U);
  EXPECT_EQ(EchoEmbedding("", 1).size(), 1U);
  EXPECT_NEAR(std::fabs(EchoEmbedding("x", 1)[0]), 1.0, 1e-6);
}

TEST(Embeddings, ResponseAsFloatsOrBase64) {
  const std::vector<std::vector<float>> vectors = {{0.5F, -0.25F}, {1.0F, 0.0F}};
  const auto floats = json::parse(EmbeddingResponse(vectors, "alias", 7, false));
  EXPECT_EQ(floats.at("object").as_string(), "list");
  EXPECT_EQ(floats.at("model").as_string(), "alias");
  EXPECT_EQ(floats.at("usage").at("prompt_tokens").as_int64(), 7);
  EXPECT_EQ(floats.at("usage").at("total_tokens").as_int64(), 7);
  const auto& data = floats.at("data").as_array();
  ASSERT_EQ(data.size(), 2U);
  EXPECT_EQ(data[1].at("object").as_string(), "embedding");
  EXPECT_EQ(data[1].at("index").to_number<int>(), 1);
  EXPECT_EQ(data[0].at("embedding").at(1).as_double(), -0.25);

  const auto b64 = json::parse(EmbeddingResponse(vectors, "alias", 7, true));
  // Little-endian float32 0.5 = 00 00 00 3f, -0.25 = 00 00 80 be.
  EXPECT_EQ(b64.at("data").at(0).at("embedding").as_string(), "AAAAPwAAgL4=");
}

}  // namespace
}  // namespace bro::gateway
