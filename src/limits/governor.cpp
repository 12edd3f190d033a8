#include "limits/governor.hpp"

#include <boost/asio/this_coro.hpp>
#include <cmath>
#include <cstdio>

#include "common/errors.hpp"
#include "common/random.hpp"
#include "common/saturating.hpp"

namespace bro::limits {
namespace {

constexpr std::int64_t kMaxChoices = 128;

std::optional<std::int64_t> PositiveInt(const boost::json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64() && v->as_int64() > 0) return v->as_int64();
  if (v->is_uint64()) return common::kInt64Max;  // above INT64_MAX: saturates
  return std::nullopt;
}

std::string SubjectLabel(const std::string& id) {
  // "key:ID|model:M" -> "api key ID for model M", without leaking more than the caller knows.
  std::string out = id.starts_with("key:") ? "api key" : "user";
  if (auto bar = id.find("|model:"); bar != std::string::npos) {
    out += " for model " + id.substr(bar + 7);
  }
  return out;
}

std::int64_t LimitOf(const Policy& p, Reason r) {
  switch (r) {
    case Reason::kRequests:
      return p.requests_per_minute;
    case Reason::kTokens:
    case Reason::kTooLarge:
      return p.tokens_per_minute;
    case Reason::kConcurrency:
      return p.concurrent_requests;
    case Reason::kDailyTokens:
      return p.daily_tokens;
    case Reason::kMonthlyTokens:
      return p.monthly_tokens;
    case Reason::kDailyCost:
      return p.daily_cost_nanos;
    case Reason::kMonthlyCost:
      return p.monthly_cost_nanos;
    case Reason::kNone:
      break;
  }
  return 0;
}

http::ApiError RefusalFor(const Decision& d, const std::vector<Subject>& subjects,
                          std::int64_t requested_tokens) {
  const auto& subject = subjects.at(d.subject);
  const auto limit = LimitOf(subject.policy, d.reason);
  const auto who = SubjectLabel(subject.id);
  const std::string retry = " Please try again in " + FormatReset(d.retry_after) + ".";
  http::ApiError e;
  e.status = http::Status::too_many_requests;
  e.type = "requests";
  e.code = "rate_limit_exceeded";
  switch (d.reason) {
    case Reason::kRequests:
      e.message = "Rate limit reached for requests per minute (RPM) on " + who + ": Limit " +
                  std::to_string(limit) + "." + retry;
      break;
    case Reason::kTokens:
      e.type = "tokens";
      e.message = "Rate limit reached for tokens per minute (TPM) on " + who + ": Limit " +
                  std::to_string(limit) + ", Requested " + std::to_string(requested_tokens) + "." +
                  retry;
      break;
    case Reason::kTooLarge:
      e.type = "tokens";
      if (limit == 0) {  // no per-minute limit: the amount itself is out of range
        e.message = "Request too large: its worst case of " + std::to_string(requested_tokens) +
                    " tokens cannot be reserved. Reduce the prompt or max_tokens.";
        break;
      }
      e.message = "Request too large for tokens per minute (TPM) on " + who + ": Limit " +
                  std::to_string(limit) + ", Requested " + std::to_string(requested_tokens) +
                  " (prompt estimate plus max_tokens). Reduce the prompt or max_tokens.";
      break;
    case Reason::kConcurrency:
      e.message = "Too many concurrent requests on " + who + ": Limit " + std::to_string(limit) +
                  "." + retry;
      break;
    case Reason::kDailyTokens:
    case Reason::kMonthlyTokens:
    case Reason::kDailyCost:
    case Reason::kMonthlyCost: {
      const bool daily = d.reason == Reason::kDailyTokens || d.reason == Reason::kDailyCost;
      const bool cost = d.reason == Reason::kDailyCost || d.reason == Reason::kMonthlyCost;
      e.type = "insufficient_quota";
      e.code = "insufficient_quota";
      char amount[64];
      if (cost) {
        std::snprintf(amount, sizeof amount, "$%.2f", static_cast<double>(limit) / 1e9);
      } else {
        std::snprintf(amount, sizeof amount, "%lld tokens", static_cast<long long>(limit));
      }
      e.message = std::string("You exceeded the ") + (daily ? "daily" : "monthly") + " " +
                  (cost ? "cost" : "token") + " budget of " + who + " (" + amount +
                  "). It resets at the start of the next UTC " + (daily ? "day" : "month") + ".";
      break;
    }
    case Reason::kNone:
      break;
  }
  return e;
}

// A settlement changes something only for a concurrency slot, or for token and budget windows
// when the actual use differs from the reservation; otherwise its round trip is saved.
bool NeedsSettlement(const Settlement& s) {
  const bool differs = s.tokens != s.reserved_tokens || s.cost_nanos != s.reserved_cost_nanos;
  for (const auto& subject : s.subjects) {
    const auto& p = subject.policy;
    if (p.TracksLeases() || (differs && p.TracksUse())) return true;
  }
  return false;
}

}  // namespace

