#include "usage/usage_recorder.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace bro::usage {
namespace {

constexpr std::size_t kColumns = 16;
constexpr std::size_t kChunkSizes[] = {100, 10, 1};

std::string InsertSql(std::size_t rows) {
  std::string sql =
      "INSERT INTO usage_records (id, created_at, request_id, api_key_id, user_id, model, "
      "provider, deployment, "
      "prompt_tokens, completion_tokens, cost_nanos, latency_ms, ttft_ms, status, streamed, "
      "error_code) "
      "VALUES ";
  std::size_t p = 1;
  for (std::size_t r = 0; r < rows; ++r) {
    sql += r == 0 ? "(" : ", (";
    for (std::size_t c = 0; c < kColumns; ++c) {
      if (c != 0) sql += ", ";
      sql += '$';
      sql += std::to_string(p++);
    }
    sql += ")";
  }
  return sql;
}

const std::string& InsertSqlFor(std::size_t rows) {
  static const std::string k100 = InsertSql(100), k10 = InsertSql(10), k1 = InsertSql(1);
  return rows == 100 ? k100 : rows == 10 ? k10 : k1;
}

storage::Value OrNull(const std::string& s) {
  return s.empty() ? storage::Value(nullptr) : storage::Value(s);
}

void AppendParams(storage::Params& p, const UsageRecord& r) {
  p.emplace_back(r.id);
  p.emplace_back(r.created_at);
  p.emplace_back(r.request_id);
  p.push_back(OrNull(r.api_key_id));
  p.push_back(OrNull(r.user_id));
  p.emplace_back(r.model);
  p.emplace_back(r.provider);
  p.emplace_back(r.deployment);
  p.emplace_back(r.prompt_tokens);
  p.emplace_back(r.completion_tokens);
  p.emplace_back(r.cost_nanos);
  p.emplace_back(r.latency_ms);
  p.push_back(r.ttft_ms ? storage::Value(*r.ttft_ms) : storage::Value(nullptr));
  p.emplace_back(static_cast<std::int64_t>(r.status));
  p.emplace_back(static_cast<std::int64_t>(r.streamed ? 1 : 0));
  p.push_back(OrNull(r.error_code));
}

}  // namespace

UsageRecorder::UsageRecorder(storage::Database& db, const boost::asio::any_io_executor& executor,
                             const config::UsageConfig& cfg, observability::Logger& log,
                             observability::Registry& metrics)
    : db_(db),
      executor_(executor),
      cfg_(cfg),
      log_(log),
      written_(metrics
                   .AddCounter("bro_usage_records_written_total",
                               "Usage records written to the database.")
                   .With({})),
      dropped_(metrics
                   .AddCounter("bro_usage_records_dropped_total",
                               "Usage records dropped because the buffer was full.")
                   .With({})),
      flush_errors_(
          metrics.AddCounter("bro_usage_flush_errors_total", "Failed usage batch writes (retried).")
              .With({})),
      backpressure_(metrics
                        .AddCounter("bro_usage_backpressure_total",
                                    "Requests refused because the usage buffer was full.")
                        .With({})),
      timer_(executor) {
  metrics.AddCallbackGauge(
      "bro_usage_buffered_records", "Usage records waiting to be written.", {}, [this] {
        return std::vector<observability::GaugeSample>{{{}, static_cast<double>(Buffered())}};
      });
}

void UsageRecorder::Start() {
  loop_running_ = true;
  boost::asio::co_spawn(executor_, Loop(), boost::asio::detached);
}

UsageSlot& UsageSlot::operator=(UsageSlot&& o) noexcept {
  if (this != &o) {
    if (owner_ != nullptr) owner_->Release();
    owner_ = std::exchange(o.owner_, nullptr);
  }
  return *this;
}

UsageSlot::~UsageSlot() {
  if (owner_ != nullptr) owner_->Release();
}

bool UsageRecorder::Full() const {
  return buffer_.size() + in_flight_ + promised_ >= static_cast<std::size_t>(cfg_.buffer_capacity);
}

UsageSlot UsageRecorder::Reserve() {
  {
    std::lock_guard lock(mu_);
    if (!Full()) {
      ++promised_;
      return UsageSlot(this);
    }
  }
  backpressure_.Inc();
  return UsageSlot();
}

void UsageRecorder::Release() {
  std::lock_guard lock(mu_);
  --promised_;
}

std::size_t UsageRecorder::Promised() const {
  std::lock_guard lock(mu_);
  return promised_;
}

