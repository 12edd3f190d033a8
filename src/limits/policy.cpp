#include "limits/policy.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>

namespace bro::limits {
namespace {

constexpr storage::Query kListOverrides{
    "list_limit_overrides",
    "SELECT scope, subject_id, model, requests_per_minute, tokens_per_minute, "
    "concurrent_requests, daily_tokens, monthly_tokens, daily_cost_nanos, monthly_cost_nanos, "
    "updated_at, updated_by FROM limit_overrides ORDER BY scope, subject_id, model"};
constexpr storage::Query kUpsertOverride{
    "upsert_limit_override",
    "INSERT INTO limit_overrides (scope, subject_id, model, requests_per_minute, "
    "tokens_per_minute, concurrent_requests, daily_tokens, monthly_tokens, daily_cost_nanos, "
    "monthly_cost_nanos, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
    "$11, $12) ON CONFLICT (scope, subject_id, model) DO UPDATE SET "
    "requests_per_minute = excluded.requests_per_minute, "
    "tokens_per_minute = excluded.tokens_per_minute, "
    "concurrent_requests = excluded.concurrent_requests, daily_tokens = excluded.daily_tokens, "
    "monthly_tokens = excluded.monthly_tokens, daily_cost_nanos = excluded.daily_cost_nanos, "
    "monthly_cost_nanos = excluded.monthly_cost_nanos, updated_at = excluded.updated_at, "
    "updated_by = excluded.updated_by"};
constexpr storage::Query kDeleteOverride{
    "delete_limit_override",
    "DELETE FROM limit_overrides WHERE scope = $1 AND subject_id = $2 AND model = $3"};
constexpr storage::Query kKeyExists{"limit_key_exists", "SELECT 1 FROM api_keys WHERE id = $1"};
constexpr storage::Query kUserExists{"limit_user_exists", "SELECT 1 FROM users WHERE id = $1"};

std::optional<std::int64_t> OptInt(const storage::Row& r, std::size_t i) {
  if (r.IsNull(i)) return std::nullopt;
  return r.Int(i);
}

storage::Value OrNull(const std::optional<std::int64_t>& v) {
  return v ? storage::Value(*v) : storage::Value(nullptr);
}

void Set(std::int64_t& target, const std::optional<std::int64_t>& v) {
  if (v) target = *v;
}

}  // namespace

std::int64_t UsdToNanos(double usd) {
  return std::llround(usd * 1e9);
}

Policy PolicyFrom(const config::LimitPolicyConfig& c) {
  Policy p;
  p.requests_per_minute = c.requests_per_minute;
  p.tokens_per_minute = c.tokens_per_minute;
  p.concurrent_requests = c.concurrent_requests;
  p.daily_tokens = c.daily_tokens;
  p.monthly_tokens = c.monthly_tokens;
  p.daily_cost_nanos = UsdToNanos(c.daily_cost_usd);
  p.monthly_cost_nanos = UsdToNanos(c.monthly_cost_usd);
  return p;
}

Policy Apply(Policy base, const Override& o) {
  Set(base.requests_per_minute, o.requests_per_minute);
  Set(base.tokens_per_minute, o.tokens_per_minute);
  Set(base.concurrent_requests, o.concurrent_requests);
  Set(base.daily_tokens, o.daily_tokens);
  Set(base.monthly_tokens, o.monthly_tokens);
  Set(base.daily_cost_nanos, o.daily_cost_nanos);
  Set(base.monthly_cost_nanos, o.monthly_cost_nanos);
  return base;
}

Task<std::vector<Override>> OverrideRepository::List() {
  auto rows = co_await db_.Execute(kListOverrides, {});
  std::vector<Override> out;
  out.reserve(rows.rows.size());
  for (const auto& r : rows.rows) {
    Override o;
    o.scope = r.Text(0);
    o.subject_id = r.Text(1);
    o.model = r.Text(2);
    o.requests_per_minute = OptInt(r, 3);
    o.tokens_per_minute = OptInt(r, 4);
    o.concurrent_requests = OptInt(r, 5);
    o.daily_tokens = OptInt(r, 6);
    o.monthly_tokens = OptInt(r, 7);
    o.daily_cost_nanos = OptInt(r, 8);
    o.monthly_cost_nanos = OptInt(r, 9);
    o.updated_at = r.Text(10);
    o.updated_by = r.Text(11);
    out.push_back(std::move(o));
  }
  co_return out;
}

Task<void> OverrideRepository::Upsert(const Override& o) {
  storage::Params p;
  p.emplace_back(o.scope);
  p.emplace_back(o.subject_id);
  p.emplace_back(o.model);
  p.push_back(OrNull(o.requests_per_minute));
  p.push_back(OrNull(o.tokens_per_minute));
  p.push_back(OrNull(o.concurrent_requests));
  p.push_back(OrNull(o.daily_tokens));
  p.push_back(OrNull(o.monthly_tokens));
  p.push_back(OrNull(o.daily_cost_nanos));
  p.push_back(OrNull(o.monthly_cost_nanos));
  p.emplace_back(o.updated_at);
  p.emplace_back(o.updated_by);
  co_await db_.Execute(kUpsertOverride, std::move(p));
}

Task<bool> OverrideRepository::Delete(const std::string& scope, const std::string& subject_id,
                                      const std::string& model) {
  storage::Params p;
  p.emplace_back(scope);
  p.emplace_back(subject_id);
  p.emplace_back(model);
  auto rows = co_await db_.Execute(kDeleteOverride, std::move(p));
  co_return rows.affected > 0;
}

Task<bool> OverrideRepository::SubjectExists(const std::string& scope,
                                             const std::string& subject_id) {
  storage::Params p;
  p.emplace_back(subject_id);
  auto rows = co_await db_.Execute(scope == "key" ? kKeyExists : kUserExists, std::move(p));
  co_return !rows.Empty();
}

PolicyResolver::PolicyResolver(const config::LimitsConfig& cfg, OverrideRepository& repo)
    : key_default_(PolicyFrom(cfg.per_key)),
      user_default_(PolicyFrom(cfg.per_user)),
      refresh_(cfg.override_refresh),
      repo_(repo) {}

Task<void> PolicyResolver::Load() {
  auto list = co_await repo_.List();
  auto snapshot = std::make_shared<Snapshot>();
  for (auto& o : list) {
    Key k{o.scope, o.subject_id, o.model};
    snapshot->emplace(std::move(k), std::move(o));
  }
  std::lock_guard lock(mu_);
  snapshot_ = std::move(snapshot);
}

void PolicyResolver::Start(const boost::asio::any_io_executor& executor,
                           observability::Logger& log) {
  timer_.emplace(executor);
  loop_running_ = true;
  boost::asio::co_spawn(executor, Loop(log), boost::asio::detached);
}

Task<void> PolicyResolver::Loop(observability::Logger& log) {
  bool failing = false;
  while (!stopping_) {
    timer_->expires_after(refresh_);
    co_await timer_->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (stopping_) break;
    std::string error;
    try {
      co_await Load();
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!error.empty() && !failing) {
      log.Warning("limit overrides could not be reloaded; the last ones stay in force",
                  {{"error", error}});
    } else if (error.empty() && failing) {
      log.Info("limit overrides reloaded again");
    }
    failing = !error.empty();
  }
  loop_running_ = false;
}

Task<void> PolicyResolver::Stop() {
  stopping_ = true;
  if (!timer_) co_return;
  boost::asio::post(timer_->get_executor(), [this] { timer_->cancel(); });
  while (loop_running_) {
    boost::asio::steady_timer wait(timer_->get_executor(), std::chrono::milliseconds(5));
    co_await wait.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
}

std::shared_ptr<const PolicyResolver::Snapshot> PolicyResolver::Current() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

Task<std::vector<Subject>> PolicyResolver::Resolve(const auth::Principal& principal,
                                                   std::string_view model) {
  co_return ResolveNow(principal, model);
}

std::vector<Subject> PolicyResolver::ResolveNow(const auth::Principal& principal,
                                                std::string_view model) const {
  const auto snapshot = Current();
  std::vector<Subject> out;
  auto add = [&](const std::string& scope, const std::string& id, const Policy& base) {
    if (id.empty()) return;
    Policy p = base;
    if (auto it = snapshot->find(Key{scope, id, ""}); it != snapshot->end())
      p = Apply(p, it->second);
    if (!p.Unlimited()) out.push_back({scope + ":" + id, p});
    if (model.empty() || snapshot->empty()) return;
    if (auto it = snapshot->find(Key{scope, id, std::string(model)}); it != snapshot->end()) {
      Policy per_model = Apply(Policy{}, it->second);
      if (!per_model.Unlimited()) {
        out.push_back({scope + ":" + id + "|model:" + std::string(model), per_model});
      }
    }
  };
  add("key", principal.key_id, key_default_);
  add("user", principal.user_id, user_default_);
  return out;
}

}  // namespace bro::limits