PriceLookup CatalogPrices(const gateway::ModelCatalog& catalog) {
  return [&catalog](std::string_view model) -> std::optional<Price> {
    const auto* route = catalog.Find(model);
    if (route == nullptr) return std::nullopt;
    Price worst;
    auto consider = [&worst](const gateway::ModelRoute& r) {
      for (const auto& d : r.deployments) {
        worst.input_nanos_per_1k = std::max(worst.input_nanos_per_1k, d->price.input_nanos_per_1k);
        worst.output_nanos_per_1k =
            std::max(worst.output_nanos_per_1k, d->price.output_nanos_per_1k);
      }
    };
    consider(*route);
    for (const auto* fallback : route->fallbacks) consider(*fallback);
    if (worst.Free()) return std::nullopt;
    return worst;
  };
}

std::int64_t CostNanos(const std::optional<Price>& price, std::int64_t prompt_tokens,
                       std::int64_t completion_tokens) {
  return price ? gateway::CostNanos(*price, prompt_tokens, completion_tokens) : 0;
}

std::int64_t WorstCaseCompletionTokens(const boost::json::object& request,
                                       std::int64_t max_tokens_default) {
  auto per_choice = PositiveInt(request, "max_completion_tokens");
  if (!per_choice) per_choice = PositiveInt(request, "max_tokens");
  const auto n = std::min(kMaxChoices, PositiveInt(request, "n").value_or(1));
  return common::SaturatingMul(per_choice.value_or(max_tokens_default), n);
}

std::int64_t EstimateInputTokens(const std::vector<std::string>& inputs) {
  std::int64_t n = 0;
  for (const auto& in : inputs) n = common::SaturatingAdd(n, gateway::EstimateTokens(in));
  return n;
}

