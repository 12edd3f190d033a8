// http::Server in-process on 127.0.0.1:0 with test handlers, driven over real
// sockets by a blocking client: keep-alive, limits, timeouts, errors, streaming,
// drain and connection limits.

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/json/parse.hpp>
#include <cerrno>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/errors.hpp"
#include "http/io_pool.hpp"
#include "http/request_framing.hpp"
#include "http/server.hpp"
#include "integration/http_client.hpp"
#include "integration/support.hpp"

namespace bro::http {
namespace {

using namespace std::chrono_literals;
using namespace asio::experimental::awaitable_operators;
using testing::Client;
using testing::Get;
using testing::Post;
using testing::WaitFor;
namespace json = boost::json;

// How the server under test runs its connections: on strands of one io_context
// run by two threads, or spread over an IoPool of two single-threaded contexts
// (what the App uses).
enum class Mode { kStrands, kIoPool };
void PrintTo(Mode m, std::ostream* os) {
  *os << (m == Mode::kStrands ? "strands" : "io-pool");
}

std::string ModeName(const ::testing::TestParamInfo<Mode>& p) {
  return p.param == Mode::kStrands ? "Strands" : "IoPool";
}

// An http::Server with its own threads, logger and metrics.
class ServerHarness {
 public:
  ServerHarness(Router router, const ServerOptions& options, Mode mode)
      : metrics_(registry_), router_(std::move(router)) {
    if (mode == Mode::kIoPool) {
      pool_ = std::make_unique<IoPool>(2);
      server_ = std::make_unique<Server>(*pool_, options, router_, log_.Get(), metrics_);
    } else {
      server_ = std::make_unique<Server>(ioc_, options, router_, log_.Get(), metrics_);
    }
    port_ = server_->Listen("127.0.0.1", 0);
    server_->Start();
    if (pool_) {
      threads_.emplace_back([this] { pool_->Run(); });
    } else {
      for (int i = 0; i < 2; ++i) threads_.emplace_back([this] { ioc_.run(); });
    }
  }
  ~ServerHarness() {
    server_->BeginDrain();
    server_->CloseAll();
    WaitFor([this] { return server_->ActiveSessions() == 0; }, 5s);
    if (pool_) {
      pool_->Stop();
    } else {
      work_.reset();
      if (!WaitFor([this] { return ioc_.stopped(); }, 5s)) ioc_.stop();
    }
    for (auto& t : threads_) t.join();
    server_.reset();
  }
  ServerHarness(const ServerHarness&) = delete;
  ServerHarness& operator=(const ServerHarness&) = delete;

  unsigned short Port() const { return port_; }
  Server& Srv() { return *server_; }
  std::string Metrics() const { return registry_.Render(); }

 private:
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(ioc_);
  std::unique_ptr<IoPool> pool_;
  testing::TestLogger log_;
  observability::Registry registry_;
  HttpMetrics metrics_;
  Router router_;
  std::unique_ptr<Server> server_;
  unsigned short port_ = 0;
  std::vector<std::thread> threads_;
};

// The OpenAI error object of a response; fails the test when it is not one.
json::object ErrorOf(const Response& res) {
  EXPECT_EQ(res[Field::content_type], "application/json");
  auto v = json::parse(res.body());
  const auto& e = v.as_object().at("error").as_object();
  EXPECT_TRUE(e.at("message").is_string());
  EXPECT_TRUE(e.at("type").is_string());
  EXPECT_TRUE(e.contains("param"));
  EXPECT_TRUE(e.contains("code"));
  return e;
}

struct State {
  std::atomic<bool> slow_entered{false};
  std::atomic<bool> release{false};
  std::atomic<bool> client_gone{false};
  std::atomic<bool> flood_stopped{false};
};

Response Text(Exchange& ex, std::string body, Status status = Status::ok) {
  Response res{status, ex.Req().version()};
  res.set(Field::content_type, "text/plain");
  res.body() = std::move(body);
  res.keep_alive(ex.Req().keep_alive());
  res.prepare_payload();
  return res;
}

Response EventStreamHead(Exchange& ex) {
  Response head{Status::ok, ex.Req().version()};
  head.set(Field::content_type, "text/event-stream");
  return head;
}

class HttpServerTest : public ::testing::TestWithParam<Mode> {
 protected:
  static ServerOptions Defaults() {
    ServerOptions o;
    o.max_header_bytes = 4096;
    o.max_body_bytes = 1024;
    o.read_timeout = 2s;
    o.idle_timeout = 5s;
    o.write_timeout = 2s;
    o.max_connections = 100;
    return o;
  }

  void Start(const ServerOptions& options = Defaults()) {
    harness_ = std::make_unique<ServerHarness>(MakeRouter(), options, GetParam());
  }
  void TearDown() override {
    state_.release = true;
    harness_.reset();
  }
  unsigned short Port() const { return harness_->Port(); }

