// SPDX-License-Identifier: MIT
// heap_noretain_test is heap_test with jemalloc's opt.retain off, set through
// the malloc_conf symbol that jemalloc reads at start-up. With retain on (the
// default), jemalloc asks the extent hooks only for page-aligned extents that
// it grows geometrically; with it off, it asks for every extent with that
// extent's own alignment, which is the path of ExtentSource that trims a
// larger reservation to an aligned region.
#include <jemalloc/jemalloc.h>

const char* malloc_conf = "retain:false";
