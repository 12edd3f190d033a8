#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "common/time.hpp"
#include "identity/http_fetch.hpp"
#include "identity/jwt.hpp"

namespace bro::identity {

struct JwksOptions {
  std::chrono::milliseconds refresh = std::chrono::hours(1);  // keys older than this are refetched
  // An unknown kid triggers a refetch (key rotation), but at most this often: tokens with
  // made-up kids cannot turn into a flood of requests to the issuer.
  std::chrono::milliseconds min_refetch = std::chrono::seconds(30);
};

// One issuer's signing keys, fetched from its JWKS URL and cached.
class JwksCache {
 public:
  JwksCache(HttpFetcher& fetcher, std::string url, JwksOptions options, const common::Clock& clock)
      : fetcher_(fetcher), url_(std::move(url)), options_(options), clock_(clock) {}
  // The keys to try for `kid`. Throws FetchError when no keys were ever obtained.
  Task<std::vector<PublicKey>> KeysFor(std::string kid);
  std::size_t Fetches() const;

 private:
  Task<void> Refetch();

  HttpFetcher& fetcher_;
  std::string url_;
  JwksOptions options_;
  const common::Clock& clock_;
  mutable std::mutex mu_;
  std::vector<PublicKey> keys_;
  std::optional<std::chrono::system_clock::time_point> fetched_at_;
  std::optional<std::chrono::system_clock::time_point> attempted_at_;
  std::size_t fetches_ = 0;
};

// Verifies JWTs of one issuer: its policy (issuer, audiences, pinned algorithms, skew) and its
// keys from a JwksCache.
class JwtVerifier {
 public:
  JwtVerifier(HttpFetcher& fetcher, std::string jwks_url, JwtPolicy policy, JwksOptions options,
              const common::Clock& clock)
      : keys_(fetcher, std::move(jwks_url), options, clock),
        policy_(std::move(policy)),
        clock_(clock) {}
  Task<std::variant<boost::json::object, JwtError>> Verify(std::string token);
  const JwtPolicy& Policy() const { return policy_; }
  JwksCache& Keys() { return keys_; }

 private:
  JwksCache keys_;
  JwtPolicy policy_;
  const common::Clock& clock_;
};

}  // namespace bro::identity
