#pragma once

#include "api/access.hpp"
#include "identity/audit.hpp"

namespace bro::api {

// GET /api/v1/me, and admin user management: GET /api/v1/users, PATCH /api/v1/users/{id}
// (role, active). A deactivated user's sessions and keys stop working at once on this replica
// and within auth.key_cache_ttl on the others.
class UsersApi {
 public:
  UsersApi(AccessGate& gate, identity::UserRepository& users, identity::AuditLog& audit,
           const common::Clock& clock);
  void Register(http::Router& router);

 private:
  Task<http::Response> Me(http::Exchange& ex, const auth::Principal& who);
  Task<http::Response> List(http::Exchange& ex, const auth::Principal& who);
  Task<http::Response> Update(http::Exchange& ex, const auth::Principal& who);

  AccessGate& gate_;
  identity::UserRepository& users_;
  identity::AuditLog& audit_;
  const common::Clock& clock_;
};

// GET /api/v1/audit: the audit log for admins, newest first, with filters and a keyset cursor.
class AuditApi {
 public:
  AuditApi(AccessGate& gate, identity::AuditLog& audit) : gate_(gate), audit_(audit) {}
  void Register(http::Router& router);

 private:
  Task<http::Response> Query(http::Exchange& ex);

  AccessGate& gate_;
  identity::AuditLog& audit_;
};

}  // namespace bro::api
