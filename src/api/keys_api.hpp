#pragma once

#include "api/access.hpp"
#include "identity/audit.hpp"

namespace bro::api {

// /api/v1/keys: create, list, revoke, rotate. Users manage their own keys, admins everyone's.
class KeysApi {
 public:
  KeysApi(AccessGate& gate, auth::KeyRepository& keys, identity::UserRepository& users,
          identity::AuditLog& audit, std::chrono::milliseconds rotation_grace,
          const common::Clock& clock);
  void Register(http::Router& router);

 private:
  Task<http::Response> List(http::Exchange& ex, const auth::Principal& who);
  Task<http::Response> Create(http::Exchange& ex, const auth::Principal& who);
  Task<http::Response> Revoke(http::Exchange& ex, const auth::Principal& who);
  Task<http::Response> Rotate(http::Exchange& ex, const auth::Principal& who);
  // The key named by the path if the caller may manage it.
  Task<std::optional<auth::KeyInfo>> Owned(std::string id, const auth::Principal& who);

  AccessGate& gate_;
  auth::KeyRepository& keys_;
  identity::UserRepository& users_;
  identity::AuditLog& audit_;
  std::chrono::milliseconds rotation_grace_;
  const common::Clock& clock_;
};

}  // namespace bro::api
