#include "common/duration.hpp"

#include <gtest/gtest.h>

#include <string>

#include "common/time.hpp"

namespace bro::common {

TEST(Duration, ParsesUnits) {
  EXPECT_EQ(ParseDuration("250ms"), Duration(250));
  EXPECT_EQ(ParseDuration("30s"), Duration(30'000));
  EXPECT_EQ(ParseDuration("5m"), Duration(300'000));
  EXPECT_EQ(ParseDuration("1h"), Duration(3'600'000));
  EXPECT_EQ(ParseDuration("7"), Duration(7'000));
}

TEST(Duration, RejectsGarbage) {
  EXPECT_FALSE(ParseDuration(""));
  EXPECT_FALSE(ParseDuration("s"));
  EXPECT_FALSE(ParseDuration("-1s"));
  EXPECT_FALSE(ParseDuration("10 parsecs"));
  EXPECT_FALSE(ParseDuration("99999999999999999999s"));
}

TEST(Size, ParsesUnits) {
  EXPECT_EQ(ParseSize("1024"), 1024U);
  EXPECT_EQ(ParseSize("16KiB"), 16U * 1024);
  EXPECT_EQ(ParseSize("8MiB"), 8U * 1024 * 1024);
  EXPECT_EQ(ParseSize("2KB"), 2000U);
  EXPECT_FALSE(ParseSize("1TiB"));
  EXPECT_FALSE(ParseSize("lots"));
}

}  // namespace bro::common

namespace bro::common {
namespace {

TEST(Iso8601, ParsesOnlyWhatItFormats) {
  using namespace std::chrono;
  const system_clock::time_point t = time_point_cast<system_clock::duration>(
      sys_days(year(2026) / 12 / 3) + hours(17) + minutes(45) + seconds(55) + milliseconds(123));
  EXPECT_EQ(FormatIso8601(t), "2026-12-03T17:45:55.123Z");
  EXPECT_EQ(ParseIso8601("2026-12-03T17:45:55.123Z"), t);
  for (const std::string bad : {"2026-12-03T17:45:55Z", "2026-02-30T00:00:00.000Z",
                                "2026-12-03 17:45:55.123Z", "2026-12-03T24:00:00.000Z", "", "x"}) {
    EXPECT_FALSE(ParseIso8601(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace bro::common
