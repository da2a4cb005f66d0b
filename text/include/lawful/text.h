// Text encodings every layer shares, each written once: UTF-8 validity, JSON strings (protobuf's
// escaping and the audit log's), proleptic Gregorian dates, RFC 3339 instants as protobuf's JSON
// mapping writes them. Depends on nothing of lawful; the engine, the audit log, the deciding
// layer and the front doors all stand on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace lawful::text {

// ---------------------------------------------------------------------------------------------
// UTF-8
// ---------------------------------------------------------------------------------------------

// Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), as
// protobuf requires of every proto3 string.
namespace internal {
bool IsValidUtf8From(std::string_view text);  // IsValidUtf8's checks, from a non-ASCII byte on
}  // namespace internal
// Most strings a contact holds are short and ASCII: those are accepted inline, without a call.
inline bool IsValidUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (static_cast<unsigned char>(text[i]) >= 0x80) {
      return internal::IsValidUtf8From(text.substr(i));
    }
  }
  return true;
}

// The length of the well-formed UTF-8 sequence at the start of `text` (1 to 4) with its code
// point, or 0 when it is not one. For writers that treat each character on its own (escapers).
int Utf8Sequence(std::string_view text, uint32_t* code_point);

// ---------------------------------------------------------------------------------------------
// JSON strings: one escaper, under the contract of the writer that uses it
// ---------------------------------------------------------------------------------------------

enum class JsonEscaping {
  // Exactly as protobuf's JSON printer escapes (the decision printer, reject lines, the CSV
  // reader's JSON): `"`, `\`, \b \f \n \r \t, every other control, DEL, `<` and `>` as \u00XX,
  // and the invisible and format code points it writes as \u escapes (a surrogate pair above
  // U+FFFF). Text that is not valid UTF-8 is refused.
  kProtobuf,
  // As the audit log writes its lines: only what JSON needs (`"`, `\`, \n \r \t, every other
  // control below 0x20 as \u00XX), everything else as it is. Nothing is refused: each byte that
  // does not begin a well-formed UTF-8 sequence becomes U+FFFD, so every line is valid JSON.
  kAuditLog,
};

// The most bytes the escaped form of `size` bytes takes, either way: a control byte becomes
// `\u001f`, six bytes.
constexpr size_t MaxJsonChars(size_t size) { return 6 * size; }

// Writes `text` escaped, without quotes, into memory with room for MaxJsonChars(text.size()), and
// returns the end of what it wrote; nullptr when `escaping` refuses the text (then what it wrote
// is meaningless). For writers that size a whole line before filling it (the audit log's).
char* WriteJsonChars(std::string_view text, JsonEscaping escaping, char* out);

// Appends `text` escaped, without quotes (to build one string from several pieces). False, with
// `out` unchanged, when `escaping` refuses it.
bool AppendJsonChars(std::string_view text, JsonEscaping escaping, std::string* out);

// Appends `text` as a quoted JSON string. False, with `out` unchanged, when `escaping` refuses
// it (kProtobuf: `text` is not valid UTF-8).
bool AppendJsonString(std::string_view text, JsonEscaping escaping, std::string* out);

// ---------------------------------------------------------------------------------------------
// Civil dates: constant-time conversions between days since 1970-01-01 and proleptic Gregorian
// dates (H. Hinnant's algorithms), so calendar arithmetic never loops over years.
// ---------------------------------------------------------------------------------------------

struct CivilDate {
  int64_t year;
  int month;  // 1..12
  int day;    // 1..31
};

constexpr int64_t DaysFromCivil(int64_t year, int month, int day) {
  year -= month <= 2 ? 1 : 0;
  const int64_t era = (year >= 0 ? year : year - 399) / 400;
  const int64_t yoe = year - era * 400;
  const int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

constexpr CivilDate CivilFromDays(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return CivilDate{yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

constexpr bool IsLeapYear(int64_t year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

constexpr int DaysInMonth(int64_t year, int month) {
  constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

static_assert(DaysFromCivil(1970, 1, 1) == 0);
static_assert(DaysFromCivil(2000, 3, 1) == 11017);
static_assert(CivilFromDays(11016).month == 2 && CivilFromDays(11016).day == 29);

// ---------------------------------------------------------------------------------------------
// RFC 3339 instants, as protobuf's JSON mapping reads and writes a google.protobuf.Timestamp
// ---------------------------------------------------------------------------------------------

// The range protobuf's JSON mapping allows: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
inline constexpr int64_t kMinTimestampSeconds = -62135596800;
inline constexpr int64_t kMaxTimestampSeconds = 253402300799;

// Parses an RFC 3339 instant with the checks protobuf applies to a JSON Timestamp: years
// 0001-9999, a real calendar date, 00:00:00-23:59:59, an optional fraction (digits past the ninth
// are dropped), `Z` or an offset of at most 23:59. False when the text is not such an instant.
bool ParseRfc3339(std::string_view text, int64_t* seconds, int32_t* nanos);

// Appends an instant as protobuf's JSON printer writes a Timestamp: RFC 3339 in UTC with 0, 3, 6
// or 9 fractional digits. False, with nothing appended, when it is outside the range above or its
// nanos are outside 0..999999999.
bool AppendRfc3339(int64_t seconds, int32_t nanos, std::string* out);

}  // namespace lawful::text
