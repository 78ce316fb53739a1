// SPDX-License-Identifier: MIT
// StartHostThread: the one way libshm starts a thread inside a host process
// (the helper watchdog; the engine with LIBSHM_HELPER_MODE=thread). Such a
// thread blocks every signal, so a process-directed signal always reaches one
// of the host's own threads: the kernel hands it to any thread that does not
// block it, and a host that blocks SIGCHLD to wait for it in sigsuspend would
// otherwise never see it (issue 9: an nginx master hung after SIGQUIT because
// the watchdog took its SIGCHLD). Signals the kernel directs at such a thread
// for its own faults (SIGSEGV, SIGBUS) are still delivered.
//
// The new thread inherits the creator's mask, so the creator blocks all,
// creates and restores its own mask; it never sees a signal in between
// because blocked signals stay pending. Thread-safe; async-signal-unsafe.
#ifndef LIBSHM_SRC_HOST_THREAD_H_
#define LIBSHM_SRC_HOST_THREAD_H_

#include <errno.h>
#include <pthread.h>
#include <signal.h>

#include <new>
#include <system_error>
#include <thread>
#include <utility>

namespace libshm::internal {

// Runs fn() on a new detached thread with every signal blocked.
// Returns 0 or -errno (the thread could not be created).
template <typename F>
int StartHostThread(F&& fn) noexcept {
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &saved);
  int rc = 0;
  try {
    std::thread(std::forward<F>(fn)).detach();
  } catch (const std::system_error& e) {
    rc = e.code().value() > 0 ? -e.code().value() : -EAGAIN;
  } catch (const std::bad_alloc&) {
    rc = -ENOMEM;
  }
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  return rc;
}

}  // namespace libshm::internal

#endif  // LIBSHM_SRC_HOST_THREAD_H_
