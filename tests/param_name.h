// Readable GoogleTest parameter names from a case's `name` field.
#pragma once

#include <cctype>
#include <string>

namespace bm6::test {

struct ParamName {
  template <typename Info>
  std::string operator()(const Info& info) const {
    std::string n = info.param.name;
    for (auto& c : n)
      if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return n;
  }
};

}  // namespace bm6::test
