// The chain's rules, line by line: see chain.h.
#include "chain.h"

#include "absl/strings/str_cat.h"

namespace lawful::audit::internal {

ChainChecker::ChainChecker(const Key& key) : key_id_(key.id()), hmac_(KeyAccess::chain_key(key)) {}

Verdict ChainChecker::Check(const Line& line, const ScannedLine& scan, bool first_in_file) {
  if (!line.complete) {
    return {false, ProblemKind::kTruncated,
            absl::StrCat("incomplete final line (", line.text.size(),
                         " bytes, no newline): cut off while being written, or truncated")};
  }
  if (!scan.seq || !scan.mac) {
    return {false, ProblemKind::kAltered,
            "not an audit record: a line starts with {\"seq\":N, and ends with its mac"};
  }
  const uint64_t seq = *scan.seq;
  Mac prev{};
  std::optional<std::string> format;  // a start line's, taken once the line is ok
  if (first_in_file) {
    if (scan.event != "start") {
      return {false, ProblemKind::kRemoved,
              "the file does not begin with its start record: lines were removed from its "
              "beginning"};
    }
    const std::optional<StartRecord> start = ParseStart(line.text);
    if (!start || start->seq != seq) {
      return {false, ProblemKind::kAltered, "a malformed start record"};
    }
    if (FormatVersion(start->format) == 0) {
      return {false, ProblemKind::kUnknownFormat,
              absl::StrCat("the file is in the format \"", start->format,
                           "\", which this lawful does not read (it reads \"", kFormatName,
                           "\" and \"", kFormatV1, "\"): read it with a lawful that does")};
    }
    if (start->key_id != key_id_) {
      return {false, ProblemKind::kWrongKey,
              absl::StrCat("written with the key whose id is ", start->key_id,
                           "; the key given has id ", key_id_)};
    }
    if (next_seq_.has_value()) {
      const uint64_t expected = *next_seq_;
      if (seq > expected) {
        return {false, ProblemKind::kMissingFile,
                absl::StrCat("the file starts at seq ", seq, " but the one before it ends at seq ",
                             expected - 1, ": a file holding seq ", expected, "..", seq - 1,
                             " is missing")};
      }
      if (seq < expected) {
        return {false, ProblemKind::kReordered,
                absl::StrCat("the file starts at seq ", seq,
                             ", which the file before it already holds (a file given twice?)")};
      }
      if (start->prev != *prev_) {
        return {false, ProblemKind::kAltered, "its prev is not the last mac of the file before it"};
      }
      prev = *prev_;
    } else {
      prev = start->prev;  // the first file given: its predecessors may be gone (retention)
    }
    format = start->format;
  } else {
    const uint64_t expected = *next_seq_;
    if (seq > expected) {
      return {false, ProblemKind::kRemoved,
              absl::StrCat("seq ", expected, " expected: seq ", expected, "..", seq - 1,
                           " are missing")};
    }
    if (seq < expected) {
      return {false, ProblemKind::kReordered,
              absl::StrCat("seq ", seq, " appears after seq ", expected - 1)};
    }
    prev = *prev_;
  }
  if (ChainMac(hmac_, prev, scan.body) != *scan.mac) {
    return {false, ProblemKind::kAltered,
            "its mac does not verify: the line was changed, or forged without the key"};
  }
  next_seq_ = seq + 1;
  prev_ = *scan.mac;
  if (format.has_value()) format_ = std::move(*format);
  return {};
}

}  // namespace lawful::audit::internal
