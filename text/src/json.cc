// JSON strings, escaped once for every writer: as protobuf's JSON printer writes them (byte for
// byte) or as the audit log writes them, into a string or into memory sized for the longest form.
#include <array>
#include <cstring>

#include "lawful/text.h"

namespace lawful::text {
namespace {

// The bytes a contract copies as they are, printable ASCII but for `"` and `\`; protobuf's
// printer also escapes `<`, `>` and DEL.
template <JsonEscaping kEscaping>
constexpr std::array<bool, 256> PlainBytes() {
  std::array<bool, 256> plain{};
  for (int c = 0x20; c < 0x80; ++c) plain[c] = true;
  plain['"'] = plain['\\'] = false;
  if (kEscaping == JsonEscaping::kProtobuf) plain['<'] = plain['>'] = plain[0x7f] = false;
  return plain;
}
template <JsonEscaping kEscaping>
constexpr std::array<bool, 256> kPlain = PlainBytes<kEscaping>();

// Whether the 8 bytes at `p` may all be plain, tested a word at a time. For the audit log the
// test may fire on a plain byte (the byte loop then decides); for protobuf it is exact.
template <JsonEscaping kEscaping>
bool PlainWord(const unsigned char* p) {
  constexpr uint64_t k01 = 0x0101010101010101ULL;
  constexpr uint64_t k80 = 0x8080808080808080ULL;
  uint64_t w;
  std::memcpy(&w, p, 8);
  auto has_zero_byte = [](uint64_t x) { return (x - k01) & ~x & k80; };
  const uint64_t below_space = (w - 0x20 * k01) & ~w;
  const uint64_t quote = has_zero_byte(w ^ (0x22 * k01));
  const uint64_t backslash = has_zero_byte(w ^ (0x5c * k01));
  if constexpr (kEscaping == JsonEscaping::kProtobuf) {
    const uint64_t from_del = ((w & ~k80) + k01) | w;
    const uint64_t angle = has_zero_byte((w ^ (0x3c * k01)) & ~(0x02 * k01));  // < or >
    return ((below_space | from_del | quote | backslash | angle) & k80) == 0;
  } else {
    return ((below_space | quote | backslash | w) & k80) == 0;  // w: no byte from 0x80 up
  }
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

// Where the escaped bytes go: memory sized for the longest form, or the end of a string.
struct RawSink {
  char* p;
  void Put(const char* data, size_t size) {
    if (size == 0) return;  // an empty view's data() may be null, which memcpy must not get
    std::memcpy(p, data, size);
    p += size;
  }
};
struct StringSink {
  std::string* out;
  void Put(const char* data, size_t size) { out->append(data, size); }
};

template <typename Sink>
void PutUnicodeEscape(uint32_t unit, Sink& sink) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char escape[6] = {
      '\\',           'u', kHex[(unit >> 12) & 15], kHex[(unit >> 8) & 15], kHex[(unit >> 4) & 15],
      kHex[unit & 15]};
  sink.Put(escape, 6);
}

// The escaper: copies runs of plain bytes and of well-formed UTF-8 the contract leaves as it is
// in one piece, and escapes the rest. False when the contract refuses the text.
template <JsonEscaping kEscaping, typename Sink>
bool Escape(std::string_view text, Sink& sink) {
  constexpr bool kProtobuf = kEscaping == JsonEscaping::kProtobuf;
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* const end = p + text.size();
  const auto* run = p;  // start of the bytes not yet put
  const auto flush = [&] {
    sink.Put(reinterpret_cast<const char*>(run), static_cast<size_t>(p - run));
  };
  while (true) {
    while (end - p >= 8 && PlainWord<kEscaping>(p)) p += 8;
    while (p < end && kPlain<kEscaping>[*p]) ++p;
    if (p == end) break;
    const unsigned char c = *p;
    if (c < 0x80) {
      flush();
      switch (c) {
        case '"':
          sink.Put("\\\"", 2);
          break;
        case '\\':
          sink.Put("\\\\", 2);
          break;
        case '\n':
          sink.Put("\\n", 2);
          break;
        case '\r':
          sink.Put("\\r", 2);
          break;
        case '\t':
          sink.Put("\\t", 2);
          break;
        case '\b':
        case '\f':
          if constexpr (kProtobuf) {
            sink.Put(c == '\b' ? "\\b" : "\\f", 2);
          } else {
            PutUnicodeEscape(c, sink);
          }
          break;
        default:  // other controls; for protobuf also DEL, < and >
          PutUnicodeEscape(c, sink);
      }
      run = ++p;
      continue;
    }
    uint32_t code_point = 0;
    const int length = Utf8Sequence(
        std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(end - p)),
        &code_point);
    if (length == 0) {
      if constexpr (kProtobuf) return false;
      flush();
      sink.Put("\xef\xbf\xbd", 3);  // U+FFFD REPLACEMENT CHARACTER, for this one byte
      run = ++p;
      continue;
    }
    if (kProtobuf && EscapedCodePoint(code_point)) {
      flush();
      if (code_point < 0x10000) {
        PutUnicodeEscape(code_point, sink);
      } else {
        const uint32_t v = code_point - 0x10000;
        PutUnicodeEscape(0xd800 + (v >> 10), sink);
        PutUnicodeEscape(0xdc00 + (v & 0x3ff), sink);
      }
      run = p + length;
    }
    p += length;  // a sequence left as it is stays in the run
  }
  flush();
  return true;
}

template <typename Sink>
bool Escape(std::string_view text, JsonEscaping escaping, Sink& sink) {
  return escaping == JsonEscaping::kAuditLog ? Escape<JsonEscaping::kAuditLog>(text, sink)
                                             : Escape<JsonEscaping::kProtobuf>(text, sink);
}

}  // namespace

char* WriteJsonChars(std::string_view text, JsonEscaping escaping, char* out) {
  RawSink sink{out};
  return Escape(text, escaping, sink) ? sink.p : nullptr;
}

bool AppendJsonChars(std::string_view text, JsonEscaping escaping, std::string* out) {
  const size_t start = out->size();
  StringSink sink{out};
  if (Escape(text, escaping, sink)) return true;
  out->resize(start);
  return false;
}

bool AppendJsonString(std::string_view text, JsonEscaping escaping, std::string* out) {
  const size_t start = out->size();
  out->push_back('"');
  StringSink sink{out};
  if (!Escape(text, escaping, sink)) {
    out->resize(start);
    return false;
  }
  out->push_back('"');
  return true;
}

}  // namespace lawful::text