std::string FormatReset(Millis d) {
  auto ms = std::max<std::int64_t>(0, d.count());
  if (ms < 1000) return std::to_string(ms) + "ms";
  std::string out;
  const auto hours = ms / 3'600'000;
  ms %= 3'600'000;
  const auto minutes = ms / 60'000;
  ms %= 60'000;
  if (hours > 0) out += std::to_string(hours) + "h";
  if (hours > 0 || minutes > 0) out += std::to_string(minutes) + "m";
  out += std::to_string(ms / 1000);
  if (const auto frac = ms % 1000; frac != 0) {
    char buf[8];
    std::snprintf(buf, sizeof buf, ".%03lld", static_cast<long long>(frac));
    std::string f(buf);
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "s";
}

Admission::Admission(Admission&& o) noexcept
    : governor_(std::exchange(o.governor_, nullptr)),
      settlement_(std::move(o.settlement_)),
      counted_(std::exchange(o.counted_, false)),
      decision_(o.decision_),
      price_(o.price_),
      refusal_(std::move(o.refusal_)),
      retry_after_(std::move(o.retry_after_)),
      slot_(std::move(o.slot_)) {}

Admission::~Admission() {
  if (counted_ && governor_ != nullptr) {
    // Nothing is known about what was produced: release the whole reservation.
    settlement_.tokens = 0;
    settlement_.cost_nanos = 0;
    governor_->ReleaseDetached(std::move(settlement_));
  }
}

http::Response Admission::Refusal(unsigned version) const {
  auto res = http::MakeError(refusal_.value_or(http::ApiError{}), version);
  if (!retry_after_.empty()) res.set(http::Field::retry_after, retry_after_);
  AddHeaders(res);
  return res;
}

void Admission::AddHeaders(http::Response& res) const {
  auto add = [&res](const Window& w, std::string_view what) {
    if (w.limit == 0) return;
    res.set("x-ratelimit-limit-" + std::string(what), std::to_string(w.limit));
    res.set("x-ratelimit-remaining-" + std::string(what), std::to_string(w.remaining));
    res.set("x-ratelimit-reset-" + std::string(what), FormatReset(w.reset));
  };
  add(decision_.requests, "requests");
  add(decision_.tokens, "tokens");
}

Governor::Governor(const config::LimitsConfig& cfg, Limiter& limiter, PolicyResolver& resolver,
                   usage::UsageRecorder& usage, PriceLookup prices, const common::Clock& clock,
                   boost::asio::any_io_executor executor, observability::Logger& log,
                   observability::Registry& metrics)
    : cfg_(cfg),
      limiter_(limiter),
      resolver_(resolver),
      usage_(usage),
      prices_(std::move(prices)),
      clock_(clock),
      executor_(std::move(executor)),
      log_(log),
      decisions_(metrics.AddCounter("bro_limits_decisions_total",
                                    "Admission decisions on /v1 calls, by decision and reason.",
                                    {"decision", "reason"})),
      backend_errors_(metrics
                          .AddCounter("bro_limits_backend_errors_total",
                                      "Limiter backend calls that failed (Redis unreachable...).",
                                      {"backend"})
                          .With({std::string(limiter.Backend())})),
      degraded_gauge_(metrics
                          .AddGauge("bro_limits_degraded",
                                    "1 while the limiter backend fails and failure_mode decides.",
                                    {"backend"})
                          .With({std::string(limiter.Backend())})),
      instance_(common::RandomHex(8)) {
  // The series exist from the start, so alerts can rate() them before the first refusal.
  admitted_ = &Decisions("admitted", "none");  // the hot one, looked up once
  for (auto r :
       {Reason::kRequests, Reason::kTokens, Reason::kTooLarge, Reason::kConcurrency,
        Reason::kDailyTokens, Reason::kMonthlyTokens, Reason::kDailyCost, Reason::kMonthlyCost}) {
    Decisions("limited", ReasonName(r));
  }
  Decisions("admitted", "backend_unavailable");
  Decisions("refused", "backend_unavailable");
  Decisions("refused", "usage_backpressure");
}

observability::Counter& Governor::Decisions(std::string_view decision, std::string_view reason) {
  return decisions_.With({std::string(decision), std::string(reason)});
}

bool Governor::BackendAvailable() {
  return !degraded_.load() || clock_.NowMs() >= retry_at_ms_.load();
}

void Governor::BackendFailed(const std::exception& e) {
  backend_errors_.Inc();
  retry_at_ms_ = clock_.NowMs() + cfg_.retry_interval.count();
  if (!degraded_.exchange(true)) {
    degraded_gauge_.Set(1);
    log_.Error(
        "limits backend unavailable: failing " + std::string(config::Name(cfg_.failure_mode)),
        {{"backend", std::string(limiter_.Backend())},
         {"failure_mode", config::Name(cfg_.failure_mode)},
         {"error", e.what()}});
  }
}

void Governor::BackendAnswered() {
  if (degraded_.exchange(false)) {
    degraded_gauge_.Set(0);
    log_.Info("limits backend recovered", {{"backend", std::string(limiter_.Backend())}});
  }
}

Task<void> Governor::Admit(Admission& a, const auth::Principal& principal,
                           const gateway::ChatRequest& request, std::string model) {
  const auto prompt = gateway::EstimatePromptTokens(request.body);
  const auto completion = WorstCaseCompletionTokens(request.body, cfg_.max_tokens_default);
  co_await AdmitTokens(a, principal, std::move(model), prompt, completion);
}

Task<void> Governor::AdmitTokens(Admission& a, const auth::Principal& principal, std::string model,
                                 std::int64_t prompt, std::int64_t completion) {
  a.governor_ = this;
  a.slot_ = usage_.Reserve();
  if (!a.slot_.Valid()) {
    Decisions("refused", "usage_backpressure").Inc();
    a.refusal_ = http::ApiError{http::Status::service_unavailable,
                                "server_error",
                                "service_unavailable",
                                "The service is busy (usage records are backed up). Please retry "
                                "shortly.",
                                {}};
    a.retry_after_ = "1";
    co_return;
  }
  if (prices_) a.price_ = prices_(model);
  if (!cfg_.enabled) co_return;
  auto subjects = co_await resolver_.Resolve(principal, model);
  if (subjects.empty()) {
    admitted_->Inc();
    co_return;
  }

  ReserveRequest r;
  r.id = instance_ + "-" + std::to_string(sequence_.fetch_add(1));
  r.subjects = subjects;
  r.tokens = common::SaturatingAdd(prompt, completion);
  r.cost_nanos = CostNanos(a.price_, prompt, completion);
  r.now_ms = clock_.NowMs();
  r.lease = cfg_.lease;

  a.settlement_.id = r.id;
  a.settlement_.subjects = std::move(subjects);
  a.settlement_.reserved_tokens = r.tokens;
  a.settlement_.reserved_cost_nanos = r.cost_nanos;
  a.settlement_.reserved_at_ms = r.now_ms;
  a.settlement_.lease = r.lease;

  bool failed = false;
  if (BackendAvailable()) {
    try {
      a.decision_ = co_await limiter_.Reserve(std::move(r));
      BackendAnswered();
    } catch (const common::InfrastructureError& e) {
      BackendFailed(e);
      failed = true;
    }
  } else {
    failed = true;
  }
  if (failed) {
    a.decision_ = Decision{};
    if (cfg_.failure_mode == config::FailureMode::kOpen) {
      Decisions("admitted", "backend_unavailable").Inc();
    } else {
      Decisions("refused", "backend_unavailable").Inc();
      a.refusal_ = http::ApiError{http::Status::service_unavailable,
                                  "server_error",
                                  "limits_unavailable",
                                  "Rate limits cannot be checked right now. Please retry shortly.",
                                  {}};
      a.retry_after_ = RetryAfterSeconds(cfg_.retry_interval);
    }
    co_return;
  }
  if (!a.decision_.admitted) {
    Decisions("limited", ReasonName(a.decision_.reason)).Inc();
    a.refusal_ = RefusalFor(a.decision_, a.settlement_.subjects, a.settlement_.reserved_tokens);
    if (a.decision_.reason != Reason::kTooLarge)
      a.retry_after_ = RetryAfterSeconds(a.decision_.retry_after);
    co_return;
  }
  admitted_->Inc();
  a.counted_ = true;
  co_return;
}

Task<std::int64_t> Governor::Settle(Admission& a, gateway::Usage used, std::optional<Price> price) {
  const auto cost = CostNanos(price ? price : a.price_, used.prompt_tokens, used.completion_tokens);
  if (!a.counted_) co_return cost;
  a.counted_ = false;
  Settlement s = std::move(a.settlement_);
  s.tokens = common::SaturatingAdd(used.prompt_tokens, used.completion_tokens);
  s.cost_nanos = cost;
  s.now_ms = clock_.NowMs();
  // While the backend is down the reservation stays charged at its worst case (budgets are
  // never overspent) and its concurrency slot expires with its lease. The answer does not wait
  // for the settlement: it is queued before the answer leaves, so every later call of this
  // replica sees it, and other replicas within one round trip to the backend.
  if (NeedsSettlement(s) && BackendAvailable()) {
    auto ex = co_await boost::asio::this_coro::executor;
    limiter_.SettleLater(std::move(s), ex,
                         [this](const std::exception_ptr& error) { Settled(error); });
  }
  co_return cost;
}

void Governor::Settled(const std::exception_ptr& error) {
  if (!error) {
    BackendAnswered();
    return;
  }
  try {
    std::rethrow_exception(error);
  } catch (const common::InfrastructureError& e) {
    BackendFailed(e);
  } catch (const std::exception& e) {
    log_.Warning("limits: a settlement failed",
                 {{"backend", std::string(limiter_.Backend())}, {"error", e.what()}});
  }
}

void Governor::ReleaseDetached(Settlement s) {
  limiter_.SettleLater(std::move(s), executor_, [this](const std::exception_ptr& error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      log_.Warning("limits: releasing a reservation failed",
                   {{"backend", std::string(limiter_.Backend())}, {"error", e.what()}});
    }
  });
}

Task<void> Governor::AddHeaders(const auth::Principal& principal, http::Response& res) {
  if (!cfg_.enabled || !BackendAvailable()) co_return;
  auto subjects = co_await resolver_.Resolve(principal, "");
  if (subjects.empty()) co_return;
  Admission a;
  bool ok = true;
  try {
    a.decision_ = co_await limiter_.Peek(std::move(subjects), clock_.NowMs());
  } catch (const common::InfrastructureError& e) {
    BackendFailed(e);
    ok = false;
  }
  if (ok) a.AddHeaders(res);
}

}  // namespace bro::limits
