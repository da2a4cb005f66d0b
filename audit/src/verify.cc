// The readers: the chain's files in order, Verify (naming the first line that breaks the chain),
// Find (an access request) and ReadHead.
#include <algorithm>
#include <filesystem>
#include <functional>
#include <set>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "chain.h"
#include "crypto.h"
#include "format.h"
#include "lawful/audit.h"

namespace lawful::audit {
namespace {

namespace fs = std::filesystem;

// The seq a file's first line claims; nullopt when unreadable.
std::optional<uint64_t> FirstSeq(const std::string& path) {
  absl::StatusOr<internal::LineReader> reader = internal::OpenLines(PosixFileSystem(), path);
  if (!reader.ok()) return std::nullopt;
  internal::Line line;
  absl::StatusOr<bool> more = reader->Next(&line);
  if (!more.ok() || !*more) return std::nullopt;
  return internal::ScanLine(line.text).seq;
}

// `path.<digits>` as the rotation names files: the digits are the first seq.
std::optional<uint64_t> SeqFromName(const std::string& path) {
  const std::string extension = fs::path(path).extension().string();
  uint64_t seq = 0;
  if (extension.size() < 2 || extension.find_first_not_of("0123456789", 1) != std::string::npos ||
      !absl::SimpleAtoi(absl::string_view(extension).substr(1), &seq)) {
    return std::nullopt;
  }
  return seq;
}

// Called for every line of the chain: the line, its scan, and whether the chain is intact up to
// and including it.
using LineVisitor = std::function<void(const std::string& file, const internal::Line&,
                                       const internal::ScannedLine&, bool verified)>;

absl::StatusOr<VerifyReport> Walk(const Key& key, const std::vector<std::string>& paths,
                                  const VerifyOptions& options, const LineVisitor& visit) {
  VerifyReport report;
  absl::StatusOr<std::vector<std::string>> files = ChainFiles(paths);
  if (!files.ok()) return files.status();
  report.files = *files;

  internal::ChainChecker checker(key);
  std::optional<Problem> problem;
  // A seq out of place is told apart (removed, moved, or its digits changed) by the lines after it.
  bool classify = false;
  uint64_t expected = 0, claimed = 0;
  std::optional<std::optional<uint64_t>> next_seq;  // the seq of the line after the problem
  bool expected_found = false;
  bool first_line_of_chain = true;

  for (const std::string& file : report.files) {
    absl::StatusOr<internal::LineReader> reader = internal::OpenLines(PosixFileSystem(), file);
    if (!reader.ok()) return reader.status();
    internal::Line line;
    while (true) {
      absl::StatusOr<bool> more = reader->Next(&line);
      if (!more.ok())
        return absl::Status(more.status().code(),
                            absl::StrCat(file, ": ", more.status().message()));
      if (!*more) break;
      const internal::ScannedLine scan = internal::ScanLine(line.text);
      if (!problem.has_value()) {
        const internal::Verdict verdict = checker.Check(line, scan, line.number == 1);
        if (verdict.ok) {
          (scan.event.empty()        ? report.decisions
           : scan.event == "request" ? report.requests
                                     : report.events)++;
          if (first_line_of_chain) report.first_seq = *scan.seq;
          first_line_of_chain = false;
          report.head = Head{*scan.seq, internal::Hex(*scan.mac)};
          if (options.anchor && options.anchor->seq == *scan.seq &&
              options.anchor->mac != report.head->mac) {
            problem =
                Problem{ProblemKind::kAltered, file, line.number, scan.seq,
                        absl::StrCat("the line differs from the head anchored as ",
                                     options.anchor->ToString(), ": the history was rewritten")};
          }
        } else {
          problem = Problem{verdict.kind, file, line.number, scan.seq, verdict.message};
          if ((verdict.kind == ProblemKind::kRemoved || verdict.kind == ProblemKind::kReordered) &&
              line.number > 1) {
            classify = true;
            expected = *checker.next_seq();
            claimed = *scan.seq;
          }
        }
        if (visit) visit(file, line, scan, !problem.has_value());
        continue;
      }
      if (classify) {
        if (!next_seq.has_value()) next_seq = scan.seq;
        if (scan.seq == expected) expected_found = true;
      }
      if (visit) visit(file, line, scan, false);
    }
  }

  if (classify) {
    Problem& p = *problem;
    if (next_seq.has_value() && *next_seq == expected + 1) {
      p.kind = ProblemKind::kAltered;
      p.message = absl::StrCat("its seq was changed: seq ", expected,
                               " was expected, and the next line continues from it");
    } else if (claimed > expected && expected_found) {
      p.kind = ProblemKind::kReordered;
      p.message = absl::StrCat("seq ", claimed, " where seq ", expected, " was expected, and seq ",
                               expected, " comes later: lines were moved or swapped");
    } else if (claimed > expected) {
      p.kind = ProblemKind::kRemoved;
      p.message = claimed == expected + 1
                      ? absl::StrCat("seq ", expected, " is missing before it: a line was deleted")
                      : absl::StrCat("seq ", expected, "..", claimed - 1,
                                     " are missing before it: lines were deleted");
    } else {
      p.kind = ProblemKind::kReordered;
      p.message = absl::StrCat("seq ", claimed, " appears after seq ", expected - 1,
                               ": lines were moved or duplicated");
    }
  }
  if (!problem.has_value() && options.anchor.has_value()) {
    const Head& anchor = *options.anchor;
    const std::string last_file = report.files.empty() ? "" : report.files.back();
    if (!report.head.has_value() || anchor.seq > report.head->seq) {
      const uint64_t end = report.head ? report.head->seq : 0;
      problem =
          Problem{ProblemKind::kTruncated, last_file, 0, std::nullopt,
                  absl::StrCat("the log ends at seq ", end, " but seq ", anchor.seq,
                               " was anchored: seq ", end + 1, "..", anchor.seq, " were cut off")};
    } else if (anchor.seq < report.first_seq) {
      problem = Problem{ProblemKind::kMissingFile, report.files.front(), 0, std::nullopt,
                        absl::StrCat("the anchored seq ", anchor.seq,
                                     " lies before the first file given, which starts at seq ",
                                     report.first_seq)};
    }
  }
  report.problem = std::move(problem);
  return report;
}

}  // namespace

absl::string_view ProblemKindName(ProblemKind kind) {
  switch (kind) {
    case ProblemKind::kAltered:
      return "altered";
    case ProblemKind::kRemoved:
      return "removed";
    case ProblemKind::kReordered:
      return "reordered";
    case ProblemKind::kTruncated:
      return "truncated";
    case ProblemKind::kMissingFile:
      return "missing file";
    case ProblemKind::kWrongKey:
      return "wrong key";
    case ProblemKind::kUnknownFormat:
      return "unknown format";
  }
  return "unknown";
}

std::string Problem::ToString() const {
  std::string out = file;
  if (line > 0) absl::StrAppend(&out, ":", line);
  if (seq.has_value()) absl::StrAppend(&out, ": seq ", *seq);
  absl::StrAppend(&out, ": ", ProblemKindName(kind), ": ", message);
  return out;
}

std::string Head::ToString() const { return absl::StrCat(seq, ":", mac); }

absl::StatusOr<Head> ParseHead(absl::string_view text) {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, ':');
  Head head;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &head.seq) ||
      !internal::ParseMacHex(parts[1])) {
    return absl::InvalidArgumentError(absl::StrCat(
        "`", text, "` is not an audit head: expected SEQ:MAC as `lawful audit head` prints it"));
  }
  head.mac = absl::AsciiStrToLower(parts[1]);
  return head;
}

