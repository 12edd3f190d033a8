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

struct Price {
  double input_per_million = 0;   // USD per million prompt tokens
  double output_per_million = 0;  // USD per million completion tokens
  double Cost(const Usage& u) const {
    return (static_cast<double>(u.prompt_tokens) * input_per_million +
            static_cast<double>(u.completion_tokens) * output_per_million) /
           1e6;
  }
};

// One place a public model is served from, with its live state (calls in flight, circuit).
struct Deployment {
  Deployment(Provider& p, std::string model, const config::DeploymentConfig& cfg,
             BreakerSettings breaker_settings, const common::Clock& clock)
      : provider(&p),
        upstream_model(std::move(model)),
        id(std::string(p.Name()) + "/" + upstream_model),
        weight(cfg.weight),
        max_concurrent(cfg.max_concurrent),
        price{cfg.input_price_per_million, cfg.output_price_per_million},
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
