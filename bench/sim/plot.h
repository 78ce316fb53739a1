// SPDX-License-Identifier: MIT
// Plots of a TraceReport, drawn by gnuplot (Debian: gnuplot-nox): the
// miss-ratio curve (miss ratio against memory size, one line per policy)
// and, when faults were recorded per window, the miss ratio over time at
// each size. Data go to gnuplot inline on a pipe, so only the images are
// written.
#ifndef LIBSHM_BENCH_SIM_PLOT_H_
#define LIBSHM_BENCH_SIM_PLOT_H_

#include <string>
#include <vector>

#include "report.h"

namespace libshm::internal {

// True if a gnuplot executable is on PATH.
bool HaveGnuplot();

// Writes <dir>/<stem>-mrc.<ext> (when the report has two sizes or more) and
// <dir>/<stem>-time-<size>.<ext> (when it has windows); ext is "svg" or
// "png". Appends the paths written to *written. Returns false and sets
// *error if gnuplot fails.
bool WritePlots(const TraceReport& report, const std::string& dir, const std::string& ext,
                std::vector<std::string>* written, std::string* error);

}  // namespace libshm::internal

#endif  // LIBSHM_BENCH_SIM_PLOT_H_
