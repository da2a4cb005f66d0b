// The audit log's writing (lawful/audit.h): keys and their derivations, the line format and its
// escaping, the one session API (Begin, Append on any threads, Write, Wait), concurrent batches
// kept whole, and no contact id or record id in clear.
#include <algorithm>
#include <atomic>
#include <limits>
#include <map>
#include <thread>
#include <utility>

#include <filesystem>
#include <string>
#include <vector>
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"

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
// Keys and the format
// ---------------------------------------------------------------------------------------------

TEST(AuditKey, AcceptsHexOrRawAndRefusesShortKeys) {
  const std::string raw = absl::HexStringToBytes(kKeyHex);
  absl::StatusOr<Key> from_hex = Key::FromKeyFile(absl::StrCat(kKeyHex, "\n"), "k");
  absl::StatusOr<Key> from_raw = Key::FromKeyFile(raw, "k");
  ASSERT_TRUE(from_hex.ok()) << from_hex.status();
  ASSERT_TRUE(from_raw.ok()) << from_raw.status();
  EXPECT_EQ(from_hex->id(), from_raw->id());
  EXPECT_EQ(from_hex->Pseudonym("c-1"), from_raw->Pseudonym("c-1"));
  EXPECT_NE(TestKey().Pseudonym("c-1"), TestKey(std::string(64, 'a')).Pseudonym("c-1"));

  EXPECT_THAT(Key::FromKeyFile("", "k").status().message(), HasSubstr("is empty"));
  EXPECT_THAT(Key::FromKeyFile("abcd\n", "k").status().message(),
              HasSubstr("holds 4 hex digits (2 bytes); an audit key needs at least 32 bytes"));
  EXPECT_THAT(Key::FromKeyFile("short raw key!", "k").status().message(),
              HasSubstr("holds 14 bytes; an audit key needs at least 32"));
  EXPECT_FALSE(LoadKey("/nonexistent/audit.key").ok());
}

// The derivations are plain HMAC-SHA256, checked against OpenSSL's one-shot HMAC(), so that the
// log can be verified by other tools.
TEST(AuditKey, DerivationsArePlainHmacSha256) {
  const std::string master = absl::HexStringToBytes(kKeyHex);
  EXPECT_EQ(TestKey().id(),
            absl::BytesToHexString(OpenSslHmac(master, "lawful audit key id v1")).substr(0, 16));
  const std::string pseudonym_key = OpenSslHmac(master, "lawful audit pseudonym v1");
  // Pseudonyms and chain macs keep the first 128 bits (RFC 2104 §5).
  // Written in unpadded base64url: 22 characters.
  for (int i = 0; i < 1000; ++i) {
    const std::string id = absl::StrCat("c-", i);
    EXPECT_EQ(TestKey().Pseudonym(id),
              absl::WebSafeBase64Escape(OpenSslHmac(pseudonym_key, id).substr(0, 16)));
  }
  EXPECT_EQ(TestKey().Pseudonym("c-0001").size(), 22u);
}

// Ids of every length around a SHA-256 block (a short id is hashed in one block, and a decision
// line's two ids side by side), through Key::Pseudonym and through the log's lines: plain
// HMAC-SHA256, checked against OpenSSL's one-shot HMAC().
TEST(AuditKey, PseudonymsOfIdsOfEveryLengthArePlainHmacSha256) {
  const std::string pseudonym_key =
      OpenSslHmac(absl::HexStringToBytes(kKeyHex), "lawful audit pseudonym v1");
  const auto expected = [&](const std::string& id) {
    return absl::WebSafeBase64Escape(OpenSslHmac(pseudonym_key, id).substr(0, 16));
  };
  std::vector<std::string> contacts, records;
  for (size_t length = 0; length <= 130; ++length) {
    std::string contact(length, 'c'), record((length + 40) % 131, 'r');
    for (size_t i = 0; i < contact.size(); ++i) contact[i] = static_cast<char>('a' + (i * 7) % 26);
    for (size_t i = 0; i < record.size(); ++i) record[i] = static_cast<char>('A' + (i * 5) % 26);
    contacts.push_back(contact);
    records.push_back(record);
    EXPECT_EQ(TestKey().Pseudonym(contact), expected(contact)) << length;
  }
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  auto log = OpenOrDie(TestOptions(path));
  ASSERT_NE(log, nullptr);
  std::vector<DecisionRecord> decisions(contacts.size());
  for (size_t i = 0; i < contacts.size(); ++i) {
    decisions[i].contact_id = contacts[i];
    decisions[i].index = static_cast<int64_t>(i);
    decisions[i].outcome = "allow";
    decisions[i].evidence_field = "consents";
    decisions[i].evidence_id = records[i];
  }
  ASSERT_TRUE(CommitBatch(*log, TestRequest(), decisions).ok());
  const std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 2 + contacts.size());
  for (size_t i = 0; i < contacts.size(); ++i) {
    const std::string& line = lines[2 + i];
    EXPECT_THAT(line, HasSubstr(absl::StrCat(R"({"contact":")", expected(contacts[i]), R"(")")))
        << i;
    if (records[i].empty()) {
      EXPECT_THAT(line, Not(HasSubstr(R"("record":)"))) << i;
    } else {
      EXPECT_THAT(line, HasSubstr(absl::StrCat(R"("record":")", expected(records[i]), R"(")")))
          << i;
    }
  }
}

