#include "gateway/upstream_exchange.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "gateway/sse.hpp"
#include "http/trace_context.hpp"

namespace bro::gateway {
namespace {

using asio::as_tuple;
using asio::use_awaitable;
using Clock = UpstreamClock;

// Runs one (lazily started) operation on the connection under the stream's own deadline;
// nullopt when the deadline passed. The connection lives on this coroutine's thread
// (UpstreamPool), so the stream's timer is safe to use.
template <class T>
Task<std::optional<T>> BeforeDeadline(UpstreamConnection& c, asio::awaitable<T> op,
                                      Clock::time_point deadline) {
  c.Lowest().expires_at(deadline);
  T r = co_await std::move(op);
  c.Lowest().expires_never();
  if (std::get<0>(r) == beast::error::timeout) co_return std::nullopt;
  co_return r;
}

}  // namespace

Usage CallProgress::Recorded(const ChatRequest& request) const {
  Usage u = usage;
  if (!prompt_reported) u.prompt_tokens = EstimatePromptTokens(request.body);
  if (!completion_reported) {
    u.completion_tokens = static_cast<std::int64_t>((completion_chars + 3) / 4);
  }
  return u;
}

ApiError UpstreamError(http::Status status, std::string code, std::string message) {
  return ApiError{status,
                  status == http::Status::gateway_timeout ? "timeout_error" : "upstream_error",
                  std::move(code),
                  std::move(message),
                  {}};
}

std::string StreamErrorEvent(const std::string& code, const std::string& message) {
  ApiError e{http::Status::bad_gateway, "upstream_error", code, message, {}};
  return "data: " + http::ErrorJson(e) + "\n\n";
}

Task<ChatOutcome> RunWatchingClient(const ChatCall& call, StreamSink& sink,
                                    std::function<Task<ChatOutcome>(CallProgress&)> run) {
  CallProgress progress;
  sink.WatchClientGone([&progress] {
    progress.client_gone = true;
    if (progress.active != nullptr) {
      boost::system::error_code ec;
      progress.active->Lowest().socket().close(ec);
    }
  });
  auto result = co_await run(progress);
  sink.StopWatchingClient();
  if (!progress.client_gone) co_return result;
  ChatOutcome out;
  out.streamed = call.request.stream;
  out.client_gone = true;
  out.error_code = "client_disconnected";
  out.status = http::Status::ok;
  out.usage = progress.Recorded(call.request);
  out.time_to_first_token = progress.ttft;
  co_return out;
}

bhttp::request<bhttp::string_body> UpstreamPost(const UpstreamTarget& target,
                                                const std::string& path, bool stream,
                                                const std::string& trace_id,
                                                const std::string& span_id, std::string body) {
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, path, 11};
  const bool default_port =
      (target.tls && target.port == "443") || (!target.tls && target.port == "80");
  req.set(bhttp::field::host, default_port ? target.host : target.host + ":" + target.port);
  req.set(bhttp::field::content_type, "application/json");
  req.set(bhttp::field::accept, stream ? "text/event-stream" : "application/json");
  req.set(bhttp::field::user_agent, "bro-ai/" BRO_VERSION);
  req.set("traceparent", http::Traceparent(trace_id, span_id));
  req.keep_alive(true);
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

ChatOutcome UpstreamStatusOutcome(unsigned status, std::string openai_error_body,
                                  std::string retry_after) {
  if (status == 400 || status == 404 || status == 413 || status == 422 || status == 429) {
    // The request itself was refused: relay the provider's error.
    ChatOutcome out;
    out.status = static_cast<http::Status>(status);
    out.body = std::move(openai_error_body);
    out.retry_after = std::move(retry_after);
    out.error_code = "upstream_" + std::to_string(status);
    return out;
  }
  if (status == 401 || status == 403) {
    return ErrorOutcome(
        UpstreamError(http::Status::bad_gateway, "upstream_auth_error",
                      "The gateway's credentials were refused by the upstream provider."));
  }
  return ErrorOutcome(
      UpstreamError(http::Status::bad_gateway, "upstream_error",
                    "The upstream provider returned HTTP " + std::to_string(status) + "."));
}

Task<std::optional<ApiError>> UpstreamExchange::Open(const bhttp::request<bhttp::string_body>& req,
                                                     Clock::time_point first_deadline,
                                                     Clock::time_point total_deadline) {
  for (int attempt = 0;; ++attempt) {
    auto& head_parser = parser_.emplace();
    try {
      // (No co_await inside ?: — GCC 12 miscompiles it.)
      if (attempt == 0) {
        conn_ = co_await pool_.Acquire();
      } else {
        conn_ = co_await pool_.Connect();
      }
      progress_.active = conn_.get();
    } catch (const UpstreamConnectError& e) {
      co_return e.Timeout()
          ? UpstreamError(http::Status::gateway_timeout, "upstream_timeout",
                          "The upstream provider did not accept a connection in time.")
          : UpstreamError(http::Status::bad_gateway, "upstream_unavailable",
                          "The upstream provider could not be reached.");
    }
    auto& conn = *conn_;
    auto w = co_await BeforeDeadline(conn, conn.With([&](auto& s) {
      return bhttp::async_write(s, req, as_tuple(use_awaitable));
    }),
                                     total_deadline);
    if (!w) {
      co_return UpstreamError(http::Status::gateway_timeout, "upstream_timeout",
                              "The upstream provider did not accept the request in time.");
    }
    if (progress_.client_gone) {
      co_return UpstreamError(http::Status::bad_gateway, "client_disconnected",
                              "The client went away.");
    }
    boost::system::error_code ec = std::get<0>(*w);
    if (!ec) {
      head_parser.body_limit(boost::none);
      auto h = co_await BeforeDeadline(conn, conn.With([&](auto& s) {
        return bhttp::async_read_header(s, conn.buffer, head_parser, as_tuple(use_awaitable));
      }),
                                       first_deadline);
      if (!h) {
        co_return UpstreamError(http::Status::gateway_timeout, "upstream_timeout",
                                "The upstream provider did not answer in time.");
      }
      ec = std::get<0>(*h);
    }
    if (!ec) co_return std::nullopt;
    if (conn.reused && attempt == 0 && !head_parser.got_some()) continue;
    co_return UpstreamError(http::Status::bad_gateway, "upstream_error",
                            "The upstream provider closed the connection.");
  }
}

std::string UpstreamExchange::RetryAfter() const {
  return std::string(parser_->get()[bhttp::field::retry_after]);
}

Task<std::optional<UpstreamExchange::Piece>> UpstreamExchange::ReadSome(
    Clock::time_point deadline) {
  auto& parser = *parser_;
  auto& conn = *conn_;
  parser.get().body().data = buf_;
  parser.get().body().size = sizeof buf_;
  auto r = co_await BeforeDeadline(conn, conn.With([&](auto& s) {
    return bhttp::async_read_some(s, conn.buffer, parser, as_tuple(use_awaitable));
  }),
                                   deadline);
  if (!r) co_return std::nullopt;
  auto ec = std::get<0>(*r);
  if (ec == bhttp::error::need_buffer) ec = {};
  const std::size_t got = sizeof buf_ - parser.get().body().size;
  co_return Piece(ec, std::string_view(buf_, got));
}

Task<std::variant<std::string, ApiError>> UpstreamExchange::ReadBody(std::size_t limit,
                                                                     Clock::time_point deadline) {
  std::string content;
  while (!Done()) {
    auto r = co_await ReadSome(deadline);
    if (!r) {
      co_return UpstreamError(http::Status::gateway_timeout, "upstream_timeout",
                              "The upstream provider did not finish its response in time.");
    }
    if (r->first) {
      co_return UpstreamError(http::Status::bad_gateway, "upstream_error",
                              "The upstream provider's response was cut off.");
    }
    content.append(r->second);
    if (content.size() > limit) {
      co_return UpstreamError(http::Status::bad_gateway, "upstream_error",
                              "The upstream provider's response is too large.");
    }
  }
  co_return content;
}

void UpstreamExchange::Release() {
  if (conn_ && parser_ && parser_->is_done() && parser_->keep_alive()) {
    progress_.active = nullptr;
    pool_.Release(std::move(conn_));
  }
}

Task<std::variant<std::string, ChatOutcome>> SendAndRead(
    UpstreamExchange& exchange, const bhttp::request<bhttp::string_body>& req, bool stream,
    const Deadlines& deadlines, const ErrorTranslate& to_openai_error) {
  if (auto failed = co_await exchange.Open(req, deadlines.first, deadlines.total)) {
    co_return ErrorOutcome(*failed);
  }
  const auto status = exchange.Status();
  const bool ok = status >= 200 && status < 300;
  if (stream && ok) co_return std::string();
  auto body = co_await exchange.ReadBody(ok ? kMaxUpstreamResponseBytes : kMaxUpstreamErrorBytes,
                                         deadlines.total);
  if (const auto* failed = std::get_if<ApiError>(&body)) co_return ErrorOutcome(*failed);
  std::string retry_after = exchange.RetryAfter();
  exchange.Release();
  if (ok) co_return std::move(std::get<std::string>(body));
  co_return UpstreamStatusOutcome(status, to_openai_error(std::get<std::string>(body), status),
                                  std::move(retry_after));
}

UpstreamProvider::UpstreamProvider(const config::ProviderConfig& cfg, asio::ssl::context& ssl)
    : name_(cfg.name),
      api_key_(cfg.api_key),
      first_token_timeout_(cfg.first_token_timeout),
      total_timeout_(cfg.total_timeout),
      pool_(ParseBaseUrl(cfg.base_url), ssl, cfg.max_idle_connections, cfg.connect_timeout) {}

Task<ChatOutcome> UpstreamProvider::Chat(const ChatCall& call, StreamSink& sink) {
  return RunWatchingClient(call, sink, [this, &call, &sink](CallProgress& progress) {
    return Run(call, sink, progress, StartDeadlines());
  });
}

Deadlines UpstreamProvider::StartDeadlines() const {
  Deadlines d;
  d.start = Clock::now();
  d.total = d.start + total_timeout_;
  d.first = std::min(d.total, d.start + first_token_timeout_);
  return d;
}

Task<RelayEnd> RelaySse(UpstreamExchange& exchange, StreamSink& sink, CallProgress& progress,
                        const Deadlines& deadlines, const SseTranslate& translate) {
  RelayEnd end;
  if (!co_await sink.Begin()) {
    end.client_gone = true;
    co_return end;
  }
  SseSplitter splitter;
  std::vector<std::string> ready;
  auto on_event = [&](std::string_view event) {
    if (!end.stopped && !translate(event, ready)) end.stopped = true;
  };
  auto deadline = deadlines.first;
  while (!exchange.Done() && !end.stopped) {
    auto r = co_await exchange.ReadSome(deadline);
    if (!r) {
      end.failure = "upstream_timeout";
      break;
    }
    if (r->first) {
      end.failure = "upstream_stream_error";
      break;
    }
    if (r->second.empty()) continue;
    if (!splitter.Feed(r->second, on_event)) {
      end.failure = "upstream_stream_error";
      break;
    }
    if (ready.empty()) continue;
    if (!progress.ttft) {
      progress.ttft =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - deadlines.start);
      deadline = deadlines.total;
    }
    // Events that arrived in one read leave in one write: no added wait, fewer syscalls.
    for (std::size_t i = 1; i < ready.size(); ++i) ready.front() += ready[i];
    const bool sent = co_await sink.Send(ready.front());
    ready.clear();
    if (!sent) {
      end.client_gone = true;
      break;
    }
  }
  co_return end;
}

