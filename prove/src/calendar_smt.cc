// The engine's calendar arithmetic as solver terms (see calendar_smt.h).
#include "calendar_smt.h"

#include <string>

namespace lawful::prove {

constexpr int64_t kSecondsPerDay = 86'400;

z3::expr Calendar::DaysFromCivil(const z3::expr& y, const z3::expr& m, const z3::expr& d) {
  // Howard Hinnant's days_from_civil; every year in range is positive, so `/` is exact floor.
  z3::expr ya = y - z3::ite(m <= 2, Int(1), Int(0));
  z3::expr era = ya / 400;
  z3::expr yoe = ya - era * 400;
  z3::expr mp = z3::ite(m > 2, m - 3, m + 9);
  z3::expr doy = (153 * mp + 2) / 5 + d - 1;
  z3::expr doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

z3::expr Calendar::DaysInMonth(const z3::expr& y, const z3::expr& m) {
  z3::expr leap = (z3::mod(y, 4) == 0 && z3::mod(y, 100) != 0) || z3::mod(y, 400) == 0;
  return z3::ite(m == 2, z3::ite(leap, Int(29), Int(28)),
                 z3::ite(m == 4 || m == 6 || m == 9 || m == 11, Int(30), Int(31)));
}

Calendar::Civil Calendar::FromDays(const z3::expr& days) {
  if (auto it = civil_.find(days.id()); it != civil_.end()) return it->second;
  const std::string n = std::to_string(fresh_++);
  Civil c{ctx_.int_const(("civil_y" + n).c_str()), ctx_.int_const(("civil_m" + n).c_str()),
          ctx_.int_const(("civil_d" + n).c_str())};
  facts_.push_back(c.y >= kFirstYear - 1 && c.y <= kLastYear + 1);
  facts_.push_back(c.m >= 1 && c.m <= 12 && c.d >= 1 && c.d <= DaysInMonth(c.y, c.m));
  facts_.push_back(DaysFromCivil(c.y, c.m, c.d) == days);
  civil_.emplace(days.id(), c);
  return c;
}

z3::expr Calendar::AddToInstant(const z3::expr& instant, int64_t months, int64_t days) {
  z3::expr day = instant / Int(kSecondsPerDay);  // floor: the divisor is positive
  z3::expr time_of_day = z3::mod(instant, Int(kSecondsPerDay));
  z3::expr moved = day;
  if (months != 0) {
    Civil c = FromDays(day);
    z3::expr index = c.y * 12 + c.m - 1 + Int(months);
    z3::expr year = index / 12;
    z3::expr month = z3::mod(index, Int(12)) + 1;
    z3::expr dim = DaysInMonth(year, month);
    moved = DaysFromCivil(year, month, z3::ite(c.d < dim, c.d, dim));
  }
  return (moved + Int(days)) * Int(kSecondsPerDay) + time_of_day;
}

z3::expr Calendar::AddToDate(const z3::expr& date, int64_t months, int64_t days) {
  z3::expr y = date / 10000, m = z3::mod(date, Int(10000)) / 100, d = z3::mod(date, Int(100));
  z3::expr day = DaysFromCivil(y, m, d);
  if (months != 0) {
    z3::expr index = y * 12 + m - 1 + Int(months);
    z3::expr year = index / 12;
    z3::expr month = z3::mod(index, Int(12)) + 1;
    z3::expr dim = DaysInMonth(year, month);
    day = DaysFromCivil(year, month, z3::ite(d < dim, d, dim));
  }
  Civil out = FromDays(day + Int(days));
  return out.y * 10000 + out.m * 100 + out.d;
}

z3::expr Calendar::LocalDate(const z3::expr& instant, const std::string& zone) {
  for (const LocalDateTerm& t : local_) {
    if (t.zone == zone && z3::eq(t.instant, instant)) return t.date;
  }
  z3::expr date = ctx_.int_const(("local_date" + std::to_string(fresh_++)).c_str());
  facts_.push_back(ValidDate(date));
  for (const LocalDateTerm& t : local_) {
    if (t.zone != zone) continue;
    facts_.push_back(z3::implies(instant <= t.instant, date <= t.date));
    facts_.push_back(z3::implies(t.instant <= instant, t.date <= date));
  }
  local_.push_back(LocalDateTerm{instant, date, zone});
  return date;
}

z3::expr Calendar::ValidDate(const z3::expr& date) {
  z3::expr y = date / 10000, m = z3::mod(date, Int(10000)) / 100, d = z3::mod(date, Int(100));
  return date >= Int(int64_t{kFirstYear} * 10000) && y <= kLastYear && m >= 1 && m <= 12 &&
         d >= 1 && d <= DaysInMonth(y, m);
}

z3::expr Calendar::ValidInstant(const z3::expr& instant) {
  // 1900-01-01T00:00:00Z .. 2199-12-31T23:59:59Z
  return instant >= Int(-2'208'988'800) && instant < Int(7'258'118'400);
}

}  // namespace lawful::prove
