// SPDX-License-Identifier: MIT
// The raw floors for bench/fast: the least any userfaultfd pager can do per
// fault, with no pager around it.
//
// RawPager registers [base, base+len) of a memfd mapping on its own uffd and
// serves it from a handler that is either a forked process (the shape of
// libshm: faults are served by another process) or a thread of this process:
//   - kMissing: each MISSING fault is answered with one 4 KiB UFFDIO_COPY,
//     of zeros, or (with a file) of the 4 KiB the handler just pread() from
//     that file at the page's offset: "one raw uffd round trip + one pread";
//   - kWriteProtect: the range is registered MODE_WP and write-protected;
//     each WP fault is answered with UFFDIO_WRITEPROTECT mode 0 (which also
//     wakes the writer): "one raw synchronous WP round trip".
//   - kZeroCluster: a prototype of zero-fill clusters for random faults. The
//     range is cut into aligned clusters of `cluster` pages; the first
//     `threshold` - 1 faults in a cluster map just their page, the next one
//     maps every page of the cluster not mapped yet (UFFDIO_ZEROPAGE per run
//     of holes: writable zero pages, as libshm's write fill-ahead gives), or
//     with `copy` one UFFDIO_COPY from a zero buffer per run (what libshm's
//     fill-ahead does).
// The handler blocks in poll() on the uffd (the helper blocks in epoll).
//
// The process handler is a server forked by StartRawServer() before the
// program's first libshm call (so libshm's fork handlers never run for it);
// each RawPager hands it its uffd (and file) over a unix socket.
#ifndef LIBSHM_BENCH_FAST_RAW_UFFD_H_
#define LIBSHM_BENCH_FAST_RAW_UFFD_H_

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <atomic>
#include <thread>

namespace libshm_fast {

// Forks the handler server. Call once, before any libshm call and before
// any thread is started. Returns 0 or -errno.
// With cpu >= 0 the server runs on that CPU.
int StartRawServer(int cpu);
// The server's pid (for its CPU time), or -1.
pid_t RawServerPid();
// Handler threads started from now on run on `cpu` (-1: anywhere).
void SetHandlerThreadCpu(int cpu);

class RawPager {
 public:
  enum class Mode { kMissing, kWriteProtect, kZeroCluster };
  enum class Where { kProcess, kThread };

  RawPager() = default;
  ~RawPager() { Stop(); }
  RawPager(const RawPager&) = delete;
  RawPager& operator=(const RawPager&) = delete;

  // Registers and starts the handler. `file_fd` >= 0 (kMissing only): pread
  // 4 KiB from it at (fault address - base) before each copy. For
  // kWriteProtect the pages must already be populated; they are protected
  // here. Returns 0 or -errno.
  int Start(char* base, size_t len, Mode mode, Where where, int file_fd, uint32_t cluster = 1,
            uint32_t threshold = 1, bool copy = false);
  // Stops the handler (call only when no access can fault any more) and
  // closes the uffd (which unregisters the range).
  void Stop();
  // Faults served (a process handler reports its count at Stop).
  int64_t faults() const;

 private:
  char* base_ = nullptr;
  size_t len_ = 0;
  Mode mode_ = Mode::kMissing;
  Where where_ = Where::kProcess;
  int file_fd_ = -1;
  uint32_t cluster_ = 1, threshold_ = 1;
  bool copy_ = false;
  int uffd_ = -1;
  int stop_fd_ = -1;
  bool served_by_process_ = false;
  std::thread thread_;
  std::atomic<int64_t> faults_{0};
};

}  // namespace libshm_fast

#endif  // LIBSHM_BENCH_FAST_RAW_UFFD_H_
