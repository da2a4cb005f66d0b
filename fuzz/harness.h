// What the fuzz targets share: fixed contacts, running a rule set over them, and a check that
// turns a broken promise into a crash libFuzzer records.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "lawful/engine.h"

namespace lawful::fuzz {

// The instant every outreach of the fuzz targets is decided at (the shipped rules' fixtures use
// the same year), so a run is reproducible.
absl::Time FixedAt();

// A few synthetic contacts (lawful::synth, fixed seed), serialized: realistic facts for whatever
// program or rule set an input produced.
const std::vector<std::string>& SampleContacts();

// Decides `contacts` (and the sample contacts) for up to four declared purposes on two channels
// with every decision turned into its proto, as the server would, and explains each. Whatever
// the program, nothing here may crash: RuleSet::Create verified it. For a `compiled` program,
// Explain must also reach the decision Decide gives.
void Exercise(const RuleSet& rule_set, const std::vector<std::string_view>& contacts,
              bool compiled);

// Aborts with `what` when `ok` is false: a property the code promises was broken.
void Require(bool ok, std::string_view what);

}  // namespace lawful::fuzz
