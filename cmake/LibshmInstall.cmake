# SPDX-License-Identifier: MIT
include(CMakePackageConfigHelpers)
set(LIBSHM_INSTALL_TARGETS libshm libshm_static)
if(TARGET libshm_heap)
  list(APPEND LIBSHM_INSTALL_TARGETS libshm_heap)
endif()
# Components (the Debian packages of cmake/LibshmPackage.cmake): runtime =
# what runs (shared libraries, the helper, the commands, man pages 1 and 8),
# dev = what builds against it (headers, static library, .so links, CMake
# package, libshm.pc, man pages 3; docs/man/CMakeLists.txt installs the pages).
install(TARGETS ${LIBSHM_INSTALL_TARGETS} EXPORT libshmTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime NAMELINK_COMPONENT dev
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS shmd RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/libshm COMPONENT runtime)
install(DIRECTORY libshm/include/libshm DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/libshm/generated/libshm/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/libshm COMPONENT dev)
install(EXPORT libshmTargets NAMESPACE libshm:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/libshm
        COMPONENT dev)
configure_package_config_file(cmake/libshmConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/libshmConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/libshm)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/libshmConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/libshmConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/libshmConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/libshm COMPONENT dev)
configure_file(cmake/libshm.pc.in ${CMAKE_CURRENT_BINARY_DIR}/libshm.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/libshm.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
        COMPONENT dev)
if(TARGET libshm_preload)
  install(TARGETS libshm_preload LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime)
  install(TARGETS shmrun shmstat RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
endif()
if(TARGET shmsim)
  install(TARGETS shmsim RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
endif()
include(cmake/LibshmPackage.cmake)
