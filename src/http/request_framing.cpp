#include "http/request_framing.hpp"

#include <boost/beast/core/string.hpp>
#include <cctype>

namespace bro::http {
namespace {

FramingError Bad(std::string message, const char* reason = "bad_request") {
  return FramingError{Status::bad_request, "bad_request", std::move(message), reason};
}

bool IsTokenChar(unsigned char c) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return std::isalnum(c) != 0 || (c != 0 && kSymbols.find(static_cast<char>(c)) != kSymbols.npos);
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// An authority as Host carries it: reg-name or IPv4 or [IPv6], optional :port. Commas (two
// hosts joined by a proxy), whitespace, '@' (userinfo) and '/' are refused.
bool ValidHost(std::string_view host) {
  if (host.size() > 261) return false;
  std::string_view name = host;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    for (char c : host.substr(1, close - 1)) {
      const auto u = static_cast<unsigned char>(c);
      if (!(std::isxdigit(u) != 0 || c == ':' || c == '.' || c == 'v' || c == 'V')) return false;
    }
    name = {};
    host.remove_prefix(close + 1);
    if (!host.empty() && host.front() != ':') return false;
  } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    name = host.substr(0, colon);
    host.remove_prefix(colon);
  } else {
    host = {};
  }
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~' || c == '%'))
      return false;
  }
  if (!host.empty()) {  // ":port"
    if (host.size() > 6) return false;
    for (char c : host.substr(1)) {
      if (c < '0' || c > '9') return false;
    }
  }
  return true;
}

}  // namespace

std::size_t FindHeadEnd(std::string_view data) {
  std::size_t start = 0;
  while (data.substr(start, 2) == "\r\n") start += 2;
  const auto end = data.find("\r\n\r\n", start);
  return end == std::string_view::npos ? end : end + 4;
}

std::optional<FramingError> CheckRawHead(std::string_view head) {
  while (head.starts_with("\r\n")) head.remove_prefix(2);
  const auto first_eol = head.find("\r\n");
  if (first_eol == std::string_view::npos) return std::nullopt;  // Beast reports it
  std::size_t pos = first_eol + 2;
  while (pos < head.size()) {
    const auto eol = head.find("\r\n", pos);
    if (eol == std::string_view::npos || eol == pos) break;  // the empty line ends the head
    const std::string_view line = head.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.front() == ' ' || line.front() == '\t')
      return Bad("Obsolete line folding (obs-fold) is not accepted in header fields.");
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return Bad("Malformed header field.");
    for (char c : line.substr(0, colon)) {
      if (!IsTokenChar(static_cast<unsigned char>(c)))
        return Bad("Invalid character in a header field name (whitespace before ':'?).");
    }
    for (char c : line.substr(colon + 1)) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\t') || u == 0x7f)
        return Bad("Control character in a header field value.");
    }
  }
  return std::nullopt;
}

std::optional<FramingError> CheckFraming(const Request& head) {
  if (head.target().empty() || head.target().front() != '/')
    return Bad("The request target must be an absolute path (origin-form).");

  std::size_t hosts = 0;
  for (auto [it, last] = head.equal_range(Field::host); it != last; ++it) {
    ++hosts;
    if (!ValidHost(TrimOws(it->value()))) return Bad("Invalid Host header.", "bad_host");
  }
  if (hosts > 1) return Bad("More than one Host header.", "bad_host");
  if (hosts == 0 && head.version() >= 11)
    return Bad("HTTP/1.1 requests must carry a Host header.", "bad_host");

  auto [te, te_end] = head.equal_range(Field::transfer_encoding);
  if (te == te_end) return std::nullopt;
  if (head.version() < 11)
    return Bad("Transfer-Encoding is not allowed in HTTP/1.0 requests.", "bad_transfer_encoding");
  if (head.count(Field::content_length) != 0) {
    return Bad("A request must not carry both Transfer-Encoding and Content-Length.",
               "bad_transfer_encoding");
  }
  // The field may be split over several lines; together they form one list (RFC 9110 §5.3).
  std::size_t chunked = 0;
  bool last_chunked = false;
  bool unknown = false;
  for (; te != te_end; ++te) {
    std::string_view list = te->value();
    while (true) {
      const auto comma = list.find(',');
      const auto element = TrimOws(list.substr(0, comma));
      if (!element.empty()) {
        for (char c : element) {
          if (!IsTokenChar(static_cast<unsigned char>(c)) && c != ';' && c != '=' && c != ' ' &&
              c != '\t' && c != '"')
            return Bad("Malformed Transfer-Encoding.", "bad_transfer_encoding");
        }
        last_chunked = boost::beast::iequals(element, "chunked");
        if (last_chunked) {
          ++chunked;
        } else {
          unknown = true;
        }
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  if (!last_chunked || chunked != 1) {
    return Bad("The request's final transfer coding must be chunked, applied once.",
               "bad_transfer_encoding");
  }
  if (unknown) {
    return FramingError{Status::not_implemented, "unsupported_transfer_coding",
                        "Only the chunked transfer coding is supported.", "bad_transfer_encoding"};
  }
  return std::nullopt;
}

}  // namespace bro::http
