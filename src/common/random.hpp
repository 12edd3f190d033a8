#pragma once

#include <cstddef>
#include <string>

namespace bro::common {

// Cryptographically secure random bytes (OpenSSL RAND_bytes); throws if the CSPRNG fails.
std::string SecureRandomBytes(std::size_t n);
// Fast, non-cryptographic hex id (trace/span ids, jitter); n bytes -> 2n hex characters.
std::string RandomHex(std::size_t n);
// Non-cryptographic uniform double in [0, 1).
double RandomUnit();

// 32 hex characters: milliseconds since the epoch, then random bits. Sorts by creation time,
// so inserts append to the end of a primary-key index instead of touching random pages.
std::string TimeOrderedId();

std::string HexEncode(std::string_view bytes);
// Standard base64 with padding (RFC 4648 section 4).
std::string Base64(std::string_view bytes);
// URL-safe base64 without padding.
std::string Base64Url(std::string_view bytes);

}  // namespace bro::common
