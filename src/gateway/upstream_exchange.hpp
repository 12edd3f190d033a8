#pragma once

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "gateway/chat.hpp"
#include "gateway/openai_shape.hpp"
#include "gateway/upstream_client.hpp"

// What every HTTP provider does the same way: one exchange over a pooled connection under
// deadlines, the client watched so that its departure closes the upstream call, an SSE relay
// loop, the mapping of upstream HTTP failures, and the end of a stream.
namespace bro::gateway {

namespace bhttp = boost::beast::http;
using UpstreamClock = std::chrono::steady_clock;

constexpr std::size_t kMaxUpstreamResponseBytes = std::size_t{64} * 1024 * 1024;
constexpr std::size_t kMaxUpstreamErrorBytes = std::size_t{1024} * 1024;

// What a call has produced so far; shared with the client-gone watcher.
struct CallProgress {
  bool client_gone = false;
  UpstreamConnection* active = nullptr;  // the connection in use, closed if the client leaves
  std::size_t completion_chars = 0;      // generated text seen, for an estimate
  Usage usage;
  bool prompt_reported = false;  // usage.prompt_tokens came from the upstream
  bool completion_reported = false;
  std::optional<std::chrono::milliseconds> ttft;

  // The upstream's counts where it gave them, estimates otherwise.
  Usage Recorded(const ChatRequest& request) const;
};

ApiError UpstreamError(http::Status status, std::string code, std::string message);
// An in-band OpenAI error event (`data: {"error":...}`).
std::string StreamErrorEvent(const std::string& code, const std::string& message);

// Runs `run` while watching the client: if it leaves, the upstream connection is closed at once
// (the pending operation fails, the connection is dropped rather than pooled) and the outcome
// records what was produced until then.
Task<ChatOutcome> RunWatchingClient(const ChatCall& call, StreamSink& sink,
                                    std::function<Task<ChatOutcome>(CallProgress&)> run);

// A POST to `target` with the headers every provider sends (host, content type, accept,
// user agent, traceparent); the caller adds its credentials.
bhttp::request<bhttp::string_body> UpstreamPost(const UpstreamTarget& target,
                                                const std::string& path, bool stream,
                                                const std::string& trace_id,
                                                const std::string& span_id, std::string body);
inline bhttp::request<bhttp::string_body> UpstreamPost(const UpstreamTarget& target,
                                                       const std::string& path, bool stream,
                                                       const ChatCall& call, std::string body) {
  return UpstreamPost(target, path, stream, call.trace_id, call.span_id, std::move(body));
}

// The outcome for a non-2xx upstream answer. `openai_error_body` is the upstream's error as an
// OpenAI error object: it is relayed for refusals of the request itself (400/404/413/422/429,
// with Retry-After); 401/403 become 502 upstream_auth_error, anything else 502.
ChatOutcome UpstreamStatusOutcome(unsigned status, std::string openai_error_body,
                                  std::string retry_after);

// One request/response with an upstream over a connection of `pool`.
class UpstreamExchange {
 public:
  using Piece = std::pair<boost::system::error_code, std::string_view>;

  // buf_ is left uninitialized on purpose: ReadSome hands it to the parser, which writes
  // before anything reads it (zeroing 16 KiB per call would be pure cost).
  // cppcheck-suppress uninitMemberVar
  UpstreamExchange(UpstreamPool& pool, CallProgress& progress) : pool_(pool), progress_(progress) {}

  // Sends the request and reads the response head; a stale keep-alive connection gets one retry
  // on a fresh one. An error (502/504) when that fails.
  Task<std::optional<ApiError>> Open(const bhttp::request<bhttp::string_body>& req,
                                     UpstreamClock::time_point first_deadline,
                                     UpstreamClock::time_point total_deadline);
  unsigned Status() const { return parser_->get().result_int(); }
  std::string RetryAfter() const;
  bool Done() const { return parser_->is_done(); }
  // The next piece of the body; nullopt when the deadline passed.
  Task<std::optional<Piece>> ReadSome(UpstreamClock::time_point deadline);
  // The whole body, at most `limit` bytes.
  Task<std::variant<std::string, ApiError>> ReadBody(std::size_t limit,
                                                     UpstreamClock::time_point deadline);
  // Returns the connection to the pool if the exchange ended cleanly and it may be kept.
  void Release();

