#pragma once

#include <atomic>

#include "http/server.hpp"
#include "storage/sql/database.hpp"

namespace bro::api {

// /health: the process is alive. /ready: the database answers and we are not draining.
class HealthApi {
 public:
  HealthApi(storage::Database& db, const std::atomic<bool>& draining)
      : db_(db), draining_(draining) {}
  void Register(http::Router& router);

 private:
  storage::Database& db_;
  const std::atomic<bool>& draining_;
};

}  // namespace bro::api
