// SPDX-License-Identifier: MIT
// A plugin that maps shared memory from inside a library loaded with
// RTLD_DEEPBIND, as php-fpm loads opcache: DEEPBIND would bind this mmap to
// libc's, past the shim, unless the shim's dlopen clears the flag.
#include <sys/mman.h>

extern "C" __attribute__((visibility("default"))) void* plugin_map_shared(size_t len) {
  return mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
}
