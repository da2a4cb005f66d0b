// `lawful eval`: decides every contact of a JSONL or CSV file for one outreach, in-process or via
// lawfuld, on all cores at bounded memory, and splits the list into allowed, denied and rejected.
#pragma once

#include <string>
#include <vector>

namespace lawful::cli {

// The flags of `lawful eval`, as given on the command line (validated by RunEval).
struct EvalOptions {
  std::string purpose;
  std::string channel;      // email|sms|post|phone
  std::string notice_type;  // contract|legal_obligation|vital_interest|public_task, or empty
  std::string at;           // RFC 3339; empty means now (the server's clock with --server)
  std::string rules_dir;    // decide in-process with these rules ...
  std::string server;       // ... or with the lawfuld at this address; exactly one is set
  std::string input_format = "auto";    // jsonl|csv|auto (csv for a *.csv file)
  std::string output_format = "jsonl";  // jsonl|csv
  std::string allowed_path;             // the input lines of allowed contacts (the washed list)
  std::string denied_path;              // the input lines of contacts not allowed (deny or error)
  std::string rejects_path;             // one JSON line per malformed input line
  std::vector<std::string> ignore_columns;  // CSV columns passed through unread
  bool strict = false;                      // stop at the first malformed line
  bool timings = false;                     // report where the time went
  int threads = 0;                          // parsing and deciding threads; 0 means one per core
  std::string audit_log;       // record every decision here before it is written (lawful/audit.h)
  std::string audit_key_file;  // the audit log's key
};

// Exit codes.
inline constexpr int kEvalExitOk = 0;  // every line decided (or blank)
inline constexpr int kEvalExitRejects =
    1;                                     // malformed lines were rejected (with --strict: stopped)
inline constexpr int kEvalExitUsage = 2;   // bad flags, unreadable files, rules or server unusable
inline constexpr int kEvalExitFailed = 3;  // failed part-way (read, write or server error)

// Contacts per DecideBatch call with --server.
inline constexpr int kEvalServerBatch = 1000;

// Decides every contact of `input` ("-" is stdin): decisions on stdout in input order (JSONL:
// one lawful.v1.Decision per line; CSV: the columns of kDecisionCsvHeader), the summary on
// stderr. Returns one of the exit codes above.
int RunEval(const EvalOptions& options, const std::string& input);

}  // namespace lawful::cli
