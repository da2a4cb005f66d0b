// `lawful sql`: the rule set compiled to one SQL query for an outreach, or the contact schema's
// DDL (the lawful_sql library does the work).
#pragma once

#include <string>

namespace lawful::cli {

struct SqlOptions {
  std::string rules_dir;
  std::string purpose;
  std::string channel;
  std::string notice_type;
  bool schema = false;  // print the DDL instead
};

struct EvalOptions;

// `lawful eval --from_postgres=CONNINFO`: decides every contact stored in the contact schema of
// that database, as `lawful eval` decides a JSONL file (the contacts are streamed to it as JSONL,
// in contact_id order), so the engine and the compiled query can be compared on the same rows.
// Exit codes as RunEval; 2 when the database cannot be read.
int RunEvalFromPostgres(const EvalOptions& options, const std::string& conninfo);

// Prints the query (or the DDL) to stdout. Exit 0 ok, 2 on bad flags, rules that do not load, or
// a rule the SQL dialect cannot express (a located diagnostic on stderr).
int RunSql(const SqlOptions& options);

}  // namespace lawful::cli
