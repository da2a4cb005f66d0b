// `lawful eval`: decides a JSONL file of contacts for one outreach, in-process or via lawfuld.
#pragma once

#include <string>

namespace lawful::cli {

// The flags of `lawful eval`, as given on the command line (validated by RunEval).
struct EvalOptions {
  std::string purpose;
  std::string channel;      // email|sms|post|phone
  std::string notice_type;  // contract|legal_obligation|vital_interest|public_task, or empty
  std::string at;           // RFC 3339; empty means now (the server's clock with --server)
  std::string rules_dir;    // decide in-process with these rules ...
  std::string server;       // ... or with the lawfuld at this address; exactly one is set
};

// Contacts per DecideBatch call with --server; in-process evaluation reads in chunks this size
// too, so memory stays bounded for any input size.
inline constexpr int kEvalChunkSize = 1000;

// Reads lawful.v1.Contact JSON objects, one per line, from `input` ("-" is stdin) and writes one
// lawful.v1.Decision JSON object per contact, in input order, to stdout. Blank lines are skipped;
// a malformed line is reported on stderr with its line number and processing goes on.
// Returns the exit code: 0 when every line was decided, 1 on malformed lines, bad flags or a
// failed call, 2 when the rules given with --rules do not load.
int RunEval(const EvalOptions& options, const std::string& input);

}  // namespace lawful::cli
