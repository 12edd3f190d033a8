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
class OpenAiProvider : public UpstreamProvider {
 public:
  using UpstreamProvider::UpstreamProvider;
  std::string_view Type() const override { return "openai"; }
  // Relayed to {base_url}/embeddings like a chat completion: byte for byte, the model renamed.
  Task<ChatOutcome> Embed(const EmbedCall& call) override;

 private:
  Task<ChatOutcome> Run(const ChatCall& call, StreamSink& sink, CallProgress& progress,
                        Deadlines deadlines) override;
  // A POST of `payload` to {base_url}{path} with the provider's key.
  bhttp::request<bhttp::string_body> Post(const std::string& path, bool stream,
                                          const std::string& trace_id, const std::string& span_id,
                                          std::string payload) const;
};

}  // namespace bro::gateway
