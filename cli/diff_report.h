// The two reports of `lawful diff`: tables for a person, one JSON document for a CI job.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "diff_compare.h"
#include "input.h"

namespace lawful::cli {

// "newsletter by email": how an outreach is named in reports and messages.
std::string OutreachName(const std::string& purpose, lawful::v1::Channel channel);

// The comparisons as tables: per outreach, its transitions and the rules whose counts changed.
std::string TextReport(const Side& before, const Side& after, absl::Time at, int64_t contacts,
                       int malformed, const Differ& differ, const std::vector<Skipped>& skipped);

// One JSON document for a CI job that comments on a rules change.
std::string JsonReport(const Side& before, const Side& after, absl::Time at, int64_t contacts,
                       int malformed, const Differ& differ, const std::vector<Skipped>& skipped);

}  // namespace lawful::cli
