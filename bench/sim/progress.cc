// SPDX-License-Identifier: MIT
#include "progress.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace libshm::internal {

Progress::Progress(uint64_t total_work, bool enabled)
    : total_(std::max<uint64_t>(1, total_work)), active_(enabled && isatty(STDERR_FILENO) == 1) {}

Progress::~Progress() {
  if (drawn_) std::fprintf(stderr, "\r\033[K");
}

void Progress::Add(uint64_t work) {
  done_ += work;
  if (!active_) return;
  Clock::time_point now = Clock::now();
  if (now - start_ < std::chrono::milliseconds(500) ||
      now - last_draw_ < std::chrono::milliseconds(100)) {
    return;
  }
  last_draw_ = now;
  constexpr int kWidth = 30;
  double fraction = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
  int filled = static_cast<int>(fraction * kWidth);
  char bar[kWidth + 1];
  for (int i = 0; i < kWidth; i++) bar[i] = i < filled ? '#' : '.';
  bar[kWidth] = '\0';
  std::fprintf(stderr, "\r\033[K[%s] %3d%% %s", bar, static_cast<int>(fraction * 100),
               label_.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace libshm::internal
