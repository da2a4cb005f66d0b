// Calendar arithmetic as the memo defines it: months keep day and time (clamped to month end),
// ages are completed years, 29 February birthdays turn on 1 March in common years.
#include "calendar.h"

#include "absl/time/civil_time.h"
#include "gtest/gtest.h"

namespace lawful::calendar {
namespace {

int64_t Instant(const char* rfc3339) {
  absl::Time t;
  std::string err;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &err)) << err;
  return FromTime(t);
}

int64_t Date(const char* text) { return *ParseDate(text); }

struct MonthCase {
  const char* from;
  int months;
  const char* want;
};

class AddMonthsTest : public testing::TestWithParam<MonthCase> {};

TEST_P(AddMonthsTest, KeepsDayAndTimeClampedToMonthEnd) {
  const MonthCase& c = GetParam();
  EXPECT_EQ(FormatInstant(AddToInstant(Instant(c.from), {c.months, 0}, +1)), c.want);
}

INSTANTIATE_TEST_SUITE_P(
    Table, AddMonthsTest,
    testing::Values(MonthCase{"2026-01-15T10:30:00Z", 1, "2026-02-15T10:30:00Z"},
                    MonthCase{"2026-01-31T23:59:59Z", 1, "2026-02-28T23:59:59Z"},   // clamped
                    MonthCase{"2028-01-31T00:00:00Z", 1, "2028-02-29T00:00:00Z"},   // leap year
                    MonthCase{"2026-03-31T08:00:00Z", -1, "2026-02-28T08:00:00Z"},  // backwards
                    MonthCase{"2026-05-31T12:00:00Z", -24, "2024-05-31T12:00:00Z"},
                    MonthCase{"2028-02-29T12:00:00Z", -12, "2027-02-28T12:00:00Z"},
                    MonthCase{"2026-12-15T00:00:00Z", 1, "2027-01-15T00:00:00Z"},
                    MonthCase{"2026-03-02T09:00:00.5Z", -3, "2025-12-02T09:00:00.5Z"}));

TEST(Calendar, DaysMoveWholeUtcDays) {
  EXPECT_EQ(FormatInstant(AddToInstant(Instant("2026-02-28T10:00:00Z"), {0, 1}, +1)),
            "2026-03-01T10:00:00Z");
  EXPECT_EQ(FormatInstant(AddToInstant(Instant("1969-12-31T23:00:00Z"), {0, 1}, +1)),
            "1970-01-01T23:00:00Z");
}

TEST(Calendar, MissingStaysMissing) {
  EXPECT_EQ(AddToInstant(kMissing, {1, 0}, +1), kMissing);
  EXPECT_EQ(AddToDate(kMissing, {1, 0}, +1), kMissing);
  EXPECT_EQ(YearsBetween(kMissing, Date("2026-01-01")), kMissing);
  EXPECT_EQ(LocalDate(kMissing, absl::UTCTimeZone()), kMissing);
}

struct AgeCase {
  const char* birth;
  const char* on;
  int64_t years;
};

class YearsBetweenTest : public testing::TestWithParam<AgeCase> {};

TEST_P(YearsBetweenTest, CountsCompletedYears) {
  const AgeCase& c = GetParam();
  EXPECT_EQ(YearsBetween(Date(c.birth), Date(c.on)), c.years) << c.birth << " on " << c.on;
}

INSTANTIATE_TEST_SUITE_P(
    Table, YearsBetweenTest,
    testing::Values(AgeCase{"2013-05-10", "2026-05-10", 13},  // the 13th birthday itself
                    AgeCase{"2013-05-10", "2026-05-09", 12},  // the day before
                    AgeCase{"2012-02-29", "2025-02-28", 12},  // 29 February, common year
                    AgeCase{"2012-02-29", "2025-03-01", 13},  // turns 13 on 1 March
                    AgeCase{"2012-02-29", "2024-02-29", 12},  // leap year: on the day
                    AgeCase{"2011-02-28", "2024-02-28", 13},
                    AgeCase{"2000-01-01", "1999-12-31", -1}));

TEST(Calendar, LocalDateUsesTheZonesCalendar) {
  absl::TimeZone stockholm;
  ASSERT_TRUE(absl::LoadTimeZone("Europe/Stockholm", &stockholm));
  // 23:30 UTC on 9 May is already 10 May in Stockholm (UTC+2 in summer).
  EXPECT_EQ(FormatDate(LocalDate(Instant("2026-05-09T23:30:00Z"), stockholm)), "2026-05-10");
  EXPECT_EQ(FormatDate(LocalDate(Instant("2026-05-09T21:59:59Z"), stockholm)), "2026-05-09");
  // Winter: UTC+1.
  EXPECT_EQ(FormatDate(LocalDate(Instant("2026-01-09T23:00:00Z"), stockholm)), "2026-01-10");
}

TEST(Calendar, ParseDateRejectsNonDates) {
  EXPECT_TRUE(ParseDate("2024-02-29").has_value());
  for (const char* bad : {"2025-02-29", "2025-13-01", "2025-00-10", "2025-1-01", "20250101",
                          "2025-01-32", "abcd-ef-gh", ""}) {
    EXPECT_FALSE(ParseDate(bad).has_value()) << bad;
  }
  EXPECT_EQ(FormatDate(*ParseDate("1900-03-01")), "1900-03-01");
}

TEST(Calendar, TimestampsSaturate) {
  EXPECT_EQ(FromTimestamp(253402300799, 0), std::numeric_limits<int64_t>::max());  // 9999-12-31
  EXPECT_EQ(FromTimestamp(-62135596800, 0), kMissing + 1);                         // 0001-01-01
  EXPECT_EQ(FromTimestamp(1, 5), 1'000'000'005);
}

// The constant-time date arithmetic agrees with Abseil's civil time on two centuries of dates.
TEST(Calendar, AgreesWithAbseilCivilTime) {
  for (absl::CivilDay day(1900, 1, 1); day < absl::CivilDay(2100, 12, 31); day += 13) {
    const int64_t date = *ParseDate(absl::FormatCivilTime(day));
    ASSERT_EQ(date, day.year() * 10000 + day.month() * 100 + day.day());
    ASSERT_EQ(FormatDate(date), absl::FormatCivilTime(day));
    for (int months : {-25, -12, -3, -1, 1, 7, 24}) {
      absl::CivilMonth target = absl::CivilMonth(day) + months;
      absl::CivilDay last = absl::CivilDay(target + 1) - 1;
      absl::CivilDay want(target.year(), target.month(), std::min(day.day(), last.day()));
      ASSERT_EQ(FormatDate(AddToDate(date, {months, 0}, +1)), absl::FormatCivilTime(want))
          << absl::FormatCivilTime(day) << " + " << months;
    }
    ASSERT_EQ(FormatDate(AddToDate(date, {0, 40}, +1)), absl::FormatCivilTime(day + 40));
    const absl::CivilDay later = day + 4321;
    int64_t years = later.year() - day.year();
    if (later.month() < day.month() || (later.month() == day.month() && later.day() < day.day()))
      --years;
    ASSERT_EQ(YearsBetween(date, *ParseDate(absl::FormatCivilTime(later))), years);
  }
}

}  // namespace
}  // namespace lawful::calendar
