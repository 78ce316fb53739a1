// SPDX-License-Identifier: MIT
// Built-in synthetic workloads, generated into a Trace from a spec such as
// "zipf:alpha=0.9,pages=10000,n=1000000,write=0.3,seed=7". Every workload is
// deterministic for its seed. docs/policies.md lists kinds and parameters.
#ifndef LIBSHM_BENCH_SIM_WORKLOAD_H_
#define LIBSHM_BENCH_SIM_WORKLOAD_H_

#include <string>

#include "trace.h"

namespace libshm::internal {

// Returns false and sets *error on an unknown kind, parameter or value.
bool MakeWorkload(const std::string& spec, Trace* trace, std::string* error);

// One line per kind with its parameters and defaults, for --help.
std::string WorkloadHelp();

}  // namespace libshm::internal

#endif  // LIBSHM_BENCH_SIM_WORKLOAD_H_
