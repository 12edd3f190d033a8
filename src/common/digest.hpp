#pragma once

#include <string>
#include <string_view>

namespace bro::common {

// Lower-case hex digests (OpenSSL EVP).
std::string Sha256Hex(std::string_view data);
std::string Sha1Hex(std::string_view data);  // only where a protocol names SHA-1 (Redis scripts)

}  // namespace bro::common
