# Shared part of the Debian cross toolchain files: Debian's cross compilers
# (crossbuild-essential-<arch>) and the target's libraries from a multiarch install
# (dpkg --add-architecture <arch>; apt-get install libssl-dev:<arch> ...).
# Set BM6_DEB_ARCH and BM6_GNU_TRIPLET, then include this file.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${BM6_GNU_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${BM6_GNU_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${BM6_GNU_TRIPLET})

# The target's libraries: a multiarch install under /, or, when BM6_SYSROOT names one
# (scripts/cross-sysroot: Debian's packages unpacked, for when apt cannot install them
# beside this machine's), that folder.
set(BM6_SYSROOT "$ENV{BM6_SYSROOT}" CACHE PATH "target libraries unpacked (scripts/cross-sysroot)")
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES BM6_SYSROOT)
if(BM6_SYSROOT)
  # The compiler's sysroot: its libc and the libraries come from there, linker scripts too.
  set(CMAKE_SYSROOT ${BM6_SYSROOT})
  set(CMAKE_FIND_ROOT_PATH ${BM6_SYSROOT})
  set(ENV{PKG_CONFIG_LIBDIR} ${BM6_SYSROOT}/usr/lib/${BM6_GNU_TRIPLET}/pkgconfig:${BM6_SYSROOT}/usr/share/pkgconfig:/usr/share/pkgconfig)
  set(ENV{PKG_CONFIG_SYSROOT_DIR} ${BM6_SYSROOT})
  set(BM6_TARGET_ROOT ${BM6_SYSROOT})
else()
  # Headers and libraries: the cross toolchain's own, then the multiarch ones under /usr.
  set(CMAKE_FIND_ROOT_PATH /usr/${BM6_GNU_TRIPLET} /)
  # pkg-config: the target's .pc files only (bluez.pc of libbluetooth-dev:<arch>).
  set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${BM6_GNU_TRIPLET}/pkgconfig:/usr/share/pkgconfig)
  set(BM6_TARGET_ROOT /)
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)   # collectd-dev's headers are arch:all
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(ENV{PKG_CONFIG_PATH} "")
set(PKG_CONFIG_EXECUTABLE /usr/bin/pkg-config CACHE FILEPATH "")

# Tests run under qemu-user; the loader and libraries are the target's (multiarch or sysroot).
find_program(BM6_QEMU qemu-${BM6_QEMU_ARCH}-static qemu-${BM6_QEMU_ARCH})
if(BM6_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${BM6_QEMU} -L ${BM6_TARGET_ROOT})
endif()

# The package: Architecture BM6_DEB_ARCH (CMakeLists.txt); dpkg-shlibdeps finds the
# target's shlibs/symbols in the multiarch packages (scripts/package sets DEB_HOST_ARCH).
