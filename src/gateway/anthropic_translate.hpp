#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gateway/chat.hpp"
#include "gateway/openai_shape.hpp"

// Translation between the OpenAI chat shape and Anthropic's Messages API
// (https://docs.anthropic.com/en/api/messages, streaming: .../messages-streaming).
// Pure: no I/O, so every mapping is unit-tested without sockets.
namespace bro::gateway::anthropic {

// An OpenAI chat request as an Anthropic Messages request for `upstream_model`. An OpenAI shape
// Anthropic cannot express (e.g. tool arguments that are not a JSON object) is a 400 naming
// the field.
std::variant<boost::json::object, ApiError> TranslateRequest(const boost::json::object& openai,
                                                             const std::string& upstream_model,
                                                             std::int64_t max_tokens_default);

// OpenAI's finish_reason for an Anthropic stop_reason.
std::string_view FinishReason(std::string_view stop_reason);

// An Anthropic message as an OpenAI chat.completion named `model`; nullopt when it is not a
// message.
std::optional<Completion> TranslateResponse(std::string_view anthropic_body,
                                            const std::string& model, std::int64_t created);

// An Anthropic error body ({"type":"error","error":{"type","message"}}) as an OpenAI error
// object; anything else gets a generic message for `status`.
std::string TranslateError(std::string_view anthropic_body, unsigned status);

// Turns Anthropic stream events into OpenAI chat.completion.chunk events as they arrive.
class StreamTranslator : public ChunkStream {
 public:
  StreamTranslator(std::string model, bool include_usage, std::int64_t created);
  bool OnEvent(std::string_view sse_event, std::vector<std::string>& out) override;

 private:
  std::map<std::int64_t, std::int64_t> tool_index_;  // content block index -> tool_calls index
  std::string finish_reason_;
  bool finish_sent_ = false;
};

}  // namespace bro::gateway::anthropic
