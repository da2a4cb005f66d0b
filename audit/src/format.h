// The line format: its strings escaped as text::JsonEscaping::kAuditLog and its times written,
// scanning a line's seq, event and mac without a JSON parser (what the chain needs), parsing a
// whole line (what Find and start lines need), and reading a file line by line.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "crypto.h"
#include "lawful/audit.h"
#include "lawful/text.h"

namespace lawful::audit::internal {

// The format a file's start line names (`log`); every line of the file is in it. v2 writes a
// decision's evidence record id as a pseudonym (`"record":"<22 base64url>"`), v1 wrote it in clear
// inside `evidence` (`"consents[0] id=k-1"`). The readers take both; the writer writes v2.
inline constexpr absl::string_view kFormatName = "lawful audit v2";
inline constexpr absl::string_view kFormatV1 = "lawful audit v1";
// 2 for kFormatName, 1 for kFormatV1, 0 for anything else.
inline int FormatVersion(absl::string_view name) {
  return name == kFormatName ? 2 : name == kFormatV1 ? 1 : 0;
}
inline constexpr absl::string_view kMacField = ",\"mac\":\"";
inline constexpr absl::string_view kSeqField = ",\"seq\":";
inline constexpr absl::string_view kEventField = "{\"event\":\"";

// The log's strings go through lawful/text.h's escaper under the log's contract
// (text::JsonEscaping::kAuditLog: only what JSON needs, invalid UTF-8 as U+FFFD, so that every
// line is valid JSON whatever a caller sent). These bind the contract and take Abseil's views.
inline std::string_view StdView(absl::string_view s) {
  return std::string_view(s.data(), s.size());
}
// `s` as a JSON string with its quotes.
inline void AppendJsonString(absl::string_view s, std::string* out) {
  text::AppendJsonString(StdView(s), text::JsonEscaping::kAuditLog, out);
}
// The same without the quotes, to build one string from several pieces.
inline void AppendJsonChars(absl::string_view s, std::string* out) {
  text::AppendJsonChars(StdView(s), text::JsonEscaping::kAuditLog, out);
}
// Into memory with room for text::MaxJsonChars(s.size()); returns the end.
inline char* WriteJsonChars(absl::string_view s, char* out) {
  return text::WriteJsonChars(StdView(s), text::JsonEscaping::kAuditLog, out);
}

// Memory to write a string of known longest size into before appending it once: N bytes on the
// stack, or the heap when more is needed.
template <size_t N>
class Scratch {
 public:
  char* get(size_t size) {
    if (size <= N) return stack_;
    heap_.reset(new char[size]);
    return heap_.get();
  }

 private:
  char stack_[N];
  std::unique_ptr<char[]> heap_;
};

// RFC 3339 in UTC with as many fractional digits as needed: 2026-03-02T09:00:00.5Z.
std::string FormatTime(absl::Time t);

// Appends `,"mac":"<hex>"}` and the newline that end every line.
void AppendMacAndEnd(const Mac& mac, std::string* out);

// A line as the chain sees it. Every line ends `,"seq":N,"mac":"<32 hex>"}`, so both are found
// by position and a flipped byte elsewhere cannot hide them; an event line starts
// `{"event":"NAME"`.
struct ScannedLine {
  std::optional<uint64_t> seq;
  std::optional<Mac> mac;
  absl::string_view body;   // what the mac covers: the line up to `,"mac":"`
  absl::string_view event;  // "start", "repair"; empty for a decision
};
ScannedLine ScanLine(absl::string_view line);

// A line's fields, for the rare lines read in full. nullopt when the line is not a flat JSON
// object of strings and integers.
using Fields = std::vector<std::pair<std::string, std::string>>;
std::optional<Fields> ParseFields(absl::string_view line);
const std::string* FindField(const Fields& fields, absl::string_view key);

// What a file's first line says about the chain.
struct StartRecord {
  uint64_t seq = 0;
  std::string format;  // `log`: kFormatName, kFormatV1, or one this code does not know
  std::string key_id;
  Mac prev{};
};
std::optional<StartRecord> ParseStart(absl::string_view line);

// A decision line as a Record (file, line, verified, record_id and the request's fields left to
// the caller). False when malformed.
bool ParseRecord(absl::string_view line, Record* record);
// A request line's fields (request_seq, time, caller, request_id, rule_set, purpose, channel,
// notice_type, at) into `request`. False when it is not a well-formed request line.
bool ParseRequest(absl::string_view line, Record* request);

struct Line {
  absl::string_view text;  // without its newline; valid until the next Next()
  bool complete = false;   // false: the file ends without a newline (a torn final line)
  uint64_t offset = 0;     // of the line's first byte
  int64_t number = 0;      // 1-based
};

// Reads a file in large chunks and hands out its lines.
class LineReader {
 public:
  explicit LineReader(std::unique_ptr<ReadableFile> file) : file_(std::move(file)) {}
  // False at the end of the file.
  absl::StatusOr<bool> Next(Line* line);

 private:
  std::unique_ptr<ReadableFile> file_;
  std::string buffer_;
  size_t pos_ = 0;              // start of the next line in buffer_
  uint64_t buffer_offset_ = 0;  // file offset of buffer_[0]
  int64_t number_ = 0;
  bool eof_ = false;
};

absl::StatusOr<LineReader> OpenLines(FileSystem& fs, const std::string& path);

}  // namespace lawful::audit::internal
