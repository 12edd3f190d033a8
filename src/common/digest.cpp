#include "common/digest.hpp"

#include <openssl/evp.h>

#include <array>
#include <stdexcept>

#include "common/random.hpp"

namespace bro::common {
namespace {

std::string DigestHex(const EVP_MD* md, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1) {
    throw std::runtime_error("digest failed");
  }
  return HexEncode(std::string_view(reinterpret_cast<const char*>(out.data()), len));
}

}  // namespace

std::string Sha256Hex(std::string_view data) {
  return DigestHex(EVP_sha256(), data);
}
std::string Sha1Hex(std::string_view data) {
  return DigestHex(EVP_sha1(), data);
}

}  // namespace bro::common
