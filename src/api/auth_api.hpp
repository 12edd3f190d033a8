#pragma once

#include "api/access.hpp"
#include "identity/audit.hpp"
#include "identity/oidc.hpp"

namespace bro::api {

struct AuthApiOptions {
  bool cookie_secure = true;
  auth::Role default_role = auth::Role::kViewer;
  bool first_user_admin = false;
};

// Browser login: /auth/login, /auth/callback (OIDC code flow, then a fresh session) and
// /auth/logout.
class AuthApi {
 public:
  AuthApi(AccessGate& gate, identity::OidcClient& oidc, identity::SessionStore& sessions,
          identity::UserRepository& users, identity::AuditLog& audit, AuthApiOptions options,
          const common::Clock& clock);
  void Register(http::Router& router);

 private:
  http::Task<http::Response> Login(http::Exchange& ex);
  http::Task<http::Response> Callback(http::Exchange& ex);
  http::Task<http::Response> Logout(http::Exchange& ex, const auth::Principal& who);
  http::Response LoginFailed(const http::Exchange& ex);

  AccessGate& gate_;
  identity::OidcClient& oidc_;
  identity::SessionStore& sessions_;
  identity::UserRepository& users_;
  identity::AuditLog& audit_;
  AuthApiOptions options_;
  const common::Clock& clock_;
};

}  // namespace bro::api
