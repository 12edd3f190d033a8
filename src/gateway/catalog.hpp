#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/time.hpp"
#include "config/config.hpp"
#include "gateway/chat.hpp"

namespace bro::gateway {

struct ModelRoute {
  std::string name;
  Provider* provider = nullptr;
  std::string upstream_model;
};

// Public model names and the provider that serves each, built from config.
class ModelCatalog {
 public:
  // `clock` decides when cached upstream credentials expire (vertex).
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
