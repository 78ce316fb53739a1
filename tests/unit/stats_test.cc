// SPDX-License-Identifier: MIT
#include "stats.h"

#include <gtest/gtest.h>

#include <algorithm>
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

TEST(PrintStats, BriefTableHasTheMainRowsAndTheHistogramOnly) {
  libshm_stats_t s{};
  s.limit_bytes = 64 << 20;
  s.swap_outs = 7;
  s.samples = 5;
  s.fault_us_hist[4] = 9;  // [8, 16) us
  snprintf(s.policy, sizeof(s.policy), "clock");
  std::string full, brief;
  PrintStats(s, false, Append, &full);
  PrintStatsBrief(s, Append, &brief);
  for (const char* row : {"limit_bytes", "peak_resident_bytes", "faults", "swap_ins", "swap_outs",
                          "writeback_bytes", "fault_ns_p50", "fault_ns_p99"}) {
    EXPECT_NE(brief.find(std::string("  ") + row + " "), std::string::npos) << row << "\n" << brief;
  }
  EXPECT_EQ(brief.find("samples"), std::string::npos) << brief;
  EXPECT_EQ(brief.find("clients"), std::string::npos) << brief;
  // The same rows as the full table, formatted by the same code.
  size_t at = full.find("  swap_outs ");
  ASSERT_NE(at, std::string::npos);
  std::string row = full.substr(at, full.find('\n', at) - at + 1);
  EXPECT_NE(brief.find(row), std::string::npos) << row;
  EXPECT_NE(brief.find(">=8: 9"), std::string::npos) << brief;
  EXPECT_EQ(brief.rfind("libshm stats (policy clock", 0), 0u) << brief;
  EXPECT_LT(std::count(brief.begin(), brief.end(), '\n'),
            std::count(full.begin(), full.end(), '\n'));
}

// The brief table fits an 80-column terminal, a full histogram included
// (the demo's summary).
TEST(PrintStats, BriefTableFitsEightyColumns) {
  libshm_stats_t s{};
  s.writeback_bytes = 1ull << 40;
  s.faults = 123456789012;
  for (uint64_t& b : s.fault_us_hist) b = 123456789;
  snprintf(s.policy, sizeof(s.policy), "clock");
  snprintf(s.mode, sizeof(s.mode), "restricted");
  std::string out;
  PrintStatsBrief(s, Append, &out);
  size_t start = 0, buckets = 0;
  for (size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    std::string line = out.substr(start, nl - start);
    EXPECT_LE(line.size(), 80u) << line;
    for (size_t at = 0; (at = line.find(": 123456789", at)) != std::string::npos; at++) buckets++;
  }
  EXPECT_EQ(buckets, static_cast<size_t>(LIBSHM_FAULT_HIST_BUCKETS)) << out;
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
  // The brief table: only the reasons seen, within 80 columns.
  std::string brief;
  PrintStatsBrief(s, Append, &brief);
  EXPECT_NE(brief.find("  native_shared_bytes{reason=\"hugetlb\"} 2.0MiB in 1 mapping\n"),
            std::string::npos)
      << brief;
  EXPECT_NE(brief.find("native_shared_bytes{reason=\"error\"} 12.0KiB in 2 mappings\n"),
            std::string::npos)
      << brief;
  EXPECT_EQ(brief.find("min_size"), std::string::npos) << brief;
  s.native_bytes[LIBSHM_NATIVE_NO_SESSION] = 1ull << 40;
  s.native_mappings[LIBSHM_NATIVE_NO_SESSION] = 123456789;
  brief.clear();
  PrintStatsBrief(s, Append, &brief);
  size_t at = brief.find("native_shared_bytes{reason=\"no_session\"}");
  ASSERT_NE(at, std::string::npos) << brief;
  EXPECT_LE(brief.find('\n', at) - brief.rfind('\n', at) - 1, 80u) << brief;
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