  Router MakeRouter() {
    Router r;
    State* st = &state_;
    r.Add({Verb::get, "/ok", "/ok",
           [](Exchange& ex) -> Task<Response> { co_return Text(ex, "ok"); }});
    r.Add({Verb::post, "/echo", "/echo",
           [](Exchange& ex) -> Task<Response> { co_return Text(ex, ex.Req().body()); }});
    r.Add({Verb::post, "/big", "/big",
           [](Exchange& ex) -> Task<Response> {
             co_return Text(ex, std::to_string(ex.Req().body().size()));
           },
           8192});
    r.Add({Verb::post, "/small", "/small",
           [](Exchange& ex) -> Task<Response> { co_return Text(ex, "small"); }, 16});
    r.Add({Verb::put, "/only-put", "/only-put",
           [](Exchange& ex) -> Task<Response> { co_return Text(ex, "put"); }});
    r.Add({Verb::get, "/files/*", "/files/{name}",
           [](Exchange& ex) -> Task<Response> { co_return Text(ex, std::string(ex.Path())); }});
    r.Add({Verb::post, "/trailer", "/trailer", [](Exchange& ex) -> Task<Response> {
             const auto& req = ex.Req();
             co_return Text(ex, std::string(req["X-Smuggled"]) + "|" +
                                    std::to_string(req.count("X-Smuggled")) + "|" +
                                    std::to_string(req.count("X-Other")));
           }});
    r.Add({Verb::get, "/trace", "/trace",
           [](Exchange& ex) -> Task<Response> { co_return Text(ex, ex.TraceId()); }});
    r.Add({Verb::get, "/client-ip", "/client-ip",
           [](Exchange& ex) -> Task<Response> { co_return Text(ex, ex.ClientIp()); }});
    r.Add({Verb::get, "/throw", "/throw", [](Exchange&) -> Task<Response> {
             throw std::runtime_error("secret-detail-xyz");
             co_return Response{};
           }});
    r.Add({Verb::get, "/infra", "/infra", [](Exchange&) -> Task<Response> {
             throw common::InfrastructureError("postgres://admin:hunter2@db is down");
             co_return Response{};
           }});
    r.Add({Verb::get, "/stream", "/stream", [](Exchange& ex) -> Task<Response> {
             if (!co_await ex.StartStream(EventStreamHead(ex))) co_return Response{};
             co_await ex.WriteChunk("data: 1\n\n");
             co_await ex.WriteChunk("");
             co_await ex.WriteChunk("data: 2\n\n");
             co_await ex.EndStream();
             co_return Response{};
           }});
    r.Add({Verb::get, "/stream-throw", "/stream-throw", [](Exchange& ex) -> Task<Response> {
             co_await ex.StartStream(EventStreamHead(ex));
             co_await ex.WriteChunk("data: 1\n\n");
             throw std::runtime_error("upstream broke");
             co_return Response{};
           }});
    r.Add({Verb::get, "/stream-wait", "/stream-wait", [st](Exchange& ex) -> Task<Response> {
             co_await ex.StartStream(EventStreamHead(ex));
             co_await ex.WriteChunk("data: 1\n\n");
             co_await ex.WaitClientGone();
             st->client_gone = true;
             co_return Response{};
           }});
    r.Add({Verb::get, "/wait-or-timer", "/wait-or-timer", [](Exchange& ex) -> Task<Response> {
             asio::steady_timer timer(co_await asio::this_coro::executor, 300ms);
             auto which = co_await (ex.WaitClientGone() ||
                                    timer.async_wait(asio::as_tuple(asio::use_awaitable)));
             co_return Text(ex, which.index() == 0 ? "gone" : "timer");
           }});
    r.Add({Verb::get, "/flood", "/flood", [st](Exchange& ex) -> Task<Response> {
             const std::string mib(1 << 20, 'f');
             if (co_await ex.StartStream(EventStreamHead(ex))) {
               for (int i = 0; i < 1000; ++i) {
                 if (!co_await ex.WriteChunk(mib)) break;
               }
             }
             st->flood_stopped = true;
             co_return Response{};
           }});
    r.Add({Verb::get, "/slow", "/slow", [st](Exchange& ex) -> Task<Response> {
             st->slow_entered = true;
             asio::steady_timer t(co_await asio::this_coro::executor);
             for (int i = 0; i < 2000 && !st->release; ++i) {
               t.expires_after(5ms);
               co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
             }
             co_return Text(ex, "slow done");
           }});
    return r;
  }

