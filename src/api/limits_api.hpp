#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <string_view>

#include "api/access.hpp"
#include "auth/api_keys.hpp"
#include "common/time.hpp"
#include "http/server.hpp"
#include "limits/policy.hpp"

namespace bro::api {

// Who changed which limits: handed to the audit log.
struct LimitsAuditEvent {
  std::string_view action;  // "limits.override.set" | "limits.override.delete"
  const auth::Principal& actor;
  boost::json::object details;  // scope, subject_id, model, the limits set
};
using LimitsAuditHook = std::function<void(const LimitsAuditEvent&)>;

// /api/v1/limits (admins only):
//   GET    /api/v1/limits                          defaults and every override
//   GET    /api/v1/limits/{key|user}/{id}[?model=] the effective limits of one subject
//   PUT    /api/v1/limits/{key|user}/{id}[?model=] set an override (JSON body, below)
//   DELETE /api/v1/limits/{key|user}/{id}[?model=] remove it
// Body: any of requests_per_minute, tokens_per_minute, concurrent_requests, daily_tokens,
// monthly_tokens (non-negative integers), daily_cost_usd, monthly_cost_usd (non-negative
// numbers); null or absent inherits the default, 0 means unlimited.
class LimitsApi {
 public:
  LimitsApi(AccessGate& gate, limits::OverrideRepository& repo, limits::PolicyResolver& resolver,
            const common::Clock& clock, LimitsAuditHook audit)
      : gate_(gate), repo_(repo), resolver_(resolver), clock_(clock), audit_(std::move(audit)) {}
  // Behind the gate: identity::Permission::kLimitsAdmin (admins).
  void Register(http::Router& router);

 private:
  Task<http::Response> List(http::Exchange& ex);
  Task<http::Response> Subject(http::Exchange& ex, const auth::Principal& admin);

  AccessGate& gate_;
  limits::OverrideRepository& repo_;
  limits::PolicyResolver& resolver_;
  const common::Clock& clock_;
  LimitsAuditHook audit_;
};

// The JSON shape of a policy and of an override (shared with tests).
boost::json::object PolicyJson(const limits::Policy& p);
boost::json::object OverrideJson(const limits::Override& o);

}  // namespace bro::api
