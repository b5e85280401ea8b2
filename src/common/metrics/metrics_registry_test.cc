#include "common/metrics/metrics_registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "common/metrics/prometheus_text.h"

namespace mooncake {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsRegistryTest, CounterRendersHelpTypeAndValue) {
  MetricsRegistry registry;
  registry.AddCounter("mc_puts_total", "Puts served.").Inc(3);
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP mc_puts_total Puts served.\n"
            "# TYPE mc_puts_total counter\n"
            "mc_puts_total 3\n");
}

TEST(MetricsRegistryTest, GaugeRendersShortestRoundTripValue) {
  MetricsRegistry registry;
  Gauge& gauge = registry.AddGauge("mc_ratio", "A ratio.");
  gauge.Set(2.5);
  gauge.Add(1);
  gauge.Sub(0.25);
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP mc_ratio A ratio.\n"
            "# TYPE mc_ratio gauge\n"
            "mc_ratio 3.25\n");
}

TEST(MetricsRegistryTest, SeriesShareOneHeaderAndAreSortedByLabels) {
  MetricsRegistry registry;
  registry.AddCounter("mc_rpc_total", "RPCs.", {{"rpc", "put"}}).Inc(2);
  registry.AddCounter("mc_rpc_total", "ignored: first help wins", {{"rpc", "get"}}).Inc(1);
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP mc_rpc_total RPCs.\n"
            "# TYPE mc_rpc_total counter\n"
            "mc_rpc_total{rpc=\"get\"} 1\n"
            "mc_rpc_total{rpc=\"put\"} 2\n");
}

TEST(MetricsRegistryTest, LabelValuesAndHelpAreEscaped) {
  MetricsRegistry registry;
  registry.AddGauge("mc_g", "a \\ b\nc \"q\"", {{"seg", "a\"b\\c\nd"}, {"node", "n1"}}).Set(1);
  // Label keys come out sorted; HELP keeps quotes but escapes backslash and newline.
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP mc_g a \\\\ b\\nc \"q\"\n"
            "# TYPE mc_g gauge\n"
            "mc_g{node=\"n1\",seg=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(MetricsRegistryTest, HistogramRendersCumulativeBucketsSumAndCount) {
  MetricsRegistry registry;
  Histogram& h = registry.AddHistogram("mc_lat_seconds", "Latency.", {}, {0.5, 1});
  for (double v : {0.25, 0.5, 0.75, 4.0}) h.Observe(v);  // 0.5 falls in le="0.5".
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP mc_lat_seconds Latency.\n"
            "# TYPE mc_lat_seconds histogram\n"
            "mc_lat_seconds_bucket{le=\"0.5\"} 2\n"
            "mc_lat_seconds_bucket{le=\"1\"} 3\n"
            "mc_lat_seconds_bucket{le=\"+Inf\"} 4\n"
            "mc_lat_seconds_sum 5.5\n"
            "mc_lat_seconds_count 4\n");
}

TEST(MetricsRegistryTest, HistogramLabelsPrecedeLe) {
  MetricsRegistry registry;
  registry.AddHistogram("mc_h", "", {{"rpc", "get"}}, {1}).Observe(2);
  // No HELP line for an empty help text.
  EXPECT_EQ(registry.RenderPrometheus(),
            "# TYPE mc_h histogram\n"
            "mc_h_bucket{rpc=\"get\",le=\"1\"} 0\n"
            "mc_h_bucket{rpc=\"get\",le=\"+Inf\"} 1\n"
            "mc_h_sum{rpc=\"get\"} 2\n"
            "mc_h_count{rpc=\"get\"} 1\n");
}

