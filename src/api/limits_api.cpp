#include "api/limits_api.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>

#include "api/openai_api.hpp"
#include "api/query.hpp"

namespace bro::api {
namespace {

namespace json = boost::json;
using http::Status;

constexpr std::size_t kMaxIdBytes = 128;
constexpr std::size_t kMaxModelBytes = 256;
constexpr std::int64_t kMaxLimit = std::int64_t{1} << 50;

json::value OptJson(const std::optional<std::int64_t>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}
json::value OptUsd(const std::optional<std::int64_t>& nanos) {
  return nanos ? json::value(static_cast<double>(*nanos) / 1e9) : json::value(nullptr);
}

http::ApiError Invalid(std::string param, std::string message) {
  return {Status::bad_request, "invalid_request_error", "invalid_value", std::move(message),
          std::move(param)};
}

// "/api/v1/limits/{scope}/{id}" -> scope, id; validated.
std::variant<std::pair<std::string, std::string>, http::ApiError> ParseSubjectPath(
    std::string_view path) {
  auto rest = path.substr(std::string_view("/api/v1/limits/").size());
  auto slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return http::ApiError{Status::not_found,
                          "invalid_request_error",
                          "not_found",
                          "Use /api/v1/limits/key/{id} or /api/v1/limits/user/{id}.",
                          {}};
  }
  std::string scope(rest.substr(0, slash));
  std::string id(rest.substr(slash + 1));
  if (scope != "key" && scope != "user") {
    return http::ApiError{Status::not_found,
                          "invalid_request_error",
                          "not_found",
                          "The scope must be 'key' or 'user'.",
                          {}};
  }
  if (id.empty() || id.size() > kMaxIdBytes ||
      id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
          std::string::npos) {
    return Invalid("id", "The subject id is not a valid id.");
  }
  return std::make_pair(std::move(scope), std::move(id));
}

std::variant<std::string, http::ApiError> ParseModel(std::string_view query) {
  static const std::vector<std::string_view> kAllowed = {"model"};
  auto parsed = ParseQuery(query, kAllowed);
  if (auto* err = std::get_if<http::ApiError>(&parsed)) return *err;
  const auto& q = std::get<QueryParams>(parsed);
  auto it = q.find("model");
  if (it == q.end()) return std::string();
  if (it->second.empty() || it->second.size() > kMaxModelBytes)
    return Invalid("model", "model must be 1 to 256 characters.");
  return it->second;
}

// The override body: every field optional, nothing unknown.
std::variant<limits::Override, http::ApiError> ParseOverrideBody(std::string_view body) {
  if (body.size() > 16 * 1024) return Invalid("", "The body is larger than 16 KiB.");
  json::value v;
  try {
    json::parse_options opt;
    opt.max_depth = 4;
    v = json::parse(body, {}, opt);
  } catch (const std::exception&) {
    return http::ApiError{Status::bad_request,
                          "invalid_request_error",
                          "invalid_json",
                          "The body is not valid JSON.",
                          {}};
  }
  if (!v.is_object()) return Invalid("", "The body must be a JSON object.");
  limits::Override o;
  for (const auto& [k, val] : v.as_object()) {
    const std::string name(k);
    std::optional<std::int64_t>* target = nullptr;
    bool usd = false;
    if (name == "requests_per_minute") {
      target = &o.requests_per_minute;
    } else if (name == "tokens_per_minute") {
      target = &o.tokens_per_minute;
    } else if (name == "concurrent_requests") {
      target = &o.concurrent_requests;
    } else if (name == "daily_tokens") {
      target = &o.daily_tokens;
    } else if (name == "monthly_tokens") {
      target = &o.monthly_tokens;
    } else if (name == "daily_cost_usd") {
      target = &o.daily_cost_nanos;
      usd = true;
    } else if (name == "monthly_cost_usd") {
      target = &o.monthly_cost_nanos;
      usd = true;
    } else {
      return Invalid(name.substr(0, 64), "Unknown field '" + name.substr(0, 64) + "'.");
    }
    if (val.is_null()) continue;
    if (usd) {
      if (!val.is_number()) return Invalid(name, name + " must be a number of US dollars.");
      const double d = val.to_number<double>();
      if (!std::isfinite(d) || d < 0 || d > 1e9)
        return Invalid(name, name + " must be between 0 and 1e9.");
      *target = limits::UsdToNanos(d);
    } else {
      std::int64_t n = -1;
      if (val.is_int64()) n = val.as_int64();
      if (val.is_uint64() && val.as_uint64() <= static_cast<std::uint64_t>(kMaxLimit))
        n = static_cast<std::int64_t>(val.as_uint64());
      if (n < 0 || n > kMaxLimit)
        return Invalid(name, name + " must be an integer between 0 and 2^50.");
      *target = n;
    }
  }
  return o;
}

}  // namespace

json::object PolicyJson(const limits::Policy& p) {
  return {{"requests_per_minute", p.requests_per_minute},
          {"tokens_per_minute", p.tokens_per_minute},
          {"concurrent_requests", p.concurrent_requests},
          {"daily_tokens", p.daily_tokens},
          {"monthly_tokens", p.monthly_tokens},
          {"daily_cost_usd", static_cast<double>(p.daily_cost_nanos) / 1e9},
          {"monthly_cost_usd", static_cast<double>(p.monthly_cost_nanos) / 1e9}};
}

