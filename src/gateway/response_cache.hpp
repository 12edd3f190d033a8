#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "gateway/chat.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"
#include "storage/kv/kv_store.hpp"

namespace bro::gateway {

// JSON with object keys sorted (by bytes), no whitespace, and numbers in one form: an
// integral value within ±2^53 is written as an integer (1, 1.0 and 1e0 are the same), any
// other as the shortest round-trip double. Two requests that mean the same have the same text.
std::string CanonicalJson(const boost::json::value& v);

// An answer kept for a later identical request.
struct CachedAnswer {
  bool stream = false;  // body holds the SSE bytes of the whole stream, else the JSON reply
  Usage usage;
  std::string body;
};

// The exact-match response cache. The key is the SHA-256 of the canonical JSON of the request
// (the whole body, so `stream` is part of it), the public model name and the caller's scope
// (user, key or global, per cache.scope). Backed by any KvStore: in-process (bounded LRU) or
// Redis when REDIS_URL is set. A store failure is logged and treated as a miss: the cache can
// make a request faster, never fail it.
class ResponseCache {
 public:
  ResponseCache(const config::CacheConfig& cfg, storage::kv::KvStore& store,
                observability::Registry& registry, observability::Logger& log);

  // Header x-bro-cache: "on" asks for the cache where neither the model nor the API key opted
  // in, "off" skips it; absent follows the opt-in. nullopt for any other value (the caller
  // answers 400).
  std::optional<bool> Wanted(bool opted_in, std::string_view header) const;
  std::string Key(const ChatRequest& request, std::string_view model, std::string_view scope) const;

  Task<std::optional<CachedAnswer>> Lookup(const std::string& key, const std::string& model);
  Task<void> Store(const std::string& key, const CachedAnswer& answer,
                   std::chrono::milliseconds ttl);

  std::chrono::milliseconds DefaultTtl() const { return cfg_.ttl; }
  std::size_t MaxEntryBytes() const { return cfg_.max_entry_bytes; }
  config::CacheScope Scope() const { return cfg_.scope; }

 private:
  const config::CacheConfig cfg_;
  storage::kv::KvStore& store_;
  observability::Logger& log_;
  observability::Family<observability::Counter>& lookups_;
  observability::Counter& errors_;
};

}  // namespace bro::gateway
