#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gateway/chat.hpp"

// POST /v1/embeddings: the request as the gateway accepts it, and the OpenAI response built from
// vectors (providers that do not relay OpenAI's own answer).
namespace bro::gateway {

inline constexpr std::size_t kMaxEmbeddingInputs = 2048;  // OpenAI's own limit
inline constexpr std::size_t kMaxEmbeddingInputBytes = std::size_t{64}
                                                       << 10;  // ~8k tokens and then some
inline constexpr std::int64_t kMaxEmbeddingDimensions = 8192;
inline constexpr std::size_t kEchoEmbeddingDimensions = 16;
// Inputs x dimensions one request may ask for: the answer is ~12 bytes per value as JSON, so
// this bounds it near 25 MB whatever the request (2048 inputs of 1024 dimensions).
inline constexpr std::size_t kMaxEmbeddingValues = std::size_t{1} << 21;

struct EmbeddingRequest {
  boost::json::object body;  // as the client sent it (unknown fields pass through to openai)
  std::string_view raw;      // the bytes the client sent (owned by the HTTP request)
  std::string model;
  std::vector<std::string> inputs;  // texts; token arrays are refused
  bool base64 = false;              // encoding_format
  std::optional<std::int64_t> dimensions;
};

// Parses and validates a /v1/embeddings body; errors name the offending field (`input[3]`).
std::variant<EmbeddingRequest, ApiError> ParseEmbeddingRequest(std::string_view body);

struct EmbedCall {
  const EmbeddingRequest& request;
  std::string upstream_model;
  std::string trace_id;
  std::string span_id;
};

// An OpenAI embeddings list: one vector per input, as JSON numbers or (base64) the bytes of
// little-endian float32 values.
std::string EmbeddingResponse(const std::vector<std::vector<float>>& vectors,
                              const std::string& model, std::int64_t prompt_tokens, bool base64);

// The echo model's vector for `text`: derived from a hash of the text, unit length.
std::vector<float> EchoEmbedding(std::string_view text, std::size_t dimensions);

}  // namespace bro::gateway
