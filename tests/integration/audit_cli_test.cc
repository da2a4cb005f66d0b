// End-to-end tests of `lawful audit verify|find|head`: the real CLI on audit logs this test writes
// with the library (three files, so that rotation is covered), untouched and tampered with, and on
// a log of the former format (version 1) written out literally.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/audit.h"
#include "lawful/testkit.h"

namespace lawful::testing {
namespace {

using ::lawful::testkit::CommandResult;
using ::lawful::testkit::ReadFile;
using ::lawful::testkit::RunCommand;
using ::lawful::testkit::TempDir;
using ::lawful::testkit::WriteFile;
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr char kKeyHex[] = "8f1e2d3c4b5a69788796a5b4c3d2e1f00112233445566778899aabbccddeeff0";

class AuditCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    key_file_ = (dir_.path() / "audit.key").string();
    WriteFile(key_file_, absl::StrCat(kKeyHex, "\n"));
    log_ = (dir_.path() / "audit.jsonl").string();
    audit::Options options;
    options.path = log_;
    options.key = *audit::Key::FromKeyFile(kKeyHex, "key");
    options.max_file_bytes = 1;  // a new file for every batch
    absl::StatusOr<std::unique_ptr<audit::Log>> log = audit::Log::Open(options);
    ASSERT_TRUE(log.ok()) << log.status();
    for (int batch = 0; batch < 3; ++batch) {
      std::vector<std::string> ids, record_ids;
      for (int i = 0; i < 4; ++i) ids.push_back(absl::StrCat("c-", i));
      // The records decided on: c-0's objection under its contact id, the others' consents
      // under their e-mail addresses.
      for (int i = 0; i < 4; ++i) {
        record_ids.push_back(i == 0 ? "c-0" : absl::StrCat("person", i, "@example.se"));
      }
      std::vector<audit::DecisionRecord> records;
      for (int i = 0; i < 4; ++i) {
        audit::DecisionRecord d;
        d.contact_id = ids[i];
        d.index = i;
        d.outcome = i == 0 ? "deny" : "allow";
        d.reason = i == 0 ? "objection" : "consent";
        d.rule_policy = "marketing";
        d.rule = d.reason;
        d.evidence_field = i == 0 ? "objections" : "consents";
        d.evidence_id = record_ids[i];
        records.push_back(d);
      }
      const std::string request_id = absl::StrCat("r-", batch);
      audit::Request request;
      request.caller = "CN=crm";
      request.request_id = request_id;
      request.rule_set = "e0fd353695f7";
      request.purpose = "newsletter";
      request.channel = "email";
      request.at = absl::FromUnixSeconds(1772442000);
      audit::Log::Session session = (*log)->Begin(request, records.size());
      session.Append(0, records.size(),
                     [&](size_t i, audit::DecisionRecord* out) { *out = records[i]; });
      ASSERT_TRUE(session.Commit().ok());
    }
    head_ = (*log)->head().ToString();
  }

  CommandResult Audit(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {LAWFUL_CLI_PATH, "audit"};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunCommand(argv);
  }
  std::string KeyFlag() const { return "--audit_key_file=" + key_file_; }

  // Rewrites line `line` (1-based) of `file` with `change`.
  void EditLine(const std::string& file, int line,
                const std::function<void(std::string&)>& change) {
    std::vector<std::string> lines = absl::StrSplit(ReadFile(file), '\n');
    change(lines[static_cast<size_t>(line - 1)]);
    WriteFile(file, absl::StrJoin(lines, "\n"));
  }

  TempDir dir_;
  std::string key_file_;
  std::string log_;
  std::string head_;
};

TEST_F(AuditCliTest, VerifyPassesOnAnUntouchedLogAcrossItsRotatedFiles) {
  const CommandResult r = Audit({"verify", KeyFlag(), log_});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, absl::StrCat("lawful audit verify: ok: 12 decisions (3 requests) in 3 files, "
                                "seq 0..17; head ",
                                head_, "\n"));
  EXPECT_EQ(r.err, "");
}

TEST_F(AuditCliTest, HeadPrintsWhatVerifyAcceptsAsAnAnchor) {
  const CommandResult without_key = Audit({"head", log_});
  EXPECT_EQ(without_key.exit_code, 0) << without_key.err;
  EXPECT_EQ(without_key.out, head_ + "\n");
  const CommandResult with_key = Audit({"head", KeyFlag(), log_});
  EXPECT_EQ(with_key.exit_code, 0) << with_key.err;
  EXPECT_EQ(with_key.out, head_ + "\n");

  const CommandResult anchored = Audit({"verify", KeyFlag(), "--anchor=" + head_, log_});
  EXPECT_EQ(anchored.exit_code, 0) << anchored.out << anchored.err;
  EXPECT_THAT(anchored.out, HasSubstr("holds the anchored seq 17"));

  // Cutting whole lines off the end only an anchor shows.
  std::string text = ReadFile(log_);
  text.resize(text.rfind('\n', text.size() - 2) + 1);
  WriteFile(log_, text);
  EXPECT_EQ(Audit({"verify", KeyFlag(), log_}).exit_code, 0);
  const CommandResult cut = Audit({"verify", KeyFlag(), "--anchor=" + head_, log_});
  EXPECT_EQ(cut.exit_code, 1);
  EXPECT_THAT(cut.out, HasSubstr(absl::StrCat("lawful audit verify: FAILED: ", log_,
                                              ": truncated: the log ends at seq 16 but seq 17 "
                                              "was anchored: seq 17..17 were cut off")));
}