absl::StatusOr<std::vector<std::string>> ChainFiles(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  std::set<std::string> seen;
  const auto add = [&](const std::string& file) {
    std::error_code ec;
    const fs::path canonical = fs::weakly_canonical(file, ec);
    if (seen.insert(ec ? file : canonical.string()).second) files.push_back(file);
  };
  for (const std::string& path : paths) {
    std::error_code ec;
    const bool exists = fs::is_regular_file(path, ec);
    std::vector<std::string> rotated;
    const fs::path dir = fs::path(path).parent_path();
    const std::string prefix = fs::path(path).filename().string() + ".";
    for (auto it = fs::directory_iterator(dir.empty() ? "." : dir, ec);
         !ec && it != fs::directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (absl::StartsWith(name, prefix) && name.size() > prefix.size() &&
          name.find_first_not_of("0123456789", prefix.size()) == std::string::npos) {
        rotated.push_back((dir / name).string());
      }
    }
    if (!exists && rotated.empty()) {
      return absl::NotFoundError(absl::StrCat(path, ": no such audit log file"));
    }
    std::sort(rotated.begin(), rotated.end());
    for (const std::string& file : rotated) add(file);
    if (exists) add(path);
  }
  // Chain order: by the seq of each file's first line (what the chain checks); by the name a
  // rotation gave when the first line is unreadable; files with neither last, as given.
  std::vector<std::pair<uint64_t, std::string>> keyed;
  for (const std::string& file : files) {
    std::optional<uint64_t> seq = FirstSeq(file);
    if (!seq) seq = SeqFromName(file);
    keyed.emplace_back(seq.value_or(UINT64_MAX), file);
  }
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  files.clear();
  for (auto& [seq, file] : keyed) files.push_back(std::move(file));
  return files;
}

