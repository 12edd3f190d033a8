#include "gateway/routing.hpp"

#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cmath>

#include "common/random.hpp"
#include "gateway/upstream_exchange.hpp"

namespace bro::gateway {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {

// Holds the response head back until the first byte of the body: until then nothing has
// reached the client and a failed attempt can be retried as if it never happened.
class DeferredSink final : public StreamSink {
 public:
  explicit DeferredSink(StreamSink& real) : real_(real) {}
  Task<bool> Begin() override {
    begin_pending_ = true;
    co_return true;
  }
  // After the first byte, a plain pass-through (no coroutine frame of its own).
  Task<bool> Send(std::string_view sse_bytes) override {
    if (!begin_pending_) return real_.Send(sse_bytes);
    return BeginThenSend(sse_bytes);
  }
  Task<void> End() override {
    if (!begin_pending_) return real_.End();
    return BeginThenEnd();
  }
  Task<void> ClientGone() override { return real_.ClientGone(); }
  void WatchClientGone(const std::function<void()>& on_gone) override {
    real_.WatchClientGone(on_gone);
  }
  void StopWatchingClient() override { real_.StopWatchingClient(); }
  bool Started() const override { return started_; }

 private:
  Task<bool> BeginThenSend(std::string_view sse_bytes) {
    begin_pending_ = false;
    started_ = true;
    bool ok = co_await real_.Begin();
    if (ok) ok = co_await real_.Send(sse_bytes);
    co_return ok;
  }
  Task<void> BeginThenEnd() {
    begin_pending_ = false;
    started_ = true;
    const bool ok = co_await real_.Begin();
    if (ok) co_await real_.End();
  }

  StreamSink& real_;
  bool begin_pending_ = false;
  bool started_ = false;
};

// Whether a failed outcome is the deployment's fault (and so worth another try).
bool DeploymentFailed(const ChatOutcome& o) {
  if (o.client_gone || o.error_code.empty()) return false;
  const auto status = static_cast<unsigned>(o.status);
  return o.streamed || status == 429 || status >= 500;
}

// Counts a call in flight on a deployment for as long as it lives.
class InFlight {
 public:
  explicit InFlight(Deployment& d) : d_(d) { d_.outstanding.fetch_add(1); }
  ~InFlight() { d_.outstanding.fetch_sub(1); }
  InFlight(const InFlight&) = delete;
  InFlight& operator=(const InFlight&) = delete;

 private:
  Deployment& d_;
};

// Outside the coroutines: GCC 12 mishandles initializer lists in their bodies.
void Count(observability::Family<observability::Counter>& family, const std::string& model) {
  family.With({model}).Inc();
}

ChatOutcome NoDeploymentOutcome(const ModelRoute& route) {
  // Rate limited everywhere (cooling down after Retry-After): say so, with the shortest wait.
  std::chrono::milliseconds wait = std::chrono::milliseconds::max();
  for (const auto& d : route.deployments) {
    const auto left = d->breaker.CoolDownLeft();
    if (left.count() > 0) wait = std::min(wait, left);
  }
  if (wait != std::chrono::milliseconds::max()) {
    const auto seconds = std::chrono::ceil<std::chrono::seconds>(wait).count();
    auto out = ErrorOutcome({http::Status::too_many_requests,
                             "rate_limit_error",
                             "upstream_rate_limited",
                             "Every deployment of the model `" + route.name +
                                 "` is rate limited by its provider; retry after " +
                                 std::to_string(seconds) + " s.",
                             {}});
    out.retry_after = std::to_string(seconds);
    return out;
  }
  auto out = ErrorOutcome(UpstreamError(
      http::Status::service_unavailable, "no_healthy_deployment",
      "Every deployment of the model `" + route.name +
          "` is unavailable (circuit open or at its concurrency limit); try again shortly."));
  out.retry_after = "1";
  return out;
}

}  // namespace

ModelRouter::ModelRouter(const config::RoutingConfig& cfg, const ModelCatalog& catalog,
                         observability::Registry& registry, const common::Clock& clock,
                         std::function<double()> random)
    : cfg_(cfg),
      clock_(clock),
      random_(random ? std::move(random) : std::function<double()>(common::RandomUnit)),
      retries_(registry.AddCounter("bro_ai_retries_total",
                                   "Upstream attempts after the first, by public model.",
                                   {"model"})),
      fallbacks_(registry.AddCounter("bro_ai_fallbacks_total",
                                     "Calls passed on to a fallback model, by public model.",
                                     {"model"})) {
  registry.AddCallbackGauge(
      "bro_ai_circuit_state",
      "Circuit breaker state per deployment: 0 closed, 1 half-open, 2 open.",
      {"model", "deployment"}, [&catalog] {
        std::vector<observability::GaugeSample> out;
        for (const auto& m : catalog.Models()) {
          for (const auto& d : m.deployments) {
            out.push_back({{m.name, d->id}, static_cast<double>(d->breaker.Current())});
          }
        }
        return out;
      });
  registry.AddCallbackCounter(
      "bro_ai_circuit_transitions_total", "Circuit breaker transitions per deployment, by state.",
      {"model", "deployment", "state"}, [&catalog] {
        std::vector<observability::GaugeSample> out;
        for (const auto& m : catalog.Models()) {
          for (const auto& d : m.deployments) {
            using S = CircuitBreaker::State;
            out.push_back(
                {{m.name, d->id, "open"}, static_cast<double>(d->breaker.Transitions(S::kOpen))});
            out.push_back({{m.name, d->id, "half_open"},
                           static_cast<double>(d->breaker.Transitions(S::kHalfOpen))});
            out.push_back({{m.name, d->id, "closed"},
                           static_cast<double>(d->breaker.Transitions(S::kClosed))});
          }
        }
        return out;
      });
}

std::optional<std::chrono::seconds> ModelRouter::ParseRetryAfter(std::string_view value) {
  long long s = 0;
  auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), s);
  if (ec != std::errc{} || p != value.data() + value.size() || s < 0 || s > 86400) {
    return std::nullopt;
  }
  return std::chrono::seconds(s);
}

