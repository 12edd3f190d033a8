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
#include <utility>
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
  std::int64_t cost_nanos = 0;  // US dollars * 1e9, at the model's prices (0 when unpriced)
  std::int64_t latency_ms = 0;
  std::optional<std::int64_t> ttft_ms;
  int status = 0;
  bool streamed = false;
  std::string error_code;
};

class UsageRecorder;

// Room for one record, promised before the request is served (UsageRecorder::Reserve).
// Unused, it gives the room back when destroyed.
class UsageSlot {
 public:
  UsageSlot() = default;
  explicit UsageSlot(UsageRecorder* owner) : owner_(owner) {}
  UsageSlot(UsageSlot&& o) noexcept : owner_(std::exchange(o.owner_, nullptr)) {}
  UsageSlot& operator=(UsageSlot&& o) noexcept;
  UsageSlot(const UsageSlot&) = delete;
  UsageSlot& operator=(const UsageSlot&) = delete;
  ~UsageSlot();
  bool Valid() const { return owner_ != nullptr; }

 private:
  friend class UsageRecorder;
  UsageRecorder* owner_ = nullptr;
};

// Buffers usage records and writes them in multi-row batches, every
// `flush_interval` or when `batch_size` are waiting. The buffer is bounded by
// `buffer_capacity`; when the database is down records stay buffered and are
// retried.
//
// Backpressure instead of loss: a request that will produce a record first reserves room for
// it (Reserve). Records waiting, records being written and rooms promised together never exceed
// `buffer_capacity`, so a reserved record always fits; when nothing is left, Reserve fails and
// the caller refuses the request (503 with Retry-After) before any work is done — counted in
// bro_usage_backpressure_total. Records written without a reservation (Record(r)) are dropped
// when full, counted and logged.
class UsageRecorder {
 public:
  // `executor` must not run handlers concurrently (a strand or a single-threaded io_context):
  // the flush timer lives on it.
  UsageRecorder(storage::Database& db, const boost::asio::any_io_executor& executor,
                const config::UsageConfig& cfg, observability::Logger& log,
                observability::Registry& metrics);

  void Start();
  // Room for one record, or an invalid slot when the buffer is full (backpressure).
  UsageSlot Reserve();
  // Always buffered: the room was promised.
  void Record(UsageSlot slot, UsageRecord r);
  // False when the buffer is full (the record is counted as dropped).
  bool Record(UsageRecord r);
  // Stops the loop and writes everything buffered.
  Task<void> Stop();
  // Writes what is buffered now (tests, shutdown).
  Task<bool> FlushOnce();
  std::size_t Buffered() const;
  std::size_t Promised() const;

 private:
  friend class UsageSlot;
  void Release();
  bool Full() const;  // mu_ held
  Task<void> Loop();
  std::vector<UsageRecord> Take(std::size_t at_most);
  void PutBack(std::vector<UsageRecord>& batch);

  storage::Database& db_;
  boost::asio::any_io_executor executor_;
  config::UsageConfig cfg_;
  observability::Logger& log_;
  observability::Counter& written_;
  observability::Counter& dropped_;
  observability::Counter& flush_errors_;
  observability::Counter& backpressure_;
  mutable std::mutex mu_;
  std::deque<UsageRecord> buffer_;
  std::size_t in_flight_ = 0;  // taken for a write, not yet written or put back
  std::size_t promised_ = 0;
  boost::asio::steady_timer timer_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> loop_running_{false};
};

}  // namespace bro::usage
