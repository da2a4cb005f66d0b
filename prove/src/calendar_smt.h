// The engine's calendar (engine/src/calendar.cc) in linear integer arithmetic, for the solver:
// instants are whole seconds since 1970, dates YYYYMMDD numbers, as the engine packs them.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <z3++.h>

namespace lawful::prove {

// The years the prover covers: every instant and date of a contact or an outreach lies in them.
inline constexpr int kFirstYear = 1900;
inline constexpr int kLastYear = 2199;

class Calendar {
 public:
  // `facts` receives the constraints that tie fresh calendar variables to their instants.
  Calendar(z3::context& ctx, z3::expr_vector& facts) : ctx_(ctx), facts_(facts) {}

  // Days since 1970-01-01 of a valid civil date.
  z3::expr DaysFromCivil(const z3::expr& y, const z3::expr& m, const z3::expr& d);
  z3::expr DaysInMonth(const z3::expr& y, const z3::expr& m);
  // The valid civil date (y, m, d) of `days`; memoized by term.
  struct Civil {
    z3::expr y, m, d;
  };
  Civil FromDays(const z3::expr& days);

  // instant ± (months, days), as calendar::AddToInstant: months in UTC with the day clamped to
  // the month's end, then whole days.
  z3::expr AddToInstant(const z3::expr& instant, int64_t months, int64_t days);
  // date (YYYYMMDD) ± (months, days), as calendar::AddToDate.
  z3::expr AddToDate(const z3::expr& date, int64_t months, int64_t days);
  // The date (YYYYMMDD) at `instant` in `zone`, over-approximated: a real date that moves with
  // the instant (a later instant never has an earlier local date in the same zone). Exact
  // calendar conversions made the solver too slow; a counterexample's local dates are pinned to
  // the zone's real ones before the engine checks it (counterexample.h).
  z3::expr LocalDate(const z3::expr& instant, const std::string& zone);
  struct LocalDateTerm {
    z3::expr instant, date;
    std::string zone;
  };
  const std::vector<LocalDateTerm>& local_dates() const { return local_; }

  // Constraints for a date variable to be a real calendar date in the covered years.
  z3::expr ValidDate(const z3::expr& date);
  // ... and for an instant variable to lie in them.
  z3::expr ValidInstant(const z3::expr& instant);

 private:
  z3::expr Int(int64_t v) { return ctx_.int_val(v); }
  z3::context& ctx_;
  z3::expr_vector& facts_;
  std::map<unsigned, Civil> civil_;  // by the days term's id
  std::vector<LocalDateTerm> local_;
  int fresh_ = 0;
};

}  // namespace lawful::prove
