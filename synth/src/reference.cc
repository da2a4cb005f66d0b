// The legal memo (shared/policy/sweden-outreach-policy.md) written by hand in C++, section by
// section, without the rules language. Deliberately plain: it is the oracle the compiled rules
// must agree with on every generated contact, and the speed the VM is measured against.
#include <string_view>

#include "absl/time/civil_time.h"
#include "lawful/synth.h"

namespace lawful::synth {
namespace {

using lawful::v1::Channel;
using lawful::v1::Contact;
using lawful::v1::OUTCOME_ALLOW;
using lawful::v1::OUTCOME_DENY;

// §3: N calendar months back from `t` in UTC, keeping day and time, clamped to the month's end.
absl::Time MonthsBefore(absl::Time t, int months) {
  const absl::TimeZone utc = absl::UTCTimeZone();
  absl::CivilSecond s = absl::ToCivilSecond(t, utc);
  absl::CivilMonth m = absl::CivilMonth(s) - months;
  absl::CivilDay last_day = absl::CivilDay(absl::CivilMonth(m) + 1) - 1;
  int day = s.day() > last_day.day() ? last_day.day() : s.day();
  absl::CivilSecond moved(m.year(), m.month(), day, s.hour(), s.minute(), s.second());
  return absl::FromCivil(moved, utc) + (t - absl::FromCivil(s, utc));  // keeps sub-seconds
}

absl::Time TimeOf(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

const absl::TimeZone& Stockholm() {
  static const absl::TimeZone* zone = [] {
    auto* z = new absl::TimeZone;
    absl::LoadTimeZone("Europe/Stockholm", z);
    return z;
  }();
  return *zone;
}

struct Birth {
  bool known = false;
  int year = 0, month = 0, day = 0;
};

// "YYYY-MM-DD", read once per contact.
Birth BirthOf(const Contact& c) {
  Birth b;
  const std::string& s = c.birth_date();
  if (s.size() != 10) return b;
  auto num = [&](size_t at, size_t len) {
    int v = 0;
    for (size_t i = at; i < at + len; ++i) v = v * 10 + (s[i] - '0');
    return v;
  };
  b = Birth{true, num(0, 4), num(5, 2), num(8, 2)};
  return b;
}

// §3: completed years on a calendar date; -1 without a birth date.
int AgeOn(const Birth& b, const absl::CivilDay& on) {
  if (!b.known) return -1;
  int years = static_cast<int>(on.year()) - b.year;
  if (on.month() < b.month || (on.month() == b.month && on.day() < b.day)) --years;
  return years;
}

int AgeOn(const Birth& b, absl::Time t) {
  return b.known ? AgeOn(b, absl::ToCivilDay(t, Stockholm())) : -1;
}

bool InForce(bool has, const google::protobuf::Timestamp& ts, absl::Time at) {
  return has && TimeOf(ts) <= at;
}

enum class ConsentState { kNone, kWithdrawn, kActive };

struct StateResult {
  ConsentState state = ConsentState::kNone;
  int latest = -1;  // index of the first consent with the latest grant instant
};

// §4.
StateResult StateOf(const Contact& c, const Birth& birth, std::string_view purpose, Channel channel,
                    absl::Time at) {
  StateResult r;
  absl::Time latest;
  for (int i = 0; i < c.consents_size(); ++i) {
    const auto& k = c.consents(i);
    if (k.purpose() != purpose || k.channel() != channel ||
        !InForce(k.has_granted_at(), k.granted_at(), at))
      continue;
    if (r.latest < 0 || TimeOf(k.granted_at()) > latest) {
      r.latest = i;
      latest = TimeOf(k.granted_at());
    }
  }
  if (r.latest < 0) return r;
  bool withdrawn = false, valid = false;
  for (const auto& k : c.consents()) {
    if (k.purpose() != purpose || k.channel() != channel || !k.has_granted_at() ||
        TimeOf(k.granted_at()) != latest)
      continue;
    withdrawn |= InForce(k.has_withdrawn_at(), k.withdrawn_at(), at);
    valid |= k.source() == lawful::v1::CONSENT_SOURCE_GUARDIAN || !birth.known ||
             AgeOn(birth, TimeOf(k.granted_at())) >= 13;
  }
  r.state = withdrawn ? ConsentState::kWithdrawn
            : valid   ? ConsentState::kActive
                      : ConsentState::kNone;
  return r;
}

bool Has(const Contact& c, lawful::v1::Suppression s) {
  for (int v : c.suppressions()) {
    if (v == s) return true;
  }
  return false;
}

bool Declared(const Contact& c, std::string_view purpose) {
  for (const auto& p : c.collection_purposes()) {
    if (p == purpose) return true;
  }
  return false;
}

bool AddressMissing(const Contact& c, Channel channel) {
  switch (channel) {
    case lawful::v1::CHANNEL_EMAIL:
      return c.email().empty();
    case lawful::v1::CHANNEL_SMS:
    case lawful::v1::CHANNEL_PHONE:
      return c.phone().empty();
    case lawful::v1::CHANNEL_POST:
      return c.postal_address().empty();
    default:
      return true;
  }
}

// §5 gate 10; a verification dated after `at` has not happened yet (§2).
bool AddressUnverified(const Contact& c, absl::Time cutoff, absl::Time at) {
  return !c.has_postal_address_verified_at() || TimeOf(c.postal_address_verified_at()) < cutoff ||
         TimeOf(c.postal_address_verified_at()) > at;
}

ReferenceDecision Deny(std::string_view reason) { return {OUTCOME_DENY, reason, -1}; }
ReferenceDecision Allow(std::string_view reason, int evidence = -1) {
  return {OUTCOME_ALLOW, reason, evidence};
}

}  // namespace

HandWrittenPolicy::HandWrittenPolicy(std::string_view purpose, Channel channel,
                                     lawful::v1::NoticeType notice_type, absl::Time at)
    : purpose_(purpose),
      channel_(channel),
      notice_type_(notice_type),
      at_(at),
      retention_cutoff_(MonthsBefore(at, 24)),
      purchase_cutoff_(MonthsBefore(at, 12)),
      nix_consent_cutoff_(MonthsBefore(at, 3)),
      address_cutoff_(MonthsBefore(at, 12)),
      today_(absl::ToCivilDay(at, Stockholm())) {}

ReferenceDecision DecideByHand(const Contact& c, std::string_view purpose, Channel channel,
                               lawful::v1::NoticeType notice, absl::Time at) {
  return HandWrittenPolicy(purpose, channel, notice, at).Decide(c);
}

ReferenceDecision HandWrittenPolicy::Decide(const Contact& c) const {
  const std::string_view purpose = purpose_;
  const Channel channel = channel_;
  lawful::v1::NoticeType notice = notice_type_;
  const absl::Time at = at_;
  const bool erasure = InForce(c.has_erasure_requested_at(), c.erasure_requested_at(), at);
  const auto& rel = c.relationship();

  if (purpose == "service_notice") {
    if (notice == lawful::v1::NOTICE_TYPE_UNSPECIFIED) notice = lawful::v1::NOTICE_TYPE_CONTRACT;
    if (erasure && notice != lawful::v1::NOTICE_TYPE_LEGAL_OBLIGATION)
      return Deny("erasure_pending");
    if (AddressMissing(c, channel)) return Deny("missing_address");
    if (channel == lawful::v1::CHANNEL_POST && AddressUnverified(c, address_cutoff_, at))
      return Deny("address_unverified");
    if (notice == lawful::v1::NOTICE_TYPE_LEGAL_OBLIGATION) return Allow("legal_obligation");
    if (notice == lawful::v1::NOTICE_TYPE_VITAL_INTEREST) return Allow("vital_interest");
    if (notice == lawful::v1::NOTICE_TYPE_CONTRACT && rel.is_customer()) return Allow("contract");
    return Deny("no_lawful_basis");
  }

  // §5, the gates in order.
  if (erasure) return Deny("erasure_pending");
  for (const auto& o : c.objections()) {
    const bool in_force = InForce(o.has_lodged_at(), o.lodged_at(), at) &&
                          !InForce(o.has_withdrawn_at(), o.withdrawn_at(), at);
    const bool covers =
        o.scope() == lawful::v1::OBJECTION_SCOPE_DIRECT_MARKETING ||
        (o.scope() == lawful::v1::OBJECTION_SCOPE_PROFILING && purpose == "profiling");
    if (in_force && covers) return Deny("objection");
  }
  const Birth birth = BirthOf(c);
  const StateResult state = StateOf(c, birth, purpose, channel, at);
  const int age = AgeOn(birth, today_);
  if (age >= 0 && age < 13 && state.state != ConsentState::kActive) return Deny("minor");
  if (Has(c, lawful::v1::SUPPRESSION_INTERNAL)) return Deny("suppressed_internal");
  if (channel == lawful::v1::CHANNEL_PHONE && Has(c, lawful::v1::SUPPRESSION_NIX_PHONE)) {
    const bool fresh = state.state == ConsentState::kActive &&
                       TimeOf(c.consents(state.latest).granted_at()) >= nix_consent_cutoff_;
    if (!fresh) return Deny("suppressed_nix");
  }
  if (channel == lawful::v1::CHANNEL_POST && state.state != ConsentState::kActive) {
    if (Has(c, lawful::v1::SUPPRESSION_NIX_ADDRESSED)) return Deny("suppressed_nix_addressed");
    if (Has(c, lawful::v1::SUPPRESSION_SPAR_DIRECT_MARKETING)) return Deny("suppressed_spar");
  }
  // An activity dated after `at` has not happened yet (§2): as good as missing.
  if (!c.has_last_activity_at() || TimeOf(c.last_activity_at()) < retention_cutoff_ ||
      TimeOf(c.last_activity_at()) > at) {
    return Deny("retention_expired");
  }
  if (AddressMissing(c, channel)) return Deny("missing_address");
  if (channel == lawful::v1::CHANNEL_POST && AddressUnverified(c, address_cutoff_, at))
    return Deny("address_unverified");
  for (int opted_out : rel.opted_out_channels()) {
    if (opted_out == channel) return Deny("channel_opt_out");
  }
  if (state.state == ConsentState::kWithdrawn) return Deny("consent_withdrawn");

  // §6, the lawful bases in order.
  if (state.state == ConsentState::kActive) return Allow("consent", state.latest);
  const bool electronic =
      channel == lawful::v1::CHANNEL_EMAIL || channel == lawful::v1::CHANNEL_SMS;
  if (purpose == "product_offer" && electronic && rel.is_customer() && rel.has_last_purchase_at() &&
      TimeOf(rel.last_purchase_at()) >= purchase_cutoff_ && TimeOf(rel.last_purchase_at()) <= at &&
      rel.soft_opt_in_notice_given() && Declared(c, "product_offer")) {
    return Allow("soft_opt_in");
  }
  if (!electronic && purpose != "profiling" && rel.is_customer() && Declared(c, purpose)) {
    return Allow("legitimate_interest");
  }

  // §7.
  if (!Declared(c, purpose)) return Deny("purpose_incompatible");
  return Deny("no_lawful_basis");
}

}  // namespace lawful::synth
