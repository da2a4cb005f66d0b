// The one JSON string escaper (lawful/text.h) under its two contracts, protobuf's printer and the
// audit log, in a table: controls, quotes, `<` and `>`, invisible code points, every shape of
// invalid UTF-8, the empty string; written into a string and into memory sized for the worst.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gtest/gtest.h"
#include "lawful/text.h"

namespace lawful::text {
namespace {

// `n` U+FFFD REPLACEMENT CHARACTERs: what the audit log writes for `n` bytes that do not begin a
// well-formed UTF-8 sequence.
std::string Replaced(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += "\xEF\xBF\xBD";
  return out;
}

struct Case {
  const char* name;
  std::string input;
  std::optional<std::string> protobuf;  // nullopt: refused (not valid UTF-8)
  std::string audit_log;
};

std::vector<Case> Cases() {
  return {
      {"the empty string", "", "", ""},
      {"plain ASCII", "marketing.consent", "marketing.consent", "marketing.consent"},
      {"a quote and a backslash", R"(a"b\c)", R"(a\"b\\c)", R"(a\"b\\c)"},
      {"a slash stays", "a/b", "a/b", "a/b"},
      {"short escapes: protobuf has \\b and \\f, the log only \\n \\r \\t", "\b\f\n\r\t",
       R"(\b\f\n\r\t)", R"(\u0008\u000c\n\r\t)"},
      {"other controls", std::string("\0\x01\x1f", 3), R"(\u0000\u0001\u001f)",
       R"(\u0000\u0001\u001f)"},
      {"DEL", "\x7f", R"(\u007f)", "\x7f"},
      {"angle brackets", "<a>", R"(\u003ca\u003e)", "<a>"},
      {"controls inside an 8-byte run", "abcdefgh\x01ijklmnop\"qrstuvw<",
       R"(abcdefgh\u0001ijklmnop\"qrstuvw\u003c)", R"(abcdefgh\u0001ijklmnop\"qrstuvw<)"},
      {"visible code points of 2, 3 and 4 bytes", "\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80",
       "\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
      {"a C1 control (U+0085)", "\xC2\x85", R"(\u0085)", "\xC2\x85"},
      {"soft hyphen (U+00AD)", "\xC2\xAD", R"(\u00ad)", "\xC2\xAD"},
      {"zero width space (U+200B)",
       "a\xE2\x80\x8B"
       "b",
       R"(a\u200bb)",
       "a\xE2\x80\x8B"
       "b"},
      {"line separator (U+2028)", "\xE2\x80\xA8", R"(\u2028)", "\xE2\x80\xA8"},
      {"byte order mark (U+FEFF)", "\xEF\xBB\xBF", R"(\ufeff)", "\xEF\xBB\xBF"},
      {"a format character above U+FFFF (U+1D173): a surrogate pair", "\xF0\x9D\x85\xB3",
       R"(\ud834\udd73)", "\xF0\x9D\x85\xB3"},
      {"a language tag (U+E0001)", "\xF3\xA0\x80\x81", R"(\udb40\udc01)", "\xF3\xA0\x80\x81"},
      // Invalid UTF-8: protobuf's contract refuses it; the log replaces each byte that does not
      // begin a well-formed sequence, and goes on from the next byte.
      {"a lone continuation byte",
       "a\x80"
       "b",
       std::nullopt, "a" + Replaced(1) + "b"},
      {"a 2-byte sequence cut short at the end", "\xC3", std::nullopt, Replaced(1)},
      {"a 2-byte sequence cut short by ASCII",
       "\xC3"
       "A",
       std::nullopt, Replaced(1) + "A"},
      {"a 3-byte sequence cut short", "\xE2\x82", std::nullopt, Replaced(2)},
      {"a 4-byte sequence cut short", "\xF0\x9F\x98", std::nullopt, Replaced(3)},
      {"a bad second byte", "\xE2\x28\xA1", std::nullopt, Replaced(1) + "(" + Replaced(1)},
      {"overlong 2-byte forms (C0, C1)", "\xC0\xAF\xC1\xBF", std::nullopt, Replaced(4)},
      {"an overlong 3-byte form", "\xE0\x80\xAF", std::nullopt, Replaced(3)},
      {"an overlong 4-byte form", "\xF0\x80\x80\xAF", std::nullopt, Replaced(4)},
      {"a high surrogate (U+D800)", "\xED\xA0\x80", std::nullopt, Replaced(3)},
      {"a low surrogate (U+DFFF)", "\xED\xBF\xBF", std::nullopt, Replaced(3)},
      {"above U+10FFFF", "\xF4\x90\x80\x80", std::nullopt, Replaced(4)},
      {"a lead byte no sequence has (F5)", "\xF5\x80\x80\x80", std::nullopt, Replaced(4)},
      {"a 5-byte form", "\xF8\x88\x80\x80\x80", std::nullopt, Replaced(5)},
      {"FE and FF", "\xFE\xFF", std::nullopt, Replaced(2)},
      {"an invalid byte before a valid sequence", "\xFF\xC3\xA9", std::nullopt,
       Replaced(1) + "\xC3\xA9"},
      {"an invalid byte inside an 8-byte run", "abcdefg\xFFhijklmno", std::nullopt,
       "abcdefg" + Replaced(1) + "hijklmno"},
  };
}

// `text` written by WriteJsonChars into memory sized for the longest form; nullopt when refused.
std::optional<std::string> Written(std::string_view text, JsonEscaping escaping) {
  std::string memory(MaxJsonChars(text.size()), '\0');
  const char* const end = WriteJsonChars(text, escaping, memory.data());
  if (end == nullptr) return std::nullopt;
  EXPECT_LE(end, memory.data() + memory.size());
  memory.resize(static_cast<size_t>(end - memory.data()));
  return memory;
}

// `text` appended by AppendJsonChars, and by AppendJsonString (which must add only the quotes),
// after bytes already there, which a refusal leaves alone.
std::optional<std::string> Appended(std::string_view text, JsonEscaping escaping) {
  std::string chars = "x", string = "x";
  const bool chars_ok = AppendJsonChars(text, escaping, &chars);
  const bool string_ok = AppendJsonString(text, escaping, &string);
  EXPECT_EQ(chars_ok, string_ok);
  if (!chars_ok) {
    EXPECT_EQ(chars, "x");
    EXPECT_EQ(string, "x");
    return std::nullopt;
  }
  EXPECT_EQ(string, "x\"" + chars.substr(1) + "\"");
  return chars.substr(1);
}

TEST(JsonEscaper, EscapesUnderEachContract) {
  for (const Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(Appended(c.input, JsonEscaping::kProtobuf), c.protobuf);
    EXPECT_EQ(Written(c.input, JsonEscaping::kProtobuf), c.protobuf);
    EXPECT_EQ(Appended(c.input, JsonEscaping::kAuditLog), c.audit_log);
    EXPECT_EQ(Written(c.input, JsonEscaping::kAuditLog), c.audit_log);
  }
}

// The worst a byte can become fits MaxJsonChars, at every position around an 8-byte word.
TEST(JsonEscaper, NeverWritesMoreThanMaxJsonChars) {
  for (int byte = 0; byte < 256; ++byte) {
    for (size_t length : {1, 7, 8, 9, 17}) {
      const std::string text(length, static_cast<char>(byte));
      for (JsonEscaping escaping : {JsonEscaping::kProtobuf, JsonEscaping::kAuditLog}) {
        const std::optional<std::string> written = Written(text, escaping);
        if (written.has_value()) {
          EXPECT_LE(written->size(), MaxJsonChars(length)) << byte;
        }
      }
    }
  }
}

}  // namespace
}  // namespace lawful::text
