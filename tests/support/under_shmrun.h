// SPDX-License-Identifier: MIT
// For test binaries that must run inside a session (the shim manages
// program objects and System V segments only there) but do not link libshm:
// main() calls ReexecUnderShmrun first, which runs the same binary, with the
// same arguments, under `shmrun --limit LIMIT --` unless it already is.
#ifndef LIBSHM_TESTS_SUPPORT_UNDER_SHMRUN_H_
#define LIBSHM_TESTS_SUPPORT_UNDER_SHMRUN_H_

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <vector>

namespace libshm::test {

// Returns only inside a session (false), or with 127 in *status if shmrun
// could not be run (true: main returns it).
inline bool ReexecUnderShmrun(int argc, char** argv, const char* shmrun, const char* limit,
                              int* status) {
  if (getenv("LIBSHM_SESSION") != nullptr) return false;
  std::vector<char*> args = {const_cast<char*>(shmrun), const_cast<char*>("--limit"),
                             const_cast<char*>(limit), const_cast<char*>("--")};
  static char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n > 0) {
    self[n] = '\0';
    args.push_back(self);
    for (int i = 1; i < argc; i++) args.push_back(argv[i]);
    args.push_back(nullptr);
    execv(shmrun, args.data());
    perror("execv shmrun");
  }
  *status = 127;
  return true;
}

}  // namespace libshm::test

#endif  // LIBSHM_TESTS_SUPPORT_UNDER_SHMRUN_H_
