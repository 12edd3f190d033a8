#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "gateway/catalog.hpp"
#include "gateway/embeddings.hpp"
#include "observability/metrics.hpp"

namespace bro::gateway {

// What a routed call produced, and which deployment produced it (null when none could be tried).
struct RoutedOutcome {
  ChatOutcome outcome;
  const Deployment* deployment = nullptr;
  const ModelRoute* route = nullptr;  // the public model that answered (a fallback, maybe)
  int attempts = 0;
};

// Sends a call for a public model to one of its deployments and keeps answering when
// deployments fail:
//  * choice: among deployments whose circuit admits a call and that are below max_concurrent,
//    two are drawn at random in proportion to their weights and the one with fewer calls in
//    flight per unit of weight wins ("power of two choices": weighted, least outstanding as
//    the tie-breaker);
//  * retries: a failure that is the deployment's (connect error, timeout, 429, 5xx, broken
//    stream) is retried while nothing has reached the client, up to routing.max_attempts per
//    public model, on a deployment not yet tried when there is one; a retry on the same
//    deployment waits an exponential backoff with full jitter, or the upstream's Retry-After
//    when that is longer and at most routing.retry_after_max (a longer one cools the
//    deployment down instead);
//  * fallbacks: then the model's fallbacks, in order, each with its own attempts;
//  * every result feeds the deployment's circuit breaker. Client errors (400, 404, 413, 422)
//    are answered as they are: not the deployment's fault, not retried.
class ModelRouter {
 public:
  // `random` draws uniformly from [0, 1): deployment choice and backoff jitter (tests pass a
  // fixed sequence; by default common::RandomUnit).
  ModelRouter(const config::RoutingConfig& cfg, const ModelCatalog& catalog,
              observability::Registry& registry, const common::Clock& clock,
              std::function<double()> random = {});

  Task<RoutedOutcome> Chat(const ModelRoute& route, const ChatRequest& request, StreamSink& sink,
                           const std::string& trace_id, const std::string& span_id);
  Task<RoutedOutcome> Embed(const ModelRoute& route, const EmbeddingRequest& request,
                            const std::string& trace_id, const std::string& span_id);

  // Retry-After as seconds, when it is a number of seconds.
  static std::optional<std::chrono::seconds> ParseRetryAfter(std::string_view value);

 private:
  using Attempt = std::function<Task<ChatOutcome>(const Deployment&)>;
  Task<RoutedOutcome> Run(const ModelRoute& route, Attempt attempt, const StreamSink* sink);
  Deployment* Pick(const ModelRoute& route, const std::vector<const Deployment*>& tried) const;
  std::chrono::milliseconds Backoff(int retry) const;

  const config::RoutingConfig cfg_;
  const common::Clock& clock_;
  std::function<double()> random_;
  observability::Family<observability::Counter>& retries_;
  observability::Family<observability::Counter>& fallbacks_;
};

}  // namespace bro::gateway
