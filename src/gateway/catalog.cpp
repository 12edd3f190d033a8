#include "gateway/catalog.hpp"

#include "gateway/anthropic_provider.hpp"
#include "gateway/echo_provider.hpp"
#include "gateway/openai_provider.hpp"
#include "gateway/vertex_provider.hpp"

namespace bro::gateway {

ModelCatalog::ModelCatalog(const config::Config& cfg, boost::asio::ssl::context& ssl,
                           const common::Clock& clock) {
  std::unordered_map<std::string, Provider*> by_name;
  for (const auto& p : cfg.providers) {
    std::unique_ptr<Provider> provider;
    if (p.type == "echo") {
      provider = std::make_unique<EchoProvider>(p);
    } else if (p.type == "anthropic") {
      provider = std::make_unique<AnthropicProvider>(p, ssl);
    } else if (p.type == "vertex") {
      provider = std::make_unique<VertexProvider>(p, ssl, clock);
    } else {
      provider = std::make_unique<OpenAiProvider>(p, ssl);
    }
    by_name[p.name] = provider.get();
    providers_.push_back(std::move(provider));
  }
  for (const auto& m : cfg.models) {
    index_[m.name] = models_.size();
    models_.push_back({m.name, by_name.at(m.provider), m.upstream_model});
  }
}

const ModelRoute* ModelCatalog::Find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &models_[it->second];
}

}  // namespace bro::gateway
