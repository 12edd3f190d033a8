#include "gateway/anthropic_provider.hpp"

#include <boost/json/serialize.hpp>
#include <ctime>

#include "gateway/anthropic_translate.hpp"

namespace bro::gateway {

AnthropicProvider::AnthropicProvider(const config::ProviderConfig& cfg, asio::ssl::context& ssl)
    : UpstreamProvider(cfg, ssl),
      version_(cfg.anthropic_version),
      max_tokens_default_(cfg.max_tokens_default) {}

Task<ChatOutcome> AnthropicProvider::Run(const ChatCall& call, StreamSink& sink,
                                         CallProgress& progress, Deadlines deadlines) {
  const bool stream = call.request.stream;
  const auto created = static_cast<std::int64_t>(std::time(nullptr));

  auto translated =
      anthropic::TranslateRequest(call.request.body, call.upstream_model, max_tokens_default_);
  if (const auto* refused = std::get_if<ApiError>(&translated)) co_return ErrorOutcome(*refused);
  auto req = UpstreamPost(pool_.Target(), pool_.Target().base_path + "/v1/messages", stream, call,
                          boost::json::serialize(std::get<boost::json::object>(translated)));
  if (!api_key_.empty()) req.set("x-api-key", api_key_);
  req.set("anthropic-version", version_);

  UpstreamExchange exchange(pool_, progress);
  auto answer = co_await SendAndRead(exchange, req, stream, deadlines, anthropic::TranslateError);
  if (auto* done = std::get_if<ChatOutcome>(&answer)) co_return std::move(*done);
  if (!stream) {
    co_return TranslatedOutcome(
        anthropic::TranslateResponse(std::get<std::string>(answer), call.request.model, created),
        deadlines);
  }
  anthropic::StreamTranslator translator(call.request.model, call.request.include_usage, created);
  co_return co_await RelayTranslated(exchange, sink, progress, call.request, deadlines, translator);
}

}  // namespace bro::gateway
