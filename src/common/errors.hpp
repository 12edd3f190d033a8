#pragma once

#include <stdexcept>

namespace bro::common {

// A dependency failed (database, cache, queue). Answered with a generic 503 at
// the HTTP boundary and logged with the request's trace id.
class InfrastructureError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace bro::common
