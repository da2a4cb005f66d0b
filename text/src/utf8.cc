// UTF-8, decoded in one place: the validity check every string of the API passes, and the
// sequence reader the JSON escapers walk text with.
#include <cstring>

#include "lawful/text.h"

namespace lawful::text {

int Utf8Sequence(std::string_view text, uint32_t* code_point) {
  if (text.empty()) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const unsigned char c = p[0];
  if (c < 0x80) {
    *code_point = c;
    return 1;
  }
  int more;
  uint32_t cp;
  if ((c & 0xE0) == 0xC0) {
    more = 1;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    more = 2;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    more = 3;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (text.size() <= static_cast<size_t>(more)) return 0;
  for (int k = 1; k <= more; ++k) {
    if ((p[k] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (p[k] & 0x3F);
  }
  static constexpr uint32_t kLeast[] = {0, 0x80, 0x800, 0x10000};
  if (cp < kLeast[more] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  *code_point = cp;
  return more + 1;
}

namespace internal {

bool IsValidUtf8From(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    // ASCII, most of what contacts hold, eight bytes at a time.
    if (text.size() - i >= 8) {
      uint64_t block;
      std::memcpy(&block, text.data() + i, sizeof block);
      if ((block & 0x8080808080808080ull) == 0) {
        i += 8;
        continue;
      }
    }
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    uint32_t code_point;
    const int length = Utf8Sequence(text.substr(i), &code_point);
    if (length == 0) return false;
    i += static_cast<size_t>(length);
  }
  return true;
}

}  // namespace internal
}  // namespace lawful::text
