#pragma once

#include <cstdint>
#include <limits>

// Arithmetic on amounts a client influences (token counts, costs): it saturates instead of
// wrapping, so an absurd request becomes an absurdly large reservation that every limit refuses,
// never a negative one that every limit admits.
namespace bro::common {

inline constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
inline constexpr std::int64_t kInt64Min = std::numeric_limits<std::int64_t>::min();

constexpr std::int64_t SaturatingAdd(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) return b > 0 ? kInt64Max : kInt64Min;
  return out;
}

constexpr std::int64_t SaturatingMul(std::int64_t a, std::int64_t b) {
  std::int64_t out = 0;
  if (__builtin_mul_overflow(a, b, &out)) return (a < 0) == (b < 0) ? kInt64Max : kInt64Min;
  return out;
}

// A double (a cost computed from prices) as an int64, clamped; NaN is 0.
constexpr std::int64_t ClampToInt64(double d) {
  if (!(d == d)) return 0;
  // 2^63 is exactly representable; every double below it converts without overflow.
  if (d >= 9223372036854775808.0) return kInt64Max;
  if (d <= -9223372036854775808.0) return kInt64Min;
  return static_cast<std::int64_t>(d);
}

}  // namespace bro::common
