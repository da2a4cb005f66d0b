// JSON strings written as protobuf's JSON printer writes them, byte for byte.
#include <array>
#include <cstring>

#include "lawful/text.h"

namespace lawful::text {
namespace {

// Bytes protobuf's printer copies as they are: printable ASCII but for `"`, `\`, `<` and `>`.
constexpr std::array<bool, 256> PlainBytes() {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x7f; ++c) plain[c] = true;
  plain['"'] = plain['\\'] = plain['<'] = plain['>'] = false;
  return plain;
}
constexpr std::array<bool, 256> kPlain = PlainBytes();

// Whether the 8 bytes at `p` are all plain (kPlain), tested a word at a time: no byte below 0x20
// or from 0x7f up, and none of `"` `\` `<` `>`.
bool PlainWord(const unsigned char* p) {
  constexpr uint64_t k01 = 0x0101010101010101ULL;
  constexpr uint64_t k80 = 0x8080808080808080ULL;
  uint64_t w;
  std::memcpy(&w, p, 8);
  auto has_zero_byte = [](uint64_t x) { return (x - k01) & ~x & k80; };
  const uint64_t below_space = (w - 0x20 * k01) & ~w & k80;
  const uint64_t from_del = (((w & ~k80) + k01) | w) & k80;
  const uint64_t quote = has_zero_byte(w ^ (0x22 * k01));
  const uint64_t backslash = has_zero_byte(w ^ (0x5c * k01));
  const uint64_t angle = has_zero_byte((w ^ (0x3c * k01)) & ~(0x02 * k01));  // < or >
  return (below_space | from_del | quote | backslash | angle) == 0;
}

// The code points above ASCII that protobuf writes as \u escapes (C1 controls, soft hyphen, and
// invisible format characters), found by printing every code point through protobuf 3.21 — the
// unit test checks the list against the library in use.
bool EscapedCodePoint(uint32_t c) {
  if (c < 0x600) return c <= 0x9f || c == 0xad;
  if (c < 0x2000) return c <= 0x603 || c == 0x6dd || c == 0x70f || c == 0x17b4 || c == 0x17b5;
  if (c < 0x10000) {
    return (c >= 0x200b && c <= 0x200f) || (c >= 0x2028 && c <= 0x202e) ||
           (c >= 0x2060 && c <= 0x2064) || (c >= 0x206a && c <= 0x206f) || c == 0xfeff ||
           (c >= 0xfff9 && c <= 0xfffb);
  }
  return (c >= 0x1d173 && c <= 0x1d17a) || c == 0xe0001 || (c >= 0xe0020 && c <= 0xe007f);
}

void AppendUnicodeEscape(uint32_t unit, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char escape[6] = {
      '\\',           'u', kHex[(unit >> 12) & 15], kHex[(unit >> 8) & 15], kHex[(unit >> 4) & 15],
      kHex[unit & 15]};
  out->append(escape, 6);
}

}  // namespace

bool AppendJsonString(std::string_view text, std::string* out) {
  const size_t start = out->size();
  out->push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  while (p < end) {
    const auto* run = p;
    while (end - p >= 8 && PlainWord(p)) p += 8;
    while (p < end && kPlain[*p]) ++p;
    out->append(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
    if (p == end) break;
    const unsigned char c = *p;
    if (c < 0x80) {
      switch (c) {
        case '"':
          out->append("\\\"");
          break;
        case '\\':
          out->append("\\\\");
          break;
        case '\b':
          out->append("\\b");
          break;
        case '\t':
          out->append("\\t");
          break;
        case '\n':
          out->append("\\n");
          break;
        case '\f':
          out->append("\\f");
          break;
        case '\r':
          out->append("\\r");
          break;
        default:  // other controls, DEL, < and >
          AppendUnicodeEscape(c, out);
      }
      ++p;
      continue;
    }
    uint32_t code_point = 0;
    const size_t length = static_cast<size_t>(Utf8Sequence(
        std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(end - p)),
        &code_point));
    if (length == 0) {
      out->resize(start);
      return false;
    }
    if (!EscapedCodePoint(code_point)) {
      out->append(reinterpret_cast<const char*>(p), length);
    } else if (code_point < 0x10000) {
      AppendUnicodeEscape(code_point, out);
    } else {
      const uint32_t v = code_point - 0x10000;
      AppendUnicodeEscape(0xd800 + (v >> 10), out);
      AppendUnicodeEscape(0xdc00 + (v & 0x3ff), out);
    }
    p += length;
  }
  out->push_back('"');
  return true;
}

}  // namespace lawful::text
