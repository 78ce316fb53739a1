// SPDX-License-Identifier: MIT
// An unmodified program for the shmrun/shmstat tests: it maps shared
// anonymous memory with plain mmap, forks workers that write and verify it,
// optionally lets the kernel write into it (read(2) from a pipe), and exits 0
// only if every check passed. --children N first forks N children that each
// map, write and check a region of their own (before the parent maps).
//
//   shm_workload SIZE_MB WORKERS [--kernel-read] [--hold SECS] [--children N] [--exit N]
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr,
            "usage: %s SIZE_MB WORKERS [--kernel-read] [--hold SECS] [--children N] [--exit N]\n",
            argv[0]);
    return 2;
  }
  size_t size = static_cast<size_t>(atol(argv[1])) << 20;
  int workers = atoi(argv[2]);
  bool kernel_read = false;
  int hold = 0, exit_code = 0, children = 0;
  for (int i = 3; i < argc; i++) {
    if (strcmp(argv[i], "--kernel-read") == 0) kernel_read = true;
    if (strcmp(argv[i], "--hold") == 0 && i + 1 < argc) hold = atoi(argv[++i]);
    if (strcmp(argv[i], "--exit") == 0 && i + 1 < argc) exit_code = atoi(argv[++i]);
    if (strcmp(argv[i], "--children") == 0 && i + 1 < argc) children = atoi(argv[++i]);
  }
  const size_t page = 4096, pages = size / page;
  int bad = 0, status;
  for (int c = 0; c < children; c++) {
    if (fork() == 0) {
      auto* own = static_cast<char*>(
          mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
      if (own == MAP_FAILED) _exit(3);
      for (size_t p = 0; p < pages; p++) memcpy(own + p * page, &p, sizeof(p));
      for (size_t p = 0; p < pages; p++) {
        if (memcmp(own + p * page, &p, sizeof(p)) != 0) _exit(1);
      }
      _exit(0);
    }
  }
  while (wait(&status) > 0) bad += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  auto* mem = static_cast<char*>(
      mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  if (mem == MAP_FAILED) return 3;
  for (int w = 0; w < workers; w++) {
    if (fork() == 0) {
      for (size_t p = w; p < pages; p += workers) {
        uint64_t v = p * 31 + 7;
        memcpy(mem + p * page, &v, sizeof(v));
      }
      _exit(0);
    }
  }
  while (wait(&status) > 0) bad += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  for (size_t p = 0; p < pages; p++) {
    uint64_t v;
    memcpy(&v, mem + p * page, sizeof(v));
    bad += v != p * 31 + 7;
  }
  if (kernel_read) {
    // The kernel writes into a page that has long been evicted.
    int fds[2];
    if (pipe(fds) != 0 || write(fds[1], "kernel", 6) != 6) return 4;
    if (read(fds[0], mem + page, 6) != 6 || memcmp(mem + page, "kernel", 6) != 0) {
      perror("read into managed memory");
      bad++;
    }
  }
  if (hold > 0) sleep(static_cast<unsigned>(hold));
  printf("shm_workload: %zu MiB, %d workers, %d bad\n", size >> 20, workers, bad);
  return bad != 0 ? 1 : exit_code;
}
