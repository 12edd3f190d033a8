#pragma once

#include "config/config.hpp"
#include "gateway/chat.hpp"

namespace bro::gateway {

// The built-in `echo` model, for development and benchmarks only: it answers
// "Echo: <last user message>" (or, when a function is forced through
// tool_choice, a call to it with {"text": <last user message>}) with realistic
// token counts. Streamed and non-streamed replies carry the same text. Optional
// `latency` before the first byte and `token_delay` between streamed chunks.
class EchoProvider : public Provider {
 public:
  explicit EchoProvider(const config::ProviderConfig& cfg);
  std::string_view Name() const override { return name_; }
  std::string_view Type() const override { return "echo"; }
  Task<ChatOutcome> Chat(const ChatCall& call, StreamSink& sink) override;
  // Deterministic unit vectors derived from a hash of each input (gateway/embeddings), of
  // `dimensions` or 16 components.
  Task<ChatOutcome> Embed(const EmbedCall& call) override;

 private:
  std::string name_;
  std::chrono::milliseconds latency_;
  std::chrono::milliseconds token_delay_;
  std::int64_t max_tokens_default_;
};

}  // namespace bro::gateway
