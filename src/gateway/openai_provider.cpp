#include "gateway/openai_provider.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "gateway/embeddings.hpp"
#include "gateway/sse.hpp"

namespace bro::gateway {
namespace {

namespace json = boost::json;

void ReadUsage(const json::object& o, CallProgress& progress) {
  const auto* u = o.if_contains("usage");
  if (u == nullptr || !u->is_object()) return;
  const auto& uo = u->as_object();
  if (const auto* p = uo.if_contains("prompt_tokens"); p != nullptr && p->is_number()) {
    progress.usage.prompt_tokens = p->to_number<std::int64_t>();
  }
  if (const auto* c = uo.if_contains("completion_tokens"); c != nullptr && c->is_number()) {
    progress.usage.completion_tokens = c->to_number<std::int64_t>();
  }
  progress.prompt_reported = true;
  progress.completion_reported = true;
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

// Upstream errors are already OpenAI error objects.
std::string Verbatim(std::string_view body, unsigned /*status*/) {
  return std::string(body);
}

}  // namespace

bhttp::request<bhttp::string_body> OpenAiProvider::Post(const std::string& path, bool stream,
                                                        const std::string& trace_id,
                                                        const std::string& span_id,
                                                        std::string payload) const {
  auto req = UpstreamPost(pool_.Target(), pool_.Target().base_path + path, stream, trace_id,
                          span_id, std::move(payload));
  if (!api_key_.empty()) req.set(bhttp::field::authorization, "Bearer " + api_key_);
  return req;
}

Task<ChatOutcome> OpenAiProvider::Run(const ChatCall& call, StreamSink& sink,
                                      CallProgress& progress, Deadlines deadlines) {
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
  auto req = Post("/chat/completions", stream, call.trace_id, call.span_id, std::move(payload));

  UpstreamExchange exchange(pool_, progress);
  auto answer = co_await SendAndRead(exchange, req, stream, deadlines, Verbatim);
  if (auto* done = std::get_if<ChatOutcome>(&answer)) co_return std::move(*done);
  if (!stream) {
    auto& content = std::get<std::string>(answer);
    ChatOutcome out;
    out.status = http::Status::ok;
    boost::system::error_code jec;
    unsigned char arena[8192];
    json::monotonic_resource mr(arena, sizeof arena);
    auto parsed = json::parse(content, jec, &mr);
    if (jec || !parsed.is_object()) {
      // Never hand a client a 200 it cannot parse; the router may try another deployment.
      co_return ErrorOutcome(UpstreamError(http::Status::bad_gateway, "upstream_error",
                                           "The upstream provider's response was not valid JSON."));
    }
    ReadUsage(parsed.as_object(), progress);
    out.usage = progress.usage;
    if (!progress.prompt_reported)
      out.usage.prompt_tokens = EstimatePromptTokens(call.request.body);
    out.body = std::move(content);
    out.time_to_first_token = std::chrono::duration_cast<std::chrono::milliseconds>(
        UpstreamClock::now() - deadlines.start);
    co_return out;
  }

  // Streaming relay: events pass through unchanged, except the usage-only chunk the client did
  // not ask for.
  bool saw_done = false;
  std::string stream_error;
  auto relay = [&](std::string_view event, std::vector<std::string>& out) {
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
        if (o.contains("error")) stream_error = "upstream_stream_error";
        ReadUsage(o, progress);
        progress.completion_chars += DeltaChars(o);
        const auto* choices = o.if_contains("choices");
        const bool usage_only = o.contains("usage") && !o.at("usage").is_null() &&
                                choices != nullptr && choices->is_array() &&
                                choices->as_array().empty();
        if (usage_only && drop_usage_chunk) forward = false;
      }
    }
    if (forward) out.emplace_back(event);
    return true;
  };
  auto end = co_await RelaySse(exchange, sink, progress, deadlines, relay);
  co_return co_await FinishStream(exchange, sink, progress, call.request, std::move(end), saw_done,
                                  std::move(stream_error));
}

Task<ChatOutcome> OpenAiProvider::Embed(const EmbedCall& call) {
  const auto& request = call.request;
  std::string payload;
  if (call.upstream_model != request.model) {
    json::object body = request.body;
    body["model"] = call.upstream_model;
    payload = json::serialize(body);
  } else {
    payload = std::string(request.raw);
  }
  auto req = Post("/embeddings", false, call.trace_id, call.span_id, std::move(payload));
  const auto deadlines = StartDeadlines();
  CallProgress progress;
  UpstreamExchange exchange(pool_, progress);
  auto answer = co_await SendAndRead(exchange, req, false, deadlines, Verbatim);
  if (auto* done = std::get_if<ChatOutcome>(&answer)) co_return std::move(*done);
  ChatOutcome out;
  out.status = http::Status::ok;
  out.body = std::move(std::get<std::string>(answer));
  boost::system::error_code jec;
  auto parsed = json::parse(out.body, jec);
  if (!jec && parsed.is_object()) ReadUsage(parsed.as_object(), progress);
  out.usage.prompt_tokens = progress.usage.prompt_tokens;
  if (!progress.prompt_reported) {
    for (const auto& text : request.inputs) out.usage.prompt_tokens += EstimateTokens(text);
  }
  co_return out;
}

}  // namespace bro::gateway
