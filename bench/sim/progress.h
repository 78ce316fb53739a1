// SPDX-License-Identifier: MIT
// Progress: a one-line progress bar on stderr for long runs. It draws only
// when stderr is a terminal, never in the first half second (short runs stay
// quiet), and at most ten times a second; callers report work in large
// chunks so the check costs nothing in the replay loop.
#ifndef LIBSHM_BENCH_SIM_PROGRESS_H_
#define LIBSHM_BENCH_SIM_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <string>

namespace libshm::internal {

class Progress {
 public:
  // `enabled` false silences it regardless of the terminal.
  Progress(uint64_t total_work, bool enabled);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void SetLabel(std::string label) { label_ = std::move(label); }
  void Add(uint64_t work);

 private:
  using Clock = std::chrono::steady_clock;
  uint64_t total_;
  uint64_t done_ = 0;
  bool active_;
  bool drawn_ = false;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_ = start_;
  std::string label_;
};

}  // namespace libshm::internal

#endif  // LIBSHM_BENCH_SIM_PROGRESS_H_
