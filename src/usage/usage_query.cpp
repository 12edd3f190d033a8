#include "usage/usage_query.hpp"

#include <charconv>
#include <cstdio>

namespace bro::usage {

std::string FormatDate(std::chrono::year_month_day d) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(d.year()),
                static_cast<unsigned>(d.month()), static_cast<unsigned>(d.day()));
  return buf;
}

std::optional<std::chrono::year_month_day> ParseDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  int y = 0;
  unsigned m = 0, d = 0;
  auto num = [&s](std::size_t at, std::size_t len, auto& out) {
    auto [p, ec] = std::from_chars(s.data() + at, s.data() + at + len, out);
    return ec == std::errc{} && p == s.data() + at + len;
  };
  if (!num(0, 4, y) || !num(5, 2, m) || !num(8, 2, d)) return std::nullopt;
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{m}, std::chrono::day{d}};
  if (!ymd.ok() || y < 1970) return std::nullopt;
  return ymd;
}

std::string FormatUsd(std::int64_t nanos) {
  const bool negative = nanos < 0;
  const auto abs = static_cast<unsigned long long>(negative ? -nanos : nanos);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s%llu.%09llu", negative ? "-" : "", abs / 1'000'000'000ULL,
                abs % 1'000'000'000ULL);
  return buf;
}

Task<UsageReport> UsageQuery::Aggregate(UsageFilter f) {
  // Column expressions of each dimension, selected and grouped in the caller's order.
  auto column = [](Dimension d) -> std::string_view {
    switch (d) {
      case Dimension::kDay:
        return "substr(created_at, 1, 10)";
      case Dimension::kKey:
        return "COALESCE(api_key_id, '')";
      case Dimension::kUser:
        return "COALESCE(user_id, '')";
      case Dimension::kModel:
        return "model";
    }
    return "model";
  };
  std::string select, group;
  for (auto d : f.group_by) {
    select += std::string(column(d)) + ", ";
    if (!group.empty()) group += ", ";
    group += column(d);
  }
  std::string sql = "SELECT " + select +
                    "COUNT(*), SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(prompt_tokens), "
                    "SUM(completion_tokens), SUM(cost_nanos) FROM usage_records "
                    "WHERE created_at >= $1 AND created_at < $2";
  storage::Params params;
  params.emplace_back(FormatDate(f.start));
  params.emplace_back(
      FormatDate(std::chrono::year_month_day{std::chrono::sys_days{f.end} + std::chrono::days{1}}));
  auto filter = [&](const std::optional<std::string>& v, std::string_view col) {
    if (!v) return;
    params.emplace_back(*v);
    sql += " AND " + std::string(col) + " = $" + std::to_string(params.size());
  };
  filter(f.user_id, "user_id");
  filter(f.api_key_id, "api_key_id");
  filter(f.model, "model");
  if (!group.empty()) sql += " GROUP BY " + group + " ORDER BY " + group;
  sql += " LIMIT " + std::to_string(f.max_groups + 1);

  auto rows = co_await db_.Execute({"usage_aggregate", sql}, std::move(params));
  UsageReport report;
  for (const auto& r : rows.rows) {
    if (report.groups.size() == f.max_groups) {
      report.truncated = true;
      break;
    }
    UsageGroup g;
    std::size_t i = 0;
    for (auto d : f.group_by) {
      const auto v = r.OptText(i++).value_or("");
      switch (d) {
        case Dimension::kDay:
          g.day = v;
          break;
        case Dimension::kKey:
          g.api_key_id = v;
          break;
        case Dimension::kUser:
          g.user_id = v;
          break;
        case Dimension::kModel:
          g.model = v;
          break;
      }
    }
    g.requests = r.IsNull(i) ? 0 : r.Int(i);
    if (g.requests == 0) continue;  // an aggregate over nothing (no GROUP BY, no rows)
    g.errors = r.Int(i + 1);
    g.prompt_tokens = r.Int(i + 2);
    g.completion_tokens = r.Int(i + 3);
    g.cost_nanos = r.Int(i + 4);
    report.groups.push_back(std::move(g));
  }
  co_return report;
}

}  // namespace bro::usage