// The enums' names in records are the proto's short names, spelled as the log always has: an
// outcome or channel it does not know as "unspecified", no notice type as nothing.
TEST(AuditNames, AreTheShortNamesAsTheLogHasAlwaysSpelledThem) {
  const std::pair<lawful::v1::Outcome, absl::string_view> outcomes[] = {
      {lawful::v1::OUTCOME_ALLOW, "allow"},
      {lawful::v1::OUTCOME_DENY, "deny"},
      {lawful::v1::OUTCOME_ERROR, "error"},
      {lawful::v1::OUTCOME_UNSPECIFIED, "unspecified"},
      {static_cast<lawful::v1::Outcome>(77), "unspecified"},
      {static_cast<lawful::v1::Outcome>(-1), "unspecified"}};
  for (const auto& [outcome, word] : outcomes) {
    lawful::v1::Decision decision;
    decision.set_outcome(outcome);
    DecisionRecord record;
    RecordOf(decision, &record);
    EXPECT_EQ(record.outcome, word) << outcome;
  }
  const std::pair<lawful::v1::Channel, absl::string_view> channels[] = {
      {lawful::v1::CHANNEL_EMAIL, "email"},
      {lawful::v1::CHANNEL_SMS, "sms"},
      {lawful::v1::CHANNEL_POST, "post"},
      {lawful::v1::CHANNEL_PHONE, "phone"},
      {lawful::v1::CHANNEL_UNSPECIFIED, "unspecified"},
      {static_cast<lawful::v1::Channel>(77), "unspecified"}};
  for (const auto& [channel, name] : channels) EXPECT_EQ(ChannelName(channel), name) << channel;
  const std::pair<lawful::v1::NoticeType, absl::string_view> notice_types[] = {
      {lawful::v1::NOTICE_TYPE_CONTRACT, "contract"},
      {lawful::v1::NOTICE_TYPE_LEGAL_OBLIGATION, "legal_obligation"},
      {lawful::v1::NOTICE_TYPE_VITAL_INTEREST, "vital_interest"},
      {lawful::v1::NOTICE_TYPE_PUBLIC_TASK, "public_task"},
      {lawful::v1::NOTICE_TYPE_UNSPECIFIED, ""},
      {static_cast<lawful::v1::NoticeType>(77), ""}};
  for (const auto& [notice_type, name] : notice_types) {
    EXPECT_EQ(NoticeTypeName(notice_type), name) << notice_type;
  }
}

TEST(AuditHead, ParsesWhatItPrints) {
  const Head head{42, std::string(32, 'a')};
  absl::StatusOr<Head> parsed = ParseHead(head.ToString());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, head);
  EXPECT_FALSE(ParseHead("42").ok());
  EXPECT_FALSE(ParseHead("x:" + std::string(32, 'a')).ok());
  EXPECT_FALSE(ParseHead("42:" + std::string(64, 'a')).ok());
  EXPECT_FALSE(ParseHead("42:abc").ok());
}

