// The provider contract: what every gateway::Provider does, whatever is behind it. One typed
// suite, run against echo (in-process) and against openai, anthropic and vertex talking to
// loopback fakes of their upstream APIs (provider_backends.hpp). Each provider is driven through
// the Provider interface, as the router drives it, with a StreamSink that records what reached
// the client and can play a client that leaves. A new provider joins with one line in Backends.
//
// The contract: a plain answer in the chat.completion shape with usage; a stream of
// chat.completion.chunk events ending with [DONE] (usage chunk when asked); upstream refusals
// mapped as the router expects them (429 with Retry-After, 401/403 as 502 upstream_auth_error
// without the key, 5xx as a retryable 502), nothing sent to the client before them; a stream the
// upstream cut reported as an error and never finished with [DONE]; a client that leaves
// stopping the call and closing the upstream request.

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "gateway/chat.hpp"
#include "gateway/sse.hpp"
#include "integration/provider_backends.hpp"
#include "integration/support.hpp"

namespace bro::gateway {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using testing::Script;
using SteadyClock = std::chrono::steady_clock;

// How soon after a client leaves the call must end and the upstream see its request closed.
// Loopback takes milliseconds; a provider that misses the departure runs into its total timeout
// (10 s, provider_backends.hpp) instead.
constexpr auto kDepartureBound = 2s;
// Longer than any backend's total timeout: a call still running by then hangs.
constexpr auto kCallBound = 30s;

constexpr const char* kNoUpstream =
    "echo has no upstream: there is nothing to refuse, cut or cancel the call";

// The SSE events in `bytes`; `leftover` gets what does not end as an event.
std::vector<std::string> EventsOf(std::string_view bytes, std::string* leftover = nullptr) {
  SseSplitter splitter;
  std::vector<std::string> events;
  splitter.Feed(bytes, [&](std::string_view e) { events.emplace_back(e); });
  if (leftover != nullptr) *leftover = std::string(splitter.Pending());
  return events;
}

// The data of an event as a JSON object; null when it is not one.
std::optional<json::object> ObjectOf(const std::string& data) {
  boost::system::error_code ec;
  auto v = json::parse(data, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return v.as_object();
}

// The generated text a chunk carries.
std::string ContentOf(const json::object& chunk) {
  std::string text;
  const auto* choices = chunk.if_contains("choices");
  if (choices == nullptr || !choices->is_array()) return text;
  for (const auto& c : choices->as_array()) {
    const auto* delta = c.is_object() ? c.as_object().if_contains("delta") : nullptr;
    if (delta == nullptr || !delta->is_object()) continue;
    const auto* content = delta->as_object().if_contains("content");
    if (content != nullptr && content->is_string()) text += content->as_string();
  }
  return text;
}

// Whether any event in `bytes` carries generated text, or is [DONE].
bool CarriesContent(std::string_view bytes) {
  for (const auto& e : EventsOf(bytes)) {
    const auto data = SseData(e);
    if (data == "[DONE]") return true;
    if (auto o = ObjectOf(data); o && !ContentOf(*o).empty()) return true;
  }
  return false;
}

// The client as the provider sees it: records what reached it, and leaves when told to
// (kWhileWaiting: once the first text arrived, between writes, as a closed socket is noticed;
// kOnSend: by refusing the write that carries the first text).
class RecordingSink final : public StreamSink {
 public:
  enum class Departure { kNever, kWhileWaiting, kOnSend };
  explicit RecordingSink(Departure departure = Departure::kNever) : departure_(departure) {}

  Task<bool> Begin() override {
    ++begins;
    co_return !gone_;
  }
  Task<bool> Send(std::string_view bytes) override {
    const bool content = CarriesContent(bytes);
    if (gone_) {
      refused.emplace_back(bytes);
      co_return false;
    }
    if (departure_ == Departure::kOnSend && content) {
      MarkGone();
      co_return false;
    }
    if (begins == 0) sent_before_begin = true;
    ++accepted;
    received += bytes;
    if (departure_ == Departure::kWhileWaiting && content && !departure_scheduled_) {
      departure_scheduled_ = true;
      asio::post(co_await asio::this_coro::executor, [this] { GoAway(); });
    }
    co_return true;
  }
  Task<void> End() override {
    ++ends;
    co_return;
  }
  Task<void> ClientGone() override {
    if (gone_) co_return;
    asio::steady_timer t(co_await asio::this_coro::executor, asio::steady_timer::time_point::max());
    waiters_.push_back(&t);
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    std::erase(waiters_, &t);
  }
  void WatchClientGone(const std::function<void()>& on_gone) override { on_gone_ = on_gone; }
  void StopWatchingClient() override { on_gone_ = nullptr; }
  bool Started() const override { return accepted > 0; }

  std::optional<SteadyClock::time_point> LeftAt() const { return left_at_; }
  bool Untouched() const { return begins == 0 && accepted == 0 && refused.empty() && ends == 0; }

  int begins = 0;
  int ends = 0;
  int accepted = 0;
  bool sent_before_begin = false;
  std::string received;              // every accepted byte, in order
  std::vector<std::string> refused;  // writes offered once the client had left

 private:
  void MarkGone() {
    gone_ = true;
    left_at_ = SteadyClock::now();
  }
  // What the HTTP layer does when it notices a closed connection.
  void GoAway() {
    MarkGone();
    if (on_gone_) {
      const auto on_gone = on_gone_;  // a copy: the callback may end the watch while it runs
      on_gone();
    }
    for (auto* t : std::vector<asio::steady_timer*>(waiters_)) t->cancel();
  }

  Departure departure_;
  bool departure_scheduled_ = false;
  bool gone_ = false;
  std::optional<SteadyClock::time_point> left_at_;
  std::function<void()> on_gone_;
  std::vector<asio::steady_timer*> waiters_;
};

using Departure = RecordingSink::Departure;

enum class Mode { kPlain, kStream, kStreamWithUsage };

// `body` is an OpenAI error object: {"error":{"message","type","param","code"}}.
void ExpectOpenAiError(const std::string& body) {
  const auto root = ObjectOf(body);
  ASSERT_TRUE(root) << "not a JSON object: " << body;
  const auto* e = root->if_contains("error");
  ASSERT_TRUE(e != nullptr && e->is_object()) << body;
  const auto& error = e->as_object();
  ASSERT_TRUE(error.contains("message") && error.at("message").is_string()) << body;
  EXPECT_FALSE(error.at("message").as_string().empty()) << body;
  ASSERT_TRUE(error.contains("type") && error.at("type").is_string()) << body;
  EXPECT_FALSE(error.at("type").as_string().empty()) << body;
  EXPECT_TRUE(error.contains("param")) << body;
  EXPECT_TRUE(error.contains("code")) << body;
}

// A JSON number as an integer (else 0), a JSON string as itself (else a note of what it was):
// keeps comparisons in the typed tests free of dependent template calls and JSON equality.
std::int64_t Int(const json::value& v) {
  return v.is_number() ? v.to_number<std::int64_t>() : 0;
}
std::string Str(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : "(not a string: " + json::serialize(v) + ")";
}

void ExpectUsage(const json::value& usage, const std::string& where) {
  ASSERT_TRUE(usage.is_object()) << where;
  const auto& u = usage.as_object();
  for (const char* field : {"prompt_tokens", "completion_tokens", "total_tokens"}) {
    ASSERT_TRUE(u.contains(field) && u.at(field).is_number()) << field << " in " << where;
    EXPECT_GT(Int(u.at(field)), 0) << field << " in " << where;
  }
  EXPECT_EQ(Int(u.at("total_tokens")), Int(u.at("prompt_tokens")) + Int(u.at("completion_tokens")))
      << where;
}

template <class Backend>
class ProviderContract : public ::testing::Test {
 protected:
  void SetUp() override { provider_ = backend_.Open(ssl_, clock_); }

  static std::string Model(Script s) {
    auto model = Backend::UpstreamModel(s);
    EXPECT_TRUE(model) << Backend::Name() << " has no upstream model for this script";
    return model.value_or("");
  }

  // One call through the Provider interface, run on this test's io_context until it ends.
  ChatOutcome Chat(Script script, Mode mode, RecordingSink& sink) {
    std::string body = R"({"model":"contract","messages":[{"role":"system","content":"Be brief."},)"
                       R"({"role":"user","content":")" +
                       std::string(testing::kContractPrompt) + R"("}])";
    if (mode != Mode::kPlain) body += R"(,"stream":true)";
    if (mode == Mode::kStreamWithUsage) body += R"(,"stream_options":{"include_usage":true})";
    body += "}";
    auto parsed = ParseChatRequest(body);
    if (const auto* e = std::get_if<ApiError>(&parsed)) {
      ADD_FAILURE() << "the contract's request is invalid: " << e->message;
      return {};
    }
    const auto& request = std::get<ChatRequest>(parsed);
    const ChatCall call{request, Model(script), "0af7651916cd43dd8448eb211c80319c",
                        "b7ad6b7169203331"};
    auto future = asio::co_spawn(ioc_, Timed(*provider_, call, sink, finished_), asio::use_future);
    ioc_.restart();
    ioc_.run_for(kCallBound);
    if (future.wait_for(0s) != std::future_status::ready) {
      ADD_FAILURE() << "the call did not end within " << kCallBound.count() << " s";
      ioc_.run();
    }
    return future.get();
  }

  // A plain (non-streamed) failure the router may retry elsewhere: nothing reached the client,
  // the error is OpenAI-shaped and carries a code, and it does not name the provider's key.
  void ExpectPlainFailure(const ChatOutcome& out, const RecordingSink& sink) {
    EXPECT_FALSE(out.streamed);
    EXPECT_FALSE(out.client_gone);
    EXPECT_FALSE(out.error_code.empty());
    EXPECT_TRUE(sink.Untouched()) << "before the failure something reached the client: "
                                  << sink.received;
    ExpectOpenAiError(out.body);
    if (!Backend::ApiKey().empty()) {
      EXPECT_EQ(out.body.find(Backend::ApiKey()), std::string::npos)
          << "the provider's key leaked: " << out.body;
    }
  }

  // The events the client received, checked as a complete chat.completion.chunk stream.
  void ExpectCompleteStream(const ChatOutcome& out, const RecordingSink& sink, bool with_usage) {
    EXPECT_EQ(out.status, http::Status::ok);
    EXPECT_TRUE(out.streamed);
    EXPECT_TRUE(out.error_code.empty()) << out.error_code;
    EXPECT_FALSE(out.client_gone);
    EXPECT_EQ(sink.begins, 1);
    EXPECT_FALSE(sink.sent_before_begin) << "events before the stream's head";
    EXPECT_EQ(sink.ends, 1) << "the stream is ended once";
    EXPECT_TRUE(sink.refused.empty());
    EXPECT_GT(out.usage.prompt_tokens, 0) << "usage is recorded whether the client asked or not";
    EXPECT_GT(out.usage.completion_tokens, 0);

    std::string leftover;
    const auto events = EventsOf(sink.received, &leftover);
    EXPECT_EQ(leftover, "") << "an unfinished event";
    ASSERT_GE(events.size(), 3U) << sink.received;
    std::vector<std::string> data;
    for (const auto& e : events) {
      EXPECT_TRUE(e.starts_with("data: ")) << "not an OpenAI data event: " << e;
      data.push_back(SseData(e));
    }
    EXPECT_EQ(data.back(), "[DONE]") << sink.received;
    EXPECT_EQ(std::count(data.begin(), data.end(), "[DONE]"), 1) << sink.received;

    std::string id, content;
    std::optional<std::string> finish;
    int pieces = 0, with_choices = 0, usage_chunks = 0;
    bool saw_role = false;
    for (std::size_t i = 0; i + 1 < data.size(); ++i) {
      const auto chunk = ObjectOf(data[i]);
      ASSERT_TRUE(chunk) << "not JSON: " << data[i];
      EXPECT_EQ(Str(chunk->at("object")), "chat.completion.chunk") << data[i];
      ASSERT_TRUE(chunk->contains("id") && chunk->at("id").is_string()) << data[i];
      if (id.empty()) id = chunk->at("id").as_string();
      EXPECT_EQ(chunk->at("id").as_string(), id) << "one id for the whole stream";
      EXPECT_TRUE(chunk->contains("created") && chunk->at("created").is_number()) << data[i];
      EXPECT_TRUE(chunk->contains("model") && chunk->at("model").is_string()) << data[i];
      ASSERT_TRUE(chunk->contains("choices") && chunk->at("choices").is_array()) << data[i];
      const auto& choices = chunk->at("choices").as_array();
      if (const auto* u = chunk->if_contains("usage"); u != nullptr && !u->is_null()) {
        ++usage_chunks;
        EXPECT_TRUE(with_usage) << "a usage chunk the client did not ask for: " << data[i];
        EXPECT_TRUE(choices.empty()) << "the usage chunk has no choices: " << data[i];
        EXPECT_EQ(i + 2, data.size()) << "the usage chunk comes last, before [DONE]";
        ExpectUsage(*u, data[i]);
        EXPECT_EQ(Int(u->at("prompt_tokens")), out.usage.prompt_tokens);
        EXPECT_EQ(Int(u->at("completion_tokens")), out.usage.completion_tokens);
      }
      if (choices.empty()) continue;
      const auto& choice = choices.at(0).as_object();
      const auto& delta = choice.at("delta").as_object();
      if (++with_choices == 1) {
        EXPECT_EQ(Str(delta.contains("role") ? delta.at("role") : json::value()), "assistant")
            << "the first delta names the role: " << data[i];
        saw_role = true;
      }
      const auto text = ContentOf(*chunk);
      EXPECT_FALSE(finish && !text.empty()) << "text after the finish: " << data[i];
      if (!text.empty()) ++pieces;
      content += text;
      if (const auto* f = choice.if_contains("finish_reason"); f != nullptr && !f->is_null()) {
        EXPECT_FALSE(finish) << "a second finish_reason: " << data[i];
        finish = std::string(f->as_string());
      }
    }
    EXPECT_TRUE(saw_role);
    EXPECT_EQ(content, Backend::Reply(true)) << sink.received;
    EXPECT_GE(pieces, 2) << "the text arrives in pieces, as produced";
    EXPECT_EQ(finish.value_or("(none)"), "stop");
    EXPECT_EQ(usage_chunks, with_usage ? 1 : 0) << sink.received;
  }

  // What every departure case asks: the call ends soon after the client left, as client_gone,
  // with what was produced counted, nothing more offered to the client, and the upstream
  // request closed.
  void ExpectStoppedForDeparture(const ChatOutcome& out, const RecordingSink& sink) {
    ASSERT_TRUE(sink.LeftAt()) << "the client never got text to leave after: " << sink.received;
    EXPECT_TRUE(out.client_gone);
    EXPECT_EQ(out.error_code, "client_disconnected");
    EXPECT_LT(finished_ - *sink.LeftAt(), kDepartureBound)
        << "the call went on after the client left";
    EXPECT_EQ(sink.received.find("[DONE]"), std::string::npos);
    for (const auto& w : sink.refused) {
      EXPECT_FALSE(CarriesContent(w)) << "text offered after the client left: " << w;
    }
    EXPECT_GT(out.usage.prompt_tokens, 0);
    if (Backend::kHasUpstream) {
      EXPECT_TRUE(
          testing::WaitFor([this] { return backend_.UpstreamSawDisconnect(); }, kDepartureBound))
          << "the upstream request kept running after the client left";
    }
  }

  asio::io_context ioc_;
  asio::ssl::context ssl_{asio::ssl::context::tls_client};
  testing::FakeClock clock_;
  Backend backend_;
  std::unique_ptr<Provider> provider_;
  SteadyClock::time_point finished_;

 private:
  static asio::awaitable<ChatOutcome> Timed(Provider& provider, const ChatCall& call,
                                            StreamSink& sink, SteadyClock::time_point& finished) {
    auto out = co_await provider.Chat(call, sink);
    finished = SteadyClock::now();
    co_return out;
  }
};

