#include "identity/jwks.hpp"

#include <algorithm>

namespace bro::identity {

std::size_t JwksCache::Fetches() const {
  std::lock_guard lock(mu_);
  return fetches_;
}

Task<void> JwksCache::Refetch() {
  auto response = co_await fetcher_.Get(url_, kMaxJwksBytes);
  if (response.status != 200) {
    throw FetchError("JWKS " + url_ + " answered " + std::to_string(response.status));
  }
  auto parsed = ParseJwks(response.body);
  if (auto* error = std::get_if<std::string>(&parsed)) {
    throw FetchError("JWKS " + url_ + ": " + *error);
  }
  std::lock_guard lock(mu_);
  keys_ = std::move(std::get<std::vector<PublicKey>>(parsed));
  fetched_at_ = clock_.Now();
}

Task<std::vector<PublicKey>> JwksCache::KeysFor(std::string kid) {
  const auto now = clock_.Now();
  bool fetch = false;
  {
    std::lock_guard lock(mu_);
    const bool known = kid.empty() || std::any_of(keys_.begin(), keys_.end(),
                                                  [&](const PublicKey& k) { return k.kid == kid; });
    const bool stale = !fetched_at_ || now - *fetched_at_ >= options_.refresh;
    const bool may_refetch = !attempted_at_ || now - *attempted_at_ >= options_.min_refetch;
    if ((stale || !known) && may_refetch) {
      attempted_at_ = now;
      ++fetches_;
      fetch = true;
    }
  }
  if (fetch) {
    bool failed = false;
    std::string error;
    try {
      co_await Refetch();
    } catch (const FetchError& e) {
      failed = true;
      error = e.what();
    }
    // Old keys keep working through an outage of the issuer; without any key there is
    // nothing to verify with.
    std::lock_guard lock(mu_);
    if (failed && !fetched_at_) throw FetchError(error);
  }
  std::vector<PublicKey> out;
  {
    std::lock_guard lock(mu_);
    if (!fetched_at_) throw FetchError("no keys from " + url_ + " yet");
    out = keys_;
  }
  co_return out;
}

Task<std::variant<boost::json::object, JwtError>> JwtVerifier::Verify(std::string token) {
  auto decoded = DecodeJwt(token);
  if (auto* e = std::get_if<JwtError>(&decoded)) co_return *e;
  const auto& jwt = std::get<DecodedJwt>(decoded);
  // Refuse algorithms we would never accept before asking the issuer for keys.
  const auto alg = ParseJwtAlg(jwt.alg);
  if (!alg || std::find(policy_.algorithms.begin(), policy_.algorithms.end(), *alg) ==
                  policy_.algorithms.end()) {
    co_return JwtError::kAlgNotAllowed;
  }
  auto keys = co_await keys_.KeysFor(jwt.kid);
  co_return VerifyJwt(jwt, keys, policy_, clock_.Now());
}

}  // namespace bro::identity
