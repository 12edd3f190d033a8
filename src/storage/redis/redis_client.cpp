#include "storage/redis/redis_client.hpp"

#include <hiredis/hiredis.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/url/parse.hpp>
#include <charconv>
#include <stdexcept>

#include "common/digest.hpp"
#include "common/errors.hpp"

namespace bro::storage::redis {

namespace asio = boost::asio;
namespace beast = boost::beast;
using asio::as_tuple;
using asio::use_awaitable;
using common::InfrastructureError;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t kReadChunk = std::size_t{16} << 10;
// A reply larger than this is a protocol problem for our use (keys hold sessions and cached
// responses of at most a few MiB); the connection is dropped rather than buffering without end.
constexpr std::size_t kMaxPendingReplyBytes = std::size_t{64} << 20;

const void* ContextOf(const asio::any_io_executor& ex) {
  return &asio::query(ex, asio::execution::context_as<asio::execution_context&>);
}

Reply Convert(const redisReply& r) {
  Reply out;
  switch (r.type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r.str, r.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r.elements);
      for (std::size_t i = 0; i < r.elements; ++i) out.elements.push_back(Convert(*r.element[i]));
      break;
    default:
      out.type = Reply::Type::kNil;
  }
  return out;
}

// RESP lengths: "*N\r\n" before a command's arguments, "$len\r\n" before each of them.
// Written here rather than with hiredis' redisFormatCommandArgv, which formats every length
// with sprintf and copies the command twice: measurable for the limiter's batches.
void AppendLength(std::string& out, char kind, std::size_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, n);
  out.push_back(kind);
  out.append(digits, end);
  out.append("\r\n");
}

RespArgs ToResp(const std::vector<std::string>& args) {
  RespArgs out;
  for (const auto& a : args) out.Add(a);
  return out;
}

}  // namespace

RedisOptions ParseRedisUrl(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) throw std::invalid_argument("not a valid URL (expected redis://host:port/db)");
  if (parsed->scheme() == "rediss") {
    throw std::invalid_argument("rediss:// (TLS) is not supported yet; use redis://");
  }
  if (parsed->scheme() != "redis") throw std::invalid_argument("scheme must be redis://");
  RedisOptions o;
  o.host = parsed->host();
  if (o.host.empty()) throw std::invalid_argument("URL has no host");
  if (o.host.front() == '[' && o.host.back() == ']') o.host = o.host.substr(1, o.host.size() - 2);
  if (parsed->has_port()) {
    const std::string port(parsed->port());
    unsigned value = 0;
    auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc{} || p != port.data() + port.size() || value == 0 || value > 65535) {
      throw std::invalid_argument("port must be 1-65535");
    }
    o.port = port;
  }
  if (parsed->has_userinfo()) {
    o.username = parsed->user();
    o.password = parsed->password();
  }
  std::string path = parsed->path();
  if (!path.empty() && path != "/") {
    const std::string db = path.substr(1);
    auto [p, ec] = std::from_chars(db.data(), db.data() + db.size(), o.db);
    if (path.front() != '/' || ec != std::errc{} || p != db.data() + db.size() || o.db < 0 ||
        o.db > 15) {
      throw std::invalid_argument("database must be a number 0-15 (redis://host:port/DB)");
    }
  }
  return o;
}

void RespArgs::Add(std::string_view arg) {
  AppendLength(data_, '$', arg.size());
  data_.append(arg);
  data_.append("\r\n");
  ++count_;
}

void RespArgs::Add(std::int64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  Add(std::string_view(digits, static_cast<std::size_t>(end - digits)));
}

void RespArgs::Append(const RespArgs& other) {
  data_.append(other.data_);
  count_ += other.count_;
}

Script::Script(std::string source) : source_(std::move(source)), sha1_(common::Sha1Hex(source_)) {}