Task<ChatOutcome> FinishStream(UpstreamExchange& exchange, StreamSink& sink,
                               const CallProgress& progress, const ChatRequest& request,
                               RelayEnd end, bool complete, std::string stream_error) {
  ChatOutcome out;
  out.streamed = true;
  out.status = http::Status::ok;
  out.usage = progress.Recorded(request);
  out.time_to_first_token = progress.ttft;
  if (end.client_gone) {
    out.client_gone = true;
    out.error_code = "client_disconnected";
    co_return out;
  }
  if (end.failure.empty() && !complete && stream_error.empty()) {
    end.failure = "upstream_stream_error";
  }
  if (!end.failure.empty() && !sink.Started()) {
    // Nothing reached the client: an ordinary error, which the router may still retry.
    auto failed = ErrorOutcome(end.failure == "upstream_timeout"
                                   ? UpstreamError(http::Status::gateway_timeout, end.failure,
                                                   "The upstream provider did not answer in time.")
                                   : UpstreamError(http::Status::bad_gateway, end.failure,
                                                   "The upstream provider's stream failed."));
    failed.usage = out.usage;
    co_return failed;
  }
  if (!end.failure.empty()) {
    // Never end a broken stream as if it succeeded: tell the client in-band.
    out.error_code = end.failure;
    const std::string message = end.failure == "upstream_timeout"
                                    ? "The upstream provider stopped sending in time."
                                    : "The upstream provider's stream ended unexpectedly.";
    co_await sink.Send(StreamErrorEvent(end.failure, message));
    co_await sink.End();
    co_return out;
  }
  out.error_code = std::move(stream_error);
  exchange.Release();
  co_await sink.End();
  co_return out;
}

