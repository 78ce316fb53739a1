// SPDX-License-Identifier: MIT
// Live runs for shmlive: one workload under one policy at one limit, in a
// fresh process with a fresh session (its own helper), so no run inherits
// another's resident pages, swap file or policy state.
//
// Two kinds of run:
//  - a replay: the child maps one managed region of `distinct` pages and
//    touches the page of every reference in order (a read or a write), on
//    one thread, then reads the session's stats before it unmaps;
//  - a command: `shmrun --limit ... --policy ... --stats=FILE -- CMD...`,
//    whose session-end stats JSON is read back.
// Either way the result is a flat map of field name to text value; the
// field names are the libshm_stats_t names plus the replay's own
// (requests, wall_s, client_*). The parent never calls libshm itself.
#ifndef LIBSHM_BENCH_LIVE_LIVE_RUNNER_H_
#define LIBSHM_BENCH_LIVE_LIVE_RUNNER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "trace.h"

namespace libshm::internal {

// The LIBSHM_* settings of one run. Empty strings keep the runtime's
// default (the variable is removed from the child's environment).
struct LiveSettings {
  std::string policy;
  uint64_t limit_bytes = 0;
  std::string sample_rate;
  std::string low_watermark;
  std::string evict_batch;
  std::string cluster;
  std::string record;      // LIBSHM_TRACE path, or empty
  double timeout_s = 600;  // the run is killed after this long
};

using Fields = std::map<std::string, std::string>;

// Spawns `argv` (argv[0] is the program path) with the settings in its
// environment, in its own process group, and collects the `key=value`
// words it prints on stdout. Returns false and sets *error if the program
// cannot start, exits non-zero, is killed, or outlives timeout_s.
bool RunChild(const std::vector<std::string>& argv, const LiveSettings& settings, Fields* fields,
              std::string* error);

// Runs `command` under shmrun (at `shmrun_path`) with the settings and
// returns shmrun's session-end stats plus wall_s (the command's wall time).
bool RunCommand(const std::string& shmrun_path, const std::vector<std::string>& command,
                const LiveSettings& settings, Fields* fields, std::string* error);

// The child side of a replay: maps the region, replays `trace` onto it and
// prints one line of `key=value` words on stdout. Returns the exit status:
// 0, or 1 (with a message on stderr) if the region cannot be mapped or a
// page read back differs from what the replay last wrote there.
// client_timing: time every access on the client side (two clock reads per
// reference) and report the slow ones (faults) as client_stall_*.
int ReplayInThisProcess(const Trace& trace, bool client_timing);

// Parses the flat JSON object libshm writes (LIBSHM_STATS_FILE): numbers and
// strings only. Returns false on anything else.
bool ParseFlatJson(const std::string& text, Fields* fields);

}  // namespace libshm::internal

#endif  // LIBSHM_BENCH_LIVE_LIVE_RUNNER_H_
