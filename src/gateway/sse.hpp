#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace bro::gateway {

// Splits a Server-Sent Events byte stream into complete events (terminated by
// a blank line; LF or CRLF). Events are handed over with their terminator so
// they can be relayed byte for byte. Bounded: an event larger than max_event
// bytes is an error.
class SseSplitter {
 public:
  explicit SseSplitter(std::size_t max_event = 1 << 20) : max_event_(max_event) {}
  // Returns false when an event exceeds the bound.
  bool Feed(std::string_view bytes, const std::function<void(std::string_view event)>& on_event);
  std::string_view Pending() const { return pending_; }

 private:
  std::size_t max_event_;
  std::string pending_;
};

// The concatenated `data:` payload of one event (lines joined with '\n').
std::string SseData(std::string_view event);

}  // namespace bro::gateway
