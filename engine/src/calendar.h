// Calendar arithmetic on the VM's time values: instants are ns since the Unix epoch (UTC), dates
// are YYYYMMDD integers (2026-03-02 is 20260302). Months keep the day and time of day, clamped
// to the month's end.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/time/time.h"
#include "lawful/engine.h"

namespace lawful::calendar {

// Instant arithmetic; kMissing in gives kMissing out, as does a result outside the representable
// range (years 1678..2261).
int64_t AddToInstant(int64_t instant, CalendarDuration d, int sign);
int64_t AddToDate(int64_t date, CalendarDuration d, int sign);

// The calendar date of `instant` in `zone`.
int64_t LocalDate(int64_t instant, const absl::TimeZone& zone);

// Completed years from date `from` to date `to` (an age on `to` for a birth date `from`). A person
// born on 29 February turns a year older on 1 March in years that are not leap years.
int64_t YearsBetween(int64_t from, int64_t to);

// "YYYY-MM-DD" -> YYYYMMDD; nullopt when malformed or not a real date.
std::optional<int64_t> ParseDate(std::string_view text);
std::string FormatDate(int64_t date);

// Instants <-> absl::Time; out-of-range times saturate to the representable range.
int64_t FromTime(absl::Time t);
absl::Time ToTime(int64_t instant);
std::string FormatInstant(int64_t instant);

// Seconds and nanos of a google.protobuf.Timestamp, saturated into the instant range.
int64_t FromTimestamp(int64_t seconds, int64_t nanos);

}  // namespace lawful::calendar
