#include "api/users_api.hpp"

#include <boost/json/serialize.hpp>
#include <charconv>

namespace bro::api {
namespace {

namespace json = boost::json;
using http::Status;

constexpr std::string_view kUsersPrefix = "/api/v1/users/";

json::object UserJson(const identity::UserRecord& u) {
  return {
      {"id", u.user.id},
      {"object", "user"},
      {"email", u.user.email},
      {"name", u.display_name},
      {"role", auth::RoleName(u.user.role)},
      {"active", u.user.active},
      {"created_at", u.created_at},
      {"last_login_at", u.last_login_at ? json::value(*u.last_login_at) : json::value(nullptr)}};
}

std::optional<int> IntParam(std::string_view query, std::string_view name, int def, int min,
                            int max) {
  auto v = QueryParam(query, name);
  if (!v) return def;
  int out = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc{} || p != v->data() + v->size() || out < min || out > max) {
    return std::nullopt;
  }
  return out;
}

bool SafeToken(const std::string& s, std::size_t max) {
  return s.size() <= max && std::all_of(s.begin(), s.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
                  c == ':' || c == '@' || c == '+';
         });
}

identity::AuditEvent UserEvent(const http::Exchange& ex, const auth::Principal& who,
                               std::string action, const std::string& target,
                               json::object details) {
  identity::AuditEvent e;
  e.actor_user_id = who.user_id;
  e.actor_email = who.email;
  e.actor_method = who.method;
  e.action = std::move(action);
  e.target_type = "user";
  e.target_id = target;
  e.ip = ex.ClientIp();
  e.trace_id = ex.TraceId();
  e.details = std::move(details);
  return e;
}

json::object AuditJson(const identity::AuditRecord& r) {
  return identity::AuditEventJson({{"id", r.id}, {"created_at", r.created_at}}, r.event);
}

// Built outside the coroutine: GCC 12 mishandles initializer lists in coroutine bodies.
std::string InvalidAuditParam(const identity::AuditFilter& f) {
  const std::pair<const char*, const std::string*> params[] = {
      {"action", &f.action}, {"actor", &f.actor_user_id}, {"target", &f.target_id},
      {"since", &f.since},   {"until", &f.until},         {"cursor", &f.before_id}};
  for (const auto& [name, value] : params) {
    if (!SafeToken(*value, 64)) return name;
  }
  if (!f.outcome.empty() && f.outcome != "success" && f.outcome != "failure") return "outcome";
  return {};
}

}  // namespace

UsersApi::UsersApi(AccessGate& gate, identity::UserRepository& users, identity::AuditLog& audit,
                   const common::Clock& clock)
    : gate_(gate), users_(users), audit_(audit), clock_(clock) {}

void UsersApi::Register(http::Router& router) {
  gate_.Add(router, http::Verb::get, "/api/v1/me", "/api/v1/me",
            [this](http::Exchange& ex, const auth::Principal& p) { return Me(ex, p); });
  gate_.Add(router, http::Verb::get, "/api/v1/users", "/api/v1/users",
            [this](http::Exchange& ex, const auth::Principal& p) { return List(ex, p); });
  gate_.Add(router, http::Verb::patch, "/api/v1/users/*", "/api/v1/users/{id}",
            [this](http::Exchange& ex, const auth::Principal& p) { return Update(ex, p); });
}

Task<http::Response> UsersApi::Me(http::Exchange& ex, const auth::Principal& who) {
  json::object body;
  body["object"] = "me";
  body["id"] = who.user_id;
  body["email"] = who.email;
  body["role"] = auth::RoleName(who.role);
  body["method"] = who.method;
  body["mfa"] = who.mfa;
  if (!who.key_prefix.empty()) body["key_prefix"] = who.key_prefix;
  // The page needs the token to send it back on writes; only a same-origin script can read it.
  if (!who.csrf_token.empty()) body["csrf_token"] = who.csrf_token;
  co_return http::MakeJson(Status::ok, json::serialize(body), ex.Version());
}

