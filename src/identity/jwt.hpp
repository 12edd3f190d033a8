#pragma once

// A small JWT (RFC 7519) and JWK (RFC 7517) verifier written directly on OpenSSL 3.
//
// Why not a packaged library: Debian 12 ships libjwt 1.10, which cannot read JWKs (the form in
// which every OpenID Provider and Google IAP publish their keys) and takes the algorithm from the
// token header. Here the algorithm is pinned by the key and by the issuer's configuration, never
// chosen by the token: `alg: none`, HMAC algorithms and any mismatch between the header and the
// key are refused before any cryptography runs. Only RS256 (RSA >= 2048 bits) and ES256 (P-256)
// are supported, which covers Google Identity, IAP and common OIDC providers.

#include <boost/json/object.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

struct evp_pkey_st;

namespace bro::identity {

inline constexpr std::size_t kMaxTokenBytes = 8 * 1024;
inline constexpr std::size_t kMaxJwksBytes = 256 * 1024;
inline constexpr std::size_t kMaxJwksKeys = 64;

enum class JwtAlg { kRS256, kES256 };
// A JSON object at most 16 levels deep, or nullopt (any other value, or not JSON at all).
std::optional<boost::json::object> ParseJsonObject(std::string_view text);

std::optional<JwtAlg> ParseJwtAlg(std::string_view name);
std::string_view JwtAlgName(JwtAlg alg);

// A verification key from a JWKS document; its algorithm follows from its type (RSA -> RS256,
// EC P-256 -> ES256) and must agree with the JWK's own `alg` when that is given.
struct PublicKey {
  std::string kid;
  JwtAlg alg = JwtAlg::kRS256;
  std::shared_ptr<evp_pkey_st> pkey;
};

// A JWK as a key, or why it is not usable (wrong type, curve, size, use, encoding).
std::variant<PublicKey, std::string> ParseJwk(const boost::json::object& jwk);
// A JWKS document ({"keys": [...]}) as its usable keys; keys that cannot be used for RS256/ES256
// signatures are skipped. An error string when the document itself is malformed or too large.
std::variant<std::vector<PublicKey>, std::string> ParseJwks(std::string_view document);

enum class JwtError {
  kMalformed,       // not three strict base64url parts of JSON objects, too large, `crit`
  kAlgNotAllowed,   // none, HS*, anything not configured, or not the key's algorithm
  kUnknownKey,      // no key with this kid
  kBadSignature,    // signature does not verify (tampered header, payload or signature)
  kWrongIssuer,     // iss
  kWrongAudience,   // aud
  kExpired,         // exp (+ skew) passed, or exp missing
  kNotYetValid,     // nbf in the future (beyond skew)
  kIssuedInFuture,  // iat in the future (beyond skew)
};
std::string_view JwtErrorName(JwtError e);

// A token split and decoded, not yet trusted.
struct DecodedJwt {
  boost::json::object header;
  boost::json::object claims;
  std::string alg;  // as the header says; only compared, never used to pick an algorithm
  std::string kid;
  std::string signing_input;  // base64url(header) "." base64url(payload)
  std::string signature;
};
std::variant<DecodedJwt, JwtError> DecodeJwt(std::string_view token);

struct JwtPolicy {
  std::string issuer;
  std::vector<std::string> audiences;  // aud must contain one of them
  std::vector<JwtAlg> algorithms;      // pinned by configuration
  std::chrono::seconds skew{60};
};

// Verifies signature and registered claims; the claims when all hold. `keys` are the issuer's
// current keys; the key is chosen by kid (a token without kid is accepted only when exactly one
// key of an allowed algorithm exists).
std::variant<boost::json::object, JwtError> VerifyJwt(const DecodedJwt& token,
                                                      const std::vector<PublicKey>& keys,
                                                      const JwtPolicy& policy,
                                                      std::chrono::system_clock::time_point now);

// A string claim, or empty.
std::string ClaimString(const boost::json::object& claims, std::string_view name);
// A string-array claim (a lone string counts as one element).
std::vector<std::string> ClaimStrings(const boost::json::object& claims, std::string_view name);

}  // namespace bro::identity
