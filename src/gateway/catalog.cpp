#include "gateway/catalog.hpp"

#include <cmath>

#include "common/saturating.hpp"
#include "gateway/anthropic_provider.hpp"
#include "gateway/echo_provider.hpp"
#include "gateway/openai_provider.hpp"
#include "gateway/vertex_provider.hpp"

namespace bro::gateway {

Price Price::FromUsdPerMillion(double input, double output) {
  // USD per million tokens = 1e6 nano-dollars per thousand tokens.
  return {std::llround(input * 1e6), std::llround(output * 1e6)};
}

std::int64_t CostNanos(const Price& price, std::int64_t prompt_tokens,
                       std::int64_t completion_tokens) {
  const auto per_1k =
      common::SaturatingAdd(common::SaturatingMul(prompt_tokens, price.input_nanos_per_1k),
                            common::SaturatingMul(completion_tokens, price.output_nanos_per_1k));
  return per_1k / 1000 + (per_1k % 1000 > 0 ? 1 : 0);
}

ModelCatalog::ModelCatalog(const config::Config& cfg, boost::asio::ssl::context& ssl,
                           const common::Clock& clock) {
  std::unordered_map<std::string, Provider*> by_name;
  for (const auto& p : cfg.providers) {
    std::unique_ptr<Provider> provider;
    switch (p.type) {
      case config::ProviderType::kEcho:
        provider = std::make_unique<EchoProvider>(p);
        break;
      case config::ProviderType::kAnthropic:
        provider = std::make_unique<AnthropicProvider>(p, ssl);
        break;
      case config::ProviderType::kVertex:
        provider = std::make_unique<VertexProvider>(p, ssl, clock);
        break;
      case config::ProviderType::kOpenAi:
      case config::ProviderType::kUnset:  // refused at load
        provider = std::make_unique<OpenAiProvider>(p, ssl);
        break;
    }
    by_name[p.name] = provider.get();
    providers_.push_back(std::move(provider));
  }
  const auto& r = cfg.routing;
  const BreakerSettings breaker{r.breaker_failures, r.breaker_error_ratio, r.breaker_min_requests,
                                r.breaker_window, r.breaker_open_for};
  models_.reserve(cfg.models.size());  // fallbacks point into models_: no reallocation after this
  for (const auto& m : cfg.models) {
    index_[m.name] = models_.size();
    ModelRoute route;
    route.name = m.name;
    for (const auto& d : m.deployments) {
      route.deployments.push_back(std::make_unique<Deployment>(
          *by_name.at(d.provider), d.upstream_model, d, breaker, clock));
    }
    route.cache = m.cache;
    route.cache_ttl = m.cache_ttl;
    route.max_output_tokens = m.max_output_tokens;
    models_.push_back(std::move(route));
  }
  for (std::size_t i = 0; i < cfg.models.size(); ++i) {
    for (const auto& f : cfg.models[i].fallbacks) models_[i].fallbacks.push_back(Find(f));
  }
}

const ModelRoute* ModelCatalog::Find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &models_[it->second];
}

}  // namespace bro::gateway
