#pragma once

// The client's address behind trusted proxies.
//
// Behind a load balancer the socket's peer is the proxy, not the client; each proxy appends the
// address it received the request from to X-Forwarded-For. With `trusted_hops` proxies in front
// of the server (the peer counts as the first), the client is the address `trusted_hops` places
// left of the peer in "X-Forwarded-For entries, then the peer". Entries further left are the
// client's own claims and are never used. Google Cloud's external Application Load Balancer
// appends "client, load-balancer" and connects from a Google front end: trusted_hops = 2.
//
// Hostile or broken headers cannot move the answer past what a trusted proxy wrote: the walk
// stops at the first entry that is not an IP address (or when the entries run out) and answers
// the last address a trusted hop vouched for.

#include <boost/asio/ip/address.hpp>
#include <string>
#include <string_view>

namespace bro::http {

// `forwarded_for`: every X-Forwarded-For header of the request joined with ','.
boost::asio::ip::address ClientBehindProxies(std::string_view forwarded_for,
                                             const boost::asio::ip::address& peer,
                                             int trusted_hops);

}  // namespace bro::http
