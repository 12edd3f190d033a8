#include "http/io_pool.hpp"

#include <thread>

namespace bro::http {

IoPool::IoPool(int threads) {
  const int n = threads > 0 ? threads : 1;
  for (int i = 0; i < n; ++i) {
    // Concurrency hint 1: each context is run by exactly one thread.
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
  }
}

boost::asio::any_io_executor IoPool::Next() {
  return contexts_[next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size()]
      ->get_executor();
}

void IoPool::Run() {
  guards_.clear();
  for (auto& c : contexts_) {
    c->restart();
    guards_.push_back(boost::asio::make_work_guard(*c));
  }
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < contexts_.size(); ++i) {
    threads.emplace_back([c = contexts_[i].get()] { c->run(); });
  }
  contexts_.front()->run();
  for (auto& t : threads) t.join();
}

void IoPool::Stop() {
  guards_.clear();
  for (auto& c : contexts_) c->stop();
}

}  // namespace bro::http
