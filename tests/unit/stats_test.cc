// SPDX-License-Identifier: MIT
#include "stats.h"

#include <gtest/gtest.h>

#include <string>

namespace libshm::internal {
namespace {

TEST(LatencyHistogram, PercentilesWithinABucket) {
  LatencyHistogram h;
  EXPECT_EQ(h.Percentile(50), 0u);
  for (uint64_t i = 1; i <= 1000; i++) h.Record(i * 1000);  // 1..1000 us
  EXPECT_EQ(h.count(), 1000u);
  uint64_t p50 = h.Percentile(50), p99 = h.Percentile(99);
  EXPECT_GE(p50, 500000u * 7 / 8);
  EXPECT_LE(p50, 500000u * 9 / 8);
  EXPECT_GE(p99, 990000u * 7 / 8);
  EXPECT_LE(p99, 990000u * 9 / 8);
  EXPECT_LE(h.Percentile(0), h.Percentile(100));
}

TEST(LatencyHistogram, FoldsIntoPowerOfTwoMicroseconds) {
  LatencyHistogram h;
  h.Record(500);       // < 1 us
  h.Record(1500);      // [1, 2) us
  h.Record(3000);      // [2, 4) us
  h.Record(3500);      // [2, 4) us
  h.Record(10000000);  // 10 ms: [8192, 16384) us
  uint64_t out[LIBSHM_FAULT_HIST_BUCKETS];
  h.Log2Microseconds(out, LIBSHM_FAULT_HIST_BUCKETS);
  EXPECT_EQ(out[0], 1u);
  EXPECT_EQ(out[1], 1u);
  EXPECT_EQ(out[2], 2u);
  EXPECT_EQ(out[14], 1u);
  uint64_t total = 0;
  for (uint64_t v : out) total += v;
  EXPECT_EQ(total, 5u);
  h.Record(uint64_t{1} << 40);  // beyond the last bucket: counted in it
  h.Log2Microseconds(out, LIBSHM_FAULT_HIST_BUCKETS);
  EXPECT_EQ(out[LIBSHM_FAULT_HIST_BUCKETS - 1], 1u);
}

void Append(void* s, const char* text) { static_cast<std::string*>(s)->append(text); }

TEST(PrintStats, JsonHasTheContractKeys) {
  libshm_stats_t s{};
  s.resident_bytes = 12345;
  s.swap_outs = 7;
  snprintf(s.policy, sizeof(s.policy), "clock");
  std::string out;
  PrintStats(s, true, Append, &out);
  for (const char* key :
       {"regions", "limit_bytes", "resident_bytes", "peak_resident_bytes", "faults", "swap_ins",
        "swap_outs", "writeback_bytes", "zero_fills", "wp_faults", "policy"}) {
    EXPECT_NE(out.find(std::string("\"") + key + "\""), std::string::npos) << key;
  }
  EXPECT_NE(out.find("\"resident_bytes\": 12345"), std::string::npos);
  EXPECT_NE(out.find("\"policy\": \"clock\""), std::string::npos);
  EXPECT_EQ(out.front(), '{');
  EXPECT_NE(out.find("\"fault_us_hist\": [0, "), std::string::npos) << out;
}

TEST(StatByName, KnownAndUnknown) {
  libshm_stats_t s{};
  s.faults = 42;
  uint64_t v = 0;
  EXPECT_TRUE(StatByName(s, "faults", &v));
  EXPECT_EQ(v, 42u);
  EXPECT_FALSE(StatByName(s, "nope", &v));
}

TEST(PrintStats, NativeSharedMemoryByReasonInBothFormats) {
  libshm_stats_t s{};
  s.native_bytes[LIBSHM_NATIVE_HUGETLB] = 2 << 20;
  s.native_mappings[LIBSHM_NATIVE_HUGETLB] = 1;
  s.native_bytes[LIBSHM_NATIVE_ERROR] = 3 * 4096;
  s.native_mappings[LIBSHM_NATIVE_ERROR] = 2;
  std::string json, table;
  PrintStats(s, true, Append, &json);
  PrintStats(s, false, Append, &table);
  EXPECT_NE(json.find("\"native_shared_bytes\": {\"hugetlb\": 2097152, \"flags\": 0, "
                      "\"min_size\": 0, \"error\": 12288, \"no_session\": 0}"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"native_shared_mappings\": {\"hugetlb\": 1, \"flags\": 0, "
                      "\"min_size\": 0, \"error\": 2, \"no_session\": 0}"),
            std::string::npos)
      << json;
  EXPECT_EQ(json.substr(json.size() - 2), "}\n") << json;
  EXPECT_NE(table.find("native_shared_bytes{reason=\"hugetlb\"} 2097152  2.0 MiB  1  MAP_HUGETLB"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("native_shared_bytes{reason=\"error\"} 12288"), std::string::npos) << table;
  for (int r = 0; r < LIBSHM_NATIVE_REASONS; r++) {
    ASSERT_NE(NativeReasonName(r), nullptr);
    EXPECT_NE(table.find(std::string("{reason=\"") + NativeReasonName(r) + "\"}"),
              std::string::npos)
        << r;
  }
  EXPECT_EQ(NativeReasonName(LIBSHM_NATIVE_REASONS), nullptr);
  EXPECT_EQ(NativeReasonName(-1), nullptr);
}

TEST(StatByName, NativeSharedMemoryByReason) {
  libshm_stats_t s{};
  s.native_bytes[LIBSHM_NATIVE_MIN_SIZE] = 8192;
  s.native_mappings[LIBSHM_NATIVE_MIN_SIZE] = 2;
  uint64_t v = 0;
  EXPECT_TRUE(StatByName(s, "native_shared_bytes.min_size", &v));
  EXPECT_EQ(v, 8192u);
  EXPECT_TRUE(StatByName(s, "native_shared_mappings.min_size", &v));
  EXPECT_EQ(v, 2u);
  EXPECT_TRUE(StatByName(s, "native_shared_bytes.no_session", &v));
  EXPECT_EQ(v, 0u);
  EXPECT_FALSE(StatByName(s, "native_shared_bytes.nope", &v));
  EXPECT_FALSE(StatByName(s, "native_shared_bytes.", &v));
}

}  // namespace
}  // namespace libshm::internal