  State state_;
  std::unique_ptr<ServerHarness> harness_;
};

TEST_P(HttpServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  Start();
  Client c(Port());
  c.Send(Get("/ok"));
  auto first = c.MustRead();
  EXPECT_EQ(first.result(), Status::ok);
  EXPECT_EQ(first.body(), "ok");
  EXPECT_TRUE(first.keep_alive());
  c.Send(Get("/ok"));
  auto second = c.MustRead();
  EXPECT_EQ(second.result(), Status::ok);
  EXPECT_EQ(harness_->Srv().ActiveSessions(), 1U) << "both requests used the same connection";
}

TEST_P(HttpServerTest, ConnectionCloseAndHttp10AreHonoured) {
  Start();
  {
    Client c(Port());
    c.Send(Get("/ok", "Connection: close\r\n"));
    auto res = c.MustRead();
    EXPECT_FALSE(res.keep_alive());
    EXPECT_TRUE(c.Closed());
  }
  {
    Client c(Port());
    c.Send("GET /ok HTTP/1.0\r\n\r\n");
    auto res = c.MustRead();
    EXPECT_EQ(res.version(), 10U);
    EXPECT_EQ(res.body(), "ok");
    EXPECT_TRUE(c.Closed());
  }
}

TEST_P(HttpServerTest, NotFoundIsOpenAiShapedAndKeepsTheConnection) {
  Start();
  Client c(Port());
  c.Send(Get("/nope?x=1"));
  auto res = c.MustRead();
  EXPECT_EQ(res.result(), Status::not_found);
  auto e = ErrorOf(res);
  EXPECT_EQ(e.at("code").as_string(), "not_found");
  EXPECT_EQ(e.at("type").as_string(), "invalid_request_error");
  EXPECT_TRUE(e.at("param").is_null());
  c.Send(Get("/ok"));
  EXPECT_EQ(c.MustRead().result(), Status::ok);
}

TEST_P(HttpServerTest, MethodNotAllowedIsOpenAiShaped) {
  Start();
  Client c(Port());
  c.Send(Post("/ok", "{}"));
  auto res = c.MustRead();
  EXPECT_EQ(res.result(), Status::method_not_allowed);
  EXPECT_EQ(ErrorOf(res).at("code").as_string(), "method_not_allowed");
  c.Send(Get("/only-put"));
  EXPECT_EQ(c.MustRead().result(), Status::method_not_allowed);
}

TEST_P(HttpServerTest, PrefixRoutesAndQueryStrings) {
  Start();
  Client c(Port());
  c.Send(Get("/files/a/b.txt?download=1"));
  auto res = c.MustRead();
  EXPECT_EQ(res.result(), Status::ok);
  EXPECT_EQ(res.body(), "/files/a/b.txt") << "the query is not part of the path";
  c.Send(Get("/files/"));
  EXPECT_EQ(c.MustRead().result(), Status::not_found)
      << "a prefix route needs something after the prefix";
  c.Send(Post("/files/x", ""));
  EXPECT_EQ(c.MustRead().result(), Status::method_not_allowed);
}

TEST_P(HttpServerTest, BodyOverLimitIs413AndTheConnectionCloses) {
  Start();
  Client c(Port());
  c.Send(Post("/echo", std::string(2048, 'x')));
  auto res = c.MustRead();
  EXPECT_EQ(res.result(), Status::payload_too_large);
  EXPECT_EQ(ErrorOf(res).at("code").as_string(), "request_too_large");
  EXPECT_FALSE(res.keep_alive());
  EXPECT_TRUE(c.Closed());
}

TEST_P(HttpServerTest, DeclaredLengthOverLimitIsRefusedBeforeTheBody) {
  Start();
  Client c(Port());
  c.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000\r\nExpect: "
      "100-continue\r\n\r\n");
  auto res = c.MustRead();
  EXPECT_EQ(res.result(), Status::payload_too_large)
      << "no 100 Continue for a body that will be refused";
  EXPECT_TRUE(c.Closed());
}

TEST_P(HttpServerTest, ChunkedBodyOverLimitIs413) {
  Start();
  Client c(Port());
  std::string req = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) req += "190\r\n" + std::string(400, 'y') + "\r\n";
  req += "0\r\n\r\n";
  c.Send(req);
  auto res = c.MustRead();
  EXPECT_EQ(res.result(), Status::payload_too_large);
  EXPECT_TRUE(c.Closed());
}

TEST_P(HttpServerTest, ChunkedBodyWithinLimitIsReassembled) {
  Start();
  Client c(Port());
  c.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n "
      "world\r\n0\r\n\r\n");
  auto res = c.MustRead();
  EXPECT_EQ(res.result(), Status::ok);
  EXPECT_EQ(res.body(), "hello world");
}

TEST_P(HttpServerTest, PerRouteBodyLimit) {
  Start();
  Client c(Port());
  c.Send(Post("/big", std::string(4096, 'b')));
  auto big = c.MustRead();
  EXPECT_EQ(big.result(), Status::ok) << "a route may allow more than the server default";
  EXPECT_EQ(big.body(), "4096");
  c.Send(Post("/echo", std::string(1000, 'e')));
  EXPECT_EQ(c.MustRead().result(), Status::ok);
  c.Send(Post("/small", std::string(100, 's')));
  EXPECT_EQ(c.MustRead().result(), Status::payload_too_large) << "and a route may allow less";
  EXPECT_TRUE(c.Closed());
  Client d(Port());
  d.Send(Post("/big", std::string(9000, 'b')));
  EXPECT_EQ(d.MustRead().result(), Status::payload_too_large);
}

