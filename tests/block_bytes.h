// Test helper: a 16-byte block from a list of byte values, the rest zero.
#pragma once

#include <initializer_list>

#include "protocol/bm6_cipher.h"

namespace bm6::test {

inline Block bytes(std::initializer_list<int> v) {
  Block b{};
  int i = 0;
  for (int x : v) b[i++] = static_cast<std::uint8_t>(x);
  return b;
}

}  // namespace bm6::test
