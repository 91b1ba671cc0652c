// AES-128 as the BM6 uses it: every 16-byte block on its own, zero IV (= ECB).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

struct evp_cipher_ctx_st;

namespace bm6 {

using Block = std::array<std::uint8_t, 16>;

// "leagend" FF FE "0100009". Related monitors differ only in the last 7 bytes.
inline constexpr Block kBm6Key = {0x6c, 0x65, 0x61, 0x67, 0x65, 0x6e, 0x64, 0xff,
                                  0xfe, 0x30, 0x31, 0x30, 0x30, 0x30, 0x30, 0x39};
// BM7 / "BM300 Pro": "leagend" FF FE "010000@".
inline constexpr Block kBm7Key = {0x6c, 0x65, 0x61, 0x67, 0x65, 0x6e, 0x64, 0xff,
                                  0xfe, 0x30, 0x31, 0x30, 0x30, 0x30, 0x30, 0x40};
// BM2 / older ANCEL BM200: "leagend" FF FE "1882466".
inline constexpr Block kBm2Key = {0x6c, 0x65, 0x61, 0x67, 0x65, 0x6e, 0x64, 0xff,
                                  0xfe, 0x31, 0x38, 0x38, 0x32, 0x34, 0x36, 0x36};

// Holds one encrypt and one decrypt context, keyed once; not thread-safe (one owner).
class Bm6Cipher {
 public:
  // Throws std::runtime_error if libcrypto cannot set up AES-128-ECB.
  explicit Bm6Cipher(const Block& key = kBm6Key);
  ~Bm6Cipher();
  Bm6Cipher(const Bm6Cipher&) = delete;
  Bm6Cipher& operator=(const Bm6Cipher&) = delete;

  Block encrypt(const Block& plaintext);
  Block decrypt(const Block& ciphertext);

  // Block by block; false (out untouched) unless in.size() is a non-zero multiple of 16
  // and out.size() == in.size().
  bool encrypt(std::span<const std::uint8_t> in, std::span<std::uint8_t> out);
  bool decrypt(std::span<const std::uint8_t> in, std::span<std::uint8_t> out);

 private:
  struct CtxDeleter {
    void operator()(evp_cipher_ctx_st* ctx) const;
  };
  using Ctx = std::unique_ptr<evp_cipher_ctx_st, CtxDeleter>;
  static bool run(evp_cipher_ctx_st* ctx, std::span<const std::uint8_t> in,
                  std::span<std::uint8_t> out);
  Ctx encrypt_;
  Ctx decrypt_;
};

}  // namespace bm6
