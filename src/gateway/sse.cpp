#include "gateway/sse.hpp"

namespace bro::gateway {

bool SseSplitter::Feed(std::string_view bytes,
                       const std::function<void(std::string_view)>& on_event) {
  pending_.append(bytes);
  std::size_t start = 0;
  for (;;) {
    std::size_t lf = pending_.find("\n\n", start);
    std::size_t crlf = pending_.find("\r\n\r\n", start);
    std::size_t end = std::string::npos;
    std::size_t body_end = std::string::npos;  // where the blank-line terminator starts
    if (lf != std::string::npos && (crlf == std::string::npos || lf < crlf)) {
      body_end = lf;
      end = lf + 2;
    } else if (crlf != std::string::npos) {
      body_end = crlf;
      end = crlf + 4;
    }
    if (end == std::string::npos) break;
    if (body_end - start > max_event_) return false;
    on_event(std::string_view(pending_).substr(start, end - start));
    start = end;
  }
  pending_.erase(0, start);
  return pending_.size() <= max_event_;
}

std::string SseData(std::string_view event) {
  std::string data;
  bool first = true;
  while (!event.empty()) {
    auto nl = event.find('\n');
    auto line = event.substr(0, nl);
    event = nl == std::string_view::npos ? std::string_view{} : event.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.starts_with("data:")) continue;
    line.remove_prefix(5);
    if (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (!first) data += '\n';
    data += line;
    first = false;
  }
  return data;
}

}  // namespace bro::gateway
