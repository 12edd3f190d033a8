#pragma once

// A MessagePack writer for the few types Lua scripts read with Redis' bundled cmsgpack:
// integers, strings and arrays, and a reader for what such a script returns with
// cmsgpack.pack: one array of integers (https://github.com/msgpack/msgpack/blob/master/spec.md).
// Written here, small and tested (tests/unit/msgpack_test.cpp, and decoded by a real Redis in
// tests/integration/redis_client_test.cpp), because Debian 12's libmsgpack-dev cannot be
// installed beside Boost 1.81 (it pulls libmsgpack-cxx-dev, which depends on Boost 1.74).
//
// Why at all: a batch of limiter decisions passed as one MessagePack argument reaches the script
// as Lua numbers in one table; passed as RESP arguments, every value is a Redis string object,
// then a Lua string, then a tonumber call. The answers come back the same way: one bulk string,
// not a RESP array whose every integer is an allocation in the client's reply reader.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace bro::storage::redis {

class MsgpackWriter {
 public:
  // The shortest encoding of v (fixint, int/uint 8..64).
  void Int(std::int64_t v);
  void Str(std::string_view s);
  // An array of a count known only at the end: BeginArray returns where its header is, and
  // EndArray writes the count there (the header is always array 32).
  std::size_t BeginArray();
  void EndArray(std::size_t at, std::uint32_t count);
  // Values another writer encoded, appended as they are.
  void Append(const MsgpackWriter& other) { out_.append(other.out_); }

  const std::string& Bytes() const { return out_; }
  std::string Take() { return std::move(out_); }

 private:
  void Byte(std::uint8_t b) { out_.push_back(static_cast<char>(b)); }
  void BigEndian(std::uint64_t v, int bytes);
  void Tagged(std::uint8_t tag, std::uint64_t v, int bytes);  // a type byte, then v
  // n in the first of the 1-, 2-, 4- and 8-byte forms `tags` names that holds it.
  void Sized(std::uint64_t n, std::initializer_list<std::uint8_t> tags);

  std::string out_;
};

// The integers of one MessagePack array (array 16/32 or fixarray of int/uint 8..64 or fixints),
// nothing before or after it. Throws std::invalid_argument saying what is wrong otherwise
// (another type, a truncated value, trailing bytes, an unsigned value above INT64_MAX).
std::vector<std::int64_t> ReadIntegerArray(std::string_view bytes);

}  // namespace bro::storage::redis
