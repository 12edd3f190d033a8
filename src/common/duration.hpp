#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bro::common {

using Duration = std::chrono::milliseconds;

// "250ms", "30s", "5m", "1h", or a bare integer meaning seconds.
std::optional<Duration> ParseDuration(std::string_view text);
std::string FormatDuration(Duration d);

// "1024", "16KiB", "1MiB", "2GiB" (also KB/MB/GB as powers of 1000).
std::optional<std::uint64_t> ParseSize(std::string_view text);

}  // namespace bro::common
