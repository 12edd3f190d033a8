#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <optional>

#include "common/time.hpp"
#include "config/config.hpp"
#include "gateway/chat.hpp"
#include "gateway/gcp_token_source.hpp"
#include "gateway/upstream_exchange.hpp"

namespace bro::gateway {

// Gemini on Vertex AI behind the OpenAI shape: chat through generateContent and
// streamGenerateContent?alt=sse on
// {base_url}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}
// (without a project, API-key "express mode": {base_url}/v1/publishers/google/models/{model}),
// translated by gateway/vertex_translate; embeddings through {model}:predict. Credentials: an
// OAuth token of the instance's service account from the GCE metadata server (auth: metadata),
// or an API key in x-goog-api-key (auth: api_key). Connections, deadlines, client departure and
// the mapping of upstream HTTP failures are the shared ones (gateway/upstream_exchange).
class VertexProvider : public UpstreamProvider {
 public:
  VertexProvider(const config::ProviderConfig& cfg, asio::ssl::context& ssl,
                 const common::Clock& clock);
  std::string_view Type() const override { return "vertex"; }
  Task<ChatOutcome> Embed(const EmbedCall& call) override;

 private:
  Task<ChatOutcome> Run(const ChatCall& call, StreamSink& sink, CallProgress& progress,
                        Deadlines deadlines) override;
  // The request path of `method` (e.g. "generateContent") of `model`.
  std::string MethodPath(const std::string& model, std::string_view method) const;
  // Sets the credentials on `req`; the error outcome when there are none to set.
  Task<std::optional<ChatOutcome>> Authorize(bhttp::request<bhttp::string_body>& req);

  std::string model_prefix_;  // base path + /v1/projects/P/locations/L/publishers/google/models/
  std::unique_ptr<GcpTokenSource> tokens_;  // auth: metadata
  std::size_t embedding_batch_size_;
};

}  // namespace bro::gateway
