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
    const auto& content = std::get<std::string>(answer);
    auto completion = anthropic::TranslateResponse(content, call.request.model, created);
    if (!completion) {
      co_return ErrorOutcome(UpstreamError(http::Status::bad_gateway, "upstream_error",
                                           "The upstream provider's response is not a message."));
    }
    ChatOutcome out;
    out.status = http::Status::ok;
    out.body = std::move(completion->body);
    out.usage = completion->usage;
    out.time_to_first_token = std::chrono::duration_cast<std::chrono::milliseconds>(
        UpstreamClock::now() - deadlines.start);
    co_return out;
  }

  anthropic::StreamTranslator translator(call.request.model, call.request.include_usage, created);
  auto translate = [&](std::string_view event, std::vector<std::string>& out) {
    const bool more = translator.OnEvent(event, out);
    progress.usage = translator.Tokens();
    progress.prompt_reported = translator.PromptReported();
    progress.completion_reported = translator.CompletionReported();
    progress.completion_chars = translator.GeneratedChars();
    return more;
  };
  auto end = co_await RelaySse(exchange, sink, progress, deadlines, translate);
  co_return co_await FinishStream(exchange, sink, progress, call.request, std::move(end),
                                  translator.Finished(), translator.Error());
}

}  // namespace bro::gateway