json::object OverrideJson(const limits::Override& o) {
  return {{"scope", o.scope},
          {"subject_id", o.subject_id},
          {"model", o.model.empty() ? json::value(nullptr) : json::value(o.model)},
          {"requests_per_minute", OptJson(o.requests_per_minute)},
          {"tokens_per_minute", OptJson(o.tokens_per_minute)},
          {"concurrent_requests", OptJson(o.concurrent_requests)},
          {"daily_tokens", OptJson(o.daily_tokens)},
          {"monthly_tokens", OptJson(o.monthly_tokens)},
          {"daily_cost_usd", OptUsd(o.daily_cost_nanos)},
          {"monthly_cost_usd", OptUsd(o.monthly_cost_nanos)},
          {"updated_at", o.updated_at},
          {"updated_by", o.updated_by}};
}

void LimitsApi::Register(http::Router& router) {
  gate_.Add(router, http::Verb::get, "/api/v1/limits", "/api/v1/limits",
            [this](http::Exchange& ex, const auth::Principal&) { return List(ex); });
  for (auto verb : {http::Verb::get, http::Verb::put, http::Verb::delete_}) {
    gate_.Add(
        router, verb, "/api/v1/limits/*", "/api/v1/limits/{scope}/{id}",
        [this](http::Exchange& ex, const auth::Principal& admin) { return Subject(ex, admin); },
        16 * 1024);
  }
}

Task<http::Response> LimitsApi::List(http::Exchange& ex) {
  auto overrides = co_await repo_.List();
  json::array data;
  for (const auto& o : overrides) data.push_back(OverrideJson(o));
  json::object defaults;
  defaults["key"] = PolicyJson(resolver_.KeyDefault());
  defaults["user"] = PolicyJson(resolver_.UserDefault());
  json::object out;
  out["object"] = "list";
  out["defaults"] = std::move(defaults);
  out["data"] = std::move(data);
  co_return http::MakeJson(Status::ok, json::serialize(out), ex.Version());
}

Task<http::Response> LimitsApi::Subject(http::Exchange& ex, const auth::Principal& admin) {
  auto subject = ParseSubjectPath(ex.Path());
  if (auto* err = std::get_if<http::ApiError>(&subject))
    co_return http::MakeError(*err, ex.Version());
  auto [scope, id] = std::get<std::pair<std::string, std::string>>(std::move(subject));
  auto model = ParseModel(ex.Query());
  if (auto* err = std::get_if<http::ApiError>(&model))
    co_return http::MakeError(*err, ex.Version());
  const auto model_name = std::get<std::string>(model);

  if (!co_await repo_.SubjectExists(scope, id)) {
    co_return http::MakeError(
        {Status::not_found, "invalid_request_error", "not_found",
         "No " + std::string(scope == "key" ? "API key" : "user") + " with this id.", "id"},
        ex.Version());
  }
  const auto verb = ex.Req().method();
  if (verb == http::Verb::get) {
    auth::Principal who;
    (scope == "key" ? who.key_id : who.user_id) = id;
    const auto subjects = resolver_.ResolveNow(who, model_name);
    limits::Policy effective;
    bool found = false;
    for (const auto& s : subjects) {
      const bool per_model = s.id.find("|model:") != std::string::npos;
      if (per_model == !model_name.empty()) {
        effective = s.policy;
        found = true;
      }
    }
    json::object out;
    out["scope"] = scope;
    out["subject_id"] = id;
    out["model"] = model_name.empty() ? json::value(nullptr) : json::value(model_name);
    out["limits"] = PolicyJson(found ? effective : limits::Policy{});
    co_return http::MakeJson(Status::ok, json::serialize(out), ex.Version());
  }

  json::object details;
  details["scope"] = scope;
  details["subject_id"] = id;
  details["model"] = model_name;
  std::string_view action;
  http::Response res;
  if (verb == http::Verb::delete_) {
    const bool deleted = co_await repo_.Delete(scope, id, model_name);
    if (!deleted) {
      co_return http::MakeError({Status::not_found,
                                 "invalid_request_error",
                                 "not_found",
                                 "This subject has no override.",
                                 {}},
                                ex.Version());
    }
    action = "limits.override.delete";
    res = http::Response{Status::no_content, ex.Version()};
    res.prepare_payload();
  } else {
    auto parsed = ParseOverrideBody(ex.Req().body());
    if (auto* err = std::get_if<http::ApiError>(&parsed))
      co_return http::MakeError(*err, ex.Version());
    auto o = std::get<limits::Override>(std::move(parsed));
    o.scope = scope;
    o.subject_id = id;
    o.model = model_name;
    o.updated_at = common::FormatIso8601(clock_.Now());
    o.updated_by = admin.user_id;
    co_await repo_.Upsert(o);
    auto body = OverrideJson(o);
    details["limits"] = body;
    action = "limits.override.set";
    res = http::MakeJson(Status::ok, json::serialize(body), ex.Version());
  }
  // This replica applies the change at once; the others within limits.override_refresh.
  co_await resolver_.Load();
  // AUDIT: the single call site of the audit log for limit changes (wired in app.cpp).
  audit_(LimitsAuditEvent{action, admin, std::move(details)});
  co_return res;
}

}  // namespace bro::api
