#include <boost/json/object.hpp>
#include <cstdio>

#include "http/session.hpp"

namespace bro::http {
namespace {

std::string FormatLatency(Clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6fs", std::chrono::duration<double>(d).count());
  return buf;
}

}  // namespace

void Session::AccessLog(const Request& req, std::string_view route, unsigned status,
                        std::size_t bytes, Clock::time_point start, const Exchange* ex) {
  auto elapsed = Clock::now() - start;
  const std::string method(req.method_string());
  // Metric objects per (route, method, status), resolved once: no label strings on the hot path.
  auto& h = server_.MetricsFor(route, req.method(), status, method);
  h.requests->Inc();
  h.duration->Observe(std::chrono::duration<double>(elapsed).count());
  auto& log = server_.log_;
  if (!server_.options_.access_log || !log.AccessLogEnabled() ||
      !log.Enabled(observability::Severity::kInfo))
    return;
  boost::json::object http_request;
  http_request["requestMethod"] = method;
  http_request["requestUrl"] = std::string(req.target().substr(0, 2048));
  http_request["status"] = status;
  http_request["responseSize"] = std::to_string(bytes);
  http_request["userAgent"] = std::string(req[Field::user_agent].substr(0, 512));
  http_request["remoteIp"] = ex != nullptr ? ex->ClientIp() : remote_.address().to_string();
  http_request["latency"] = FormatLatency(elapsed);
  http_request["protocol"] = req.version() == 10 ? "HTTP/1.0" : "HTTP/1.1";
  boost::json::object fields;
  fields["httpRequest"] = std::move(http_request);
  fields["route"] = std::string(route);
  if (ex != nullptr) {
    fields["logging.googleapis.com/trace"] = log.TraceResource(ex->TraceId());
    fields["logging.googleapis.com/spanId"] = ex->SpanId();
    for (const auto& kv : ex->LogFields()) fields[kv.key()] = kv.value();
  }
  log.Info("request", std::move(fields));
}

}  // namespace bro::http