struct BackendNames {
  template <class T>
  static std::string GetName(int /*index*/) {
    return T::Name();
  }
};

using Backends =
    ::testing::Types<testing::EchoProviderBackend, testing::OpenAiProviderBackend,
                     testing::AnthropicProviderBackend, testing::VertexProviderBackend>;
TYPED_TEST_SUITE(ProviderContract, Backends, BackendNames);

// 1. A plain answer: the chat.completion object, with the upstream's (or estimated) usage.
TYPED_TEST(ProviderContract, AnswersInTheChatCompletionShape) {
  RecordingSink sink;
  const auto out = this->Chat(Script::kText, Mode::kPlain, sink);
  ASSERT_EQ(out.status, http::Status::ok) << out.body;
  EXPECT_FALSE(out.streamed);
  EXPECT_TRUE(out.error_code.empty()) << out.error_code;
  EXPECT_FALSE(out.client_gone);
  EXPECT_TRUE(sink.Untouched()) << "a plain answer goes back as the outcome, not as a stream";
  const auto body = ObjectOf(out.body);
  ASSERT_TRUE(body) << out.body;
  const auto& o = *body;
  ASSERT_TRUE(o.contains("id") && o.at("id").is_string()) << out.body;
  EXPECT_FALSE(o.at("id").as_string().empty());
  EXPECT_EQ(Str(o.at("object")), "chat.completion");
  ASSERT_TRUE(o.contains("created") && o.at("created").is_number()) << out.body;
  EXPECT_GT(Int(o.at("created")), 0);
  ASSERT_TRUE(o.contains("model") && o.at("model").is_string()) << out.body;
  EXPECT_FALSE(o.at("model").as_string().empty());
  ASSERT_TRUE(o.contains("choices") && o.at("choices").is_array()) << out.body;
  ASSERT_EQ(o.at("choices").as_array().size(), 1U) << out.body;
  const auto& choice = o.at("choices").at(0).as_object();
  EXPECT_EQ(Int(choice.at("index")), 0);
  EXPECT_EQ(Str(choice.at("message").at("role")), "assistant");
  EXPECT_EQ(Str(choice.at("message").at("content")), TypeParam::Reply(false));
  EXPECT_EQ(Str(choice.at("finish_reason")), "stop");
  ASSERT_TRUE(o.contains("usage")) << out.body;
  ExpectUsage(o.at("usage"), out.body);
  EXPECT_EQ(Int(o.at("usage").at("prompt_tokens")), out.usage.prompt_tokens)
      << "the outcome's usage (recorded, billed) is the one the client sees";
  EXPECT_EQ(Int(o.at("usage").at("completion_tokens")), out.usage.completion_tokens);
}

