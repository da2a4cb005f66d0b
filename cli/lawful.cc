// lawful: the command-line tool for rule authors and operators.
//
//   lawful check RULES_DIR     compile a rule set and report its diagnostics
//   lawful disasm RULES_DIR    print the bytecode a rule set compiles to
//   lawful fmt [--check] FILES give rule files their canonical layout
//   lawful test [--coverage] [--prove] RULES_DIR   run the rule set's fixtures
//   lawful prove RULES_DIR     prove the rule set's invariants over every contact
//   lawful eval ...            decide a JSONL or CSV file of contacts, in-process or via lawfuld
//   lawful diff ...            how a rule change moves the decisions on a set of contacts
//   lawful audit verify|find|head   check an audit log, answer an access request, anchor it
//   lawful lsp                 the language server for editors (LSP over stdin/stdout)
//   lawful sql ...             the rule set as one SQL query over the contact schema
//
// argv[1] names the subcommand; the remaining arguments are parsed by Abseil with one flag
// namespace for all subcommands (the flags live in this file so that `--help` lists them).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "audit_cmd.h"
#include "check_cmd.h"
#include "diff.h"
#include "eval.h"
#include "explain.h"
#include "lawful/dsl.h"
#include "lawful/engine.h"
#include "lawful/fixtures.h"
#include "lawful/lsp.h"
#include "lawful/prove.h"
#include "sql_cmd.h"

ABSL_FLAG(
    std::string, purpose, "",
    "eval, diff: the outreach's purpose, declared by the rule set (e.g. newsletter). Required.");
ABSL_FLAG(std::string, channel, "",
          "eval, diff: the outreach's channel: email|sms|post|phone. Required.");
ABSL_FLAG(std::string, notice_type, "",
          "eval, diff: for service notices, the declared basis: "
          "contract|legal_obligation|vital_interest|public_task (default contract).");
ABSL_FLAG(std::string, at, "",
          "eval, diff: the outreach's instant, RFC 3339 (e.g. 2026-03-02T09:00:00Z). Default: now "
          "(with --server, the server's clock).");
ABSL_FLAG(
    std::string, rules, "",
    "eval, sql: decide in this process (or compile to SQL) with the rules in this directory.");
ABSL_FLAG(std::string, from_postgres, "",
          "eval: decide the contacts stored in the contact schema (lawful sql --schema) of this "
          "PostgreSQL database (a libpq connection string) instead of an INPUT file.");
ABSL_FLAG(bool, schema, false, "sql: print the contact schema's DDL instead of a query.");
ABSL_FLAG(std::string, dialect, "postgres", "sql: the SQL dialect; postgres is the one there is.");
ABSL_FLAG(bool, coverage, false,
          "test: also list the rules no fixture reached, and fail when there are any.");
ABSL_FLAG(bool, prove, false,
          "test: after the fixtures, prove the invariants (as lawful prove); the higher exit code "
          "wins.");
ABSL_FLAG(int32_t, max_records, 3,
          "prove: the most entries of each list of the contact (consents, objections, ...) the "
          "proof covers.");
ABSL_FLAG(bool, check, false,
          "fmt: change no file; list the files whose layout is not canonical and exit 1 if any.");
ABSL_FLAG(std::string, server, "",
          "eval: decide with the lawfuld at HOST:PORT (DecideBatch, 1000 contacts per call).");
ABSL_FLAG(std::string, before, "",
          "diff: the rules before the change: a rules directory, or a git revision (e.g. HEAD~1, "
          "main) whose rules/ is read from the repository holding the current directory.");
ABSL_FLAG(std::string, after, "", "diff: the rules after the change; like --before.");
ABSL_FLAG(bool, all_purposes, false,
          "diff: compare every purpose the --after rules declare on every channel, instead of "
          "--purpose and --channel; outreaches no policy covers are listed as skipped.");
ABSL_FLAG(bool, json, false,
          "diff: print one JSON document instead of tables; explain: print each explanation as "
          "one lawful.v1.Explanation JSON line.");
