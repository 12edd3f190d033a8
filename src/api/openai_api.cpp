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

constexpr std::string_view kCacheHeader = "x-bro-cache";

// Adapts the HTTP exchange to the gateway's stream sink. With a capture buffer it also keeps
// a copy of what it sends (for the response cache), up to a bound; beyond it the copy is void.
class ExchangeSink : public gateway::StreamSink {
 public:
  // The admission's x-ratelimit-* headers go on the stream's head.
  ExchangeSink(http::Exchange& ex, const limits::Admission& admission,
               std::string_view cache_status = {}, std::string* capture = nullptr,
               std::size_t capture_limit = 0)
      : ex_(ex),
        admission_(admission),
        cache_status_(cache_status),
        capture_(capture),
        capture_limit_(capture_limit) {}
  Task<bool> Begin() override {
    http::Response head{Status::ok, ex_.Req().version()};
    head.set(http::Field::content_type, "text/event-stream; charset=utf-8");
    head.set(http::Field::cache_control, "no-cache");
    head.set("x-accel-buffering", "no");
    if (!cache_status_.empty()) head.set(kCacheHeader, cache_status_);
    admission_.AddHeaders(head);
    co_return co_await ex_.StartStream(std::move(head));
  }
  Task<bool> Send(std::string_view bytes) override {
    if (capture_ != nullptr && !capture_overflow_) {
      if (capture_->size() + bytes.size() > capture_limit_) {
        capture_overflow_ = true;
        capture_->clear();
      } else {
        capture_->append(bytes);
      }
    }
    return ex_.WriteChunk(bytes);
  }
  bool CaptureComplete() const { return capture_ != nullptr && !capture_overflow_; }
  Task<void> End() override { return ex_.EndStream(); }
  Task<void> ClientGone() override { return ex_.WaitClientGone(); }
  void WatchClientGone(const std::function<void()>& on_gone) override {
    ex_.WatchClientGone(on_gone);
  }
  void StopWatchingClient() override { ex_.StopWatchingClient(); }

 private:
  http::Exchange& ex_;
  const limits::Admission& admission_;
  std::string_view cache_status_;
  std::string* capture_;
  std::size_t capture_limit_;
  bool capture_overflow_ = false;
};

std::string CacheScope(const auth::Principal& p, config::CacheScope scope) {
  switch (scope) {
    case config::CacheScope::kUser:
      return "user:" + p.user_id;
    case config::CacheScope::kKey:
      return "key:" + p.key_id;
    case config::CacheScope::kGlobal:
      break;
  }
  return "global";
}

http::Response BadCacheHeader(const http::Exchange& ex) {
  return http::MakeError({Status::bad_request, "invalid_request_error", "invalid_header",
                          "The x-bro-cache header must be 'on' or 'off'.", "x-bro-cache"},
                         ex.Version());
}

json::object ModelJson(const gateway::ModelRoute& m) {
  return {{"id", m.name},
          {"object", "model"},
          {"created", 0},
          {"owned_by", std::string(m.Owner().Name())}};
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

OpenAiApi::OpenAiApi(gateway::ModelCatalog& catalog, gateway::ModelRouter& router,
                     gateway::ResponseCache& cache, usage::UsageRecorder& usage,
                     gateway::GatewayMetrics& metrics, limits::Governor* governor,
                     gateway::OutputBounds bounds)
    : catalog_(catalog),
      router_(router),
      cache_(cache),
      usage_(usage),
      metrics_(metrics),
      governor_(governor),
      bounds_(bounds) {
  for (const auto& m : catalog_.Models()) {
    for (const auto& d : m.deployments) {
      route_metrics_.emplace(d.get(), metrics_.ForRoute(std::string(d->provider->Name()), m.name));
    }
  }
}

void OpenAiApi::Register(AccessGate& gate, http::Router& router,
                         const config::ServerConfig& server) {
  gate.Add(router, http::Verb::get, "/v1/models", "/v1/models",
           [this](http::Exchange& ex, const auth::Principal& p) { return ListModels(ex, p); });
  gate.Add(router, http::Verb::get, "/v1/models/*", "/v1/models/{model}",
           [this](http::Exchange& ex, const auth::Principal& p) { return GetModel(ex, p); });
  gate.Add(
      router, http::Verb::post, "/v1/chat/completions", "/v1/chat/completions",
      [this](http::Exchange& ex, const auth::Principal& p) { return ChatCompletions(ex, p); },
      server.chat_max_body_bytes);
  gate.Add(
      router, http::Verb::post, "/v1/embeddings", "/v1/embeddings",
      [this](http::Exchange& ex, const auth::Principal& p) { return Embeddings(ex, p); },
      server.embeddings_max_body_bytes);
}

Task<http::Response> OpenAiApi::ListModels(http::Exchange& ex, const auth::Principal& principal) {
  json::array data;
  for (const auto& m : catalog_.Models()) {
    if (principal.MayUseModel(m.name)) data.push_back(ModelJson(m));
  }
  auto res = http::MakeJson(
      Status::ok, json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}}),
      ex.Req().version());
  if (governor_ != nullptr) co_await governor_->AddHeaders(principal, res);
  co_return res;
}

