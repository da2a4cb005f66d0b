// Access requests on the audit log (lawful/audit.h): Find by contact id and by record ids, and
// logs of the previous format (version 1) still verify and answer; a format this code does not
// know is named and not appended to.
#include <filesystem>
#include <string>
#include <vector>
#include "absl/strings/escaping.h"

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
// Find
// ---------------------------------------------------------------------------------------------

TEST(AuditFind, ReturnsEveryDecisionAboutOnePersonAndNoOneElses) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  Options options = TestOptions(path);
  options.max_file_bytes = 3000;
  {
    auto log = OpenOrDie(options);
    for (int i = 0; i < 6; ++i) {
      Batch batch("c", 4);  // c-0 .. c-3 in every batch
      ASSERT_TRUE(CommitBatch(*log, TestRequest(absl::StrCat("r-", i)), batch.records).ok());
    }
  }
  absl::StatusOr<FindResult> found = Find(TestKey(), "c-2", {path.string()});
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_TRUE(found->report.ok());
  ASSERT_EQ(found->records.size(), 6u);
  for (int i = 0; i < 6; ++i) {
    const Record& r = found->records[i];
    EXPECT_EQ(r.request_id, absl::StrCat("r-", i));
    EXPECT_EQ(r.seq, r.request_seq + 3);  // c-2's line is the third after its request line
    EXPECT_EQ(r.contact, TestKey().Pseudonym("c-2"));
    EXPECT_EQ(r.index, 2);
    EXPECT_EQ(r.outcome, "allow");
    EXPECT_EQ(r.reason, "consent");
    EXPECT_EQ(r.evidence, "consents[0]");
    EXPECT_EQ(r.record, TestKey().Pseudonym("k-17"));
    EXPECT_EQ(r.record_id, "");  // not given: Find cannot name it
    EXPECT_EQ(r.at, "2026-03-02T09:00:00Z");
    EXPECT_TRUE(r.verified);
    EXPECT_THAT(r.text, HasSubstr(r.mac));
  }
  EXPECT_EQ(FormatRecord(found->records[0]),
            absl::StrCat(R"({"seq":)", found->records[0].seq,
                         R"(,"time":"2026-03-02T09:00:00Z","caller":"CN=crm.example.com",)",
                         R"("request_id":"r-0","rule_set":"e0fd353695f7","purpose":"newsletter",)",
                         R"("channel":"email","at":"2026-03-02T09:00:00Z","contact":")",
                         TestKey().Pseudonym("c-2"), R"(","index":2,"outcome":"allow",)",
                         R"("reason":"consent","rule":"marketing.consent",)",
                         R"("evidence":"consents[0]","record":")", TestKey().Pseudonym("k-17"),
                         R"(","facts":")", found->records[0].facts, R"(","mac":")",
                         found->records[0].mac, R"(","verified":true})"));
  EXPECT_GT(found->records.back().seq, found->records.front().seq);
  EXPECT_TRUE(Find(TestKey(), "c-9", {path.string()})->records.empty());

  // After tampering, the records are still found; those from the bad line on are unverified.
  std::vector<std::string> lines = Lines(path);
  lines[2][40] ^= 0x01;
  WriteLines(path, lines);
  found = Find(TestKey(), "c-2", {path.string()});
  ASSERT_TRUE(found.ok());
  ASSERT_FALSE(found->report.ok());
  ASSERT_EQ(found->records.size(), 6u);
  EXPECT_FALSE(found->records.back().verified);
}

// ---------------------------------------------------------------------------------------------
// Record ids (format version 2) and logs of version 1
// ---------------------------------------------------------------------------------------------

