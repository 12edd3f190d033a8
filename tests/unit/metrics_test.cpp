#include "observability/metrics.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace bro::observability {
namespace {

// One parsed sample line of the text exposition format.
struct Sample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;  // unescaped values
  std::string value;
};

bool IsNameStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool IsNameChar(char c) {
  return IsNameStart(c) || (c >= '0' && c <= '9');
}

// Parses "name{a="x",b="y"} value"; returns false on any deviation from the format.
bool ParseSample(const std::string& line, Sample& out, std::string& why) {
  std::size_t i = 0;
  if (line.empty() || !IsNameStart(line[0])) {
    why = "bad metric name start";
    return false;
  }
  while (i < line.size() && IsNameChar(line[i])) ++i;
  out.name = line.substr(0, i);
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      const std::size_t name_start = i;
      while (i < line.size() && IsNameChar(line[i]) && line[i] != ':') ++i;
      if (i == name_start || i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"') {
        why = "bad label name";
        return false;
      }
      std::string label = line.substr(name_start, i - name_start);
      i += 2;
      std::string value;
      for (;;) {
        if (i >= line.size()) {
          why = "unterminated label value";
          return false;
        }
        const char c = line[i++];
        if (c == '"') break;
        if (c == '\\') {
          if (i >= line.size()) {
            why = "dangling escape";
            return false;
          }
          const char e = line[i++];
          if (e == 'n') {
            value += '\n';
          } else if (e == '\\' || e == '"') {
            value += e;
          } else {
            why = "bad escape";
            return false;
          }
        } else {
          value += c;
        }
      }
      out.labels.emplace_back(std::move(label), std::move(value));
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) {
      why = "unterminated label set";
      return false;
    }
    ++i;  // '}'
  }
  if (i >= line.size() || line[i] != ' ') {
    why = "no space before the value";
    return false;
  }
  out.value = line.substr(i + 1);
  if (out.value.empty() || out.value.find(' ') != std::string::npos) {
    why = "bad value";
    return false;
  }
  if (out.value != "+Inf" && out.value != "-Inf" && out.value != "NaN") {
    char* end = nullptr;
    std::strtod(out.value.c_str(), &end);
    if (end == nullptr || *end != '\0') {
      why = "value is not a number";
      return false;
    }
  }
  return true;
}

// Validates the whole exposition and returns its samples; fails the test on a problem.
std::vector<Sample> ParseExposition(const std::string& text) {
  std::vector<Sample> samples;
  std::map<std::string, std::string> types;
  std::set<std::string> helps;
  EXPECT_TRUE(text.empty() || text.back() == '\n') << "exposition must end with a newline";
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      auto rest = line.substr(7);
      auto name = rest.substr(0, rest.find(' '));
      EXPECT_TRUE(helps.insert(name).second) << "duplicate HELP for " << name;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream parts(line.substr(7));
      std::string name, type;
      parts >> name >> type;
      EXPECT_TRUE(type == "counter" || type == "gauge" || type == "histogram") << line;
      EXPECT_TRUE(types.emplace(name, type).second) << "duplicate TYPE for " << name;
      EXPECT_TRUE(helps.contains(name)) << "TYPE before HELP for " << name;
      continue;
    }
    Sample s;
    std::string why;
    EXPECT_TRUE(ParseSample(line, s, why)) << why << ": " << line;
    std::string family = s.name;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string sfx(suffix);
      if (!types.contains(family) && family.size() > sfx.size() && family.ends_with(sfx)) {
        family = family.substr(0, family.size() - sfx.size());
      }
    }
    EXPECT_TRUE(types.contains(family)) << "sample without a TYPE line: " << line;
    samples.push_back(std::move(s));
  }
  return samples;
}

std::string LabelOf(const Sample& s, const std::string& name) {
  for (const auto& [k, v] : s.labels) {
    if (k == name) return v;
  }
  return "<absent>";
}

