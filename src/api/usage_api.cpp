#include "api/usage_api.hpp"

#include <boost/json/serialize.hpp>

#include "api/openai_api.hpp"
#include "api/query.hpp"

namespace bro::api {
namespace {

namespace json = boost::json;
using http::Status;
using usage::Dimension;

constexpr int kMaxRangeDays = 366;
constexpr int kDefaultRangeDays = 30;

std::string_view DimensionName(Dimension d) {
  switch (d) {
    case Dimension::kDay:
      return "day";
    case Dimension::kKey:
      return "api_key_id";
    case Dimension::kUser:
      return "user_id";
    case Dimension::kModel:
      return "model";
  }
  return "";
}

std::variant<std::vector<Dimension>, http::ApiError> ParseGroupBy(std::string_view s) {
  std::vector<Dimension> out;
  if (s.empty()) return out;
  std::size_t at = 0;
  while (at <= s.size()) {
    auto comma = s.find(',', at);
    auto part = s.substr(at, comma == std::string_view::npos ? std::string_view::npos : comma - at);
    Dimension d;
    if (part == "day") {
      d = Dimension::kDay;
    } else if (part == "key" || part == "api_key_id") {
      d = Dimension::kKey;
    } else if (part == "user" || part == "user_id") {
      d = Dimension::kUser;
    } else if (part == "model") {
      d = Dimension::kModel;
    } else {
      return BadParam("group_by", "group_by takes day, key, user and model, comma-separated.");
    }
    if (std::find(out.begin(), out.end(), d) != out.end())
      return BadParam("group_by", "group_by names a dimension twice.");
    out.push_back(d);
    if (comma == std::string_view::npos) break;
    at = comma + 1;
  }
  return out;
}

json::object GroupJson(const usage::UsageGroup& g, const std::vector<Dimension>& dims) {
  json::object o;
  for (auto d : dims) {
    switch (d) {
      case Dimension::kDay:
        o["day"] = g.day;
        break;
      case Dimension::kKey:
        o["api_key_id"] = g.api_key_id;
        break;
      case Dimension::kUser:
        o["user_id"] = g.user_id;
        break;
      case Dimension::kModel:
        o["model"] = g.model;
        break;
    }
  }
  o["requests"] = g.requests;
  o["errors"] = g.errors;
  o["prompt_tokens"] = g.prompt_tokens;
  o["completion_tokens"] = g.completion_tokens;
  o["total_tokens"] = g.prompt_tokens + g.completion_tokens;
  o["cost_usd"] = usage::FormatUsd(g.cost_nanos);
  return o;
}

}  // namespace

std::string CsvField(std::string_view s) {
  std::string v(s);
  if (!v.empty() &&
      (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r')) {
    v.insert(v.begin(), '\'');
  }
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void UsageApi::Register(http::Router& router) {
  gate_.Add(router, http::Verb::get, "/api/v1/usage", "/api/v1/usage",
            [this](http::Exchange& ex, const auth::Principal& p) { return Get(ex, p); });
}

namespace {

struct UsageRequest {
  usage::UsageFilter filter;
  bool csv = false;
};

// Everything but the query itself, outside the coroutine (no braced temporaries across awaits).
std::variant<UsageRequest, http::ApiError> ParseUsageRequest(std::string_view query,
                                                             const auth::Principal& principal,
                                                             const common::Clock& clock) {
  static const std::vector<std::string_view> kAllowed = {
      "start", "end", "group_by", "user_id", "api_key_id", "model", "format"};
  auto parsed = ParseQuery(query, kAllowed);
  if (auto* err = std::get_if<http::ApiError>(&parsed)) return *err;
  const auto& q = std::get<QueryParams>(parsed);
  auto param = [&q](std::string_view name) -> std::optional<std::string> {
    auto it = q.find(name);
    if (it == q.end()) return std::nullopt;
    return it->second;
  };
  UsageRequest r;
  auto& f = r.filter;
  f.end = std::chrono::year_month_day{std::chrono::floor<std::chrono::days>(clock.Now())};
  if (auto e = param("end")) {
    auto d = usage::ParseDate(*e);
    if (!d) return BadParam("end", "end must be a date YYYY-MM-DD.");
    f.end = *d;
  }
  f.start = std::chrono::year_month_day{std::chrono::sys_days{f.end} -
                                        std::chrono::days{kDefaultRangeDays - 1}};
  if (auto s = param("start")) {
    auto d = usage::ParseDate(*s);
    if (!d) return BadParam("start", "start must be a date YYYY-MM-DD.");
    f.start = *d;
  }
  const auto span = (std::chrono::sys_days{f.end} - std::chrono::sys_days{f.start}).count();
  if (span < 0) return BadParam("start", "start is after end.");
  if (span >= kMaxRangeDays) return BadParam("start", "The range may cover at most 366 days.");
  auto dims = ParseGroupBy(param("group_by").value_or("day,key,user,model"));
  if (auto* err = std::get_if<http::ApiError>(&dims)) return *err;
  f.group_by = std::get<std::vector<Dimension>>(dims);
  f.user_id = param("user_id");
  f.api_key_id = param("api_key_id");
  f.model = param("model");
  if (principal.role != auth::Role::kAdmin) {
    // Everyone but admins sees their own user's usage only.
    if (f.user_id && *f.user_id != principal.user_id) {
      return http::ApiError{Status::forbidden, "invalid_request_error", "insufficient_permissions",
                            "Only admins may read other users' usage.", "user_id"};
    }
    f.user_id = principal.user_id;
  }
  const auto format = param("format").value_or("json");
  if (format != "json" && format != "csv") return BadParam("format", "format is json or csv.");
  r.csv = format == "csv";
  return r;
}

http::Response RenderCsv(const usage::UsageReport& report, const usage::UsageFilter& f,
                         unsigned version) {
  std::string body;
  for (auto d : f.group_by) body += std::string(DimensionName(d)) + ",";
  body += "requests,errors,prompt_tokens,completion_tokens,total_tokens,cost_usd\r\n";
  for (const auto& g : report.groups) {
    for (auto d : f.group_by) {
      const std::string& v = d == Dimension::kDay    ? g.day
                             : d == Dimension::kKey  ? g.api_key_id
                             : d == Dimension::kUser ? g.user_id
                                                     : g.model;
      body += CsvField(v) + ",";
    }
    body += std::to_string(g.requests) + "," + std::to_string(g.errors) + "," +
            std::to_string(g.prompt_tokens) + "," + std::to_string(g.completion_tokens) + "," +
            std::to_string(g.prompt_tokens + g.completion_tokens) + "," +
            usage::FormatUsd(g.cost_nanos) + "\r\n";
  }
  http::Response res{Status::ok, version};
  res.set(http::Field::content_type, "text/csv; charset=utf-8");
  res.set(http::Field::content_disposition, "attachment; filename=\"usage-" +
                                                usage::FormatDate(f.start) + "-" +
                                                usage::FormatDate(f.end) + ".csv\"");
  if (report.truncated) res.set("x-bro-truncated", "true");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

http::Response RenderJson(const usage::UsageReport& report, const usage::UsageFilter& f,
                          unsigned version) {
  json::array data;
  usage::UsageGroup total;
  for (const auto& g : report.groups) {
    data.push_back(GroupJson(g, f.group_by));
    total.requests += g.requests;
    total.errors += g.errors;
    total.prompt_tokens += g.prompt_tokens;
    total.completion_tokens += g.completion_tokens;
    total.cost_nanos += g.cost_nanos;
  }
  json::array group_by;
  for (auto d : f.group_by) group_by.emplace_back(DimensionName(d));
  json::object out{{"object", "list"},
                   {"start", usage::FormatDate(f.start)},
                   {"end", usage::FormatDate(f.end)},
                   {"group_by", std::move(group_by)},
                   {"data", std::move(data)},
                   {"total", GroupJson(total, {})},
                   {"truncated", report.truncated}};
  return http::MakeJson(Status::ok, json::serialize(out), version);
}

}  // namespace

Task<http::Response> UsageApi::Get(http::Exchange& ex, const auth::Principal& principal) {
  auto parsed = ParseUsageRequest(ex.Query(), principal, clock_);
  if (auto* err = std::get_if<http::ApiError>(&parsed))
    co_return http::MakeError(*err, ex.Version());
  const auto request = std::get<UsageRequest>(std::move(parsed));
  const auto report = co_await query_.Aggregate(request.filter);
  co_return request.csv ? RenderCsv(report, request.filter, ex.Version())
                        : RenderJson(report, request.filter, ex.Version());
}

}  // namespace bro::api