// An access request: the contact id finds the person's decisions, and the ids of the person's
// records (which the log holds only as pseudonyms) name them and find the decisions that relied
// on them under another contact id too.
TEST(AuditFind, NamesTheRecordIdsItIsGivenAndFindsTheDecisionsThatReliedOnThem) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  {
    auto log = OpenOrDie(TestOptions(path));
    ASSERT_TRUE(CommitBatch(*log, TestRequest(),
                            {RelyingOn("c-1", 0, "anna@example.se"), RelyingOn("c-2", 1, "c-2"),
                             RelyingOn("c-3", 2, "anna@example.se", /*objection=*/true),
                             RelyingOn("c-4", 3, "k-4")})
                    .ok());
  }
  const std::vector<std::string> paths = {path.string()};

  // By the contact id alone: the record shows as a pseudonym, unless it is the contact id.
  absl::StatusOr<FindResult> found = Find(TestKey(), "c-1", paths);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->records.size(), 1u);
  EXPECT_EQ(found->records[0].evidence, "consents[0]");
  EXPECT_EQ(found->records[0].record, TestKey().Pseudonym("anna@example.se"));
  EXPECT_EQ(found->records[0].record_id, "");
  found = Find(TestKey(), "c-2", paths);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->records.size(), 1u);
  EXPECT_EQ(found->records[0].record, TestKey().Pseudonym("c-2"));
  EXPECT_EQ(found->records[0].record_id, "c-2");

  // With the person's record ids: named, and c-3's decision on Anna's objection found too.
  found = Find(TestKey(), "c-1", paths, {.record_ids = {"anna@example.se", "k-9"}});
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->records.size(), 2u);
  EXPECT_EQ(found->records[0].contact, TestKey().Pseudonym("c-1"));
  EXPECT_EQ(found->records[1].contact, TestKey().Pseudonym("c-3"));
  for (const Record& r : found->records) {
    EXPECT_EQ(r.record_id, "anna@example.se");
    EXPECT_TRUE(r.verified);
  }
  EXPECT_EQ(found->records[1].evidence, "objections[0]");
  EXPECT_THAT(FormatRecord(found->records[1]),
              HasSubstr(absl::StrCat(R"("evidence":"objections[0]","record":")",
                                     TestKey().Pseudonym("anna@example.se"),
                                     R"(","record_id":"anna@example.se","facts":")")));

  // By record ids alone.
  found = Find(TestKey(), "", paths, {.record_ids = {"k-4"}});
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->records.size(), 1u);
  EXPECT_EQ(found->records[0].contact, TestKey().Pseudonym("c-4"));
  EXPECT_EQ(found->records[0].record_id, "k-4");
}

// What lawful wrote before record ids were pseudonymised ("lawful audit v1"), under TestKey() at
// kDecidedAt: c-0 allowed on consent record anna@example.se, c-1 denied on objection record c-1.
// The record ids are in clear inside `evidence`.
const std::vector<std::string> kVersion1Lines = {
    R"({"event":"start","time":"2026-03-02T09:00:00Z","log":"lawful audit v1","key":"a45bdf90ee993e1e","prev":"00000000000000000000000000000000","seq":0,"mac":"acf63a0561a77fbfa3b36b1196703063"})",
    R"({"event":"request","time":"2026-03-02T09:00:00Z","caller":"CN=crm.example.com","request_id":"r-v1","rule_set":"e0fd353695f7","purpose":"newsletter","channel":"email","at":"2026-03-02T09:00:00Z","decisions":2,"seq":1,"mac":"db1d7f1cd50cc24eaf29951226c8125f"})",
    R"({"contact":"Z2jeGZi4suG8_8u8h1p7Dw","index":0,"outcome":"allow","reason":"consent","rule":"marketing.consent","evidence":"consents[0] id=anna@example.se","facts":"3f2a9c0b1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8","seq":2,"mac":"781326595c929b8af808c3f77a893eba"})",
    R"({"contact":"eXb097-nfQgSDCh3aAHdJw","index":1,"outcome":"deny","reason":"objection","rule":"marketing.objection","evidence":"objections[0] id=c-1","facts":"3f2a9c0b1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8","seq":3,"mac":"8e850af9741ee28cc7269d1f820f68fa"})",
};

TEST(AuditFormatV1, ALogOfTheFormerFormatStillVerifiesAndAnswersAccessRequests) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  WriteLines(path, kVersion1Lines);
  const std::vector<std::string> paths = {path.string()};

  const VerifyReport report = ExpectVerifies(path.string());
  EXPECT_EQ(report.decisions, 2u);
  EXPECT_EQ(report.requests, 1u);
  EXPECT_EQ(report.head->seq, 3u);

  absl::StatusOr<FindResult> found = Find(TestKey(), "c-0", paths);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->records.size(), 1u);
  const Record& r = found->records[0];
  EXPECT_EQ(r.request_id, "r-v1");
  EXPECT_EQ(r.contact, TestKey().Pseudonym("c-0"));
  EXPECT_EQ(r.evidence, "consents[0] id=anna@example.se");  // as written
  EXPECT_EQ(r.record, "");
  EXPECT_EQ(r.record_id, "anna@example.se");
  EXPECT_TRUE(r.verified);

  // Found by the record id too, as in a log of version 2.
  found = Find(TestKey(), "", paths, {.record_ids = {"c-1"}});
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->records.size(), 1u);
  EXPECT_EQ(found->records[0].contact, TestKey().Pseudonym("c-1"));
  EXPECT_EQ(found->records[0].reason, "objection");
  EXPECT_EQ(found->records[0].record_id, "c-1");
}

