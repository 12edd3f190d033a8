// RedisClient against a real Redis (BRO_TEST_REDIS_URL) and against loopback
// sockets that misbehave: garbage, silence, refusal.

#include "storage/redis/redis_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <string>
#include <thread>

#include "common/errors.hpp"
#include "common/random.hpp"
#include "integration/support.hpp"
#include "storage/redis/msgpack.hpp"

namespace bro::storage::redis {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using asio::ip::tcp;
using testing::RunTask;

std::vector<std::string> Cmd(std::initializer_list<std::string> args) {
  return args;
}
RespArgs Resp(std::initializer_list<std::string> args) {
  RespArgs out;
  for (const auto& a : args) out.Add(a);
  return out;
}

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = testing::RedisTestUrl();
    if (!url) GTEST_SKIP() << testing::kNoRedis;
    options_ = ParseRedisUrl(*url);
    prefix_ = "bro-test:" + common::RandomHex(8) + ":";
  }
  Reply Run(RedisClient& c, std::initializer_list<std::string> args) {
    return RunTask(ioc_, c.Command(Cmd(args)));
  }
  asio::io_context ioc_;
  RedisOptions options_;
  std::string prefix_;
};

TEST_F(RedisClientTest, RepliesOfEveryType) {
  RedisClient c(options_);
  EXPECT_EQ(Run(c, {"PING"}).type, Reply::Type::kStatus);
  EXPECT_EQ(Run(c, {"PING"}).str, "PONG");
  EXPECT_EQ(Run(c, {"SET", prefix_ + "s", "v\r\n"}).str, "OK");
  auto got = Run(c, {"GET", prefix_ + "s"});
  EXPECT_EQ(got.type, Reply::Type::kString);
  EXPECT_EQ(got.str, "v\r\n");
  EXPECT_TRUE(Run(c, {"GET", prefix_ + "absent"}).IsNil());
  auto n = Run(c, {"INCRBY", prefix_ + "n", "41"});
  EXPECT_EQ(n.type, Reply::Type::kInteger);
  EXPECT_EQ(n.integer, 41);
  auto arr = Run(c, {"MGET", prefix_ + "s", prefix_ + "absent"});
  ASSERT_EQ(arr.type, Reply::Type::kArray);
  ASSERT_EQ(arr.elements.size(), 2U);
  EXPECT_EQ(arr.elements[0].str, "v\r\n");
  EXPECT_TRUE(arr.elements[1].IsNil());
  Run(c, {"DEL", prefix_ + "s", prefix_ + "n"});
}

TEST_F(RedisClientTest, AnErrorReplyIsAValueAndTheConnectionStaysUsable) {
  RedisClient c(options_);
  Run(c, {"SET", prefix_ + "str", "x"});
  auto r = Run(c, {"LPUSH", prefix_ + "str", "y"});
  EXPECT_TRUE(r.IsError());
  EXPECT_NE(r.str.find("WRONGTYPE"), std::string::npos);
  EXPECT_EQ(Run(c, {"GET", prefix_ + "str"}).str, "x");
  EXPECT_EQ(c.Idle(), 1U);  // one connection served all three commands
  Run(c, {"DEL", prefix_ + "str"});
}

TEST_F(RedisClientTest, EvalLoadsTheScriptWhenTheServerDoesNotKnowIt) {
  RedisClient c(options_);
  Script script("return {KEYS[1], ARGV[1], redis.call('INCRBY', KEYS[1], ARGV[1])}");
  EXPECT_EQ(script.Sha1().size(), 40U);
  Run(c, {"SCRIPT", "FLUSH"});
  auto first = RunTask(ioc_, c.Eval(script, Resp({prefix_ + "e"}), Resp({"5"})));
  ASSERT_EQ(first.type, Reply::Type::kArray) << first.str;
  EXPECT_EQ(first.elements.at(0).str, prefix_ + "e");
  EXPECT_EQ(first.elements.at(2).integer, 5);
  // Now cached on the server: EVALSHA answers directly.
  auto exists = Run(c, {"SCRIPT", "EXISTS", script.Sha1()});
  EXPECT_EQ(exists.elements.at(0).integer, 1);
  auto second = RunTask(ioc_, c.Eval(script, Resp({prefix_ + "e"}), Resp({"2"})));
  EXPECT_EQ(second.elements.at(2).integer, 7);
  Run(c, {"DEL", prefix_ + "e"});
}

