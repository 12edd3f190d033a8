#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "http/types.hpp"

namespace bro::http {

// Why a request head cannot be served. Every one of these closes the connection after the
// answer: once framing is in doubt, the bytes that follow cannot be trusted to start a request
// (RFC 9112 §6.3, §11.2 — request smuggling).
struct FramingError {
  Status status = Status::bad_request;
  std::string code;
  std::string message;
  const char* reason = "bad_request";  // bro_http_rejected_total{reason}
};

// Chunk extensions longer than this are refused (Beast reads them whole into the buffer).
inline constexpr std::size_t kMaxChunkExtensionBytes = 256;
// Room in a connection's read buffer beyond the header limit: a chunk-size line, or the last
// chunk with its trailer section, must fit in it.
inline constexpr std::size_t kChunkMetadataSlack = std::size_t{4} << 10;

// Scans the raw head (request line and fields, up to and including the empty line) for what
// Beast would accept but RFC 9112 says a server must refuse or may not reinterpret: obs-fold
// line continuations (§5.2), whitespace between a field name and its colon (§5.1), bare CR, and
// NUL or other control bytes in a field value.
std::optional<FramingError> CheckRawHead(std::string_view head);

// The parsed head: Host (§3.2: exactly one on HTTP/1.1, at most one on 1.0, a valid authority)
// and Transfer-Encoding (§6.1, §6.3: only "chunked", once, as the final coding; never together
// with Content-Length; never on HTTP/1.0). Unknown codings are 501, the rest 400.
std::optional<FramingError> CheckFraming(const Request& head);

// The offset just past the empty line that ends a head starting at `data`, or npos. Leading
// empty lines before the request line are skipped (RFC 9112 §2.2).
std::size_t FindHeadEnd(std::string_view data);

}  // namespace bro::http
