#include "common/random.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <stdexcept>

namespace bro::common {
namespace {

std::mt19937_64& Engine() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return engine;
}

}  // namespace

std::string SecureRandomBytes(std::size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
    throw std::runtime_error("RAND_bytes failed");
  }
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xF];
  }
  return out;
}

std::string RandomHex(std::size_t n) {
  std::string raw(n, '\0');
  auto& e = Engine();
  for (std::size_t i = 0; i < n; i += 8) {
    auto v = e();
    for (std::size_t j = 0; j < 8 && i + j < n; ++j)
      raw[i + j] = static_cast<char>((v >> (j * 8)) & 0xFF);
  }
  return HexEncode(raw);
}

std::string TimeOrderedId() {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "%012llx",
                static_cast<unsigned long long>(ms) & 0xFFFFFFFFFFFFULL);
  return std::string(prefix, 12) + RandomHex(10);
}

double RandomUnit() {
  return std::uniform_real_distribution<double>(0.0, 1.0)(Engine());
}

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string Base64Url(std::string_view bytes) {
  std::string out = Base64(bytes);
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (auto& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

}  // namespace bro::common
