#include "common/utf8.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace bro::common {
namespace {

using namespace std::string_literals;

const std::string kFffd = "\xEF\xBF\xBD";

std::string Fffd(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += kFffd;
  return out;
}

// An independent reference: decode each sequence by its lead byte's length, then reject the
// result when it is overlong, a surrogate or above U+10FFFF (RFC 3629 section 3).
bool ReferenceValid(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (b < 0x80) {
      len = 1;
      cp = b;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2;
      cp = b & 0x1Fu;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3;
      cp = b & 0x0Fu;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4;
      cp = b & 0x07u;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    const std::uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

struct Case {
  const char* name;
  std::string in;
  std::string out;
};

// Markus Kuhn's UTF-8 decoder capability and stress test
// (https://www.cl.cam.ac.uk/~mgk25/ucs/examples/UTF-8-test.txt), section numbers as there;
// each maximal ill-formed subpart becomes one U+FFFD.
std::vector<Case> KuhnCases() {
  return {
      {"1 kosme", "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5",
       "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5"},
      {"2.1.1 U+0000", "a\0b"s, "a\0b"s},
      {"2.1.2 U+0080", "\xC2\x80", "\xC2\x80"},
      {"2.1.3 U+0800", "\xE0\xA0\x80", "\xE0\xA0\x80"},
      {"2.1.4 U+10000", "\xF0\x90\x80\x80", "\xF0\x90\x80\x80"},
      {"2.1.5 five bytes", "\xF8\x88\x80\x80\x80", Fffd(5)},
      {"2.1.6 six bytes", "\xFC\x84\x80\x80\x80\x80", Fffd(6)},
      {"2.2.1 U+007F", "\x7F", "\x7F"},
      {"2.2.2 U+07FF", "\xDF\xBF", "\xDF\xBF"},
      {"2.2.3 U+FFFF", "\xEF\xBF\xBF", "\xEF\xBF\xBF"},
      {"2.2.4 U+1FFFFF", "\xF7\xBF\xBF\xBF", Fffd(4)},
      {"2.3.1 U+D7FF", "\xED\x9F\xBF", "\xED\x9F\xBF"},
      {"2.3.2 U+E000", "\xEE\x80\x80", "\xEE\x80\x80"},
      {"2.3.3 U+FFFD", "\xEF\xBF\xBD", "\xEF\xBF\xBD"},
      {"2.3.4 U+10FFFF", "\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"},
      {"2.3.5 U+110000", "\xF4\x90\x80\x80", Fffd(4)},
      {"3.1.1 first continuation byte", "\x80", Fffd(1)},
      {"3.1.2 last continuation byte", "\xBF", Fffd(1)},
      {"3.1.3 two continuation bytes", "\x80\xBF", Fffd(2)},
      {"3.1.7 seven continuation bytes", "\x80\xBF\x80\xBF\x80\xBF\x80", Fffd(7)},
      {"3.2.1 lonely 2-byte start", "\xC0 \xDF ", kFffd + " " + kFffd + " "},
      {"3.2.2 lonely 3-byte start", "\xE0 \xEF ", kFffd + " " + kFffd + " "},
      {"3.2.3 lonely 4-byte start", "\xF0 \xF7 ", kFffd + " " + kFffd + " "},
      {"3.2.4 lonely 5-byte start", "\xF8 \xFB ", kFffd + " " + kFffd + " "},
      {"3.2.5 lonely 6-byte start", "\xFC \xFD ", kFffd + " " + kFffd + " "},
      {"3.3.1 2-byte U+0000 without its last byte", "\xC0", Fffd(1)},
      {"3.3.2 3-byte U+0000 without its last byte", "\xE0\x80", Fffd(2)},
      {"3.3.3 4-byte U+0000 without its last byte", "\xF0\x80\x80", Fffd(3)},
      {"3.3.6 U+07FF without its last byte", "\xDF", Fffd(1)},
      {"3.3.7 U+FFFF without its last byte", "\xEF\xBF", Fffd(1)},
      {"3.3.8 U+1FFFFF without its last byte", "\xF7\xBF\xBF", Fffd(3)},
      {"3.4 all of 3.3 concatenated", "\xC0\xE0\x80\xF0\x80\x80\xDF\xEF\xBF\xF7\xBF\xBF",
       Fffd(1 + 2 + 3 + 1 + 1 + 3)},
      {"3.5.1 fe", "\xFE", Fffd(1)},
      {"3.5.2 ff", "\xFF", Fffd(1)},
      {"3.5.3 fe fe ff ff", "\xFE\xFE\xFF\xFF", Fffd(4)},
      {"4.1.1 overlong / in 2 bytes", "\xC0\xAF", Fffd(2)},
      {"4.1.2 overlong / in 3 bytes", "\xE0\x80\xAF", Fffd(3)},
      {"4.1.3 overlong / in 4 bytes", "\xF0\x80\x80\xAF", Fffd(4)},
      {"4.1.4 overlong / in 5 bytes", "\xF8\x80\x80\x80\xAF", Fffd(5)},
      {"4.1.5 overlong / in 6 bytes", "\xFC\x80\x80\x80\x80\xAF", Fffd(6)},
      {"4.2.1 largest overlong in 2 bytes", "\xC1\xBF", Fffd(2)},
      {"4.2.2 largest overlong in 3 bytes", "\xE0\x9F\xBF", Fffd(3)},
      {"4.2.3 largest overlong in 4 bytes", "\xF0\x8F\xBF\xBF", Fffd(4)},
      {"4.3.1 overlong NUL in 2 bytes", "\xC0\x80", Fffd(2)},
      {"4.3.2 overlong NUL in 3 bytes", "\xE0\x80\x80", Fffd(3)},
      {"4.3.3 overlong NUL in 4 bytes", "\xF0\x80\x80\x80", Fffd(4)},
      {"5.1.1 U+D800", "\xED\xA0\x80", Fffd(3)},
      {"5.1.5 U+DC00", "\xED\xB0\x80", Fffd(3)},
      {"5.1.7 U+DFFF", "\xED\xBF\xBF", Fffd(3)},
      {"5.2.1 U+D800 U+DC00", "\xED\xA0\x80\xED\xB0\x80", Fffd(6)},
      {"5.2.8 U+DBFF U+DFFF", "\xED\xAF\xBF\xED\xBF\xBF", Fffd(6)},
      // Noncharacters are well-formed UTF-8; a decoder must let them through.
      {"5.3.1 U+FFFE", "\xEF\xBF\xBE", "\xEF\xBF\xBE"},
      {"5.3.4 U+10FFFF", "\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"},
  };
}

TEST(Utf8, KuhnStressTest) {
  for (const auto& c : KuhnCases()) {
    EXPECT_EQ(ToValidUtf8(c.in), c.out) << c.name;
    EXPECT_EQ(IsValidUtf8(c.in), c.in == c.out) << c.name;
    EXPECT_EQ(ReferenceValid(c.in), c.in == c.out) << c.name << " (the reference disagrees)";
  }
}

TEST(Utf8, EveryContinuationAndImpossibleByteAlone) {
  for (int b = 0x80; b <= 0xFF; ++b) {
    const std::string in(1, static_cast<char>(b));
    EXPECT_EQ(ToValidUtf8(in), kFffd) << std::hex << b;
  }
}

TEST(Utf8, ATruncatedSequenceDoesNotSwallowWhatFollows) {
  EXPECT_EQ(ToValidUtf8("\xC3"
                        "A"),
            kFffd + "A");
  EXPECT_EQ(ToValidUtf8("\xF0\x9F\x98"
                        "A"),
            kFffd + "A");
  EXPECT_EQ(ToValidUtf8("\xF0\x9F\x98\"}"), kFffd + "\"}");
  // A lead byte cut short by another lead: the second sequence is kept.
  EXPECT_EQ(ToValidUtf8("\xE2\x82\xC3\xA9"), kFffd + "\xC3\xA9");
  // The access log cuts the user agent at 512 bytes, possibly inside a character.
  EXPECT_EQ(ToValidUtf8("abc\xE6\x97"), "abc" + kFffd);
}

TEST(Utf8, ValidTextIsKeptAndNotCopied) {
  std::string text =
      "plain ASCII, h\xC3\xA9llo w\xC3\xB6rld, \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E, "
      "\xF0\x9F\x98\x80 and a long enough tail to use the eight-byte path";
  const std::string before = text;
  const char* data = text.data();
  EXPECT_TRUE(IsValidUtf8(text));
  EXPECT_FALSE(RepairUtf8(text));
  EXPECT_EQ(text, before);
  EXPECT_EQ(text.data(), data);
  EXPECT_TRUE(IsValidUtf8(""));
}

TEST(Utf8, RepairsAtEveryOffsetAroundTheWordBoundary) {
  for (std::size_t at = 0; at < 20; ++at) {
    std::string s(20, 'x');
    s.insert(at, "\xFF\xC3\xA9");
    std::string want(20, 'x');
    want.insert(at, kFffd + "\xC3\xA9");
    EXPECT_FALSE(IsValidUtf8(s)) << at;
    EXPECT_TRUE(RepairUtf8(s)) << at;
    EXPECT_EQ(s, want) << at;
  }
}

void ExpectAgreement(const std::string& s) {
  const bool valid = ReferenceValid(s);
  ASSERT_EQ(IsValidUtf8(s), valid) << ::testing::PrintToString(s);
  std::string repaired = s;
  ASSERT_EQ(RepairUtf8(repaired), !valid) << ::testing::PrintToString(s);
  ASSERT_TRUE(ReferenceValid(repaired)) << ::testing::PrintToString(s);
}

// The validator agrees with the reference, and the repair gives valid UTF-8, on every string
// of up to two bytes, and on longer strings that start with a lead byte and any second byte,
// with the later bytes taken from either side of each range boundary (the decoder decides by
// ranges only, so these stand for all the others).
TEST(Utf8, AgreesWithTheReferenceOnShortStrings) {
  const int edges[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC3, 0xFF};
  std::string s;
  for (int a = 0; a < 256; ++a) {
    s.assign(1, static_cast<char>(a));
    ExpectAgreement(s);
    for (int b = 0; b < 256; ++b) {
      s.assign({static_cast<char>(a), static_cast<char>(b)});
      ExpectAgreement(s);
      if (a < 0xC0) continue;
      for (int c : edges) {
        s.assign({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c)});
        ExpectAgreement(s);
        if (a < 0xF0) continue;
        for (int d : edges) {
          s.push_back(static_cast<char>(d));
          ExpectAgreement(s);
          s.pop_back();
        }
      }
    }
  }
}

// Valid characters with the ill-formed pieces of the stress test between them: each piece is
// replaced as it is alone, and every character around it is kept.
TEST(Utf8, RepairsPieceByPieceAndKeepsWhatIsAround) {
  const std::vector<std::string> chars = {
      "a", "/", "\xC3\xA9", "\xE6\x97\xA5", "\xF0\x9F\x98\x80", "\xEF\xBF\xBD"};
  std::vector<Case> pieces;
  for (auto& c : KuhnCases()) {
    if (c.in != c.out) pieces.push_back(std::move(c));
  }
  std::mt19937 rng(42);
  auto pick = [&rng](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };
  for (int round = 0; round < 20000; ++round) {
    std::string in;
    std::string want;
    const std::size_t n = pick(8);
    for (std::size_t i = 0; i < n; ++i) {
      // Whole characters between the pieces, so that no two pieces run into each other.
      for (std::size_t k = pick(12); k > 0; --k) {
        const auto& c = chars[pick(chars.size())];
        in += c;
        want += c;
      }
      const auto& p = pieces[pick(pieces.size())];
      in += p.in;
      want += p.out;
      in += 'x';
      want += 'x';
    }
    ASSERT_EQ(ToValidUtf8(in), want) << ::testing::PrintToString(in);
  }
}

TEST(Utf8, RandomStringsRepairToValidUtf8) {
  std::mt19937 rng(20261201);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 64);
  for (int i = 0; i < 50000; ++i) {
    std::string s(static_cast<std::size_t>(length(rng)), '\0');
    for (auto& c : s) c = static_cast<char>(byte(rng));
    ASSERT_EQ(IsValidUtf8(s), ReferenceValid(s));
    const std::string repaired = ToValidUtf8(s);
    ASSERT_TRUE(ReferenceValid(repaired));
    ASSERT_EQ(ToValidUtf8(repaired), repaired) << "repair is not idempotent";
  }
}

}  // namespace
}  // namespace bro::common
