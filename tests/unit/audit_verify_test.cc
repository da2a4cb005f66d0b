// The audit log's chain checked (lawful/audit.h): Verify names each kind of tampering, Open cuts
// torn tails and refuses damaged or foreign logs, rotation and retention keep the chain.
#include <chrono>
#include <functional>
#include <optional>

#include <filesystem>
#include <string>
#include <vector>
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"

#include "absl/strings/str_cat.h"
#include "audit_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/audit.h"
#include "lawful/testkit.h"

namespace lawful::audit {
namespace {

namespace fs = std::filesystem;
using ::lawful::testkit::ReadFile;
using ::lawful::testkit::TempDir;
using ::lawful::testkit::WriteFile;
using ::testing::HasSubstr;
using ::testing::Not;

// ---------------------------------------------------------------------------------------------
// Verify
// ---------------------------------------------------------------------------------------------

TEST(AuditVerify, PassesOnAnUntouchedLogAndAgreesWithTheWritersHead) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  Head written;
  {
    auto log = OpenOrDie(TestOptions(path));
    ASSERT_NE(log, nullptr);
    for (int i = 0; i < 3; ++i) {
      Batch batch(absl::StrCat("b", i), 10);
      ASSERT_TRUE(CommitBatch(*log, TestRequest(), batch.records).ok());
    }
    written = log->head();
  }
  absl::StatusOr<VerifyReport> report = Verify(TestKey(), {path.string()});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok()) << report->problem->ToString();
  EXPECT_EQ(report->decisions, 30u);
  EXPECT_EQ(report->requests, 3u);
  EXPECT_EQ(report->events, 1u);
  EXPECT_EQ(report->first_seq, 0u);
  EXPECT_EQ(report->head, written);
  EXPECT_EQ(written.seq, 33u);
  absl::StatusOr<Head> head = ReadHead({path.string()});
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(*head, written);

  VerifyOptions anchored;
  anchored.anchor = written;
  report = Verify(TestKey(), {path.string()}, anchored);
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok());
}

// A log of three files (two rotated) for the tampering cases: a batch of 4 a file.
struct RotatedLog {
  RotatedLog() {
    Options options = TestOptions(dir.path() / "audit.jsonl");
    options.max_file_bytes = 1;  // rotate before every batch
    auto log = OpenOrDie(options);
    for (int i = 0; i < 3; ++i) {
      Batch batch(absl::StrCat("b", i), 4);
      EXPECT_TRUE(CommitBatch(*log, TestRequest(absl::StrCat("r-", i)), batch.records).ok());
    }
  }
  fs::path live() const { return dir.path() / "audit.jsonl"; }
  fs::path rotated(int first_seq) const {
    return dir.path() / absl::StrFormat("audit.jsonl.%012d", first_seq);
  }
  TempDir dir;
};

struct TamperCase {
  const char* name;
  // Changes the log in `dir`; returns the file the first bad line is in.
  std::function<fs::path(const RotatedLog&)> tamper;
  ProblemKind kind;
  int64_t line;
  std::optional<uint64_t> seq;
  const char* message;  // a part of Problem::message
  std::optional<Head> anchor = std::nullopt;
};

