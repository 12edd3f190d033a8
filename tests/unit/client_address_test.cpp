// The client's address behind trusted proxies, including headers a client forged.

#include "http/client_address.hpp"

#include <gtest/gtest.h>

#include <string>

namespace bro::http {
namespace {

const auto kPeer = boost::asio::ip::make_address("10.0.0.9");

std::string ClientAddress(std::string_view forwarded_for, const boost::asio::ip::address& peer,
                          int trusted_hops) {
  return ClientBehindProxies(forwarded_for, peer, trusted_hops).to_string();
}

TEST(ClientAddress, WithoutTrustedHopsThePeerIsTheClient) {
  EXPECT_EQ(ClientAddress("", kPeer, 0), "10.0.0.9");
  EXPECT_EQ(ClientAddress("203.0.113.7", kPeer, 0), "10.0.0.9") << "a client may send anything";
}

TEST(ClientAddress, EachTrustedHopVouchesForTheEntryItAppended) {
  // One proxy (nginx, haproxy): it appended the client.
  EXPECT_EQ(ClientAddress("203.0.113.7", kPeer, 1), "203.0.113.7");
  // Google's external Application Load Balancer: "client, load balancer", from a front end.
  EXPECT_EQ(ClientAddress("203.0.113.7, 34.111.1.1", kPeer, 2), "203.0.113.7");
  EXPECT_EQ(ClientAddress("2001:db8::1,34.111.1.1", kPeer, 2), "2001:db8::1");
  // Several headers, joined by the caller.
  EXPECT_EQ(ClientAddress("203.0.113.7,34.111.1.1", kPeer, 2), "203.0.113.7");
}

TEST(ClientAddress, WhatTheClientPrependedIsIgnored) {
  EXPECT_EQ(ClientAddress("1.1.1.1, 203.0.113.7", kPeer, 1), "203.0.113.7");
  EXPECT_EQ(ClientAddress("1.1.1.1, 8.8.8.8, 203.0.113.7, 34.111.1.1", kPeer, 2), "203.0.113.7");
}

TEST(ClientAddress, BrokenEntriesStopAtTheLastVouchedAddress) {
  EXPECT_EQ(ClientAddress("", kPeer, 2), "10.0.0.9") << "no header: the peer";
  EXPECT_EQ(ClientAddress("34.111.1.1", kPeer, 2), "34.111.1.1") << "fewer entries than hops";
  EXPECT_EQ(ClientAddress("not-an-ip", kPeer, 1), "10.0.0.9");
  EXPECT_EQ(ClientAddress("unknown, 34.111.1.1", kPeer, 2), "34.111.1.1");
  EXPECT_EQ(ClientAddress("203.0.113.7:4711", kPeer, 1), "10.0.0.9") << "ports are not addresses";
  EXPECT_EQ(ClientAddress(",,,", kPeer, 2), "10.0.0.9");
  EXPECT_EQ(ClientAddress(" , 203.0.113.7 ", kPeer, 1), "203.0.113.7");
  EXPECT_EQ(ClientAddress(std::string(100000, '1'), kPeer, 1), "10.0.0.9");
  EXPECT_EQ(ClientAddress(std::string("203.0.113.7\0x", 13), kPeer, 1), "10.0.0.9");
  EXPECT_EQ(ClientAddress("fe80::1%eth0", kPeer, 1), "10.0.0.9") << "no zone names";
}

}  // namespace
}  // namespace bro::http
