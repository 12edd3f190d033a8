#pragma once

#include <boost/beast/core/tcp_stream.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/task.hpp"

struct redisReader;

namespace bro::storage::redis {

// A Redis reply. Error replies are values (IsError), not exceptions: a script
// may answer with one on purpose.
struct Reply {
  enum class Type { kNil, kString, kStatus, kError, kInteger, kArray };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  long long integer = 0;
  std::vector<Reply> elements;

  bool IsNil() const { return type == Type::kNil; }
  bool IsError() const { return type == Type::kError; }
};

struct RedisOptions {
  std::string host = "127.0.0.1";
  std::string port = "6379";
  std::string username;  // ACL user (Redis 6+); empty = default user
  std::string password;
  int db = 0;
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds command_timeout{1000};
  int max_idle = 32;  // idle connections kept per I/O thread
};

// redis://[[user]:password@]host[:port][/db]. Throws std::invalid_argument
// naming the problem (never echoing the password).
RedisOptions ParseRedisUrl(std::string_view url);

// The arguments of a command, encoded as RESP bulk strings as they are added: one buffer,
// no string per argument (the limiter's batches have hundreds).
class RespArgs {
 public:
  void Add(std::string_view arg);
  void Add(std::int64_t value);
  void Append(const RespArgs& other);
  std::size_t Count() const { return count_; }
  const std::string& Encoded() const { return data_; }

 private:
  std::string data_;
  std::size_t count_ = 0;
};

// A Lua script run with EVALSHA; the source is sent (EVAL) only when the server
// answers NOSCRIPT, e.g. after a restart or failover.
class Script {
 public:
  explicit Script(std::string source);
  const std::string& Source() const { return source_; }
  const std::string& Sha1() const { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;
};

// A Redis client on Boost.Asio coroutines. Replies are parsed with hiredis'
// RESP reader (Debian's libhiredis); commands are encoded here (a RESP array of
// bulk strings is a few lines, and hiredis' formatter measured slower); hiredis'
// own network layer is not used, so every socket stays on the
// io_context of the request using it (one pool of idle connections per I/O
// thread, as in gateway::UpstreamPool). A connection that timed out, failed or
// was left mid-reply is closed, never reused.
//
// Command and Eval throw common::InfrastructureError when Redis cannot be
// reached, does not answer within command_timeout, or breaks the protocol.
class RedisClient {
 public:
  explicit RedisClient(RedisOptions options);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  Task<Reply> Command(std::vector<std::string> args);
  Task<Reply> Command(const RespArgs& args);
  Task<Reply> Eval(const Script& script, const RespArgs& keys, const RespArgs& args);
  const RedisOptions& Options() const { return options_; }
  std::size_t Idle() const;

 private:
  struct Connection;
  struct ConnectionDeleter {
    void operator()(Connection* c) const;
  };
  using ConnectionPtr = std::unique_ptr<Connection, ConnectionDeleter>;

  Task<ConnectionPtr> Acquire();
  Task<ConnectionPtr> Connect();
  Task<Reply> RoundTrip(Connection& c, const RespArgs& command);
  void Release(ConnectionPtr c);

  RedisOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<const void*, std::vector<ConnectionPtr>> idle_;
};

}  // namespace bro::storage::redis
