/* Tests only: the kernel's side of a Bluetooth management socket (HCI_CHANNEL_CONTROL), over
 * one end of a SOCK_SEQPACKET socketpair whose other end the code under test took for its
 * mgmt socket. Shared by plugin_test (inside its cmocka binary) and libbm6_mgmt_shim.so (an
 * LD_PRELOAD stand-in for the kernel in the real collectd). It answers what the plugin's
 * passive scanner (transport/adv_scanner.cpp) asks as a powered hci0 would, and frames
 * Device Found events. It is not the kernel: the VM real-stack test covers that path. */
#ifndef BM6_TESTS_FAKE_MGMT_KERNEL_H
#define BM6_TESTS_FAKE_MGMT_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { kFakeMgmtPfBluetooth = 31, kFakeMgmtBtprotoHci = 1, kFakeMgmtChannelControl = 3 };
enum {
  kFakeMgmtOpReadInfo = 0x0004,
  kFakeMgmtOpAddDevice = 0x0033,
  kFakeMgmtOpRemoveDevice = 0x0034
};

/* Told of each command read, before it is answered (opcode, its parameters). */
typedef void (*fake_mgmt_seen_fn)(uint16_t opcode, const uint8_t *params, size_t n, void *ctx);

/* Sends one event on `kernel`: 0, or -1 if it could not be sent whole. */
int fake_mgmt_event(int kernel, uint16_t code, uint16_t index, const uint8_t *params, size_t n);

/* Reads every command waiting on `kernel` (without blocking) and answers each: Read
 * Controller Information (powered, LE), Read Advertisement Monitor Features (no offload),
 * Add Advertisement Patterns Monitor (handle 1), Add/Remove Device and Remove Monitor
 * (success); anything else "unknown command". Returns how many Read Controller Information
 * it answered. */
int fake_mgmt_answer(int kernel, fake_mgmt_seen_fn seen, void *ctx);

/* Device Found on hci0 from `wire_address` (least significant byte first, LE public) with
 * `rssi` and the advertising data `ad` (n bytes, at most 255): 0, or -1. */
int fake_mgmt_device_found(int kernel, const uint8_t wire_address[6], int8_t rssi,
                           const uint8_t *ad, size_t n);

#ifdef __cplusplus
}
#endif

#endif
