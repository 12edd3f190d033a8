#include "api/access.hpp"

#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>
#include <stdexcept>

#include "api/openai_api.hpp"

namespace bro::api {
namespace {

namespace json = boost::json;
using http::Status;
using identity::Permission;

constexpr std::size_t kMaxCookieHeader = 8192;
constexpr std::string_view kIapHeader = "x-goog-iap-jwt-assertion";
constexpr std::string_view kCsrfHeader = "x-csrf-token";

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size() || a.empty()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

bool IStartsWith(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(s[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

bool Unsafe(http::Verb v) {
  return v != http::Verb::get && v != http::Verb::head && v != http::Verb::options;
}

// No Origin (not a browser, or a same-origin GET-style navigation) or one naming this host.
bool SameOrigin(std::string_view origin, std::string_view host) {
  if (origin.empty()) return true;
  for (std::string_view scheme : {"https://", "http://"}) {
    if (origin.starts_with(scheme) && origin.substr(scheme.size()) == host && !host.empty()) {
      return true;
    }
  }
  return false;
}

auth::Principal UserPrincipal(const auth::User& u, std::string method) {
  auth::Principal p;
  p.user_id = u.id;
  p.email = u.email;
  p.role = u.role;
  p.method = std::move(method);
  return p;
}

}  // namespace

std::optional<std::string> CookieValue(const http::Request& req, std::string_view name) {
  auto [first, last] = req.equal_range(http::Field::cookie);
  for (auto it = first; it != last; ++it) {
    std::string_view header = it->value();
    if (header.size() > kMaxCookieHeader) return std::nullopt;
    while (!header.empty()) {
      const auto semi = header.find(';');
      auto pair = header.substr(0, semi);
      header = semi == std::string_view::npos ? std::string_view() : header.substr(semi + 1);
      while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
      const auto eq = pair.find('=');
      if (eq == std::string_view::npos) continue;
      if (pair.substr(0, eq) == name) return std::string(pair.substr(eq + 1));
    }
  }
  return std::nullopt;
}

std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  if (query.empty()) return std::nullopt;
  // Boost.URL 1.81 parse_query() re-reads its input through the bare data pointer (a strlen up
  // to the next NUL): the view must end in a NUL, so parse a copy. Without it the last parameter
  // ran on into the request line (" HTTP/1.1"), and an empty query crashed.
  const std::string terminated(query);
  auto params = boost::urls::parse_query(terminated);
  if (!params) return std::nullopt;
  for (const auto& p : *params) {
    if (p.key == name) return p.value.decode();
  }
  return std::nullopt;
}

http::Response JsonError(const http::Exchange& ex, Status status, std::string code,
                         std::string message, std::string param) {
  const bool client_error = static_cast<unsigned>(status) < 500;
  return http::MakeError({status, client_error ? "invalid_request_error" : "server_error",
                          std::move(code), std::move(message), std::move(param)},
                         ex.Version());
}

std::optional<json::object> BodyObject(const http::Request& req) {
  json::parse_options opts;
  opts.max_depth = 16;
  boost::system::error_code ec;
  auto v = json::parse(req.body(), ec, {}, opts);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

std::string CookieHeader(const std::string& name, const std::string& value, const std::string& path,
                         long long max_age_seconds, bool secure) {
  std::string out = name + "=" + (max_age_seconds < 0 ? std::string() : value) + "; Path=" + path +
                    "; Max-Age=" + std::to_string(max_age_seconds < 0 ? 0 : max_age_seconds) +
                    "; HttpOnly; SameSite=Lax";
  if (secure) out += "; Secure";
  return out;
}

AccessGate::AccessGate(auth::Authenticator& keys, AccessOptions options, observability::Logger& log)
    : keys_(keys), options_(std::move(options)), log_(log) {}

void AccessGate::UseUsers(identity::UserRepository& users) {
  users_ = &users;
}

void AccessGate::UseSessions(identity::SessionStore& sessions) {
  sessions_ = &sessions;
}

void AccessGate::AddBearerIssuer(identity::JwtVerifier& verifier) {
  bearer_.push_back(&verifier);
}

void AccessGate::UseIap(identity::JwtVerifier& verifier) {
  iap_ = &verifier;
}

void AccessGate::Add(http::Router& router, http::Verb method, std::string path, std::string name,
                     GuardedHandler handler, std::size_t body_limit) {
  const auto* rule = identity::FindRule(method, path);
  if (rule == nullptr) {
    throw std::logic_error("route " + std::string(http::beast::http::to_string(method)) + " " +
                           path + " has no rule in identity::PermissionTable()");
  }
  handlers_.push_back(std::move(handler));
  const GuardedHandler* h = &handlers_.back();
  const Permission permission = rule->permission;
  router.Add({method, std::move(path), std::move(name),
              [this, permission, h](http::Exchange& ex) { return Run(ex, permission, h); },
              body_limit});
}

void AccessGate::CheckCoverage(const http::Router& router) {
  for (const auto& r : router.Routes()) {
    if (identity::FindRule(r.method, r.path) == nullptr) {
      throw std::logic_error("route " + std::string(http::beast::http::to_string(r.method)) + " " +
                             r.path + " has no rule in identity::PermissionTable()");
    }
  }
}

Task<http::Response> AccessGate::Run(http::Exchange& ex, Permission permission,
                                     const GuardedHandler* handler) {
  auto resolved = co_await Resolve(ex, permission);
  if (auto* denied = std::get_if<http::Response>(&resolved)) co_return std::move(*denied);
  const auto& principal = std::get<auth::Principal>(resolved);
  if (!principal.Anonymous()) {
    json::object who{{"user_id", principal.user_id}, {"method", principal.method}};
    if (!principal.key_prefix.empty()) who["key_prefix"] = principal.key_prefix;
    ex.LogFields()["principal"] = std::move(who);
  }
  co_return co_await (*handler)(ex, principal);
}

http::Response AccessGate::Deny(const http::Exchange& ex, Status status, std::string_view reason,
                                const auth::Principal* who) {
  json::object fields{{"reason", reason},
                      {"path", ex.Path()},
                      {"ip", ex.ClientIp()},
                      {"logging.googleapis.com/trace", log_.TraceResource(ex.TraceId())}};
  if (who != nullptr) {
    fields["user_id"] = who->user_id;
    fields["method"] = who->method;
    fields["role"] = auth::RoleName(who->role);
  }
  log_.Warning(status == Status::unauthorized ? "authentication failed" : "access denied",
               std::move(fields));
  if (status == Status::unauthorized) {
    if (ex.Path().starts_with("/v1/")) return Unauthorized(ex);
    auto res = JsonError(ex, status, "unauthenticated", "Authentication required.");
    res.set(http::Field::www_authenticate, "Bearer");
    return res;
  }
  if (reason == "mfa_required") {
    return JsonError(ex, status, "mfa_required",
                     "This action needs a login with multi-factor authentication.");
  }
  if (reason == "csrf_token_missing_or_wrong") {
    return JsonError(ex, status, "csrf_failed", "Missing or invalid X-CSRF-Token header.");
  }
  if (reason == "cross_origin_write") {
    return JsonError(ex, status, "csrf_failed", "Cross-origin writes are not allowed.");
  }
  return JsonError(
      ex, status, "insufficient_permissions",
      "Your role (" +
          std::string(auth::RoleName(who != nullptr ? who->role : auth::Role::kViewer)) +
          ") does not allow this.");
}

Task<std::optional<auth::Principal>> AccessGate::FromJwt(std::string token, std::string& reason) {
  // Pick the issuer by the (unverified) iss claim; everything is verified by that issuer's
  // verifier afterwards.
  auto decoded = identity::DecodeJwt(token);
  if (std::holds_alternative<identity::JwtError>(decoded)) {
    reason = "jwt_malformed";
    co_return std::nullopt;
  }
  const auto iss = identity::ClaimString(std::get<identity::DecodedJwt>(decoded).claims, "iss");
  identity::JwtVerifier* verifier = nullptr;
  for (auto* v : bearer_) {
    if (v->Policy().issuer == iss) verifier = v;
  }
  if (verifier == nullptr || users_ == nullptr) {
    reason = "jwt_issuer_not_configured";
    co_return std::nullopt;
  }
  auto verified = co_await verifier->Verify(std::move(token));
  if (auto* e = std::get_if<identity::JwtError>(&verified)) {
    reason = "jwt_" + std::string(identity::JwtErrorName(*e));
    co_return std::nullopt;
  }
  const auto email = identity::ClaimString(std::get<json::object>(verified), "email");
  if (email.empty()) {
    reason = "jwt_no_email";
    co_return std::nullopt;
  }
  auto user = co_await users_->FindByEmail(email);
  if (!user || !user->active) {
    reason = "jwt_user_unknown_or_inactive";
    co_return std::nullopt;
  }
  co_return UserPrincipal(*user, "jwt");
}

Task<std::optional<auth::Principal>> AccessGate::FromIap(std::string assertion,
                                                         std::string& reason) {
  auto verified = co_await iap_->Verify(std::move(assertion));
  if (auto* e = std::get_if<identity::JwtError>(&verified)) {
    reason = "iap_" + std::string(identity::JwtErrorName(*e));
    co_return std::nullopt;
  }
  const auto& claims = std::get<json::object>(verified);
  const auto email = identity::ClaimString(claims, "email");
  const auto subject = identity::ClaimString(claims, "sub");
  if (email.empty() || email.size() > 320 || subject.empty() || users_ == nullptr) {
    reason = "iap_no_identity";
    co_return std::nullopt;
  }
  auto user = co_await users_->FindByEmail(email);
  if (!user) {
    identity::LoginIdentity who;
    who.email = email;
    who.subject = subject;
    user = co_await users_->RecordLogin(who, options_.iap_default_role, false,
                                        std::chrono::system_clock::now());
  }
  if (!user || !user->active) {
    reason = "iap_user_inactive";
    co_return std::nullopt;
  }
  co_return UserPrincipal(*user, "iap");
}

Task<std::optional<auth::Principal>> AccessGate::FromSession(std::string id, std::string& reason) {
  auto session = co_await sessions_->Find(std::move(id));
  if (!session) {
    reason = "session_unknown_or_expired";
    co_return std::nullopt;
  }
  auto user = co_await users_->FindById(session->user_id);
  if (!user || !user->active) {
    reason = "session_user_inactive";
    co_return std::nullopt;
  }
  auto p = UserPrincipal(*user, "session");
  p.mfa = session->mfa;
  p.csrf_token = session->csrf_token;
  co_return p;
}

Task<AccessGate::Resolved> AccessGate::Resolve(http::Exchange& ex, Permission permission) {
  const auto& req = ex.Req();
  const std::string authorization(req[http::Field::authorization]);
  const std::string iap_assertion(req[kIapHeader]);
  std::optional<auth::Principal> principal;
  std::string reason;
  std::optional<std::string> session_id;
  if (sessions_ != nullptr && users_ != nullptr) {
    session_id = CookieValue(req, options_.session_cookie);
  }

  if (!authorization.empty()) {
    if (IStartsWith(authorization, "Bearer sk-bro-")) {
      principal = co_await keys_.Authenticate(authorization);
      if (!principal) reason = "invalid_api_key";
    } else if (IStartsWith(authorization, "Bearer ") && !bearer_.empty()) {
      principal = co_await FromJwt(authorization.substr(7), reason);
    } else {
      reason = "unsupported_authorization";
    }
  } else if (!iap_assertion.empty() && iap_ != nullptr) {
    principal = co_await FromIap(iap_assertion, reason);
  } else if (session_id) {
    principal = co_await FromSession(*session_id, reason);
    session_id.reset();
  }

  if (permission == Permission::kPublic) {
    if (!principal) principal.emplace();
    co_return std::move(*principal);
  }
  if (!principal) {
    if (reason.empty()) reason = "no_credentials";
    co_return Deny(ex, Status::unauthorized, reason, nullptr);
  }
  if (!identity::RoleHas(principal->role, permission)) {
    co_return Deny(ex, Status::forbidden,
                   "role_lacks_" + std::string(identity::PermissionName(permission)), &*principal);
  }
  if (identity::IsAdminPermission(permission) && options_.require_mfa_for_admin &&
      !principal->mfa) {
    co_return Deny(ex, Status::forbidden, "mfa_required", &*principal);
  }
  // Cookies ride along on cross-site requests; a header the attacker's page cannot read or set
  // proves the request came from our own page.
  if (principal->method == "session" && Unsafe(req.method()) &&
      !ConstantTimeEquals(req[kCsrfHeader], principal->csrf_token)) {
    co_return Deny(ex, Status::forbidden, "csrf_token_missing_or_wrong", &*principal);
  }
  // IAP signs in browsers with its own cookie and adds the assertion to every request that
  // carries it, cross-site ones included; there is no session to hold a CSRF token, so writes
  // need a strict Origin check instead (browsers send Origin on every cross-origin write).
  if (principal->method == "iap" && Unsafe(req.method()) &&
      !SameOrigin(req[http::Field::origin], req[http::Field::host])) {
    co_return Deny(ex, Status::forbidden, "cross_origin_write", &*principal);
  }
  co_return std::move(*principal);
}

}  // namespace bro::api
