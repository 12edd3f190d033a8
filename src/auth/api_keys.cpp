#include "auth/api_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <algorithm>
#include <sstream>

#include "common/random.hpp"

namespace bro::auth {
namespace {

constexpr std::string_view kKeyPrefix = "sk-bro-";
constexpr std::size_t kKeyRandomBytes = 32;
constexpr std::size_t kVisiblePrefix = 12;
constexpr std::size_t kMaxCacheEntries = 100'000;

constexpr storage::Query kCountUsers{"count_users", "SELECT COUNT(*) FROM users"};
constexpr storage::Query kUpsertUser{
    "upsert_user",
    "INSERT INTO users (id, email, role, active, created_at, updated_at) VALUES ($1, $2, $3, 1, "
    "$4, $4) "
    "ON CONFLICT (email) DO UPDATE SET updated_at = excluded.updated_at "
    "RETURNING id, email, role, active"};
constexpr storage::Query kInsertKey{"insert_api_key",
                                    "INSERT INTO api_keys (id, user_id, name, prefix, hash, role, "
                                    "allowed_models, created_at, expires_at, cache_responses) "
                                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"};
constexpr storage::Query kSelectActiveKey{
    "select_active_api_key",
    "SELECT k.id, k.prefix, k.role, k.allowed_models, u.id, u.email, u.role, k.cache_responses, "
    "k.expires_at "
    "FROM api_keys k JOIN users u ON u.id = k.user_id "
    "WHERE k.hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > $2) "
    "AND u.active = 1"};
constexpr storage::Query kTouchKey{"touch_api_key",
                                   "UPDATE api_keys SET last_used_at = $2 WHERE id = $1"};
#define BRO_KEY_COLUMNS                                                                         \
  "SELECT k.id, k.user_id, u.email, k.name, k.prefix, k.role, k.allowed_models, k.created_at, " \
  "k.expires_at, k.revoked_at, k.last_used_at, k.replaced_by, k.cache_responses "               \
  "FROM api_keys k JOIN users u ON "                                                            \
  "u.id = k.user_id "
constexpr storage::Query kListKeys{"list_api_keys", BRO_KEY_COLUMNS
                                   "WHERE ($1 = '' OR k.user_id = $1) ORDER BY k.created_at, k.id"};
constexpr storage::Query kFindKey{"find_api_key", BRO_KEY_COLUMNS "WHERE k.id = $1"};
#undef BRO_KEY_COLUMNS
constexpr storage::Query kRevokeKey{
    "revoke_api_key",
    "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING id"};
constexpr storage::Query kRetireKey{
    "retire_api_key", "UPDATE api_keys SET expires_at = $2, replaced_by = $3 WHERE id = $1"};

std::vector<std::string> SplitModels(const std::string& csv) {
  std::vector<std::string> out;
  std::stringstream ss(csv);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string JoinModels(const std::vector<std::string>& models) {
  std::string out;
  for (const auto& m : models) {
    if (!out.empty()) out += ',';
    out += m;
  }
  return out;
}

KeyInfo KeyInfoOf(const storage::Row& r) {
  KeyInfo k;
  k.id = r.Text(0);
  k.user_id = r.Text(1);
  k.user_email = r.Text(2);
  k.name = r.Text(3);
  k.prefix = r.Text(4);
  k.role = ParseRole(r.Text(5)).value_or(Role::kViewer);
  k.allowed_models = SplitModels(r.Text(6));
  k.created_at = r.Text(7);
  k.expires_at = r.OptText(8);
  k.revoked_at = r.OptText(9);
  k.last_used_at = r.OptText(10);
  k.replaced_by = r.OptText(11);
  k.cache_responses = r.Int(12) != 0;
  return k;
}

Role Lesser(Role a, Role b) {
  return static_cast<int>(a) > static_cast<int>(b) ? a : b;
}

// Built outside the coroutine: GCC 12 mishandles braced temporaries in coroutine bodies.
std::vector<storage::Statement> RotationStatements(const KeyHasher& hasher, const KeyInfo& old,
                                                   const User& owner, const NewKey& k,
                                                   std::chrono::system_clock::time_point now,
                                                   std::chrono::milliseconds grace) {
  std::string old_until = common::FormatIso8601(now + grace);
  if (old.expires_at && *old.expires_at < old_until) old_until = *old.expires_at;
  storage::Value new_expiry = nullptr;
  if (old.expires_at) new_expiry = *old.expires_at;
  std::vector<storage::Statement> tx;
  tx.push_back(
      {kInsertKey,
       {k.id, owner.id, old.name, k.prefix, hasher.Hash(k.secret),
        std::string(RoleName(Lesser(old.role, owner.role))), JoinModels(old.allowed_models),
        common::FormatIso8601(now), new_expiry, std::int64_t{old.cache_responses ? 1 : 0}}});
  tx.push_back({kRetireKey, {old.id, old_until, k.id}});
  return tx;
}

}  // namespace

std::optional<Role> ParseRole(std::string_view s) {
  if (s == "admin") return Role::kAdmin;
  if (s == "developer") return Role::kDeveloper;
  if (s == "viewer") return Role::kViewer;
  return std::nullopt;
}

std::string_view RoleName(Role r) {
  switch (r) {
    case Role::kAdmin:
      return "admin";
    case Role::kDeveloper:
      return "developer";
    case Role::kViewer:
      return "viewer";
  }
  return "viewer";
}

KeyScope ScopeOf(const Principal& key_caller) {
  return {key_caller.role, key_caller.allowed_models, key_caller.key_expires_at,
          key_caller.cache_responses};
}

KeyScope ScopeOf(const KeyInfo& key, Role owner_role) {
  KeyScope scope{Lesser(key.role, owner_role), key.allowed_models, std::nullopt,
                 key.cache_responses};
  if (key.expires_at) scope.expires_at = common::ParseIso8601(*key.expires_at);
  return scope;
}

std::optional<ScopeExcess> Exceeds(const KeyScope& wanted, const KeyScope& held) {
  if (static_cast<int>(wanted.role) < static_cast<int>(held.role)) return ScopeExcess::kRole;
  if (!held.models.empty()) {
    // An empty list means every model, the widest list of all.
    if (wanted.models.empty()) return ScopeExcess::kModels;
    for (const auto& m : wanted.models) {
      if (std::find(held.models.begin(), held.models.end(), m) == held.models.end()) {
        return ScopeExcess::kModels;
      }
    }
  }
  if (held.expires_at && (!wanted.expires_at || *wanted.expires_at > *held.expires_at)) {
    return ScopeExcess::kExpiry;
  }
  if (wanted.cache_responses && !held.cache_responses) return ScopeExcess::kCacheResponses;
  return std::nullopt;
}

bool Principal::MayUseModel(std::string_view model) const {
  return allowed_models.empty() ||
         std::find(allowed_models.begin(), allowed_models.end(), model) != allowed_models.end();
}

KeyHasher::KeyHasher(const std::string& secret) {
  std::unique_ptr<EVP_MAC, decltype(&EVP_MAC_free)> mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr),
                                                        &EVP_MAC_free);
  if (!mac) throw std::runtime_error("OpenSSL: HMAC unavailable");
  keyed_.reset(EVP_MAC_CTX_new(mac.get()), &EVP_MAC_CTX_free);
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", digest, 0),
                               OSSL_PARAM_construct_end()};
  if (!keyed_ || EVP_MAC_init(keyed_.get(), reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size(), params) != 1) {
    throw std::runtime_error("OpenSSL: cannot key HMAC-SHA-256");
  }
}

