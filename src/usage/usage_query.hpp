#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/sql/database.hpp"

namespace bro::usage {

enum class Dimension { kDay, kKey, kUser, kModel };

struct UsageFilter {
  std::chrono::year_month_day start;  // inclusive, UTC
  std::chrono::year_month_day end;    // inclusive, UTC
  std::vector<Dimension> group_by;    // in this order; empty: one total row
  std::optional<std::string> user_id;
  std::optional<std::string> api_key_id;
  std::optional<std::string> model;
  std::size_t max_groups = 10000;
};

struct UsageGroup {
  std::string day;  // the dimensions not grouped by are empty
  std::string api_key_id;
  std::string user_id;
  std::string model;
  std::int64_t requests = 0;
  std::int64_t errors = 0;  // status >= 400 (499: the client left)
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t cost_nanos = 0;
};

struct UsageReport {
  std::vector<UsageGroup> groups;
  bool truncated = false;  // more than max_groups groups matched
};

// Aggregates usage_records (one query, both dialects; the dimensions and filters come from a
// fixed list, never from the caller's text).
class UsageQuery {
 public:
  explicit UsageQuery(storage::Database& db) : db_(db) {}
  Task<UsageReport> Aggregate(UsageFilter filter);

 private:
  storage::Database& db_;
};

std::string FormatDate(std::chrono::year_month_day d);
// "YYYY-MM-DD", a real calendar date; nullopt otherwise.
std::optional<std::chrono::year_month_day> ParseDate(std::string_view s);
// Nano-dollars as a decimal string of US dollars with 9 decimals ("0.000150000").
std::string FormatUsd(std::int64_t nanos);

}  // namespace bro::usage