// Lines per file: a start, a request, 4 decisions. audit.jsonl.000000000000 holds seq 0-5,
// audit.jsonl.000000000006 seq 6-11 (8-11 decisions), audit.jsonl seq 12-17 (14-17 decisions).
std::vector<TamperCase> TamperCases() {
  const auto edit = [](int file_seq, std::function<void(std::vector<std::string>&)> change) {
    return [=](const RotatedLog& log) {
      const fs::path path = file_seq < 0 ? log.live() : log.rotated(file_seq);
      std::vector<std::string> lines = Lines(path);
      change(lines);
      WriteLines(path, lines);
      return path;
    };
  };
  return {
      {"byte flip in a field", edit(6, [](auto& lines) { lines[2][40] ^= 0x01; }),
       ProblemKind::kAltered, 3, 8, "mac does not verify"},
      {"byte flip in a mac",
       edit(-1,
            [](auto& lines) {
              lines[3][lines[3].size() - 5] = lines[3][lines[3].size() - 5] == '0' ? '1' : '0';
            }),
       ProblemKind::kAltered, 4, 15, "mac does not verify"},
      {"byte flip in a request line", edit(-1, [](auto& lines) { lines[1][60] ^= 0x01; }),
       ProblemKind::kAltered, 2, 13, "mac does not verify"},
      {"outcome changed from deny to allow",
       edit(6,
            [](auto& lines) {
              absl::StrReplaceAll({{"\"deny\"", "\"allow\""}}, &lines[2]);
            }),
       ProblemKind::kAltered, 3, 8, "mac does not verify"},
      {"deleted record", edit(6, [](auto& lines) { lines.erase(lines.begin() + 3); }),
       ProblemKind::kRemoved, 4, 10, "seq 9 is missing before it"},
      {"two deleted records",
       edit(6, [](auto& lines) { lines.erase(lines.begin() + 2, lines.begin() + 4); }),
       ProblemKind::kRemoved, 3, 10, "seq 8..9 are missing"},
      {"swapped records", edit(6, [](auto& lines) { std::swap(lines[3], lines[4]); }),
       ProblemKind::kReordered, 4, 10, "seq 9 comes later"},
      {"duplicated record",
       edit(-1, [](auto& lines) { lines.insert(lines.begin() + 4, lines[2]); }),
       ProblemKind::kReordered, 5, 14, "seq 14 appears after seq 15"},
      {"seq digits changed",
       edit(6,
            [](auto& lines) {
              absl::StrReplaceAll({{",\"seq\":8,", ",\"seq\":9,"}}, &lines[2]);
            }),
       ProblemKind::kAltered, 3, 9, "its seq was changed"},
      {"truncated tail mid-line",
       [](const RotatedLog& log) {
         const std::string text = ReadFile(log.live());
         WriteFile(log.live(), text.substr(0, text.size() - 30));
         return log.live();
       },
       ProblemKind::kTruncated, 6, 17, "incomplete final line"},
      {"deleted whole rotated file",
       [](const RotatedLog& log) {
         fs::remove(log.rotated(6));
         return log.live();
       },
       ProblemKind::kMissingFile, 1, 12, "a file holding seq 6..11 is missing"},
      {"deleted start record", edit(0, [](auto& lines) { lines.erase(lines.begin()); }),
       ProblemKind::kRemoved, 1, 1, "does not begin with its start record"},
      {"appended forged record",
       [](const RotatedLog& log) {
         // A record in the right shape, made with another key.
         TempDir other;
         Options options = TestOptions(other.path() / "audit.jsonl");
         options.key = TestKey(std::string(64, 'f'));
         auto forger = OpenOrDie(options);
         Batch batch("forged", 14);
         CommitBatch(*forger, TestRequest(), batch.records).IgnoreError();
         std::vector<std::string> lines = Lines(log.live());
         lines.push_back(Lines(other.path() / "audit.jsonl").back());  // seq 15 of its own log
         absl::StrReplaceAll({{",\"seq\":15,", ",\"seq\":18,"}}, &lines.back());
         WriteLines(log.live(), lines);
         return log.live();
       },
       ProblemKind::kAltered, 7, 18, "forged without the key"},
      {"records cut off at a line boundary, head anchored",
       [](const RotatedLog& log) {
         std::vector<std::string> lines = Lines(log.live());
         lines.resize(lines.size() - 2);
         WriteLines(log.live(), lines);
         return log.live();
       },
       ProblemKind::kTruncated, 0, std::nullopt, "seq 16..17 were cut off",
       Head{17, std::string(32, '0')}},
  };
}

TEST(AuditVerify, NamesTheFirstBadRecordForEachKindOfTampering) {
  for (const TamperCase& c : TamperCases()) {
    SCOPED_TRACE(c.name);
    RotatedLog log;
    {
      absl::StatusOr<VerifyReport> untouched = Verify(TestKey(), {log.live().string()});
      ASSERT_TRUE(untouched.ok()) << untouched.status();
      ASSERT_TRUE(untouched->ok()) << untouched->problem->ToString();
      ASSERT_EQ(untouched->files.size(), 3u);
      ASSERT_EQ(untouched->decisions, 12u);
      ASSERT_EQ(untouched->requests, 3u);
    }
    std::optional<Head> anchor = c.anchor;
    if (anchor.has_value()) anchor->mac = ReadHead({log.live().string()})->mac;  // before
    const fs::path bad_file = c.tamper(log);
    VerifyOptions options;
    options.anchor = anchor;
    absl::StatusOr<VerifyReport> report = Verify(TestKey(), {log.live().string()}, options);
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_FALSE(report->ok());
    const Problem& problem = *report->problem;
    EXPECT_EQ(ProblemKindName(problem.kind), ProblemKindName(c.kind)) << problem.ToString();
    EXPECT_EQ(problem.file, bad_file.string()) << problem.ToString();
    EXPECT_EQ(problem.line, c.line) << problem.ToString();
    EXPECT_EQ(problem.seq, c.seq) << problem.ToString();
    EXPECT_THAT(problem.message, HasSubstr(c.message)) << problem.ToString();
  }
}