std::string KeyHasher::Hash(std::string_view key) const {
  std::unique_ptr<EVP_MAC_CTX, decltype(&EVP_MAC_CTX_free)> ctx(EVP_MAC_CTX_dup(keyed_.get()),
                                                                &EVP_MAC_CTX_free);
  unsigned char out[EVP_MAX_MD_SIZE];
  std::size_t len = 0;
  if (!ctx ||
      EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(key.data()), key.size()) !=
          1 ||
      EVP_MAC_final(ctx.get(), out, &len, sizeof out) != 1) {
    throw std::runtime_error("OpenSSL: HMAC failed");
  }
  return common::HexEncode(std::string_view(reinterpret_cast<const char*>(out), len));
}

std::string KeyHasher::Generate() {
  return std::string(kKeyPrefix) + common::Base64Url(common::SecureRandomBytes(kKeyRandomBytes));
}

std::string KeyHasher::PrefixOf(std::string_view key) {
  return std::string(key.substr(0, kVisiblePrefix));
}

bool KeyHasher::LooksLikeKey(std::string_view key) {
  if (!key.starts_with(kKeyPrefix) || key.size() != kKeyPrefix.size() + 43) return false;
  return std::all_of(key.begin() + static_cast<std::ptrdiff_t>(kKeyPrefix.size()), key.end(),
                     [](char c) {
                       return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                              (c >= '0' && c <= '9') || c == '-' || c == '_';
                     });
}

