// `lawful eval`'s flags, input, outputs and decider, checked before anything is decided.
#include "eval.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "decision_output.h"
#include "eval_decider.h"
#include "eval_records.h"
#include "eval_run.h"
#include "input.h"
#include "lawful/audit.h"
#include "lawful/dsl.h"
#include "lawful/engine.h"

namespace lawful::cli {
namespace {

// The outreach the flags describe. `at` stays unset when --at is not given.
absl::StatusOr<lawful::v1::Outreach> OutreachFromFlags(const EvalOptions& options) {
  lawful::v1::Outreach outreach;
  if (options.purpose.empty()) return absl::InvalidArgumentError("--purpose is required");
  outreach.set_purpose(options.purpose);
  absl::StatusOr<lawful::v1::Channel> channel = ParseChannel(options.channel);
  if (!channel.ok()) return channel.status();
  outreach.set_channel(*channel);
  absl::StatusOr<lawful::v1::NoticeType> notice_type = ParseNoticeType(options.notice_type);
  if (!notice_type.ok()) return notice_type.status();
  outreach.set_notice_type(*notice_type);
  if (!options.at.empty()) {
    absl::StatusOr<absl::Time> at = ParseAt(options.at);
    if (!at.ok()) return at.status();
    ToProto(*at, outreach.mutable_at());
  }
  return outreach;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "lawful eval: %s\n", message.c_str());
  return kEvalExitUsage;
}

absl::StatusOr<Format> ParseFormat(const std::string& flag, const std::string& value) {
  if (value == "jsonl") return Format::kJsonl;
  if (value == "csv") return Format::kCsv;
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, "=", value, ": expected jsonl or csv"));
}

// Reads the CSV header record from `fd`, as written (a CR before its line break included).
// `pending` gets the bytes read past it and `lines` the lines it spans.
absl::StatusOr<std::string> ReadCsvHeader(int fd, const std::string& name, std::string* pending,
                                          uint64_t* lines) {
  std::string text;
  char buffer[64 << 10];
  bool start = true;
  while (true) {
    bool multiline = false;
    const size_t end = RecordEnd(text, 0, Format::kCsv, &multiline);
    if (end < text.size()) {
      std::string header = text.substr(0, end);
      *lines = 1 + (multiline ? std::count(header.begin(), header.end(), '\n') : 0);
      *pending = text.substr(end + 1);
      return header;
    }
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot read ", name, ": ", std::strerror(errno)));
    }
    if (n == 0) {
      if (text.empty())
        return absl::InvalidArgumentError(
            absl::StrCat(name, " is empty: a CSV input needs a header row"));
      *lines = 1;
      pending->clear();
      return text;
    }
    text.append(buffer, static_cast<size_t>(n));
    if (start && text.size() >= 3) {
      // A byte-order mark, as spreadsheets write one: not part of the first column's name.
      if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
      start = false;
    }
  }
}

FILE* OpenOutput(const std::string& path, const char* flag, std::string* error) {
  if (path.empty()) return nullptr;
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) {
    *error = absl::StrCat("--", flag, "=", path, ": cannot write: ", std::strerror(errno));
  }
  return file;
}

}  // namespace

