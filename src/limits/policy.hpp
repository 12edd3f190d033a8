#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "auth/api_keys.hpp"
#include "common/time.hpp"
#include "config/config.hpp"
#include "limits/limiter.hpp"
#include "observability/log.hpp"
#include "storage/sql/database.hpp"

namespace bro::limits {

Policy PolicyFrom(const config::LimitPolicyConfig& c);
std::int64_t UsdToNanos(double usd);

// An admin's change to one subject's limits. Unset fields inherit the configured default;
// 0 means unlimited. model "" applies to every model; a model name adds a limit of its own
// counted only for that model (on top of the subject's general one).
struct Override {
  std::string scope;  // "key" | "user"
  std::string subject_id;
  std::string model;
  std::optional<std::int64_t> requests_per_minute;
  std::optional<std::int64_t> tokens_per_minute;
  std::optional<std::int64_t> concurrent_requests;
  std::optional<std::int64_t> daily_tokens;
  std::optional<std::int64_t> monthly_tokens;
  std::optional<std::int64_t> daily_cost_nanos;
  std::optional<std::int64_t> monthly_cost_nanos;
  std::string updated_at;
  std::string updated_by;
};

Policy Apply(Policy base, const Override& o);

// limit_overrides in the database (SQL written once for both dialects).
class OverrideRepository {
 public:
  explicit OverrideRepository(storage::Database& db) : db_(db) {}
  Task<std::vector<Override>> List();
  Task<void> Upsert(const Override& o);
  // True when a row was deleted.
  Task<bool> Delete(const std::string& scope, const std::string& subject_id,
                    const std::string& model);
  // True when the key or user exists.
  Task<bool> SubjectExists(const std::string& scope, const std::string& subject_id);

 private:
  storage::Database& db_;
};

// Which subjects a request is counted against, with their policies: the API key and the user
// (defaults from config, overridden per subject), plus per-model subjects where an override
// names the model. Overrides are read from the database by a background loop every
// `override_refresh`, so a change made through /api/v1/limits on one replica reaches every
// replica within that time (and at once on the replica that made it). Requests never wait for
// the database: they read the current snapshot. A failed refresh keeps the snapshot (the
// database being down must not lift limits) and is logged.
class PolicyResolver {
 public:
  PolicyResolver(const config::LimitsConfig& cfg, OverrideRepository& repo);
  Task<void> Load();
  // The refresh loop on `executor` (which must not run its handlers concurrently).
  void Start(const boost::asio::any_io_executor& executor, observability::Logger& log);
  Task<void> Stop();
  // Unlimited subjects are left out: they have nothing to count.
  Task<std::vector<Subject>> Resolve(const auth::Principal& principal, std::string_view model);
  std::vector<Subject> ResolveNow(const auth::Principal& principal, std::string_view model) const;
  const Policy& KeyDefault() const { return key_default_; }
  const Policy& UserDefault() const { return user_default_; }

 private:
  using Key = std::tuple<std::string, std::string, std::string>;  // scope, subject, model
  using Snapshot = std::map<Key, Override>;
  std::shared_ptr<const Snapshot> Current() const;

  Policy key_default_;
  Policy user_default_;
  std::chrono::milliseconds refresh_;
  OverrideRepository& repo_;
  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_ = std::make_shared<Snapshot>();
  Task<void> Loop(observability::Logger& log);
  std::optional<boost::asio::steady_timer> timer_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> loop_running_{false};
};

}  // namespace bro::limits