TEST_P(HttpServerTest, HeaderOverLimitIs431) {
  Start();
  {
    Client c(Port());
    c.Send(Get("/ok", "X-Big: " + std::string(6000, 'a') + "\r\n"));
    auto res = c.MustRead();
    EXPECT_EQ(res.result(), Status::request_header_fields_too_large);
    EXPECT_EQ(ErrorOf(res).at("code").as_string(), "request_header_fields_too_large");
    EXPECT_TRUE(c.Closed());
  }
  {
    Client c(Port());
    std::string flood;
    for (int i = 0; i < 300; ++i) flood += "X-H" + std::to_string(i) + ": vvvvvvvvvvvvvv\r\n";
    c.Send(Get("/ok", flood));
    EXPECT_EQ(c.MustRead().result(), Status::request_header_fields_too_large);
  }
  Client ok(Port());
  ok.Send(Get("/ok"));
  EXPECT_EQ(ok.MustRead().result(), Status::ok) << "the server stays up";
}

TEST_P(HttpServerTest, MalformedRequestsAre400) {
  Start();
  for (const std::string& raw :
       {std::string("BLAH\r\n\r\n"), std::string("GET /ok HTTP/1.1\r\nContent-Length: abc\r\n\r\n"),
        std::string("GET /ok HTTP/1.1\r\nno colon here\r\n\r\n"),
        std::string("GET /ok HTTP/1.1\r\nA: b\rc\r\n\r\n"),
        std::string("POST /echo HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
        std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11)}) {
    Client c(Port());
    c.Send(raw);
    auto res = c.Read();
    ASSERT_TRUE(res.has_value()) << "no answer to " << raw << ": " << c.Error().message();
    EXPECT_EQ(res->result(), Status::bad_request) << raw;
    EXPECT_EQ(ErrorOf(*res).at("code").as_string(), "bad_request");
    EXPECT_TRUE(c.Closed());
  }
  Client ok(Port());
  ok.Send(Get("/ok"));
  EXPECT_EQ(ok.MustRead().result(), Status::ok);
}

TEST_P(HttpServerTest, IdleTimeoutClosesAnIdleConnection) {
  auto o = Defaults();
  o.idle_timeout = 200ms;
  Start(o);
  Client silent(Port());
  EXPECT_TRUE(silent.Closed()) << "a client that sends nothing is disconnected";
  Client after_one(Port());
  after_one.Send(Get("/ok"));
  EXPECT_EQ(after_one.MustRead().result(), Status::ok);
  EXPECT_TRUE(after_one.Closed()) << "an idle keep-alive connection is disconnected";
  EXPECT_TRUE(WaitFor([&] { return harness_->Srv().ActiveSessions() == 0; }));
}

TEST_P(HttpServerTest, StalledRequestHeadGets408) {
  auto o = Defaults();
  o.read_timeout = 200ms;
  Start(o);
  Client c(Port());
  c.Send("GET /ok HTTP/1.1\r\nHost: t\r\n");  // and never the blank line
  auto res = c.Read();
  ASSERT_TRUE(res.has_value()) << "the connection was closed without a 408: "
                               << c.Error().message();
  EXPECT_EQ(res->result(), Status::request_timeout);
  EXPECT_EQ(ErrorOf(*res).at("code").as_string(), "request_timeout");
  EXPECT_TRUE(c.Closed());
}

TEST_P(HttpServerTest, StalledRequestBodyGets408) {
  auto o = Defaults();
  o.read_timeout = 200ms;
  Start(o);
  Client c(Port());
  c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc");
  auto res = c.Read();
  ASSERT_TRUE(res.has_value()) << "the connection was closed without a 408: "
                               << c.Error().message();
  EXPECT_EQ(res->result(), Status::request_timeout);
  EXPECT_TRUE(c.Closed());
}

TEST_P(HttpServerTest, StalledRequestIsDisconnected) {
  auto o = Defaults();
  o.read_timeout = 200ms;
  o.idle_timeout = 60s;
  Start(o);
  Client c(Port());
  c.Send("GET /ok HTTP/1.1\r\nHost: t\r\n");
  EXPECT_TRUE(c.Closed()) << "a slow client cannot hold a connection past read_timeout";
}

TEST_P(HttpServerTest, WriteTimeoutStopsAStreamToAClientThatDoesNotRead) {
  auto o = Defaults();
  o.write_timeout = 200ms;
  Start(o);
  Client c(Port());
  c.Send(Get("/flood"));  // and never read: the socket buffers fill up
  EXPECT_TRUE(WaitFor([&] { return state_.flood_stopped.load(); }))
      << "a client that stops reading holds the stream forever";
  EXPECT_TRUE(WaitFor([&] { return harness_->Srv().ActiveSessions() == 0; }));
}

TEST_P(HttpServerTest, ExpectContinue) {
  Start();
  Client c(Port());
  c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  auto interim = c.MustRead();
  EXPECT_EQ(interim.result(), Status::continue_);
  c.Send("hello");
  auto res = c.MustRead();
  EXPECT_EQ(res.result(), Status::ok);
  EXPECT_EQ(res.body(), "hello");
}

TEST_P(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  Start();
  Client c(Port());
  c.Send(Get("/files/1") + Post("/echo", "second") + Get("/nope") + Get("/files/4"));
  auto r1 = c.MustRead();
  auto r2 = c.MustRead();
  auto r3 = c.MustRead();
  auto r4 = c.MustRead();
  EXPECT_EQ(r1.body(), "/files/1");
  EXPECT_EQ(r2.body(), "second");
  EXPECT_EQ(r3.result(), Status::not_found);
  EXPECT_EQ(r4.body(), "/files/4");
}

