#pragma once

#include "api/access.hpp"
#include "identity/audit.hpp"
#include "identity/oidc.hpp"
#include "limits/limiter.hpp"

namespace bro::api {

struct AuthApiOptions {
  bool cookie_secure = true;
  auth::Role default_role = auth::Role::kViewer;
  bool first_user_admin = false;
  // Logins one client address may start per minute (0: no limit); counted in UseLimiter's
  // limiter, so that N replicas share the budget when it lives in Redis.
  std::int64_t login_per_minute = 0;
};

// Browser login: /auth/login, /auth/callback (OIDC code flow, then a fresh session) and
// /auth/logout.
class AuthApi {
 public:
  AuthApi(AccessGate& gate, identity::OidcClient& oidc, identity::SessionStore& sessions,
          identity::UserRepository& users, identity::AuditLog& audit, AuthApiOptions options,
          const common::Clock& clock);
  void Register(http::Router& router);
  // Where login_per_minute is counted (subject "login:<client address>"). When the limiter
  // cannot answer (Redis down) logins go on: signing in must not depend on the counter store.
  void UseLimiter(limits::Limiter& limiter) { limiter_ = &limiter; }

 private:
  Task<http::Response> Login(http::Exchange& ex);
  Task<http::Response> Callback(http::Exchange& ex);
  Task<http::Response> Logout(http::Exchange& ex, const auth::Principal& who);
  http::Response LoginFailed(const http::Exchange& ex);

  AccessGate& gate_;
  identity::OidcClient& oidc_;
  identity::SessionStore& sessions_;
  identity::UserRepository& users_;
  identity::AuditLog& audit_;
  AuthApiOptions options_;
  const common::Clock& clock_;
  limits::Limiter* limiter_ = nullptr;
};

}  // namespace bro::api