ABSL_FLAG(std::string, rule_set, "",
          "explain: the rule-set version to explain under (replay); with --archive_dir it is "
          "loaded from that archive, with --server the server answers from its own archive.");
ABSL_FLAG(std::string, archive_dir, "",
          "explain: a rule-set archive (lawfuld --archive_dir) to load --rule_set from.");
ABSL_FLAG(int32_t, examples, 3, "diff: contact ids shown per transition.");
ABSL_FLAG(int64_t, generate, 0,
          "diff: compare N synthetic contacts (lawful::synth) instead of reading CONTACTS.");
ABSL_FLAG(uint64_t, seed, 1, "diff: the seed of --generate's contacts.");
ABSL_FLAG(std::string, input_format, "auto",
          "eval: INPUT's format: jsonl, csv, or auto (csv for a file named *.csv, else jsonl).");
ABSL_FLAG(std::string, output_format, "jsonl",
          "eval: the decisions' format on stdout: jsonl (one lawful.v1.Decision per line) or csv "
          "(index,contact_id,outcome,reason,citation,rule,rule_location,...).");
ABSL_FLAG(std::string, allowed, "",
          "eval: write the input lines of the allowed contacts to this file: the washed list (a "
          "CSV keeps its header).");
ABSL_FLAG(std::string, denied, "",
          "eval: write the input lines of the contacts not allowed (deny or error) to this file.");
ABSL_FLAG(std::string, rejects, "",
          "eval: write every malformed input line to this file, one JSON object per line: "
          "line, field, column (CSV), error, input.");
ABSL_FLAG(bool, strict, false,
          "eval: stop at the first malformed line (exit 1) instead of rejecting it and going on.");
ABSL_FLAG(std::vector<std::string>, ignore_columns, {},
          "eval: CSV columns lawful does not read, comma-separated (e.g. first_name,last_name); "
          "they pass through to --allowed and --denied.");
ABSL_FLAG(bool, timings, false,
          "eval: report the wall time, the rate and the CPU time per stage (read, parse, decide, "
          "format, write) on stderr.");
ABSL_FLAG(int32_t, threads, 0, "eval: threads that parse and decide (0: one per core).");
ABSL_FLAG(std::string, audit_key_file, "",
          "audit, eval: the audit log's key (as lawfuld's --audit_key_file): raw or hex, at "
          "least 32 bytes.");
ABSL_FLAG(std::string, audit_log, "",
          "eval: record every decision in this tamper-evident audit log (lawful/audit.h) before "
          "its line is written; needs --audit_key_file.");
ABSL_FLAG(std::string, contact, "",
          "audit find: the contact id whose decisions to list (matched through its pseudonym).");
ABSL_FLAG(std::vector<std::string>, record_id, {},
          "audit find: the person's record ids (ids of their consents and objections), comma-"
          "separated: named in the output, and decisions that relied on them are found too.");
ABSL_FLAG(std::string, anchor, "",
          "audit verify: a head printed earlier by `lawful audit head` (SEQ:MAC); the log must "
          "still hold that record, unchanged, which also shows records cut off its end.");

