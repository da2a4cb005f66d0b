// A solver model as a fixture case: the outreach and the contact the model describes, built
// through the contact's proto descriptor.
#pragma once

#include <z3++.h>

#include "encoder.h"
#include "lawful/fixtures.h"

namespace lawful::prove {

// Steers `solver` (whose assertions hold a counterexample) towards one a lawyer reads easily:
// few records, `at` at 10:00 UTC in 2026, events at midnight within the years before it,
// texts that are not the rules' own literals. Each preference is kept only when the
// counterexample survives it. Returns the scopes pushed (pop them after reading the model); the
// solver's last check is sat.
unsigned PreferReadable(z3::solver& solver, const Encoder& encoder);

// The request and contact of `model`. Records' required fields the rules never read get a valid
// value, so the deciding layer accepts the contact.
fixtures::Fixture FixtureFromModel(const Encoder& encoder, const z3::model& model);

}  // namespace lawful::prove
