#include "identity/audit.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "common/random.hpp"

namespace bro::identity {
namespace {

namespace json = boost::json;

constexpr storage::Query kInsertAudit{
    "insert_audit",
    "INSERT INTO audit_log (id, created_at, actor_user_id, actor_email, actor_method, action, "
    "target_type, target_id, outcome, reason, ip, trace_id, details) VALUES ($1, $2, $3, $4, $5, "
    "$6, $7, $8, $9, $10, $11, $12, $13)"};
constexpr storage::Query kSelectAudit{
    "select_audit",
    "SELECT id, created_at, actor_user_id, actor_email, actor_method, action, target_type, "
    "target_id, outcome, reason, ip, trace_id, details FROM audit_log "
    "WHERE ($1 = '' OR action = $1) AND ($2 = '' OR actor_user_id = $2) AND ($3 = '' OR "
    "target_id = $3) AND ($4 = '' OR outcome = $4) AND ($5 = '' OR created_at >= $5) AND ($6 = '' "
    "OR created_at < $6) AND ($7 = '' OR id < $7) ORDER BY id DESC LIMIT $8"};

storage::Params InsertParams(const std::string& id, const std::string& at, const AuditEvent& e) {
  return {id,
          at,
          e.actor_user_id,
          e.actor_email,
          e.actor_method,
          e.action,
          e.target_type,
          e.target_id,
          std::string(e.success ? "success" : "failure"),
          e.reason,
          e.ip,
          e.trace_id,
          json::serialize(e.details)};
}

storage::Params QueryParams(const AuditFilter& f) {
  return {f.action, f.actor_user_id, f.target_id, f.outcome,
          f.since,  f.until,         f.before_id, std::int64_t{f.limit}};
}

json::object LogFields(const std::string& id, const AuditEvent& e) {
  return AuditEventJson({{"audit", true}, {"logName", "audit"}, {"audit_id", id}}, e);
}

}  // namespace

json::object AuditEventJson(json::object head, const AuditEvent& e) {
  json::object actor{
      {"user_id", e.actor_user_id}, {"email", e.actor_email}, {"method", e.actor_method}};
  json::object target{{"type", e.target_type}, {"id", e.target_id}};
  head.emplace("action", e.action);
  head.emplace("outcome", e.success ? "success" : "failure");
  head.emplace("reason", e.reason);
  head.emplace("actor", std::move(actor));
  head.emplace("target", std::move(target));
  head.emplace("ip", e.ip);
  head.emplace("trace_id", e.trace_id);
  head.emplace("details", e.details);
  return head;
}

Task<void> AuditLog::Record(AuditEvent event) {
  const auto id = common::TimeOrderedId();
  const auto at = common::FormatIso8601(clock_.Now());
  log_.Info("audit " + event.action, LogFields(id, event));
  auto params = InsertParams(id, at, event);
  co_await db_.Execute(kInsertAudit, std::move(params));
}

Task<std::vector<AuditRecord>> AuditLog::Query(AuditFilter filter) {
  auto params = QueryParams(filter);
  auto rows = co_await db_.Execute(kSelectAudit, std::move(params));
  std::vector<AuditRecord> out;
  out.reserve(rows.rows.size());
  for (const auto& r : rows.rows) {
    AuditRecord rec;
    rec.id = r.Text(0);
    rec.created_at = r.Text(1);
    auto& e = rec.event;
    e.actor_user_id = r.Text(2);
    e.actor_email = r.Text(3);
    e.actor_method = r.Text(4);
    e.action = r.Text(5);
    e.target_type = r.Text(6);
    e.target_id = r.Text(7);
    e.success = r.Text(8) == "success";
    e.reason = r.Text(9);
    e.ip = r.Text(10);
    e.trace_id = r.Text(11);
    boost::system::error_code ec;
    auto details = json::parse(r.Text(12), ec);
    if (!ec && details.is_object()) e.details = std::move(details.as_object());
    out.push_back(std::move(rec));
  }
  co_return out;
}

}  // namespace bro::identity
