#pragma once

#include <atomic>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/time.hpp"
#include "config/config.hpp"
#include "gateway/chat.hpp"
#include "gateway/circuit_breaker.hpp"

namespace bro::gateway {

// A model's prices in nano-dollars (1e-9 USD) per thousand tokens: integers, so that costs add
// up exactly on every limiter backend. Exact for prices configured with up to six decimals of a
// dollar per million tokens (0.000001 USD/M = 1 nano-dollar per thousand tokens).
struct Price {
  std::int64_t input_nanos_per_1k = 0;
  std::int64_t output_nanos_per_1k = 0;
  static Price FromUsdPerMillion(double input, double output);
  bool Free() const { return input_nanos_per_1k == 0 && output_nanos_per_1k == 0; }
  bool operator==(const Price&) const = default;
};
// The cost of a call in nano-dollars, rounded up (a budget is never undercharged), saturating.
std::int64_t CostNanos(const Price& price, std::int64_t prompt_tokens,
                       std::int64_t completion_tokens);

// One place a public model is served from, with its live state (calls in flight, circuit).
struct Deployment {
  Deployment(Provider& p, std::string model, const config::DeploymentConfig& cfg,
             BreakerSettings breaker_settings, const common::Clock& clock)
      : provider(&p),
        upstream_model(std::move(model)),
        id(std::string(p.Name()) + "/" + upstream_model),
        weight(cfg.weight),
        max_concurrent(cfg.max_concurrent),
        price(Price::FromUsdPerMillion(cfg.input_price_per_million, cfg.output_price_per_million)),
        breaker(breaker_settings, clock) {}

  Provider* provider;
  std::string upstream_model;
  std::string id;  // provider/upstream_model: metrics label and usage record
  int weight;
  int max_concurrent;  // 0 = unlimited
  Price price;
  std::atomic<int> outstanding{0};
  CircuitBreaker breaker;
};

struct ModelRoute {
  std::string name;
  std::vector<std::unique_ptr<Deployment>> deployments;
  std::vector<const ModelRoute*> fallbacks;  // tried in order once every deployment failed
  bool cache = false;
  std::chrono::milliseconds cache_ttl{0};  // zero: the cache's default
  std::int64_t max_output_tokens = 0;      // zero: limits.max_output_tokens

  const Provider& Owner() const { return *deployments.front()->provider; }
};

// Public model names, their deployments and the providers behind them, built from config.
class ModelCatalog {
 public:
  ModelCatalog(const config::Config& cfg, boost::asio::ssl::context& ssl,
               const common::Clock& clock);
  const ModelRoute* Find(std::string_view name) const;
  const std::vector<ModelRoute>& Models() const { return models_; }

 private:
  std::vector<std::unique_ptr<Provider>> providers_;
  std::vector<ModelRoute> models_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace bro::gateway
