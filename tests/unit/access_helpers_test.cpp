// Request helpers of the access gate against hostile and edge-case input.

#include <gtest/gtest.h>

#include <string>

#include "api/access.hpp"

namespace bro::api {
namespace {

TEST(QueryParam, ReadsOnlyInsideTheView) {
  // The query is a view into the request line: what follows it must never leak into a value
  // (Boost.URL 1.81 parse_query re-measures its input with strlen).
  const std::string line = "return_to=/ HTTP/1.1\r\nHost: evil";
  const std::string_view query(line.data(), std::string_view("return_to=/").size());
  EXPECT_EQ(QueryParam(query, "return_to"), "/");
  const std::string two = "a=1&b=2XYZ";
  EXPECT_EQ(QueryParam(std::string_view(two.data(), 7), "b"), "2");
}

TEST(QueryParam, EmptyOrAbsentQueryIsNoValue) {
  EXPECT_EQ(QueryParam(std::string_view(), "state"), std::nullopt);
  EXPECT_EQ(QueryParam("", "state"), std::nullopt);
  EXPECT_EQ(QueryParam("code=x", "state"), std::nullopt);
}

TEST(QueryParam, ValuesArePercentDecoded) {
  EXPECT_EQ(QueryParam("iss=http%3A%2F%2F127.0.0.1", "iss"), "http://127.0.0.1");
  EXPECT_EQ(QueryParam("return_to=%2F%2Fevil.test", "return_to"), "//evil.test");
  EXPECT_EQ(QueryParam("x=%00y", "x"), std::string("\0y", 2));
}

TEST(QueryParam, MalformedEncodingIsNoValue) {
  EXPECT_EQ(QueryParam("state=%zz", "state"), std::nullopt);
  EXPECT_EQ(QueryParam("state=%", "state"), std::nullopt);
}

TEST(CookieValue, FindsTheNamedCookieOnly) {
  http::Request req;
  req.insert(http::Field::cookie, "a=1; bro_session=abc; bro_session_x=no");
  EXPECT_EQ(CookieValue(req, "bro_session"), "abc");
  EXPECT_EQ(CookieValue(req, "missing"), std::nullopt);
  http::Request huge;
  huge.insert(http::Field::cookie, "bro_session=" + std::string(9000, 'x'));
  EXPECT_EQ(CookieValue(huge, "bro_session"), std::nullopt) << "oversized Cookie header";
}

}  // namespace
}  // namespace bro::api
