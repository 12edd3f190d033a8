#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "gateway/upstream_client.hpp"

namespace bro::gateway {
namespace {

TEST(ParseBaseUrl, HttpWithPortAndPath) {
  const auto t = ParseBaseUrl("http://localhost:8000/v1");
  EXPECT_FALSE(t.tls);
  EXPECT_EQ(t.host, "localhost");
  EXPECT_EQ(t.port, "8000");
  EXPECT_EQ(t.base_path, "/v1");
}

TEST(ParseBaseUrl, HttpsDefaultPortAndTrailingSlashes) {
  const auto t = ParseBaseUrl("https://api.openai.com/v1//");
  EXPECT_TRUE(t.tls);
  EXPECT_EQ(t.host, "api.openai.com");
  EXPECT_EQ(t.port, "443");
  EXPECT_EQ(t.base_path, "/v1");
}

TEST(ParseBaseUrl, HttpDefaultPortWithoutPath) {
  const auto t = ParseBaseUrl("http://example.com");
  EXPECT_FALSE(t.tls);
  EXPECT_EQ(t.port, "80");
  EXPECT_EQ(t.base_path, "");
  EXPECT_EQ(ParseBaseUrl("http://example.com/").base_path, "");
}

TEST(ParseBaseUrl, ExplicitPortsAndDeepPaths) {
  EXPECT_EQ(ParseBaseUrl("https://h:8443/a/b/v1").port, "8443");
  EXPECT_EQ(ParseBaseUrl("https://h:8443/a/b/v1").base_path, "/a/b/v1");
  EXPECT_EQ(ParseBaseUrl("http://h:80").port, "80");
}

TEST(ParseBaseUrl, Ipv4AndIpv6Literals) {
  EXPECT_EQ(ParseBaseUrl("http://127.0.0.1:11434/v1").host, "127.0.0.1");
  const auto t = ParseBaseUrl("http://[::1]:8080/v1");
  EXPECT_EQ(t.host, "::1") << "brackets are stripped for the resolver";
  EXPECT_EQ(t.port, "8080");
  EXPECT_EQ(t.base_path, "/v1");
  EXPECT_EQ(ParseBaseUrl("https://[2001:db8::1]/").host, "2001:db8::1");
}

TEST(ParseBaseUrl, GarbageIsRejected) {
  for (const std::string url :
       {"", "garbage", "localhost:8000", "ftp://host/v1", "file:///etc/passwd", "http://",
        "http:///v1", "https://:443/v1", "http://h:port/v1", "http://h:99999999999/v1",
        "http://[::1/v1", "http://h o/v1"}) {
    EXPECT_THROW(ParseBaseUrl(url), std::invalid_argument) << url;
  }
}

// RFC 3986 allows an empty port ("http://h:/v1"), meaning the scheme's default.
TEST(ParseBaseUrl, EmptyPortMeansTheDefaultOrIsRejected) {
  try {
    EXPECT_EQ(ParseBaseUrl("http://h:/v1").port, "80");
    EXPECT_EQ(ParseBaseUrl("https://h:/v1").port, "443");
  } catch (const std::invalid_argument&) {
    SUCCEED() << "rejecting it is fine too";
  }
}

}  // namespace
}  // namespace bro::gateway