// Redis' own cmsgpack (what the limiter's script reads its batch with) decodes every form the
// writer produces to the value written.
TEST_F(RedisClientTest, RedisDecodesTheMsgpackWriter) {
  RedisClient c(options_);
  Script script(R"lua(
local out = {}
for _, v in ipairs(cmsgpack.unpack(ARGV[1])) do
  if type(v) == 'number' then out[#out + 1] = 'n' .. string.format('%d', v)
  elseif type(v) == 'string' then out[#out + 1] = 's' .. v
  else out[#out + 1] = type(v) .. #v end
end
return out)lua");
  const std::vector<std::int64_t> numbers = {
      0,
      127,
      128,
      255,
      256,
      65535,
      65536,
      -1,
      -32,
      -33,
      -128,
      -129,
      -32768,
      -32769,
      -2147483648LL,
      -2147483649LL,
      4294967295LL,
      4294967296LL,
      1764115200000LL,
      9007199254740992LL /* 2^53: the largest a Lua number holds exactly */};
  const std::vector<std::string> strings = {"",
                                            "R",
                                            std::string(31, 'a'),
                                            std::string(32, 'b'),
                                            std::string(300, 'c'),
                                            std::string("nul\0in", 6)};
  MsgpackWriter w;
  const auto at = w.BeginArray();
  for (const auto n : numbers) w.Int(n);
  for (const auto& s : strings) w.Str(s);
  const auto inner = w.BeginArray();
  w.Int(1);
  w.Int(2);
  w.EndArray(inner, 2);
  w.EndArray(at, static_cast<std::uint32_t>(numbers.size() + strings.size() + 1));
  RespArgs args;
  args.Add(w.Bytes());
  auto r = RunTask(ioc_, c.Eval(script, RespArgs(), args));
  ASSERT_EQ(r.type, Reply::Type::kArray) << r.str;
  ASSERT_EQ(r.elements.size(), numbers.size() + strings.size() + 1);
  std::size_t i = 0;
  for (const auto n : numbers) EXPECT_EQ(r.elements[i++].str, "n" + std::to_string(n));
  for (const auto& s : strings) EXPECT_EQ(r.elements[i++].str, "s" + s);
  EXPECT_EQ(r.elements[i].str, "table2");
}

// And the other way: what a script returns with cmsgpack.pack is read back exactly.
TEST_F(RedisClientTest, TheMsgpackReaderDecodesWhatRedisPacks) {
  RedisClient c(options_);
  Script script(
      "return cmsgpack.pack({0, 127, 128, 65536, 4294967296, 1764115200000, 2^53, -1, -33, "
      "-129, -32769, -2147483649, -2^53})");
  auto r = RunTask(ioc_, c.Eval(script, RespArgs(), RespArgs()));
  ASSERT_EQ(r.type, Reply::Type::kString) << r.str;
  const std::vector<std::int64_t> expected = {
      0,  127, 128,  65536,  4294967296LL,  1764115200000LL,    9007199254740992LL,
      -1, -33, -129, -32769, -2147483649LL, -9007199254740992LL};
  EXPECT_EQ(ReadIntegerArray(r.str), expected);
  Script empty("return cmsgpack.pack({})");
  EXPECT_TRUE(ReadIntegerArray(RunTask(ioc_, c.Eval(empty, RespArgs(), RespArgs())).str).empty());
}

TEST_F(RedisClientTest, APasswordTheServerDoesNotExpectFailsTheConnection) {
  auto o = options_;
  o.password = "not-configured";
  RedisClient c(o);
  try {
    Run(c, {"PING"});
    FAIL() << "expected an authentication failure";
  } catch (const common::InfrastructureError& e) {
    EXPECT_NE(std::string(e.what()).find("authentication failed"), std::string::npos);
    EXPECT_EQ(std::string(e.what()).find("not-configured"), std::string::npos);
  }
}

TEST_F(RedisClientTest, SelectsTheDatabaseOfTheUrl) {
  auto o = options_;
  o.db = 3;
  RedisClient db3(o);
  RedisClient db0(options_);
  Run(db3, {"SET", prefix_ + "where", "three"});
  EXPECT_TRUE(Run(db0, {"GET", prefix_ + "where"}).IsNil());
  EXPECT_EQ(Run(db3, {"GET", prefix_ + "where"}).str, "three");
  Run(db3, {"DEL", prefix_ + "where"});
}

// A loopback server on a thread of its own that answers every connection with
// `answer` (or nothing) and keeps the socket open.
class MisbehavingServer {
 public:
  explicit MisbehavingServer(std::string answer)
      : acceptor_(ioc_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)),
        answer_(std::move(answer)) {
    asio::co_spawn(ioc_, Serve(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~MisbehavingServer() {
    ioc_.stop();
    thread_.join();
  }
  MisbehavingServer(const MisbehavingServer&) = delete;
  MisbehavingServer& operator=(const MisbehavingServer&) = delete;
  RedisOptions Options() const {
    RedisOptions o;
    o.port = std::to_string(acceptor_.local_endpoint().port());
    o.command_timeout = 200ms;
    o.connect_timeout = 1s;
    return o;
  }

 private:
  asio::awaitable<void> Serve() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      auto s = std::make_shared<tcp::socket>(std::move(socket));
      sockets_.push_back(s);
      if (!answer_.empty()) {
        co_await asio::async_write(*s, asio::buffer(answer_), asio::as_tuple(asio::use_awaitable));
      }
    }
  }
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::string answer_;
  std::vector<std::shared_ptr<tcp::socket>> sockets_;
  std::thread thread_;
};

std::string ErrorOf(asio::io_context& ioc, RedisClient& c) {
  try {
    RunTask(ioc, c.Command(Cmd({"PING"})));
  } catch (const common::InfrastructureError& e) {
    return e.what();
  }
  return "no error";
}

TEST(RedisClientHostile, GarbageIsAProtocolErrorAndTheConnectionIsDropped) {
  asio::io_context ioc;
  MisbehavingServer server("?this is not RESP\r\n");
  RedisClient c(server.Options());
  EXPECT_NE(ErrorOf(ioc, c).find("protocol error"), std::string::npos);
  EXPECT_EQ(c.Idle(), 0U);
}

TEST(RedisClientHostile, SilenceTimesOut) {
  asio::io_context ioc;
  MisbehavingServer server("");
  RedisClient c(server.Options());
  EXPECT_NE(ErrorOf(ioc, c).find("no answer within the command timeout"), std::string::npos);
  EXPECT_EQ(c.Idle(), 0U);
}

TEST(RedisClientHostile, AHalfReplyThenCloseIsAReadError) {
  asio::io_context ioc;
  MisbehavingServer server("$10\r\nabc");
  RedisClient c(server.Options());
  const auto first = ErrorOf(ioc, c);
  EXPECT_NE(first.find("redis:"), std::string::npos) << first;
  EXPECT_EQ(c.Idle(), 0U);
}

TEST(RedisClientHostile, RefusedConnectionIsAnInfrastructureError) {
  asio::io_context ioc;
  RedisOptions o;
  {
    tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    o.port = std::to_string(a.local_endpoint().port());
  }
  RedisClient c(o);
  EXPECT_NE(ErrorOf(ioc, c).find("connect 127.0.0.1:"), std::string::npos);
}

TEST(RedisUrl, ParsesEveryPart) {
  auto o = ParseRedisUrl("redis://user:s3cret@redis.internal:6380/2");
  EXPECT_EQ(o.host, "redis.internal");
  EXPECT_EQ(o.port, "6380");
  EXPECT_EQ(o.username, "user");
  EXPECT_EQ(o.password, "s3cret");
  EXPECT_EQ(o.db, 2);
  auto d = ParseRedisUrl("redis://10.0.0.3");
  EXPECT_EQ(d.port, "6379");
  EXPECT_EQ(d.db, 0);
  EXPECT_EQ(ParseRedisUrl("redis://:pw@[::1]:7000/").host, "::1");
}

TEST(RedisUrl, RejectsWithoutEchoingSecrets) {
  for (const char* bad : {"http://h:6379", "rediss://h:6380", "redis://:pw@h:0", "redis://:pw@h:x",
                          "redis://:pw@h:6379/16", "redis://:pw@h:6379/x", "redis://", "::"}) {
    try {
      ParseRedisUrl(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const std::invalid_argument& e) {
      EXPECT_EQ(std::string(e.what()).find("pw"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace bro::storage::redis