// Each file holds one format: the live file of version 1 is rotated at Open, unchanged, and the
// chain goes on in a file of version 2, which verifies with it.
TEST(AuditFormatV1, OpeningALogOfTheFormerFormatRotatesItAndTheChainGoesOn) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  WriteLines(path, kVersion1Lines);
  const std::string version1 = ReadFile(path);
  Options options = TestOptions(path);
  std::string notices;
  options.notice = [&](absl::string_view n) { absl::StrAppend(&notices, n, "\n"); };
  {
    auto log = OpenOrDie(options);
    ASSERT_NE(log, nullptr);
    ASSERT_TRUE(
        CommitBatch(*log, TestRequest("r-v2"), {RelyingOn("c-0", 0, "anna@example.se")}).ok());
  }
  EXPECT_THAT(notices, HasSubstr(R"(the live file is in the format "lawful audit v1")"));
  const fs::path rotated = dir.path() / "audit.jsonl.000000000000";
  EXPECT_EQ(ReadFile(rotated), version1);
  const std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[0], HasSubstr(R"("log":"lawful audit v2")"));
  EXPECT_THAT(lines[0], HasSubstr(R"("prev":"8e850af9741ee28cc7269d1f820f68fa","seq":4,)"));
  EXPECT_THAT(ReadFile(path), Not(HasSubstr("anna@example.se")));

  const VerifyReport report = ExpectVerifies(path.string());
  EXPECT_EQ(report.files.size(), 2u);
  EXPECT_EQ(report.decisions, 3u);
  absl::StatusOr<FindResult> found =
      Find(TestKey(), "c-0", {path.string()}, {.record_ids = {"anna@example.se"}});
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->records.size(), 2u);
  EXPECT_EQ(found->records[0].evidence, "consents[0] id=anna@example.se");
  EXPECT_EQ(found->records[1].evidence, "consents[0]");
  EXPECT_EQ(found->records[1].record, TestKey().Pseudonym("anna@example.se"));
  for (const Record& r : found->records) {
    EXPECT_EQ(r.record_id, "anna@example.se");
    EXPECT_TRUE(r.verified);
  }

  // Reopened, the live file is of this format and stays.
  auto reopened = OpenOrDie(options);
  ASSERT_NE(reopened, nullptr);
  ASSERT_TRUE(CommitBatch(*reopened, TestRequest("r-3"), {RelyingOn("c-5", 0, "k-5")}).ok());
  reopened.reset();
  EXPECT_EQ(ChainFiles({path.string()})->size(), 2u);
  EXPECT_EQ(ExpectVerifies(path.string()).decisions, 4u);
}

// A file whose start line names a format this code does not know (one a newer lawful wrote) is
// reported as such, rather than read as if it were known; Open refuses to append to it.
TEST(AuditVerify, AFileInAFormatItDoesNotKnowIsNamedAndNotAppendedTo) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  WriteOneBatch(path, 2);
  std::vector<std::string> lines = Lines(path);
  // A start line of "lawful audit v3" with a mac that verifies, as a newer lawful would write it.
  std::string body = lines[0].substr(0, lines[0].size() - 42);
  body.replace(body.find("lawful audit v2"), 15, "lawful audit v3");
  const std::string chain_key =
      OpenSslHmac(absl::HexStringToBytes(kKeyHex), "lawful audit chain v1");
  lines[0] = absl::StrCat(
      body, R"(,"mac":")",
      absl::BytesToHexString(OpenSslHmac(chain_key, body + std::string(16, '\0'))).substr(0, 32),
      R"("})");
  WriteLines(path, lines);
  const std::string written = ReadFile(path);

  absl::StatusOr<VerifyReport> report = Verify(TestKey(), {path.string()});
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_FALSE(report->ok());
  EXPECT_EQ(report->problem->kind, ProblemKind::kUnknownFormat);
  EXPECT_EQ(report->problem->line, 1);
  EXPECT_THAT(
      report->problem->ToString(),
      HasSubstr(R"(:1: seq 0: unknown format: the file is in the format "lawful audit v3")"));

  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(TestOptions(path));
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(log.status().message(), HasSubstr("lawful audit v3"));
  EXPECT_EQ(ReadFile(path), written);
}

}  // namespace
}  // namespace lawful::audit
