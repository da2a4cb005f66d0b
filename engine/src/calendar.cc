// Calendar arithmetic for rules: the memo's "N calendar months" and "completed years".
#include "calendar.h"

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

int DaysInMonth(int64_t year, int month) {
  return static_cast<int>(absl::GetYearDay(absl::CivilDay(year, month + 1, 0)) -
                          absl::GetYearDay(absl::CivilDay(year, month, 1)) + 1);
}

// Adds months to a civil day, clamping the day to the target month's end.
absl::CivilDay AddMonths(absl::CivilDay day, int64_t months) {
  absl::CivilMonth target = absl::CivilMonth(day) + months;
  int last = DaysInMonth(target.year(), target.month());
  return absl::CivilDay(target.year(), target.month(), day.day() > last ? last : day.day());
}

const absl::CivilDay kEpochDay(1970, 1, 1);

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
  int64_t days_since_epoch = instant / kNanosPerDay;
  int64_t time_of_day = instant % kNanosPerDay;
  if (time_of_day < 0) {
    time_of_day += kNanosPerDay;
    --days_since_epoch;
  }
  absl::CivilDay day = kEpochDay + days_since_epoch;
  day = AddMonths(day, static_cast<int64_t>(sign) * d.months) + static_cast<int64_t>(sign) * d.days;
  int64_t days = day - kEpochDay;
  int64_t out;
  if (__builtin_mul_overflow(days, kNanosPerDay, &out) ||
      __builtin_add_overflow(out, time_of_day, &out) || out == kMissing) {
    return kMissing;
  }
  return out;
}

int64_t AddToDate(int64_t date, CalendarDuration d, int sign) {
  if (date == kMissing) return kMissing;
  absl::CivilDay day = kEpochDay + date;
  day = AddMonths(day, static_cast<int64_t>(sign) * d.months) + static_cast<int64_t>(sign) * d.days;
  return day - kEpochDay;
}

int64_t LocalDate(int64_t instant, const absl::TimeZone& zone) {
  if (instant == kMissing) return kMissing;
  absl::CivilDay day = absl::ToCivilDay(ToTime(instant), zone);
  return day - kEpochDay;
}

int64_t YearsBetween(int64_t from, int64_t to) {
  if (from == kMissing || to == kMissing) return kMissing;
  absl::CivilDay a = kEpochDay + from;
  absl::CivilDay b = kEpochDay + to;
  int64_t years = b.year() - a.year();
  // Not yet had this year's anniversary: comparing (month, day) makes 29 February count as
  // passed only from 1 March in common years.
  if (b.month() < a.month() || (b.month() == a.month() && b.day() < a.day())) --years;
  return years;
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
  return absl::CivilDay(y, m, d) - kEpochDay;
}

std::string FormatDate(int64_t date) {
  if (date == kMissing) return "missing";
  absl::CivilDay day = kEpochDay + date;
  return absl::StrFormat("%04d-%02d-%02d", day.year(), day.month(), day.day());
}

std::string FormatInstant(int64_t instant) {
  if (instant == kMissing) return "missing";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", ToTime(instant), absl::UTCTimeZone());
}

}  // namespace lawful::calendar
