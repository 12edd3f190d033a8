#include "gateway/vertex_provider.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <ctime>
#include <span>

#include "gateway/embeddings.hpp"
#include "gateway/vertex_translate.hpp"

namespace bro::gateway {

VertexProvider::VertexProvider(const config::ProviderConfig& cfg, asio::ssl::context& ssl,
                               const common::Clock& clock)
    : UpstreamProvider(cfg, ssl),
      embedding_batch_size_(static_cast<std::size_t>(std::max(1, cfg.embedding_batch_size))) {
  model_prefix_ = pool_.Target().base_path + "/v1/";
  if (!cfg.project.empty()) {
    model_prefix_ += "projects/" + cfg.project + "/locations/" + cfg.location + "/";
  }
  model_prefix_ += "publishers/google/models/";
  if (cfg.auth == config::ProviderAuth::kMetadata) {
    tokens_ = std::make_unique<GcpTokenSource>(cfg.metadata_host, ssl, clock, cfg.connect_timeout);
  }
}

std::string VertexProvider::MethodPath(const std::string& model, std::string_view method) const {
  std::string path = model_prefix_ + model;
  path += ':';
  path += method;
  return path;
}

Task<std::optional<ChatOutcome>> VertexProvider::Authorize(
    bhttp::request<bhttp::string_body>& req) {
  if (!tokens_) {
    req.set("x-goog-api-key", api_key_);
    co_return std::nullopt;
  }
  auto token = co_await tokens_->Token();
  if (const auto* e = std::get_if<ApiError>(&token)) co_return ErrorOutcome(*e);
  req.set(bhttp::field::authorization, "Bearer " + std::get<std::string>(token));
  co_return std::nullopt;
}

Task<ChatOutcome> VertexProvider::Run(const ChatCall& call, StreamSink& sink,
                                      CallProgress& progress, Deadlines deadlines) {
  const bool stream = call.request.stream;
  const auto created = static_cast<std::int64_t>(std::time(nullptr));

  auto translated = vertex::TranslateRequest(call.request.body);
  if (const auto* refused = std::get_if<ApiError>(&translated)) co_return ErrorOutcome(*refused);
  auto req = UpstreamPost(
      pool_.Target(),
      MethodPath(call.upstream_model, stream ? "streamGenerateContent?alt=sse" : "generateContent"),
      stream, call, boost::json::serialize(std::get<boost::json::object>(translated)));
  if (auto denied = co_await Authorize(req)) co_return std::move(*denied);

  UpstreamExchange exchange(pool_, progress);
  auto answer = co_await SendAndRead(exchange, req, stream, deadlines, vertex::TranslateError);
  if (auto* done = std::get_if<ChatOutcome>(&answer)) co_return std::move(*done);
  if (!stream) {
    co_return TranslatedOutcome(
        vertex::TranslateResponse(std::get<std::string>(answer), call.request.model, created),
        deadlines);
  }
  vertex::StreamTranslator translator(call.request.model, call.request.include_usage, created);
  co_return co_await RelayTranslated(exchange, sink, progress, call.request, deadlines, translator);
}

Task<ChatOutcome> VertexProvider::Embed(const EmbedCall& call) {
  const auto deadlines = StartDeadlines();
  const std::span<const std::string> inputs(call.request.inputs);
  std::vector<std::vector<float>> vectors;
  std::int64_t tokens = 0;
  CallProgress progress;
  // Vertex takes a bounded number of instances per predict call: one call per batch, in order.
  for (std::size_t i = 0; i < inputs.size(); i += embedding_batch_size_) {
    const std::size_t n = std::min(embedding_batch_size_, inputs.size() - i);
    auto req = UpstreamPost(pool_.Target(), MethodPath(call.upstream_model, "predict"), false,
                            call.trace_id, call.span_id,
                            boost::json::serialize(vertex::EmbeddingRequest(
                                inputs.subspan(i, n), call.request.dimensions)));
    if (auto denied = co_await Authorize(req)) co_return std::move(*denied);
    UpstreamExchange exchange(pool_, progress);
    auto answer = co_await SendAndRead(exchange, req, false, deadlines, vertex::TranslateError);
    if (auto* done = std::get_if<ChatOutcome>(&answer)) co_return std::move(*done);
    auto batch = vertex::TranslateEmbeddings(std::get<std::string>(answer), n);
    if (!batch) {
      co_return ErrorOutcome(
          UpstreamError(http::Status::bad_gateway, "upstream_error",
                        "The upstream provider's embeddings could not be read."));
    }
    for (auto& v : batch->vectors) vectors.push_back(std::move(v));
    tokens += batch->tokens;
  }
  if (tokens == 0) {
    for (const auto& text : inputs) tokens += EstimateTokens(text);
  }
  ChatOutcome out;
  out.status = http::Status::ok;
  out.body = EmbeddingResponse(vectors, call.request.model, tokens, call.request.base64);
  out.usage.prompt_tokens = tokens;
  co_return out;
}

}  // namespace bro::gateway
