# Raspberry Pi OS / Debian arm64 (Pi 3, 4, 5, Zero 2 W with a 64-bit OS):
#   cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(BM6_DEB_ARCH arm64)
set(BM6_GNU_TRIPLET aarch64-linux-gnu)
set(BM6_QEMU_ARCH aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
