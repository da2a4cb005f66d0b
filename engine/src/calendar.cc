// Calendar arithmetic for rules: the memo's "N calendar months" and "completed years".
#include "calendar.h"

#include "lawful/text.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"

namespace lawful::calendar {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr int64_t kNanosPerDay = 86'400 * kNanosPerSecond;
// The least and greatest representable instants; kMissing (INT64_MIN) is reserved.
constexpr int64_t kMinInstant = std::numeric_limits<int64_t>::min() + 1;
constexpr int64_t kMaxInstant = std::numeric_limits<int64_t>::max();

using Ymd = text::CivilDate;
using text::CivilFromDays;
using text::DaysFromCivil;
using text::DaysInMonth;

// Days since epoch `date` moved by `months` calendar months, the day clamped to the month's end;
// nullopt when the year leaves a sane range (the caller reports missing).
std::optional<int64_t> AddMonths(int64_t date, int64_t months) {
  const Ymd ymd = CivilFromDays(date);
  const int64_t index = ymd.year * 12 + (ymd.month - 1) + months;
  const int64_t year = index >= 0 ? index / 12 : (index - 11) / 12;
  if (year < -1'000'000 || year > 1'000'000) return std::nullopt;
  const int month = static_cast<int>(index - year * 12) + 1;
  const int day = std::min(ymd.day, DaysInMonth(year, month));
  return DaysFromCivil(year, month, day);
}

// Dates are YYYYMMDD integers: ordered like the calendar, and an age is a subtraction.
constexpr int64_t Pack(int64_t y, int m, int d) { return y * 10000 + m * 100 + d; }
constexpr Ymd Unpack(int64_t date) {
  const int64_t md = ((date % 10000) + 10000) % 10000;
  return Ymd{(date - md) / 10000, static_cast<int>(md / 100), static_cast<int>(md % 100)};
}

// Splits an instant into whole days since epoch and the time of day.
void SplitInstant(int64_t instant, int64_t& days, int64_t& time_of_day) {
  days = instant / kNanosPerDay;
  time_of_day = instant % kNanosPerDay;
  if (time_of_day < 0) {
    time_of_day += kNanosPerDay;
    --days;
  }
}

}  // namespace

int64_t FromTime(absl::Time t) {
  if (t <= absl::FromUnixNanos(kMinInstant)) return kMinInstant;
  if (t >= absl::FromUnixNanos(kMaxInstant)) return kMaxInstant;
  return absl::ToUnixNanos(t);
}

absl::Time ToTime(int64_t instant) { return absl::FromUnixNanos(instant); }

int64_t FromTimestamp(int64_t seconds, int64_t nanos) {
  constexpr int64_t kMaxSeconds = kMaxInstant / kNanosPerSecond;
  if (seconds > kMaxSeconds - 1) return kMaxInstant;
  if (seconds < -kMaxSeconds + 1) return kMinInstant;
  return seconds * kNanosPerSecond + nanos;
}

int64_t AddToInstant(int64_t instant, CalendarDuration d, int sign) {
  if (instant == kMissing) return kMissing;
  int64_t days, time_of_day;
  SplitInstant(instant, days, time_of_day);
  std::optional<int64_t> moved = AddMonths(days, static_cast<int64_t>(sign) * d.months);
  if (!moved) return kMissing;
  int64_t out;
  if (__builtin_add_overflow(*moved, static_cast<int64_t>(sign) * d.days, &days) ||
      __builtin_mul_overflow(days, kNanosPerDay, &out) ||
      __builtin_add_overflow(out, time_of_day, &out) || out == kMissing) {
    return kMissing;
  }
  return out;
}

int64_t AddToDate(int64_t date, CalendarDuration d, int sign) {
  if (date == kMissing) return kMissing;
  const Ymd ymd = Unpack(date);
  if (ymd.year < -1'000'000 || ymd.year > 1'000'000) return kMissing;
  std::optional<int64_t> moved =
      AddMonths(DaysFromCivil(ymd.year, ymd.month, ymd.day), static_cast<int64_t>(sign) * d.months);
  if (!moved) return kMissing;
  const Ymd out = CivilFromDays(*moved + static_cast<int64_t>(sign) * d.days);
  return Pack(out.year, out.month, out.day);
}

int64_t LocalDate(int64_t instant, const absl::TimeZone& zone) {
  if (instant == kMissing) return kMissing;
  const absl::CivilSecond local = zone.At(ToTime(instant)).cs;
  return Pack(local.year(), local.month(), local.day());
}

int64_t YearsBetween(int64_t from, int64_t to) {
  if (from == kMissing || to == kMissing) return kMissing;
  // With YYYYMMDD dates the anniversary test is the last four digits: 29 February (0229) counts
  // as passed only from 1 March (0301) in common years. Floor division keeps negative spans right.
  const int64_t span = to - from;
  return span >= 0 ? span / 10000 : -((-span + 9999) / 10000);
}

std::optional<int64_t> ParseDate(std::string_view text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
  auto digits = [&](size_t pos, size_t len, int& out) {
    out = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  int y, m, d;
  if (!digits(0, 4, y) || !digits(5, 2, m) || !digits(8, 2, d)) return std::nullopt;
  if (m < 1 || m > 12 || d < 1 || d > DaysInMonth(y, m)) return std::nullopt;
  return Pack(y, m, d);
}

std::string FormatDate(int64_t date) {
  if (date == kMissing) return "missing";
  const Ymd ymd = Unpack(date);
  return absl::StrFormat("%04d-%02d-%02d", ymd.year, ymd.month, ymd.day);
}

std::string FormatInstant(int64_t instant) {
  if (instant == kMissing) return "missing";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", ToTime(instant), absl::UTCTimeZone());
}

}  // namespace lawful::calendar