TEST(AuditVerify, RefusesAnotherKeyAndAForeignAnchor) {
  RotatedLog log;
  absl::StatusOr<VerifyReport> report =
      Verify(TestKey(std::string(64, 'e')), {log.live().string()});
  ASSERT_TRUE(report.ok());
  ASSERT_FALSE(report->ok());
  EXPECT_EQ(report->problem->kind, ProblemKind::kWrongKey);
  EXPECT_EQ(report->problem->file, log.rotated(0).string());
  EXPECT_EQ(report->problem->line, 1);

  VerifyOptions options;
  options.anchor = Head{8, std::string(32, 'a')};
  report = Verify(TestKey(), {log.live().string()}, options);
  ASSERT_TRUE(report.ok());
  ASSERT_FALSE(report->ok());
  EXPECT_EQ(report->problem->kind, ProblemKind::kAltered);
  EXPECT_EQ(report->problem->file, log.rotated(6).string());
  EXPECT_EQ(report->problem->line, 3);
  EXPECT_THAT(report->problem->message, HasSubstr("history was rewritten"));

  EXPECT_EQ(Verify(TestKey(), {(log.dir.path() / "nothing.jsonl").string()}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(AuditVerify, OrdersTheFilesByTheirFirstSeqWhateverOrderTheyAreGivenIn) {
  RotatedLog log;
  absl::StatusOr<std::vector<std::string>> files =
      ChainFiles({log.live().string(), log.rotated(6).string(), log.rotated(0).string()});
  ASSERT_TRUE(files.ok()) << files.status();
  EXPECT_EQ(*files, (std::vector<std::string>{log.rotated(0).string(), log.rotated(6).string(),
                                              log.live().string()}));
  // A rotated file alone verifies from its first seq.
  const VerifyReport report = ExpectVerifies(log.rotated(6).string());
  EXPECT_EQ(report.first_seq, 6u);
  EXPECT_EQ(report.decisions, 4u);
}

// ---------------------------------------------------------------------------------------------
// Open: torn tails, damage, keys
// ---------------------------------------------------------------------------------------------

TEST(AuditLog, CutsATornFinalRecordOnReopenAndSaysSo) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  WriteOneBatch(path, 5);
  const std::string good = ReadFile(path);
  // A crash in the middle of the next batch: one whole line and part of another.
  const std::string torn = Lines(path)[3] + "\n" + Lines(path)[4].substr(0, 50);
  WriteFile(path, good + torn);

  std::vector<std::string> notices;
  Options options = TestOptions(path);
  options.notice = [&](absl::string_view n) { notices.emplace_back(n); };
  auto log = OpenOrDie(options);
  ASSERT_NE(log, nullptr);
  // The whole copied line does not continue the chain (its seq and mac repeat line 4's), so the
  // cut starts there.
  EXPECT_EQ(log->recovery().offset, good.size());
  EXPECT_EQ(log->recovery().bytes_cut, torn.size());
  EXPECT_EQ(log->recovery().line, 8);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_THAT(notices[0], HasSubstr("that no caller was told were recorded"));
  EXPECT_THAT(notices[0], HasSubstr(absl::StrCat(torn.size(), " bytes")));
  EXPECT_THAT(notices[0], Not(HasSubstr("c-")));

  const std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 8u);
  EXPECT_THAT(lines[7], HasSubstr(R"("event":"repair")"));
  Batch more("d", 2);
  ASSERT_TRUE(CommitBatch(*log, TestRequest(), more.records).ok());
  const VerifyReport report = ExpectVerifies(path.string());
  EXPECT_EQ(report.decisions, 7u);
  EXPECT_EQ(report.requests, 2u);
  EXPECT_EQ(report.events, 2u);
}

TEST(AuditLog, CutsATailOfZerosAndAFinalLineThatDoesNotVerify) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  WriteOneBatch(path, 3);
  std::vector<std::string> lines = Lines(path);
  lines.back()[30] ^= 0x20;  // the last line is complete but does not verify
  WriteLines(path, lines);
  WriteFile(path, ReadFile(path) + std::string(4096, '\0'));  // and the file grew by zeros
  auto log = OpenOrDie(TestOptions(path));
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->recovery().line, 5);
  EXPECT_EQ(log->recovery().bytes_cut, lines.back().size() + 1 + 4096);
  const VerifyReport report = ExpectVerifies(path.string());
  EXPECT_EQ(report.decisions, 2u);
}

