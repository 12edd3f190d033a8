#include "api/openai_api.hpp"

#include <boost/json/serialize.hpp>
#include <chrono>

#include "common/random.hpp"
#include "common/time.hpp"
#include "gateway/embeddings.hpp"

namespace bro::api {
namespace {

namespace json = boost::json;
using http::ApiError;
using http::Status;
using Clock = std::chrono::steady_clock;

// Adapts the HTTP exchange to the gateway's stream sink.
class ExchangeSink : public gateway::StreamSink {
 public:
  ExchangeSink(http::Exchange& ex, const limits::Admission& admission)
      : ex_(ex), admission_(admission) {}
  http::Task<bool> Begin() override {
    http::Response head{Status::ok, ex_.Req().version()};
    head.set(http::Field::content_type, "text/event-stream; charset=utf-8");
    head.set(http::Field::cache_control, "no-cache");
    head.set("x-accel-buffering", "no");
    admission_.AddHeaders(head);
    co_return co_await ex_.StartStream(std::move(head));
  }
  http::Task<bool> Send(std::string_view bytes) override { return ex_.WriteChunk(bytes); }
  http::Task<void> End() override { return ex_.EndStream(); }
  http::Task<void> ClientGone() override { return ex_.WaitClientGone(); }
  void WatchClientGone(const std::function<void()>& on_gone) override {
    ex_.WatchClientGone(on_gone);
  }
  void StopWatchingClient() override { ex_.StopWatchingClient(); }

 private:
  http::Exchange& ex_;
  const limits::Admission& admission_;
};

json::object ModelJson(const gateway::ModelRoute& m) {
  return {{"id", m.name},
          {"object", "model"},
          {"created", 0},
          {"owned_by", std::string(m.provider->Name())}};
}

http::Response NotFoundModel(const http::Exchange& ex, std::string_view model) {
  return http::MakeError(
      {Status::not_found, "invalid_request_error", "model_not_found",
       "The model `" + std::string(model) + "` does not exist or you do not have access to it.",
       "model"},
      ex.Version());
}

}  // namespace

http::Response Unauthorized(const http::Exchange& ex) {
  auto res = http::MakeError(
      {Status::unauthorized,
       "invalid_request_error",
       "invalid_api_key",
       "Incorrect API key provided. Send 'Authorization: Bearer <key>' with a valid key.",
       {}},
      ex.Version());
  res.set(http::Field::www_authenticate, "Bearer");
  return res;
}

http::Task<std::optional<auth::Principal>> Authenticate(auth::Authenticator& auth,
                                                        http::Exchange& ex) {
  auto principal = co_await auth.Authenticate(ex.Req()[http::Field::authorization]);
  if (principal) {
    ex.LogFields()["principal"] =
        json::object{{"user_id", principal->user_id}, {"key_prefix", principal->key_prefix}};
  }
  co_return principal;
}

OpenAiApi::OpenAiApi(auth::Authenticator& auth, gateway::ModelCatalog& catalog,
                     usage::UsageRecorder& usage, gateway::GatewayMetrics& metrics,
                     limits::Governor* governor)
    : auth_(auth), catalog_(catalog), usage_(usage), metrics_(metrics), governor_(governor) {
  for (const auto& m : catalog_.Models()) {
    route_metrics_.emplace(&m, metrics_.ForRoute(std::string(m.provider->Name()), m.name));
  }
}

void OpenAiApi::Register(http::Router& router, const config::ServerConfig& server) {
  router.Add({http::Verb::get, "/v1/models", "/v1/models",
              [this](http::Exchange& ex) { return ListModels(ex); }});
  router.Add({http::Verb::get, "/v1/models/*", "/v1/models/{model}",
              [this](http::Exchange& ex) { return GetModel(ex); }});
  router.Add({http::Verb::post, "/v1/chat/completions", "/v1/chat/completions",
              [this](http::Exchange& ex) { return ChatCompletions(ex); },
              server.chat_max_body_bytes});
  router.Add({http::Verb::post, "/v1/embeddings", "/v1/embeddings",
              [this](http::Exchange& ex) { return Embeddings(ex); },
              server.embeddings_max_body_bytes});
}

http::Task<http::Response> OpenAiApi::ListModels(http::Exchange& ex) {
  auto principal = co_await Authenticate(auth_, ex);
  if (!principal) co_return Unauthorized(ex);
  json::array data;
  for (const auto& m : catalog_.Models()) {
    if (principal->MayUseModel(m.name)) data.push_back(ModelJson(m));
  }
  auto res = http::MakeJson(
      Status::ok, json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}}),
      ex.Req().version());
  if (governor_ != nullptr) co_await governor_->AddHeaders(*principal, res);
  co_return res;
}

