// bro-limiter-bench: the limiter's own cost per request, without HTTP around it.
//
// Workers (coroutines spread over I/O threads, like bro-ai's) each loop: reserve a request
// against two subjects with the limits of bench/run.sh's governed cases (a key with requests,
// tokens and concurrency per minute and a daily token budget; a user with requests and tokens
// per minute — none of them reached), then settle it without waiting, as the gateway does.
// Prints decisions per second and CPU per request of this process and, for Redis, of the
// redis-server (from its INFO cpu counters).
//
//   bro-limiter-bench memory [seconds] [workers] [threads]
//   bro-limiter-bench redis://127.0.0.1:6379/0 [seconds] [workers] [threads]
#include <sys/resource.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "limits/limiter.hpp"
#include "limits/memory_limiter.hpp"
#include "limits/redis_limiter.hpp"
#include "storage/redis/redis_client.hpp"

namespace {

namespace asio = boost::asio;
using bro::limits::Limiter;
using bro::limits::Policy;
using bro::limits::ReserveRequest;
using bro::limits::Settlement;
using bro::limits::Subject;
using bro::storage::redis::RedisClient;
using bro::storage::redis::Reply;

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<Subject> Subjects() {
  Policy key;
  key.requests_per_minute = 100'000'000;
  key.tokens_per_minute = 100'000'000'000;
  key.concurrent_requests = 100'000;
  key.daily_tokens = 100'000'000'000'000;
  Policy user;
  user.requests_per_minute = 100'000'000;
  user.tokens_per_minute = 100'000'000'000;
  std::vector<Subject> s;
  s.push_back({"key:bench", key});
  s.push_back({"user:bench", user});
  return s;
}

struct Run {
  Limiter& limiter;
  std::chrono::steady_clock::time_point until;
  std::atomic<std::int64_t> requests{0};
  std::atomic<std::int64_t> failures{0};
};

asio::awaitable<void> Worker(Run& run, int worker) {
  const auto subjects = Subjects();
  const auto ex = co_await asio::this_coro::executor;
  std::string prefix = "w";  // (not "w" + ...: GCC 12 -O3 warns falsely in that concatenation)
  prefix += std::to_string(worker);
  prefix += '-';
  std::int64_t n = 0;
  while (std::chrono::steady_clock::now() < run.until) {
    ReserveRequest r;
    r.id = prefix;
    r.id += std::to_string(n++);
    r.subjects = subjects;
    r.tokens = 300;
    r.now_ms = NowMs();
    Settlement s;
    s.id = r.id;
    s.subjects = subjects;
    s.reserved_tokens = r.tokens;
    s.reserved_at_ms = r.now_ms;
    bool ok = true;
    try {
      const auto d = co_await run.limiter.Reserve(std::move(r));
      ok = d.admitted;
    } catch (const std::exception&) {
      ok = false;
    }
    if (!ok) {
      ++run.failures;
      continue;
    }
    s.tokens = 40;
    s.now_ms = NowMs();
    run.limiter.SettleLater(std::move(s), ex, [&run](const std::exception_ptr& e) {
      if (e) ++run.failures;
    });
    ++run.requests;
  }
}

// redis-server's own CPU seconds (INFO cpu: used_cpu_sys + used_cpu_user).
double RedisCpuSeconds(RedisClient& client, asio::io_context& ioc) {
  std::vector<std::string> cmd{"INFO", "cpu"};
  auto f = asio::co_spawn(ioc, client.Command(cmd), asio::use_future);
  ioc.restart();
  ioc.run();
  const Reply info = f.get();
  double total = 0;
  for (const char* field : {"used_cpu_sys:", "used_cpu_user:"}) {
    const auto at = info.str.find(field);
    if (at != std::string::npos) total += std::stod(info.str.substr(at + std::strlen(field)));
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s memory|redis://host:port/db [seconds] [workers] [threads]\n",
                 argv[0]);
    return 2;
  }
  const std::string backend = argv[1];
  const int seconds = argc > 2 ? std::stoi(argv[2]) : 5;
  const int workers = argc > 3 ? std::stoi(argv[3]) : 50;
  const int threads = argc > 4 ? std::stoi(argv[4]) : 2;

  // The io_contexts first: they must outlive the client's connections.
  asio::io_context info_ioc;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (int t = 0; t < threads; ++t) contexts.push_back(std::make_unique<asio::io_context>());
  std::unique_ptr<RedisClient> client;
  std::unique_ptr<Limiter> limiter;
  if (backend == "memory") {
    limiter = std::make_unique<bro::limits::MemoryLimiter>();
  } else {
    client = std::make_unique<RedisClient>(bro::storage::redis::ParseRedisUrl(backend));
    limiter = std::make_unique<bro::limits::RedisLimiter>(
        *client, "bro-bench:" + std::to_string(NowMs()) + ":limits:");
  }

  Run run{*limiter, std::chrono::steady_clock::now() + std::chrono::seconds(seconds)};
  for (int w = 0; w < workers; ++w) {
    asio::co_spawn(*contexts[static_cast<std::size_t>(w % threads)], Worker(run, w),
                   asio::detached);
  }
  const double redis0 = client ? RedisCpuSeconds(*client, info_ioc) : 0;
  const double cpu0 = ProcessCpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (auto& ctx : contexts) pool.emplace_back([&ctx] { ctx->run(); });
  for (auto& t : pool) t.join();
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = ProcessCpuSeconds() - cpu0;
  const double redis = client ? RedisCpuSeconds(*client, info_ioc) - redis0 : 0;
  const auto n = static_cast<double>(run.requests.load());
  std::printf(
      "limiter %s: %.0f requests/s (reserve + settle), %.2f us CPU per request in this process",
      client ? "redis" : "memory", n / elapsed, cpu * 1e6 / n);
  if (client) std::printf(", %.2f us in redis-server", redis * 1e6 / n);
  std::printf(", %lld failures\n", static_cast<long long>(run.failures.load()));
  return run.failures.load() == 0 ? 0 : 1;
}
