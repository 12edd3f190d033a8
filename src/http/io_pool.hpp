#pragma once

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <vector>

namespace bro::http {

// One io_context per I/O thread. A connection lives on one context for its whole
// life, so its handlers never need a strand and threads do not hand work to
// each other on every operation (measured: bench/README.md).
class IoPool {
 public:
  explicit IoPool(int threads);
  IoPool(const IoPool&) = delete;
  IoPool& operator=(const IoPool&) = delete;

  boost::asio::io_context& Main() { return *contexts_.front(); }
  // The next context, round-robin, for a new connection.
  boost::asio::any_io_executor Next();
  std::size_t Size() const { return contexts_.size(); }
  // Runs every context (context 0 on the calling thread) until Stop().
  void Run();
  void Stop();

 private:
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<Guard> guards_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace bro::http