namespace lawful::cli {
namespace {

constexpr char kUsage[] =
    "check, inspect and evaluate lawful rule sets.\n"
    "\n"
    "Usage:\n"
    "  lawful check RULES_DIR\n"
    "      Compile the rule set and check its invariant files; print their warnings and errors.\n"
    "      Exit 0 when both check, 2 when not.\n"
    "  lawful disasm RULES_DIR\n"
    "      Print the bytecode the rule set compiles to, with the source lines it came from.\n"
    "  lawful fmt [--check] FILE|DIR...\n"
    "      Give rule files their canonical layout (comments and line breaks are kept). With\n"
    "      --check, change nothing and exit 1 if any file is not canonical.\n"
    "  lawful lsp\n"
    "      The language server for editors (Language Server Protocol on stdin and stdout).\n"
    "  lawful test [--coverage] RULES_DIR\n"
    "      Run the fixtures in RULES_DIR/fixtures/*.yaml through the engine; print each failure\n"
    "      and `N passed, N failed`. Exit 0 when all pass, 1 when any fails (or, with --coverage,\n"
    "      when a rule decided no fixture), 2 when the rules or fixtures do not load.\n"
    "  lawful prove [--max_records=K] RULES_DIR\n"
    "      Prove the invariants of RULES_DIR/*invariants.lawful for every contact with at most K\n"
    "      entries per list; print a fixture case, confirmed by the engine, for each one broken.\n"
    "      Exit 0 proven, 1 violated, 2 when the files do not load, 3 unknown.\n"
    "  lawful eval --purpose=P --channel=email|sms|post|phone [--notice_type=N] [--at=RFC3339]\n"
    "              (--rules=DIR | --server=HOST:PORT) [--input_format=jsonl|csv]\n"
    "              [--output_format=jsonl|csv] [--allowed=FILE] [--denied=FILE]\n"
    "              [--rejects=FILE] [--strict] [--ignore_columns=A,B] INPUT\n"
    "      Decide every contact of INPUT (JSONL or CSV; - for stdin), print one decision per\n"
    "      line and a summary; --allowed/--denied split the input lines. Exit 0 ok, 1 when lines\n"
    "      were rejected, 2 on bad flags, files, rules or server, 3 when it failed part-way.\n"
    "  lawful diff --before=OLD --after=NEW (--purpose=P --channel=C | --all_purposes)\n"
    "              [--notice_type=N] [--at=RFC3339] [--examples=3] [--json] CONTACTS\n"
    "      Decide every contact of CONTACTS (JSONL; - for stdin) under both rule sets (each a\n"
    "      directory or a git revision of rules/) and print the decisions that moved: a\n"
    "      transition table and the rules whose firing counts changed. Exit 0 (changes are not\n"
    "      an error), 1 on malformed lines, 2 on bad flags or rules that do not load.\n"
    "  lawful explain --purpose=P --channel=C [--notice_type=N] [--at=RFC3339]\n"
    "              (--rules=DIR | --server=HOST:PORT | --archive_dir=DIR --rule_set=VERSION)\n"
    "              [--json] CONTACT\n"
    "      Why a contact gets its decision: every rule checked, in order, with the values it\n"
    "      saw and whether it fired, and a summary a lawyer can read. With --archive_dir and\n"
    "      --rule_set, a logged decision is replayed under the archived rules that made it.\n"
    "  lawful audit verify --audit_key_file=KEY [--anchor=SEQ:MAC] PATH...\n"
    "  lawful audit find --audit_key_file=KEY --contact=ID [--record_id=ID,...] PATH...\n"
    "  lawful audit head [--audit_key_file=KEY] PATH...\n"
    "      Check an audit log's chain and name the first record altered, removed, reordered or\n"
    "      cut off; print every decision about one person (an access request); print the head to\n"
    "      anchor elsewhere. Exit 0 ok, 1 when the chain does not verify, 2 on bad usage.\n"
    "  lawful sql --rules=DIR --purpose=P --channel=C [--notice_type=N] | lawful sql --schema\n"
    "      Print one SQL query that decides every contact of the contact schema where it is\n"
    "      stored, as the engine would; or the schema's DDL.\n"
    "  lawful help\n"
    "      This text. `lawful SUBCOMMAND --help` lists the flags.\n";

constexpr char kAuditUsage[] =
    "check an audit log (lawfuld --audit_log), answer an access request from it, anchor it.\n"
    "Usage: lawful audit verify --audit_key_file=KEY [--anchor=SEQ:MAC] PATH...\n"
    "       lawful audit find --audit_key_file=KEY --contact=ID [--record_id=ID,...] PATH...\n"
    "       lawful audit head [--audit_key_file=KEY] PATH...\n"
    "PATH is the live log; the rotated files beside it (PATH.<seq>) are read with it, in chain\n"
    "order. verify prints `ok` with the counts and the head, or the first line that breaks the\n"
    "chain (file:line, seq, and whether it was altered, removed, reordered or truncated, or a\n"
    "file is missing). find prints every decision about the contact as one JSON object per line\n"
    "(request and decision joined) and a summary on stderr. The log holds the ids of the records\n"
    "decisions relied on (consents, objections) only as pseudonyms: --record_id gives the\n"
    "person's, which find names in its output, and finds the decisions that relied on them too.\n"
    "head prints SEQ:MAC, verified first when a key is given. Exit 0 ok, 1 when the chain does\n"
    "not verify, 2 on bad usage, a bad key file or a file that cannot be read.";

constexpr char kLspUsage[] =
    "serve the Language Server Protocol for rule files.\n"
    "Usage: lawful lsp\n"
    "The language server for rule files: the Language Server Protocol on stdin and stdout, for an\n"
    "editor to start (editors/vscode, or any LSP client). The rule set of an open file is every\n"
    ".lawful file below its directory. Exit 0 after the editor's shutdown and exit.\n";

constexpr char kCheckUsage[] =
    "compile a rule set and print its diagnostics.\n"
    "Usage: lawful check RULES_DIR\n"
    "Exit 0 when the rules compile and the invariant files check (warnings included), 2 when not.";
constexpr char kDisasmUsage[] =
    "print the bytecode a rule set compiles to.\n"
    "Usage: lawful disasm RULES_DIR";
constexpr char kFmtUsage[] =
    "give rule files their canonical layout.\n"
    "Usage: lawful fmt [--check] FILE|DIR...\n"
    "A directory stands for every .lawful file below it. Without --check the files are rewritten\n"
    "in place and their names printed; with --check nothing changes and the files that are not\n"
    "canonical are listed. Exit 0 ok, 1 when --check found files to format, 2 when a file does\n"
    "not parse or cannot be read or written.";
constexpr char kTestUsage[] =
    "run a rule set's fixtures (RULES_DIR/fixtures/*.yaml) through the engine.\n"
    "Usage: lawful test [--coverage] [--prove] RULES_DIR\n"
    "Prints one line per failed case (expected vs actual decision, reason, citation and the rule\n"
    "that decided), with --coverage the rules no case reached, and finally `N passed, N failed`.\n"
    "Exit 0 when every case passes (and, with --coverage, every rule is reached), 1 otherwise,\n"
    "2 when the rules or the fixtures do not load.";
constexpr char kProveUsage[] =
    "prove a rule set's invariants (RULES_DIR/*invariants.lawful) over every contact.\n"
    "Usage: lawful prove [--max_records=K] RULES_DIR\n"
    "Prints what was proven (for every contact with at most K entries per list, every `at`,\n"
    "purpose, channel and notice type), one line per invariant, a fixture case confirmed by the\n"
    "engine for each violated one, and the rules no request reaches as warnings.\n"
    "Exit 0 every invariant proven, 1 one violated, 2 when the files do not load, 3 unknown.";
constexpr char kEvalUsage[] =
    "decide each contact of a JSONL or CSV file for one outreach.\n"
    "Usage: lawful eval --purpose=P --channel=email|sms|post|phone [--notice_type=N]\n"
    "                   [--at=RFC3339] (--rules=DIR | --server=HOST:PORT)\n"
    "                   [--input_format=auto|jsonl|csv] [--output_format=jsonl|csv]\n"
    "                   [--allowed=FILE] [--denied=FILE] [--rejects=FILE] [--strict]\n"
    "                   [--ignore_columns=A,B] [--threads=N] [--timings]\n"
    "                   [--audit_log=FILE --audit_key_file=KEY] (INPUT | "
    "--from_postgres=CONNINFO)\n"
    "--from_postgres decides the contacts stored in the contact schema of that PostgreSQL\n"
    "database (lawful sql --schema), in contact_id order, as if they were a JSONL INPUT.\n"
    "INPUT (- reads stdin) holds one lawful.v1.Contact in proto JSON per line, or is a CSV file\n"
    "with a header row naming a field per column (, ; or TAB between cells, RFC 4180 quotes):\n"
    "  id, email, birth_date, country, last_activity_at, erasure_requested_at,\n"
    "  relationship.is_customer, relationship.customer_since, ...  one value per cell\n"
    "  consents.0.purpose, consents.0.channel, consents.0.granted_at, consents.1.purpose, ...\n"
    "      records by index (objections.0.scope, ...); a record with every cell empty is absent\n"
    "  consents, objections      the whole list as a proto JSON cell instead\n"
    "  suppressions, collection_purposes, relationship.opted_out_channels   values split by |\n"
    "An empty cell is an unset field; enums by proto name (CHANNEL_EMAIL) or short name (email);\n"
    "booleans true/false/yes/no/1/0; instants RFC 3339. Unknown columns are an error unless\n"
    "listed in --ignore_columns.\n"
    "Prints one decision per decided contact, in input order (jsonl: lawful.v1.Decision in proto\n"
    "JSON; csv: index,contact_id,outcome,reason,citation,rule,rule_location,obligations,\n"
    "evidence,evidence_id,valid_until,error_field,error_message); index is the contact's\n"
    "0-based position in INPUT (JSONL: line - 1; CSV: data row - 1). A malformed line is\n"
    "reported with its line number and field and written to --rejects; --strict stops there.\n"
    "The summary on stderr: lines = decided + rejected + blank, and counts per outcome and\n"
    "reason. Exit 0 ok, 1 when lines were rejected, 2 on bad flags, unreadable files, rules that\n"
    "do not load or a server that cannot be used, 3 when it failed part-way (output incomplete).\n"
    "With --audit_log, every decision is recorded (and synced) in that tamper-evident log before\n"
    "its line is written; when the log cannot be written the run stops (exit 3).";

constexpr char kExplainUsage[] =
    "explain why contacts get their decisions, rule by rule.\n"
    "Usage: lawful explain --purpose=P --channel=email|sms|post|phone [--notice_type=N]\n"
    "                      [--at=RFC3339] [--json] CONTACT\n"
    "                      (--rules=DIR | --server=HOST:PORT [--rule_set=VERSION] |\n"
    "                       --archive_dir=DIR --rule_set=VERSION)\n"
    "CONTACT holds one lawful.v1.Contact in proto JSON, or one per line (- reads stdin). Prints,\n"
    "per contact, a summary (the decision, its reason and citation, the facts and the record it\n"
    "relied on) and every rule the policy checked with the values it saw, ending at the rule that\n"
    "decided. --archive_dir with --rule_set replays under an archived rule set (lawfuld keeps one\n"
    "per version served). Exit 0 ok, 1 on a malformed contact or a failed call, 2 on bad flags or\n"
    "rules that do not load.";

constexpr char kSqlUsage[] =
    "compile the rule set into one SQL query that decides every contact where it is stored.\n"
    "Usage: lawful sql --rules=DIR --purpose=P --channel=email|sms|post|phone [--notice_type=N]\n"
    "                  [--dialect=postgres]\n"
    "       lawful sql --schema\n"
    "The query reads the contact schema (--schema prints its DDL; sql/README.md) and returns per\n"
    "contact: contact_id, outcome (allow|deny|error), reason, citation, rule, rule_set_version,\n"
    "error_field; its parameter $1 is the outreach's instant. Exit 0 ok, 2 on bad flags, rules\n"
    "that do not load, or a rule the dialect cannot express (reported at its line).";

constexpr char kDiffUsage[] =
    "show what a rule change does to the decisions on a set of contacts.\n"
    "Usage: lawful diff --before=OLD --after=NEW (--purpose=P --channel=email|sms|post|phone |\n"
    "                   --all_purposes) [--notice_type=N] [--at=RFC3339] [--examples=3] [--json]\n"
    "                   (CONTACTS | --generate=N [--seed=S])\n"
    "OLD and NEW are each a rules directory or, when no such directory exists, a git revision\n"
    "(HEAD~1, main, a commit) whose rules/*.lawful are read from the repository holding the\n"
    "current directory. CONTACTS holds one lawful.v1.Contact in proto JSON per line (- reads\n"
    "stdin). Prints, per outreach, how many decisions changed, a table of transitions (from\n"
    "outcome/reason to outcome/reason, with counts, shares and example contact ids) and the rules\n"
    "whose firing counts changed; --json prints the same as one JSON document. Exit 0 when every\n"
    "line was compared, 1 on malformed lines (still reported), 2 on bad flags or rules that do\n"
    "not load.";

int Disasm(const std::string& dir) {
  absl::StatusOr<dsl::LoadedRuleSet> loaded = LoadAndReport(dir);
  if (!loaded.ok()) return 2;
  // Disassemble wants the texts parallel to Program::files; match them by path rather than rely
  // on both lists being in the same order.
  const Program& program = loaded->rule_set->program();
  std::vector<std::string> texts;
  texts.reserve(program.files.size());
  for (const std::string& file : program.files) {
    std::string text;
    for (const dsl::SourceFile& source : loaded->sources) {
      if (source.path == file) text = source.text;
    }
    texts.push_back(std::move(text));
  }
  const std::string listing = Disassemble(program, texts);
  std::fwrite(listing.data(), 1, listing.size(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

int Fmt(const std::vector<char*>& positional, bool check_only) {
  namespace fs = std::filesystem;
  if (positional.size() < 2) {
    std::fprintf(
        stderr, "lawful fmt: expected one or more FILE or DIR arguments (see lawful fmt --help)\n");
    return 2;
  }
  std::vector<std::string> paths;
  for (size_t i = 1; i < positional.size(); ++i) {
    std::error_code ec;
    if (fs::is_directory(positional[i], ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(positional[i], ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file() && it->path().extension() == ".lawful")
          found.push_back(it->path().string());
      }
      std::sort(found.begin(), found.end());
      paths.insert(paths.end(), found.begin(), found.end());
    } else {
      paths.push_back(positional[i]);
    }
  }
  int changed = 0, failed = 0;
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "lawful fmt: cannot read %s\n", path.c_str());
      ++failed;
      continue;
    }
    std::ostringstream text;
    text << in.rdbuf();
    in.close();
    absl::StatusOr<std::string> formatted = dsl::FormatSource({path, text.str()});
    if (!formatted.ok()) {
      std::fprintf(stderr, "%s", std::string(formatted.status().message()).c_str());
      ++failed;
      continue;
    }
    if (*formatted == text.str()) continue;
    ++changed;
    std::printf("%s\n", path.c_str());
    if (check_only) continue;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << *formatted;
    if (!out.flush()) {
      std::fprintf(stderr, "lawful fmt: cannot write %s\n", path.c_str());
      ++failed;
    }
  }
  if (failed > 0) return 2;
  return check_only && changed > 0 ? 1 : 0;
}

int Prove(const std::string& dir) {
  prove::Options options;
  options.max_records = absl::GetFlag(FLAGS_max_records);
  absl::StatusOr<prove::Report> report = prove::ProveDirectory(dir, options);
  if (!report.ok()) {
    std::string message(report.status().message());
    if (!message.empty() && message.back() != '\n') message.push_back('\n');
    std::fputs(("lawful prove: " + message).c_str(), stderr);
    return 2;
  }
  const std::string text = prove::FormatReport(*report);
  std::fwrite(text.data(), 1, text.size(), stdout);
  return report->exit_code();
}

int Test(const std::string& dir, bool coverage) {
  absl::StatusOr<fixtures::TestRun> run = fixtures::TestRuleSet(dir);
  if (!run.ok()) {
    std::string message(run.status().message());
    if (!message.empty() && message.back() != '\n') message.push_back('\n');
    std::fputs(message.c_str(), stderr);
    return 2;
  }
  const std::string report = fixtures::FormatReport(*run, coverage);
  std::fwrite(report.data(), 1, report.size(), stdout);
  const bool ok = run->failed() == 0 && (!coverage || run->uncovered.empty());
  return ok ? 0 : 1;
}

// The single positional argument of a subcommand, or an error message and nullptr.
const char* OnePositional(const char* subcommand, const std::vector<char*>& positional,
                          const char* what) {
  if (positional.size() != 2) {
    std::fprintf(stderr, "lawful %s: expected exactly one %s (see lawful %s --help)\n", subcommand,
                 what, subcommand);
    return nullptr;
  }
  return positional[1];
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "lawful: %s", kUsage);
    return 1;
  }
  const std::string subcommand = argv[1];
  if (subcommand == "help" || subcommand == "--help" || subcommand == "-h" ||
      subcommand == "-help") {
    std::printf("lawful: %s", kUsage);
    return 0;
  }

