#include "common/duration.hpp"

#include <charconv>

namespace bro::common {
namespace {

std::optional<std::uint64_t> ParseNumberPrefix(std::string_view text, std::string_view& unit) {
  std::uint64_t value = 0;
  const auto* begin = text.data();
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc{} || ptr == begin) return std::nullopt;
  unit = std::string_view(ptr, static_cast<std::size_t>(end - ptr));
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  return value;
}

}  // namespace

std::optional<Duration> ParseDuration(std::string_view text) {
  std::string_view unit;
  auto value = ParseNumberPrefix(text, unit);
  if (!value) return std::nullopt;
  constexpr std::uint64_t kMaxMs = 1000ULL * 60 * 60 * 24 * 365;
  std::uint64_t factor = 0;
  if (unit == "ms") {
    factor = 1;
  } else if (unit.empty() || unit == "s") {
    factor = 1000;
  } else if (unit == "m") {
    factor = 60'000;
  } else if (unit == "h") {
    factor = 3'600'000;
  } else {
    return std::nullopt;
  }
  if (*value > kMaxMs / factor) return std::nullopt;
  return Duration(static_cast<Duration::rep>(*value * factor));
}

std::string FormatDuration(Duration d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

std::optional<std::uint64_t> ParseSize(std::string_view text) {
  std::string_view unit;
  auto value = ParseNumberPrefix(text, unit);
  if (!value) return std::nullopt;
  std::uint64_t factor = 0;
  if (unit.empty() || unit == "B") {
    factor = 1;
  } else if (unit == "KiB") {
    factor = 1ULL << 10;
  } else if (unit == "MiB") {
    factor = 1ULL << 20;
  } else if (unit == "GiB") {
    factor = 1ULL << 30;
  } else if (unit == "KB") {
    factor = 1000;
  } else if (unit == "MB") {
    factor = 1000'000;
  } else if (unit == "GB") {
    factor = 1000'000'000;
  } else {
    return std::nullopt;
  }
  if (*value > (1ULL << 40) / factor) return std::nullopt;
  return *value * factor;
}

}  // namespace bro::common
