#include "api/keys_api.hpp"

#include <boost/json/serialize.hpp>

#include "common/time.hpp"

namespace bro::api {
namespace {

namespace json = boost::json;
using http::Status;

constexpr std::size_t kMaxName = 100;
constexpr std::size_t kMaxModels = 100;
constexpr std::size_t kMaxModelName = 256;
constexpr std::int64_t kMaxExpiryHours = 24 * 365 * 10;
constexpr std::string_view kKeysPrefix = "/api/v1/keys/";

json::value Opt(const std::optional<std::string>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

json::object KeyJson(const auth::KeyInfo& k) {
  json::array models;
  for (const auto& m : k.allowed_models) models.emplace_back(m);
  return {{"id", k.id},
          {"object", "api_key"},
          {"name", k.name},
          {"prefix", k.prefix},
          {"role", auth::RoleName(k.role)},
          {"user_id", k.user_id},
          {"user_email", k.user_email},
          {"allowed_models", std::move(models)},
          {"created_at", k.created_at},
          {"expires_at", Opt(k.expires_at)},
          {"revoked_at", Opt(k.revoked_at)},
          {"last_used_at", Opt(k.last_used_at)},
          {"replaced_by", Opt(k.replaced_by)},
          {"cache_responses", k.cache_responses}};
}

json::object NewKeyJson(const auth::NewKey& k, const std::string& name, auth::Role role,
                        bool cache_responses) {
  return {{"id", k.id},
          {"object", "api_key"},
          {"key", k.secret},
          {"prefix", k.prefix},
          {"name", name},
          {"role", auth::RoleName(role)},
          {"cache_responses", cache_responses}};
}

identity::AuditEvent KeyEvent(const http::Exchange& ex, const auth::Principal& who,
                              std::string action, std::string key_id, json::object details) {
  identity::AuditEvent e;
  e.actor_user_id = who.user_id;
  e.actor_email = who.email;
  e.actor_method = who.method;
  e.action = std::move(action);
  e.target_type = "api_key";
  e.target_id = std::move(key_id);
  e.ip = ex.ClientIp();
  e.trace_id = ex.TraceId();
  e.details = std::move(details);
  return e;
}

struct CreateRequest {
  std::string name;
  std::optional<auth::Role> role;
  std::optional<std::vector<std::string>> models;  // nullopt: omitted; empty: every model
  std::optional<std::int64_t> expires_in_hours;
  std::string user_id;
  bool cache_responses = false;
};

// Validated fields of POST /api/v1/keys, or the 400 to answer.
std::variant<CreateRequest, http::ApiError> ParseCreate(const http::Request& req) {
  auto bad = [](std::string param, std::string message) {
    return http::ApiError{Status::bad_request, "invalid_request_error", "invalid_value",
                          std::move(message), std::move(param)};
  };
  auto body = BodyObject(req);
  if (!body) {
    return http::ApiError{Status::bad_request, "invalid_request_error", "invalid_json",
                          "The body must be a JSON object.", ""};
  }
  CreateRequest out;
  for (const auto& [k, v] : *body) {
    if (k == "name") {
      if (!v.is_string() || v.as_string().empty() || v.as_string().size() > kMaxName)
        return bad("name", "name must be a string of 1-100 characters.");
      out.name = std::string(v.as_string());
    } else if (k == "role") {
      if (!v.is_string() || !auth::ParseRole(v.as_string()))
        return bad("role", "role must be admin, developer or viewer.");
      out.role = auth::ParseRole(v.as_string());
    } else if (k == "models") {
      if (!v.is_array() || v.as_array().size() > kMaxModels)
        return bad("models", "models must be an array of at most 100 model names.");
      out.models.emplace();
      for (const auto& m : v.as_array()) {
        if (!m.is_string() || m.as_string().empty() || m.as_string().size() > kMaxModelName ||
            m.as_string().find(',') != json::string::npos)
          return bad("models", "each model must be a name of 1-256 characters without commas.");
        out.models->emplace_back(m.as_string());
      }
    } else if (k == "expires_in_hours") {
      if (!v.is_int64() || v.as_int64() < 1 || v.as_int64() > kMaxExpiryHours)
        return bad("expires_in_hours", "expires_in_hours must be an integer from 1 to 87600.");
      out.expires_in_hours = v.as_int64();
    } else if (k == "user_id") {
      if (!v.is_string() || v.as_string().size() > 64)
        return bad("user_id", "user_id must be a user id.");
      out.user_id = std::string(v.as_string());
    } else if (k == "cache_responses") {
      if (!v.is_bool()) return bad("cache_responses", "cache_responses must be true or false.");
      out.cache_responses = v.as_bool();
    } else {
      return bad(std::string(k), "Unknown field '" + std::string(k) + "'.");
    }
  }
  if (out.name.empty()) return bad("name", "name is required.");
  return out;
}

bool Outranks(auth::Role wanted, auth::Role have) {
  return static_cast<int>(wanted) < static_cast<int>(have);
}

// A key-authenticated caller reaching beyond its own key: the 403 names the parameter of the
// create request, or for a rotation the field of the key that is wider than the caller's.
struct Beyond {
  std::string param;
  std::string message;
};

Beyond CreateBeyond(auth::ScopeExcess excess) {
  switch (excess) {
    case auth::ScopeExcess::kRole:
      return {"role", "A key cannot create a key with a higher role than its own."};
    case auth::ScopeExcess::kModels:
      return {"models",
              "A key limited to some models can only create keys limited to some of them."};
    case auth::ScopeExcess::kExpiry:
      return {"expires_in_hours", "A key that expires can only create keys that expire no later."};
    case auth::ScopeExcess::kCacheResponses:
      return {"cache_responses", "Only a key with cache_responses can create one with it."};
  }
  return {"", "The new key would be wider than the calling key."};
}

Beyond RotateBeyond(auth::ScopeExcess excess) {
  switch (excess) {
    case auth::ScopeExcess::kRole:
      return {"role", "A key cannot rotate a key with a higher role than its own."};
    case auth::ScopeExcess::kModels:
      return {"allowed_models", "A key cannot rotate a key that may use models it may not."};
    case auth::ScopeExcess::kExpiry:
      return {"expires_at", "A key cannot rotate a key that outlives it."};
    case auth::ScopeExcess::kCacheResponses:
      return {"cache_responses", "A key without cache_responses cannot rotate a key with it."};
  }
  return {"", "The key is wider than the calling key."};
}

identity::AuditEvent BeyondEvent(const http::Exchange& ex, const auth::Principal& who,
                                 std::string action, std::string key_id, const Beyond& beyond) {
  json::object details;
  details["param"] = beyond.param;
  auto e = KeyEvent(ex, who, std::move(action), std::move(key_id), std::move(details));
  e.success = false;
  e.reason = "exceeds_calling_key";
  return e;
}

http::Response KeyNotFound(const http::Exchange& ex) {
  return JsonError(ex, Status::not_found, "key_not_found", "No such API key.");
}

}  // namespace

KeysApi::KeysApi(AccessGate& gate, auth::KeyRepository& keys, identity::UserRepository& users,
                 identity::AuditLog& audit, std::chrono::milliseconds rotation_grace,
                 const common::Clock& clock)
    : gate_(gate),
      keys_(keys),
      users_(users),
      audit_(audit),
      rotation_grace_(rotation_grace),
      clock_(clock) {}

void KeysApi::Register(http::Router& router) {
  gate_.Add(router, http::Verb::get, "/api/v1/keys", "/api/v1/keys",
            [this](http::Exchange& ex, const auth::Principal& p) { return List(ex, p); });
  gate_.Add(router, http::Verb::post, "/api/v1/keys", "/api/v1/keys",
            [this](http::Exchange& ex, const auth::Principal& p) { return Create(ex, p); });
  gate_.Add(router, http::Verb::delete_, "/api/v1/keys/*", "/api/v1/keys/{id}",
            [this](http::Exchange& ex, const auth::Principal& p) { return Revoke(ex, p); });
  gate_.Add(router, http::Verb::post, "/api/v1/keys/*", "/api/v1/keys/{id}/rotate",
            [this](http::Exchange& ex, const auth::Principal& p) { return Rotate(ex, p); });
}

Task<http::Response> KeysApi::List(http::Exchange& ex, const auth::Principal& who) {
  std::string user_id = who.user_id;
  if (auto requested = QueryParam(ex.Query(), "user_id")) {
    if (*requested != who.user_id && who.role != auth::Role::kAdmin) {
      co_return JsonError(ex, Status::forbidden, "insufficient_permissions",
                          "Only admins list other users' keys.", "user_id");
    }
    user_id = *requested;
  }
  if (QueryParam(ex.Query(), "all") == "true") {
    if (who.role != auth::Role::kAdmin) {
      co_return JsonError(ex, Status::forbidden, "insufficient_permissions",
                          "Only admins list every key.", "all");
    }
    user_id.clear();
  }
  auto keys = co_await keys_.ListKeys(user_id);
  json::array data;
  for (const auto& k : keys) data.push_back(KeyJson(k));
  json::object body;
  body["object"] = "list";
  body["data"] = std::move(data);
  co_return http::MakeJson(Status::ok, json::serialize(body), ex.Version());
}

Task<http::Response> KeysApi::Create(http::Exchange& ex, const auth::Principal& who) {
  auto parsed = ParseCreate(ex.Req());
  if (auto* err = std::get_if<http::ApiError>(&parsed))
    co_return http::MakeError(*err, ex.Version());
  auto& req = std::get<CreateRequest>(parsed);
  std::string owner_id = req.user_id.empty() ? who.user_id : req.user_id;
  if (owner_id != who.user_id && who.role != auth::Role::kAdmin) {
    co_return JsonError(ex, Status::forbidden, "insufficient_permissions",
                        "Only admins create keys for other users.", "user_id");
  }
  auto owner = co_await users_.FindById(owner_id);
  if (!owner || !owner->active) {
    co_return JsonError(ex, Status::not_found, "user_not_found", "No such active user.", "user_id");
  }
  // By default the owner's role, capped by the caller's: the same for users acting in person, and
  // a key-authenticated caller's omitted role never reaches past its own key.
  const auth::Role role =
      req.role.value_or(Outranks(owner->role, who.role) ? who.role : owner->role);
  if (Outranks(role, who.role) || Outranks(role, owner->role)) {
    co_return JsonError(ex, Status::forbidden, "insufficient_permissions",
                        "A key cannot have a higher role than its creator or owner.", "role");
  }
  auth::KeyScope wanted;
  wanted.role = role;
  if (req.models) wanted.models = *req.models;
  wanted.cache_responses = req.cache_responses;
  if (req.expires_in_hours) {
    wanted.expires_at = clock_.Now() + std::chrono::hours(*req.expires_in_hours);
  }
  // A key can only hand out what it holds; otherwise a key restricted to one model, or about to
  // expire, mints itself an unrestricted, everlasting successor. People in a browser session or
  // behind a JWT act with their user's full role.
  if (who.method == "api_key") {
    const auto held = auth::ScopeOf(who);
    if (!req.models) wanted.models = held.models;
    if (!req.expires_in_hours) wanted.expires_at = held.expires_at;
    if (auto excess = auth::Exceeds(wanted, held)) {
      const auto beyond = CreateBeyond(*excess);
      co_await audit_.Record(BeyondEvent(ex, who, "key.create", "", beyond));
      co_return JsonError(ex, Status::forbidden, "insufficient_permissions", beyond.message,
                          beyond.param);
    }
  }
  auto key = co_await keys_.CreateKey(gate_.Keys().Hasher(), *owner, req.name, role, wanted.models,
                                      wanted.expires_at, req.cache_responses);
  json::object details;
  details["owner"] = owner->id;
  details["role"] = auth::RoleName(role);
  details["prefix"] = key.prefix;
  details["cache_responses"] = req.cache_responses;
  co_await audit_.Record(KeyEvent(ex, who, "key.create", key.id, std::move(details)));
  co_return http::MakeJson(Status::created,
                           json::serialize(NewKeyJson(key, req.name, role, req.cache_responses)),
                           ex.Version());
}

Task<std::optional<auth::KeyInfo>> KeysApi::Owned(std::string id, const auth::Principal& who) {
  if (id.empty() || id.size() > 64) co_return std::nullopt;
  auto key = co_await keys_.FindKey(id);
  // Someone else's key looks exactly like a missing one.
  if (!key || (key->user_id != who.user_id && who.role != auth::Role::kAdmin)) {
    co_return std::nullopt;
  }
  co_return key;
}

Task<http::Response> KeysApi::Revoke(http::Exchange& ex, const auth::Principal& who) {
  const auto id = std::string(ex.Path().substr(kKeysPrefix.size()));
  if (id.find('/') != std::string::npos) co_return KeyNotFound(ex);
  auto key = co_await Owned(id, who);
  if (!key) co_return KeyNotFound(ex);
  if (!co_await keys_.RevokeKey(key->id, clock_.Now())) {
    co_return JsonError(ex, Status::conflict, "key_already_revoked", "The key is already revoked.");
  }
  gate_.Keys().ForgetKey(key->id);
  json::object details;
  details["prefix"] = key->prefix;
  details["owner"] = key->user_id;
  co_await audit_.Record(KeyEvent(ex, who, "key.revoke", key->id, std::move(details)));
  json::object body;
  body["id"] = key->id;
  body["revoked"] = true;
  co_return http::MakeJson(Status::ok, json::serialize(body), ex.Version());
}

Task<http::Response> KeysApi::Rotate(http::Exchange& ex, const auth::Principal& who) {
  auto rest = ex.Path().substr(kKeysPrefix.size());
  constexpr std::string_view kSuffix = "/rotate";
  if (!rest.ends_with(kSuffix)) co_return KeyNotFound(ex);
  const auto id = std::string(rest.substr(0, rest.size() - kSuffix.size()));
  if (id.find('/') != std::string::npos) co_return KeyNotFound(ex);
  auto key = co_await Owned(id, who);
  if (!key) co_return KeyNotFound(ex);
  const auto now_text = common::FormatIso8601(clock_.Now());
  if (key->revoked_at || key->replaced_by || (key->expires_at && *key->expires_at <= now_text)) {
    co_return JsonError(ex, Status::conflict, "key_not_rotatable",
                        "Only an active key that was not rotated before can be rotated.");
  }
  auto owner = co_await users_.FindById(key->user_id);
  if (!owner || !owner->active) co_return KeyNotFound(ex);
  // The successor is issued with the old key's powers and its secret goes to the caller: a
  // restricted key rotating an unrestricted one would receive an unrestricted secret.
  if (who.method == "api_key") {
    if (auto excess = auth::Exceeds(auth::ScopeOf(*key, owner->role), auth::ScopeOf(who))) {
      const auto beyond = RotateBeyond(*excess);
      co_await audit_.Record(BeyondEvent(ex, who, "key.rotate", key->id, beyond));
      co_return JsonError(ex, Status::forbidden, "insufficient_permissions", beyond.message,
                          beyond.param);
    }
  }
  auto fresh =
      co_await keys_.RotateKey(gate_.Keys().Hasher(), *key, *owner, rotation_grace_, clock_.Now());
  gate_.Keys().ForgetKey(key->id);
  json::object details;
  details["new_key_id"] = fresh.id;
  details["new_prefix"] = fresh.prefix;
  details["grace_seconds"] =
      std::chrono::duration_cast<std::chrono::seconds>(rotation_grace_).count();
  co_await audit_.Record(KeyEvent(ex, who, "key.rotate", key->id, std::move(details)));
  auto body = NewKeyJson(fresh, key->name, key->role, key->cache_responses);
  body["replaces"] = key->id;
  body["old_key_valid_until"] = common::FormatIso8601(clock_.Now() + rotation_grace_);
  co_return http::MakeJson(Status::created, json::serialize(body), ex.Version());
}

}  // namespace bro::api
