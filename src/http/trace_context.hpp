#pragma once

#include <string>
#include <string_view>

// W3C Trace Context (https://www.w3.org/TR/trace-context/): the one place a traceparent is read
// or written, by the server for requests and by the upstream client for the calls it makes.
namespace bro::http {

// The trace id of a valid `traceparent` header (00-<32 hex>-<16 hex>-<2 hex>), or "" when it is
// absent or invalid (all-zero ids, version ff, upper-case hex).
std::string TraceIdFrom(std::string_view traceparent);
// The traceparent naming `span_id` of `trace_id` as the parent, sampled.
std::string Traceparent(std::string_view trace_id, std::string_view span_id);

}  // namespace bro::http