// 2. A stream: chunk events whose text joins to the answer, one finish, [DONE] last; no usage
// chunk unless asked for, usage recorded anyway.
TYPED_TEST(ProviderContract, StreamsChunksEndingWithDone) {
  RecordingSink sink;
  const auto out = this->Chat(Script::kText, Mode::kStream, sink);
  this->ExpectCompleteStream(out, sink, false);
}

TYPED_TEST(ProviderContract, StreamsAUsageChunkWhenAskedFor) {
  RecordingSink sink;
  const auto out = this->Chat(Script::kText, Mode::kStreamWithUsage, sink);
  this->ExpectCompleteStream(out, sink, true);
}

// 3. Upstream refusals, streamed or not, before anything reached the client. The router retries
// a failure that is 429 or >= 500 with an error code, not client_gone, while the client has
// nothing (gateway/routing.cpp, DeploymentFailed); it waits for Retry-After when given.
TYPED_TEST(ProviderContract, UpstreamRateLimitIsA429WithItsRetryAfter) {
  if (!TypeParam::kHasUpstream) GTEST_SKIP() << kNoUpstream;
  for (const auto mode : {Mode::kPlain, Mode::kStream}) {
    SCOPED_TRACE(mode == Mode::kPlain ? "plain" : "streamed");
    RecordingSink sink;
    const auto out = this->Chat(Script::kRateLimited, mode, sink);
    EXPECT_EQ(out.status, http::Status::too_many_requests) << out.body;
    EXPECT_EQ(out.retry_after, testing::kContractRetryAfter);
    this->ExpectPlainFailure(out, sink);
  }
}

