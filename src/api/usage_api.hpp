#pragma once

#include "api/access.hpp"
#include "auth/api_keys.hpp"
#include "common/time.hpp"
#include "http/server.hpp"
#include "usage/usage_query.hpp"

namespace bro::api {

// GET /api/v1/usage: usage aggregated by day, key, user and model over a date range, as JSON
// or CSV. Admins see everything (and may filter by user, key, model); everyone else sees only
// their own user's usage.
class UsageApi {
 public:
  UsageApi(AccessGate& gate, usage::UsageQuery& query, const common::Clock& clock)
      : gate_(gate), query_(query), clock_(clock) {}
  // Behind the gate: identity::Permission::kUsageRead (own usage; admins see everyone's).
  void Register(http::Router& router);

 private:
  Task<http::Response> Get(http::Exchange& ex, const auth::Principal& principal);

  AccessGate& gate_;
  usage::UsageQuery& query_;
  const common::Clock& clock_;
};

// RFC 4180 field; text that a spreadsheet would run as a formula (=, +, -, @, tab, CR) is
// prefixed with a single quote.
std::string CsvField(std::string_view s);

}  // namespace bro::api
