#include "gateway/openai_provider.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "gateway/sse.hpp"

namespace bro::gateway {
namespace {

namespace json = boost::json;
namespace bhttp = boost::beast::http;
using namespace asio::experimental::awaitable_operators;
using asio::as_tuple;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxResponseBytes = std::size_t{64} << 20;
constexpr std::size_t kMaxErrorBytes = std::size_t{1} << 20;

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

ApiError UpstreamError(http::Status status, std::string code, std::string message) {
  return ApiError{status,
                  status == http::Status::gateway_timeout ? "timeout_error" : "upstream_error",
                  std::move(code),
                  std::move(message),
                  {}};
}

void ReadUsage(const json::object& o, Usage& usage, bool& found) {
  const auto* u = o.if_contains("usage");
  if (u == nullptr || !u->is_object()) return;
  const auto& uo = u->as_object();
  if (const auto* p = uo.if_contains("prompt_tokens"); p != nullptr && p->is_number()) {
    usage.prompt_tokens = p->to_number<std::int64_t>();
  }
  if (const auto* c = uo.if_contains("completion_tokens"); c != nullptr && c->is_number()) {
    usage.completion_tokens = c->to_number<std::int64_t>();
  }
  found = true;
}

// Length of generated text in a chunk: content and tool-call argument deltas.
std::size_t DeltaChars(const json::object& chunk) {
  std::size_t n = 0;
  const auto* choices = chunk.if_contains("choices");
  if (choices == nullptr || !choices->is_array()) return 0;
  for (const auto& c : choices->as_array()) {
    if (!c.is_object()) continue;
    const auto* delta = c.as_object().if_contains("delta");
    if (delta == nullptr || !delta->is_object()) continue;
    if (const auto* content = delta->as_object().if_contains("content");
        content != nullptr && content->is_string()) {
      n += content->as_string().size();
    }
    if (const auto* calls = delta->as_object().if_contains("tool_calls");
        calls != nullptr && calls->is_array()) {
      for (const auto& call : calls->as_array()) {
        if (!call.is_object()) continue;
        const auto* fn = call.as_object().if_contains("function");
        if (fn == nullptr || !fn->is_object()) continue;
        if (const auto* a = fn->as_object().if_contains("arguments");
            a != nullptr && a->is_string()) {
          n += a->as_string().size();
        }
      }
    }
  }
  return n;
}

std::string StreamErrorEvent(const std::string& code, const std::string& message) {
  ApiError e{http::Status::bad_gateway, "upstream_error", code, message, {}};
  return "data: " + http::ErrorJson(e) + "\n\n";
}

}  // namespace

struct OpenAiProvider::Progress {
  bool client_gone = false;
  UpstreamConnection* active = nullptr;  // the connection in use, closed if the client leaves
  std::size_t completion_chars = 0;
  Usage usage;
  bool usage_reported = false;
  std::optional<std::chrono::milliseconds> ttft;
};

OpenAiProvider::OpenAiProvider(const config::ProviderConfig& cfg, asio::ssl::context& ssl)
    : name_(cfg.name),
      api_key_(cfg.api_key),
      first_token_timeout_(cfg.first_token_timeout),
      total_timeout_(cfg.total_timeout),
      pool_(ParseBaseUrl(cfg.base_url), ssl, cfg.max_idle_connections, cfg.connect_timeout) {}

Task<ChatOutcome> OpenAiProvider::Chat(const ChatCall& call, StreamSink& sink) {
  Progress progress;
  // If the client leaves, close the upstream connection: the pending upstream operation fails
  // at once, Run returns, and the connection is dropped rather than pooled.
  sink.WatchClientGone([&progress] {
    progress.client_gone = true;
    if (progress.active != nullptr) {
      boost::system::error_code ec;
      progress.active->Lowest().socket().close(ec);
    }
  });
  auto result = co_await Run(call, sink, progress);
  sink.StopWatchingClient();
  if (!progress.client_gone) co_return result;
  ChatOutcome out;
  out.streamed = call.request.stream;
  out.client_gone = true;
  out.error_code = "client_disconnected";
  out.status = http::Status::ok;
  out.usage = progress.usage;
  if (!progress.usage_reported) {
    out.usage.prompt_tokens = EstimatePromptTokens(call.request.body);
    out.usage.completion_tokens = static_cast<std::int64_t>((progress.completion_chars + 3) / 4);
  }
  out.time_to_first_token = progress.ttft;
  co_return out;
}

Task<ChatOutcome> OpenAiProvider::Run(const ChatCall& call, StreamSink& sink, Progress& progress) {
  const auto start = Clock::now();
  const auto total_deadline = start + total_timeout_;
  const auto first_deadline = std::min(total_deadline, start + first_token_timeout_);
  const bool stream = call.request.stream;
  const bool drop_usage_chunk = stream && !call.request.include_usage;

  // Forward the client's bytes unchanged when nothing needs rewriting (the common case);
  // otherwise re-serialize with the upstream model name and usage reporting on.
  const bool rewrite = call.upstream_model != call.request.model || drop_usage_chunk;
  std::string payload;
  if (rewrite) {
    json::object body = call.request.body;
    body["model"] = call.upstream_model;
    if (stream) {
      auto& so = body["stream_options"];
      if (!so.is_object()) so = json::object{};
      so.as_object()["include_usage"] = true;
    }
    payload = json::serialize(body);
  } else {
    payload = std::string(call.request.raw);
  }
  const auto& target = pool_.Target();
  bhttp::request<bhttp::string_body> req{bhttp::verb::post, target.base_path + "/chat/completions",
                                         11};
  const bool default_port =
      (target.tls && target.port == "443") || (!target.tls && target.port == "80");
  req.set(bhttp::field::host, default_port ? target.host : target.host + ":" + target.port);
  req.set(bhttp::field::content_type, "application/json");
  req.set(bhttp::field::accept, stream ? "text/event-stream" : "application/json");
  req.set(bhttp::field::user_agent, "bro-ai/" BRO_VERSION);
  req.set("traceparent", "00-" + call.trace_id + "-" + call.span_id + "-01");
  if (!api_key_.empty()) req.set(bhttp::field::authorization, "Bearer " + api_key_);
  req.keep_alive(true);
  req.body() = std::move(payload);
  req.prepare_payload();

  // Send the request and read the response head; a stale keep-alive connection gets one fresh
  // retry.
  std::unique_ptr<UpstreamConnection> conn;
  std::optional<bhttp::response_parser<bhttp::buffer_body>> parser_slot;
  for (int attempt = 0;; ++attempt) {
    auto& head_parser = parser_slot.emplace();
    try {
      // (No co_await inside ?: — GCC 12 miscompiles it.)
      if (attempt == 0) {
        conn = co_await pool_.Acquire();
      } else {
        conn = co_await pool_.Connect();
      }
      progress.active = conn.get();
    } catch (const UpstreamConnectError& e) {
      co_return ErrorOutcome(
          e.Timeout() ? UpstreamError(http::Status::gateway_timeout, "upstream_timeout",
                                      "The upstream provider did not accept a connection in time.")
                      : UpstreamError(http::Status::bad_gateway, "upstream_unavailable",
                                      "The upstream provider could not be reached."));
    }
    auto w = co_await BeforeDeadline(*conn, conn->With([&](auto& s) {
      return bhttp::async_write(s, req, as_tuple(use_awaitable));
    }),
                                     total_deadline);
    if (!w) {
      co_return ErrorOutcome(
          UpstreamError(http::Status::gateway_timeout, "upstream_timeout",
                        "The upstream provider did not accept the request in time."));
    }
    if (progress.client_gone) co_return ChatOutcome{};
    boost::system::error_code ec = std::get<0>(*w);
    if (!ec) {
      head_parser.body_limit(boost::none);
      auto h = co_await BeforeDeadline(*conn, conn->With([&](auto& s) {
        return bhttp::async_read_header(s, conn->buffer, head_parser, as_tuple(use_awaitable));
      }),
                                       first_deadline);
      if (!h) {
        co_return ErrorOutcome(UpstreamError(http::Status::gateway_timeout, "upstream_timeout",
                                             "The upstream provider did not answer in time."));
      }
      ec = std::get<0>(*h);
    }
    if (!ec) break;
    if (conn->reused && attempt == 0 && !head_parser.got_some()) continue;
    co_return ErrorOutcome(UpstreamError(http::Status::bad_gateway, "upstream_error",
                                         "The upstream provider closed the connection."));
  }

  auto& parser = *parser_slot;
  const auto upstream_status = parser.get().result_int();
  const bool ok = upstream_status >= 200 && upstream_status < 300;
  char buf[16 * 1024];

  // Reads the next piece of the body; nullopt on timeout, error code on failure.
  auto read_some = [&](Clock::time_point deadline)
      -> Task<std::optional<std::pair<boost::system::error_code, std::string_view>>> {
    parser.get().body().data = buf;
    parser.get().body().size = sizeof buf;
    auto r = co_await BeforeDeadline(*conn, conn->With([&](auto& s) {
      return bhttp::async_read_some(s, conn->buffer, parser, as_tuple(use_awaitable));
    }),
                                     deadline);
    if (!r) co_return std::nullopt;
    auto ec = std::get<0>(*r);
    if (ec == bhttp::error::need_buffer) ec = {};
    const std::size_t got = sizeof buf - parser.get().body().size;
    co_return std::make_pair(ec, std::string_view(buf, got));
  };

  if (!stream || !ok) {
    std::string content;
    const std::size_t limit = ok ? kMaxResponseBytes : kMaxErrorBytes;
    while (!parser.is_done()) {
      auto r = co_await read_some(total_deadline);
      if (!r) {
        co_return ErrorOutcome(
            UpstreamError(http::Status::gateway_timeout, "upstream_timeout",
                          "The upstream provider did not finish its response in time."));
      }
      if (r->first) {
        co_return ErrorOutcome(UpstreamError(http::Status::bad_gateway, "upstream_error",
                                             "The upstream provider's response was cut off."));
      }
      content.append(r->second);
      if (content.size() > limit) {
        co_return ErrorOutcome(UpstreamError(http::Status::bad_gateway, "upstream_error",
                                             "The upstream provider's response is too large."));
      }
    }
    const bool reusable = parser.keep_alive();
    std::string retry_after(parser.get()[bhttp::field::retry_after]);
    if (reusable) {
      progress.active = nullptr;
      pool_.Release(std::move(conn));
    }

    if (!ok) {
      ChatOutcome out;
      if (upstream_status == 400 || upstream_status == 404 || upstream_status == 413 ||
          upstream_status == 422 || upstream_status == 429) {
        // The request itself was refused: relay the provider's OpenAI-shaped error unchanged.
        out.status = static_cast<http::Status>(upstream_status);
        out.body = std::move(content);
        out.retry_after = std::move(retry_after);
        out.error_code = "upstream_" + std::to_string(upstream_status);
        co_return out;
      }
      if (upstream_status == 401 || upstream_status == 403) {
        co_return ErrorOutcome(
            UpstreamError(http::Status::bad_gateway, "upstream_auth_error",
                          "The gateway's credentials were refused by the upstream provider."));
      }
      co_return ErrorOutcome(UpstreamError(
          http::Status::bad_gateway, "upstream_error",
          "The upstream provider returned HTTP " + std::to_string(upstream_status) + "."));
    }
    ChatOutcome out;
    out.status = http::Status::ok;
    boost::system::error_code jec;
    unsigned char arena[8192];
    json::monotonic_resource mr(arena, sizeof arena);
    auto parsed = json::parse(content, jec, &mr);
    bool found = false;
    if (!jec && parsed.is_object()) ReadUsage(parsed.as_object(), out.usage, found);
    if (!found) out.usage.prompt_tokens = EstimatePromptTokens(call.request.body);
    out.body = std::move(content);
    out.time_to_first_token =
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    co_return out;
  }

  // Streaming relay.
  ChatOutcome out;
  out.streamed = true;
  out.status = http::Status::ok;
  if (!co_await sink.Begin()) {
    out.client_gone = true;
    out.error_code = "client_disconnected";
    co_return out;
  }
  SseSplitter splitter;
  bool saw_done = false;
  bool client_gone = false;
  std::vector<std::string> ready;
  auto on_event = [&](std::string_view event) {
    const std::string data = SseData(event);
    bool forward = true;
    if (data == "[DONE]") {
      saw_done = true;
    } else if (!data.empty()) {
      boost::system::error_code jec;
      unsigned char arena[4096];
      json::monotonic_resource mr(arena, sizeof arena);
      auto v = json::parse(data, jec, &mr);
      if (!jec && v.is_object()) {
        const auto& o = v.as_object();
        if (o.contains("error")) out.error_code = "upstream_stream_error";
        ReadUsage(o, progress.usage, progress.usage_reported);
        progress.completion_chars += DeltaChars(o);
        const auto* choices = o.if_contains("choices");
        const bool usage_only = o.contains("usage") && !o.at("usage").is_null() &&
                                choices != nullptr && choices->is_array() &&
                                choices->as_array().empty();
        if (usage_only && drop_usage_chunk) forward = false;
      }
    }
    if (forward) ready.emplace_back(event);
  };
  auto deadline = first_deadline;
  std::string failure;
  while (!parser.is_done()) {
    auto r = co_await read_some(deadline);
    if (!r) {
      failure = "upstream_timeout";
      break;
    }
    if (r->first) {
      failure = "upstream_stream_error";
      break;
    }
    if (r->second.empty()) continue;
    if (!splitter.Feed(r->second, on_event)) {
      failure = "upstream_stream_error";
      break;
    }
    for (auto& e : ready) {
      if (!progress.ttft) {
        progress.ttft = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
        deadline = total_deadline;
      }
      if (!co_await sink.Send(e)) {
        client_gone = true;
        break;
      }
    }
    ready.clear();
    if (client_gone) break;
  }
  out.usage = progress.usage;
  if (!progress.usage_reported) {
    out.usage.prompt_tokens = EstimatePromptTokens(call.request.body);
    out.usage.completion_tokens = static_cast<std::int64_t>((progress.completion_chars + 3) / 4);
  }
  out.time_to_first_token = progress.ttft;
  if (client_gone) {
    out.client_gone = true;
    out.error_code = "client_disconnected";
    co_return out;
  }
  if (failure.empty() && !saw_done) failure = "upstream_stream_error";
  if (!failure.empty()) {
    // Never end a broken stream as if it succeeded: tell the client in-band.
    out.error_code = failure;
    const std::string message = failure == "upstream_timeout"
                                    ? "The upstream provider stopped sending in time."
                                    : "The upstream provider's stream ended unexpectedly.";
    co_await sink.Send(StreamErrorEvent(failure, message));
    co_await sink.End();
    co_return out;
  }
  if (parser.keep_alive()) {
    progress.active = nullptr;
    pool_.Release(std::move(conn));
  }
  co_await sink.End();
  co_return out;
}

}  // namespace bro::gateway