http::Task<http::Response> OpenAiApi::GetModel(http::Exchange& ex) {
  auto principal = co_await Authenticate(auth_, ex);
  if (!principal) co_return Unauthorized(ex);
  auto name = ex.Path().substr(std::string_view("/v1/models/").size());
  const auto* m = catalog_.Find(name);
  if (m == nullptr || !principal->MayUseModel(m->name)) co_return NotFoundModel(ex, name);
  auto res = http::MakeJson(Status::ok, json::serialize(ModelJson(*m)), ex.Req().version());
  if (governor_ != nullptr) co_await governor_->AddHeaders(*principal, res);
  co_return res;
}

http::Task<std::variant<auth::Principal, http::Response>> OpenAiApi::Admit(http::Exchange& ex,
                                                                           std::string_view what) {
  auto principal = co_await Authenticate(auth_, ex);
  if (!principal) co_return Unauthorized(ex);
  if (principal->role == auth::Role::kViewer) {
    co_return http::MakeError({Status::forbidden,
                               "invalid_request_error",
                               "insufficient_permissions",
                               "Your role (viewer) cannot create " + std::string(what) + ".",
                               {}},
                              ex.Req().version());
  }
  co_return std::move(*principal);
}

void OpenAiApi::Record(http::Exchange& ex, const auth::Principal& principal,
                       const gateway::ModelRoute& route, const gateway::ChatOutcome& outcome,
                       std::chrono::milliseconds elapsed, bool streamed,
                       limits::Admission& admission, std::int64_t cost_nanos) {
  const std::string provider(route.provider->Name());
  const int status = outcome.client_gone ? 499 : static_cast<int>(outcome.status);
  auto& m = route_metrics_.at(&route);
  (outcome.client_gone           ? m.client_disconnected
   : !outcome.error_code.empty() ? m.error
                                 : m.success)
      .Inc();
  m.upstream_duration.Observe(std::chrono::duration<double>(elapsed).count());
  if (outcome.time_to_first_token) {
    m.time_to_first_token.Observe(
        std::chrono::duration<double>(*outcome.time_to_first_token).count());
  }
  m.prompt_tokens.Inc(static_cast<std::uint64_t>(outcome.usage.prompt_tokens));
  m.completion_tokens.Inc(static_cast<std::uint64_t>(outcome.usage.completion_tokens));

  usage::UsageRecord rec;
  rec.id = common::TimeOrderedId();
  rec.created_at = common::NowIso8601();
  rec.request_id = ex.TraceId() + "-" + ex.SpanId();
  rec.api_key_id = principal.key_id;
  rec.user_id = principal.user_id;
  rec.model = route.name;
  rec.provider = provider;
  rec.deployment = provider + "/" + route.upstream_model;
  rec.prompt_tokens = outcome.usage.prompt_tokens;
  rec.completion_tokens = outcome.usage.completion_tokens;
  rec.cost_nanos = cost_nanos;
  rec.latency_ms = elapsed.count();
  if (outcome.time_to_first_token) rec.ttft_ms = outcome.time_to_first_token->count();
  rec.status = status;
  rec.streamed = streamed;
  rec.error_code = outcome.error_code;
  usage_.Record(admission.TakeUsageSlot(), std::move(rec));

  ex.LogFields()["model"] = route.name;
  if (!outcome.error_code.empty()) ex.LogFields()["ai_error"] = outcome.error_code;
}

