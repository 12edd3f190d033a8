#include "identity/users.hpp"

#include "common/random.hpp"
#include "common/time.hpp"

namespace bro::identity {
namespace {

constexpr storage::Query kFindUserById{"find_user_by_id",
                                       "SELECT id, email, role, active FROM users WHERE id = $1"};
constexpr storage::Query kFindUserByEmail{
    "find_user_by_email", "SELECT id, email, role, active FROM users WHERE email = $1"};
constexpr storage::Query kRecordLogin{
    "record_login",
    "INSERT INTO users (id, email, display_name, role, active, created_at, updated_at, "
    "oidc_subject, last_login_at) VALUES ($1, $2, $3, CASE WHEN $4 = 1 AND NOT EXISTS (SELECT 1 "
    "FROM users) THEN 'admin' ELSE $5 END, 1, $6, $6, $7, $6) "
    "ON CONFLICT (email) DO UPDATE SET display_name = excluded.display_name, oidc_subject = "
    "excluded.oidc_subject, last_login_at = excluded.last_login_at, updated_at = "
    "excluded.updated_at WHERE users.oidc_subject IS NULL OR users.oidc_subject = "
    "excluded.oidc_subject "
    "RETURNING id, email, role, active"};
constexpr storage::Query kListUsers{
    "list_users",
    "SELECT id, email, role, active, display_name, created_at, last_login_at FROM users "
    "WHERE id > $1 ORDER BY id LIMIT $2"};
constexpr storage::Query kUpdateUser{
    "update_user",
    "UPDATE users SET role = CASE WHEN $2 = '' THEN role ELSE $2 END, active = CASE WHEN $3 < 0 "
    "THEN active ELSE $3 END, updated_at = $4 WHERE id = $1 RETURNING id, email, role, active"};

auth::User UserOf(const storage::Row& r) {
  return auth::User{r.Text(0), r.Text(1), auth::ParseRole(r.Text(2)).value_or(auth::Role::kViewer),
                    r.Int(3) != 0};
}

std::optional<auth::User> FirstUser(const storage::Rows& rows) {
  if (rows.Empty()) return std::nullopt;
  return UserOf(rows.rows[0]);
}

}  // namespace

Task<std::optional<auth::User>> UserRepository::FindById(const std::string& id) {
  storage::Params params{id};
  co_return FirstUser(co_await db_.Execute(kFindUserById, std::move(params)));
}

Task<std::optional<auth::User>> UserRepository::FindByEmail(const std::string& email) {
  storage::Params params{email};
  co_return FirstUser(co_await db_.Execute(kFindUserByEmail, std::move(params)));
}

Task<std::optional<auth::User>> UserRepository::RecordLogin(
    const LoginIdentity& who, auth::Role default_role, bool first_user_admin,
    std::chrono::system_clock::time_point now) {
  storage::Params params{common::TimeOrderedId(),
                         who.email,
                         who.name,
                         std::int64_t{first_user_admin ? 1 : 0},
                         std::string(auth::RoleName(default_role)),
                         common::FormatIso8601(now),
                         who.subject};
  co_return FirstUser(co_await db_.Execute(kRecordLogin, std::move(params)));
}

Task<std::vector<UserRecord>> UserRepository::List(int limit, const std::string& after_id) {
  storage::Params params{after_id, std::int64_t{limit}};
  auto rows = co_await db_.Execute(kListUsers, std::move(params));
  std::vector<UserRecord> out;
  for (const auto& r : rows.rows) {
    out.push_back(UserRecord{UserOf(r), r.Text(4), r.Text(5), r.OptText(6)});
  }
  co_return out;
}

Task<std::optional<auth::User>> UserRepository::Update(const std::string& id,
                                                       std::optional<auth::Role> role,
                                                       std::optional<bool> active,
                                                       std::chrono::system_clock::time_point now) {
  storage::Params params{id, role ? std::string(auth::RoleName(*role)) : std::string(),
                         std::int64_t{active ? (*active ? 1 : 0) : -1}, common::FormatIso8601(now)};
  co_return FirstUser(co_await db_.Execute(kUpdateUser, std::move(params)));
}

}  // namespace bro::identity
