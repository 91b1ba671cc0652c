# Raspberry Pi OS / Debian armhf (32-bit OS on any Pi from the Pi 2 on; Debian's armhf is
# ARMv7, so not the Pi 1 or Zero W, which need Raspberry Pi OS's own ARMv6 build):
#   cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=cmake/arm-linux-gnueabihf.cmake
set(CMAKE_SYSTEM_PROCESSOR arm)
set(BM6_DEB_ARCH armhf)
set(BM6_GNU_TRIPLET arm-linux-gnueabihf)
set(BM6_QEMU_ARCH arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
# GCC notes that std::vector's iterators are passed differently than before GCC 7.1 (an
# ABI change of 2017 that concerns mixing objects built by older compilers, not this build).
set(CMAKE_CXX_FLAGS_INIT "-Wno-psabi")
