# SPDX-License-Identifier: MIT
# Debian packages of the install components (cmake/LibshmInstall.cmake):
#   cpack -G DEB   (in the build tree) -> libshm_X.Y.Z_ARCH.deb, libshm-dev_X.Y.Z_ARCH.deb
# libshm holds the runtime component, libshm-dev the dev component and
# depends on the same version of libshm. Packages install under /usr; paths
# the binaries look up are relative to their own location first, but a
# build for distribution should still configure with -DCMAKE_INSTALL_PREFIX=/usr
# (the `package` preset) so that the compiled-in fallbacks and libshm.pc agree.
set(LIBSHM_PACKAGE_MAINTAINER "libshm maintainers <maintainers@libshm.invalid>"
    CACHE STRING "Maintainer field of the Debian packages")

set(CPACK_PACKAGE_NAME libshm)
set(CPACK_PACKAGE_VENDOR "libshm")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# The Debian synopsis of both packages (CPackDeb puts it before each
# component's description); Debian wants it short and lower case.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "evictable shared anonymous memory over userfaultfd")
set(CPACK_PACKAGE_CONTACT "${LIBSHM_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)  # debug info stays in the build tree

set(CPACK_GENERATOR DEB)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)  # libshm-dev: Depends: libshm (= X.Y.Z)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${LIBSHM_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libshm)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
# The ldconfig trigger that Debian wants beside CPack's ldconfig calls.
file(WRITE ${PROJECT_BINARY_DIR}/package/triggers "activate-noawait ldconfig\n")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA ${PROJECT_BINARY_DIR}/package/triggers)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
  "libshm manages MAP_SHARED|MAP_ANONYMOUS memory in user space with
userfaultfd: each region is backed by a session swap file and the session
keeps its resident memory under a limit by evicting pages.

This package holds the shared libraries, the helper shmd, the preload
library and the commands shmrun (run a program tree under one session),
shmstat (watch a session) and shmsim (the eviction-policy simulator).")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libshm-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DESCRIPTION
  "libshm manages MAP_SHARED|MAP_ANONYMOUS memory in user space with
userfaultfd.

This package holds the development files: the C and C++ headers, the
static library, the CMake package (find_package(libshm)), libshm.pc and
the man pages libshm(3) and libshm_ctl(3).")
if(TARGET libshm_heap)
  # The exported libshm::heap target links jemalloc by its .so link.
  set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS "libjemalloc-dev")
endif()

# CPackDeb runs `file` to find the shared objects for dpkg-shlibdeps and for
# DEBIAN/shlibs; without either tool the Depends are listed by hand.
find_program(LIBSHM_DPKG_SHLIBDEPS dpkg-shlibdeps)
find_program(LIBSHM_FILE_PROGRAM file)
if(LIBSHM_DPKG_SHLIBDEPS AND LIBSHM_FILE_PROGRAM)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
  # libshm_heap links libshm.so.0 of the same package.
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${PROJECT_BINARY_DIR}/libshm)
  # DEBIAN/shlibs for libshm.so.0 (and libshm_heap.so.0); only libshm has
  # shared objects.
  set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
else()
  message(STATUS "dpkg-shlibdeps or file not found (apt-get install dpkg-dev file): "
                 "the runtime package's Depends are listed by hand")
  set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "libc6 (>= 2.34), libstdc++6 (>= 11), libgcc-s1 (>= 3.0)")
  if(TARGET shmsim)
    string(APPEND CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS ", zlib1g")
  endif()
  if(TARGET libshm_heap)
    string(APPEND CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS ", libjemalloc2")
  endif()
endif()
include(CPack)