TEST(AuditLog, WritesOneJsonLinePerDecisionWithEveryField) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  auto log = OpenOrDie(TestOptions(path));
  ASSERT_NE(log, nullptr);
  Batch batch("c", 2);
  ASSERT_TRUE(CommitBatch(*log, TestRequest(), batch.records).ok());

  const std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_THAT(lines[0], HasSubstr(absl::StrCat(R"({"event":"start","time":"2026-03-02T09:00:00Z",)",
                                               R"("log":"lawful audit v2","key":")", TestKey().id(),
                                               R"(","prev":")", std::string(32, '0'),
                                               R"(","seq":0,"mac":")")));
  EXPECT_THAT(
      lines[1],
      HasSubstr(R"({"event":"request","time":"2026-03-02T09:00:00Z",)"
                R"("caller":"CN=crm.example.com","request_id":"r-1","rule_set":"e0fd353695f7",)"
                R"("purpose":"newsletter","channel":"email","at":"2026-03-02T09:00:00Z",)"
                R"("decisions":2,"seq":1,"mac":")"));
  EXPECT_EQ(lines[3],
            absl::StrCat(R"({"contact":")", TestKey().Pseudonym("c-1"),
                         R"(","index":1,"outcome":"allow","reason":"consent",)",
                         R"("rule":"marketing.consent",)", R"("evidence":"consents[1]","record":")",
                         TestKey().Pseudonym("k-17"), R"(","facts":")", batch.records[1].facts,
                         R"(","seq":3,"mac":")", log->head().mac, R"("})"));
  EXPECT_EQ(log->head().seq, 3u);

  // Each mac is the first 128 bits of HMAC-SHA256(chain key, the line up to `,"mac":"` || the
  // previous line's mac), so that other tools can check the chain: here with OpenSSL's HMAC().
  const std::string chain_key =
      OpenSslHmac(absl::HexStringToBytes(kKeyHex), "lawful audit chain v1");
  const auto mac_of = [](const std::string& line) { return line.substr(line.size() - 34, 32); };
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::string body = lines[i].substr(0, lines[i].size() - 42);  // before ,"mac":"
    EXPECT_EQ(mac_of(lines[i]),
              absl::BytesToHexString(
                  OpenSslHmac(chain_key, body + absl::HexStringToBytes(mac_of(lines[i - 1]))))
                  .substr(0, 32))
        << i;
  }
}

TEST(AuditLog, EscapesStringsSoEveryLineStaysOneJsonObject) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  auto log = OpenOrDie(TestOptions(path));
  ASSERT_NE(log, nullptr);
  Batch batch("c", 1);
  const std::string nasty =
      "a\"b\\c\nd\te\x01"
      "f\xff"
      "g\xc3\xa9";  // invalid byte, then é
  batch.records[0].reason = nasty;
  batch.records[0].evidence_field = "consents";
  batch.records[0].evidence_index = 1;
  batch.records[0].evidence_id = "id\"with quote";
  Request request = TestRequest();
  request.caller = "O=\"Acme\"\r\n";
  ASSERT_TRUE(CommitBatch(*log, request, batch.records).ok());
  const std::vector<std::string> lines = Lines(path);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_THAT(lines[2], HasSubstr(R"("reason":"a\"b\\c\nd\te\u0001f)"
                                  "\xef\xbf\xbd"
                                  "g\xc3\xa9\""));
  EXPECT_THAT(lines[1], HasSubstr(R"("caller":"O=\"Acme\"\r\n")"));
  EXPECT_THAT(lines[2], HasSubstr(absl::StrCat(R"("evidence":"consents[1]","record":")",
                                               TestKey().Pseudonym("id\"with quote"), R"(")")));
  EXPECT_THAT(lines[2], Not(HasSubstr("with quote")));

  absl::StatusOr<FindResult> found = Find(TestKey(), "c-0", {path.string()});
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->records.size(), 1u);
  EXPECT_EQ(found->records[0].reason,
            "a\"b\\c\nd\te\x01"
            "f\xef\xbf\xbd"
            "g\xc3\xa9");
  EXPECT_EQ(found->records[0].caller, "O=\"Acme\"\r\n");
}

