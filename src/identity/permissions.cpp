#include "identity/permissions.hpp"

#include <algorithm>

namespace bro::identity {

using http::Verb;

std::string_view PermissionName(Permission p) {
  switch (p) {
    case Permission::kPublic:
      return "public";
    case Permission::kAuthenticated:
      return "authenticated";
    case Permission::kModelsRead:
      return "models.read";
    case Permission::kCompletionsCreate:
      return "completions.create";
    case Permission::kKeysRead:
      return "keys.read";
    case Permission::kKeysWrite:
      return "keys.write";
    case Permission::kUsersAdmin:
      return "users.admin";
    case Permission::kAuditRead:
      return "audit.read";
    case Permission::kUsageRead:
      return "usage.read";
    case Permission::kLimitsAdmin:
      return "limits.admin";
  }
  return "unknown";
}

const std::vector<RouteRule>& PermissionTable() {
  static const std::vector<RouteRule> kTable = {
      {Verb::get, "/health", Permission::kPublic},
      {Verb::get, "/ready", Permission::kPublic},
      {Verb::get, "/auth/login", Permission::kPublic},
      {Verb::get, "/auth/callback", Permission::kPublic},
      {Verb::post, "/auth/logout", Permission::kAuthenticated},
      {Verb::get, "/v1/models", Permission::kModelsRead},
      {Verb::get, "/v1/models/*", Permission::kModelsRead},
      {Verb::post, "/v1/chat/completions", Permission::kCompletionsCreate},
      {Verb::post, "/v1/embeddings", Permission::kCompletionsCreate},
      {Verb::get, "/api/v1/me", Permission::kAuthenticated},
      {Verb::get, "/api/v1/keys", Permission::kKeysRead},
      {Verb::post, "/api/v1/keys", Permission::kKeysWrite},
      {Verb::delete_, "/api/v1/keys/*", Permission::kKeysWrite},
      {Verb::post, "/api/v1/keys/*", Permission::kKeysWrite},  // /api/v1/keys/{id}/rotate
      {Verb::get, "/api/v1/users", Permission::kUsersAdmin},
      {Verb::patch, "/api/v1/users/*", Permission::kUsersAdmin},
      {Verb::get, "/api/v1/audit", Permission::kAuditRead},
      {Verb::get, "/api/v1/usage", Permission::kUsageRead},
      {Verb::get, "/api/v1/limits", Permission::kLimitsAdmin},
      {Verb::get, "/api/v1/limits/*", Permission::kLimitsAdmin},
      {Verb::put, "/api/v1/limits/*", Permission::kLimitsAdmin},
      {Verb::delete_, "/api/v1/limits/*", Permission::kLimitsAdmin},
  };
  return kTable;
}

const RouteRule* FindRule(Verb method, std::string_view path) {
  const auto& t = PermissionTable();
  auto it = std::find_if(t.begin(), t.end(),
                         [&](const RouteRule& r) { return r.method == method && r.path == path; });
  return it == t.end() ? nullptr : &*it;
}

bool RoleHas(auth::Role role, Permission p) {
  switch (p) {
    case Permission::kPublic:
    case Permission::kAuthenticated:
    case Permission::kModelsRead:
    case Permission::kKeysRead:
    case Permission::kUsageRead:
      return true;
    case Permission::kCompletionsCreate:
    case Permission::kKeysWrite:
      return role == auth::Role::kAdmin || role == auth::Role::kDeveloper;
    case Permission::kUsersAdmin:
    case Permission::kAuditRead:
    case Permission::kLimitsAdmin:
      return role == auth::Role::kAdmin;
  }
  return false;
}

bool IsAdminPermission(Permission p) {
  return p == Permission::kUsersAdmin || p == Permission::kAuditRead ||
         p == Permission::kLimitsAdmin;
}

}  // namespace bro::identity
