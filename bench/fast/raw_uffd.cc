// SPDX-License-Identifier: MIT
#include "raw_uffd.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

namespace libshm_fast {
namespace {

struct Job {
  uint64_t base;
  uint64_t len;
  uint32_t mode;  // RawPager::Mode
  uint32_t has_file;
  uint32_t cluster, threshold;
  uint32_t copy;
};

int server_sock = -1;  // the parent's end
int thread_cpu = -1;
pid_t server_pid = -1;

void PinSelf(int cpu) {
  if (cpu < 0) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof(set), &set) != 0) {
    fprintf(stderr, "raw pager: cannot pin to CPU %d\n", cpu);
    abort();
  }
}

[[noreturn]] void Die(const char* what) {
  fprintf(stderr, "raw pager: %s: %s\n", what, strerror(errno));
  abort();
}

// Serves faults on `uffd` until `stop_fd` is readable. Returns the count.
int64_t Serve(int uffd, int stop_fd, const Job& job, int file_fd, std::atomic<int64_t>* counter) {
  alignas(4096) static thread_local char page[4096];
  memset(page, 0, sizeof(page));
  const uintptr_t base = job.base;
  const auto mode = static_cast<RawPager::Mode>(job.mode);
  const uint64_t pages = job.len / 4096;
  const uint64_t cl = job.cluster > 0 ? job.cluster : 1;
  std::vector<uint8_t> mapped(mode == RawPager::Mode::kZeroCluster ? pages : 0);
  std::vector<uint32_t> touches(mode == RawPager::Mode::kZeroCluster ? (pages + cl - 1) / cl : 0);
  std::vector<char> zeros(job.copy ? cl * 4096 : 0);
  auto zero = [&](uint64_t p0, uint64_t n) {
    if (job.copy) {
      struct uffdio_copy copy = {};
      copy.dst = base + p0 * 4096;
      copy.src = reinterpret_cast<uintptr_t>(zeros.data());
      copy.len = n * 4096;
      copy.mode = 0;
      if (ioctl(uffd, UFFDIO_COPY, &copy) != 0 && errno != EEXIST) Die("UFFDIO_COPY");
      memset(&mapped[p0], 1, n);
      return;
    }
    struct uffdio_zeropage zp = {};
    zp.range.start = base + p0 * 4096;
    zp.range.len = n * 4096;
    zp.mode = 0;
    if (ioctl(uffd, UFFDIO_ZEROPAGE, &zp) != 0 && errno != EEXIST) Die("UFFDIO_ZEROPAGE");
    memset(&mapped[p0], 1, n);
  };
  struct uffd_msg msgs[16];
  struct pollfd fds[2] = {{uffd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
  int64_t served = 0;
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      Die("poll");
    }
    if (fds[1].revents != 0) return served;
    ssize_t n = read(uffd, msgs, sizeof(msgs));
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      Die("read");
    }
    for (size_t i = 0; i < static_cast<size_t>(n) / sizeof(msgs[0]); i++) {
      if (msgs[i].event != UFFD_EVENT_PAGEFAULT) continue;
      uintptr_t addr = msgs[i].arg.pagefault.address & ~static_cast<uintptr_t>(4095);
      if (mode == RawPager::Mode::kZeroCluster) {
        uint64_t p = (addr - base) / 4096;
        if (mapped[p]) {  // mapped by a cluster fill after this fault was raised
          struct uffdio_range r = {addr, 4096};
          ioctl(uffd, UFFDIO_WAKE, &r);
        } else if (++touches[p / cl] < job.threshold) {
          zero(p, 1);
        } else {
          uint64_t c0 = p / cl * cl, c1 = c0 + cl < pages ? c0 + cl : pages;
          for (uint64_t a = c0; a < c1;) {
            if (mapped[a]) {
              a++;
              continue;
            }
            uint64_t b = a + 1;
            while (b < c1 && !mapped[b]) b++;
            zero(a, b - a);
            a = b;
          }
        }
      } else if (mode == RawPager::Mode::kWriteProtect) {
        struct uffdio_writeprotect wp = {};
        wp.range.start = addr;
        wp.range.len = 4096;
        wp.mode = 0;  // un-protect; wakes the writer
        if (ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) != 0) Die("UFFDIO_WRITEPROTECT");
      } else {
        if (file_fd >= 0 && pread(file_fd, page, sizeof(page), static_cast<off_t>(addr - base)) !=
                                static_cast<ssize_t>(sizeof(page))) {
          Die("pread");
        }
        struct uffdio_copy copy = {};
        copy.dst = addr;
        copy.src = reinterpret_cast<uintptr_t>(page);
        copy.len = 4096;
        copy.mode = 0;
        if (ioctl(uffd, UFFDIO_COPY, &copy) != 0 && errno != EEXIST) Die("UFFDIO_COPY");
      }
      served++;
      if (counter != nullptr) counter->fetch_add(1, std::memory_order_relaxed);
    }
  }
}