void UsageRecorder::Record(UsageSlot slot, UsageRecord r) {
  if (!slot.Valid()) {
    Record(std::move(r));
    return;
  }
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    slot.owner_ = nullptr;
    --promised_;
    buffer_.push_back(std::move(r));
    wake = buffer_.size() >= static_cast<std::size_t>(cfg_.batch_size);
  }
  if (wake) boost::asio::post(timer_.get_executor(), [this] { timer_.cancel(); });
}

bool UsageRecorder::Record(UsageRecord r) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (Full()) {
      dropped_.Inc();
      log_.Error("usage buffer full: record dropped",
                 {{"request_id", r.request_id}, {"model", r.model}});
      return false;
    }
    buffer_.push_back(std::move(r));
    wake = buffer_.size() >= static_cast<std::size_t>(cfg_.batch_size);
  }
  if (wake) boost::asio::post(timer_.get_executor(), [this] { timer_.cancel(); });
  return true;
}

std::size_t UsageRecorder::Buffered() const {
  std::lock_guard lock(mu_);
  return buffer_.size();
}

std::vector<UsageRecord> UsageRecorder::Take(std::size_t at_most) {
  std::lock_guard lock(mu_);
  const std::size_t n =
      std::min(std::min(at_most, buffer_.size()), static_cast<std::size_t>(cfg_.batch_size));
  std::vector<UsageRecord> batch(
      std::make_move_iterator(buffer_.begin()),
      std::make_move_iterator(buffer_.begin() + static_cast<std::ptrdiff_t>(n)));
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(n));
  in_flight_ += n;
  return batch;
}

Task<bool> UsageRecorder::FlushOnce() {
  // Write what is buffered now, not what arrives meanwhile: under steady traffic, draining
  // until empty would turn into a stream of tiny transactions (measured: ~1.3 page writes
  // per record instead of ~0.1).
  std::size_t remaining = 0;
  {
    std::lock_guard lock(mu_);
    remaining = buffer_.size();
  }
  while (remaining > 0) {
    std::vector<UsageRecord> batch = Take(remaining);
    if (batch.empty()) break;
    remaining -= batch.size();
    std::vector<storage::Statement> statements;
    std::size_t i = 0;
    for (std::size_t chunk : kChunkSizes) {
      while (batch.size() - i >= chunk) {
        storage::Params params;
        params.reserve(chunk * kColumns);
        for (std::size_t k = 0; k < chunk; ++k) AppendParams(params, batch[i + k]);
        statements.push_back({{"insert_usage_records", InsertSqlFor(chunk)}, std::move(params)});
        i += chunk;
      }
    }
    bool ok = true;
    std::string error;
    try {
      co_await db_.ExecuteInTransaction(std::move(statements));
    } catch (const std::exception& e) {
      ok = false;
      error = e.what();
    }
    if (!ok) {
      flush_errors_.Inc();
      log_.Warning("usage batch write failed; will retry",
                   {{"records", batch.size()}, {"error", error}});
      PutBack(batch);
      co_return false;
    }
    {
      std::lock_guard lock(mu_);
      in_flight_ -= batch.size();
    }
    written_.Inc(batch.size());
  }
  co_return true;
}

void UsageRecorder::PutBack(std::vector<UsageRecord>& batch) {
  std::lock_guard lock(mu_);
  // Back in front, in order. The batch's room was still counted (in_flight_), so it fits.
  in_flight_ -= batch.size();
  for (auto it = batch.rbegin(); it != batch.rend(); ++it) buffer_.push_front(std::move(*it));
}

Task<void> UsageRecorder::Loop() {
  for (;;) {
    timer_.expires_after(cfg_.flush_interval);
    co_await timer_.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
    if (stopping_) break;
    co_await FlushOnce();
    if (stopping_) break;
    // A full batch already waiting is written at once rather than after the interval.
    bool ok = true;
    while (ok && !stopping_ && Buffered() >= static_cast<std::size_t>(cfg_.batch_size)) {
      ok = co_await FlushOnce();
    }
  }
  loop_running_ = false;
}

Task<void> UsageRecorder::Stop() {
  stopping_ = true;
  boost::asio::post(timer_.get_executor(), [this] { timer_.cancel(); });
  // Let a batch the loop is writing land first: the final flush below must not race it,
  // and the loop must be finished before this object can go away.
  while (loop_running_) {
    boost::asio::steady_timer wait(executor_, std::chrono::milliseconds(5));
    co_await wait.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  // Final flush: try a few times so a brief database hiccup at shutdown loses nothing.
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (co_await FlushOnce()) break;
    boost::asio::steady_timer wait(executor_, std::chrono::milliseconds(200));
    co_await wait.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  }
  if (auto left = Buffered(); left > 0) {
    log_.Error("usage records not written at shutdown", {{"records", left}});
  }
}

}  // namespace bro::usage
