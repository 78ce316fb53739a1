// SPDX-License-Identifier: MIT
// libshm::Segment: a Boost.Interprocess managed segment in a managed region.
//
// The segment's memory is a libshm::Region, so it is evictable under the
// session limit and shared with forked children at the same address. In it,
// Boost keeps named objects, containers (whose allocators use offset_ptr)
// and process-shared mutexes. Header-only: include it with the Boost headers
// (Debian libboost-dev) and link libshm::libshm.
//
// Errors: Boost.Interprocess reports failure by throwing. Every Boost call a
// Segment makes goes through Run(), the one place that catches, and comes
// out as 0 or -errno; Run() is public so that container operations (which
// may run out of segment memory) go through it too. Nothing throws out of a
// Segment.
//
// Fork: create the segment, then fork; parent and children then use the
// same Segment object and find named objects by name. Allocation in the
// segment is guarded by Boost's process-shared mutex (which is why this is
// not Boost's managed_external_buffer typedef: that one uses null mutexes).
// Thread- and process-safe as far as Boost's segment manager is; containers
// need a lock of the user's (an interprocess_mutex in the segment).
#ifndef LIBSHM_SEGMENT_HPP
#define LIBSHM_SEGMENT_HPP

#include <errno.h>

#include <boost/interprocess/allocators/allocator.hpp>
#include <boost/interprocess/exceptions.hpp>
#include <boost/interprocess/managed_external_buffer.hpp>
#include <boost/interprocess/mem_algo/rbtree_best_fit.hpp>
#include <boost/interprocess/sync/mutex_family.hpp>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "libshm/libshm.hpp"

namespace libshm {

class Segment {
 public:
  // Process-shared mutexes around allocation and the name index.
  using Buffer = boost::interprocess::basic_managed_external_buffer<
      char, boost::interprocess::rbtree_best_fit<boost::interprocess::mutex_family>,
      boost::interprocess::iset_index>;
  using Manager = Buffer::segment_manager;
  // The allocator for containers in the segment (its pointer is offset_ptr).
  template <typename T>
  using Allocator = boost::interprocess::allocator<T, Manager>;

  Segment() = default;
  // Maps a managed region of `size` bytes and creates the segment in it.
  // error(): -EINVAL if size is below the segment's fixed overhead, or the
  // errors of libshm_map.
  explicit Segment(size_t size) noexcept : region_(size) {
    error_ = region_.error();
    if (error_ == 0 && size < Manager::get_min_size()) error_ = -EINVAL;
    if (error_ == 0) {
      error_ =
          Run([&] { buffer_.emplace(boost::interprocess::create_only, region_.data(), size); });
    }
    if (error_ != 0) {
      buffer_.reset();
      region_.reset();
    }
  }
  Segment(Segment&&) noexcept = default;
  Segment& operator=(Segment&&) noexcept = default;

  // 0 or -errno from the construction.
  int error() const noexcept { return error_; }
  explicit operator bool() const noexcept { return buffer_.has_value(); }
  const Region& region() const noexcept { return region_; }
  // pre: *this is true.
  Manager* manager() noexcept { return buffer_->get_segment_manager(); }
  size_t free_memory() const noexcept { return buffer_ ? buffer_->get_free_memory() : 0; }

  // Runs fn(), converting any exception it throws to -errno: -ENOMEM when
  // the segment (or memory) is exhausted, -EEXIST/-ENOENT for names, the
  // native errno of a failed system call, -EIO for other library errors.
  // Returns fn()'s result if it returns int, else 0.
  template <typename F>
  static int Run(F&& fn) noexcept {
    namespace bip = boost::interprocess;
    try {
      if constexpr (std::is_same_v<std::invoke_result_t<F>, int>) {
        return std::forward<F>(fn)();
      } else {
        std::forward<F>(fn)();
        return 0;
      }
    } catch (const bip::bad_alloc&) {
      return -ENOMEM;
    } catch (const bip::interprocess_exception& e) {
      if (e.get_native_error() > 0) return -e.get_native_error();
      switch (e.get_error_code()) {
        case bip::already_exists_error:
          return -EEXIST;
        case bip::not_found_error:
        case bip::not_such_file_or_directory:
          return -ENOENT;
        case bip::out_of_memory_error:
        case bip::out_of_space_error:
        case bip::size_error:
          return -ENOMEM;
        case bip::busy_error:
          return -EBUSY;
        case bip::invalid_argument:
          return -EINVAL;
        case bip::lock_error:
          return -EDEADLK;
        case bip::owner_dead_error:
          return -EOWNERDEAD;
        default:
          return -EIO;
      }
    } catch (const std::bad_alloc&) {
      return -ENOMEM;
    } catch (const std::length_error&) {
      return -ENOMEM;
    } catch (const std::out_of_range&) {
      return -ENOENT;  // e.g. map::at of an absent key
    } catch (const std::exception&) {
      return -EIO;
    }
  }

  // Constructs a T named `name` from args. -EEXIST if the name is taken.
  template <typename T, typename... Args>
  int Construct(const char* name, T** out, Args&&... args) noexcept {
    if (!buffer_) return -EINVAL;
    return Run([&] { *out = buffer_->construct<T>(name)(std::forward<Args>(args)...); });
  }

  // The T named `name`, constructed from args if absent (atomically: one of
  // several processes racing constructs it, the others find it).
  template <typename T, typename... Args>
  int FindOrConstruct(const char* name, T** out, Args&&... args) noexcept {
    if (!buffer_) return -EINVAL;
    return Run([&] { *out = buffer_->find_or_construct<T>(name)(std::forward<Args>(args)...); });
  }

  // The T named `name`. -ENOENT if there is none.
  template <typename T>
  int Find(const char* name, T** out) noexcept {
    if (!buffer_) return -EINVAL;
    return Run([&] {
      *out = buffer_->find<T>(name).first;
      return *out != nullptr ? 0 : -ENOENT;
    });
  }

  // Destroys the T named `name` and frees its memory. -ENOENT if absent.
  template <typename T>
  int Destroy(const char* name) noexcept {
    if (!buffer_) return -EINVAL;
    return Run([&] { return buffer_->destroy<T>(name) ? 0 : -ENOENT; });
  }

 private:
  // Declared first so that the segment is closed before its memory goes.
  Region region_;
  std::optional<Buffer> buffer_;
  int error_ = 0;
};

}  // namespace libshm

#endif  // LIBSHM_SEGMENT_HPP
