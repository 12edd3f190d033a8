#pragma once

#include <boost/asio/awaitable.hpp>

namespace bro {

// The one coroutine type of the service: every asynchronous function returns a Task. Modules
// use it as bro::Task (storage, http, the domain modules alike), so none depends on another
// for a vocabulary type.
template <class T>
using Task = boost::asio::awaitable<T>;

}  // namespace bro
