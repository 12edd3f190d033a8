#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "auth/api_keys.hpp"
#include "common/time.hpp"
#include "config/config.hpp"
#include "gateway/catalog.hpp"
#include "gateway/chat.hpp"
#include "limits/limiter.hpp"
#include "limits/policy.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"
#include "usage/usage_recorder.hpp"

namespace bro::limits {

using gateway::Price;
// nullopt: the model has no price (its requests cost 0 and only token limits apply to it).
using PriceLookup = std::function<std::optional<Price>(std::string_view model)>;
// The prices a reservation for a public model must assume: the dearest input and output prices
// among its deployments and those of its fallbacks (the router may send the call to any of
// them). nullopt for a model nobody priced.
PriceLookup CatalogPrices(const gateway::ModelCatalog& catalog);

// gateway::CostNanos, or 0 for a model without a price.
std::int64_t CostNanos(const std::optional<Price>& price, std::int64_t prompt_tokens,
                       std::int64_t completion_tokens);

// The worst case a chat request may use: the prompt estimate plus, for each of `n` choices,
// max_completion_tokens, max_tokens, or `max_tokens_default` when the client set neither.
std::int64_t WorstCaseCompletionTokens(const boost::json::object& request,
                                       std::int64_t max_tokens_default);

// Tokens of embedding inputs, as the gateway estimates prompts.
std::int64_t EstimateInputTokens(const std::vector<std::string>& inputs);

// OpenAI's duration format for x-ratelimit-reset-*: "20ms", "1.5s", "6m0s", "1h2m3s".
std::string FormatReset(Millis d);

class Governor;

// The outcome of Governor::Admit: either admitted (a reservation to settle, the headers to
// send) or refused (the answer to send). Destroyed unsettled — an exception mid-request — it
// releases its reservation in the background.
class Admission {
 public:
  Admission() = default;
  Admission(Admission&& o) noexcept;
  Admission& operator=(Admission&&) = delete;
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  ~Admission();

  bool Admitted() const { return !refusal_.has_value(); }
  // 429 (limit), 503 (limits backend down and failure_mode closed, or usage backpressure).
  http::Response Refusal(unsigned version) const;
  // x-ratelimit-{limit,remaining,reset}-{requests,tokens} for the limits that apply.
  void AddHeaders(http::Response& res) const;
  usage::UsageSlot TakeUsageSlot() { return std::move(slot_); }

 private:
  friend class Governor;
  Governor* governor_ = nullptr;
  Settlement settlement_;
  bool counted_ = false;  // the limiter holds a reservation to settle
  Decision decision_;
  std::optional<Price> price_;
  std::optional<http::ApiError> refusal_;
  std::string retry_after_;
  usage::UsageSlot slot_;
};

// Rate limits, quotas and budgets around one /v1 call: Admit reserves the worst case in one
// atomic decision of the limiter, Settle charges the actual usage. When the limiter's backend
// fails, `limits.failure_mode` decides (open: admit uncounted; closed: 503), the state is
// logged once and exported as bro_limits_degraded, and the backend is tried again every
// `limits.retry_interval` until it answers.
class Governor {
 public:
  Governor(const config::LimitsConfig& cfg, Limiter& limiter, PolicyResolver& resolver,
           usage::UsageRecorder& usage, PriceLookup prices, const common::Clock& clock,
           boost::asio::any_io_executor executor, observability::Logger& log,
           observability::Registry& metrics);

  // Fills `out` (which must outlive the call) with the decision for this chat request.
  Task<void> Admit(Admission& out, const auth::Principal& principal,
                   const gateway::ChatRequest& request, std::string model);
  // The same for any call whose worst case is known (embeddings: the inputs, no completion).
  Task<void> AdmitTokens(Admission& out, const auth::Principal& principal, std::string model,
                         std::int64_t prompt_tokens, std::int64_t completion_tokens);
  // Charges `used` (what was produced, also after a failure or a client that left) in place of
  // the reservation; returns the cost in nano-dollars for the usage record.
  // `price`: the prices of what actually answered (a routed deployment), when known; else
  // the ones the reservation used.
  Task<std::int64_t> Settle(Admission& admission, gateway::Usage used,
                            std::optional<Price> price = std::nullopt);
  // Headers for /v1 responses that use no quota (model listing).
  Task<void> AddHeaders(const auth::Principal& principal, http::Response& res);

 private:
  friend class Admission;
  void ReleaseDetached(Settlement s);
  void Settled(const std::exception_ptr& error);
  bool BackendAvailable();
  void BackendFailed(const std::exception& e);
  void BackendAnswered();
  observability::Counter& Decisions(std::string_view decision, std::string_view reason);

  config::LimitsConfig cfg_;
  Limiter& limiter_;
  PolicyResolver& resolver_;
  usage::UsageRecorder& usage_;
  PriceLookup prices_;
  const common::Clock& clock_;
  boost::asio::any_io_executor executor_;
  observability::Logger& log_;
  observability::Family<observability::Counter>& decisions_;
  observability::Counter* admitted_ = nullptr;
  observability::Counter& backend_errors_;
  observability::Gauge& degraded_gauge_;
  std::atomic<bool> degraded_{false};
  std::atomic<std::int64_t> retry_at_ms_{0};
  std::atomic<std::uint64_t> sequence_{0};
  std::string instance_;
};

}  // namespace bro::limits
