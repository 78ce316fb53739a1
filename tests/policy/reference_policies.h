// SPDX-License-Identifier: MIT
// Reference implementations for checking shmsim: FIFO, LRU, CLOCK and
// Belady's OPT written as plainly as possible with standard containers, sharing no code
// with libshm's policies or the simulator (not even the trace reader). They
// are slow and obviously correct; the exact policies have one right answer
// per trace and memory size, so any disagreement is a bug on one side.
#ifndef LIBSHM_TESTS_POLICY_REFERENCE_POLICIES_H_
#define LIBSHM_TESTS_POLICY_REFERENCE_POLICIES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace libshm::internal::reference {

struct Access {
  uint64_t page;
  bool write;
};

struct Counts {
  uint64_t misses = 0;
  uint64_t writebacks = 0;  // evictions of pages written since they faulted in
};

// Reads a one-page-per-line trace (gzip or plain) the simple way: skips
// blank lines and the '*' separators of the LIRS traces; no r/w column.
// Returns false if the file cannot be read or a line is not a number.
bool ReadPlainTrace(const std::string& path, std::vector<Access>* out);

Counts Fifo(const std::vector<Access>& trace, size_t capacity);
Counts Lru(const std::vector<Access>& trace, size_t capacity);
// CLOCK as the textbook gives it (Corbató 1968; Tanenbaum, "Modern
// Operating Systems", the clock page replacement algorithm): memory is a
// circle of `capacity` frames filled in order, with the hand on the first;
// a hit sets the page's reference bit; a miss with a free frame takes the
// next one; a miss with memory full looks at the frame under the hand: bit
// set, clear it and advance; bit clear, replace that frame's page with the
// new one and advance. A new page's bit is `insert_ref`. Appends each
// victim to `victims` when given.
Counts Clock(const std::vector<Access>& trace, size_t capacity, bool insert_ref,
             std::vector<uint64_t>* victims = nullptr);
// Write-backs are left at 0: which never-used-again page OPT evicts is a
// free choice, so its write-back count is not unique.
Counts Opt(const std::vector<Access>& trace, size_t capacity);

size_t DistinctPages(const std::vector<Access>& trace);

}  // namespace libshm::internal::reference

#endif  // LIBSHM_TESTS_POLICY_REFERENCE_POLICIES_H_
