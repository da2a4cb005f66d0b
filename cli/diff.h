// `lawful diff`: what a rule change does to real decisions, before it ships.
#pragma once

#include <cstdint>
#include <string>

namespace lawful::cli {

// The flags of `lawful diff`, as given on the command line (validated by RunDiff).
struct DiffOptions {
  std::string before;  // a rules directory, or a git revision whose rules/ is compared
  std::string after;   // likewise
  std::string purpose;
  std::string channel;        // email|sms|post|phone
  std::string notice_type;    // as for eval; empty means unspecified
  std::string at;             // RFC 3339; empty means now
  bool all_purposes = false;  // every purpose of the after rules x every channel
  bool json = false;
  int32_t examples = 3;  // contact ids shown per transition
  int64_t generate = 0;  // > 0: decide this many synthetic contacts instead of reading input
  uint64_t seed = 1;     // the generator's seed
};

// Decides every contact of `input` (JSONL, "-" for stdin; unused with `generate`) under both
// rule sets and prints how the decisions moved: a transition table per outreach and the rules
// whose firing counts changed. Returns the exit code: 0 when every line was decided (whether or
// not decisions changed), 1 when some input lines were malformed (reported with their line
// numbers; the rest is still compared), 2 on bad flags or rules that do not load.
int RunDiff(const DiffOptions& options, const std::string& input);

}  // namespace lawful::cli
