#pragma once

#include <chrono>
#include <unordered_map>

#include "api/access.hpp"
#include "auth/api_keys.hpp"
#include "config/config.hpp"
#include "gateway/catalog.hpp"
#include "gateway/metrics.hpp"
#include "gateway/response_cache.hpp"
#include "gateway/routing.hpp"
#include "http/server.hpp"
#include "limits/governor.hpp"
#include "observability/log.hpp"
#include "usage/usage_recorder.hpp"

namespace bro::api {

// The OpenAI-compatible surface under /v1: parse -> authorize -> gateway -> usage -> serialize.
class OpenAiApi {
 public:
  OpenAiApi(gateway::ModelCatalog& catalog, gateway::ModelRouter& router,
            gateway::ResponseCache& cache, usage::UsageRecorder& usage,
            gateway::GatewayMetrics& metrics, limits::Governor* governor = nullptr,
            gateway::OutputBounds bounds = {});
  // Routes go through the gate: who may call what is decided by identity::PermissionTable().
  void Register(AccessGate& gate, http::Router& router, const config::ServerConfig& server);

 private:
  Task<http::Response> ListModels(http::Exchange& ex, const auth::Principal& principal);
  Task<http::Response> GetModel(http::Exchange& ex, const auth::Principal& principal);
  Task<http::Response> ChatCompletions(http::Exchange& ex, const auth::Principal& principal);
  Task<http::Response> Embeddings(http::Exchange& ex, const auth::Principal& principal);

  // Metrics, the usage record (in the room the admission reserved, with the settled cost) and
  // the log fields of one AI call.
  void Record(http::Exchange& ex, const auth::Principal& principal,
              const gateway::RoutedOutcome& routed, std::chrono::milliseconds elapsed,
              bool streamed, limits::Admission& admission, std::int64_t cost_nanos);
  void RecordUsage(http::Exchange& ex, const auth::Principal& principal, const std::string& model,
                   const std::string& provider, const std::string& deployment,
                   const gateway::ChatOutcome& outcome, std::chrono::milliseconds elapsed,
                   bool streamed, limits::Admission& admission, std::int64_t cost_nanos);
  // Reserve before the upstream call / settle after it (no-ops without a governor).
  Task<void> Reserve(limits::Admission& admission, const auth::Principal& principal,
                     const gateway::ChatRequest& request, const std::string& model);
  Task<std::int64_t> Settle(limits::Admission& admission, const gateway::RoutedOutcome& routed);
  Task<http::Response> ServeCached(http::Exchange& ex, const auth::Principal& principal,
                                   const gateway::ModelRoute& route, gateway::CachedAnswer hit,
                                   std::chrono::steady_clock::time_point start,
                                   limits::Admission& admission);

  gateway::ModelCatalog& catalog_;
  gateway::ModelRouter& router_;
  gateway::ResponseCache& cache_;
  usage::UsageRecorder& usage_;
  gateway::GatewayMetrics& metrics_;
  limits::Governor* governor_;
  gateway::OutputBounds bounds_;
  std::unordered_map<const gateway::Deployment*, gateway::GatewayMetrics::Route> route_metrics_;
};

// The 401 answer of /v1 routes (OpenAI's invalid_api_key).
http::Response Unauthorized(const http::Exchange& ex);

}  // namespace bro::api