absl::StatusOr<VerifyReport> Verify(const Key& key, const std::vector<std::string>& paths,
                                    const VerifyOptions& options) {
  return Walk(key, paths, options, nullptr);
}

absl::StatusOr<FindResult> Find(const Key& key, absl::string_view contact_id,
                                const std::vector<std::string>& paths, const FindOptions& options) {
  FindResult result;
  // An empty contact id is a contact id like any other, unless record ids are given instead.
  const bool by_contact = !contact_id.empty() || options.record_ids.empty();
  const std::string contact = by_contact ? key.Pseudonym(contact_id) : std::string();
  // The record ids Find can name: those given, which also select decisions, and the contact id,
  // which callers often use as a record's id too.
  struct Known {
    std::string id, pseudonym;
    bool wanted;
  };
  std::vector<Known> known;
  for (const std::string& id : options.record_ids) known.push_back({id, key.Pseudonym(id), true});
  if (by_contact) known.push_back({std::string(contact_id), contact, false});
  // What a line that matches holds, looked for in its bytes before it is parsed: the contact's
  // pseudonym, and each record id given: its pseudonym in version 2, itself (as JSON writes it)
  // ending `evidence` in version 1.
  std::vector<std::string> v2_needles, v1_needles;
  if (by_contact) {
    v2_needles.push_back(absl::StrCat("\"contact\":\"", contact, "\""));
    v1_needles.push_back(v2_needles.back());
  }
  for (const std::string& id : options.record_ids) {
    v2_needles.push_back(absl::StrCat("\"record\":\"", key.Pseudonym(id), "\""));
    std::string v1 = "] id=";
    internal::AppendJsonChars(id, &v1);
    v1_needles.push_back(v1 + "\"");
  }
  const auto wanted_in_clear = [&](absl::string_view id) {
    return std::find(options.record_ids.begin(), options.record_ids.end(), id) !=
           options.record_ids.end();
  };
  int version = 0;  // of the file being read, from its start line
  // The last request line read. A batch's decision lines follow its request line in one file,
  // written with one write(): any other event (a start, a repair) ends the batch.
  Record request;
  bool have_request = false;
  absl::StatusOr<VerifyReport> report = Walk(
      key, paths, {},
      [&](const std::string& file, const internal::Line& line, const internal::ScannedLine& scan,
          bool verified) {
        if (!scan.event.empty()) {
          request = Record{};
          have_request = scan.event == "request" && internal::ParseRequest(line.text, &request);
          if (scan.event == "start") {
            const std::optional<internal::StartRecord> start = internal::ParseStart(line.text);
            version = start ? internal::FormatVersion(start->format) : 0;
          }
          return;
        }
        const std::vector<std::string>& needles = version == 1 ? v1_needles : v2_needles;
        if (std::none_of(needles.begin(), needles.end(), [&](const std::string& needle) {
              return line.text.find(needle) != absl::string_view::npos;
            })) {
          return;
        }
        Record record;
        if (!internal::ParseRecord(line.text, &record)) return;
        bool found = by_contact && record.contact == contact;
        if (version == 1) {
          // Version 1 wrote the record id in clear: "consents[0] id=k-1".
          if (const size_t at = record.evidence.find("] id="); at != std::string::npos) {
            record.record_id = record.evidence.substr(at + 5);
            found = found || wanted_in_clear(record.record_id);
          }
        } else if (!record.record.empty()) {
          for (const Known& k : known) {
            if (k.pseudonym != record.record) continue;
            record.record_id = k.id;
            found = found || k.wanted;
            break;
          }
        }
        if (!found) return;
        if (have_request) {
          record.request_seq = request.request_seq;
          record.time = request.time;
          record.caller = request.caller;
          record.request_id = request.request_id;
          record.rule_set = request.rule_set;
          record.purpose = request.purpose;
          record.channel = request.channel;
          record.notice_type = request.notice_type;
          record.at = request.at;
        }
        record.file = file;
        record.line = line.number;
        record.verified = verified;
        result.records.push_back(std::move(record));
      });
  if (!report.ok()) return report.status();
  result.report = *std::move(report);
  return result;
}