TEST(Metrics, CounterAndGaugeRender) {
  Registry r;
  auto& requests = r.AddCounter("test_requests_total", "Requests.", {"route", "code"});
  requests.With({"/a", "200"}).Inc();
  requests.With({"/a", "200"}).Inc(4);
  requests.With({"/b", "500"}).Inc();
  auto& temp = r.AddGauge("test_temperature", "Temperature.", {});
  temp.With({}).Set(21.5);
  temp.With({}).Add(-0.25);
  const auto text = r.Render();
  EXPECT_NE(text.find("# HELP test_requests_total Requests.\n# TYPE test_requests_total counter\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("test_requests_total{route=\"/a\",code=\"200\"} 5\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("test_requests_total{route=\"/b\",code=\"500\"} 1\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE test_temperature gauge\ntest_temperature 21.25\n"), std::string::npos)
      << text;
  EXPECT_EQ(ParseExposition(text).size(), 3U);
}

TEST(Metrics, WithReturnsTheSameChildForTheSameLabels) {
  Registry r;
  auto& f = r.AddCounter("same_total", "x", {"a"});
  auto& c1 = f.With({"v"});
  auto& c2 = f.With({"v"});
  EXPECT_EQ(&c1, &c2);
  EXPECT_NE(&c1, &f.With({"w"}));
}

TEST(Metrics, LabelValuesAreEscaped) {
  Registry r;
  const std::string hostile = "quote\" backslash\\ newline\n end";
  r.AddCounter("esc_total", "Escaping.", {"v"}).With({hostile}).Inc(2);
  const auto text = r.Render();
  EXPECT_NE(text.find(R"(esc_total{v="quote\" backslash\\ newline\n end"} 2)"), std::string::npos)
      << text;
  const auto samples = ParseExposition(text);
  ASSERT_EQ(samples.size(), 1U);
  EXPECT_EQ(LabelOf(samples[0], "v"), hostile) << "escaping must round-trip";
  // Every sample sits on one line: the raw newline never reaches the output.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  Registry r;
  auto& h = r.AddHistogram("lat_seconds", "Latency.", {"route"}, {0.1, 1, 2.5});
  auto& child = h.With({"/x"});
  for (double v : {0.05, 0.1, 0.5, 1.0, 2.0, 7.0}) child.Observe(v);
  EXPECT_EQ(child.Count(), 6U);
  const auto text = r.Render();
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/x\",le=\"0.1\"} 2\n"), std::string::npos)
      << "the upper bound is inclusive\n"
      << text;
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/x\",le=\"1\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/x\",le=\"2.5\"} 5\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 6\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("lat_seconds_count{route=\"/x\"} 6\n"), std::string::npos) << text;
  const auto samples = ParseExposition(text);
  double sum = -1;
  std::vector<double> buckets;
  for (const auto& s : samples) {
    if (s.name == "lat_seconds_sum") sum = std::stod(s.value);
    if (s.name == "lat_seconds_bucket") buckets.push_back(std::stod(s.value));
  }
  EXPECT_NEAR(sum, 10.65, 1e-9);
  ASSERT_EQ(buckets.size(), 4U);
  EXPECT_TRUE(std::is_sorted(buckets.begin(), buckets.end())) << "buckets must be cumulative";
}