TEST_P(HttpServerTest, HandlerExceptionIs500WithAGenericMessage) {
  Start();
  Client c(Port());
  c.Send(Get("/throw"));
  auto res = c.MustRead();
  EXPECT_EQ(res.result(), Status::internal_server_error);
  auto e = ErrorOf(res);
  EXPECT_EQ(e.at("type").as_string(), "server_error");
  EXPECT_EQ(e.at("code").as_string(), "internal_error");
  EXPECT_EQ(res.body().find("secret-detail"), std::string::npos) << "internals must not leak";
  c.Send(Get("/ok"));
  EXPECT_EQ(c.MustRead().result(), Status::ok) << "the connection survives";
  Client d(Port());
  d.Send(Get("/ok"));
  EXPECT_EQ(d.MustRead().result(), Status::ok) << "and so does the server";
}

TEST_P(HttpServerTest, InfrastructureErrorIs503) {
  Start();
  Client c(Port());
  c.Send(Get("/infra"));
  auto res = c.MustRead();
  EXPECT_EQ(res.result(), Status::service_unavailable);
  auto e = ErrorOf(res);
  EXPECT_EQ(e.at("type").as_string(), "server_error");
  EXPECT_EQ(e.at("code").as_string(), "service_unavailable");
  EXPECT_EQ(res.body().find("hunter2"), std::string::npos);
  EXPECT_EQ(res.body().find("postgres"), std::string::npos);
}

TEST_P(HttpServerTest, StreamingProducesAValidChunkedResponse) {
  Start();
  Client c(Port());
  c.Send(Get("/stream"));
  auto res = c.MustRead();  // Beast validates the chunked framing, terminating chunk included
  EXPECT_EQ(res.result(), Status::ok);
  EXPECT_TRUE(res.chunked());
  EXPECT_EQ(res[Field::content_type], "text/event-stream");
  EXPECT_EQ(res.body(), "data: 1\n\ndata: 2\n\n");
  EXPECT_FALSE(res["traceparent"].empty());
  c.Send(Get("/ok"));
  EXPECT_EQ(c.MustRead().body(), "ok") << "keep-alive continues after a stream";
}