// What the gateway answers today: 502 upstream_auth_error, a message of its own (the client's
// credentials were fine; the gateway's were not), nothing of the upstream's answer.
TYPED_TEST(ProviderContract, RefusedUpstreamCredentialsAreA502WithoutTheKey) {
  if (!TypeParam::kHasUpstream) GTEST_SKIP() << kNoUpstream;
  int scripts = 0;
  for (const auto script : {Script::kUnauthorized, Script::kForbidden}) {
    if (!TypeParam::UpstreamModel(script)) continue;
    ++scripts;
    for (const auto mode : {Mode::kPlain, Mode::kStream}) {
      SCOPED_TRACE(std::string(script == Script::kUnauthorized ? "401 " : "403 ") +
                   (mode == Mode::kPlain ? "plain" : "streamed"));
      RecordingSink sink;
      const auto out = this->Chat(script, mode, sink);
      EXPECT_EQ(out.status, http::Status::bad_gateway) << out.body;
      EXPECT_EQ(out.error_code, "upstream_auth_error");
      EXPECT_TRUE(out.retry_after.empty());
      this->ExpectPlainFailure(out, sink);
      if (const auto body = ObjectOf(out.body)) {
        EXPECT_EQ(Str(body->at("error").at("code")), "upstream_auth_error") << out.body;
        EXPECT_EQ(Str(body->at("error").at("type")), "upstream_error") << out.body;
      }
    }
  }
  EXPECT_GT(scripts, 0) << "no 401 or 403 script to check";
}