Task<http::Response> UsersApi::List(http::Exchange& ex, const auth::Principal&) {
  const auto limit = IntParam(ex.Query(), "limit", 50, 1, 200);
  const auto after = QueryParam(ex.Query(), "after").value_or("");
  if (!limit)
    co_return JsonError(ex, Status::bad_request, "invalid_value", "limit must be 1-200.", "limit");
  if (!SafeToken(after, 64)) {
    co_return JsonError(ex, Status::bad_request, "invalid_value", "Invalid cursor.", "after");
  }
  auto users = co_await users_.List(*limit, after);
  json::array data;
  for (const auto& u : users) data.push_back(UserJson(u));
  json::object body;
  body["object"] = "list";
  body["next_cursor"] = static_cast<int>(users.size()) == *limit ? json::value(users.back().user.id)
                                                                 : json::value(nullptr);
  body["data"] = std::move(data);
  co_return http::MakeJson(Status::ok, json::serialize(body), ex.Version());
}

Task<http::Response> UsersApi::Update(http::Exchange& ex, const auth::Principal& who) {
  const std::string id(ex.Path().substr(kUsersPrefix.size()));
  if (id.empty() || !SafeToken(id, 64)) {
    co_return JsonError(ex, Status::not_found, "user_not_found", "No such user.");
  }
  auto body = BodyObject(ex.Req());
  if (!body) {
    co_return JsonError(ex, Status::bad_request, "invalid_json", "The body must be a JSON object.");
  }
  std::optional<auth::Role> role;
  std::optional<bool> active;
  for (const auto& [k, v] : *body) {
    if (k == "role" && v.is_string() && auth::ParseRole(v.as_string())) {
      role = auth::ParseRole(v.as_string());
    } else if (k == "active" && v.is_bool()) {
      active = v.as_bool();
    } else {
      co_return JsonError(ex, Status::bad_request, "invalid_value",
                          "Only role (admin|developer|viewer) and active (boolean) can be set.",
                          std::string(k));
    }
  }
  if (!role && !active) {
    co_return JsonError(ex, Status::bad_request, "invalid_value", "Nothing to change.");
  }
  if (id == who.user_id && active == false) {
    co_return JsonError(ex, Status::bad_request, "invalid_value",
                        "Admins cannot deactivate themselves.", "active");
  }
  auto before = co_await users_.FindById(id);
  if (!before) co_return JsonError(ex, Status::not_found, "user_not_found", "No such user.");
  auto after = co_await users_.Update(id, role, active, clock_.Now());
  if (!after) co_return JsonError(ex, Status::not_found, "user_not_found", "No such user.");
  gate_.Keys().ForgetUser(id);
  if (role && *role != before->role) {
    json::object details;
    details["from"] = auth::RoleName(before->role);
    details["to"] = auth::RoleName(*role);
    details["email"] = after->email;
    co_await audit_.Record(UserEvent(ex, who, "user.role_change", id, std::move(details)));
  }
  if (active && *active != before->active) {
    json::object details;
    details["email"] = after->email;
    co_await audit_.Record(
        UserEvent(ex, who, *active ? "user.activate" : "user.deactivate", id, std::move(details)));
  }
  identity::UserRecord rec;
  rec.user = *after;
  co_return http::MakeJson(Status::ok, json::serialize(UserJson(rec)), ex.Version());
}

void AuditApi::Register(http::Router& router) {
  gate_.Add(router, http::Verb::get, "/api/v1/audit", "/api/v1/audit",
            [this](http::Exchange& ex, const auth::Principal&) { return Query(ex); });
}

Task<http::Response> AuditApi::Query(http::Exchange& ex) {
  identity::AuditFilter f;
  const auto q = ex.Query();
  f.action = QueryParam(q, "action").value_or("");
  f.actor_user_id = QueryParam(q, "actor").value_or("");
  f.target_id = QueryParam(q, "target").value_or("");
  f.outcome = QueryParam(q, "outcome").value_or("");
  f.since = QueryParam(q, "since").value_or("");
  f.until = QueryParam(q, "until").value_or("");
  f.before_id = QueryParam(q, "cursor").value_or("");
  const auto limit = IntParam(q, "limit", 50, 1, 200);
  std::string bad = InvalidAuditParam(f);
  if (!limit) bad = "limit";
  if (!bad.empty()) {
    co_return JsonError(ex, Status::bad_request, "invalid_value", "Invalid query parameter.", bad);
  }
  f.limit = *limit;
  auto rows = co_await audit_.Query(f);
  json::array data;
  for (const auto& r : rows) data.push_back(AuditJson(r));
  json::object body;
  body["object"] = "list";
  body["next_cursor"] =
      static_cast<int>(rows.size()) == f.limit ? json::value(rows.back().id) : json::value(nullptr);
  body["data"] = std::move(data);
  co_return http::MakeJson(Status::ok, json::serialize(body), ex.Version());
}

}  // namespace bro::api
