#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/time.hpp"
#include "storage/kv/kv_store.hpp"

namespace bro::identity {

// What a browser session stands for. The role is not stored: it is read from the user's row on
// every request, so role changes and deactivation apply at once.
struct SessionData {
  std::string user_id;
  std::string email;
  std::vector<std::string> amr;
  bool mfa = false;
  std::string csrf_token;
  std::chrono::system_clock::time_point created;
};

struct SessionOptions {
  std::chrono::milliseconds absolute_ttl = std::chrono::hours(8);
  std::chrono::milliseconds idle_timeout = std::chrono::hours(1);
};

// Server-side sessions in a KvStore (Redis when REDIS_URL is set, else in-process). The
// browser holds only an opaque 256-bit id; the store is keyed by its SHA-256, so whoever reads
// the store cannot use what they read. Two keys per session: the record (lives until the
// absolute expiry) and a last-seen marker (refreshed on use, lives for the idle timeout), so a
// refresh racing a logout can never bring the record back.
class SessionStore {
 public:
  SessionStore(storage::kv::KvStore& kv, SessionOptions options, const common::Clock& clock)
      : kv_(kv), options_(options), clock_(clock) {}

  struct Created {
    std::string id;  // for the cookie; never stored
    SessionData data;
  };
  // A new session with a fresh id and CSRF token (ids are never reused: no fixation).
  Task<Created> Create(SessionData data);
  // The live session for a cookie value, or nullopt (unknown, malformed, expired, idle too long).
  Task<std::optional<SessionData>> Find(std::string id);
  Task<void> Destroy(std::string id);
  const SessionOptions& Options() const { return options_; }

  static bool LooksLikeId(std::string_view id);

 private:
  storage::kv::KvStore& kv_;
  SessionOptions options_;
  const common::Clock& clock_;
};

}  // namespace bro::identity