TEST_P(HttpServerTest, StreamRawFraming) {
  Start();
  Client c(Port());
  c.Send(Get("/stream", "Connection: close\r\n"));
  ASSERT_TRUE(c.ReadUntil("0\r\n\r\n"));
  const auto& raw = c.Raw();
  EXPECT_NE(raw.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << raw;
  EXPECT_NE(raw.find("\r\n\r\n9\r\ndata: 1\n\n\r\n9\r\ndata: 2\n\n\r\n0\r\n\r\n"),
            std::string::npos)
      << "an empty WriteChunk must not emit the terminating chunk early:\n"
      << raw;
  EXPECT_TRUE(c.Closed());
}

TEST_P(HttpServerTest, StreamFailingMidwayIsCutOffNotCompleted) {
  Start();
  Client c(Port());
  c.Send(Get("/stream-throw"));
  EXPECT_FALSE(c.Read().has_value()) << "a broken stream must not look complete";
  EXPECT_TRUE(c.Closed());
  Client d(Port());
  d.Send(Get("/ok"));
  EXPECT_EQ(d.MustRead().result(), Status::ok);
}

TEST_P(HttpServerTest, WaitClientGoneCompletesWhenTheClientCloses) {
  Start();
  Client c(Port());
  c.Send(Get("/stream-wait"));
  ASSERT_TRUE(c.ReadUntil("data: 1"));
  EXPECT_FALSE(state_.client_gone);
  c.Close();
  EXPECT_TRUE(WaitFor([&] { return state_.client_gone.load(); }))
      << "the handler never learned the client left";
  EXPECT_TRUE(WaitFor([&] { return harness_->Srv().ActiveSessions() == 0; }));
}

TEST_P(HttpServerTest, WaitClientGoneIgnoresAPipelinedRequest) {
  Start();
  Client c(Port());
  c.Send(Get("/wait-or-timer") + Get("/ok"));
  auto first = c.MustRead();
  EXPECT_EQ(first.body(), "timer") << "a pipelined request is not a disconnect";
  EXPECT_EQ(c.MustRead().body(), "ok");
  Client d(Port());
  d.Send(Get("/wait-or-timer"));
  EXPECT_EQ(d.MustRead().body(), "timer") << "nor is silence";
}

TEST_P(HttpServerTest, BeginDrainClosesIdleRefusesNewAndFinishesBusy) {
  Start();
  Client idle(Port());
  idle.Send(Get("/ok"));
  ASSERT_EQ(idle.MustRead().result(), Status::ok);
  Client busy(Port());
  busy.Send(Get("/slow"));
  ASSERT_TRUE(WaitFor([&] { return state_.slow_entered.load(); }));

  harness_->Srv().BeginDrain();
  EXPECT_TRUE(harness_->Srv().Draining());
  EXPECT_TRUE(idle.Closed()) << "idle keep-alive connections are closed";
  const bool refused = WaitFor(
      [&] {
        try {
          Client late(Port());  // accepted just before the listener closed: try again
          return false;
        } catch (const boost::system::system_error& e) {
          return e.code() == asio::error::connection_refused;
        }
      },
      5s);
  EXPECT_TRUE(refused) << "new connections are refused while draining";

  state_.release = true;
  auto res = busy.MustRead();
  EXPECT_EQ(res.result(), Status::ok) << "the busy exchange completes";
  EXPECT_EQ(res.body(), "slow done");
  EXPECT_FALSE(res.keep_alive()) << "and its connection closes";
  EXPECT_TRUE(busy.Closed());
  EXPECT_TRUE(WaitFor([&] { return harness_->Srv().ActiveSessions() == 0; }));
}

TEST_P(HttpServerTest, MaxConnectionsIsEnforced) {
  auto o = Defaults();
  o.max_connections = 2;
  Start(o);
  auto a = std::make_unique<Client>(Port());
  Client b(Port());
  a->Send(Get("/ok"));
  b.Send(Get("/ok"));
  ASSERT_EQ(a->MustRead().result(), Status::ok);
  ASSERT_EQ(b.MustRead().result(), Status::ok);
  Client third(Port());
  third.Send(Get("/ok"));
  EXPECT_FALSE(third.Read().has_value()) << "a connection over the limit gets no answer";
  EXPECT_GE(
      testing::MetricValue(harness_->Metrics(),
                           R"(bro_http_rejected_total{server="api",reason="max_connections"})")
          .value_or(0),
      1);
  a->Close();
  a.reset();
  ASSERT_TRUE(WaitFor([&] { return harness_->Srv().ActiveSessions() == 1; }));
  Client fourth(Port());
  fourth.Send(Get("/ok"));
  EXPECT_EQ(fourth.MustRead().result(), Status::ok) << "a freed slot is usable again";
}

// The client behind one trusted proxy is what that proxy appended to X-Forwarded-For (every
// header of that name counts, in order); without trusted hops the header is ignored.
TEST_P(HttpServerTest, ClientIpTrustsOnlyTheConfiguredProxies) {
  auto o = Defaults();
  o.trusted_proxy_hops = 1;
  Start(o);
  auto ip = [&](const std::string& headers) {
    Client c(Port());
    c.Send(Get("/client-ip", headers));
    return c.MustRead().body();
  };
  EXPECT_EQ(ip(""), "127.0.0.1");
  EXPECT_EQ(ip("X-Forwarded-For: 203.0.113.7\r\n"), "203.0.113.7");
  EXPECT_EQ(ip("X-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 203.0.113.8\r\n"), "203.0.113.8");
  EXPECT_EQ(ip("X-Forwarded-For: 1.1.1.1, not-an-address\r\n"), "127.0.0.1");
}

TEST_P(HttpServerTest, ClientIpIsThePeerWithoutTrustedProxies) {
  Start();
  Client c(Port());
  c.Send(Get("/client-ip", "X-Forwarded-For: 203.0.113.7\r\n"));
  EXPECT_EQ(c.MustRead().body(), "127.0.0.1");
}

TEST_P(HttpServerTest, ValidTraceparentIsPropagated) {
  Start();
  Client c(Port());
  const std::string trace = "0af7651916cd43dd8448eb211c80319c";
  c.Send(Get("/trace", "traceparent: 00-" + trace + "-b7ad6b7169203331-01\r\n"));
  auto res = c.MustRead();
  EXPECT_EQ(res.body(), trace);
  const std::string echoed(res["traceparent"]);
  const std::regex shape("00-([0-9a-f]{32})-([0-9a-f]{16})-01");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(echoed, m, shape)) << echoed;
  EXPECT_EQ(m[1], trace);
  EXPECT_NE(m[2], "b7ad6b7169203331") << "the server's span is its own";
}

TEST_P(HttpServerTest, InvalidTraceparentGetsANewTraceId) {
  Start();
  const std::string trace = "0af7651916cd43dd8448eb211c80319c";
  const std::regex id("[0-9a-f]{32}");
  const std::vector<std::string> invalid = {
      "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
      "00-00000000000000000000000000000000-b7ad6b7169203331-01",
      "00-" + trace + "-0000000000000000-01",
      "ff-" + trace + "-b7ad6b7169203331-01",
      "00-" + trace + "-b7ad6b7169203331",
      "00-" + trace + "x-b7ad6b7169203331-01",
      "00_" + trace + "-b7ad6b7169203331-01",
      "garbage"};
  for (const auto& bad : invalid) {
    Client c(Port());
    c.Send(Get("/trace", "traceparent: " + bad + "\r\n"));
    auto res = c.MustRead();
    EXPECT_TRUE(std::regex_match(res.body(), id)) << bad << " -> " << res.body();
    EXPECT_NE(res.body(), trace) << bad;
  }
  Client none(Port());
  none.Send(Get("/trace"));
  auto a = none.MustRead().body();
  none.Send(Get("/trace"));
  auto b = none.MustRead().body();
  EXPECT_TRUE(std::regex_match(a, id));
  EXPECT_NE(a, b) << "each request gets its own trace";
}

