// SPDX-License-Identifier: MIT
// C++ layer over libshm/heap.h: libshm::Heap owns a heap (RAII, no
// exceptions: failure is reported by error()), and libshm::HeapAllocator<T>
// puts standard containers in it.
//
// HeapAllocator::allocate throws std::bad_alloc when the heap is out of
// memory, as the standard Allocator requirements demand; that exception
// stays in C++ code, never crossing the C ABI.
#ifndef LIBSHM_HEAP_HPP
#define LIBSHM_HEAP_HPP

#include <cstddef>
#include <new>
#include <utility>

#include "libshm/heap.h"

namespace libshm {

class Heap {
 public:
  // max_bytes: cap on the heap's managed regions (0: none), see heap.h.
  explicit Heap(size_t max_bytes = 0) noexcept : error_(libshm_heap_create(max_bytes, &heap_)) {
    if (error_ != 0) heap_ = nullptr;
  }
  ~Heap() { libshm_heap_destroy(heap_); }
  Heap(Heap&& o) noexcept : heap_(std::exchange(o.heap_, nullptr)), error_(o.error_) {}
  Heap& operator=(Heap&& o) noexcept {
    if (this != &o) {
      libshm_heap_destroy(heap_);
      heap_ = std::exchange(o.heap_, nullptr);
      error_ = o.error_;
    }
    return *this;
  }
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  // 0 or -errno from libshm_heap_create.
  int error() const noexcept { return error_; }
  explicit operator bool() const noexcept { return heap_ != nullptr; }
  libshm_heap_t* get() const noexcept { return heap_; }

  void* malloc(size_t size) const noexcept { return libshm_heap_malloc(heap_, size); }
  void free(void* p) const noexcept { libshm_heap_free(heap_, p); }
  int purge() const noexcept { return libshm_heap_purge(heap_); }
  libshm_heap_stats_t stats() const noexcept {
    libshm_heap_stats_t s{};
    s.size = sizeof(s);
    libshm_heap_stats(heap_, &s);
    return s;
  }

 private:
  libshm_heap_t* heap_ = nullptr;
  int error_ = 0;
};

// A standard Allocator over a heap. Allocators compare equal when they use
// the same heap. pre: the heap outlives every container that uses it.
template <typename T>
class HeapAllocator {
 public:
  using value_type = T;

  explicit HeapAllocator(libshm_heap_t* heap) noexcept : heap_(heap) {}
  explicit HeapAllocator(const Heap& heap) noexcept : heap_(heap.get()) {}
  template <typename U>
  HeapAllocator(const HeapAllocator<U>& o) noexcept : heap_(o.heap()) {}

  T* allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T)) throw std::bad_array_new_length();
    void* p = alignof(T) <= alignof(std::max_align_t)
                  ? libshm_heap_malloc(heap_, n * sizeof(T))
                  : libshm_heap_aligned_alloc(heap_, alignof(T), n * sizeof(T));
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) noexcept { libshm_heap_free(heap_, p); }

  libshm_heap_t* heap() const noexcept { return heap_; }
  template <typename U>
  bool operator==(const HeapAllocator<U>& o) const noexcept {
    return heap_ == o.heap();
  }

 private:
  libshm_heap_t* heap_;
};

}  // namespace libshm

#endif  // LIBSHM_HEAP_HPP