namespace {

http::Response Reply(const http::Exchange& ex, gateway::ChatOutcome& outcome,
                     const limits::Admission& admission) {
  auto res = http::MakeJson(outcome.status, std::move(outcome.body), ex.Version());
  if (!outcome.retry_after.empty()) res.set(http::Field::retry_after, outcome.retry_after);
  admission.AddHeaders(res);
  return res;
}

}  // namespace

http::Task<http::Response> OpenAiApi::ChatCompletions(http::Exchange& ex) {
  const auto start = Clock::now();
  auto admitted = co_await Admit(ex, "completions");
  if (auto* refused = std::get_if<http::Response>(&admitted)) co_return std::move(*refused);
  const auto& principal = std::get<auth::Principal>(admitted);
  auto parsed = gateway::ParseChatRequest(ex.Req().body());
  if (auto* err = std::get_if<ApiError>(&parsed))
    co_return http::MakeError(*err, ex.Req().version());
  const auto& request = std::get<gateway::ChatRequest>(parsed);
  const auto* route = catalog_.Find(request.model);
  if (route == nullptr || !principal.MayUseModel(request.model))
    co_return NotFoundModel(ex, request.model);

  limits::Admission admission;
  if (governor_ != nullptr) co_await governor_->Admit(admission, principal, request, route->name);
  if (!admission.Admitted()) co_return admission.Refusal(ex.Version());
  ExchangeSink sink(ex, admission);
  gateway::ChatCall call{request, route->upstream_model, ex.TraceId(), ex.SpanId()};
  auto outcome = co_await route->provider->Chat(call, sink);
  std::int64_t cost_nanos = 0;
  if (governor_ != nullptr) cost_nanos = co_await governor_->Settle(admission, outcome.usage);
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  Record(ex, principal, *route, outcome, elapsed, request.stream, admission, cost_nanos);
  if (ex.Streaming()) co_return http::Response{};
  co_return Reply(ex, outcome, admission);
}

http::Task<http::Response> OpenAiApi::Embeddings(http::Exchange& ex) {
  const auto start = Clock::now();
  auto admitted = co_await Admit(ex, "embeddings");
  if (auto* refused = std::get_if<http::Response>(&admitted)) co_return std::move(*refused);
  const auto& principal = std::get<auth::Principal>(admitted);
  auto parsed = gateway::ParseEmbeddingRequest(ex.Req().body());
  if (auto* err = std::get_if<ApiError>(&parsed))
    co_return http::MakeError(*err, ex.Req().version());
  const auto& request = std::get<gateway::EmbeddingRequest>(parsed);
  const auto* route = catalog_.Find(request.model);
  if (route == nullptr || !principal.MayUseModel(request.model))
    co_return NotFoundModel(ex, request.model);

  limits::Admission admission;
  if (governor_ != nullptr) {
    co_await governor_->AdmitTokens(admission, principal, route->name,
                                    limits::EstimateInputTokens(request.inputs), 0);
  }
  if (!admission.Admitted()) co_return admission.Refusal(ex.Version());
  gateway::EmbedCall call{request, route->upstream_model, ex.TraceId(), ex.SpanId()};
  auto outcome = co_await route->provider->Embed(call);
  std::int64_t cost_nanos = 0;
  if (governor_ != nullptr) cost_nanos = co_await governor_->Settle(admission, outcome.usage);
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  Record(ex, principal, *route, outcome, elapsed, false, admission, cost_nanos);
  co_return Reply(ex, outcome, admission);
}

}  // namespace bro::api
