#include "observability/metrics.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace bro::observability {
namespace {

void AppendEscaped(std::string& out, const std::string& v) {
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void AppendLabels(std::string& out, const std::vector<std::string>& names, const Labels& values,
                  const char* extra_name = nullptr, const std::string& extra_value = {}) {
  if (names.empty() && extra_name == nullptr) return;
  out += '{';
  bool first = true;
  for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!first) out += ',';
    first = false;
    out += names[i];
    out += "=\"";
    AppendEscaped(out, values[i]);
    out += '"';
  }
  if (extra_name != nullptr) {
    if (!first) out += ',';
    out += extra_name;
    out += "=\"";
    out += extra_value;
    out += '"';
  }
  out += '}';
}

std::string FormatValue(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void AppendHeader(std::string& out, const std::string& name, const std::string& help,
                  const char* type) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

}  // namespace

Histogram::Histogram(const std::vector<double>& bounds)
    : bounds_(bounds), buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds.size() + 1)) {
  for (std::size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  auto it = std::lower_bound(bounds_.begin(), bounds_.end(), v);
  buckets_[static_cast<std::size_t>(it - bounds_.begin())].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Family<Counter>& Registry::AddCounter(std::string name, std::string help,
                                      std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  counters_.push_back(
      std::make_unique<Family<Counter>>(std::move(name), std::move(help), std::move(labels)));
  return *counters_.back();
}

Family<Gauge>& Registry::AddGauge(std::string name, std::string help,
                                  std::vector<std::string> labels) {
  std::lock_guard lock(mu_);
  gauges_.push_back(
      std::make_unique<Family<Gauge>>(std::move(name), std::move(help), std::move(labels)));
  return *gauges_.back();
}

Family<Histogram>& Registry::AddHistogram(std::string name, std::string help,
                                          std::vector<std::string> labels,
                                          std::vector<double> bounds) {
  std::lock_guard lock(mu_);
  histograms_.push_back(std::make_unique<Family<Histogram>>(std::move(name), std::move(help),
                                                            std::move(labels), std::move(bounds)));
  return *histograms_.back();
}

void Registry::AddCallbackGauge(std::string name, std::string help, std::vector<std::string> labels,
                                std::function<std::vector<GaugeSample>()> read) {
  std::lock_guard lock(mu_);
  callbacks_.push_back(
      {std::move(name), std::move(help), "gauge", std::move(labels), std::move(read)});
}

void Registry::AddCallbackCounter(std::string name, std::string help,
                                  std::vector<std::string> labels,
                                  std::function<std::vector<GaugeSample>()> read) {
  std::lock_guard lock(mu_);
  callbacks_.push_back(
      {std::move(name), std::move(help), "counter", std::move(labels), std::move(read)});
}

std::string Registry::Render() const {
  std::lock_guard lock(mu_);
  std::string out;
  out.reserve(std::size_t{16} << 10);
  for (const auto& f : counters_) {
    AppendHeader(out, f->Name(), f->Help(), "counter");
    f->ForEach([&](const Labels& l, const Counter& c) {
      out += f->Name();
      AppendLabels(out, f->LabelNames(), l);
      out += ' ' + std::to_string(c.Value()) + '\n';
    });
  }
  for (const auto& f : gauges_) {
    AppendHeader(out, f->Name(), f->Help(), "gauge");
    f->ForEach([&](const Labels& l, const Gauge& g) {
      out += f->Name();
      AppendLabels(out, f->LabelNames(), l);
      out += ' ' + FormatValue(g.Value()) + '\n';
    });
  }
  for (const auto& cb : callbacks_) {
    AppendHeader(out, cb.name, cb.help, cb.type);
    for (const auto& s : cb.read()) {
      out += cb.name;
      AppendLabels(out, cb.labels, s.labels);
      out += ' ' + FormatValue(s.value) + '\n';
    }
  }
  for (const auto& f : histograms_) {
    AppendHeader(out, f->Name(), f->Help(), "histogram");
    f->ForEach([&](const Labels& l, const Histogram& h) {
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i <= h.Bounds().size(); ++i) {
        cumulative += h.Bucket(i);
        out += f->Name() + "_bucket";
        AppendLabels(out, f->LabelNames(), l, "le",
                     i < h.Bounds().size() ? FormatValue(h.Bounds()[i]) : "+Inf");
        out += ' ' + std::to_string(cumulative) + '\n';
      }
      out += f->Name() + "_sum";
      AppendLabels(out, f->LabelNames(), l);
      out += ' ' + FormatValue(h.Sum()) + '\n';
      out += f->Name() + "_count";
      AppendLabels(out, f->LabelNames(), l);
      out += ' ' + std::to_string(h.Count()) + '\n';
    });
  }
  return out;
}

std::vector<double> LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

void RegisterProcessMetrics(Registry& registry, const std::string& version) {
  registry.AddCallbackGauge("bro_build_info", "Build information; the value is always 1.",
                            {"version"}, [version] {
                              return std::vector<GaugeSample>{{{version}, 1}};
                            });
  registry.AddCallbackGauge(
      "process_resident_memory_bytes", "Resident memory size in bytes.", {}, [] {
        long pages = 0, resident = 0;
        std::ifstream in("/proc/self/statm");
        in >> pages >> resident;
        return std::vector<GaugeSample>{
            {{}, static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE))}};
      });
  registry.AddCallbackCounter(
      "process_cpu_seconds_total", "User and system CPU time spent, in seconds.", {}, [] {
        std::ifstream in("/proc/self/stat");
        std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        auto close = content.rfind(')');
        double seconds = 0;
        if (close != std::string::npos) {
          std::istringstream fields(content.substr(close + 2));
          std::string f;
          unsigned long utime = 0, stime = 0;
          for (int i = 3; i <= 15 && fields >> f; ++i) {
            if (i == 14) utime = std::stoul(f);
            if (i == 15) stime = std::stoul(f);
          }
          seconds = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
        }
        return std::vector<GaugeSample>{{{}, seconds}};
      });
  registry.AddCallbackGauge("process_open_fds", "Number of open file descriptors.", {}, [] {
    double n = 0;
    std::error_code ec;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
         it.increment(ec)) {
      ++n;
    }
    return std::vector<GaugeSample>{{{}, n}};
  });
}

}  // namespace bro::observability