Task<std::int64_t> KeyRepository::CountUsers() {
  auto rows = co_await db_.Execute(kCountUsers, {});
  co_return rows.rows.at(0).Int(0);
}

Task<User> KeyRepository::UpsertUser(const std::string& email, Role role) {
  storage::Params params{common::RandomHex(16), email, std::string(RoleName(role)),
                         common::NowIso8601()};
  auto rows = co_await db_.Execute(kUpsertUser, std::move(params));
  const auto& r = rows.rows.at(0);
  co_return User{r.Text(0), r.Text(1), ParseRole(r.Text(2)).value_or(Role::kViewer), r.Int(3) != 0};
}

Task<NewKey> KeyRepository::CreateKey(
    const KeyHasher& hasher, const User& user, const std::string& name, Role role,
    const std::vector<std::string>& allowed_models,
    std::optional<std::chrono::system_clock::time_point> expires_at, bool cache_responses) {
  NewKey k;
  k.id = common::RandomHex(16);
  k.secret = KeyHasher::Generate();
  k.prefix = KeyHasher::PrefixOf(k.secret);
  storage::Value expires = nullptr;
  if (expires_at) expires = common::FormatIso8601(*expires_at);
  storage::Params params{k.id,
                         user.id,
                         name,
                         k.prefix,
                         hasher.Hash(k.secret),
                         std::string(RoleName(Lesser(role, user.role))),
                         JoinModels(allowed_models),
                         common::NowIso8601(),
                         expires,
                         std::int64_t{cache_responses ? 1 : 0}};
  co_await db_.Execute(kInsertKey, std::move(params));
  co_return k;
}

Task<std::optional<Principal>> KeyRepository::FindActive(
    const std::string& hash, std::chrono::system_clock::time_point now) {
  storage::Params params{hash, common::FormatIso8601(now)};
  auto rows = co_await db_.Execute(kSelectActiveKey, std::move(params));
  if (rows.Empty()) co_return std::nullopt;
  const auto& r = rows.rows[0];
  Principal p;
  p.method = "api_key";
  p.key_id = r.Text(0);
  p.key_prefix = r.Text(1);
  auto key_role = ParseRole(r.Text(2)).value_or(Role::kViewer);
  p.allowed_models = SplitModels(r.Text(3));
  p.user_id = r.Text(4);
  p.email = r.Text(5);
  // A key never grants more than its user currently has: a demoted user's keys shrink with them.
  p.role = Lesser(key_role, ParseRole(r.Text(6)).value_or(Role::kViewer));
  p.cache_responses = r.Int(7) != 0;
  if (auto expires = r.OptText(8)) {
    // Unreadable expiry text: the key is treated as expiring now, so it can hand out no lifetime
    // at all (it still authenticates: the query above already compared the text).
    p.key_expires_at = common::ParseIso8601(*expires).value_or(now);
  }
  co_return p;
}

