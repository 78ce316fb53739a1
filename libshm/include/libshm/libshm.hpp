// SPDX-License-Identifier: MIT
// Thin C++ RAII layer over libshm.h. No exceptions: construction reports
// failure through error(); a Region owns its mapping and unmaps it.
#ifndef LIBSHM_LIBSHM_HPP
#define LIBSHM_LIBSHM_HPP

#include <sys/mman.h>

#include <cstddef>
#include <utility>

#include "libshm/libshm.h"

namespace libshm {

class Region {
 public:
  Region() = default;
  explicit Region(size_t length, int prot = PROT_READ | PROT_WRITE, int flags = 0) noexcept
      : length_(length) {
    error_ = libshm_map(nullptr, length, prot, flags, &addr_);
    if (error_ != 0) {
      addr_ = nullptr;
      length_ = 0;
    }
  }
  ~Region() { reset(); }
  Region(Region&& o) noexcept
      : addr_(std::exchange(o.addr_, nullptr)),
        length_(std::exchange(o.length_, 0)),
        error_(o.error_) {}
  Region& operator=(Region&& o) noexcept {
    if (this != &o) {
      reset();
      addr_ = std::exchange(o.addr_, nullptr);
      length_ = std::exchange(o.length_, 0);
      error_ = o.error_;
    }
    return *this;
  }
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

  // 0 or -errno from the mapping.
  int error() const noexcept { return error_; }
  explicit operator bool() const noexcept { return addr_ != nullptr; }
  void* data() const noexcept { return addr_; }
  template <typename T>
  T* as() const noexcept {
    return static_cast<T*>(addr_);
  }
  size_t size() const noexcept { return length_; }

  // MS_SYNC writeback of the whole region (or a sub-range).
  int sync(size_t offset = 0, size_t length = 0, int flags = MS_SYNC) const noexcept {
    return libshm_msync(static_cast<char*>(addr_) + offset, length == 0 ? length_ - offset : length,
                        flags);
  }
  void reset() noexcept {
    if (addr_ != nullptr) libshm_unmap(addr_, length_);
    addr_ = nullptr;
    length_ = 0;
  }

 private:
  void* addr_ = nullptr;
  size_t length_ = 0;
  int error_ = 0;
};

}  // namespace libshm

#endif  // LIBSHM_LIBSHM_HPP
