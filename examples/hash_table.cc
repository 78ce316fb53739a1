// SPDX-License-Identifier: MIT
// A shared hash table eight times the memory limit, used by forked workers.
// Workers insert keys concurrently (lock-free, one CAS per slot), then each
// looks up another worker's keys. Most of the table is evicted at any time;
// libshm pages it in on access, in whichever process touches it.
//
//   LIBSHM_LIMIT=8M ./libshm_example_hash_table
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>

#include "libshm/libshm.hpp"

namespace {

constexpr int kWorkers = 4;
constexpr uint64_t kKeysPerWorker = 16000;

struct Slot {
  std::atomic<uint64_t> key;  // 0: empty
  uint64_t value;
};

uint64_t Hash(uint64_t k) {
  k ^= k >> 33;
  k *= 0xff51afd7ed558ccdull;
  return k ^ (k >> 33);
}
uint64_t KeyOf(int worker, uint64_t i) { return (static_cast<uint64_t>(worker) << 32) + i + 1; }

// Linear probing: claim the first empty slot with a CAS, or find the key.
Slot* Probe(Slot* table, uint64_t slots, uint64_t key, bool insert) {
  for (uint64_t h = Hash(key);; h++) {
    Slot& s = table[h % slots];
    uint64_t seen = s.key.load();
    if (seen == key) return &s;
    if (seen == 0) {
      if (!insert) return nullptr;
      if (s.key.compare_exchange_strong(seen, key) || seen == key) return &s;
    }
  }
}

// Runs fn(worker) in kWorkers forked children; true if all returned 0.
bool RunWorkers(const std::function<int(int)>& fn) {
  for (int w = 0; w < kWorkers; w++) {
    if (fork() == 0) _exit(fn(w));
  }
  bool ok = true;
  for (int status; wait(&status) > 0;) ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return ok;
}

}  // namespace

int main() {
  if (getenv("LIBSHM_LIMIT") == nullptr) setenv("LIBSHM_LIMIT", "8M", 1);
  uint64_t limit = 0;
  size_t len = sizeof(limit);
  int rc = libshm_ctl("opt.limit", &limit, &len, nullptr, 0);
  libshm::Region region;
  if (rc == 0) {
    region = libshm::Region(8 * limit);
    rc = region.error();
  }
  if (rc != 0) {
    fprintf(stderr, "hash_table: %s\n", strerror(-rc));
    return rc == -EPERM || rc == -ENOSYS ? 77 : 1;  // 77: skip
  }
  Slot* table = region.as<Slot>();
  const uint64_t slots = region.size() / sizeof(Slot);

  bool inserted = RunWorkers([&](int w) {
    for (uint64_t i = 0; i < kKeysPerWorker; i++) {
      Probe(table, slots, KeyOf(w, i), true)->value = KeyOf(w, i) * 3;
    }
    return 0;
  });
  bool found = RunWorkers([&](int w) {
    int other = (w + 1) % kWorkers;
    for (uint64_t i = 0; i < kKeysPerWorker; i++) {
      Slot* s = Probe(table, slots, KeyOf(other, i), false);
      if (s == nullptr || s->value != KeyOf(other, i) * 3) return 1;
    }
    return 0;
  });

  libshm_stats_t st;
  st.size = sizeof(st);
  bool ok =
      libshm_stats(&st) == 0 && inserted && found && st.peak_resident_bytes <= limit + (1 << 20);
  printf(
      "hash_table: %s: %d workers inserted and cross-checked %llu keys in a %llu MiB table "
      "under a %llu MiB limit; %llu pages swapped out, %llu in, peak resident %llu MiB\n",
      ok ? "PASS" : "FAIL", kWorkers, static_cast<unsigned long long>(kWorkers * kKeysPerWorker),
      static_cast<unsigned long long>(region.size() >> 20),
      static_cast<unsigned long long>(limit >> 20), static_cast<unsigned long long>(st.swap_outs),
      static_cast<unsigned long long>(st.swap_ins),
      static_cast<unsigned long long>(st.peak_resident_bytes >> 20));
  return ok ? 0 : 1;
}
