#pragma once

#include <chrono>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "auth/api_keys.hpp"
#include "config/config.hpp"
#include "gateway/catalog.hpp"
#include "gateway/metrics.hpp"
#include "http/server.hpp"
#include "limits/governor.hpp"
#include "observability/log.hpp"
#include "usage/usage_recorder.hpp"

namespace bro::api {

// The OpenAI-compatible surface under /v1: parse -> authorize -> gateway -> usage -> serialize.
class OpenAiApi {
 public:
  // Without a governor, calls are neither limited nor counted (tests of other features).
  OpenAiApi(auth::Authenticator& auth, gateway::ModelCatalog& catalog, usage::UsageRecorder& usage,
            gateway::GatewayMetrics& metrics, limits::Governor* governor = nullptr);
  void Register(http::Router& router, const config::ServerConfig& server);

 private:
  http::Task<http::Response> ListModels(http::Exchange& ex);
  http::Task<http::Response> GetModel(http::Exchange& ex);
  http::Task<http::Response> ChatCompletions(http::Exchange& ex);
  http::Task<http::Response> Embeddings(http::Exchange& ex);

  // The caller, if it may create `what` (developer, admin); else the 401/403 answer.
  http::Task<std::variant<auth::Principal, http::Response>> Admit(http::Exchange& ex,
                                                                  std::string_view what);
  // Metrics, the usage record (in the room the admission reserved) and the log fields of one
  // AI call.
  void Record(http::Exchange& ex, const auth::Principal& principal,
              const gateway::ModelRoute& route, const gateway::ChatOutcome& outcome,
              std::chrono::milliseconds elapsed, bool streamed, limits::Admission& admission,
              std::int64_t cost_nanos);

  auth::Authenticator& auth_;
  gateway::ModelCatalog& catalog_;
  usage::UsageRecorder& usage_;
  gateway::GatewayMetrics& metrics_;
  limits::Governor* governor_;
  std::unordered_map<const gateway::ModelRoute*, gateway::GatewayMetrics::Route> route_metrics_;
};

// Resolves the caller or produces the 401 answer. Shared by every authenticated route.
http::Task<std::optional<auth::Principal>> Authenticate(auth::Authenticator& auth,
                                                        http::Exchange& ex);
http::Response Unauthorized(const http::Exchange& ex);

}  // namespace bro::api
