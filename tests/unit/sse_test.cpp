#include "gateway/sse.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace bro::gateway {
namespace {

std::vector<std::string> FeedAll(SseSplitter& s, std::string_view bytes, bool* ok = nullptr) {
  std::vector<std::string> events;
  const bool r = s.Feed(bytes, [&](std::string_view e) { events.emplace_back(e); });
  if (ok != nullptr) *ok = r;
  return events;
}

TEST(SseSplitter, SplitsLfEvents) {
  SseSplitter s;
  auto events = FeedAll(s, "data: a\n\ndata: b\nid: 2\n\ndata: partial");
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0], "data: a\n\n") << "events keep their terminator for byte-exact relay";
  EXPECT_EQ(events[1], "data: b\nid: 2\n\n");
  EXPECT_EQ(s.Pending(), "data: partial");
  events = FeedAll(s, "\n\n");
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0], "data: partial\n\n");
  EXPECT_TRUE(s.Pending().empty());
}

TEST(SseSplitter, SplitsCrlfEvents) {
  SseSplitter s;
  auto events = FeedAll(s, "data: a\r\n\r\ndata: b\r\nevent: x\r\n\r\n");
  ASSERT_EQ(events.size(), 2U);
  EXPECT_EQ(events[0], "data: a\r\n\r\n");
  EXPECT_EQ(events[1], "data: b\r\nevent: x\r\n\r\n");
  EXPECT_TRUE(s.Pending().empty());
}

TEST(SseSplitter, MixedTerminatorsKeepStreamOrder) {
  SseSplitter s;
  auto events = FeedAll(s, "data: 1\r\n\r\ndata: 2\n\ndata: 3\r\n\r\n");
  ASSERT_EQ(events.size(), 3U);
  EXPECT_EQ(SseData(events[0]), "1");
  EXPECT_EQ(SseData(events[1]), "2");
  EXPECT_EQ(SseData(events[2]), "3");
}

// Network reads cut a stream anywhere: every split point must give the same events.
TEST(SseSplitter, SplitAtEveryByteBoundary) {
  for (const std::string& stream :
       {std::string("data: {\"a\":1}\n\ndata: line1\ndata: line2\n\n: comment\n\ndata: [DONE]\n\n"),
        std::string("data: {\"a\":1}\r\n\r\ndata: line1\r\ndata: line2\r\n\r\n: "
                    "comment\r\n\r\ndata: [DONE]\r\n\r\n")}) {
    SseSplitter whole;
    const auto expected = FeedAll(whole, stream);
    ASSERT_EQ(expected.size(), 4U);
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
      SseSplitter s;
      auto events = FeedAll(s, std::string_view(stream).substr(0, cut));
      auto rest = FeedAll(s, std::string_view(stream).substr(cut));
      events.insert(events.end(), rest.begin(), rest.end());
      EXPECT_EQ(events, expected) << "cut at " << cut;
      EXPECT_TRUE(s.Pending().empty());
    }
    // And one byte at a time.
    SseSplitter bytewise;
    std::vector<std::string> events;
    for (char c : stream) {
      auto got = FeedAll(bytewise, std::string_view(&c, 1));
      events.insert(events.end(), got.begin(), got.end());
    }
    EXPECT_EQ(events, expected);
  }
}

TEST(SseSplitter, OversizedPendingEventFails) {
  SseSplitter s(64);
  bool ok = true;
  FeedAll(s, "data: " + std::string(40, 'x'), &ok);
  EXPECT_TRUE(ok);
  FeedAll(s, std::string(40, 'y'), &ok);
  EXPECT_FALSE(ok) << "an unterminated event beyond the bound must be refused";
}

TEST(SseSplitter, EventAtTheBoundIsAccepted) {
  SseSplitter s(16);
  bool ok = false;
  auto events =
      FeedAll(s, "data: 123456789\n\n", &ok);  // 17 bytes once complete, 15 pending before the end
  EXPECT_TRUE(ok);
  ASSERT_EQ(events.size(), 1U);
}

// The bound holds however the bytes arrive: a complete event larger than the
// bound, delivered in one read, is still an event larger than the bound.
TEST(SseSplitter, OversizedCompleteEventInOneFeedFails) {
  SseSplitter s(64);
  bool ok = true;
  auto events = FeedAll(s, "data: " + std::string(200, 'x') + "\n\n", &ok);
  EXPECT_FALSE(ok) << "a 208-byte event passed a 64-byte bound";
  EXPECT_TRUE(events.empty());
}

TEST(SseData, JoinsDataLines) {
  EXPECT_EQ(SseData("data: hello\n\n"), "hello");
  EXPECT_EQ(SseData("data:nospace\n\n"), "nospace");
  EXPECT_EQ(SseData("data:  two spaces\n\n"), " two spaces") << "only one leading space is removed";
  EXPECT_EQ(SseData("data: a\ndata: b\n\n"), "a\nb");
  EXPECT_EQ(SseData("data: a\r\ndata: b\r\n\r\n"), "a\nb");
  EXPECT_EQ(SseData("event: ping\nid: 3\ndata: x\nretry: 10\n\n"), "x");
  EXPECT_EQ(SseData(": comment only\n\n"), "");
  EXPECT_EQ(SseData("data: [DONE]\n\n"), "[DONE]");
  EXPECT_EQ(SseData("data\n\n"), "");
  EXPECT_EQ(SseData(""), "");
}

}  // namespace
}  // namespace bro::gateway
