#pragma once

#include <string_view>

namespace bro::limits {

// The batch script RedisLimiter runs (src/limits/redis_limiter.lua), embedded at build time by
// cmake/EmbedText.cmake: the script is kept as Lua so that it reads, diffs and lints as Lua.
extern const std::string_view kRedisLimiterScript;

}  // namespace bro::limits
