// SPDX-License-Identifier: MIT
// Boost.Interprocess named objects in a managed region: the parent creates a
// map and a process-shared mutex by name; forked workers find them by name
// and update the map under the mutex. Boost errors arrive as -errno codes.
//
//   ./libshm_example_named_objects
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/interprocess/containers/map.hpp>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>
#include <cstdint>

#include "libshm/segment.hpp"

namespace bip = boost::interprocess;
using Map = bip::map<int, uint64_t, std::less<int>,
                     libshm::Segment::Allocator<std::pair<const int, uint64_t>>>;

int main() {
  constexpr int kWorkers = 4, kBuckets = 10, kItems = 10000;
  libshm::Segment segment(4 << 20);
  if (!segment) {
    fprintf(stderr, "named_objects: %s\n", strerror(-segment.error()));
    return segment.error() == -EPERM || segment.error() == -ENOSYS ? 77 : 1;  // 77: skip
  }
  Map* map;
  bip::interprocess_mutex* mutex;
  if (segment.Construct("histogram", &map, segment.manager()) != 0 ||
      segment.Construct("histogram-lock", &mutex) != 0) {
    return 1;
  }
  for (int w = 0; w < kWorkers; w++) {
    if (fork() != 0) continue;
    // A worker knows only the names.
    Map* m;
    bip::interprocess_mutex* mu;
    if (segment.Find("histogram", &m) != 0 || segment.Find("histogram-lock", &mu) != 0) _exit(1);
    int rc = libshm::Segment::Run([&] {  // a full segment would throw: made -ENOMEM here
      for (int i = w; i < kItems; i += kWorkers) {
        bip::scoped_lock<bip::interprocess_mutex> lock(*mu);
        (*m)[i % kBuckets]++;
      }
    });
    _exit(rc == 0 ? 0 : 2);
  }
  bool ok = true;
  for (int status; wait(&status) > 0;) ok = ok && WIFEXITED(status) && WEXITSTATUS(status) == 0;

  for (const auto& [bucket, count] : *map) {
    printf("named_objects: bucket %d: %llu\n", bucket, static_cast<unsigned long long>(count));
    ok = ok && count == kItems / kBuckets;
  }
  Map* missing;
  int rc = segment.Find("no-such-name", &missing);
  printf("named_objects: Find(\"no-such-name\") = %d (%s)\n", rc, strerror(-rc));
  ok = ok && map->size() == kBuckets && rc == -ENOENT;
  printf("named_objects: %s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
