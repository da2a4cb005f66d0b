// `lawful audit`: see audit_cmd.h. The verdict goes to stdout (it is the command's result);
// usage and I/O errors go to stderr.
#include "audit_cmd.h"

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "lawful/audit.h"

namespace lawful::cli {
namespace {

void Print(FILE* stream, const std::string& line) { std::fputs((line + "\n").c_str(), stream); }

int Fail(const std::string& message) {
  Print(stderr, absl::StrCat("lawful audit: ", message));
  return 2;
}

// "N decisions (M requests), seq A..B, in K files", and where the chain starts when earlier
// files are gone.
std::string Summary(const audit::VerifyReport& report) {
  std::string text =
      absl::StrCat(report.decisions, " decisions (", report.requests, " requests) in ",
                   report.files.size(), report.files.size() == 1 ? " file" : " files");
  if (report.head.has_value()) {
    absl::StrAppend(&text, ", seq ", report.first_seq, "..", report.head->seq);
  }
  if (report.first_seq > 0) {
    absl::StrAppend(&text, " (the files before seq ", report.first_seq,
                    " are not there: deleted after the retention period, or not given)");
  }
  return text;
}

absl::StatusOr<audit::Key> LoadKey(const AuditCommandOptions& options, const char* verb) {
  if (options.key_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(verb, " needs --audit_key_file: the key the log was written with"));
  }
  return audit::LoadKey(options.key_file);
}

int Verify(const AuditCommandOptions& options, const std::vector<std::string>& paths) {
  absl::StatusOr<audit::Key> key = LoadKey(options, "verify");
  if (!key.ok()) return Fail(std::string(key.status().message()));
  audit::VerifyOptions verify_options;
  if (!options.anchor.empty()) {
    absl::StatusOr<audit::Head> anchor = audit::ParseHead(options.anchor);
    if (!anchor.ok()) return Fail(absl::StrCat("--anchor: ", anchor.status().message()));
    verify_options.anchor = *anchor;
  }
  absl::StatusOr<audit::VerifyReport> report = audit::Verify(*key, paths, verify_options);
  if (!report.ok()) return Fail(std::string(report.status().message()));
  if (!report->ok()) {
    Print(stdout, absl::StrCat("lawful audit verify: FAILED: ", report->problem->ToString()));
    Print(stdout, absl::StrCat("verified before it: ", Summary(*report)));
    return 1;
  }
  std::string line = absl::StrCat("lawful audit verify: ok: ", Summary(*report));
  if (report->head.has_value()) absl::StrAppend(&line, "; head ", report->head->ToString());
  if (verify_options.anchor.has_value()) {
    absl::StrAppend(&line, "; holds the anchored seq ", verify_options.anchor->seq);
  }
  Print(stdout, line);
  return 0;
}

int Find(const AuditCommandOptions& options, const std::vector<std::string>& paths) {
  if (options.contact.empty() && options.record_ids.empty()) {
    return Fail(
        "find needs --contact: the contact id the decisions were made about (or --record_id: "
        "the ids of the person's records they relied on)");
  }
  absl::StatusOr<audit::Key> key = LoadKey(options, "find");
  if (!key.ok()) return Fail(std::string(key.status().message()));
  absl::StatusOr<audit::FindResult> found =
      audit::Find(*key, options.contact, paths, {.record_ids = options.record_ids});
  if (!found.ok()) return Fail(std::string(found.status().message()));
  for (const audit::Record& record : found->records) Print(stdout, audit::FormatRecord(record));
  // The summary says nothing of the contact or its records: stderr may end up in logs.
  const std::string about = options.record_ids.empty() ? "this contact"
                            : options.contact.empty()  ? "these records"
                                                       : "this contact or these records";
  std::string summary = absl::StrCat("lawful audit find: ", found->records.size(),
                                     found->records.size() == 1 ? " decision" : " decisions",
                                     " about ", about, " among ", Summary(found->report));
  if (!found->report.ok()) {
    Print(stderr,
          absl::StrCat(summary, "; the chain does NOT verify: ", found->report.problem->ToString(),
                       " (the records from there on are marked \"verified\":false)"));
    return 1;
  }
  Print(stderr, absl::StrCat(summary, "; the chain verifies"));
  return 0;
}

int PrintHead(const AuditCommandOptions& options, const std::vector<std::string>& paths) {
  if (!options.key_file.empty()) {
    absl::StatusOr<audit::Key> key = audit::LoadKey(options.key_file);
    if (!key.ok()) return Fail(std::string(key.status().message()));
    absl::StatusOr<audit::VerifyReport> report = audit::Verify(*key, paths);
    if (!report.ok()) return Fail(std::string(report.status().message()));
    if (!report->ok()) {
      Print(stderr, absl::StrCat("lawful audit head: the chain does not verify, so its head is "
                                 "not worth anchoring: ",
                                 report->problem->ToString()));
      return 1;
    }
    if (!report->head.has_value()) return Fail("the audit log holds no record");
    Print(stdout, report->head->ToString());
    return 0;
  }
  absl::StatusOr<audit::Head> head = audit::ReadHead(paths);
  if (!head.ok()) return Fail(std::string(head.status().message()));
  Print(stdout, head->ToString());
  return 0;
}

}  // namespace

int RunAudit(const AuditCommandOptions& options, const std::vector<std::string>& args) {
  if (args.empty()) return Fail("expected verify, find or head (see lawful audit --help)");
  const std::string& verb = args[0];
  const std::vector<std::string> paths(args.begin() + 1, args.end());
  if (verb != "verify" && verb != "find" && verb != "head") {
    return Fail(absl::StrCat("unknown audit command '", verb,
                             "': expected verify, find or head (see lawful audit --help)"));
  }
  if (paths.empty()) {
    return Fail(absl::StrCat(verb, ": expected the audit log's PATH (see lawful audit --help)"));
  }
  if (verb == "verify") return Verify(options, paths);
  if (verb == "find") return Find(options, paths);
  return PrintHead(options, paths);
}

}  // namespace lawful::cli
