#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "common/time.hpp"
#include "http/types.hpp"
#include "observability/log.hpp"
#include "storage/sql/database.hpp"

namespace bro::identity {

// One Task alias in this namespace (sessions and fetches use http::Task; clang refuses two).

// One security-relevant event: who did what to what, and whether it worked. `reason` says why
// something failed; it is stored and logged, never sent to the caller.
struct AuditEvent {
  std::string actor_user_id;
  std::string actor_email;
  std::string actor_method;  // api_key | session | jwt | iap | oidc | anonymous
  std::string action;        // login | logout | key.create | key.revoke | key.rotate | user.update
  std::string target_type;   // user | api_key | session
  std::string target_id;
  bool success = true;
  std::string reason;
  std::string ip;
  std::string trace_id;
  boost::json::object details;
};

// The event as JSON, as the audit API shows it and the audit log line carries it, after `head`
// (the fields of the place it goes to).
boost::json::object AuditEventJson(boost::json::object head, const AuditEvent& e);

struct AuditRecord {
  std::string id;
  std::string created_at;
  AuditEvent event;
};

struct AuditFilter {
  std::string action;
  std::string actor_user_id;
  std::string target_id;
  std::string outcome;    // success | failure | empty
  std::string since;      // ISO-8601, inclusive
  std::string until;      // ISO-8601, exclusive
  std::string before_id;  // keyset cursor: rows older than this id
  int limit = 50;
};

// The audit trail: rows in `audit_log` (append-only: this class only inserts and reads; the
// database refuses UPDATE and DELETE) and, for each event, a distinct log line
// (logName "audit", "audit": true) for log-based alerting.
class AuditLog {
 public:
  AuditLog(storage::Database& db, observability::Logger& log, const common::Clock& clock)
      : db_(db), log_(log), clock_(clock) {}
  Task<void> Record(AuditEvent event);
  // Newest first.
  Task<std::vector<AuditRecord>> Query(AuditFilter filter);

 private:
  storage::Database& db_;
  observability::Logger& log_;
  const common::Clock& clock_;
};

}  // namespace bro::identity