TYPED_TEST(ProviderContract, UpstreamServerErrorIsARetryable502) {
  if (!TypeParam::kHasUpstream) GTEST_SKIP() << kNoUpstream;
  for (const auto mode : {Mode::kPlain, Mode::kStream}) {
    SCOPED_TRACE(mode == Mode::kPlain ? "plain" : "streamed");
    RecordingSink sink;
    const auto out = this->Chat(Script::kServerError, mode, sink);
    EXPECT_TRUE(out.status == http::Status::bad_gateway ||
                out.status == http::Status::service_unavailable)
        << static_cast<unsigned>(out.status) << " " << out.body;
    this->ExpectPlainFailure(out, sink);
  }
}

// 4. A stream the upstream broke off: what arrived is relayed, then an in-band OpenAI error
// event; never [DONE], which would tell the client the answer is complete.
TYPED_TEST(ProviderContract, AStreamCutByTheUpstreamEndsWithAnErrorNotDone) {
  if (!TypeParam::kHasUpstream) GTEST_SKIP() << kNoUpstream;
  RecordingSink sink;
  const auto out = this->Chat(Script::kCut, Mode::kStream, sink);
  EXPECT_TRUE(out.streamed);
  EXPECT_FALSE(out.client_gone);
  EXPECT_FALSE(out.error_code.empty()) << "a broken stream is recorded as a failure";
  EXPECT_EQ(sink.received.find("[DONE]"), std::string::npos) << sink.received;
  const auto events = EventsOf(sink.received);
  ASSERT_FALSE(events.empty());
  std::string content;
  for (const auto& e : events) {
    if (auto chunk = ObjectOf(SseData(e))) content += ContentOf(*chunk);
  }
  EXPECT_EQ(content, "partial") << "what arrived before the cut reached the client";
  const auto last = SseData(events.back());
  ExpectOpenAiError(last);
  if (const auto error = ObjectOf(last)) {
    EXPECT_EQ(Str(error->at("error").at("code")), out.error_code)
        << "the client and the usage record name the same failure";
  }
}

// 5. A client that leaves mid-stream. While the provider waits for the upstream, only the
// sink's notice (WatchClientGone / ClientGone) can stop it...
TYPED_TEST(ProviderContract, AClientLeavingMidStreamCancelsTheCall) {
  RecordingSink sink(Departure::kWhileWaiting);
  const auto out = this->Chat(Script::kHang, Mode::kStream, sink);
  this->ExpectStoppedForDeparture(out, sink);
  EXPECT_GE(out.usage.completion_tokens, 1) << "the text produced before it left is counted";
}

// ...and a write the sink refuses ends the call at once: nothing more is offered.
TYPED_TEST(ProviderContract, AWriteRefusedByTheClientEndsTheCall) {
  RecordingSink sink(Departure::kOnSend);
  const auto out = this->Chat(Script::kHang, Mode::kStream, sink);
  this->ExpectStoppedForDeparture(out, sink);
  EXPECT_TRUE(sink.refused.empty()) << sink.refused.size() << " writes after the refused one";
}

}  // namespace
}  // namespace bro::gateway