TEST(MetricsRegistryTest, HistogramPutsNanInInfBucket) {
  Histogram h({1});
  h.Observe(std::numeric_limits<double>::quiet_NaN());
  HistogramSnapshot s = h.Snapshot();
  EXPECT_EQ(s.buckets, (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(s.count, 1u);
}

TEST(MetricsRegistryTest, HistogramObservesDurationsInSeconds) {
  Histogram h(DefaultLatencyBuckets());
  h.ObserveDuration(std::chrono::microseconds(7));  // (5 µs, 10 µs]
  EXPECT_EQ(h.Snapshot().buckets[1], 1u);
  EXPECT_DOUBLE_EQ(h.Snapshot().sum, 7e-6);
}

TEST(MetricsRegistryTest, FamiliesAreSortedByName) {
  MetricsRegistry registry;
  registry.AddCounter("mc_b", "B.");
  registry.AddGauge("mc_a", "A.");
  registry.AddGaugeCallback("mc_ab", "AB.", [](GaugeEmitter&) {});
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP mc_a A.\n# TYPE mc_a gauge\nmc_a 0\n"
            "# HELP mc_ab AB.\n# TYPE mc_ab gauge\n"
            "# HELP mc_b B.\n# TYPE mc_b counter\nmc_b 0\n");
}

TEST(MetricsRegistryTest, SameNameAndLabelsReturnSameObject) {
  MetricsRegistry registry;
  Counter& a = registry.AddCounter("mc_c", "C.", {{"x", "1"}, {"y", "2"}});
  Counter& b = registry.AddCounter("mc_c", "C.", {{"y", "2"}, {"x", "1"}});
  Counter& other = registry.AddCounter("mc_c", "C.", {{"x", "1"}, {"y", "3"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &other);
  EXPECT_EQ(&registry.AddHistogram("mc_h", "", {}, {1, 2}),
            &registry.AddHistogram("mc_h", "", {}, {1, 2}));
}

TEST(MetricsRegistryTest, ConcurrentUpdatesFromFourThreadsAddUp) {
  MetricsRegistry registry;
  Counter& counter = registry.AddCounter("mc_c", "C.");
  Gauge& gauge = registry.AddGauge("mc_g", "G.");
  Histogram& histogram = registry.AddHistogram("mc_h", "H.", {}, {1});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        counter.Inc();
        gauge.Add(1);
        histogram.Observe(0.5);
      }
    });
  }
  // Scrapes racing the updates must not tear or crash.
  for (int i = 0; i < 20; ++i) EXPECT_THAT(registry.RenderPrometheus(), HasSubstr("mc_c "));
  for (auto& t : threads) t.join();
  EXPECT_EQ(counter.Value(), uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(gauge.Value(), double{kThreads} * kPerThread);
  EXPECT_EQ(histogram.Snapshot().count, uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(histogram.Snapshot().sum, 0.5 * kThreads * kPerThread);
}

TEST(MetricsRegistryTest, GaugeCallbackIsEvaluatedAtEveryScrape) {
  MetricsRegistry registry;
  double used = 10;
  registry.AddGaugeCallback("mc_segment_used_bytes", "Bytes used per segment.",
                            [&used](GaugeEmitter& emit) {
                              emit.Emit({{"segment", "seg-b"}}, used);
                              emit.Emit({{"segment", "seg-a"}}, 1);
                            });
  const std::string header =
      "# HELP mc_segment_used_bytes Bytes used per segment.\n"
      "# TYPE mc_segment_used_bytes gauge\n";
  EXPECT_EQ(registry.RenderPrometheus(), header + "mc_segment_used_bytes{segment=\"seg-a\"} 1\n" +
                                             "mc_segment_used_bytes{segment=\"seg-b\"} 10\n");
  used = 20;
  EXPECT_THAT(registry.RenderPrometheus(), HasSubstr("{segment=\"seg-b\"} 20\n"));
}

TEST(MetricsRegistryTest, GaugeCallbackDropsSamplesWithBadLabelKeys) {
  MetricsRegistry registry;
  registry.AddGaugeCallback("mc_g", "G.", [](GaugeEmitter& emit) {
    emit.Emit({{"bad key", "x"}}, 1);
    emit.Emit({{"k", "a"}, {"k", "b"}}, 2);
    emit.Emit({{"k", "ok"}}, 3);
  });
  EXPECT_EQ(registry.RenderPrometheus(), "# HELP mc_g G.\n# TYPE mc_g gauge\nmc_g{k=\"ok\"} 3\n");
}

TEST(MetricsRegistryTest, GaugeCallbackMayRegisterMetricsWhileRendering) {
  MetricsRegistry registry;
  registry.AddGaugeCallback("mc_g", "G.", [&registry](GaugeEmitter& emit) {
    registry.AddCounter("mc_late", "Registered during a scrape.").Inc();
    emit.Emit({}, 1);
  });
  EXPECT_THAT(registry.RenderPrometheus(), HasSubstr("mc_g 1\n"));
  EXPECT_THAT(registry.RenderPrometheus(), HasSubstr("mc_late 1\n"));
}

TEST(MetricsRegistryTest, RemovedGaugeCallbackIsNotRendered) {
  MetricsRegistry registry;
  int calls = 0;
  registry.AddGaugeCallback("mc_g", "G.", [&calls](GaugeEmitter&) { ++calls; });
  EXPECT_THAT(registry.RenderPrometheus(), HasSubstr("mc_g"));
  registry.RemoveGaugeCallback("mc_g");
  registry.RemoveGaugeCallback("mc_unknown");
  EXPECT_EQ(registry.RenderPrometheus(), "");
  EXPECT_EQ(calls, 1);
}

TEST(MetricsRegistryTest, DefaultLatencyBucketsSpanFiveMicrosecondsToOneSecond) {
  const std::vector<double>& b = DefaultLatencyBuckets();
  ASSERT_GE(b.size(), 10u);
  EXPECT_DOUBLE_EQ(b.front(), 5e-6);
  EXPECT_DOUBLE_EQ(b.back(), 1.0);
  for (size_t i = 1; i < b.size(); ++i) {
    EXPECT_GT(b[i], b[i - 1]);
    EXPECT_LE(b[i], b[i - 1] * 2.5 + 1e-12);
  }
}

TEST(PrometheusTextTest, NamesAreValidated) {
  EXPECT_TRUE(IsValidMetricName("mc:put_total_2"));
  EXPECT_TRUE(IsValidMetricName("_x"));
  EXPECT_FALSE(IsValidMetricName(""));
  EXPECT_FALSE(IsValidMetricName("2x"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_TRUE(IsValidLabelName("segment_1"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_FALSE(IsValidLabelName("__name__"));
}

TEST(PrometheusTextTest, SpecialValuesUsePrometheusSpelling) {
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(FormatValue(1e15), "1e+15");
  EXPECT_EQ(FormatValue(123456), "123456");
  EXPECT_EQ(FormatValue(0.001), "0.001");
}

using MetricsRegistryDeathTest = ::testing::Test;

TEST_F(MetricsRegistryDeathTest, InvalidNameIsAProgrammerError) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  MetricsRegistry registry;
  EXPECT_DEATH(registry.AddCounter("bad-name", ""), "invalid metric name 'bad-name'");
  EXPECT_DEATH(registry.AddGauge("mc_g", "", {{"1k", "v"}}), "invalid label name '1k'");
  EXPECT_DEATH(registry.AddHistogram("mc_h", "", {}, {2, 1}), "strictly increasing");
  EXPECT_DEATH(registry.AddHistogram("mc_h", "", {{"le", "1"}}, {1}), "reserved");
}

TEST_F(MetricsRegistryDeathTest, SameNameAsAnotherKindIsAProgrammerError) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  MetricsRegistry registry;
  registry.AddCounter("mc_x", "");
  registry.AddHistogram("mc_h", "", {}, {1});
  EXPECT_DEATH(registry.AddGauge("mc_x", ""), "registered as counter, now as gauge");
  EXPECT_DEATH(registry.AddGaugeCallback("mc_x", "", [](GaugeEmitter&) {}), "already registered");
  EXPECT_DEATH(registry.AddHistogram("mc_h", "", {{"a", "b"}}, {2}), "other bounds");
  EXPECT_THAT(registry.RenderPrometheus(), Not(HasSubstr("gauge")));
}

}  // namespace
}  // namespace mooncake