TEST_P(HttpServerTest, RequestsAreCountedByRouteMethodAndCode) {
  Start();
  {
    Client c(Port());
    c.Send(Get("/ok") + Get("/ok") + Get("/nope") + Get("/files/x"));
    for (int i = 0; i < 4; ++i) c.MustRead();
    // Counted after the response is written: wait for the last one.
    const std::string files =
        R"(bro_http_requests_total{server="api",route="/files/{name}",method="GET",code="200"})";
    ASSERT_TRUE(WaitFor([&] { return testing::MetricValue(harness_->Metrics(), files) == 1.0; }))
        << "routes are labelled by name, not by raw path\n"
        << harness_->Metrics();
    const auto text = harness_->Metrics();
    EXPECT_EQ(
        testing::MetricValue(
            text, R"(bro_http_requests_total{server="api",route="/ok",method="GET",code="200"})"),
        2);
    EXPECT_EQ(
        testing::MetricValue(
            text,
            R"(bro_http_requests_total{server="api",route="unmatched",method="GET",code="404"})"),
        1);
    EXPECT_EQ(testing::MetricValue(text, R"(bro_http_connections{server="api"})"), 1);
  }
  EXPECT_TRUE(WaitFor([&] {
    return testing::MetricValue(harness_->Metrics(), R"(bro_http_connections{server="api"})") ==
           0.0;
  }));
}

INSTANTIATE_TEST_SUITE_P(Modes, HttpServerTest, ::testing::Values(Mode::kStrands, Mode::kIoPool),
                         ModeName);

}  // namespace
}  // namespace bro::http