milliseconds ModelRouter::Backoff(int retry) const {
  const double base = static_cast<double>(cfg_.backoff_base.count());
  const double cap = static_cast<double>(cfg_.backoff_max.count());
  const double ceiling = std::min(cap, base * std::pow(2.0, retry - 1));
  return milliseconds(static_cast<long long>(ceiling * random_()));  // full jitter
}

Deployment* ModelRouter::Pick(const ModelRoute& route,
                              const std::vector<const Deployment*>& tried) const {
  std::vector<Deployment*> fresh;
  std::vector<Deployment*> any;
  for (const auto& d : route.deployments) {
    if (!d->breaker.Available()) continue;
    if (d->max_concurrent > 0 && d->outstanding.load() >= d->max_concurrent) continue;
    any.push_back(d.get());
    if (std::find(tried.begin(), tried.end(), d.get()) == tried.end()) fresh.push_back(d.get());
  }
  auto& pool = fresh.empty() ? any : fresh;
  if (pool.empty()) return nullptr;
  if (pool.size() == 1) return pool.front();
  int total = 0;
  for (const auto* d : pool) total += d->weight;
  auto draw = [&] {
    double x = random_() * total;
    for (auto* d : pool) {
      x -= d->weight;
      if (x < 0) return d;
    }
    return pool.back();
  };
  Deployment* a = draw();
  Deployment* b = draw();
  const double load_a = static_cast<double>(a->outstanding.load()) / a->weight;
  const double load_b = static_cast<double>(b->outstanding.load()) / b->weight;
  return load_b < load_a ? b : a;
}

Task<RoutedOutcome> ModelRouter::Run(const ModelRoute& route, Attempt attempt,
                                     const StreamSink* sink) {
  std::vector<const ModelRoute*> chain;
  chain.push_back(&route);
  for (const auto* f : route.fallbacks) chain.push_back(f);

  RoutedOutcome result;
  bool have_result = false;
  for (std::size_t c = 0; c < chain.size(); ++c) {
    const ModelRoute& model = *chain[c];
    if (c > 0) Count(fallbacks_, route.name);
    std::vector<const Deployment*> tried;
    std::optional<milliseconds> wait_before_retry;
    for (int n = 0; n < cfg_.max_attempts; ++n) {
      Deployment* d = Pick(model, tried);
      if (d == nullptr) break;
      const bool same_again = std::find(tried.begin(), tried.end(), d) != tried.end();
      if (same_again) {
        auto wait = std::max(Backoff(n), wait_before_retry.value_or(milliseconds(0)));
        asio::steady_timer timer(co_await asio::this_coro::executor, wait);
        co_await timer.async_wait(asio::use_awaitable);
      }
      if (!d->breaker.Acquire()) continue;  // another call took the half-open probe meanwhile
      if (n > 0) Count(retries_, route.name);
      tried.push_back(d);
      ChatOutcome outcome;
      {
        InFlight in_flight(*d);
        outcome = co_await attempt(*d);
      }
      result.outcome = std::move(outcome);
      result.deployment = d;
      result.route = &model;
      ++result.attempts;
      have_result = true;
      const auto& o = result.outcome;
      if (o.client_gone) {
        d->breaker.OnAbandoned();
        co_return result;
      }
      if (!DeploymentFailed(o)) {
        d->breaker.OnSuccess();
        co_return result;
      }
      d->breaker.OnFailure();
      if (sink != nullptr && sink->Started()) co_return result;  // the client has bytes: no retry
      wait_before_retry.reset();
      if (!o.retry_after.empty()) {
        auto ra = ParseRetryAfter(o.retry_after);
        if (ra && *ra <= cfg_.retry_after_max) {
          wait_before_retry = std::chrono::duration_cast<milliseconds>(*ra);
        } else if (ra && (model.deployments.size() > 1 || !model.fallbacks.empty())) {
          // Too long to wait here; keep it out of rotation while there is somewhere else to go.
          // (A lone deployment keeps relaying its provider's own answers.)
          d->breaker.CoolDownUntil(clock_.Now() + *ra);
        }
      }
    }
  }
  if (!have_result) {
    result.outcome = NoDeploymentOutcome(route);
    result.route = &route;
  }
  co_return result;
}

Task<RoutedOutcome> ModelRouter::Chat(const ModelRoute& route, const ChatRequest& request,
                                      StreamSink& sink, const std::string& trace_id,
                                      const std::string& span_id) {
  DeferredSink deferred(sink);
  auto attempt = [&](const Deployment& d) -> Task<ChatOutcome> {
    ChatCall call{request, d.upstream_model, trace_id, span_id};
    co_return co_await d.provider->Chat(call, deferred);
  };
  co_return co_await Run(route, attempt, &deferred);
}

Task<RoutedOutcome> ModelRouter::Embed(const ModelRoute& route, const EmbeddingRequest& request,
                                       const std::string& trace_id, const std::string& span_id) {
  auto attempt = [&](const Deployment& d) -> Task<ChatOutcome> {
    EmbedCall call{request, d.upstream_model, trace_id, span_id};
    co_return co_await d.provider->Embed(call);
  };
  co_return co_await Run(route, attempt, nullptr);
}

}  // namespace bro::gateway
