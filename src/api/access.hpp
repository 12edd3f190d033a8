#pragma once

#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "auth/api_keys.hpp"
#include "http/server.hpp"
#include "identity/jwks.hpp"
#include "identity/permissions.hpp"
#include "identity/sessions.hpp"
#include "identity/users.hpp"
#include "observability/log.hpp"

namespace bro::api {

// A handler behind the gate: it runs only for a caller the permission table admits.
using GuardedHandler = std::function<Task<http::Response>(http::Exchange&, const auth::Principal&)>;

struct AccessOptions {
  bool require_mfa_for_admin = false;
  std::string session_cookie = "__Host-bro_session";
  auth::Role iap_default_role = auth::Role::kViewer;
};

// The single place where callers are identified and routes are authorized. Every route of the
// API listener is added through Add(), which looks its permission up in
// identity::PermissionTable() (a route missing from the table is a start-up error), resolves the
// caller — API key, bearer JWT of a configured issuer, IAP assertion, or session cookie — and
// then checks role, MFA for admin permissions, and the CSRF token for cookie-authenticated
// state-changing requests. Why a check failed goes to the log, never to the caller.
class AccessGate {
 public:
  AccessGate(auth::Authenticator& keys, AccessOptions options, observability::Logger& log);

  // Optional parts, wired by the composition root when configured.
  void UseUsers(identity::UserRepository& users);  // sessions, JWTs and IAP name users
  void UseSessions(identity::SessionStore& sessions);
  void AddBearerIssuer(identity::JwtVerifier& verifier);
  void UseIap(identity::JwtVerifier& verifier);

  void Add(http::Router& router, http::Verb method, std::string path, std::string name,
           GuardedHandler handler, std::size_t body_limit = 0);
  // Throws std::logic_error naming any route on `router` that has no rule in the table.
  static void CheckCoverage(const http::Router& router);

  const AccessOptions& Options() const { return options_; }
  auth::Authenticator& Keys() { return keys_; }

 private:
  using Resolved = std::variant<auth::Principal, http::Response>;
  Task<http::Response> Run(http::Exchange& ex, identity::Permission permission,
                           const GuardedHandler* handler);
  Task<Resolved> Resolve(http::Exchange& ex, identity::Permission permission);
  Task<std::optional<auth::Principal>> FromJwt(std::string token, std::string& reason);
  Task<std::optional<auth::Principal>> FromIap(std::string assertion, std::string& reason);
  Task<std::optional<auth::Principal>> FromSession(std::string id, std::string& reason);
  http::Response Deny(const http::Exchange& ex, http::Status status, std::string_view reason,
                      const auth::Principal* who);

  auth::Authenticator& keys_;
  AccessOptions options_;
  observability::Logger& log_;
  identity::SessionStore* sessions_ = nullptr;
  identity::UserRepository* users_ = nullptr;
  std::vector<identity::JwtVerifier*> bearer_;
  identity::JwtVerifier* iap_ = nullptr;
  std::deque<GuardedHandler> handlers_;  // stable addresses for the routes' closures
};

// Request helpers shared by the /api and /auth handlers.
std::optional<std::string> CookieValue(const http::Request& req, std::string_view name);
std::optional<std::string> QueryParam(std::string_view query, std::string_view name);
http::Response JsonError(const http::Exchange& ex, http::Status status, std::string code,
                         std::string message, std::string param = {});
// The request body as a JSON object (depth-limited), or nullopt.
std::optional<boost::json::object> BodyObject(const http::Request& req);
// "Set-Cookie" value; max_age < 0 deletes the cookie.
std::string CookieHeader(const std::string& name, const std::string& value, const std::string& path,
                         long long max_age_seconds, bool secure);

}  // namespace bro::api