 private:
  UpstreamPool& pool_;
  CallProgress& progress_;
  std::unique_ptr<UpstreamConnection> conn_;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser_;
  char buf_[std::size_t{16} << 10];
};

// One call's clock: the response head (and, streaming, the first event) is due by `first`,
// the whole exchange by `total`.
struct Deadlines {
  UpstreamClock::time_point start;
  UpstreamClock::time_point first;
  UpstreamClock::time_point total;
};

// Sends the request and, unless the answer is a 2xx stream (left to read), reads it whole.
// The body of a 2xx answer, or the finished outcome of a failure: connection or timeout, or a
// non-2xx answer whose body `to_openai_error` turns into an OpenAI error object.
using ErrorTranslate = std::function<std::string(std::string_view body, unsigned status)>;
Task<std::variant<std::string, ChatOutcome>> SendAndRead(
    UpstreamExchange& exchange, const bhttp::request<bhttp::string_body>& req, bool stream,
    const Deadlines& deadlines, const ErrorTranslate& to_openai_error);

// A provider that talks HTTP to an upstream through a pool of connections.
class UpstreamProvider : public Provider {
 public:
  UpstreamProvider(const config::ProviderConfig& cfg, asio::ssl::context& ssl);
  std::string_view Name() const override { return name_; }
  // Runs Run() with the client watched (RunWatchingClient) and the call's deadlines set.
  Task<ChatOutcome> Chat(const ChatCall& call, StreamSink& sink) final;

 protected:
  // The deadlines of a call starting now.
  Deadlines StartDeadlines() const;

  virtual Task<ChatOutcome> Run(const ChatCall& call, StreamSink& sink, CallProgress& progress,
                                Deadlines deadlines) = 0;

  std::string name_;
  std::string api_key_;
  std::chrono::milliseconds first_token_timeout_;
  std::chrono::milliseconds total_timeout_;
  UpstreamPool pool_;
};

// Turns one complete upstream SSE event into the events to send the client (appended to `out`);
// returns false when the stream must end after those (e.g. an in-band error).
using SseTranslate = std::function<bool(std::string_view event, std::vector<std::string>& out)>;

struct RelayEnd {
  std::string failure;  // upstream_timeout | upstream_stream_error | empty
  bool client_gone = false;
  bool stopped = false;  // the translation ended the stream
};

// Reads the upstream stream and sends each translated event as soon as it is complete: the
// first event within first_deadline, the rest within total_deadline.
Task<RelayEnd> RelaySse(UpstreamExchange& exchange, StreamSink& sink, CallProgress& progress,
                        const Deadlines& deadlines, const SseTranslate& translate);

// Ends a relayed stream and says what it was: a client that left, a broken or incomplete stream
// (ended with an in-band error event, never as a success), an error the upstream reported
// in-band (`stream_error`, already sent), or a success (the connection goes back to the pool).
Task<ChatOutcome> FinishStream(UpstreamExchange& exchange, StreamSink& sink,
                               const CallProgress& progress, const ChatRequest& request,
                               RelayEnd end, bool complete, std::string stream_error);

// The answer of a translating provider to a non-streaming call: its completion, or a 502 when the
// upstream's reply could not be read.
ChatOutcome TranslatedOutcome(std::optional<Completion> completion, const Deadlines& deadlines);

// Relays a 2xx upstream stream through `translator`: the chunks of each upstream event are sent
// as soon as it is complete, the closing events once the upstream ended cleanly, and the stream
// is ended as FinishStream does (the upstream's counts kept in `progress` for usage).
Task<ChatOutcome> RelayTranslated(UpstreamExchange& exchange, StreamSink& sink,
                                  CallProgress& progress, const ChatRequest& request,
                                  const Deadlines& deadlines, ChunkStream& translator);

}  // namespace bro::gateway
