#pragma once

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

  observability::Family<observability::Counter>& calls;
  observability::Family<observability::Histogram>& upstream_duration;
  observability::Family<observability::Histogram>& time_to_first_token;
  observability::Family<observability::Counter>& tokens;
};

}  // namespace bro::gateway
