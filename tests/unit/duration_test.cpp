#include "common/duration.hpp"

#include <gtest/gtest.h>

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