Task<void> KeyRepository::TouchLastUsed(const std::string& key_id,
                                        std::chrono::system_clock::time_point now) {
  storage::Params params{key_id, common::FormatIso8601(now)};
  co_await db_.Execute(kTouchKey, std::move(params));
}

Task<std::vector<KeyInfo>> KeyRepository::ListKeys(const std::string& user_id) {
  storage::Params params{user_id};
  auto rows = co_await db_.Execute(kListKeys, std::move(params));
  std::vector<KeyInfo> out;
  out.reserve(rows.rows.size());
  for (const auto& r : rows.rows) out.push_back(KeyInfoOf(r));
  co_return out;
}

Task<std::optional<KeyInfo>> KeyRepository::FindKey(const std::string& id) {
  storage::Params params{id};
  auto rows = co_await db_.Execute(kFindKey, std::move(params));
  if (rows.Empty()) co_return std::nullopt;
  co_return KeyInfoOf(rows.rows[0]);
}

Task<bool> KeyRepository::RevokeKey(const std::string& id,
                                    std::chrono::system_clock::time_point now) {
  storage::Params params{id, common::FormatIso8601(now)};
  auto rows = co_await db_.Execute(kRevokeKey, std::move(params));
  co_return !rows.Empty();
}

Task<NewKey> KeyRepository::RotateKey(const KeyHasher& hasher, const KeyInfo& old,
                                      const User& owner, std::chrono::milliseconds grace,
                                      std::chrono::system_clock::time_point now) {
  NewKey k;
  k.id = common::RandomHex(16);
  k.secret = KeyHasher::Generate();
  k.prefix = KeyHasher::PrefixOf(k.secret);
  auto tx = RotationStatements(hasher, old, owner, k, now, grace);
  co_await db_.ExecuteInTransaction(std::move(tx));
  co_return k;
}

void Authenticator::ForgetKey(const std::string& key_id) {
  std::lock_guard lock(mu_);
  std::erase_if(cache_, [&](const auto& e) {
    return e.second.principal && e.second.principal->key_id == key_id;
  });
}

void Authenticator::ForgetUser(const std::string& user_id) {
  std::lock_guard lock(mu_);
  std::erase_if(cache_, [&](const auto& e) {
    return e.second.principal && e.second.principal->user_id == user_id;
  });
}

Authenticator::Authenticator(KeyRepository& repo, KeyHasher hasher,
                             std::chrono::milliseconds cache_ttl, const common::Clock& clock)
    : repo_(repo), hasher_(std::move(hasher)), ttl_(cache_ttl), clock_(clock) {}

Task<std::optional<Principal>> Authenticator::Authenticate(std::string_view header) {
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() > 512 || header.size() <= kBearer.size()) co_return std::nullopt;
  if (!std::equal(kBearer.begin(), kBearer.end(), header.begin(), [](char a, char b) {
        return std::tolower(static_cast<unsigned char>(a)) ==
               std::tolower(static_cast<unsigned char>(b));
      })) {
    co_return std::nullopt;
  }
  auto key = header.substr(kBearer.size());
  while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
  if (!KeyHasher::LooksLikeKey(key)) co_return std::nullopt;
  const auto hash = hasher_.Hash(key);
  const auto now = clock_.Now();
  {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find(hash); it != cache_.end()) {
      if (it->second.expires > now) co_return it->second.principal;
      cache_.erase(it);
    }
  }
  auto principal = co_await repo_.FindActive(hash, now);
  if (!principal)
    co_return std::nullopt;  // unknown keys are not cached: guessing cannot fill memory
  co_await repo_.TouchLastUsed(principal->key_id, now);
  if (ttl_.count() > 0) {
    std::lock_guard lock(mu_);
    if (cache_.size() >= kMaxCacheEntries) cache_.clear();
    cache_[hash] = Entry{principal, now + ttl_};
  }
  co_return principal;
}

}  // namespace bro::auth
