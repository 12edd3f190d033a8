#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>
#include <string>
#include <string_view>

#include "common/task.hpp"

namespace bro::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using Request = beast::http::request<beast::http::string_body>;
using Response = beast::http::response<beast::http::string_body>;
using Status = beast::http::status;
using Verb = beast::http::verb;
using Field = beast::http::field;

// An expected failure answered to the caller: OpenAI's error object.
struct ApiError {
  Status status = Status::bad_request;
  std::string type = "invalid_request_error";
  std::string code;
  std::string message;
  std::string param;
};

std::string ErrorJson(const ApiError& e);
Response MakeJson(Status status, std::string body, unsigned version = 11, bool keep_alive = true);
Response MakeError(const ApiError& e, unsigned version = 11, bool keep_alive = true);

}  // namespace bro::http
