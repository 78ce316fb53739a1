/* SPDX-License-Identifier: MIT */
/* A program built against an installed libshm: maps, writes, syncs. */
#include <libshm/libshm.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

int main(void) {
  void* p;
  int rc = libshm_map(NULL, 1 << 20, PROT_READ | PROT_WRITE, 0, &p);
  if (rc != 0) {
    fprintf(stderr, "libshm_map: %s\n", strerror(-rc));
    return 1;
  }
  memset(p, 7, 1 << 20);
  rc = libshm_msync(p, 1 << 20, MS_SYNC);
  printf("libshm %s: msync %d\n", libshm_version(), rc);
  return rc == 0 && ((char*)p)[12345] == 7 ? 0 : 1;
}
