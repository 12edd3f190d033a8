#pragma once

#include <string>

#include "observability/metrics.hpp"

namespace bro::gateway {

// Metrics of AI calls, labelled by provider and public model name.
struct GatewayMetrics {
  explicit GatewayMetrics(observability::Registry& r)
      : calls(r.AddCounter("bro_ai_requests_total", "AI calls by provider, model and outcome.",
                           {"provider", "model", "outcome"})),
        upstream_duration(r.AddHistogram("bro_ai_upstream_duration_seconds",
                                         "Duration of AI calls to the provider, in seconds.",
                                         {"provider", "model"}, observability::LatencyBuckets())),
        time_to_first_token(
            r.AddHistogram("bro_ai_time_to_first_token_seconds",
                           "Time from request to the first token (or whole reply), in seconds.",
                           {"provider", "model"}, observability::LatencyBuckets())),
        tokens(r.AddCounter("bro_ai_tokens_total",
                            "Tokens by provider, model and type (prompt, completion).",
                            {"provider", "model", "type"})) {}

  // The metric objects of one (provider, model) pair, resolved once.
  struct Route {
    observability::Counter& success;
    observability::Counter& error;
    observability::Counter& client_disconnected;
    observability::Histogram& upstream_duration;
    observability::Histogram& time_to_first_token;
    observability::Counter& prompt_tokens;
    observability::Counter& completion_tokens;
  };
  Route ForRoute(const std::string& provider, const std::string& model) {
    return {calls.With({provider, model, "success"}),
            calls.With({provider, model, "error"}),
            calls.With({provider, model, "client_disconnected"}),
            upstream_duration.With({provider, model}),
            time_to_first_token.With({provider, model}),
            tokens.With({provider, model, "prompt"}),
            tokens.With({provider, model, "completion"})};
  }

  observability::Family<observability::Counter>& calls;
  observability::Family<observability::Histogram>& upstream_duration;
  observability::Family<observability::Histogram>& time_to_first_token;
  observability::Family<observability::Counter>& tokens;
};

}  // namespace bro::gateway
