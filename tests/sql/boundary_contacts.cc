#include "boundary_contacts.h"

#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace lawful {
namespace {

using lawful::v1::Contact;

void Set(google::protobuf::Timestamp* ts, absl::Time t) {
  const int64_t seconds = absl::ToUnixSeconds(t);
  ts->set_seconds(seconds);
  ts->set_nanos(0);
}

// `t` moved by whole calendar months in UTC, clamped to the month's end (the engine's calendar).
absl::Time Months(absl::Time t, int months) {
  const absl::CivilSecond s = absl::ToCivilSecond(t, absl::UTCTimeZone());
  const absl::CivilMonth target = absl::CivilMonth(s) + months;
  const int last =
      static_cast<int>(absl::CivilDay(absl::CivilMonth(target + 1)) - 1 - absl::CivilDay(target)) +
      1;
  const absl::CivilSecond moved(target.year(), target.month(), std::min(s.day(), last), s.hour(),
                                s.minute(), s.second());
  return absl::FromCivil(moved, absl::UTCTimeZone());
}

std::string Date(absl::CivilDay d) {
  return absl::StrFormat("%04d-%02d-%02d", d.year(), d.month(), d.day());
}

}  // namespace

std::vector<Contact> BoundaryContacts(absl::Time at, const std::string& prefix) {
  const absl::Duration second = absl::Seconds(1);
  absl::TimeZone stockholm;
  absl::LoadTimeZone("Europe/Stockholm", &stockholm);
  const absl::CivilDay today(absl::ToCivilSecond(at, stockholm));
  // Reachable on every channel for every purpose by consent, recently active, a customer.
  Contact base;
  base.set_email("anna@example.com");
  base.set_phone("+46701234567");
  base.set_postal_address("Storgatan 1, Stockholm");
  Set(base.mutable_postal_address_verified_at(), Months(at, -1));
  Set(base.mutable_last_activity_at(), Months(at, -1));
  base.mutable_relationship()->set_is_customer(true);
  base.mutable_relationship()->set_soft_opt_in_notice_given(true);
  Set(base.mutable_relationship()->mutable_last_purchase_at(), Months(at, -2));
  for (const char* p : {"newsletter", "product_offer", "survey", "profiling", "service_notice"}) {
    base.add_collection_purposes(p);
  }
  std::vector<std::pair<std::string, std::function<void(Contact&)>>> cases;
  auto consent = [&](Contact& c, const char* purpose, lawful::v1::Channel ch, absl::Time granted) {
    auto* k = c.add_consents();
    k->set_id(absl::StrCat("k", c.consents_size()));
    k->set_purpose(purpose);
    k->set_channel(ch);
    Set(k->mutable_granted_at(), granted);
    k->set_source(lawful::v1::CONSENT_SOURCE_WEB_FORM);
    return k;
  };
  auto every_consent = [&](Contact& c, absl::Time granted) {
    for (const char* p : {"newsletter", "product_offer", "survey", "profiling"}) {
      for (auto ch : {lawful::v1::CHANNEL_EMAIL, lawful::v1::CHANNEL_SMS, lawful::v1::CHANNEL_POST,
                      lawful::v1::CHANNEL_PHONE}) {
        consent(c, p, ch, granted);
      }
    }
  };
  cases.push_back({"consents", [&](Contact& c) { every_consent(c, Months(at, -6)); }});
  cases.push_back({"no-consent", [](Contact&) {}});
  // Retention: 24 months after the last own activity, from both sides, and activity after `at`.
  for (auto [name, delta] : {std::pair<const char*, absl::Duration>{"retention-minus-1s", -second},
                             {"retention-exact", absl::ZeroDuration()},
                             {"retention-plus-1s", second}}) {
    cases.push_back({name, [&, delta](Contact& c) {
                       every_consent(c, Months(at, -30));
                       Set(c.mutable_last_activity_at(), Months(at, -24) + delta);
                     }});
  }
  cases.push_back({"activity-after-at", [&](Contact& c) {
                     every_consent(c, Months(at, -6));
                     Set(c.mutable_last_activity_at(), at + second);
                   }});
  cases.push_back({"activity-missing", [&](Contact& c) {
                     every_consent(c, Months(at, -6));
                     c.clear_last_activity_at();
                   }});
  // Ages on the Stockholm date of `at` and of the consent's grant.
  for (auto [name, days] : {std::pair<const char*, int>{"13th-birthday-today", 0},
                            {"13th-birthday-tomorrow", 1},
                            {"13th-birthday-yesterday", -1}}) {
    cases.push_back({name, [&, days](Contact& c) {
                       const absl::CivilDay birthday(today.year() - 13, today.month(), today.day());
                       c.set_birth_date(Date(birthday + days));
                       every_consent(c, Months(at, -1));
                     }});
  }
  cases.push_back(
      {"born-29-february", [&](Contact& c) {
         c.set_birth_date("2012-02-29");
         consent(c, "newsletter", lawful::v1::CHANNEL_EMAIL,
                 absl::FromCivil(absl::CivilSecond(2025, 2, 28, 12, 0, 0), absl::UTCTimeZone()));
         consent(c, "survey", lawful::v1::CHANNEL_EMAIL,
                 absl::FromCivil(absl::CivilSecond(2025, 3, 1, 12, 0, 0), absl::UTCTimeZone()));
       }});
  // Granted 23:30 UTC the day before the 13th birthday: already the birthday in Stockholm.
  cases.push_back(
      {"consent-on-stockholm-birthday", [&](Contact& c) {
         c.set_birth_date("2011-03-15");
         consent(c, "newsletter", lawful::v1::CHANNEL_EMAIL,
                 absl::FromCivil(absl::CivilSecond(2024, 3, 14, 23, 30, 0), absl::UTCTimeZone()));
         consent(c, "survey", lawful::v1::CHANNEL_EMAIL,
                 absl::FromCivil(absl::CivilSecond(2024, 3, 14, 22, 30, 0), absl::UTCTimeZone()));
       }});
  // Withdrawals and grants at exactly `at`, and a second either side.
  for (auto [name, delta] : {std::pair<const char*, absl::Duration>{"at-minus-1s", -second},
                             {"at-exact", absl::ZeroDuration()},
                             {"at-plus-1s", second}}) {
    cases.push_back({absl::StrCat("withdrawn-", name), [&, delta](Contact& c) {
                       every_consent(c, Months(at, -6));
                       for (auto& k : *c.mutable_consents())
                         Set(k.mutable_withdrawn_at(), at + delta);
                     }});
    cases.push_back(
        {absl::StrCat("granted-", name), [&, delta](Contact& c) { every_consent(c, at + delta); }});
    cases.push_back({absl::StrCat("objection-", name), [&, delta](Contact& c) {
                       every_consent(c, Months(at, -6));
                       auto* o = c.add_objections();
                       o->set_scope(lawful::v1::OBJECTION_SCOPE_PROFILING);
                       Set(o->mutable_lodged_at(), at + delta);
                       auto* w = c.add_objections();
                       w->set_scope(lawful::v1::OBJECTION_SCOPE_DIRECT_MARKETING);
                       Set(w->mutable_lodged_at(), Months(at, -3));
                       Set(w->mutable_withdrawn_at(), at + delta);
                     }});
    cases.push_back({absl::StrCat("erasure-", name), [&, delta](Contact& c) {
                       every_consent(c, Months(at, -6));
                       Set(c.mutable_erasure_requested_at(), at + delta);
                     }});
    // Windows: NIX consent freshness (3 months), address verification and soft opt-in (12).
    cases.push_back({absl::StrCat("nix-fresh-", name), [&, delta](Contact& c) {
                       every_consent(c, Months(at, -3) + delta);
                       c.add_suppressions(lawful::v1::SUPPRESSION_NIX_PHONE);
                     }});
    cases.push_back({absl::StrCat("address-verified-", name), [&, delta](Contact& c) {
                       every_consent(c, Months(at, -6));
                       Set(c.mutable_postal_address_verified_at(), Months(at, -12) + delta);
                     }});
    cases.push_back({absl::StrCat("last-purchase-", name), [&, delta](Contact& c) {
                       Set(c.mutable_relationship()->mutable_last_purchase_at(),
                           Months(at, -12) + delta);
                     }});
  }
  cases.push_back({"address-verified-after-at", [&](Contact& c) {
                     every_consent(c, Months(at, -6));
                     Set(c.mutable_postal_address_verified_at(), at + second);
                   }});
  // The latest consent decides; of several granted at the same instant, a withdrawn one wins.
  cases.push_back({"latest-tie", [&](Contact& c) {
                     every_consent(c, Months(at, -6));
                     every_consent(c, Months(at, -6));
                     for (int i = 0; i < c.consents_size(); i += 2) {
                       Set(c.mutable_consents(i)->mutable_withdrawn_at(), Months(at, -1));
                     }
                   }});
  cases.push_back({"suppressed-everywhere", [&](Contact& c) {
                     every_consent(c, Months(at, -6));
                     c.add_suppressions(lawful::v1::SUPPRESSION_NIX_ADDRESSED);
                     c.add_suppressions(lawful::v1::SUPPRESSION_SPAR_DIRECT_MARKETING);
                     c.add_suppressions(lawful::v1::SUPPRESSION_INTERNAL);
                   }});
  cases.push_back({"opted-out", [&](Contact& c) {
                     c.mutable_relationship()->add_opted_out_channels(lawful::v1::CHANNEL_SMS);
                     c.mutable_relationship()->add_opted_out_channels(lawful::v1::CHANNEL_POST);
                   }});
  cases.push_back({"no-addresses", [&](Contact& c) {
                     every_consent(c, Months(at, -6));
                     c.clear_email();
                     c.clear_phone();
                     c.clear_postal_address();
                   }});
  // What the engine refuses: a required value unset, an undeclared value name, an instant
  // after 9999, in fields the rules read and in fields they do not.
  cases.push_back({"consent-without-purpose", [&](Contact& c) {
                     every_consent(c, Months(at, -6));
                     c.mutable_consents(1)->clear_purpose();
                   }});
  cases.push_back({"consent-without-channel", [&](Contact& c) {
                     every_consent(c, Months(at, -6));
                     c.mutable_consents(2)->set_channel(lawful::v1::CHANNEL_UNSPECIFIED);
                   }});
  cases.push_back({"consent-without-grant", [&](Contact& c) {
                     every_consent(c, Months(at, -6));
                     c.mutable_consents(3)->clear_granted_at();
                   }});
  cases.push_back({"consent-undeclared-channel", [&](Contact& c) {
                     every_consent(c, Months(at, -6));
                     c.mutable_consents(4)->set_channel(static_cast<lawful::v1::Channel>(99));
                   }});
  cases.push_back({"consent-undeclared-source", [&](Contact& c) {
                     every_consent(c, Months(at, -6));
                     c.mutable_consents(0)->set_source(static_cast<lawful::v1::ConsentSource>(42));
                   }});
  cases.push_back({"objection-without-scope", [&](Contact& c) {
                     Set(c.add_objections()->mutable_lodged_at(), Months(at, -1));
                   }});
  cases.push_back({"undeclared-suppression", [&](Contact& c) {
                     c.add_suppressions(lawful::v1::SUPPRESSION_INTERNAL);
                     c.add_suppressions(static_cast<lawful::v1::Suppression>(17));
                   }});
  cases.push_back({"undeclared-opt-out", [&](Contact& c) {
                     c.mutable_relationship()->add_opted_out_channels(
                         static_cast<lawful::v1::Channel>(8));
                   }});
  cases.push_back({"activity-after-9999", [&](Contact& c) {
                     c.mutable_last_activity_at()->set_seconds(253402300800);  // 10000-01-01
                   }});
  cases.push_back({"customer-since-after-9999", [&](Contact& c) {
                     c.mutable_relationship()->mutable_customer_since()->set_seconds(253402300800);
                   }});
  cases.push_back({"two-problems", [&](Contact& c) {
                     every_consent(c, Months(at, -6));
                     c.mutable_consents(5)->set_source(static_cast<lawful::v1::ConsentSource>(42));
                     c.mutable_consents(7)->clear_granted_at();
                   }});

  std::vector<Contact> out;
  for (auto& [name, make] : cases) {
    Contact c = base;
    c.set_id(absl::StrCat(prefix, "-", name));
    make(c);
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace lawful
