#!/usr/bin/env bash
# Boots Debian's kernel under QEMU with the host's / shared read-only (a tmpfs overlay on
# top) and runs one guest script in it, so the host's binaries (this build, btvirt,
# collectd) run unchanged against a kernel that has Bluetooth. Exits with the script's
# status.   usage: vm-run.sh OUT_DIR GUEST_SCRIPT [ARGS...]
set -euo pipefail
OUT=$(realpath "$1"); shift
SCRIPT=$(realpath "$1"); shift
ARGS="$*"
mkdir -p "$OUT"
KVER=$(ls /lib/modules | grep -E -- '-amd64$' | sort -V | tail -n 1)
KERNEL=/boot/vmlinuz-$KVER
[ -r "$KERNEL" ] || { echo "vm-run: no Debian kernel (apt-get install linux-image-amd64)"; exit 2; }

# A tiny initramfs: static busybox and the modules that mount the shared root.
INITRD=$OUT/initramfs.cpio.gz
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE/bin" "$STAGE/modules"
cp "$(command -v busybox)" "$STAGE/bin/busybox"
: >"$STAGE/modules.order"
for m in virtio_pci 9pnet_virtio 9p overlay; do
  modprobe -S "$KVER" --show-depends "$m" | awk '$1 == "insmod" {print $2}' | while read -r ko; do
    base=$(basename "$ko")
    if ! grep -qx "$base" "$STAGE/modules.order"; then
      cp "$ko" "$STAGE/modules/"
      echo "$base" >>"$STAGE/modules.order"
    fi
  done
done
cat >"$STAGE/init" <<'INIT'
#!/bin/busybox sh
B=/bin/busybox
$B mkdir -p /proc /sys /dev /hostroot /rw /newroot
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
for m in $($B cat /modules.order); do $B insmod /modules/$m 2>/dev/null; done
$B mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot /hostroot || { echo "BM6-VM: no hostroot"; $B poweroff -f; }
$B mount -t tmpfs -o size=512m tmpfs /rw
$B mkdir -p /rw/upper /rw/work
$B mount -t overlay overlay -o lowerdir=/hostroot,upperdir=/rw/upper,workdir=/rw/work /newroot
$B mkdir -p /newroot/bm6out
$B mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out /newroot/bm6out
for d in proc sys dev; do $B mount --move /$d /newroot/$d; done
exec $B switch_root /newroot /bin/sh /bm6out/.guest-entry
INIT
chmod +x "$STAGE/init"
(cd "$STAGE" && find . | cpio -o -H newc --quiet | gzip -1) >"$INITRD"

# What the guest runs after switch_root: the script, then its status, then power off.
cat >"$OUT/.guest-entry" <<ENTRY
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
mount -t tmpfs tmpfs /run 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts 2>/dev/null
cd /bm6out
/bin/bash "$SCRIPT" $ARGS >/bm6out/guest.log 2>&1
status=\$?
echo "BM6-VM-RESULT=\$status"
echo "\$status" >/bm6out/status
sync
busybox poweroff -f
ENTRY
rm -f "$OUT/status"

ACCEL=tcg
if grep -qE 'vmx|svm' /proc/cpuinfo && [ -w /dev/kvm ] && [ -n "${BM6_VM_KVM:-}" ]; then ACCEL=kvm; fi
timeout "${BM6_VM_TIMEOUT:-330}" qemu-system-x86_64 -accel "$ACCEL" -cpu max -m 1G -smp 2 \
  -nographic -no-reboot -nodefaults -serial stdio \
  -kernel "$KERNEL" -initrd "$INITRD" -append "console=ttyS0 panic=-1 quiet loglevel=3" \
  -fsdev local,id=hr,path=/,security_model=none,readonly=on,multidevs=remap \
  -device virtio-9p-pci,fsdev=hr,mount_tag=hostroot \
  -fsdev local,id=out,path="$OUT",security_model=none \
  -device virtio-9p-pci,fsdev=out,mount_tag=out >"$OUT/console.log" 2>&1 || true
[ -f "$OUT/status" ] || { echo "vm-run: the guest did not finish; console:"; tail -n 40 "$OUT/console.log"; exit 3; }
exit "$(cat "$OUT/status")"
