# Shared part of the Debian cross toolchain files: Debian's cross compilers
# (crossbuild-essential-<arch>) and the target's libraries from a multiarch install
# (dpkg --add-architecture <arch>; apt-get install libssl-dev:<arch> ...).
# Set BM6_DEB_ARCH and BM6_GNU_TRIPLET, then include this file.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${BM6_GNU_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${BM6_GNU_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${BM6_GNU_TRIPLET})

# Headers and libraries: the cross toolchain's own, then the multiarch ones under /usr.
set(CMAKE_FIND_ROOT_PATH /usr/${BM6_GNU_TRIPLET} /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)   # collectd-dev's headers are arch:all
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# pkg-config: the target's .pc files only (bluez.pc of libbluetooth-dev:<arch>).
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${BM6_GNU_TRIPLET}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")
set(PKG_CONFIG_EXECUTABLE /usr/bin/pkg-config CACHE FILEPATH "")

# Tests run under qemu-user; the loader and libraries are the multiarch ones in /.
find_program(BM6_QEMU qemu-${BM6_QEMU_ARCH}-static qemu-${BM6_QEMU_ARCH})
if(BM6_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${BM6_QEMU} -L /)
endif()

# The package: Architecture BM6_DEB_ARCH (CMakeLists.txt); dpkg-shlibdeps finds the
# target's shlibs/symbols in the multiarch packages (scripts/package sets DEB_HOST_ARCH).