int RunEval(const EvalOptions& options, const std::string& input) {
  absl::StatusOr<lawful::v1::Outreach> outreach = OutreachFromFlags(options);
  if (!outreach.ok()) return Usage(std::string(outreach.status().message()));
  if (options.rules_dir.empty() == options.server.empty()) {
    return Usage("give exactly one of --rules=DIR and --server=HOST:PORT");
  }
  const bool from_stdin = input == "-";
  std::string input_format = options.input_format;
  if (input_format == "auto") {
    input_format = !from_stdin && absl::EndsWithIgnoreCase(input, ".csv") ? "csv" : "jsonl";
  }
  absl::StatusOr<Format> in_format = ParseFormat("input_format", input_format);
  if (!in_format.ok()) return Usage(std::string(in_format.status().message()));
  absl::StatusOr<Format> out_format = ParseFormat("output_format", options.output_format);
  if (!out_format.ok()) return Usage(std::string(out_format.status().message()));

  const std::string name = from_stdin ? "<stdin>" : input;
  int fd = STDIN_FILENO;
  int64_t size = -1;
  if (!from_stdin) {
    fd = open(input.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Usage(absl::StrCat("cannot open ", input, ": ", std::strerror(errno)));
    struct stat info {};
    if (fstat(fd, &info) == 0 && S_ISDIR(info.st_mode)) {
      close(fd);
      return Usage(absl::StrCat(input, " is a directory"));
    }
    if (fstat(fd, &info) == 0 && S_ISREG(info.st_mode)) {
      size = info.st_size;
      posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
  }
  struct CloseInput {
    int fd;
    ~CloseInput() {
      if (fd != STDIN_FILENO) close(fd);
    }
  } close_input{fd};

  // The CSV header, read before anything else so that a column lawful cannot map stops the run
  // before any output.
  std::string pending;
  uint64_t first_line = 1;
  std::string header;
  std::shared_ptr<const CsvContactMapping> mapping;
  char delimiter = ',';
  if (*in_format == Format::kCsv) {
    absl::StatusOr<std::string> read = ReadCsvHeader(fd, name, &pending, &first_line);
    if (!read.ok()) return Usage(std::string(read.status().message()));
    header = *std::move(read);
    std::string_view names = header;
    if (!names.empty() && names.back() == '\r') names.remove_suffix(1);
    first_line += 1;
    delimiter = DetectCsvDelimiter(names);
    std::vector<std::string_view> cells;
    std::string scratch, error;
    if (!SplitCsvRecord(names, delimiter, &cells, &scratch, &error)) {
      return Usage(absl::StrCat(name, ":1: the header row: ", error));
    }
    absl::StatusOr<std::shared_ptr<const CsvContactMapping>> created =
        CsvContactMapping::Create(std::vector<std::string>(cells.begin(), cells.end()),
                                  options.ignore_columns, lawful::v1::Contact::descriptor());
    if (!created.ok()) {
      return Usage(absl::StrCat(name, ":1: ", created.status().message()));
    }
    mapping = *std::move(created);
  }

  std::unique_ptr<Decider> decider;
  if (!options.server.empty()) {
    absl::StatusOr<std::unique_ptr<Decider>> connected =
        ConnectServerDecider(options.server, *outreach);
    if (!connected.ok()) {
      return Usage(absl::StrCat("--server=", options.server, ": ", connected.status().ToString()));
    }
    decider = *std::move(connected);
  } else {
    absl::StatusOr<dsl::LoadedRuleSet> loaded = dsl::LoadRuleSet(options.rules_dir);
    if (!loaded.ok()) {
      return Usage(absl::StrCat("cannot load rules from ", options.rules_dir, ":\n",
                                loaded.status().message()));
    }
    const absl::Time at = outreach->has_at() ? FromProto(outreach->at()) : absl::Now();
    absl::StatusOr<PreparedOutreach> prepared = loaded->rule_set->Prepare(
        Outreach{outreach->purpose(), outreach->channel(), outreach->notice_type(), at});
    if (!prepared.ok()) return Usage(std::string(prepared.status().message()));
    decider = MakeEngineDecider(*std::move(loaded), *std::move(prepared));
  }

  std::string error;
  struct Outputs {
    FILE* allowed = nullptr;
    FILE* denied = nullptr;
    FILE* rejects = nullptr;
    ~Outputs() {
      for (FILE* file : {allowed, denied, rejects}) {
        if (file != nullptr) std::fclose(file);
      }
    }
  } outputs;
  outputs.allowed = OpenOutput(options.allowed_path, "allowed", &error);
  if (error.empty()) outputs.denied = OpenOutput(options.denied_path, "denied", &error);
  if (error.empty()) outputs.rejects = OpenOutput(options.rejects_path, "rejects", &error);
  if (!error.empty()) return Usage(error);
  // The split files are lists of the same shape as the input: a CSV one keeps its header.
  for (FILE* split : {outputs.allowed, outputs.denied}) {
    if (split != nullptr && *in_format == Format::kCsv) {
      WriteAll(split, header);
      WriteAll(split, "\n");
    }
  }
  if (*out_format == Format::kCsv) std::fputs(kDecisionCsvHeader, stdout);

  std::unique_ptr<audit::Log> audit_log;
  if (!options.audit_log.empty() || !options.audit_key_file.empty()) {
    if (options.audit_log.empty() || options.audit_key_file.empty()) {
      return Usage("--audit_log and --audit_key_file go together");
    }
    absl::StatusOr<audit::Key> key = audit::LoadKey(options.audit_key_file);
    if (!key.ok()) return Usage(std::string(key.status().message()));
    audit::Options log_options;
    log_options.path = options.audit_log;
    log_options.key = *std::move(key);
    log_options.notice = [](absl::string_view message) {
      std::fprintf(stderr, "lawful eval: audit log: %s\n", std::string(message).c_str());
    };
    absl::StatusOr<std::unique_ptr<audit::Log>> opened = audit::Log::Open(std::move(log_options));
    if (!opened.ok()) return Usage(std::string(opened.status().message()));
    audit_log = *std::move(opened);
  }

  EvalRun run(options, *in_format, *out_format, name, decider.get(), mapping, delimiter);
  run.RecordIn(audit_log.get());
  return run.Run(fd, size, std::move(pending), first_line, outputs.allowed, outputs.denied,
                 outputs.rejects);
}

}  // namespace lawful::cli