  const char* usage = nullptr;
  if (subcommand == "check") usage = kCheckUsage;
  if (subcommand == "disasm") usage = kDisasmUsage;
  if (subcommand == "fmt") usage = kFmtUsage;
  if (subcommand == "test") usage = kTestUsage;
  if (subcommand == "prove") usage = kProveUsage;
  if (subcommand == "eval") usage = kEvalUsage;
  if (subcommand == "diff") usage = kDiffUsage;
  if (subcommand == "explain") usage = kExplainUsage;
  if (subcommand == "audit") usage = kAuditUsage;
  if (subcommand == "lsp") usage = kLspUsage;
  if (subcommand == "sql") usage = kSqlUsage;
  if (usage == nullptr) {
    std::fprintf(stderr, "lawful: unknown subcommand '%s'\n\n%s", subcommand.c_str(), kUsage);
    return 1;
  }
  absl::SetProgramUsageMessage(usage);

  // Drop the subcommand but keep argv[0]: Abseil's --help lists the flags of the source file
  // named like the program, so the program name must stay "lawful".
  std::vector<char*> args;
  args.push_back(argv[0]);
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  const std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(args.size()), args.data());

  if (subcommand == "fmt") return Fmt(positional, absl::GetFlag(FLAGS_check));
  if (subcommand == "lsp") {
    if (positional.size() > 1) {
      std::fprintf(stderr, "lawful lsp: takes no arguments (see lawful lsp --help)\n");
      return 2;
    }
    return lsp::Serve(std::cin, std::cout);
  }
  if (subcommand == "test") {
    const char* dir = OnePositional("test", positional, "RULES_DIR");
    if (dir == nullptr) return 2;
    const int tested = Test(dir, absl::GetFlag(FLAGS_coverage));
    return absl::GetFlag(FLAGS_prove) ? std::max(tested, Prove(dir)) : tested;
  }
  if (subcommand == "prove") {
    const char* dir = OnePositional("prove", positional, "RULES_DIR");
    return dir == nullptr ? 2 : Prove(dir);
  }
  if (subcommand == "check" || subcommand == "disasm") {
    const char* dir = OnePositional(subcommand.c_str(), positional, "RULES_DIR");
    if (dir == nullptr) return 1;
    return subcommand == "check" ? Check(dir) : Disasm(dir);
  }

  if (subcommand == "sql") {
    if (absl::GetFlag(FLAGS_dialect) != "postgres") {
      std::fprintf(stderr, "lawful sql: unknown --dialect '%s' (postgres)\n",
                   absl::GetFlag(FLAGS_dialect).c_str());
      return 2;
    }
    SqlOptions options;
    options.rules_dir = absl::GetFlag(FLAGS_rules);
    options.purpose = absl::GetFlag(FLAGS_purpose);
    options.channel = absl::GetFlag(FLAGS_channel);
    options.notice_type = absl::GetFlag(FLAGS_notice_type);
    options.schema = absl::GetFlag(FLAGS_schema);
    return RunSql(options);
  }

  if (subcommand == "audit") {
    AuditCommandOptions options;
    options.key_file = absl::GetFlag(FLAGS_audit_key_file);
    options.contact = absl::GetFlag(FLAGS_contact);
    options.record_ids = absl::GetFlag(FLAGS_record_id);
    options.anchor = absl::GetFlag(FLAGS_anchor);
    return RunAudit(options, std::vector<std::string>(positional.begin() + 1, positional.end()));
  }

  if (subcommand == "explain") {
    const char* contact = OnePositional("explain", positional, "CONTACT file (- for stdin)");
    if (contact == nullptr) return 2;
    ExplainOptions options;
    options.purpose = absl::GetFlag(FLAGS_purpose);
    options.channel = absl::GetFlag(FLAGS_channel);
    options.notice_type = absl::GetFlag(FLAGS_notice_type);
    options.at = absl::GetFlag(FLAGS_at);
    options.rules_dir = absl::GetFlag(FLAGS_rules);
    options.server = absl::GetFlag(FLAGS_server);
    options.rule_set = absl::GetFlag(FLAGS_rule_set);
    options.archive_dir = absl::GetFlag(FLAGS_archive_dir);
    options.json = absl::GetFlag(FLAGS_json);
    return RunExplain(options, contact);
  }

  if (subcommand == "diff") {
    DiffOptions options;
    options.before = absl::GetFlag(FLAGS_before);
    options.after = absl::GetFlag(FLAGS_after);
    options.purpose = absl::GetFlag(FLAGS_purpose);
    options.channel = absl::GetFlag(FLAGS_channel);
    options.notice_type = absl::GetFlag(FLAGS_notice_type);
    options.at = absl::GetFlag(FLAGS_at);
    options.all_purposes = absl::GetFlag(FLAGS_all_purposes);
    options.json = absl::GetFlag(FLAGS_json);
    options.examples = absl::GetFlag(FLAGS_examples);
    options.generate = absl::GetFlag(FLAGS_generate);
    options.seed = absl::GetFlag(FLAGS_seed);
    // With --generate there is no CONTACTS argument; RunDiff says which one is missing or extra.
    if (positional.size() > 2) {
      std::fprintf(stderr,
                   "lawful diff: expected at most one CONTACTS file (see lawful diff --help)\n");
      return 2;
    }
    return RunDiff(options, positional.size() == 2 ? positional[1] : "");
  }

  const std::string from_postgres = absl::GetFlag(FLAGS_from_postgres);
  const char* input =
      from_postgres.empty() ? OnePositional("eval", positional, "INPUT file (- for stdin)") : "";
  if (input == nullptr) return kEvalExitUsage;
  if (!from_postgres.empty() && positional.size() > 1) {
    std::fputs("lawful eval: give either --from_postgres or an INPUT file\n", stderr);
    return kEvalExitUsage;
  }
  EvalOptions options;
  options.purpose = absl::GetFlag(FLAGS_purpose);
  options.channel = absl::GetFlag(FLAGS_channel);
  options.notice_type = absl::GetFlag(FLAGS_notice_type);
  options.at = absl::GetFlag(FLAGS_at);
  options.rules_dir = absl::GetFlag(FLAGS_rules);
  options.server = absl::GetFlag(FLAGS_server);
  options.input_format = absl::GetFlag(FLAGS_input_format);
  options.output_format = absl::GetFlag(FLAGS_output_format);
  options.allowed_path = absl::GetFlag(FLAGS_allowed);
  options.denied_path = absl::GetFlag(FLAGS_denied);
  options.rejects_path = absl::GetFlag(FLAGS_rejects);
  options.strict = absl::GetFlag(FLAGS_strict);
  options.ignore_columns = absl::GetFlag(FLAGS_ignore_columns);
  options.timings = absl::GetFlag(FLAGS_timings);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.audit_log = absl::GetFlag(FLAGS_audit_log);
  options.audit_key_file = absl::GetFlag(FLAGS_audit_key_file);
  if (!from_postgres.empty()) return RunEvalFromPostgres(options, from_postgres);
  return RunEval(options, input);
}

}  // namespace
}  // namespace lawful::cli

int main(int argc, char** argv) { return lawful::cli::Main(argc, argv); }
