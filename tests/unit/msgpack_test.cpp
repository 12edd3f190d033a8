// The MessagePack writer against the byte layouts of the specification
// (https://github.com/msgpack/msgpack/blob/master/spec.md); a real Redis decodes it in
// tests/integration/redis_client_test.cpp.

#include "storage/redis/msgpack.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace bro::storage::redis {
namespace {

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

std::string IntHex(std::int64_t v) {
  MsgpackWriter w;
  w.Int(v);
  return Hex(w.Bytes());
}

TEST(Msgpack, IntegersTakeTheShortestForm) {
  EXPECT_EQ(IntHex(0), "00");
  EXPECT_EQ(IntHex(127), "7f");    // positive fixint
  EXPECT_EQ(IntHex(128), "cc80");  // uint 8
  EXPECT_EQ(IntHex(255), "ccff");
  EXPECT_EQ(IntHex(256), "cd0100");  // uint 16
  EXPECT_EQ(IntHex(65535), "cdffff");
  EXPECT_EQ(IntHex(65536), "ce00010000");  // uint 32
  EXPECT_EQ(IntHex(4294967295), "ceffffffff");
  EXPECT_EQ(IntHex(1764115200000), "cf0000019abd75b800");  // uint 64: a time in ms
  EXPECT_EQ(IntHex(std::numeric_limits<std::int64_t>::max()), "cf7fffffffffffffff");
  EXPECT_EQ(IntHex(-1), "ff");  // negative fixint
  EXPECT_EQ(IntHex(-32), "e0");
  EXPECT_EQ(IntHex(-33), "d0df");  // int 8
  EXPECT_EQ(IntHex(-128), "d080");
  EXPECT_EQ(IntHex(-129), "d1ff7f");  // int 16
  EXPECT_EQ(IntHex(-32768), "d18000");
  EXPECT_EQ(IntHex(-32769), "d2ffff7fff");  // int 32
  EXPECT_EQ(IntHex(std::numeric_limits<std::int32_t>::min()), "d280000000");
  EXPECT_EQ(IntHex(-2147483649LL), "d3ffffffff7fffffff");  // int 64
  EXPECT_EQ(IntHex(std::numeric_limits<std::int64_t>::min()), "d38000000000000000");
}

TEST(Msgpack, StringsCarryTheirLength) {
  MsgpackWriter w;
  w.Str("");
  w.Str("R");
  EXPECT_EQ(Hex(w.Bytes()), "a0a152");
  const std::string s31(31, 'x'), s32(32, 'x'), s256(256, 'x'), s65536(65536, 'x');
  MsgpackWriter a;
  a.Str(s31);
  EXPECT_EQ(Hex(a.Bytes()).substr(0, 2), "bf");  // fixstr up to 31
  MsgpackWriter b;
  b.Str(s32);
  EXPECT_EQ(Hex(b.Bytes()).substr(0, 4), "d920");  // str 8
  MsgpackWriter c;
  c.Str(s256);
  EXPECT_EQ(Hex(c.Bytes()).substr(0, 6), "da0100");  // str 16
  MsgpackWriter d;
  d.Str(s65536);
  EXPECT_EQ(Hex(d.Bytes()).substr(0, 10), "db00010000");  // str 32
  EXPECT_EQ(d.Bytes().size(), 5 + s65536.size());
  MsgpackWriter bin;
  bin.Str(std::string("a\0b", 3));  // bytes pass through untouched
  EXPECT_EQ(Hex(bin.Bytes()), "a3610062");
}

TEST(Msgpack, ArraysGetTheirCountAtTheEnd) {
  MsgpackWriter w;
  const auto outer = w.BeginArray();
  w.Int(1);
  const auto inner = w.BeginArray();
  w.Str("x");
  w.EndArray(inner, 1);
  w.EndArray(outer, 2);
  EXPECT_EQ(Hex(w.Bytes()), "dd0000000201dd00000001a178");
  MsgpackWriter big;
  big.EndArray(big.BeginArray(), 0x01020304);
  EXPECT_EQ(Hex(big.Bytes()), "dd01020304");
}

TEST(Msgpack, EndArrayWithoutItsBeginIsALogicError) {
  MsgpackWriter w;
  w.Int(1);
  EXPECT_THROW(w.EndArray(0, 1), std::logic_error);
  EXPECT_THROW(w.EndArray(7, 1), std::logic_error);
}

std::string Bytes(std::initializer_list<int> bytes) {
  std::string out;
  for (const int b : bytes) out.push_back(static_cast<char>(b));
  return out;
}

TEST(Msgpack, ReadsBackEveryIntegerFormTheWriterMakes) {
  const std::vector<std::int64_t> values = {0,
                                            1,
                                            127,
                                            128,
                                            65535,
                                            65536,
                                            4294967296LL,
                                            1764115200000LL,
                                            std::numeric_limits<std::int64_t>::max(),
                                            -1,
                                            -32,
                                            -33,
                                            -129,
                                            -32769,
                                            -2147483649LL,
                                            std::numeric_limits<std::int64_t>::min()};
  MsgpackWriter w;
  const auto at = w.BeginArray();
  for (const auto v : values) w.Int(v);
  w.EndArray(at, static_cast<std::uint32_t>(values.size()));
  EXPECT_EQ(ReadIntegerArray(w.Bytes()), values);
}

TEST(Msgpack, ReadsTheArrayFormsCmsgpackMakes) {
  // What Redis' cmsgpack.pack returns for {}, {1, -1} and a 16-element table.
  EXPECT_TRUE(ReadIntegerArray(Bytes({0x90})).empty());
  EXPECT_EQ(ReadIntegerArray(Bytes({0x92, 0x01, 0xff})), (std::vector<std::int64_t>{1, -1}));
  std::string a16 = Bytes({0xdc, 0x00, 0x10});
  a16.append(16, '\x07');
  EXPECT_EQ(ReadIntegerArray(a16), std::vector<std::int64_t>(16, 7));
}

TEST(Msgpack, HostileAnswersAreRefusedNotTrusted) {
  for (const auto& bad : {
           std::string(),                                   // nothing
           Bytes({0x81, 0x01, 0x01}),                       // a map
           Bytes({0xa1, 0x78}),                             // a string
           Bytes({0x91, 0xa1, 0x78}),                       // an array of a string
           Bytes({0x91, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0}),     // an array of a float
           Bytes({0x91, 0xc0}),                             // nil
           Bytes({0x92, 0x01}),                             // one element short
           Bytes({0x91, 0xcd, 0x01}),                       // a truncated uint 16
           Bytes({0x91, 0x01, 0x02}),                       // bytes after the array
           Bytes({0xdd, 0xff, 0xff, 0xff, 0xff, 0x01}),     // a count the bytes cannot hold
           Bytes({0xdc, 0x00}),                             // a truncated count
           Bytes({0x91, 0xcf, 0x80, 0, 0, 0, 0, 0, 0, 0}),  // uint 64 above INT64_MAX
       }) {
    EXPECT_THROW(ReadIntegerArray(bad), std::invalid_argument) << Hex(bad);
  }
}

}  // namespace
}  // namespace bro::storage::redis
