#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/time.hpp"
#include "identity/http_fetch.hpp"
#include "identity/jwks.hpp"
#include "identity/users.hpp"
#include "storage/kv/kv_store.hpp"

namespace bro::identity {

struct OidcOptions {
  std::string issuer = "https://accounts.google.com";
  std::string discovery_url;  // default: issuer + "/.well-known/openid-configuration"
  std::string client_id;
  std::string client_secret;
  std::string redirect_uri;  // this service's /auth/callback as the browser reaches it
  std::string scopes = "openid email profile";
  std::vector<JwtAlg> algorithms{JwtAlg::kRS256};
  std::chrono::seconds skew{60};
  std::vector<std::string> allowed_domains;  // empty: any verified email
  std::vector<std::string> mfa_amr;          // amr values that count as MFA
  std::chrono::milliseconds login_ttl = std::chrono::minutes(10);
  JwksOptions jwks;
};

struct Discovery {
  std::string issuer;
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
};

// Parses and checks a discovery document (size-limited JSON; issuer must equal the configured
// one; endpoints must be https, or http on the issuer's own http origin for loopback tests).
std::variant<Discovery, std::string> ParseDiscovery(std::string_view document,
                                                    const std::string& expected_issuer);
inline constexpr std::size_t kMaxDiscoveryBytes = 64 * 1024;
inline constexpr std::size_t kMaxTokenResponseBytes = 64 * 1024;

// A return path after login: a same-site absolute path only ("/x?y"), never a URL or "//host"
// (no open redirect). Anything else becomes "/".
std::string SafeReturnPath(std::string_view requested);

// The authorization code flow with PKCE (S256), state and nonce. The state, the nonce, the PKCE
// verifier and a hash of a per-browser binding value are kept one-time in the KvStore under the
// state: Take() makes a replayed state fail, and the binding cookie makes a state that was
// started in another browser fail (login CSRF).
class OidcClient {
 public:
  OidcClient(OidcOptions options, HttpFetcher& fetcher, storage::kv::KvStore& kv,
             const common::Clock& clock);

  struct Start {
    std::string redirect_url;  // the issuer's authorization endpoint with our parameters
    std::string binding;       // set as a short-lived cookie scoped to /auth
  };
  Task<Start> Begin(std::string return_to);

  struct Result {
    std::optional<LoginIdentity> identity;
    std::vector<std::string> amr;
    bool mfa = false;
    std::string return_to = "/";
    std::string failure;  // why, for the audit log; empty on success
  };
  Task<Result> Finish(std::string state, std::string code, std::string binding);

  const OidcOptions& Options() const { return options_; }

 private:
  Task<Discovery> Discover();
  Task<JwtVerifier*> IdTokenVerifier();

  OidcOptions options_;
  HttpFetcher& fetcher_;
  storage::kv::KvStore& kv_;
  const common::Clock& clock_;
  std::mutex mu_;
  std::optional<Discovery> discovery_;
  std::unique_ptr<JwtVerifier> verifier_;
};

}  // namespace bro::identity