Task<http::Response> OpenAiApi::GetModel(http::Exchange& ex, const auth::Principal& principal) {
  auto name = ex.Path().substr(std::string_view("/v1/models/").size());
  const auto* m = catalog_.Find(name);
  if (m == nullptr || !principal.MayUseModel(m->name)) co_return NotFoundModel(ex, name);
  auto res = http::MakeJson(Status::ok, json::serialize(ModelJson(*m)), ex.Req().version());
  if (governor_ != nullptr) co_await governor_->AddHeaders(principal, res);
  co_return res;
}

void OpenAiApi::Record(http::Exchange& ex, const auth::Principal& principal,
                       const gateway::RoutedOutcome& routed, std::chrono::milliseconds elapsed,
                       bool streamed, limits::Admission& admission, std::int64_t cost_nanos) {
  const auto& outcome = routed.outcome;
  const auto& route = *routed.route;
  // No deployment could be tried (every circuit open): accounted to the first one.
  const auto& deployment =
      routed.deployment != nullptr ? *routed.deployment : *route.deployments.front();
  auto& m = route_metrics_.at(&deployment);
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
  RecordUsage(ex, principal, route.name, std::string(deployment.provider->Name()), deployment.id,
              outcome, elapsed, streamed, admission, cost_nanos);
}

