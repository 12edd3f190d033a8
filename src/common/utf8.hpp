#pragma once

#include <string>
#include <string_view>

// Well-formedness check and repair of UTF-8 (RFC 3629, Unicode 15 table 3-7): no overlong
// forms, no encoded surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated
// sequences or stray continuation bytes.
//
// A small hand-written, tested helper because no Debian library for this is used here:
// boost::json copies string bytes verbatim when it serializes, Boost.Locale is not linked,
// and Boost.Nowide's utf::convert_string always copies and, on a truncated sequence, also
// swallows the valid byte that follows it ("\xC3" "A" loses the "A").
namespace bro::common {

bool IsValidUtf8(std::string_view s);

// Replaces each maximal ill-formed subpart with U+FFFD (the practice Unicode recommends and
// WHATWG's decoder follows, so that "\xF0\x9F\x98" gives one U+FFFD, not three). Valid
// text comes back unchanged; only a string that needs a repair is copied. Returns whether
// it changed anything.
bool RepairUtf8(std::string& s);

std::string ToValidUtf8(std::string_view s);

}  // namespace bro::common
