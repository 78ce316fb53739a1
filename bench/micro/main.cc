// SPDX-License-Identifier: MIT
// libshm_micro: every libshm micro-benchmark with its baseline in the same
// run. The session limit defaults to 1 GiB (above every region here, so no
// eviction runs unless a benchmark asks for it); any LIBSHM_* variable set
// in the environment wins. Exits 1 if any benchmark's verification failed.
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>

#include "common.h"

namespace {

std::string CtlString(const char* name) {
  char buf[64] = {};
  size_t len = sizeof(buf);
  int rc = libshm_ctl(name, buf, &len, nullptr, 0);
  return rc == 0 ? std::string(buf) : std::string("error: ") + strerror(-rc);
}

uint64_t CtlNumber(const char* name) {
  uint64_t v = 0;
  size_t len = sizeof(v);
  return libshm_ctl(name, &v, &len, nullptr, 0) == 0 ? v : 0;
}

}  // namespace

int main(int argc, char** argv) {
  setenv("LIBSHM_LIMIT", "1G", /*overwrite=*/0);
  libshm_bench::RegisterCrossCpuBenchmarks();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;

  // Start the session (and its helper) before anything is timed.
  void* p = nullptr;
  int rc = libshm_map(nullptr, libshm_bench::kPageSize, PROT_READ | PROT_WRITE, 0, &p);
  if (rc != 0) {
    fprintf(stderr, "libshm_micro: libshm_map: %s\n", strerror(-rc));
    return 1;
  }
  libshm_unmap(p, libshm_bench::kPageSize);

  struct utsname u;
  uname(&u);
  benchmark::AddCustomContext("kernel", u.release);
  benchmark::AddCustomContext("libshm_version", libshm_version());
  benchmark::AddCustomContext("libshm_mode", CtlString("kernel.mode"));
  benchmark::AddCustomContext("libshm_helper_mode", CtlString("opt.helper_mode"));
  benchmark::AddCustomContext("libshm_policy", CtlString("evict.policy"));
  benchmark::AddCustomContext("libshm_limit", std::to_string(CtlNumber("opt.limit")));
  benchmark::AddCustomContext("libshm_swap_dir", CtlString("opt.swap_dir"));
  Dl_info info;
  if (dladdr(reinterpret_cast<void*>(&libshm_version), &info) != 0 && info.dli_fname != nullptr) {
    benchmark::AddCustomContext("libshm_library", info.dli_fname);
  }

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return libshm_bench::AnyFailure() ? 1 : 0;
}
