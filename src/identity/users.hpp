#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "auth/api_keys.hpp"
#include "http/types.hpp"
#include "storage/sql/database.hpp"

namespace bro::identity {

// One Task alias in this namespace (sessions and fetches use http::Task; clang refuses two).

struct UserRecord {
  auth::User user;
  std::string display_name;
  std::string created_at;
  std::optional<std::string> last_login_at;
};

// What an OIDC login tells us about the person.
struct LoginIdentity {
  std::string email;
  std::string subject;
  std::string name;
};

// Users in the database (SQL written once for both dialects).
class UserRepository {
 public:
  explicit UserRepository(storage::Database& db) : db_(db) {}
  Task<std::optional<auth::User>> FindById(const std::string& id);
  Task<std::optional<auth::User>> FindByEmail(const std::string& email);
  // Creates the user at first login (admin when the system has no user at all and
  // `first_user_admin`, else `default_role`) or records the login. nullopt when the email is
  // already bound to another subject of the issuer (a different account reusing the address).
  Task<std::optional<auth::User>> RecordLogin(const LoginIdentity& who, auth::Role default_role,
                                              bool first_user_admin,
                                              std::chrono::system_clock::time_point now);
  // Ordered by id; `after_id` pages.
  Task<std::vector<UserRecord>> List(int limit, const std::string& after_id);
  // Changes role and/or active; nullopt when the user does not exist.
  Task<std::optional<auth::User>> Update(const std::string& id, std::optional<auth::Role> role,
                                         std::optional<bool> active,
                                         std::chrono::system_clock::time_point now);

 private:
  storage::Database& db_;
};

}  // namespace bro::identity
