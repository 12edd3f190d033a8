#include "common/utf8.hpp"

#include <cstdint>
#include <cstring>

namespace bro::common {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

struct Sequence {
  std::size_t length;  // of the well-formed sequence, or of the maximal ill-formed subpart
  bool valid;
};

// The sequence starting at s[i] (i < s.size()), by table 3-7 of the Unicode standard: the
// second byte's range depends on the lead so that overlongs (E0 80..9F, F0 80..8F),
// surrogates (ED A0..BF) and code points above U+10FFFF (F4 90..BF) are rejected there.
Sequence At(std::string_view s, std::size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  if (lead < 0x80) return {1, true};
  std::size_t trail = 0;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    trail = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    trail = 2;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    trail = 3;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    // A continuation byte without a lead, C0/C1 (only ever overlong), F5..FF (beyond U+10FFFF).
    return {1, false};
  }
  for (std::size_t k = 1; k <= trail; ++k) {
    if (i + k >= s.size()) return {k, false};
    const auto b = static_cast<unsigned char>(s[i + k]);
    if (b < lo || b > hi) return {k, false};
    lo = 0x80;
    hi = 0xBF;
  }
  return {trail + 1, true};
}

// Offset of the first ill-formed subpart, or s.size(). Log lines are mostly ASCII, so eight
// bytes are tested at a time until one has its high bit set.
std::size_t FirstInvalid(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    if (s.size() - i >= 8) {
      std::uint64_t word = 0;
      std::memcpy(&word, s.data() + i, sizeof word);
      if ((word & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    const Sequence seq = At(s, i);
    if (!seq.valid) return i;
    i += seq.length;
  }
  return s.size();
}

}  // namespace

bool IsValidUtf8(std::string_view s) {
  return FirstInvalid(s) == s.size();
}

bool RepairUtf8(std::string& s) {
  const std::string_view in(s);
  std::size_t bad = FirstInvalid(in);
  if (bad == in.size()) return false;
  std::string out;
  out.reserve(in.size() + kReplacement.size());
  std::size_t i = 0;
  for (;;) {
    out.append(in.substr(i, bad - i));
    if (bad == in.size()) break;
    out.append(kReplacement);
    i = bad + At(in, bad).length;
    bad = i + FirstInvalid(in.substr(i));
  }
  s = std::move(out);
  return true;
}

std::string ToValidUtf8(std::string_view s) {
  std::string out(s);
  RepairUtf8(out);
  return out;
}

}  // namespace bro::common