namespace bro::http {
namespace {

// Request smuggling: a request whose framing a front end could read differently is refused and
// its connection closed, so the bytes after it are never parsed as a request of their own.
class HttpFramingTest : public HttpServerTest {
 protected:
  // Sends `head` + `rest` + a smuggled GET; expects `status` and a closed connection with no
  // second answer.
  void ExpectRefused(const std::string& head, const std::string& rest, Status status) {
    Client c(Port());
    c.Send(head + rest + "GET /ok HTTP/1.1\r\nHost: t\r\n\r\n");
    auto res = c.Read();
    ASSERT_TRUE(res.has_value()) << "no answer to " << head;
    EXPECT_EQ(res->result(), status) << head;
    EXPECT_FALSE(res->keep_alive()) << head;
    ErrorOf(*res);
    EXPECT_TRUE(c.Closed()) << "the smuggled request must not be answered: " << head;
  }
};

TEST_P(HttpFramingTest, TransferEncodingOtherThanFinalChunkedIs400) {
  Start();
  const std::string body = "5\r\nhello\r\n0\r\n\r\n";
  for (const std::string te :
       {"xchunked", "identity", "chunked, identity", "chunked;foo=bar", "chunked chunked", "",
        "chunked, chunked", "\"chunked\"", "chunked\x0b", "chunked, gzip"}) {
    ExpectRefused("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: " + te + "\r\n\r\n", body,
                  Status::bad_request);
    ExpectRefused("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: " + te +
                      "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n",
                  body, Status::bad_request);
  }
}

TEST_P(HttpFramingTest, UnknownCodingBeforeChunkedIs501) {
  Start();
  for (const std::string te : {"gzip, chunked", "deflate,chunked", "x-custom , chunked"}) {
    ExpectRefused("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: " + te + "\r\n\r\n",
                  "5\r\nhello\r\n0\r\n\r\n", Status::not_implemented);
  }
}

TEST_P(HttpFramingTest, AmbiguousHeadsAre400) {
  Start();
  const std::string body = "5\r\nhello\r\n0\r\n\r\n";
  for (const std::string head : {
           // Two Transfer-Encoding fields, or one with Content-Length in either order.
           "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
           "chunked\r\n\r\n",
           "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: identity\r\nTransfer-Encoding: "
           "chunked\r\nContent-Length: 17\r\n\r\n",
           "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\nTransfer-Encoding: "
           "chunked\r\n\r\n",
           "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\nContent-Length: "
           "17\r\n\r\n",
           // obs-fold, whitespace before the colon, a tab or vertical tab in the name.
           "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n chunked\r\n\r\n",
           "POST /echo HTTP/1.1\r\nHost: t\r\nX-A: 1\r\n\tTransfer-Encoding: chunked\r\n\r\n",
           "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n",
           "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding\t: chunked\r\n\r\n",
           "POST /echo HTTP/1.1\r\nHost: t\r\n Transfer-Encoding: chunked\r\n\r\n",
           // HTTP/1.0 has no transfer codings.
           "POST /echo HTTP/1.0\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
       }) {
    ExpectRefused(head, body, Status::bad_request);
  }
}

TEST_P(HttpFramingTest, CaseVariantsOfChunkedFrameTheSameWay) {
  Start();
  for (const std::string te : {"chunked", "Chunked", "CHUNKED", " chunked ", "\tchunked"}) {
    Client c(Port());
    c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: " + te +
           "\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + Get("/ok"));
    auto first = c.MustRead();
    EXPECT_EQ(first.result(), Status::ok) << te;
    EXPECT_EQ(first.body(), "hello") << te;
    auto second = c.MustRead();
    EXPECT_EQ(second.body(), "ok") << "the next request is framed after the chunked body";
  }
}

TEST_P(HttpFramingTest, HostRules) {
  Start();
  ExpectRefused("GET /ok HTTP/1.1\r\n\r\n", "", Status::bad_request);
  ExpectRefused("GET /ok HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "", Status::bad_request);
  ExpectRefused("GET /ok HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", "", Status::bad_request);
  for (const std::string bad : {"a b", "a,b", "a@b", "a/b", "[::1", "a:80x", "a:1234567"}) {
    ExpectRefused("GET /ok HTTP/1.1\r\nHost: " + bad + "\r\n\r\n", "", Status::bad_request);
  }
  ExpectRefused("GET http://other/ok HTTP/1.1\r\nHost: t\r\n\r\n", "", Status::bad_request);
  for (const std::string good : {"example.com", "example.com:8080", "[::1]:80", "127.0.0.1", ""}) {
    Client c(Port());
    c.Send("GET /ok HTTP/1.1\r\nHost: " + good + "\r\n\r\n");
    EXPECT_EQ(c.MustRead().result(), Status::ok) << good;
  }
  Client old(Port());
  old.Send("GET /ok HTTP/1.0\r\n\r\n");
  EXPECT_EQ(old.MustRead().result(), Status::ok) << "HTTP/1.0 needs no Host";
}

TEST_P(HttpFramingTest, LongChunkExtensionIs400) {
  Start();
  ExpectRefused("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
                "5;" + std::string(kMaxChunkExtensionBytes, 'e') + "\r\nhello\r\n0\r\n\r\n",
                Status::bad_request);
  // Within the bound, extensions are accepted (and ignored).
  Client c(Port());
  c.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\n"
      "\r\n");
  EXPECT_EQ(c.MustRead().body(), "hello");
}

// A chunk-size line or a trailer section that never ends used to be buffered without bound.
TEST_P(HttpFramingTest, EndlessChunkMetadataIsCutOffEarly) {
  Start();
  const std::string head = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const auto& [prefix, piece] : std::vector<std::pair<std::string, std::string>>{
           {"5;", std::string(4096, 'e')},                     // an endless extension
           {"00000", std::string(4096, '0')},                  // an endless chunk size
           {"0\r\nX-T: ", std::string(4096, 't')},             // an endless trailer field
           {"0\r\n", "X-T: " + std::string(58, 't') + "\r\n"}  // endless trailer fields
       }) {
    Client c(Port());
    c.Send(head + prefix);
    // Kernel buffers and the bounded drain after the answer take a few MiB; a server that
    // buffers without bound never answers and this reaches 256 MiB.
    const auto sent = c.SendUntilAnswered(piece, std::size_t{256} << 20);
    EXPECT_LT(sent, std::size_t{32} << 20) << "the server must answer early: " << prefix;
    auto res = c.Read();
    ASSERT_TRUE(res.has_value()) << prefix;
    EXPECT_EQ(res->result(), Status::bad_request) << prefix;
    EXPECT_TRUE(c.Closed());
  }
}

TEST_P(HttpFramingTest, ChunkOverheadBeyondTheBudgetIs400) {
  Start();
  // One byte of body per chunk behind a 200-byte extension: ~200 times the body on the wire.
  Client c(Port());
  c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
  const auto sent =
      c.SendUntilAnswered("1;" + std::string(200, 'e') + "\r\nx\r\n", std::size_t{256} << 20);
  EXPECT_LT(sent, std::size_t{32} << 20);
  auto res = c.Read();
  ASSERT_TRUE(res.has_value());
  EXPECT_EQ(res->result(), Status::bad_request);
}

TEST_P(HttpFramingTest, AFramingFieldInTheTrailerIs400NotASilentClose) {
  Start();
  for (const std::string trailer : {"Content-Length: 5", "Transfer-Encoding: chunked"}) {
    ExpectRefused("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
                  "2\r\nhi\r\n0\r\n" + trailer + "\r\n\r\n", Status::bad_request);
  }
}

TEST_P(HttpFramingTest, TrailerFieldsDoNotReachTheHandler) {
  Start();
  Client c(Port());
  c.Send(
      "POST /trailer HTTP/1.1\r\nHost: t\r\nX-Smuggled: head\r\nTransfer-Encoding: "
      "chunked\r\n\r\n2\r\nhi\r\n0\r\nX-Smuggled: trailer\r\nX-Other: trailer\r\n\r\n");
  auto res = c.MustRead();
  EXPECT_EQ(res.result(), Status::ok);
  EXPECT_EQ(res.body(), "head|1|0") << "trailers are dropped, the head's fields kept";
}

INSTANTIATE_TEST_SUITE_P(Modes, HttpFramingTest, ::testing::Values(Mode::kStrands, Mode::kIoPool),
                         ModeName);

}  // namespace
}  // namespace bro::http
