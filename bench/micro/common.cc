// SPDX-License-Identifier: MIT
#include "common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>

namespace libshm_bench {
namespace {

bool any_failure = false;

}  // namespace

Mapping::Mapping(Backend backend, size_t bytes) : backend_(backend), bytes_(bytes) {
  if (backend == Backend::kLibshm) {
    void* p = nullptr;
    error_ = libshm_map(nullptr, bytes, PROT_READ | PROT_WRITE, 0, &p);
    if (error_ == 0) data_ = static_cast<char*>(p);
  } else {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      error_ = -errno;
    } else {
      data_ = static_cast<char*>(p);
    }
  }
}

Mapping::~Mapping() { Unmap(); }

int Mapping::Unmap() {
  if (data_ == nullptr) return 0;
  int rc = backend_ == Backend::kLibshm ? libshm_unmap(data_, bytes_)
                                        : (munmap(data_, bytes_) == 0 ? 0 : -errno);
  data_ = nullptr;
  return rc;
}

bool CheckPage(const uint64_t* p, uint64_t page, uint64_t gen) {
  uint64_t v = Stamp(page, gen);
  for (size_t j = 0; j < kWordsPerPage; j++) {
    if (p[j] != v + j) return false;
  }
  return true;
}

const std::vector<uint32_t>& Permutation(size_t pages) {
  static std::map<size_t, std::vector<uint32_t>> cache;
  auto it = cache.find(pages);
  if (it != cache.end()) return it->second;
  std::vector<uint32_t> v(pages);
  for (size_t i = 0; i < pages; i++) v[i] = static_cast<uint32_t>(i);
  std::mt19937_64 rng(pages * 2654435761u + 17);
  std::shuffle(v.begin(), v.end(), rng);
  return cache.emplace(pages, std::move(v)).first->second;
}

std::vector<uint32_t> Sample(size_t pages, size_t count) {
  const auto& perm = Permutation(pages);
  count = std::min(count, pages);
  std::vector<uint32_t> out(perm.begin(), perm.begin() + static_cast<long>(count));
  // Always include the first and the last page.
  if (count >= 2) {
    out[0] = 0;
    out[1] = static_cast<uint32_t>(pages - 1);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void Latencies::Report(benchmark::State& state) {
  if (ns_.empty()) return;
  std::vector<uint32_t> v = ns_;
  auto at = [&](double q) {
    size_t k = static_cast<size_t>(q * static_cast<double>(v.size() - 1));
    std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
    return static_cast<double>(v[k]) / 1000.0;
  };
  state.counters["p50_us"] = at(0.50);
  state.counters["p99_us"] = at(0.99);
}

bool ReadStats(benchmark::State& state, libshm_stats_t* out) {
  memset(out, 0, sizeof(*out));
  out->size = sizeof(*out);
  int rc = libshm_stats(out);
  if (rc != 0) {
    Fail(state, "libshm_stats: %s", strerror(-rc));
    return false;
  }
  return true;
}

bool EvictAll(benchmark::State& state) {
  uint64_t zero = 0;
  int rc = libshm_ctl("evict.run", nullptr, nullptr, &zero, sizeof(zero));
  if (rc != 0) {
    Fail(state, "libshm_ctl(evict.run, 0): %s", strerror(-rc));
    return false;
  }
  libshm_stats_t s;
  if (!ReadStats(state, &s)) return false;
  if (s.resident_bytes != 0) {
    Fail(state, "evict.run 0 left resident_bytes=%llu", (unsigned long long)s.resident_bytes);
    return false;
  }
  return true;
}

void Fail(benchmark::State& state, const char* fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  fprintf(stderr, "BENCH-FAILURE: %s\n", msg);
  any_failure = true;
  state.SkipWithError(msg);
}

bool AnyFailure() { return any_failure; }

void ReportSize(benchmark::State& state, size_t bytes) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
  state.counters["bytes"] = static_cast<double>(bytes);
  state.counters["pages"] = static_cast<double>(bytes / kPageSize);
}

bool ExpectNothingResident(benchmark::State& state, const char* when) {
  libshm_stats_t s;
  for (int i = 0; i < 100; i++) {
    if (!ReadStats(state, &s)) return false;
    if (s.resident_bytes == 0 && s.regions == 0) return true;
    usleep(10000);
  }
  Fail(state, "%s: resident_bytes=%llu regions=%llu one second after unmap", when,
       (unsigned long long)s.resident_bytes, (unsigned long long)s.regions);
  return false;
}

}  // namespace libshm_bench
