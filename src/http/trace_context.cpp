#include "http/trace_context.hpp"

namespace bro::http {
namespace {

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string TraceIdFrom(std::string_view traceparent) {
  if (traceparent.size() != 55 || traceparent[2] != '-' || traceparent[35] != '-' ||
      traceparent[52] != '-')
    return {};
  auto version = traceparent.substr(0, 2);
  auto trace = traceparent.substr(3, 32);
  auto parent = traceparent.substr(36, 16);
  if (version == "ff" || !IsLowerHex(version) || !IsLowerHex(trace) || !IsLowerHex(parent))
    return {};
  if (trace.find_first_not_of('0') == std::string_view::npos) return {};
  if (parent.find_first_not_of('0') == std::string_view::npos) return {};
  return std::string(trace);
}

std::string Traceparent(std::string_view trace_id, std::string_view span_id) {
  std::string out = "00-";
  out.append(trace_id);
  out += '-';
  out.append(span_id);
  out += "-01";
  return out;
}

}  // namespace bro::http