TEST(AuditLog, RefusesToOpenADamagedLogOrAnotherKeysLogAndChangesNothing) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  WriteOneBatch(path, 6);
  Options other_key = TestOptions(path);
  other_key.key = TestKey(std::string(64, 'b'));
  const std::string before = ReadFile(path);
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(other_key);
  EXPECT_EQ(log.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(log.status().message(), HasSubstr("written with the key whose id is"));
  EXPECT_EQ(ReadFile(path), before);

  std::vector<std::string> lines = Lines(path);
  lines[3][40] ^= 0x01;  // damage in the middle: lines after it still verify
  WriteLines(path, lines);
  const std::string damaged = ReadFile(path);
  log = Log::Open(TestOptions(path));
  EXPECT_EQ(log.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(log.status().message(), HasSubstr("line 4 does not verify"));
  EXPECT_THAT(log.status().message(), HasSubstr("no torn tail"));
  EXPECT_EQ(ReadFile(path), damaged);
}

// ---------------------------------------------------------------------------------------------
// Rotation and retention
// ---------------------------------------------------------------------------------------------

TEST(AuditLog, RotatesBySizeAndTheChainSpansTheFiles) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  Options options = TestOptions(path);
  options.max_file_bytes = 4000;
  std::vector<std::string> notices;
  options.notice = [&](absl::string_view n) { notices.emplace_back(n); };
  {
    auto log = OpenOrDie(options);
    for (int i = 0; i < 20; ++i) {
      Batch batch(absl::StrCat("b", i), 5);
      ASSERT_TRUE(CommitBatch(*log, TestRequest(), batch.records).ok());
    }
  }
  absl::StatusOr<std::vector<std::string>> files = ChainFiles({path.string()});
  ASSERT_TRUE(files.ok());
  ASSERT_GT(files->size(), 3u);
  EXPECT_EQ(files->back(), path.string());
  for (size_t i = 0; i + 1 < files->size(); ++i) {
    // A file exceeds the limit by at most one batch (5 lines of ~600 bytes).
    EXPECT_LT(fs::file_size((*files)[i]), 4000u + 5 * 700) << (*files)[i];
    EXPECT_THAT(Lines((*files)[i])[0], HasSubstr(R"("event":"start")"));
  }
  EXPECT_EQ(std::count_if(notices.begin(), notices.end(),
                          [](const std::string& n) { return absl::StrContains(n, "rotated"); }),
            static_cast<long>(files->size() - 1));

  // Reopening continues the chain in the live file.
  {
    auto log = OpenOrDie(options);
    Batch batch("after", 5);
    ASSERT_TRUE(CommitBatch(*log, TestRequest(), batch.records).ok());
  }
  const VerifyReport report = ExpectVerifies(path.string());
  EXPECT_EQ(report.decisions, 105u);
  EXPECT_EQ(report.events, report.files.size());
}

TEST(AuditLog, ContinuesTheChainWhenACrashLeftNoLiveFileAfterARotation) {
  RotatedLog rotated;
  // As if the process died between renaming the live file and starting the next one.
  fs::rename(rotated.live(), rotated.rotated(12));
  std::vector<std::string> notices;
  Options options = TestOptions(rotated.live());
  options.notice = [&](absl::string_view n) { notices.emplace_back(n); };
  auto log = OpenOrDie(options);
  ASSERT_NE(log, nullptr);
  EXPECT_THAT(notices, ::testing::Contains(HasSubstr("continuing the chain of")));
  Batch batch("x", 2);
  ASSERT_TRUE(CommitBatch(*log, TestRequest(), batch.records).ok());
  const VerifyReport report = ExpectVerifies(rotated.live().string());
  EXPECT_EQ(report.files.size(), 4u);
  EXPECT_EQ(report.decisions, 14u);
}

TEST(AuditLog, RetentionDeletesOnlyRotatedFilesOlderThanThePeriod) {
  RotatedLog log;
  // The oldest rotated file was last written 10 days ago, the next 2 days ago, the live one 30
  // (file_time_type's epoch is unspecified: the times are set relative to the live file's).
  const fs::file_time_type written = fs::last_write_time(log.live());
  const absl::Time written_at = absl::Now();
  fs::last_write_time(log.rotated(0), written - std::chrono::hours(24 * 10));
  fs::last_write_time(log.rotated(6), written - std::chrono::hours(24 * 2));
  fs::last_write_time(log.live(), written - std::chrono::hours(24 * 30));

  Options options = TestOptions(log.live());
  options.retention = absl::Hours(24 * 7);
  options.clock = [&] { return written_at; };
  std::vector<std::string> notices;
  options.notice = [&](absl::string_view n) { notices.emplace_back(n); };
  auto reopened = OpenOrDie(options);
  ASSERT_NE(reopened, nullptr);
  EXPECT_FALSE(fs::exists(log.rotated(0)));
  EXPECT_TRUE(fs::exists(log.rotated(6)));
  EXPECT_TRUE(fs::exists(log.live()));
  EXPECT_THAT(notices, ::testing::Contains(HasSubstr("deleted " + log.rotated(0).string())));

  const VerifyReport report = ExpectVerifies(log.live().string());
  EXPECT_EQ(report.first_seq, 6u);
}

}  // namespace
}  // namespace lawful::audit