ChatOutcome TranslatedOutcome(std::optional<Completion> completion, const Deadlines& deadlines) {
  if (!completion) {
    return ErrorOutcome(UpstreamError(http::Status::bad_gateway, "upstream_error",
                                      "The upstream provider's response could not be read."));
  }
  ChatOutcome out;
  out.status = http::Status::ok;
  out.body = std::move(completion->body);
  out.usage = completion->usage;
  out.time_to_first_token =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - deadlines.start);
  return out;
}

Task<ChatOutcome> RelayTranslated(UpstreamExchange& exchange, StreamSink& sink,
                                  CallProgress& progress, const ChatRequest& request,
                                  const Deadlines& deadlines, ChunkStream& translator) {
  auto translate = [&](std::string_view event, std::vector<std::string>& out) {
    const bool more = translator.OnEvent(event, out);
    progress.usage = translator.Tokens();
    progress.prompt_reported = translator.PromptReported();
    progress.completion_reported = translator.CompletionReported();
    progress.completion_chars = translator.GeneratedChars();
    return more;
  };
  auto end = co_await RelaySse(exchange, sink, progress, deadlines, translate);
  if (end.failure.empty() && !end.client_gone && !end.stopped) {
    std::vector<std::string> closing;
    translator.OnEnd(closing);
    for (const auto& e : closing) {
      if (!co_await sink.Send(e)) {
        end.client_gone = true;
        break;
      }
    }
  }
  co_return co_await FinishStream(exchange, sink, progress, request, std::move(end),
                                  translator.Finished(), translator.Error());
}

}  // namespace bro::gateway