// Receives a job with up to two fds; returns the bytes read (0 on EOF).
ssize_t RecvJob(int sock, Job* job, int fds[2]) {
  char ctrl[CMSG_SPACE(2 * sizeof(int))];
  struct iovec iov = {job, sizeof(*job)};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctrl;
  msg.msg_controllen = sizeof(ctrl);
  ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  fds[0] = fds[1] = -1;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      memcpy(fds, CMSG_DATA(c), (k > 2 ? 2 : k) * sizeof(int));
    }
  }
  return n;
}

[[noreturn]] void ServerMain(int sock) {
  for (;;) {
    Job job;
    int fds[2];
    ssize_t n = RecvJob(sock, &job, fds);
    if (n <= 0) _exit(0);
    // The socket doubles as the stop signal: the next message ends the job.
    int64_t served = Serve(fds[0], sock, job, job.has_file ? fds[1] : -1, nullptr);
    char stop;
    if (read(sock, &stop, 1) != 1) _exit(0);
    close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    if (write(sock, &served, sizeof(served)) != sizeof(served)) _exit(0);
  }
}

}  // namespace

void SetHandlerThreadCpu(int cpu) { thread_cpu = cpu; }

pid_t RawServerPid() { return server_pid; }

int StartRawServer(int cpu) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return -errno;
  pid_t pid = fork();
  if (pid < 0) return -errno;
  if (pid == 0) {
    close(sv[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    PinSelf(cpu);
    ServerMain(sv[1]);
  }
  close(sv[1]);
  server_sock = sv[0];
  server_pid = pid;
  return 0;
}

int RawPager::Start(char* base, size_t len, Mode mode, Where where, int file_fd, uint32_t cluster,
                    uint32_t threshold, bool copy) {
  copy_ = copy;
  cluster_ = cluster;
  threshold_ = threshold;
  base_ = base;
  len_ = len;
  mode_ = mode;
  where_ = where;
  file_fd_ = file_fd;
  uffd_ = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
  if (uffd_ < 0) return -errno;
  struct uffdio_api api = {};
  api.api = UFFD_API;
  if (ioctl(uffd_, UFFDIO_API, &api) != 0) return -errno;
  struct uffdio_register reg = {};
  reg.range.start = reinterpret_cast<uintptr_t>(base);
  reg.range.len = len;
  reg.mode = mode == Mode::kWriteProtect ? UFFDIO_REGISTER_MODE_WP : UFFDIO_REGISTER_MODE_MISSING;
  if (ioctl(uffd_, UFFDIO_REGISTER, &reg) != 0) return -errno;
  if (mode == Mode::kWriteProtect) {
    struct uffdio_writeprotect wp = {};
    wp.range.start = reinterpret_cast<uintptr_t>(base);
    wp.range.len = len;
    wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
    if (ioctl(uffd_, UFFDIO_WRITEPROTECT, &wp) != 0) return -errno;
  }
  if (where == Where::kProcess) {
    if (server_sock < 0) return -ENOTCONN;
    Job job = {reinterpret_cast<uint64_t>(base),
               len,
               static_cast<uint32_t>(mode),
               file_fd >= 0 ? 1u : 0u,
               cluster,
               threshold,
               copy ? 1u : 0u};
    int fds[2] = {uffd_, file_fd};
    int nfds = file_fd >= 0 ? 2 : 1;
    char ctrl[CMSG_SPACE(2 * sizeof(int))] = {};
    struct iovec iov = {&job, sizeof(job)};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctrl;
    msg.msg_controllen = CMSG_SPACE(static_cast<size_t>(nfds) * sizeof(int));
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(static_cast<size_t>(nfds) * sizeof(int));
    memcpy(CMSG_DATA(c), fds, static_cast<size_t>(nfds) * sizeof(int));
    if (sendmsg(server_sock, &msg, 0) != static_cast<ssize_t>(sizeof(job))) return -errno;
    served_by_process_ = true;
    return 0;
  }
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  if (stop_fd_ < 0) return -errno;
  int cpu = thread_cpu;
  Job job = {reinterpret_cast<uint64_t>(base_),
             len_,
             static_cast<uint32_t>(mode_),
             file_fd_ >= 0 ? 1u : 0u,
             cluster_,
             threshold_,
             copy_ ? 1u : 0u};
  thread_ = std::thread([this, cpu, job] {
    PinSelf(cpu);
    Serve(uffd_, stop_fd_, job, file_fd_, &faults_);
  });
  return 0;
}

void RawPager::Stop() {
  if (served_by_process_) {
    char stop = 's';
    int64_t served = 0;
    if (write(server_sock, &stop, 1) != 1 ||
        read(server_sock, &served, sizeof(served)) != sizeof(served)) {
      Die("raw server stop");
    }
    faults_ = served;
    served_by_process_ = false;
  }
  if (thread_.joinable()) {
    uint64_t one = 1;
    if (write(stop_fd_, &one, sizeof(one)) != sizeof(one)) abort();
    thread_.join();
  }
  if (stop_fd_ >= 0) close(stop_fd_);
  if (uffd_ >= 0) close(uffd_);
  stop_fd_ = uffd_ = -1;
}

int64_t RawPager::faults() const { return faults_.load(std::memory_order_relaxed); }

}  // namespace libshm_fast