struct RedisClient::Connection {
  explicit Connection(const asio::any_io_executor& ex)
      : stream(ex), reader(redisReaderCreate()), context(ContextOf(ex)) {}
  ~Connection() {
    if (reader != nullptr) redisReaderFree(reader);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  beast::tcp_stream stream;
  redisReader* reader;
  const void* context;
  std::array<char, kReadChunk> buf{};
};

void RedisClient::ConnectionDeleter::operator()(Connection* c) const {
  delete c;
}

RedisClient::RedisClient(RedisOptions options) : options_(std::move(options)) {}

RedisClient::~RedisClient() = default;

Task<Reply> RedisClient::Command(std::vector<std::string> args) {
  const auto resp = ToResp(args);
  auto reply = co_await Command(resp);
  co_return reply;
}

Task<Reply> RedisClient::Command(const RespArgs& args) {
  auto c = co_await Acquire();
  auto reply = co_await RoundTrip(*c, args);
  Release(std::move(c));
  co_return reply;
}

Task<Reply> RedisClient::Eval(const Script& script, const RespArgs& keys, const RespArgs& args) {
  RespArgs cmd;
  cmd.Add("EVALSHA");
  cmd.Add(script.Sha1());
  cmd.Add(static_cast<std::int64_t>(keys.Count()));
  cmd.Append(keys);
  cmd.Append(args);
  auto reply = co_await Command(cmd);
  if (reply.IsError() && reply.str.starts_with("NOSCRIPT")) {
    RespArgs eval;
    eval.Add("EVAL");
    eval.Add(script.Source());
    eval.Add(static_cast<std::int64_t>(keys.Count()));
    eval.Append(keys);
    eval.Append(args);
    reply = co_await Command(eval);
  }
  co_return reply;
}

Task<RedisClient::ConnectionPtr> RedisClient::Acquire() {
  const void* context = ContextOf(co_await asio::this_coro::executor);
  ConnectionPtr found;
  {
    std::lock_guard lock(mu_);
    auto& idle = idle_[context];
    while (!idle.empty() && !found) {
      auto c = std::move(idle.back());
      idle.pop_back();
      if (c->stream.socket().is_open()) found = std::move(c);
    }
  }
  if (found) co_return found;
  co_return co_await Connect();
}

Task<RedisClient::ConnectionPtr> RedisClient::Connect() {
  auto ex = co_await asio::this_coro::executor;
  const auto where = options_.host + ":" + options_.port;
  ConnectionPtr c(new Connection(ex));
  if (c->reader == nullptr) throw InfrastructureError("redis: out of memory");
  tcp::resolver resolver(ex);
  c->stream.expires_after(options_.connect_timeout);
  auto [rec, endpoints] =
      co_await resolver.async_resolve(options_.host, options_.port, as_tuple(use_awaitable));
  if (rec) throw InfrastructureError("redis: resolve " + options_.host + ": " + rec.message());
  auto [cec, ep] = co_await c->stream.async_connect(endpoints, as_tuple(use_awaitable));
  if (cec) throw InfrastructureError("redis: connect " + where + ": " + cec.message());
  boost::system::error_code ignored;
  c->stream.socket().set_option(tcp::no_delay(true), ignored);

  if (!options_.password.empty()) {
    std::vector<std::string> auth;
    auth.emplace_back("AUTH");
    if (!options_.username.empty()) auth.push_back(options_.username);
    auth.push_back(options_.password);
    const auto resp = ToResp(auth);
    auto r = co_await RoundTrip(*c, resp);
    if (r.IsError()) throw InfrastructureError("redis: authentication failed at " + where);
  }
  if (options_.db != 0) {
    std::vector<std::string> select;
    select.emplace_back("SELECT");
    select.push_back(std::to_string(options_.db));
    const auto resp = ToResp(select);
    auto r = co_await RoundTrip(*c, resp);
    if (r.IsError())
      throw InfrastructureError("redis: SELECT " + std::to_string(options_.db) +
                                " failed: " + r.str);
  }
  co_return c;
}

Task<Reply> RedisClient::RoundTrip(Connection& c, const RespArgs& command) {
  std::string head;
  AppendLength(head, '*', command.Count());
  std::array<asio::const_buffer, 2> request;
  request[0] = asio::buffer(head);
  request[1] = asio::buffer(command.Encoded());
  c.stream.expires_after(options_.command_timeout);
  auto [wec, written] = co_await asio::async_write(c.stream, request, as_tuple(use_awaitable));
  if (wec) {
    c.stream.close();
    throw InfrastructureError("redis: write: " + wec.message());
  }
  std::size_t pending = 0;
  for (;;) {
    void* raw = nullptr;
    if (redisReaderGetReply(c.reader, &raw) != REDIS_OK) {
      c.stream.close();
      throw InfrastructureError(std::string("redis: protocol error: ") + c.reader->errstr);
    }
    if (raw != nullptr) {
      std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw),
                                                         freeReplyObject);
      c.stream.expires_never();
      co_return Convert(*reply);
    }
    auto [rec, n] = co_await c.stream.async_read_some(asio::buffer(c.buf), as_tuple(use_awaitable));
    if (rec) {
      c.stream.close();
      throw InfrastructureError(rec == beast::error::timeout
                                    ? std::string("redis: no answer within the command timeout")
                                    : "redis: read: " + rec.message());
    }
    pending += n;
    if (pending > kMaxPendingReplyBytes || redisReaderFeed(c.reader, c.buf.data(), n) != REDIS_OK) {
      c.stream.close();
      throw InfrastructureError("redis: reply too large or unreadable");
    }
  }
}

void RedisClient::Release(ConnectionPtr c) {
  std::lock_guard lock(mu_);
  auto& idle = idle_[c->context];
  if (idle.size() < static_cast<std::size_t>(options_.max_idle)) idle.push_back(std::move(c));
}

std::size_t RedisClient::Idle() const {
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [context, idle] : idle_) n += idle.size();
  return n;
}

}  // namespace bro::storage::redis