TEST_F(AuditCliTest, VerifyNamesTheTamperedRecordAndExitsOne) {
  const std::string middle = log_ + ".000000000006";
  EditLine(middle, 3,
           [](std::string& line) { line.replace(line.find("\"deny\""), 6, "\"allow\""); });
  const CommandResult r = Audit({"verify", KeyFlag(), log_});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, StartsWith(absl::StrCat("lawful audit verify: FAILED: ", middle,
                                             ":3: seq 8: altered: its mac does not verify")));
  EXPECT_THAT(r.out, HasSubstr("verified before it: 4 decisions (2 requests)"));

  fs::remove(middle);
  const CommandResult missing = Audit({"verify", KeyFlag(), log_});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.out, HasSubstr(absl::StrCat(log_, ":1: seq 12: missing file: ")));
}

TEST_F(AuditCliTest, FindListsOnePersonsDecisionsWithoutNamingThem) {
  const CommandResult r = Audit({"find", KeyFlag(), "--contact=c-2", log_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << r.out;
  const audit::Key key = *audit::Key::FromKeyFile(kKeyHex, "key");
  for (int i = 0; i < 3; ++i) {
    EXPECT_THAT(lines[i], HasSubstr(absl::StrCat(R"("request_id":"r-)", i, R"(")")));
    EXPECT_THAT(lines[i], HasSubstr(absl::StrCat(R"("contact":")", key.Pseudonym("c-2"), R"(")")));
    EXPECT_THAT(lines[i], HasSubstr(R"("index":2,"outcome":"allow","reason":"consent")"));
    EXPECT_THAT(lines[i], HasSubstr(R"("verified":true})"));
  }
  EXPECT_THAT(r.err, HasSubstr("lawful audit find: 3 decisions about this contact among 12 "
                               "decisions (3 requests) in 3 files"));
  EXPECT_THAT(r.err, HasSubstr("the chain verifies"));
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("c-2")));
  // The record c-2's decisions relied on, as a pseudonym: nothing here gave its id.
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat(R"("evidence":"consents[0]","record":")",
                                            key.Pseudonym("person2@example.se"), R"(",)")));
  EXPECT_THAT(r.out, Not(HasSubstr("person2")));

  const CommandResult nobody = Audit({"find", KeyFlag(), "--contact=c-9", log_});
  EXPECT_EQ(nobody.exit_code, 0);
  EXPECT_EQ(nobody.out, "");
  EXPECT_THAT(nobody.err, HasSubstr("0 decisions about this contact"));

  EditLine(log_, 4, [](std::string& line) { line[20] ^= 0x01; });
  const CommandResult tampered = Audit({"find", KeyFlag(), "--contact=c-2", log_});
  EXPECT_EQ(tampered.exit_code, 1);
  EXPECT_THAT(tampered.err,
              HasSubstr("the chain does NOT verify: " + log_ + ":4: seq 15: altered"));
  EXPECT_THAT(tampered.out, HasSubstr(R"("verified":false})"));
}

TEST_F(AuditCliTest, UsageAndKeyMistakesExitTwoAnotherKeyExitsOne) {
  EXPECT_EQ(Audit({}).exit_code, 2);
  EXPECT_EQ(Audit({"rewrite", log_}).exit_code, 2);
  EXPECT_EQ(Audit({"verify", KeyFlag()}).exit_code, 2);
  const CommandResult no_key = Audit({"verify", log_});
  EXPECT_EQ(no_key.exit_code, 2);
  EXPECT_THAT(no_key.err, HasSubstr("verify needs --audit_key_file"));
  EXPECT_THAT(Audit({"find", KeyFlag(), log_}).err, HasSubstr("find needs --contact"));
  EXPECT_EQ(Audit({"verify", KeyFlag(), "--anchor=17", log_}).exit_code, 2);
  EXPECT_EQ(Audit({"verify", KeyFlag(), log_ + ".missing"}).exit_code, 2);

  const std::string short_key = (dir_.path() / "short.key").string();
  WriteFile(short_key, "0123456789abcdef\n");
  const CommandResult short_result = Audit({"verify", "--audit_key_file=" + short_key, log_});
  EXPECT_EQ(short_result.exit_code, 2);
  EXPECT_THAT(short_result.err, HasSubstr("an audit key needs at least 32 bytes"));

  const std::string other_key = (dir_.path() / "other.key").string();
  WriteFile(other_key, std::string(64, 'a'));
  const CommandResult other = Audit({"verify", "--audit_key_file=" + other_key, log_});
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_THAT(other.out, HasSubstr(":1: seq 0: wrong key: written with the key whose id is"));
}

