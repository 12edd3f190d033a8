#pragma once

#include <string_view>
#include <vector>

#include "auth/api_keys.hpp"
#include "http/types.hpp"

// Role-based access: the one table that says which permission every route needs, and which
// roles hold which permission. api::AccessGate enforces it for every registered route and
// refuses to start when a route is missing from it; tests/integration/rbac_matrix_test.cpp
// walks it route by route and role by role.
namespace bro::identity {

enum class Permission {
  kPublic,             // no caller needed (health, login)
  kAuthenticated,      // any signed-in caller (me, logout)
  kModelsRead,         // list and read models
  kCompletionsCreate,  // call models (chat completions, embeddings)
  kKeysRead,           // list one's own keys
  kKeysWrite,          // create, revoke, rotate one's own keys
  kUsersAdmin,         // list users, change roles, deactivate; any user's keys
  kAuditRead,          // read the audit log
  kUsageRead,          // usage analytics: one's own (admins: everyone's)
  kLimitsAdmin,        // read and change limits and budgets
};
std::string_view PermissionName(Permission p);

struct RouteRule {
  http::Verb method;
  std::string_view path;  // as registered: exact, or a prefix ending in "/*"
  Permission permission;
};

// Every route of the API listener.
const std::vector<RouteRule>& PermissionTable();
const RouteRule* FindRule(http::Verb method, std::string_view path);

bool RoleHas(auth::Role role, Permission p);
// Admin permissions additionally need an MFA claim when auth.require_mfa_for_admin is on.
bool IsAdminPermission(Permission p);

}  // namespace bro::identity
