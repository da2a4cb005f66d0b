// RFC 3339 instants as protobuf's JSON mapping reads and writes a google.protobuf.Timestamp.
#include "lawful/text.h"

namespace lawful::text {
namespace {

bool Digits(std::string_view text, size_t at, size_t count, int* value) {
  if (at + count > text.size()) return false;
  int v = 0;
  for (size_t i = at; i < at + count; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *value = v;
  return true;
}

void AppendDigits(uint64_t value, int width, std::string* out) {
  char buffer[20];
  for (int i = width - 1; i >= 0; --i) {
    buffer[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out->append(buffer, static_cast<size_t>(width));
}

}  // namespace

bool ParseRfc3339(std::string_view text, int64_t* seconds, int32_t* nanos) {
  int year, month, day, hour, minute, second;
  if (!Digits(text, 0, 4, &year) || text.size() < 20 || text[4] != '-' ||
      !Digits(text, 5, 2, &month) || text[7] != '-' || !Digits(text, 8, 2, &day) ||
      text[10] != 'T' || !Digits(text, 11, 2, &hour) || text[13] != ':' ||
      !Digits(text, 14, 2, &minute) || text[16] != ':' || !Digits(text, 17, 2, &second)) {
    return false;
  }
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) ||
      hour > 23 || minute > 59 || second > 59) {
    return false;
  }
  size_t at = 19;
  int32_t fraction = 0;
  if (text[at] == '.') {
    ++at;
    const size_t first = at;
    int scale = 100000000;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      fraction += (text[at] - '0') * scale;  // digits past the ninth add 0 (scale 0)
      scale /= 10;
      ++at;
    }
    if (at == first) return false;
  }
  int64_t offset = 0;
  if (at == text.size()) return false;
  if (text[at] == 'Z') {
    ++at;
  } else if (text[at] == '+' || text[at] == '-') {
    int offset_hours, offset_minutes;
    if (!Digits(text, at + 1, 2, &offset_hours) || at + 3 >= text.size() || text[at + 3] != ':' ||
        !Digits(text, at + 4, 2, &offset_minutes) || offset_hours > 23 || offset_minutes > 59) {
      return false;
    }
    offset = (offset_hours * 60 + offset_minutes) * 60 * (text[at] == '+' ? 1 : -1);
    at += 6;
  } else {
    return false;
  }
  if (at != text.size()) return false;
  const int64_t s =
      DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second - offset;
  if (s < kMinTimestampSeconds || s > kMaxTimestampSeconds) return false;
  *seconds = s;
  *nanos = fraction;
  return true;
}

bool AppendRfc3339(int64_t seconds, int32_t nanos, std::string* out) {
  // protobuf's Timestamp range: 0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z.
  if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds || nanos < 0 ||
      nanos > 999999999) {
    return false;
  }
  const int64_t days = (seconds >= 0 ? seconds : seconds - 86399) / 86400;
  const int64_t in_day = seconds - days * 86400;
  const CivilDate date = CivilFromDays(days);
  char text[20] = "0000-00-00T00:00:00";
  auto put = [&](int at, int width, uint64_t value) {
    for (int i = at + width - 1; i >= at; --i) {
      text[i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
  };
  put(0, 4, static_cast<uint64_t>(date.year));
  put(5, 2, static_cast<uint64_t>(date.month));
  put(8, 2, static_cast<uint64_t>(date.day));
  put(11, 2, static_cast<uint64_t>(in_day / 3600));
  put(14, 2, static_cast<uint64_t>(in_day / 60 % 60));
  put(17, 2, static_cast<uint64_t>(in_day % 60));
  out->append(text, 19);
  if (nanos != 0) {
    out->push_back('.');
    if (nanos % 1000000 == 0) {
      AppendDigits(static_cast<uint64_t>(nanos / 1000000), 3, out);
    } else if (nanos % 1000 == 0) {
      AppendDigits(static_cast<uint64_t>(nanos / 1000), 6, out);
    } else {
      AppendDigits(static_cast<uint64_t>(nanos), 9, out);
    }
  }
  out->push_back('Z');
  return true;
}

}  // namespace lawful::text
