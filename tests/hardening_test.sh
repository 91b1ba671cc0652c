#!/usr/bin/env bash
# bm6.so and the tools are built hardened: full RELRO, stack protector, fortified libc calls.
set -u
status=0
check() {  # file
  local f=$1 dyn syms
  dyn=$(readelf -d "$f")
  syms=$(nm -D "$f")
  readelf -lW "$f" | grep -q GNU_RELRO || { echo "FAIL $f: no RELRO"; status=1; }
  echo "$dyn" | grep -Eq 'BIND_NOW|FLAGS_1.*NOW' || { echo "FAIL $f: RELRO not full (no BIND_NOW)"; status=1; }
  echo "$syms" | grep -q '__stack_chk_fail' || { echo "FAIL $f: no stack protector"; status=1; }
  echo "$syms" | grep -Eq '__[a-z]+_chk' || { echo "FAIL $f: no fortified calls"; status=1; }
  [ $status = 0 ] && echo "ok   $f: full RELRO, stack protector, fortified"
}
for f in "$@"; do check "$f"; done
exit $status
