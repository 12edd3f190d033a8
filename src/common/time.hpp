#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace bro::common {

// Injected wherever expiry or TTL is decided, so tests can move time.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point Now() const = 0;
  // Now() in milliseconds since the Unix epoch.
  std::int64_t NowMs() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Now().time_since_epoch()).count();
  }
};

class SystemClock final : public Clock {
 public:
  std::chrono::system_clock::time_point Now() const override {
    return std::chrono::system_clock::now();
  }
};

// UTC, millisecond precision: 2026-11-25T17:45:55.123Z. Sorts lexicographically.
std::string FormatIso8601(std::chrono::system_clock::time_point t);
std::string NowIso8601();
// The inverse of FormatIso8601, and only of it: text that does not format back to itself is
// refused (nullopt) rather than read loosely.
std::optional<std::chrono::system_clock::time_point> ParseIso8601(const std::string& text);

}  // namespace bro::common