std::string FormatRecord(const Record& r) {
  std::string out = absl::StrCat("{\"seq\":", r.seq, ",\"time\":");
  const auto field = [&](absl::string_view name, absl::string_view value) {
    absl::StrAppend(&out, ",\"", name, "\":");
    internal::AppendJsonString(value, &out);
  };
  internal::AppendJsonString(r.time, &out);
  field("caller", r.caller);
  field("request_id", r.request_id);
  field("rule_set", r.rule_set);
  field("purpose", r.purpose);
  field("channel", r.channel);
  if (!r.notice_type.empty()) field("notice_type", r.notice_type);
  field("at", r.at);
  field("contact", r.contact);
  absl::StrAppend(&out, ",\"index\":", r.index);
  field("outcome", r.outcome);
  field("reason", r.reason);
  field("rule", r.rule);
  field("evidence", r.evidence);
  if (!r.record.empty()) field("record", r.record);
  if (!r.record_id.empty()) field("record_id", r.record_id);
  field("facts", r.facts);
  field("mac", r.mac);
  absl::StrAppend(&out, ",\"verified\":", r.verified ? "true" : "false", "}");
  return out;
}

absl::StatusOr<Head> ReadHead(const std::vector<std::string>& paths) {
  absl::StatusOr<std::vector<std::string>> files = ChainFiles(paths);
  if (!files.ok()) return files.status();
  for (auto file = files->rbegin(); file != files->rend(); ++file) {
    absl::StatusOr<internal::LineReader> reader = internal::OpenLines(PosixFileSystem(), *file);
    if (!reader.ok()) return reader.status();
    std::optional<Head> head;
    internal::Line line;
    while (true) {
      absl::StatusOr<bool> more = reader->Next(&line);
      if (!more.ok()) return more.status();
      if (!*more) break;
      const internal::ScannedLine scan = internal::ScanLine(line.text);
      if (line.complete && scan.seq && scan.mac) head = Head{*scan.seq, internal::Hex(*scan.mac)};
    }
    if (head.has_value()) return *head;
  }
  return absl::NotFoundError("the audit log holds no complete record");
}

}  // namespace lawful::audit