// The escaper copies plain runs eight bytes at a time: every byte value, at every offset of a
// word and past it, in strings of every length around a word, reads back as written (a lone
// byte >= 0x80 is invalid UTF-8 and reads back as U+FFFD), and every line stays one JSON object.
TEST(AuditLog, EscapesEveryByteAtEveryOffsetOfAWord) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  auto log = OpenOrDie(TestOptions(path));
  ASSERT_NE(log, nullptr);
  std::vector<std::string> reasons, expected;
  for (int byte = 0; byte < 256; ++byte) {
    for (size_t length : {1, 7, 8, 9, 16, 17, 23}) {
      for (size_t at = 0; at < length; ++at) {
        std::string reason(length, 'x');
        reason[at] = static_cast<char>(byte);
        reasons.push_back(reason);
        expected.push_back(byte < 0x80 ? reason
                                       : absl::StrCat(reason.substr(0, at), "\xef\xbf\xbd",
                                                      reason.substr(at + 1)));
      }
    }
  }
  std::vector<DecisionRecord> records(reasons.size());
  for (size_t i = 0; i < reasons.size(); ++i) {
    records[i].contact_id = "c";
    records[i].index = static_cast<int64_t>(i);
    records[i].outcome = "deny";
    records[i].reason = reasons[i];
  }
  ASSERT_TRUE(CommitBatch(*log, TestRequest(), records).ok());
  absl::StatusOr<FindResult> found = Find(TestKey(), "c", {path.string()});
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->report.ok()) << found->report.problem->ToString();
  ASSERT_EQ(found->records.size(), reasons.size());
  for (size_t i = 0; i < reasons.size(); ++i) {
    EXPECT_EQ(found->records[i].reason, expected[i]) << absl::CEscape(reasons[i]);
  }
}

