#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "observability/log.hpp"
#include "observability/metrics.hpp"
#include "storage/sql/database.hpp"

namespace bro::usage {

struct UsageRecord {
  std::string id;
  std::string created_at;
  std::string request_id;
  std::string api_key_id;
  std::string user_id;
  std::string model;
  std::string provider;
  std::string deployment;
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t latency_ms = 0;
  std::optional<std::int64_t> ttft_ms;
  int status = 0;
  bool streamed = false;
  std::string error_code;
};

// Buffers usage records and writes them in multi-row batches, every
// `flush_interval` or when `batch_size` are waiting. The buffer is bounded by
// `buffer_capacity`; when the database is down records stay buffered and are
// retried; what cannot be buffered is counted and logged, never silently lost.
class UsageRecorder {
 public:
  // `executor` must not run handlers concurrently (a strand or a single-threaded io_context):
  // the flush timer lives on it.
  UsageRecorder(storage::Database& db, const boost::asio::any_io_executor& executor,
                const config::UsageConfig& cfg, observability::Logger& log,
                observability::Registry& metrics);

  void Start();
  // False when the buffer is full (the record is counted as dropped).
  bool Record(UsageRecord r);
  // Stops the loop and writes everything buffered.
  storage::Task<void> Stop();
  // Writes what is buffered now (tests, shutdown).
  storage::Task<bool> FlushOnce();
  std::size_t Buffered() const;

 private:
  storage::Task<void> Loop();
  std::vector<UsageRecord> Take(std::size_t at_most);
  void PutBack(std::vector<UsageRecord>& batch);

  storage::Database& db_;
  boost::asio::any_io_executor executor_;
  config::UsageConfig cfg_;
  observability::Logger& log_;
  observability::Counter& written_;
  observability::Counter& dropped_;
  observability::Counter& flush_errors_;
  mutable std::mutex mu_;
  std::deque<UsageRecord> buffer_;
  boost::asio::steady_timer timer_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> loop_running_{false};
};

}  // namespace bro::usage
