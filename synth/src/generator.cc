// The synthetic contact generator. Rates are chosen so that a campaign of 10,000 contacts meets
// every gate and basis of the shipped rules many times, roughly as often as a Swedish consumer
// register would (NIX-Telefon is common, erasure requests are rare).
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "lawful/synth.h"

namespace lawful::synth {
namespace {

constexpr const char* kPurposes[] = {"newsletter", "product_offer", "survey", "profiling"};
constexpr lawful::v1::Channel kChannels[] = {lawful::v1::CHANNEL_EMAIL, lawful::v1::CHANNEL_SMS,
                                             lawful::v1::CHANNEL_POST, lawful::v1::CHANNEL_PHONE};
constexpr lawful::v1::ConsentSource kSources[] = {
    lawful::v1::CONSENT_SOURCE_WEB_FORM, lawful::v1::CONSENT_SOURCE_CHECKOUT,
    lawful::v1::CONSENT_SOURCE_PAPER_FORM, lawful::v1::CONSENT_SOURCE_PHONE,
    lawful::v1::CONSENT_SOURCE_GUARDIAN};

void SetTime(google::protobuf::Timestamp* ts, absl::Time t) {
  const int64_t seconds = absl::ToUnixSeconds(t);
  ts->set_seconds(seconds);
  ts->set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
}

}  // namespace

ContactGenerator::ContactGenerator(uint64_t seed, absl::Time at)
    : state_(seed), seed_(seed), at_(at) {}

uint64_t ContactGenerator::Random() {
  uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

bool ContactGenerator::Chance(double probability) {
  return static_cast<double>(Random() >> 11) * 0x1.0p-53 < probability;
}

int64_t ContactGenerator::Uniform(int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(Random() % static_cast<uint64_t>(hi - lo + 1));
}

absl::Time ContactGenerator::Around(absl::Time center, absl::Duration spread) {
  const int64_t seconds = absl::ToInt64Seconds(spread);
  return center + absl::Seconds(Uniform(-seconds, seconds));
}

lawful::v1::Contact ContactGenerator::Next() {
  lawful::v1::Contact c;
  Next(c);
  return c;
}

void ContactGenerator::Next(lawful::v1::Contact& c) {
  c.Clear();
  const uint64_t n = count_++;
  c.set_id(absl::StrCat("c-", seed_, "-", n));
  c.set_country("SE");
  const absl::Duration day = absl::Hours(24);
  const absl::Duration year = day * 365.25;

  // Age: mostly adults, a few children around the age of consent, some unknown.
  if (!Chance(0.10)) {
    absl::Duration age = Chance(0.03) ? year * 10 + day * Uniform(0, 4 * 365)
                                      : year * 18 + day * Uniform(0, 62 * 365);
    absl::CivilDay birth = absl::ToCivilDay(at_ - age, absl::UTCTimeZone());
    char text[16];
    std::snprintf(text, sizeof text, "%04d-%02d-%02d", static_cast<int>(birth.year()),
                  birth.month(), birth.day());
    c.set_birth_date(text);
  }

  if (!Chance(0.05)) c.set_email(absl::StrCat("person", n, "@example.com"));
  if (!Chance(0.20)) c.set_phone(absl::StrCat("+46701", 100000 + (n % 900000)));
  if (!Chance(0.05)) {
    c.set_postal_address(
        absl::StrCat("Storgatan ", 1 + n % 90, ", 111 ", 10 + n % 89, " Stockholm"));
    if (!Chance(0.10))
      SetTime(c.mutable_postal_address_verified_at(), at_ - day * Uniform(-3, 540));
  }

  // Consents: zero to four, for random purposes and channels; some withdrawn, a few not yet given.
  const int consents = static_cast<int>(Uniform(0, 4));
  for (int i = 0; i < consents; ++i) {
    auto* consent = c.add_consents();
    if (Chance(0.7)) consent->set_id(absl::StrCat("k-", n, "-", i));
    consent->set_purpose(kPurposes[Uniform(0, 3)]);
    consent->set_channel(kChannels[Chance(0.6) ? 0 : Uniform(0, 3)]);
    absl::Time granted =
        Chance(0.02) ? at_ + day * Uniform(1, 30) : at_ - day * Uniform(0, 3 * 365);
    SetTime(consent->mutable_granted_at(), granted);
    if (Chance(0.15)) SetTime(consent->mutable_withdrawn_at(), granted + day * Uniform(0, 400));
    consent->set_source(kSources[Chance(0.05) ? 4 : Uniform(0, 3)]);
  }

  if (Chance(0.03)) {
    auto* objection = c.add_objections();
    objection->set_id(absl::StrCat("o-", n));
    objection->set_scope(Chance(0.7) ? lawful::v1::OBJECTION_SCOPE_DIRECT_MARKETING
                                     : lawful::v1::OBJECTION_SCOPE_PROFILING);
    absl::Time lodged = at_ - day * Uniform(-10, 700);
    SetTime(objection->mutable_lodged_at(), lodged);
    if (Chance(0.2)) SetTime(objection->mutable_withdrawn_at(), lodged + day * Uniform(0, 300));
    objection->set_lodged_via(Chance(0.5) ? "phone" : "e-mail");
  }

  if (Chance(0.02)) c.add_suppressions(lawful::v1::SUPPRESSION_INTERNAL);
  if (Chance(0.15)) c.add_suppressions(lawful::v1::SUPPRESSION_NIX_PHONE);
  if (Chance(0.08)) c.add_suppressions(lawful::v1::SUPPRESSION_NIX_ADDRESSED);
  if (Chance(0.05)) c.add_suppressions(lawful::v1::SUPPRESSION_SPAR_DIRECT_MARKETING);
  if (Chance(0.01)) SetTime(c.mutable_erasure_requested_at(), at_ - day * Uniform(-5, 60));

  if (Chance(0.45)) {
    auto* r = c.mutable_relationship();
    r->set_is_customer(Chance(0.85));
    SetTime(r->mutable_customer_since(), at_ - day * Uniform(30, 3000));
    SetTime(r->mutable_last_purchase_at(), at_ - day * Uniform(-3, 730));
    r->set_soft_opt_in_notice_given(Chance(0.8));
    if (Chance(0.06)) r->add_opted_out_channels(kChannels[Uniform(0, 3)]);
  }

  // Last own activity: missing for a few, older than the 24-month retention for some.
  if (!Chance(0.03)) {
    SetTime(c.mutable_last_activity_at(),
            Chance(0.15) ? at_ - day * Uniform(731, 1500) : at_ - day * Uniform(-2, 729));
  }

  for (const char* purpose : kPurposes) {
    if (Chance(0.6)) c.add_collection_purposes(purpose);
  }
}

std::vector<lawful::v1::Contact> Generate(uint64_t seed, size_t count, absl::Time at) {
  ContactGenerator generator(seed, at);
  std::vector<lawful::v1::Contact> contacts(count);
  for (auto& c : contacts) generator.Next(c);
  return contacts;
}

}  // namespace lawful::synth
