// The one UTF-8 check: every string the API carries must be well-formed UTF-8, as protobuf
// requires of proto3 strings.
#include <cstdint>
#include <cstring>

#include "lawful/engine.h"

namespace lawful {

bool IsValidUtf8(std::string_view text) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  while (p < end) {
    // ASCII, most of what contacts hold, eight bytes at a time.
    if (end - p >= 8) {
      uint64_t block;
      std::memcpy(&block, p, sizeof block);
      if ((block & 0x8080808080808080ull) == 0) {
        p += 8;
        continue;
      }
    }
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int more;
    uint32_t code_point;
    if ((c & 0xE0) == 0xC0) {
      more = 1;
      code_point = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      more = 2;
      code_point = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      more = 3;
      code_point = c & 0x07;
    } else {
      return false;
    }
    if (end - p <= more) return false;
    for (int k = 1; k <= more; ++k) {
      if ((p[k] & 0xC0) != 0x80) return false;
      code_point = (code_point << 6) | (p[k] & 0x3F);
    }
    static constexpr uint32_t kLeast[] = {0, 0x80, 0x800, 0x10000};
    if (code_point < kLeast[more] || code_point > 0x10FFFF ||
        (code_point >= 0xD800 && code_point <= 0xDFFF)) {
      return false;
    }
    p += more + 1;
  }
  return true;
}

}  // namespace lawful