// A line is written into memory sized for its longest form: every field at its worst (control
// bytes, six bytes each once escaped) and long enough to need more than the usual room, in the
// request line and in the decision line, reads back whole (ASan checks the bounds).
TEST(AuditLog, FieldsOfEveryLengthAtTheirLongestEscapedFormReadBackWhole) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  auto log = OpenOrDie(TestOptions(path));
  ASSERT_NE(log, nullptr);
  for (size_t length : {0, 1, 42, 43, 63, 64, 65, 341, 1000, 5000}) {
    const std::string worst(length, '\x01');
    DecisionRecord d;
    d.contact_id = worst;
    d.index = std::numeric_limits<int64_t>::min();
    d.outcome = worst;
    d.reason = worst;
    d.rule_policy = worst;
    d.rule = worst;
    d.evidence_field = worst;
    d.evidence_index = std::numeric_limits<int64_t>::min();
    d.evidence_id = worst;
    d.facts = worst;
    Request request = TestRequest(worst);
    request.caller = worst;
    ASSERT_TRUE(CommitBatch(*log, request, {d}).ok()) << length;
    absl::StatusOr<FindResult> found = Find(TestKey(), worst, {path.string()});
    ASSERT_TRUE(found.ok()) << found.status();
    ASSERT_TRUE(found->report.ok()) << found->report.problem->ToString();
    ASSERT_EQ(found->records.size(), 1u) << length;
    const Record& r = found->records[0];
    EXPECT_EQ(r.index, std::numeric_limits<int64_t>::min());
    EXPECT_EQ(r.reason, worst) << length;
    EXPECT_EQ(r.rule, length == 0 ? "" : absl::StrCat(worst, ".", worst)) << length;
    EXPECT_EQ(r.facts, worst) << length;
    EXPECT_EQ(r.caller, worst) << length;
    EXPECT_EQ(r.request_id, worst) << length;
    if (length > 0) {
      EXPECT_EQ(r.evidence, absl::StrCat(worst, "[", std::numeric_limits<int64_t>::min(), "]"));
      // The record id is the contact id here: the same pseudonym, named by Find.
      EXPECT_EQ(r.record, TestKey().Pseudonym(worst)) << length;
      EXPECT_EQ(r.record_id, worst) << length;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The session
// ---------------------------------------------------------------------------------------------

// A batch's parts appended on threads of their own, all at once, read as the batch appended by
// the calling thread alone, under the same key and clock.
TEST(AuditLog, ABatchFormattedOnLentThreadsReadsAsOneFormattedAlone) {
  TempDir dir;
  const Batch batch("c", 5000);
  const auto record = [&](size_t i, DecisionRecord* out) { *out = batch.records[i]; };
  constexpr size_t kPart = Log::Session::kPartRecords;
  std::vector<std::string> texts;
  for (const bool lent : {false, true}) {
    const fs::path path = dir.path() / (lent ? "lent.jsonl" : "alone.jsonl");
    auto log = OpenOrDie(TestOptions(path));
    ASSERT_NE(log, nullptr);
    for (const size_t size : {batch.records.size(), size_t{3}}) {
      Log::Session session = log->Begin(TestRequest(), size);
      if (lent) {
        std::vector<std::thread> threads;
        for (size_t first = 0; first < size; first += kPart) {
          threads.emplace_back(
              [&, first] { session.Append(first, std::min(size, first + kPart), record); });
        }
        for (std::thread& thread : threads) thread.join();
      } else {
        session.Append(0, size, record);
      }
      ASSERT_TRUE(session.Commit().ok());
    }
    texts.push_back(ReadFile(path));
  }
  EXPECT_EQ(texts[0], texts[1]);
}

// Nothing reaches the file before Write: a session dropped before it, or one whose Write finds a
// part not appended, records nothing, and the log goes on with the next session (which reuses
// the dropped one's buffers).
TEST(AuditLog, ASessionWritesNothingBeforeWriteNorWhenDroppedOrIncomplete) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  auto log = OpenOrDie(TestOptions(path));
  ASSERT_NE(log, nullptr);
  const Batch batch("c", 1000);
  const auto record = [&](size_t i, DecisionRecord* out) { *out = batch.records[i]; };
  const std::string started = ReadFile(path);  // the start line
  {
    Log::Session dropped = log->Begin(TestRequest("r-dropped"), 1000);
    dropped.Append(0, 1000, record);
    EXPECT_EQ(ReadFile(path), started);
  }
  EXPECT_EQ(ReadFile(path), started);

  Log::Session incomplete = log->Begin(TestRequest("r-incomplete"), 1000);
  incomplete.Append(0, Log::Session::kPartRecords, record);
  const absl::Status refused = incomplete.Write();
  EXPECT_EQ(refused.code(), absl::StatusCode::kFailedPrecondition) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("records 512 to 999 of the batch were not appended"));
  EXPECT_EQ(incomplete.Wait(), refused) << "Wait reports the failed Write";
  EXPECT_EQ(incomplete.Write().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ReadFile(path), started);

  // Wait before Write is a caller's mistake, refused; an empty session writes no line at all.
  Log::Session early = log->Begin(TestRequest("r-early"), 1);
  EXPECT_EQ(early.Wait().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(log->Begin(TestRequest("r-empty"), 0).Commit().ok());
  EXPECT_EQ(ReadFile(path), started);

  ASSERT_TRUE(CommitBatch(*log, TestRequest("r-2"), batch.records).ok());
  const VerifyReport report = ExpectVerifies(path.string());
  EXPECT_EQ(report.requests, 1u);
  EXPECT_EQ(report.decisions, 1000u);
  EXPECT_THAT(ReadFile(path), Not(HasSubstr("r-dropped")));
}

// A range that is not whole parts, or an Append after Write, would corrupt a batch another
// thread may be formatting: it stops the process with a message instead.
TEST(AuditLogDeathTest, AppendingPartsOfPartsOrAfterWriteAborts) {
  TempDir dir;
  auto log = OpenOrDie(TestOptions(dir.path() / "audit.jsonl"));
  ASSERT_NE(log, nullptr);
  const Batch batch("c", 600);
  const auto record = [&](size_t i, DecisionRecord* out) { *out = batch.records[i]; };
  Log::Session session = log->Begin(TestRequest(), 600);
  EXPECT_DEATH(session.Append(1, 512, record), "not whole parts of 512");
  EXPECT_DEATH(session.Append(0, 100, record), "not whole parts of 512");
  EXPECT_DEATH(session.Append(512, 601, record), "not whole parts of 512");
  session.Append(0, 600, record);
  ASSERT_TRUE(session.Commit().ok());
  EXPECT_DEATH(session.Append(0, 600, record), "after Write");
}

// ---------------------------------------------------------------------------------------------
// Concurrency and privacy
// ---------------------------------------------------------------------------------------------

TEST(AuditLog, ConcurrentBatchesStayWholeAndInOrder) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  auto log = OpenOrDie(TestOptions(path));
  ASSERT_NE(log, nullptr);
  constexpr int kThreads = 4, kBatches = 25, kPerBatch = 40;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        const std::string request_id = absl::StrCat("t", t, "-b", b);
        Batch batch(request_id, kPerBatch);
        EXPECT_TRUE(CommitBatch(*log, TestRequest(request_id), batch.records).ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  log.reset();

  const VerifyReport report = ExpectVerifies(path.string());
  EXPECT_EQ(report.decisions, static_cast<uint64_t>(kThreads * kBatches * kPerBatch));
  // Each batch is a request line followed by its decisions, indexes 0..kPerBatch-1 in order.
  std::map<std::string, int> seen_batches;
  int next_index = kPerBatch;
  const std::vector<std::string> lines = Lines(path);
  for (size_t i = 1; i < lines.size(); ++i) {
    if (absl::StrContains(lines[i], R"("event":"request")")) {
      ASSERT_EQ(next_index, kPerBatch) << "a batch cut short before line " << i + 1;
      const size_t start = lines[i].find("\"request_id\":\"") + 14;
      const std::string request_id = lines[i].substr(start, lines[i].find('"', start) - start);
      ASSERT_EQ(seen_batches[request_id]++, 0) << request_id << " written twice";
      next_index = 0;
      continue;
    }
    ASSERT_LT(next_index, kPerBatch) << "line " << i + 1 << " after its batch's last decision";
    ASSERT_THAT(lines[i], HasSubstr(absl::StrCat("\"index\":", next_index++, ",")));
  }
  EXPECT_EQ(seen_batches.size(), static_cast<size_t>(kThreads * kBatches));
}

TEST(AuditLog, NoContactIdAppearsInClear) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  Options options = TestOptions(path);
  options.max_file_bytes = 2000;
  std::string notices;
  options.notice = [&](absl::string_view n) { absl::StrAppend(&notices, n, "\n"); };
  const std::vector<std::string> ids = {"anna.schmidt@example.com", "c-0001", "+4915112345678",
                                        "CRM-778812"};
  {
    auto log = OpenOrDie(options);
    for (int round = 0; round < 5; ++round) {
      std::vector<DecisionRecord> records;
      for (size_t i = 0; i < ids.size(); ++i) {
        DecisionRecord d;
        d.contact_id = ids[i];
        d.index = static_cast<int64_t>(i);
        d.outcome = "allow";
        records.push_back(d);
      }
      ASSERT_TRUE(CommitBatch(*log, TestRequest(), records).ok());
    }
  }
  std::string everything = notices;
  absl::StatusOr<std::vector<std::string>> files = ChainFiles({path.string()});
  ASSERT_TRUE(files.ok());
  ASSERT_GT(files->size(), 1u);
  for (const std::string& file : *files) everything += ReadFile(file);
  for (const std::string& id : ids) {
    EXPECT_THAT(everything, Not(HasSubstr(id)));
    EXPECT_THAT(everything, HasSubstr(TestKey().Pseudonym(id)));
  }
}

