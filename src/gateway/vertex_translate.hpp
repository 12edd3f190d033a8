#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gateway/chat.hpp"
#include "gateway/openai_shape.hpp"

// Translation between the OpenAI chat shape and Gemini on Vertex AI: generateContent and
// streamGenerateContent?alt=sse (cloud.google.com/vertex-ai/docs/reference/rest/v1/
// projects.locations.publishers.models/generateContent), and text embeddings through
// {model}:predict. Pure: no I/O, so every mapping is unit-tested without sockets.
namespace bro::gateway::vertex {

// An OpenAI chat request as a GenerateContentRequest (the model is in the URL, not the body):
// system/developer messages become systemInstruction, the other messages contents with roles
// user and model, assistant tool calls functionCall parts, tool messages functionResponse
// parts, tools functionDeclarations, tool_choice toolConfig, sampling generationConfig. What
// Gemini cannot express is a 400 naming the field.
std::variant<boost::json::object, ApiError> TranslateRequest(const boost::json::object& openai);

// OpenAI's finish_reason for a Gemini finishReason; STOP with function calls is tool_calls.
std::string_view FinishReason(std::string_view gemini_reason, bool has_tool_calls);

// A GenerateContentResponse as an OpenAI chat.completion named `model`; nullopt when the body
// is not one.
std::optional<Completion> TranslateResponse(std::string_view body, const std::string& model,
                                            std::int64_t created);

// A Google error body ({"error":{"code","message","status"}}, or that inside an array as
// streamGenerateContent without alt=sse sends it) as an OpenAI error object.
std::string TranslateError(std::string_view body, unsigned status);

// Turns streamGenerateContent?alt=sse events (each one a GenerateContentResponse) into OpenAI
// chat.completion.chunk events as they arrive. Gemini sends each function call whole, so each
// becomes one tool_calls delta (id, name and the complete arguments) when its event arrives.
class StreamTranslator : public ChunkStream {
 public:
  StreamTranslator(std::string model, bool include_usage, std::int64_t created);
  bool OnEvent(std::string_view sse_event, std::vector<std::string>& out) override;
  void OnEnd(std::vector<std::string>& out) override;

 private:
  bool started_ = false;
  std::int64_t tool_calls_ = 0;
};

// Text embeddings: a predict request for `texts`, and its predictions' vectors and token
// counts.
boost::json::object EmbeddingRequest(std::span<const std::string> texts,
                                     std::optional<std::int64_t> dimensions);
struct Embeddings {
  std::vector<std::vector<float>> vectors;
  std::int64_t tokens = 0;
};
// nullopt when the body is not a predict response with `expected` embeddings.
std::optional<Embeddings> TranslateEmbeddings(std::string_view body, std::size_t expected);

}  // namespace bro::gateway::vertex
