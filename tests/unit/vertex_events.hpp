#pragma once

// Vertex AI Gemini responses as Vertex sends them (cloud.google.com/vertex-ai/generative-ai/docs/
// model-reference/inference: GenerateContentResponse, streamGenerateContent?alt=sse, and Google
// API error bodies), for the translation's unit tests and the FakeVertex integration tests.

#include <string>

namespace bro::testing::vertex_events {

inline constexpr const char* kResponseId = "dcGPZ8qUHaP3ld8Pv5fHkQs";

// One streamGenerateContent?alt=sse event: Google frames them with CRLF.
inline std::string Sse(const std::string& json) {
  return "data: " + json + "\r\n\r\n";
}

inline std::string UsageMetadata(int prompt, int candidates) {
  return R"("usageMetadata":{"promptTokenCount":)" + std::to_string(prompt) +
         R"(,"candidatesTokenCount":)" + std::to_string(candidates) + R"(,"totalTokenCount":)" +
         std::to_string(prompt + candidates) +
         R"(,"promptTokensDetails":[{"modality":"TEXT","tokenCount":)" + std::to_string(prompt) +
         "}]}";
}

inline std::string Tail() {
  return std::string(
             R"("modelVersion":"gemini-2.0-flash-001","createTime":"2025-01-21T15:45:09.491785Z","responseId":")") +
         kResponseId + "\"";
}

// A response whose first candidate has `parts` (a JSON array) and, when given, a finishReason.
inline std::string Response(const std::string& parts, const std::string& finish,
                            const std::string& usage) {
  std::string candidate = R"({"content":{"role":"model","parts":)" + parts + "}";
  if (!finish.empty()) candidate += R"(,"finishReason":")" + finish + R"(","avgLogprobs":-0.0234)";
  candidate += "}";
  std::string out = R"({"candidates":[)" + candidate + "]";
  if (!usage.empty()) out += "," + usage;
  return out + "," + Tail() + "}";
}

inline std::string TextPart(const std::string& text) {
  return R"({"text":")" + text + "\"}";
}
inline std::string CallPart(const std::string& name, const std::string& args) {
  return R"({"functionCall":{"name":")" + name + R"(","args":)" + args + "}}";
}

inline std::string ErrorBody(int code, const std::string& status, const std::string& message) {
  return R"({"error":{"code":)" + std::to_string(code) + R"(,"message":")" + message +
         R"(","status":")" + status + R"("}})";
}

// An embeddings predict response: one prediction per vector.
inline std::string Predictions(const std::string& values_list, int tokens_each, int count) {
  std::string out = R"({"predictions":[)";
  for (int i = 0; i < count; ++i) {
    if (i > 0) out += ",";
    out += R"({"embeddings":{"statistics":{"truncated":false,"token_count":)" +
           std::to_string(tokens_each) + R"(},"values":)" + values_list + "}}";
  }
  return out + R"(],"metadata":{"billableCharacterCount":42}})";
}

}  // namespace bro::testing::vertex_events