TEST(AuditLog, NoRecordIdAppearsInClearOnlyItsPseudonym) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  Options options = TestOptions(path);
  options.max_file_bytes = 1500;
  std::string notices;
  options.notice = [&](absl::string_view n) { absl::StrAppend(&notices, n, "\n"); };
  // Record ids as callers fill them: an e-mail address, a phone number, the contact's own id.
  const std::vector<std::string> record_ids = {"anna@example.se", "+46701234567", "c-0001"};
  {
    auto log = OpenOrDie(options);
    for (int round = 0; round < 5; ++round) {
      std::vector<DecisionRecord> records;
      for (size_t i = 0; i < record_ids.size(); ++i) {
        records.push_back(RelyingOn("c-0001", static_cast<int64_t>(i), record_ids[i], i == 1));
      }
      ASSERT_TRUE(CommitBatch(*log, TestRequest(), records).ok());
    }
  }
  std::string everything = notices;
  absl::StatusOr<std::vector<std::string>> files = ChainFiles({path.string()});
  ASSERT_TRUE(files.ok());
  ASSERT_GT(files->size(), 1u);
  for (const std::string& file : *files) everything += ReadFile(file);
  for (const std::string& id : record_ids) {
    EXPECT_THAT(everything, Not(HasSubstr(id)));
    EXPECT_THAT(everything,
                HasSubstr(absl::StrCat(R"("record":")", TestKey().Pseudonym(id), R"(")")));
  }
  EXPECT_THAT(everything, Not(HasSubstr("anna")));
  EXPECT_THAT(everything, Not(HasSubstr("example.se")));
  ExpectVerifies(path.string());
}

}  // namespace
}  // namespace lawful::audit