TEST_F(AuditCliTest, NoRecordIdIsInTheLogAndFindNamesTheOnesItIsGiven) {
  for (const fs::directory_entry& file : fs::directory_iterator(dir_.path())) {
    if (file.path().filename().string().rfind("audit.jsonl", 0) != 0) continue;
    EXPECT_THAT(ReadFile(file.path()), Not(HasSubstr("@example.se"))) << file.path();
  }
  const audit::Key key = *audit::Key::FromKeyFile(kKeyHex, "key");

  // An access request: the contact id, and the ids of the person's records.
  const CommandResult r =
      Audit({"find", KeyFlag(), "--contact=c-2", "--record_id=person2@example.se,k-99", log_});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << r.out;
  for (const std::string& line : lines) {
    EXPECT_THAT(line, HasSubstr(absl::StrCat(R"("record":")", key.Pseudonym("person2@example.se"),
                                             R"(","record_id":"person2@example.se",)")));
  }
  EXPECT_THAT(r.err, HasSubstr("3 decisions about this contact or these records among"));
  EXPECT_THAT(r.err, Not(HasSubstr("person2")));

  // The records alone (a person no longer in the CRM, who gives an e-mail address).
  const CommandResult by_record =
      Audit({"find", KeyFlag(), "--record_id=person3@example.se", log_});
  EXPECT_EQ(by_record.exit_code, 0) << by_record.err;
  EXPECT_EQ(std::vector<std::string>(absl::StrSplit(by_record.out, '\n', absl::SkipEmpty())).size(),
            3u)
      << by_record.out;
  EXPECT_THAT(by_record.out, HasSubstr(absl::StrCat(R"("contact":")", key.Pseudonym("c-3"))));
  EXPECT_THAT(by_record.err, HasSubstr("3 decisions about these records"));

  // A record id that is the contact id is named without being given.
  const CommandResult own = Audit({"find", KeyFlag(), "--contact=c-0", log_});
  EXPECT_THAT(own.out, HasSubstr(R"("evidence":"objections[0]",)"));
  EXPECT_THAT(own.out, HasSubstr(R"("record_id":"c-0",)"));
}

// What lawful wrote before record ids were pseudonymised ("lawful audit v1"), under kKeyHex:
// c-0 allowed on consent record anna@example.se, c-1 denied on objection record c-1.
const std::vector<std::string> kVersion1Lines = {
    R"({"event":"start","time":"2026-03-02T09:00:00Z","log":"lawful audit v1","key":"bd86c511c634e0e4","prev":"00000000000000000000000000000000","seq":0,"mac":"6e9eb69def54c6d31dbe4f6010c51a02"})",
    R"({"event":"request","time":"2026-03-02T09:00:00Z","caller":"CN=crm.example.com","request_id":"r-v1","rule_set":"e0fd353695f7","purpose":"newsletter","channel":"email","at":"2026-03-02T09:00:00Z","decisions":2,"seq":1,"mac":"e606f58aea4430db56c1f3567075c712"})",
    R"({"contact":"zFyyJhEV6NS0XvyICl_Stw","index":0,"outcome":"allow","reason":"consent","rule":"marketing.consent","evidence":"consents[0] id=anna@example.se","facts":"3f2a9c0b1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8","seq":2,"mac":"3abca5f9a513a8c623f8a86e89c310a6"})",
    R"({"contact":"G1DWXkObrFRJ8EH6ZrPpIw","index":1,"outcome":"deny","reason":"objection","rule":"marketing.objection","evidence":"objections[0] id=c-1","facts":"3f2a9c0b1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8","seq":3,"mac":"7afd523890937eaaa6506991a614ab8a"})",
};

TEST_F(AuditCliTest, ALogOfTheFormerFormatStillVerifiesAndAnswersFind) {
  const std::string old_log = (dir_.path() / "old.jsonl").string();
  WriteFile(old_log, absl::StrCat(absl::StrJoin(kVersion1Lines, "\n"), "\n"));
  const CommandResult verified = Audit({"verify", KeyFlag(), old_log});
  EXPECT_EQ(verified.exit_code, 0) << verified.out << verified.err;
  EXPECT_THAT(verified.out, StartsWith("lawful audit verify: ok: 2 decisions (1 requests) in 1 "
                                       "file, seq 0..3; head 3:7afd523890937eaaa6506991a614ab8a"));

  const CommandResult found = Audit({"find", KeyFlag(), "--contact=c-0", old_log});
  EXPECT_EQ(found.exit_code, 0) << found.err;
  EXPECT_THAT(found.out, HasSubstr(R"("request_id":"r-v1",)"));
  EXPECT_THAT(found.out, HasSubstr(R"("evidence":"consents[0] id=anna@example.se",)"
                                   R"("record_id":"anna@example.se",)"));
  const CommandResult by_record = Audit({"find", KeyFlag(), "--record_id=c-1", old_log});
  EXPECT_EQ(by_record.exit_code, 0) << by_record.err;
  EXPECT_THAT(by_record.out, HasSubstr(R"("reason":"objection",)"));
  EXPECT_THAT(by_record.err, HasSubstr("1 decision about these records"));
}

}  // namespace
}  // namespace lawful::testing
