#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace bro::observability {

// A small Prometheus client (text exposition format 0.0.4). Written here because
// Debian 12 packages no C++ Prometheus client library. Metric objects are
// created once per label set and then updated lock-free; callers on hot paths
// keep the returned reference.
using Labels = std::vector<std::string>;

class Counter {
 public:
  void Inc(std::uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  std::uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(const std::vector<double>& bounds);
  void Observe(double v);
  std::uint64_t Count() const { return count_.load(std::memory_order_relaxed); }
  double Sum() const { return sum_.load(std::memory_order_relaxed); }
  const std::vector<double>& Bounds() const { return bounds_; }
  std::uint64_t Bucket(std::size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]>
      buckets_;  // non-cumulative, one per bound plus +Inf
  std::atomic<std::uint64_t> count_{0};
  std::atomic<double> sum_{0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

template <class M>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::vector<double> bounds = {})
      : name_(std::move(name)),
        help_(std::move(help)),
        label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}

  M& With(const Labels& values) {
    std::lock_guard lock(mu_);
    auto it = children_.find(values);
    if (it != children_.end()) return *it->second;
    std::unique_ptr<M> m;
    if constexpr (std::is_same_v<M, Histogram>) {
      m = std::make_unique<M>(bounds_);
    } else {
      m = std::make_unique<M>();
    }
    auto& ref = *m;
    children_.emplace(values, std::move(m));
    return ref;
  }

  template <class F>
  void ForEach(F&& f) const {
    std::lock_guard lock(mu_);
    for (const auto& [labels, m] : children_) f(labels, *m);
  }

  const std::string& Name() const { return name_; }
  const std::string& Help() const { return help_; }
  const std::vector<std::string>& LabelNames() const { return label_names_; }

 private:
  std::string name_;
  std::string help_;
  std::vector<std::string> label_names_;
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::map<Labels, std::unique_ptr<M>> children_;
};

// A gauge whose samples are read at scrape time (pool sizes, process stats).
struct GaugeSample {
  Labels labels;
  double value;
};

class Registry {
 public:
  Family<Counter>& AddCounter(std::string name, std::string help,
                              std::vector<std::string> labels = {});
  Family<Gauge>& AddGauge(std::string name, std::string help, std::vector<std::string> labels = {});
  Family<Histogram>& AddHistogram(std::string name, std::string help,
                                  std::vector<std::string> labels, std::vector<double> bounds);
  void AddCallbackGauge(std::string name, std::string help, std::vector<std::string> labels,
                        std::function<std::vector<GaugeSample>()> read);
  // A counter kept elsewhere (e.g. the kernel's CPU time), read at scrape time.
  void AddCallbackCounter(std::string name, std::string help, std::vector<std::string> labels,
                          std::function<std::vector<GaugeSample>()> read);

  // Text exposition of every metric, for GET /metrics.
  std::string Render() const;

 private:
  struct Callback {
    std::string name, help;
    const char* type;
    std::vector<std::string> labels;
    std::function<std::vector<GaugeSample>()> read;
  };
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family<Counter>>> counters_;
  std::vector<std::unique_ptr<Family<Gauge>>> gauges_;
  std::vector<std::unique_ptr<Family<Histogram>>> histograms_;
  std::vector<Callback> callbacks_;
};

// Latency buckets in seconds, 1 ms .. 60 s.
std::vector<double> LatencyBuckets();
// process_* metrics from /proc/self (CPU, memory, fds, start time) and bro_build_info.
void RegisterProcessMetrics(Registry& registry, const std::string& version);

}  // namespace bro::observability