void OpenAiApi::RecordUsage(http::Exchange& ex, const auth::Principal& principal,
                            const std::string& model, const std::string& provider,
                            const std::string& deployment, const gateway::ChatOutcome& outcome,
                            std::chrono::milliseconds elapsed, bool streamed,
                            limits::Admission& admission, std::int64_t cost_nanos) {
  usage::UsageRecord rec;
  rec.id = common::TimeOrderedId();
  rec.created_at = common::NowIso8601();
  rec.request_id = ex.TraceId() + "-" + ex.SpanId();
  rec.api_key_id = principal.key_id;
  rec.user_id = principal.user_id;
  rec.model = model;
  rec.provider = provider;
  rec.deployment = deployment;
  rec.prompt_tokens = outcome.usage.prompt_tokens;
  rec.completion_tokens = outcome.usage.completion_tokens;
  rec.cost_nanos = cost_nanos;
  rec.latency_ms = elapsed.count();
  if (outcome.time_to_first_token) rec.ttft_ms = outcome.time_to_first_token->count();
  rec.status = outcome.client_gone ? 499 : static_cast<int>(outcome.status);
  rec.streamed = streamed;
  rec.error_code = outcome.error_code;
  usage_.Record(admission.TakeUsageSlot(), std::move(rec));

  ex.LogFields()["model"] = model;
  ex.LogFields()["deployment"] = deployment;
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

Task<void> OpenAiApi::Reserve(limits::Admission& admission, const auth::Principal& principal,
                              const gateway::ChatRequest& request, const std::string& model) {
  if (governor_ != nullptr) co_await governor_->Admit(admission, principal, request, model);
}

Task<std::int64_t> OpenAiApi::Settle(limits::Admission& admission,
                                     const gateway::RoutedOutcome& routed) {
  if (governor_ == nullptr) co_return 0;
  // Charged at the prices of the deployment that answered (the reservation took the dearest).
  std::optional<gateway::Price> price;
  if (routed.deployment != nullptr) price = routed.deployment->price;
  co_return co_await governor_->Settle(admission, routed.outcome.usage, price);
}

Task<http::Response> OpenAiApi::ChatCompletions(http::Exchange& ex,
                                                const auth::Principal& principal) {
  const auto start = Clock::now();
  auto parsed = gateway::ParseChatRequest(ex.Req().body());
  if (auto* err = std::get_if<ApiError>(&parsed))
    co_return http::MakeError(*err, ex.Req().version());
  const auto& request = std::get<gateway::ChatRequest>(parsed);
  const auto* route = catalog_.Find(request.model);
  if (route == nullptr || !principal.MayUseModel(request.model))
    co_return NotFoundModel(ex, request.model);
  auto bounds = bounds_;
  if (route->max_output_tokens > 0) bounds.max_output_tokens = route->max_output_tokens;
  if (auto e = gateway::CheckOutputBounds(request.body, bounds))
    co_return http::MakeError(*e, ex.Version());

  auto use_cache = cache_.Wanted(route->cache || principal.cache_responses, ex.Req()[kCacheHeader]);
  if (!use_cache) co_return BadCacheHeader(ex);
  limits::Admission admission;
  co_await Reserve(admission, principal, request, route->name);
  if (!admission.Admitted()) co_return admission.Refusal(ex.Version());
  std::string cache_key;
  if (*use_cache) {
    cache_key = cache_.Key(request, route->name, CacheScope(principal, cache_.Scope()));
    auto hit = co_await cache_.Lookup(cache_key, route->name);
    if (hit && hit->stream == request.stream) {
      co_return co_await ServeCached(ex, principal, *route, std::move(*hit), start, admission);
    }
  }

  std::string captured;
  ExchangeSink sink(ex, admission, *use_cache ? "miss" : "", *use_cache ? &captured : nullptr,
                    cache_.MaxEntryBytes());
  auto routed = co_await router_.Chat(*route, request, sink, ex.TraceId(), ex.SpanId());
  const auto cost_nanos = co_await Settle(admission, routed);
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  Record(ex, principal, routed, elapsed, request.stream, admission, cost_nanos);
  auto& outcome = routed.outcome;
  const bool succeeded = outcome.error_code.empty() && !outcome.client_gone &&
                         outcome.status == Status::ok && routed.route == route;
  if (*use_cache && succeeded && (!request.stream || sink.CaptureComplete())) {
    gateway::CachedAnswer answer;
    answer.stream = request.stream;
    answer.usage = outcome.usage;
    answer.body = request.stream ? std::move(captured) : outcome.body;
    const auto ttl = route->cache_ttl.count() > 0 ? route->cache_ttl : cache_.DefaultTtl();
    co_await cache_.Store(cache_key, answer, ttl);
  }
  if (ex.Streaming()) co_return http::Response{};
  auto res = Reply(ex, outcome, admission);
  if (*use_cache) res.set(kCacheHeader, "miss");
  co_return res;
}

Task<http::Response> OpenAiApi::ServeCached(http::Exchange& ex, const auth::Principal& principal,
                                            const gateway::ModelRoute& route,
                                            gateway::CachedAnswer hit, Clock::time_point start,
                                            limits::Admission& admission) {
  gateway::ChatOutcome outcome;
  outcome.usage = hit.usage;
  outcome.time_to_first_token =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  http::Response res;
  if (hit.stream) {
    ExchangeSink sink(ex, admission, "hit");
    // (No co_await inside && — GCC 12 mishandles conditional awaits.)
    bool open = co_await sink.Begin();
    if (open) open = co_await sink.Send(hit.body);
    if (open) co_await sink.End();
  } else {
    res = http::MakeJson(Status::ok, std::move(hit.body), ex.Version());
    res.set(kCacheHeader, "hit");
    admission.AddHeaders(res);
  }
  // A cache hit counts as a request but uses no upstream tokens and costs nothing.
  std::int64_t cost_nanos = 0;
  const gateway::Usage no_upstream_use;
  if (governor_ != nullptr) {
    cost_nanos = co_await governor_->Settle(admission, no_upstream_use, gateway::Price());
  }
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  RecordUsage(ex, principal, route.name, "cache", "cache", outcome, elapsed, hit.stream, admission,
              cost_nanos);
  co_return res;
}

Task<http::Response> OpenAiApi::Embeddings(http::Exchange& ex, const auth::Principal& principal) {
  const auto start = Clock::now();
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
  auto routed = co_await router_.Embed(*route, request, ex.TraceId(), ex.SpanId());
  const auto cost_nanos = co_await Settle(admission, routed);
  const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  Record(ex, principal, routed, elapsed, false, admission, cost_nanos);
  co_return Reply(ex, routed.outcome, admission);
}

}  // namespace bro::api