TEST(Metrics, HistogramWithoutLabelsHasOnlyLe) {
  Registry r;
  r.AddHistogram("plain_seconds", "Plain.", {}, {1}).With({}).Observe(0.5);
  const auto text = r.Render();
  EXPECT_NE(text.find("plain_seconds_bucket{le=\"1\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("plain_seconds_bucket{le=\"+Inf\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("plain_seconds_sum 0.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("plain_seconds_count 1\n"), std::string::npos) << text;
  ParseExposition(text);
}

TEST(Metrics, CallbackGaugesAreReadAtScrapeTime) {
  Registry r;
  int calls = 0;
  r.AddCallbackGauge("pool_connections", "Pool.", {"state"}, [&calls] {
    ++calls;
    return std::vector<GaugeSample>{{{"idle"}, 3}, {{"in_use"}, static_cast<double>(calls)}};
  });
  auto first = r.Render();
  auto second = r.Render();
  EXPECT_EQ(calls, 2);
  EXPECT_NE(first.find("pool_connections{state=\"in_use\"} 1\n"), std::string::npos) << first;
  EXPECT_NE(second.find("pool_connections{state=\"in_use\"} 2\n"), std::string::npos) << second;
  EXPECT_NE(second.find("# TYPE pool_connections gauge\n"), std::string::npos);
  EXPECT_EQ(ParseExposition(second).size(), 2U);
}

TEST(Metrics, EmptyFamiliesStillValid) {
  Registry r;
  r.AddCounter("nothing_total", "Nothing yet.", {"a"});
  r.AddHistogram("nothing_seconds", "Nothing yet.", {"a"}, LatencyBuckets());
  const auto text = r.Render();
  EXPECT_TRUE(ParseExposition(text).empty());
  EXPECT_NE(text.find("# TYPE nothing_total counter"), std::string::npos);
}

TEST(Metrics, GaugeValueFormatting) {
  Registry r;
  auto& g = r.AddGauge("fmt", "Formatting.", {"k"});
  g.With({"int"}).Set(3);
  g.With({"neg"}).Set(-2.5);
  g.With({"small"}).Set(0.000123);
  g.With({"inf"}).Set(std::numeric_limits<double>::infinity());
  g.With({"big"}).Set(1e20);
  const auto text = r.Render();
  const auto samples = ParseExposition(text);
  std::map<std::string, std::string> by;
  for (const auto& s : samples) by[LabelOf(s, "k")] = s.value;
  EXPECT_EQ(by["int"], "3");
  EXPECT_EQ(by["neg"], "-2.5");
  EXPECT_DOUBLE_EQ(std::stod(by["small"]), 0.000123);
  EXPECT_EQ(by["inf"], "+Inf");
  EXPECT_DOUBLE_EQ(std::stod(by["big"]), 1e20);
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  Registry r;
  auto& c = r.AddCounter("conc_total", "c", {}).With({});
  auto& h = r.AddHistogram("conc_seconds", "h", {}, {1}).With({});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.Inc();
        h.Observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.Value(), 40000U);
  EXPECT_EQ(h.Count(), 40000U);
  EXPECT_DOUBLE_EQ(h.Sum(), 20000.0);
  EXPECT_EQ(h.Bucket(0), 40000U);
}

TEST(Metrics, ProcessMetricsAreRegistered) {
  Registry r;
  RegisterProcessMetrics(r, "9.9.9-test");
  const auto text = r.Render();
  const auto samples = ParseExposition(text);
  std::map<std::string, double> values;
  for (const auto& s : samples) values[s.name] = std::stod(s.value);
  EXPECT_NE(text.find("bro_build_info{version=\"9.9.9-test\"} 1\n"), std::string::npos) << text;
  EXPECT_GT(values["process_resident_memory_bytes"], 0);
  EXPECT_GT(values["process_open_fds"], 0);
  EXPECT_GE(values["process_cpu_seconds"], 0);
}

// The text format must satisfy Prometheus's own checker, hostile label values included.
TEST(Metrics, PromtoolAcceptsTheExposition) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    GTEST_SKIP()
        << "promtool is not installed (Debian package 'prometheus'); exposition not linted";
  }
  Registry r;
  r.AddCounter("bro_test_requests_total", "Requests by route.", {"route"})
      .With({"a\"b\\c\nd"})
      .Inc();
  r.AddGauge("bro_test_open_connections", "Open connections.", {}).With({}).Set(4);
  r.AddHistogram("bro_test_duration_seconds", "Duration.", {"route"}, LatencyBuckets())
      .With({"/x"})
      .Observe(0.02);
  r.AddCallbackGauge("bro_test_pool_connections", "Pool.", {"state"}, [] {
    return std::vector<GaugeSample>{{{"idle"}, 1}};
  });
  const auto path = std::filesystem::temp_directory_path() /
                    ("bro-promtool-" + std::to_string(::getpid()) + ".txt");
  std::ofstream(path) << r.Render();
  const std::string cmd =
      "promtool check metrics < " + path.string() + " > " + path.string() + ".out 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream out(path.string() + ".out");
  const std::string report((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  std::filesystem::remove(path.string() + ".out");
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << report;
}

}  // namespace
}  // namespace bro::observability
