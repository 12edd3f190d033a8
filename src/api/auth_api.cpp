#include "api/auth_api.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <boost/json/serialize.hpp>
#include <optional>

#include "common/errors.hpp"
#include "common/random.hpp"

namespace bro::api {
namespace {

namespace json = boost::json;
using http::Status;

constexpr const char* kBindingCookie = "bro_login";
constexpr const char* kBindingPath = "/auth";

identity::AuditEvent LoginEvent(const http::Exchange& ex, std::string email, bool success,
                                std::string reason) {
  identity::AuditEvent e;
  e.actor_email = std::move(email);
  e.actor_method = "oidc";
  e.action = "login";
  e.target_type = "session";
  e.success = success;
  e.reason = std::move(reason);
  e.ip = ex.ClientIp();
  e.trace_id = ex.TraceId();
  return e;
}

http::Response Redirect(const http::Exchange& ex, const std::string& location) {
  http::Response res{Status::found, ex.Version()};
  res.set(http::Field::location, location);
  res.set(http::Field::cache_control, "no-store");
  res.prepare_payload();
  return res;
}

json::array Strings(const std::vector<std::string>& v) {
  json::array out;
  for (const auto& s : v) out.emplace_back(s);
  return out;
}

json::object LoginDetails(const std::vector<std::string>& amr, bool mfa, auth::Role role) {
  return {{"amr", Strings(amr)}, {"mfa", mfa}, {"role", auth::RoleName(role)}};
}

// Whom a login attempt is counted for: its client address, IPv6 clients per /64 (the usual
// allocation to one subscriber), so that one client cannot spread over its addresses.
std::string LoginSubject(const boost::asio::ip::address& a) {
  if (!a.is_v6() || a.to_v6().is_v4_mapped()) return "login:" + a.to_string();
  auto bytes = a.to_v6().to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return "login:" + boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

// Built outside the coroutine: GCC 12 mishandles braced temporaries in coroutine bodies.
limits::ReserveRequest LoginAttempt(const http::Exchange& ex, std::int64_t per_minute,
                                    const common::Clock& clock) {
  limits::ReserveRequest r;
  r.id = common::RandomHex(8);
  limits::Subject subject;
  subject.id = LoginSubject(ex.ClientAddress());
  subject.policy.requests_per_minute = per_minute;
  r.subjects.push_back(std::move(subject));
  r.now_ms = clock.NowMs();
  return r;
}

}  // namespace

AuthApi::AuthApi(AccessGate& gate, identity::OidcClient& oidc, identity::SessionStore& sessions,
                 identity::UserRepository& users, identity::AuditLog& audit, AuthApiOptions options,
                 const common::Clock& clock)
    : gate_(gate),
      oidc_(oidc),
      sessions_(sessions),
      users_(users),
      audit_(audit),
      options_(options),
      clock_(clock) {}

void AuthApi::Register(http::Router& router) {
  gate_.Add(router, http::Verb::get, "/auth/login", "/auth/login",
            [this](http::Exchange& ex, const auth::Principal&) { return Login(ex); });
  gate_.Add(router, http::Verb::get, "/auth/callback", "/auth/callback",
            [this](http::Exchange& ex, const auth::Principal&) { return Callback(ex); });
  gate_.Add(router, http::Verb::post, "/auth/logout", "/auth/logout",
            [this](http::Exchange& ex, const auth::Principal& who) { return Logout(ex, who); });
}

http::Response AuthApi::LoginFailed(const http::Exchange& ex) {
  // One answer for every failure: the reason is in the audit log, not for the caller.
  auto res = JsonError(ex, Status::unauthorized, "login_failed", "Login failed.");
  res.insert(http::Field::set_cookie,
             CookieHeader(kBindingCookie, "", kBindingPath, -1, options_.cookie_secure));
  res.set(http::Field::cache_control, "no-store");
  return res;
}

Task<http::Response> AuthApi::Login(http::Exchange& ex) {
  if (limiter_ != nullptr && options_.login_per_minute > 0) {
    auto attempt = LoginAttempt(ex, options_.login_per_minute, clock_);
    std::optional<limits::Decision> decision;
    try {
      decision = co_await limiter_->Reserve(std::move(attempt));
    } catch (const common::InfrastructureError&) {
      // The counter store is down: logins go on (see UseLimiter).
    }
    if (decision && !decision->admitted) {
      auto res = JsonError(ex, Status::too_many_requests, "too_many_logins",
                           "Too many logins from this address. Please try again later.");
      res.set(http::Field::retry_after, limits::RetryAfterSeconds(decision->retry_after));
      res.set(http::Field::cache_control, "no-store");
      co_return res;
    }
  }
  // Named, not a temporary: GCC 12 loses temporaries passed by value into a suspending coroutine.
  const std::string return_to =
      identity::SafeReturnPath(QueryParam(ex.Query(), "return_to").value_or("/"));
  auto start = co_await oidc_.Begin(return_to);
  auto res = Redirect(ex, start.redirect_url);
  const auto ttl = std::chrono::duration_cast<std::chrono::seconds>(oidc_.Options().login_ttl);
  res.insert(http::Field::set_cookie, CookieHeader(kBindingCookie, start.binding, kBindingPath,
                                                   ttl.count(), options_.cookie_secure));
  co_return res;
}

Task<http::Response> AuthApi::Callback(http::Exchange& ex) {
  const auto state = QueryParam(ex.Query(), "state").value_or("");
  const auto code = QueryParam(ex.Query(), "code").value_or("");
  const auto binding = CookieValue(ex.Req(), kBindingCookie).value_or("");
  if (auto error = QueryParam(ex.Query(), "error")) {
    // The issuer refused (user cancelled, consent denied...); burn the state anyway.
    if (!state.empty()) co_await oidc_.Finish(state, "-", "");
    co_await audit_.Record(LoginEvent(ex, "", false, "issuer_error_" + error->substr(0, 64)));
    co_return LoginFailed(ex);
  }
  auto result = co_await oidc_.Finish(state, code, binding);
  if (!result.identity) {
    co_await audit_.Record(LoginEvent(ex, "", false, result.failure));
    co_return LoginFailed(ex);
  }
  auto user = co_await users_.RecordLogin(*result.identity, options_.default_role,
                                          options_.first_user_admin, clock_.Now());
  std::string failure;
  if (!user) failure = "email_bound_to_another_subject";
  if (user && !user->active) failure = "user_deactivated";
  if (!failure.empty()) {
    co_await audit_.Record(LoginEvent(ex, result.identity->email, false, failure));
    co_return LoginFailed(ex);
  }
  // A session id the browser brought along is never promoted to a logged-in session: it is
  // destroyed, and the login gets a new id (no session fixation).
  if (auto old = CookieValue(ex.Req(), gate_.Options().session_cookie)) {
    co_await sessions_.Destroy(*old);
  }
  identity::SessionData data;
  data.user_id = user->id;
  data.email = user->email;
  data.amr = result.amr;
  data.mfa = result.mfa;
  auto session = co_await sessions_.Create(data);
  auto event = LoginEvent(ex, user->email, true, "");
  event.actor_user_id = user->id;
  event.target_id = user->id;
  event.target_type = "user";
  event.details = LoginDetails(result.amr, result.mfa, user->role);
  co_await audit_.Record(std::move(event));
  auto res = Redirect(ex, result.return_to);
  const auto max_age =
      std::chrono::duration_cast<std::chrono::seconds>(sessions_.Options().absolute_ttl);
  res.insert(http::Field::set_cookie, CookieHeader(gate_.Options().session_cookie, session.id, "/",
                                                   max_age.count(), options_.cookie_secure));
  res.insert(http::Field::set_cookie,
             CookieHeader(kBindingCookie, "", kBindingPath, -1, options_.cookie_secure));
  co_return res;
}

Task<http::Response> AuthApi::Logout(http::Exchange& ex, const auth::Principal& who) {
  if (who.method == "session") {
    if (auto id = CookieValue(ex.Req(), gate_.Options().session_cookie)) {
      co_await sessions_.Destroy(*id);
    }
  }
  identity::AuditEvent e;
  e.actor_user_id = who.user_id;
  e.actor_email = who.email;
  e.actor_method = who.method;
  e.action = "logout";
  e.target_type = "session";
  e.ip = ex.ClientIp();
  e.trace_id = ex.TraceId();
  co_await audit_.Record(std::move(e));
  auto res = http::MakeJson(Status::ok, R"({"logged_out":true})", ex.Version());
  res.insert(http::Field::set_cookie,
             CookieHeader(gate_.Options().session_cookie, "", "/", -1, options_.cookie_secure));
  co_return res;
}

}  // namespace bro::api
