// SPDX-License-Identifier: MIT
#include "workload.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <boost/interprocess/containers/map.hpp>
#include <optional>

#include "libshm/segment.hpp"

namespace libshm_bench {
namespace {

namespace bip = boost::interprocess;

// 48 bytes of payload: with the tree links and the allocator's header a
// node takes about 96 bytes, so a page holds some forty entries.
struct Value {
  uint64_t check;
  uint64_t pad[5];
};
using Entry = std::pair<const uint64_t, Value>;
using Map = bip::map<uint64_t, Value, std::less<uint64_t>, libshm::Segment::Allocator<Entry>>;

double Now() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Forks config.readers processes that each look up config.lookups keys and
// check them; *slowest is the longest reader's time, measured in the reader
// (fork and exit are not timed).
int Readers(const Map* map, uint64_t entries, const WorkloadConfig& config, bool hot,
            double* slowest) {
  size_t bytes = sizeof(double) * static_cast<size_t>(config.readers);
  void* shared = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) return -errno;
  auto* secs = static_cast<double*>(shared);
  const uint64_t hot_span = std::max<uint64_t>(entries / 10, 1);
  const uint64_t hot_start = Mix(config.seed) % (entries - hot_span + 1);
  int rc = 0;
  for (int r = 0; r < config.readers && rc == 0; r++) {
    pid_t pid = fork();
    if (pid < 0) rc = -errno;
    if (pid != 0) continue;
    uint64_t state = Mix(config.seed * 131 + static_cast<uint64_t>(r) * 7 + hot);
    uint64_t bad = 0;
    double t0 = Now();
    for (uint64_t i = 0; i < config.lookups; i++) {
      uint64_t x = Mix(state++);
      uint64_t key = hot && x % 10 != 0 ? hot_start + (x >> 8) % hot_span : (x >> 8) % entries;
      auto it = map->find(key);
      bad += it == map->end() || it->second.check != Mix(key);
    }
    secs[r] = Now() - t0;
    _exit(bad == 0 ? 0 : 1);
  }
  for (int status; wait(&status) > 0;) {
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) rc = -ECHILD;
  }
  *slowest = *std::max_element(secs, secs + config.readers);
  munmap(shared, bytes);
  return rc;
}

}  // namespace

int RunWorkload(void* mem, size_t size, const WorkloadConfig& config, PhaseTimes* out) {
  std::optional<libshm::Segment::Buffer> buffer;
  Map* map = nullptr;
  int rc = libshm::Segment::Run([&] {
    buffer.emplace(bip::create_only, mem, size);
    map = buffer->construct<Map>("map")(buffer->get_segment_manager());
  });
  if (rc != 0) return rc;

  // Build: ascending keys, so the tree grows at its right edge and memory
  // is written in address order.
  uint64_t entries = 0;
  const size_t target = static_cast<size_t>(config.fill * static_cast<double>(size));
  double t0 = Now();
  rc = libshm::Segment::Run([&] {
    while (size - buffer->get_free_memory() < target) {
      for (int i = 0; i < 1024; i++, entries++) {
        map->emplace_hint(map->end(), entries, Value{Mix(entries), {}});
      }
    }
  });
  out->build_s = Now() - t0;
  out->entries = entries;
  if (rc != 0) return rc;

  uint64_t expect = 0;
  for (uint64_t k = 0; k < entries; k++) expect += Mix(k);
  t0 = Now();
  uint64_t sum = 0, count = 0;
  for (const Entry& e : *map) {
    sum += e.second.check;
    count++;
  }
  out->scan_s = Now() - t0;
  if (sum != expect || count != entries) return -EIO;

  rc = Readers(map, entries, config, false, &out->uniform_s);
  if (rc == 0) rc = Readers(map, entries, config, true, &out->hot_s);
  return rc;
}

}  // namespace libshm_bench
