#pragma once

#include <boost/asio/ssl/context.hpp>

#include "config/config.hpp"
#include "gateway/chat.hpp"
#include "gateway/upstream_exchange.hpp"

namespace bro::gateway {

// Anthropic's Messages API (POST {base_url}/v1/messages) behind the OpenAI chat shape: requests
// and responses are translated (gateway/anthropic_translate), streams event by event as they
// arrive. Connections, deadlines, client departure and error mapping are the openai
// provider's (gateway/upstream_exchange).
class AnthropicProvider : public UpstreamProvider {
 public:
  AnthropicProvider(const config::ProviderConfig& cfg, asio::ssl::context& ssl);
  std::string_view Type() const override { return "anthropic"; }

 private:
  Task<ChatOutcome> Run(const ChatCall& call, StreamSink& sink, CallProgress& progress,
                        Deadlines deadlines) override;

  std::string version_;
  std::int64_t max_tokens_default_;
};

}  // namespace bro::gateway
