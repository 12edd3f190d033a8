#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>

#include "config/config.hpp"
#include "gateway/chat.hpp"
#include "gateway/upstream_exchange.hpp"

namespace bro::gateway {

// Any OpenAI-compatible upstream (OpenAI, vLLM, Ollama, llama.cpp server...).
// Requests are forwarded with the upstream model name; responses are relayed
// byte for byte. Streams are relayed event by event as they arrive; usage is
// always requested upstream (stream_options.include_usage) so it can be
// recorded, and the usage-only chunk is dropped if the client did not ask for it.
class OpenAiProvider : public Provider {
 public:
  OpenAiProvider(const config::ProviderConfig& cfg, asio::ssl::context& ssl);
  std::string_view Name() const override { return name_; }
  std::string_view Type() const override { return "openai"; }
  Task<ChatOutcome> Chat(const ChatCall& call, StreamSink& sink) override;

 private:
  Task<ChatOutcome> Run(const ChatCall& call, StreamSink& sink, CallProgress& progress);

  std::string name_;
  std::string api_key_;
  std::chrono::milliseconds first_token_timeout_;
  std::chrono::milliseconds total_timeout_;
  UpstreamPool pool_;
};

}  // namespace bro::gateway
