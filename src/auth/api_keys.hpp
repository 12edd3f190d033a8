#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/time.hpp"
#include "storage/sql/database.hpp"

struct evp_mac_ctx_st;

namespace bro::auth {

enum class Role { kAdmin, kDeveloper, kViewer };
std::optional<Role> ParseRole(std::string_view s);
std::string_view RoleName(Role r);

// Who is calling: resolved from an API key, a browser session, a bearer JWT or an IAP assertion.
struct Principal {
  std::string user_id;  // empty: anonymous (public routes only)
  std::string email;
  Role role = Role::kViewer;
  std::string method;  // api_key | session | jwt | iap
  std::string key_id;
  std::string key_prefix;
  std::vector<std::string> allowed_models;  // empty: all models
  bool mfa = false;                         // the identity proof carried an accepted `amr`
  std::string session_id;                   // session only: for logout
  std::string csrf_token;                   // session only: required on state-changing calls
  bool cache_responses = false;             // api_key only: the key opted into the response cache
  // api_key only: when the key stops working; nullopt: never.
  std::optional<std::chrono::system_clock::time_point> key_expires_at;
  bool MayUseModel(std::string_view model) const;
  bool Anonymous() const { return user_id.empty(); }
};

// A key as listed: never its secret or hash.
struct KeyInfo {
  std::string id;
  std::string user_id;
  std::string user_email;
  std::string name;
  std::string prefix;
  Role role = Role::kViewer;
  std::vector<std::string> allowed_models;
  std::string created_at;
  std::optional<std::string> expires_at;
  std::optional<std::string> revoked_at;
  std::optional<std::string> last_used_at;
  std::optional<std::string> replaced_by;
  bool cache_responses = false;
};

// What a key can do, in every dimension a key-authenticated caller could widen when it creates or
// rotates a key: a key that could hand out more than it holds would make every restriction moot.
struct KeyScope {
  Role role = Role::kViewer;
  std::vector<std::string> models;                                  // empty: every model
  std::optional<std::chrono::system_clock::time_point> expires_at;  // nullopt: never
  bool cache_responses = false;
};

enum class ScopeExcess { kRole, kModels, kExpiry, kCacheResponses };

// The calling key's own scope (role as it is effective now, under its user's role).
KeyScope ScopeOf(const Principal& key_caller);
// The scope of a stored key, role capped by its owner's (what a rotation would re-issue). An
// expiry that cannot be read counts as none, the widest reading: an expiring caller cannot rotate
// it.
KeyScope ScopeOf(const KeyInfo& key, Role owner_role);
// The first dimension in which `wanted` reaches beyond `held`; nullopt: equal or narrower in all.
std::optional<ScopeExcess> Exceeds(const KeyScope& wanted, const KeyScope& held);

struct User {
  std::string id;
  std::string email;
  Role role = Role::kViewer;
  bool active = true;
};

struct NewKey {
  std::string id;
  std::string secret;  // shown once, never stored
  std::string prefix;
};

// Keys look like "sk-bro-" + 43 characters of base64url (256 random bits). Only an
// HMAC-SHA-256 of the whole key under the server secret is stored; the first
// characters are kept as a visible prefix so people can tell keys apart.
class KeyHasher {
 public:
  explicit KeyHasher(const std::string& secret);
  std::string Hash(std::string_view key) const;
  static std::string Generate();
  static std::string PrefixOf(std::string_view key);
  static bool LooksLikeKey(std::string_view key);

 private:
  // HMAC-SHA-256 keyed once; each Hash() duplicates it (OpenSSL 3's one-shot HMAC() fetches
  // the algorithm on every call, which costs more than the hash itself).
  std::shared_ptr<evp_mac_ctx_st> keyed_;
};

// Users and API keys in the database (SQL written once for both dialects).
class KeyRepository {
 public:
  explicit KeyRepository(storage::Database& db) : db_(db) {}
  Task<std::int64_t> CountUsers();
  Task<User> UpsertUser(const std::string& email, Role role);
  Task<NewKey> CreateKey(const KeyHasher& hasher, const User& user, const std::string& name,
                         Role role, const std::vector<std::string>& allowed_models,
                         std::optional<std::chrono::system_clock::time_point> expires_at,
                         bool cache_responses = false);
  // The active principal for a key hash, or nullopt (unknown, revoked, expired, user deactivated).
  Task<std::optional<Principal>> FindActive(const std::string& hash,
                                            std::chrono::system_clock::time_point now);
  Task<void> TouchLastUsed(const std::string& key_id, std::chrono::system_clock::time_point now);

  // Lifecycle. `user_id` empty lists every user's keys (admins).
  Task<std::vector<KeyInfo>> ListKeys(const std::string& user_id);
  Task<std::optional<KeyInfo>> FindKey(const std::string& id);
  // True when the key was active and is now revoked.
  Task<bool> RevokeKey(const std::string& id, std::chrono::system_clock::time_point now);
  // A new key with the old one's name, role, models and expiry; the old key stays valid until
  // now + grace (or its own earlier expiry) and records its successor. One transaction.
  Task<NewKey> RotateKey(const KeyHasher& hasher, const KeyInfo& old, const User& owner,
                         std::chrono::milliseconds grace,
                         std::chrono::system_clock::time_point now);

 private:
  storage::Database& db_;
};

// Authenticates "Authorization: Bearer <key>" with a short-lived cache so the hot
// path costs one HMAC and a hash-map lookup; revocation takes effect within
// `cache_ttl` on every replica.
class Authenticator {
 public:
  Authenticator(KeyRepository& repo, KeyHasher hasher, std::chrono::milliseconds cache_ttl,
                const common::Clock& clock);
  // nullopt when the header is missing, malformed, or names no active key.
  Task<std::optional<Principal>> Authenticate(std::string_view authorization_header);
  const KeyHasher& Hasher() const { return hasher_; }
  // Drops cached keys at once on this replica (revocation, deactivation, role change); other
  // replicas drop them when their cache entries expire, at most cache_ttl later.
  void ForgetKey(const std::string& key_id);
  void ForgetUser(const std::string& user_id);

 private:
  struct Entry {
    std::optional<Principal> principal;
    std::chrono::system_clock::time_point expires;
  };
  KeyRepository& repo_;
  KeyHasher hasher_;
  std::chrono::milliseconds ttl_;
  const common::Clock& clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> cache_;
};

}  // namespace bro::auth
