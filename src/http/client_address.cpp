#include "http/client_address.hpp"

#include <boost/system/error_code.hpp>
#include <optional>

namespace bro::http {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<boost::asio::ip::address> ParseAddress(std::string_view s) {
  if (s.empty() || s.size() > 45) return std::nullopt;  // longest textual IPv6 address
  // Digits, hex letters, dots and colons only: make_address reads a C string (a NUL would end
  // it early) and would accept IPv6 zone names.
  for (const char c : s) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
                    c == '.' || c == ':';
    if (!ok) return std::nullopt;
  }
  boost::system::error_code ec;
  auto a = boost::asio::ip::make_address(std::string(s), ec);
  if (ec) return std::nullopt;
  return a;
}

}  // namespace

boost::asio::ip::address ClientBehindProxies(std::string_view forwarded_for,
                                             const boost::asio::ip::address& peer,
                                             int trusted_hops) {
  auto vouched = peer;
  // Right to left: each trusted hop vouches for the entry it appended, the one left of it.
  std::string_view rest = forwarded_for;
  for (int hop = 0; hop < trusted_hops && !Trim(rest).empty(); ++hop) {
    const auto comma = rest.rfind(',');
    const auto entry = Trim(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
    auto address = ParseAddress(entry);
    if (!address) break;
    vouched = *address;
  }
  return vouched;
}

}  // namespace bro::http
