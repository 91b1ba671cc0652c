/* Tests only: see fake_mgmt_kernel.h. Layouts: BlueZ's doc/mgmt-api.txt. */
#include "fake_mgmt_kernel.h"

#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>

enum { kEvCommandComplete = 0x0001, kEvCommandStatus = 0x0002, kEvDeviceFound = 0x0012 };
enum { kOpReadMonitorFeatures = 0x0051, kOpAddPatternsMonitor = 0x0052, kOpRemoveMonitor = 0x0053 };
enum { kStatusUnknownCommand = 0x01 };

int fake_mgmt_event(int kernel, uint16_t code, uint16_t index, const uint8_t *params, size_t n) {
  uint8_t p[6 + 300] = {(uint8_t)code,         (uint8_t)(code >> 8), (uint8_t)index,
                        (uint8_t)(index >> 8), (uint8_t)n,           (uint8_t)(n >> 8)};
  if (n > sizeof p - 6) return -1;
  if (n) memcpy(p + 6, params, n);
  return send(kernel, p, 6 + n, MSG_NOSIGNAL) == (ssize_t)(6 + n) ? 0 : -1;
}

/* Command Complete for `opcode` with status 0 and `reply` (n bytes). */
static void complete(int kernel, uint16_t index, uint16_t opcode, const uint8_t *reply, size_t n) {
  uint8_t p[3 + 280] = {(uint8_t)opcode, (uint8_t)(opcode >> 8), 0};
  if (n > sizeof p - 3) return;
  if (n) memcpy(p + 3, reply, n);
  fake_mgmt_event(kernel, kEvCommandComplete, index, p, 3 + n);
}

static void answer_one(int kernel, uint16_t opcode, uint16_t index, const uint8_t *params,
                       size_t n) {
  uint8_t reply[280] = {0};
  switch (opcode) {
    case kFakeMgmtOpReadInfo:
      /* address 6, version 1, manufacturer 2, supported settings 4, current settings 4,
       * class 3, name 249, short name 11; settings: powered (bit 0), LE (bit 9) */
      reply[9] = reply[13] = 0x01;
      reply[10] = reply[14] = 0x02;
      return complete(kernel, index, opcode, reply, 280);
    case kOpReadMonitorFeatures: /* supported 0 (no offload), enabled 0, max handles 32 */
      reply[8] = 32;
      reply[10] = 16;
      return complete(kernel, index, opcode, reply, 13);
    case kOpAddPatternsMonitor: /* handle 1 */
      reply[0] = 1;
      return complete(kernel, index, opcode, reply, 2);
    case kFakeMgmtOpAddDevice:
    case kFakeMgmtOpRemoveDevice: /* the address and its type, as given */
      return complete(kernel, index, opcode, params, n < 7 ? n : 7);
    case kOpRemoveMonitor:
      return complete(kernel, index, opcode, params, n < 2 ? n : 2);
    default: {
      const uint8_t status[3] = {(uint8_t)opcode, (uint8_t)(opcode >> 8), kStatusUnknownCommand};
      fake_mgmt_event(kernel, kEvCommandStatus, index, status, sizeof status);
    }
  }
}

int fake_mgmt_answer(int kernel, fake_mgmt_seen_fn seen, void *ctx) {
  int answered = 0;
  uint8_t cmd[6 + 300];
  ssize_t n;
  while ((n = recv(kernel, cmd, sizeof cmd, MSG_DONTWAIT)) >= 6) {
    const uint16_t opcode = (uint16_t)(cmd[0] | cmd[1] << 8);
    const uint16_t index = (uint16_t)(cmd[2] | cmd[3] << 8);
    if (seen) seen(opcode, cmd + 6, (size_t)n - 6, ctx);
    answer_one(kernel, opcode, index, cmd + 6, (size_t)n - 6);
    if (opcode == kFakeMgmtOpReadInfo) answered++;
  }
  return answered;
}

int fake_mgmt_device_found(int kernel, const uint8_t wire_address[6], int8_t rssi,
                           const uint8_t *ad, size_t n) {
  /* address 6, address type 1, RSSI 1, flags 4, AD length 2, AD */
  uint8_t p[14 + 255] = {0};
  if (n > 255) return -1;
  memcpy(p, wire_address, 6);
  p[6] = 1; /* LE public */
  p[7] = (uint8_t)rssi;
  p[12] = (uint8_t)n;
  if (n) memcpy(p + 14, ad, n);
  return fake_mgmt_event(kernel, kEvDeviceFound, 0, p, 14 + n);
}
