#include "storage/redis/msgpack.hpp"

#include <limits>
#include <stdexcept>
#include <type_traits>

namespace bro::storage::redis {

void MsgpackWriter::BigEndian(std::uint64_t v, int bytes) {
  for (int shift = 8 * (bytes - 1); shift >= 0; shift -= 8) {
    Byte(static_cast<std::uint8_t>(v >> shift));
  }
}

void MsgpackWriter::Tagged(std::uint8_t tag, std::uint64_t v, int bytes) {
  Byte(tag);
  BigEndian(v, bytes);
}

void MsgpackWriter::Sized(std::uint64_t n, std::initializer_list<std::uint8_t> tags) {
  int bytes = 1;
  for (const auto tag : tags) {
    if (bytes == 8 || n >> (8 * bytes) == 0) {
      Tagged(tag, n, bytes);
      return;
    }
    bytes *= 2;
  }
  throw std::length_error("msgpack: value too large for its type");
}

void MsgpackWriter::Int(std::int64_t v) {
  const auto u = static_cast<std::uint64_t>(v);  // two's complement, as the format stores it
  if (v >= 0) {
    if (u <= 0x7f) {
      Byte(static_cast<std::uint8_t>(u));  // positive fixint
    } else {
      Sized(u, {0xcc, 0xcd, 0xce, 0xcf});  // uint 8/16/32/64
    }
  } else if (v >= -32) {
    Byte(static_cast<std::uint8_t>(u));  // negative fixint (0xe0..0xff)
  } else if (v >= std::numeric_limits<std::int8_t>::min()) {
    Tagged(0xd0, u, 1);
  } else if (v >= std::numeric_limits<std::int16_t>::min()) {
    Tagged(0xd1, u, 2);
  } else if (v >= std::numeric_limits<std::int32_t>::min()) {
    Tagged(0xd2, u, 4);
  } else {
    Tagged(0xd3, u, 8);
  }
}

void MsgpackWriter::Str(std::string_view s) {
  if (s.size() <= 31) {
    Byte(static_cast<std::uint8_t>(0xa0 | s.size()));  // fixstr
  } else {
    Sized(s.size(), {0xd9, 0xda, 0xdb});  // str 8/16/32; longer strings throw length_error
  }
  out_.append(s);
}

std::size_t MsgpackWriter::BeginArray() {
  const auto at = out_.size();
  Byte(0xdd);
  BigEndian(0, 4);
  return at;
}

void MsgpackWriter::EndArray(std::size_t at, std::uint32_t count) {
  if (at + 5 > out_.size() || static_cast<std::uint8_t>(out_[at]) != 0xdd) {
    throw std::logic_error("msgpack: EndArray without its BeginArray");
  }
  for (int i = 0; i < 4; ++i) {
    out_[at + 1 + static_cast<std::size_t>(i)] = static_cast<char>(count >> (8 * (3 - i)));
  }
}

namespace {

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool Done() const { return at_ == bytes_.size(); }
  std::size_t Left() const { return bytes_.size() - at_; }
  std::uint8_t Byte() {
    if (Done()) throw std::invalid_argument("msgpack: truncated");
    return static_cast<std::uint8_t>(bytes_[at_++]);
  }
  std::uint64_t BigEndian(int n) {
    if (Left() < static_cast<std::size_t>(n)) throw std::invalid_argument("msgpack: truncated");
    std::uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = (v << 8) | static_cast<std::uint8_t>(bytes_[at_++]);
    return v;
  }
  template <class Int>
  std::int64_t Signed(int n) {
    return static_cast<Int>(static_cast<std::make_unsigned_t<Int>>(BigEndian(n)));
  }
  std::int64_t Integer() {
    const auto tag = Byte();
    if (tag <= 0x7f) return tag;                            // positive fixint
    if (tag >= 0xe0) return static_cast<std::int8_t>(tag);  // negative fixint
    switch (tag) {
      case 0xcc:
        return static_cast<std::int64_t>(BigEndian(1));
      case 0xcd:
        return static_cast<std::int64_t>(BigEndian(2));
      case 0xce:
        return static_cast<std::int64_t>(BigEndian(4));
      case 0xcf: {
        const auto u = BigEndian(8);
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
          throw std::invalid_argument("msgpack: unsigned value above INT64_MAX");
        }
        return static_cast<std::int64_t>(u);
      }
      case 0xd0:
        return Signed<std::int8_t>(1);
      case 0xd1:
        return Signed<std::int16_t>(2);
      case 0xd2:
        return Signed<std::int32_t>(4);
      case 0xd3:
        return Signed<std::int64_t>(8);
      default:
        throw std::invalid_argument("msgpack: not an integer (type byte " + std::to_string(tag) +
                                    ")");
    }
  }

 private:
  std::string_view bytes_;
  std::size_t at_ = 0;
};

}  // namespace

std::vector<std::int64_t> ReadIntegerArray(std::string_view bytes) {
  Reader r(bytes);
  const auto tag = r.Byte();
  std::uint64_t count = 0;
  if ((tag & 0xf0) == 0x90) {
    count = tag & 0x0f;
  } else if (tag == 0xdc) {
    count = r.BigEndian(2);
  } else if (tag == 0xdd) {
    count = r.BigEndian(4);
  } else {
    throw std::invalid_argument("msgpack: not an array");
  }
  // Every element takes at least a byte: a count the bytes cannot hold is refused before
  // anything is reserved for it.
  if (count > r.Left()) throw std::invalid_argument("msgpack: truncated");
  std::vector<std::int64_t> out;
  out.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) out.push_back(r.Integer());
  if (!r.Done()) throw std::invalid_argument("msgpack: bytes after the array");
  return out;
}

}  // namespace bro::storage::redis
