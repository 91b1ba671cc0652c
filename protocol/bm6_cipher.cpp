#include "protocol/bm6_cipher.h"

#include <openssl/evp.h>

#include <stdexcept>

namespace bm6 {

void Bm6Cipher::CtxDeleter::operator()(evp_cipher_ctx_st* ctx) const { EVP_CIPHER_CTX_free(ctx); }

namespace {

// ECB keeps no chaining state, so one context serves every block without re-init.
evp_cipher_ctx_st* make_ctx(const Block& key, bool encrypt) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) throw std::runtime_error("libcrypto: EVP_CIPHER_CTX_new failed");
  if (EVP_CipherInit_ex(ctx, EVP_aes_128_ecb(), nullptr, key.data(), nullptr, encrypt ? 1 : 0) !=
          1 ||
      EVP_CIPHER_CTX_set_padding(ctx, 0) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    throw std::runtime_error("libcrypto: AES-128-ECB set-up failed");
  }
  return ctx;
}

}  // namespace

Bm6Cipher::Bm6Cipher(const Block& key)
    : encrypt_(make_ctx(key, true)), decrypt_(make_ctx(key, false)) {}

Bm6Cipher::~Bm6Cipher() = default;

bool Bm6Cipher::run(evp_cipher_ctx_st* ctx, std::span<const std::uint8_t> in,
                    std::span<std::uint8_t> out) {
  if (in.empty() || in.size() % 16 != 0 || out.size() != in.size()) return false;
  int produced = 0;
  if (EVP_CipherUpdate(ctx, out.data(), &produced, in.data(), static_cast<int>(in.size())) != 1)
    return false;
  return static_cast<std::size_t>(produced) == in.size();
}

bool Bm6Cipher::encrypt(std::span<const std::uint8_t> in, std::span<std::uint8_t> out) {
  return run(encrypt_.get(), in, out);
}

bool Bm6Cipher::decrypt(std::span<const std::uint8_t> in, std::span<std::uint8_t> out) {
  return run(decrypt_.get(), in, out);
}

Block Bm6Cipher::encrypt(const Block& plaintext) {
  Block out{};
  if (!run(encrypt_.get(), plaintext, out))
    throw std::runtime_error("libcrypto: AES encrypt failed");
  return out;
}

Block Bm6Cipher::decrypt(const Block& ciphertext) {
  Block out{};
  if (!run(decrypt_.get(), ciphertext, out))
    throw std::runtime_error("libcrypto: AES decrypt failed");
  return out;
}

}  // namespace bm6
