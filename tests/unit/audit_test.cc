// The audit log (lawful/audit.h): the chain names each kind of tampering, torn tails are cut on
// reopen, rotation and retention keep the chain, write failures (injected, and real ones: a file
// size limit, a full tmpfs, a read-only mount) fail the append without losing what was
// acknowledged, concurrent batches stay whole, no contact id or record id is written in clear, and
// logs written in the previous format (version 1) still verify and answer access requests.
#include "lawful/audit.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/testkit.h"

namespace lawful::audit {
namespace {

namespace fs = std::filesystem;
using ::lawful::testkit::ReadFile;
using ::lawful::testkit::TempDir;
using ::lawful::testkit::WriteFile;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kKeyHex[] = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

Key TestKey(absl::string_view hex = kKeyHex) {
  absl::StatusOr<Key> key = Key::FromKeyFile(hex, "test.key");
  EXPECT_TRUE(key.ok()) << key.status();
  return *key;
}

const absl::Time kDecidedAt = absl::FromUnixSeconds(1772442000);  // 2026-03-02T09:00:00Z

// Decisions about contacts `<prefix>-0`, `<prefix>-1`, …; owns the strings the records view.
struct Batch {
  Batch(const std::string& prefix, int size) {
    for (int i = 0; i < size; ++i) ids.push_back(absl::StrCat(prefix, "-", i));
    for (int i = 0; i < size; ++i) {
      DecisionRecord d;
      d.contact_id = ids[i];
      d.index = i;
      d.outcome = i % 3 == 0 ? "deny" : "allow";
      d.reason = i % 3 == 0 ? "no_lawful_basis" : "consent";
      d.rule_policy = "marketing";
      d.rule = i % 3 == 0 ? "no_lawful_basis" : "consent";
      if (i % 3 != 0) {
        d.evidence_field = "consents";
        d.evidence_index = i % 2;
        d.evidence_id = "k-17";
      }
      d.facts = "3f2a9c0b1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";
      records.push_back(d);
    }
  }
  std::vector<std::string> ids;
  std::vector<DecisionRecord> records;
};

Request TestRequest(absl::string_view request_id = "r-1") {
  Request request;
  request.time = kDecidedAt;
  request.caller = "CN=crm.example.com";
  request.request_id = request_id;
  request.rule_set = "e0fd353695f7";
  request.purpose = "newsletter";
  request.channel = "email";
  request.at = kDecidedAt;
  return request;
}

// OpenSSL's one-shot HMAC-SHA256, to check the log's macs and keys against.
std::string OpenSslHmac(absl::string_view key, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
  return std::string(reinterpret_cast<char*>(out), length);
}

Options TestOptions(const fs::path& path) {
  Options options;
  options.path = path.string();
  options.key = TestKey();
  options.clock = [] { return kDecidedAt; };
  return options;
}

std::unique_ptr<Log> OpenOrDie(Options options) {
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(std::move(options));
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? std::move(*log) : nullptr;
}

// Verify on the chain of `path`, which must pass.
VerifyReport ExpectVerifies(const std::string& path) {
  absl::StatusOr<VerifyReport> report = Verify(TestKey(), {path});
  EXPECT_TRUE(report.ok()) << report.status();
  if (!report.ok()) return {};
  EXPECT_TRUE(report->ok()) << report->problem->ToString();
  return *report;
}

// A log at `path` holding one batch of `size` decisions about c-0, c-1, …, closed again.
void WriteOneBatch(const fs::path& path, int size) {
  auto log = OpenOrDie(TestOptions(path));
  ASSERT_NE(log, nullptr);
  Batch batch("c", size);
  ASSERT_TRUE(log->Append(TestRequest(), batch.records).ok());
}

std::vector<std::string> Lines(const fs::path& path) {
  std::vector<std::string> lines = absl::StrSplit(ReadFile(path), '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

void WriteLines(const fs::path& path, const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) absl::StrAppend(&text, line, "\n");
  WriteFile(path, text);
}

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
  ASSERT_TRUE(log->Append(TestRequest(), decisions).ok());
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
  ASSERT_TRUE(log->Append(TestRequest(), batch.records).ok());

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
  ASSERT_TRUE(log->Append(request, batch.records).ok());
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
  ASSERT_TRUE(log->Append(TestRequest(), records).ok());
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
    ASSERT_TRUE(log->Append(request, {d}).ok()) << length;
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

// With threads lent, a batch's records are formatted in parts on them; the log reads the same
// as one written by the calling thread alone, under the same key and clock.
TEST(AuditLog, ABatchFormattedOnLentThreadsReadsAsOneFormattedAlone) {
  TempDir dir;
  const Batch batch("c", 5000);
  std::atomic<int> ranges{0};
  const ParallelFor parallel_for = [&](size_t n, const std::function<void(size_t, size_t)>& body) {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        body(i, i + 1);
        ranges.fetch_add(1);
      });
    }
    for (std::thread& t : threads) t.join();
  };
  std::vector<std::string> texts;
  for (const ParallelFor* lent : {static_cast<const ParallelFor*>(nullptr), &parallel_for}) {
    const fs::path path = dir.path() / (lent == nullptr ? "alone.jsonl" : "lent.jsonl");
    auto log = OpenOrDie(TestOptions(path));
    ASSERT_NE(log, nullptr);
    ASSERT_TRUE(log->Append(TestRequest(), batch.records, lent).ok());
    ASSERT_TRUE(
        log->Append(TestRequest(), absl::MakeConstSpan(batch.records).subspan(0, 3), lent).ok());
    texts.push_back(ReadFile(path));
  }
  EXPECT_GT(ranges.load(), 1);
  EXPECT_EQ(texts[0], texts[1]);
}

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
      ASSERT_TRUE(log->Append(TestRequest(), batch.records).ok());
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
      EXPECT_TRUE(log->Append(TestRequest(absl::StrCat("r-", i)), batch.records).ok());
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
         forger->Append(TestRequest(), batch.records).IgnoreError();
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
  ASSERT_TRUE(log->Append(TestRequest(), more.records).ok());
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
      ASSERT_TRUE(log->Append(TestRequest(), batch.records).ok());
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
    ASSERT_TRUE(log->Append(TestRequest(), batch.records).ok());
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
  ASSERT_TRUE(log->Append(TestRequest(), batch.records).ok());
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

// ---------------------------------------------------------------------------------------------
// Write failures
// ---------------------------------------------------------------------------------------------

// Injects errno values into the real file system's calls.
struct Faults {
  int write_errno = 0;
  size_t written_before_failing = 0;  // a partial write: bytes that reach the file first
  int sync_errno = 0;
  int truncate_errno = 0;
  int open_errno = 0;
  std::function<void()> before_sync =
      nullptr;  // e.g. to hold a sync while other batches are written
};

class FaultyFile : public AppendFile {
 public:
  FaultyFile(std::unique_ptr<AppendFile> real, Faults* faults, std::string path)
      : real_(std::move(real)), faults_(faults), path_(std::move(path)) {}
  absl::Status Append(absl::string_view data) override {
    if (faults_->write_errno == 0) return real_->Append(data);
    real_->Append(data.substr(0, std::min(data.size(), faults_->written_before_failing)))
        .IgnoreError();
    return absl::ErrnoToStatus(faults_->write_errno, "write " + path_);
  }
  absl::Status Sync() override {
    if (faults_->before_sync) faults_->before_sync();
    if (faults_->sync_errno != 0)
      return absl::ErrnoToStatus(faults_->sync_errno, "fdatasync " + path_);
    return real_->Sync();
  }
  absl::Status Truncate(uint64_t size) override {
    if (faults_->truncate_errno != 0) {
      return absl::ErrnoToStatus(faults_->truncate_errno, "ftruncate " + path_);
    }
    return real_->Truncate(size);
  }

 private:
  std::unique_ptr<AppendFile> real_;
  Faults* faults_;
  std::string path_;
};

class FaultyFileSystem : public FileSystem {
 public:
  Faults faults;
  absl::StatusOr<std::unique_ptr<ReadableFile>> OpenForRead(const std::string& path) override {
    return real().OpenForRead(path);
  }
  absl::StatusOr<std::unique_ptr<AppendFile>> OpenForAppend(const std::string& path) override {
    if (faults.open_errno != 0) return absl::ErrnoToStatus(faults.open_errno, "open " + path);
    absl::StatusOr<std::unique_ptr<AppendFile>> file = real().OpenForAppend(path);
    if (!file.ok()) return file.status();
    return std::make_unique<FaultyFile>(std::move(*file), &faults, path);
  }
  absl::Status Rename(const std::string& from, const std::string& to) override {
    return real().Rename(from, to);
  }
  absl::Status Remove(const std::string& path) override { return real().Remove(path); }
  absl::Status SyncDir(const std::string& dir) override { return real().SyncDir(dir); }
  absl::StatusOr<std::vector<std::string>> List(const std::string& dir) override {
    return real().List(dir);
  }
  absl::StatusOr<absl::Time> ModTime(const std::string& path) override {
    return real().ModTime(path);
  }

 private:
  static FileSystem& real() { return PosixFileSystem(); }
};

// Append's two halves: batches begun (written) before a commit are synced by its one fdatasync;
// a commit after a failed sync fails, so a caller that did other work in between still answers
// UNAVAILABLE rather than without records.
TEST(AuditLog, BeginThenCommitSyncsEveryBatchBegunBeforeAndFailsWhenTheSyncFails) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  FaultyFileSystem file_system;
  int syncs = 0;
  file_system.faults.before_sync = [&] { ++syncs; };
  Options options = TestOptions(path);
  options.file_system = &file_system;
  auto log = OpenOrDie(options);
  ASSERT_NE(log, nullptr);
  const Batch a("a", 3), b("b", 4);
  const auto begin = [&](const Batch& batch) {
    return log->Begin(TestRequest(), batch.records.size(),
                      [&](size_t i, DecisionRecord* out) { *out = batch.records[i]; });
  };
  syncs = 0;
  absl::StatusOr<Log::Pending> first = begin(a);
  absl::StatusOr<Log::Pending> second = begin(b);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(syncs, 0) << "Begin writes, it does not sync";
  EXPECT_EQ(Lines(path).size(), 1u + 4u + 5u);  // start, then both batches, written
  EXPECT_TRUE(log->Commit(*first).ok());
  EXPECT_TRUE(log->Commit(*second).ok());
  EXPECT_EQ(syncs, 1) << "one fdatasync covered both batches";

  absl::StatusOr<Log::Pending> third = begin(a);
  ASSERT_TRUE(third.ok());
  file_system.faults.sync_errno = EIO;
  const absl::Status failed = log->Commit(*third);
  EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable) << failed;
  EXPECT_THAT(failed.message(), HasSubstr("the 3 decisions were not recorded"));
  file_system.faults.sync_errno = 0;
  ASSERT_TRUE(log->Append(TestRequest(), b.records).ok());  // reopens, cutting what was not synced
  absl::StatusOr<VerifyReport> report = Verify(TestKey(), {path.string()});
  ASSERT_TRUE(report.ok() && report->ok());
  EXPECT_EQ(report->decisions, 3u + 4u + 4u);
}

struct FailureCase {
  const char* name;
  Faults faults;
  const char* message;
};

TEST(AuditLog, AFailedWriteOrSyncFailsTheAppendAndLosesNothingAcknowledged) {
  const FailureCase cases[] = {
      {"disk full during the write",
       {.write_errno = ENOSPC, .written_before_failing = 700},
       "No space left on device"},
      {"read-only file system", {.write_errno = EROFS}, "Read-only file system"},
      {"I/O error during the write",
       {.write_errno = EIO, .written_before_failing = 10},
       "Input/output error"},
      {"I/O error at fdatasync", {.sync_errno = EIO}, "fdatasync"},
      {"disk full at fdatasync", {.sync_errno = ENOSPC}, "No space left on device"},
      {"partial write that cannot be cut off",
       {.write_errno = ENOSPC, .written_before_failing = 900, .truncate_errno = EIO},
       "No space left on device"},
  };
  for (const FailureCase& c : cases) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    const fs::path path = dir.path() / "audit.jsonl";
    FaultyFileSystem file_system;
    Options options = TestOptions(path);
    options.file_system = &file_system;
    std::vector<std::string> notices;
    options.notice = [&](absl::string_view n) { notices.emplace_back(n); };
    auto log = OpenOrDie(options);
    ASSERT_NE(log, nullptr);

    Batch before("before", 5), failing("failing", 5), after("after", 5);
    ASSERT_TRUE(log->Append(TestRequest(), before.records).ok());
    file_system.faults = c.faults;
    const absl::Status failed = log->Append(TestRequest(), failing.records);
    EXPECT_EQ(failed.code(), absl::StatusCode::kUnavailable) << failed;
    EXPECT_THAT(failed.message(), HasSubstr(c.message));
    EXPECT_THAT(failed.message(), HasSubstr("the 5 decisions were not recorded"));
    // While the disk still fails, so does every append.
    EXPECT_EQ(log->Append(TestRequest(), failing.records).code(), absl::StatusCode::kUnavailable);

    file_system.faults = {};
    ASSERT_TRUE(log->Append(TestRequest(), after.records).ok());
    log.reset();

    const VerifyReport report = ExpectVerifies(path.string());
    EXPECT_EQ(report.decisions, 10u);
    for (const char* who : {"before-0", "before-4", "after-0", "after-4"}) {
      EXPECT_EQ(Find(TestKey(), who, {path.string()})->records.size(), 1u) << who;
    }
    EXPECT_EQ(Find(TestKey(), "failing-0", {path.string()})->records.size(), 0u);
  }
}

// Group commit: a batch written while another's fdatasync runs waits for the next sync; when the
// running one fails, neither batch is acknowledged, and both are cut when the log reopens.
TEST(AuditLog, AFailedSyncFailsEveryBatchWaitingForItAndKeepsTheOnesBefore) {
  for (const bool sync_fails : {true, false}) {
    SCOPED_TRACE(sync_fails ? "the held sync fails" : "the held sync succeeds");
    TempDir dir;
    const fs::path path = dir.path() / "audit.jsonl";
    FaultyFileSystem file_system;
    Options options = TestOptions(path);
    options.file_system = &file_system;
    auto log = OpenOrDie(options);
    ASSERT_NE(log, nullptr);
    Batch before("before", 3), first("first", 3), second("second", 3), after("after", 3);
    ASSERT_TRUE(log->Append(TestRequest(), before.records).ok());

    std::promise<void> entered, release;
    std::atomic<bool> held{false};
    file_system.faults.before_sync = [&] {
      if (held.exchange(true)) return;
      entered.set_value();
      release.get_future().wait();
    };
    absl::Status first_status, second_status;
    std::thread first_thread(
        [&] { first_status = log->Append(TestRequest("r-first"), first.records); });
    entered.get_future().wait();  // the first batch is written and its sync is running
    std::thread second_thread(
        [&] { second_status = log->Append(TestRequest("r-second"), second.records); });
    for (int i = 0; i < 500 && !absl::StrContains(ReadFile(path), "r-second"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_THAT(ReadFile(path), HasSubstr("r-second"));  // written, now waiting for a sync
    if (sync_fails) file_system.faults.sync_errno = EIO;
    release.set_value();
    first_thread.join();
    second_thread.join();
    file_system.faults = {};

    if (sync_fails) {
      EXPECT_EQ(first_status.code(), absl::StatusCode::kUnavailable) << first_status;
      EXPECT_EQ(second_status.code(), absl::StatusCode::kUnavailable) << second_status;
    } else {
      EXPECT_TRUE(first_status.ok()) << first_status;
      EXPECT_TRUE(second_status.ok()) << second_status;
    }
    ASSERT_TRUE(log->Append(TestRequest(), after.records).ok());
    log.reset();
    const VerifyReport report = ExpectVerifies(path.string());
    EXPECT_EQ(report.decisions, sync_fails ? 6u : 12u);
    for (const char* who : {"before-0", "after-2"}) {
      EXPECT_EQ(Find(TestKey(), who, {path.string()})->records.size(), 1u) << who;
    }
    for (const char* who : {"first-0", "second-2"}) {
      EXPECT_EQ(Find(TestKey(), who, {path.string()})->records.size(), sync_fails ? 0u : 1u) << who;
    }
  }
}

TEST(AuditLog, FailsToOpenWhenTheFileCannotBeOpenedForWriting) {
  TempDir dir;
  FaultyFileSystem file_system;
  file_system.faults.open_errno = EROFS;
  Options options = TestOptions(dir.path() / "audit.jsonl");
  options.file_system = &file_system;
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(options);
  ASSERT_FALSE(log.ok());
  EXPECT_THAT(log.status().message(), HasSubstr("Read-only file system"));
}

// Runs `body` in a child process (for setrlimit and mount namespaces) and returns its exit code;
// the child's stderr is the test's.
int RunInChild(const std::function<int()>& body) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

constexpr int kSkip = 77;

#define CHILD_CHECK(condition, ...)                                           \
  do {                                                                        \
    if (!(condition)) {                                                       \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #condition, \
                   absl::StrCat(__VA_ARGS__).c_str());                        \
      return 1;                                                               \
    }                                                                         \
  } while (false)

// Appends batches of 20 until an append fails; returns how many decisions were acknowledged.
int64_t AppendUntilFailure(Log& log, absl::Status* failure) {
  int64_t acknowledged = 0;
  for (int i = 0; i < 100000; ++i) {
    Batch batch(absl::StrCat("b", i), 20);
    *failure = log.Append(TestRequest(), batch.records);
    if (!failure->ok()) break;
    acknowledged += 20;
  }
  return acknowledged;
}

// A real full disk, as the kernel reports it to a process over its file size limit: write()
// returns EFBIG once SIGXFSZ is ignored.
TEST(AuditLogOnDisk, AFileSizeLimitFailsTheAppendAndKeepsWhatWasAcknowledged) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  const int code = RunInChild([&]() -> int {
    signal(SIGXFSZ, SIG_IGN);
    auto log = OpenOrDie(TestOptions(path));
    CHILD_CHECK(log != nullptr, "open");
    const rlimit limit{64 * 1024, 64 * 1024};
    CHILD_CHECK(setrlimit(RLIMIT_FSIZE, &limit) == 0, std::strerror(errno));
    absl::Status failure;
    const int64_t acknowledged = AppendUntilFailure(*log, &failure);
    CHILD_CHECK(failure.code() == absl::StatusCode::kUnavailable, failure.ToString());
    CHILD_CHECK(absl::StrContains(failure.message(), "File too large"), failure.ToString());
    CHILD_CHECK(acknowledged > 0, "nothing fitted");
    CHILD_CHECK(fs::file_size(path) <= 64 * 1024, "the limit did not hold");
    log.reset();
    absl::StatusOr<VerifyReport> report = Verify(TestKey(), {path.string()});
    CHILD_CHECK(report.ok() && report->ok(), report.ok() ? report->problem->ToString() : "");
    CHILD_CHECK(static_cast<int64_t>(report->decisions) == acknowledged, report->decisions, " vs ",
                acknowledged);
    return 0;
  });
  EXPECT_EQ(code, 0);
}

// Mounts a tmpfs of `size` at `dir` in a mount namespace of the calling (child) process, so that
// it disappears with the process. False (with the reason on stderr) where that is not allowed.
bool MountTmpfs(const fs::path& dir, const char* options) {
  if (unshare(CLONE_NEWNS) != 0 ||
      mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
      mount("tmpfs", dir.c_str(), "tmpfs", 0, options) != 0) {
    std::fprintf(stderr, "cannot mount a tmpfs here (%s): skipped\n", std::strerror(errno));
    return false;
  }
  return true;
}

TEST(AuditLogOnDisk, AFullTmpfsFailsTheAppendAndKeepsWhatWasAcknowledged) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  const int code = RunInChild([&]() -> int {
    if (!MountTmpfs(dir.path(), "size=64k")) return kSkip;
    auto log = OpenOrDie(TestOptions(path));
    CHILD_CHECK(log != nullptr, "open");
    absl::Status failure;
    const int64_t acknowledged = AppendUntilFailure(*log, &failure);
    CHILD_CHECK(failure.code() == absl::StatusCode::kUnavailable, failure.ToString());
    CHILD_CHECK(absl::StrContains(failure.message(), "No space left on device"),
                failure.ToString());
    CHILD_CHECK(acknowledged > 0, "nothing fitted");
    // Still full: appends keep failing, and keep nothing half-written.
    Batch batch("late", 20);
    CHILD_CHECK(!log->Append(TestRequest(), batch.records).ok(), "append on a full disk");
    log.reset();
    absl::StatusOr<VerifyReport> report = Verify(TestKey(), {path.string()});
    CHILD_CHECK(report.ok() && report->ok(), report.ok() ? report->problem->ToString() : "");
    CHILD_CHECK(static_cast<int64_t>(report->decisions) == acknowledged, report->decisions, " vs ",
                acknowledged);
    // Reopening a full disk's log needs no space: nothing was torn.
    CHILD_CHECK(Log::Open(TestOptions(path)).ok(), "reopen");
    return 0;
  });
  if (code == kSkip) GTEST_SKIP() << "no tmpfs mounts here";
  EXPECT_EQ(code, 0);
}

// Root ignores file modes, so a read-only disk is a read-only mount. Linux refuses to remount
// read-only while a file is open for writing, so this covers opening a log on a read-only disk;
// EROFS in the middle of appending is covered by the injected faults above.
TEST(AuditLogOnDisk, AReadOnlyMountFailsTheOpenAndTheLogStillVerifies) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  const int code = RunInChild([&]() -> int {
    if (!MountTmpfs(dir.path(), "size=1m")) return kSkip;
    {
      auto log = OpenOrDie(TestOptions(path));
      Batch batch("c", 10);
      CHILD_CHECK(log->Append(TestRequest(), batch.records).ok(), "append");
    }
    CHILD_CHECK(mount("tmpfs", dir.path().c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, "size=1m") == 0,
                std::strerror(errno));
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(TestOptions(path));
    CHILD_CHECK(!log.ok(), "opened on a read-only disk");
    CHILD_CHECK(absl::StrContains(log.status().message(), "Read-only file system"),
                log.status().ToString());
    absl::StatusOr<VerifyReport> report = Verify(TestKey(), {path.string()});
    CHILD_CHECK(report.ok() && report->ok() && report->decisions == 10, "verify");
    return 0;
  });
  if (code == kSkip) GTEST_SKIP() << "no tmpfs mounts here";
  EXPECT_EQ(code, 0);
}

// Which of the file's pages are in the page cache, one entry a page (mincore on a mapping).
std::vector<bool> CachedPages(const fs::path& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  const size_t size = fs::file_size(path);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> resident((size + page - 1) / page);
  void* map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  if (map == MAP_FAILED) return {};
  const bool ok = mincore(map, size, resident.data()) == 0;
  munmap(map, size);
  if (!ok) return {};
  std::vector<bool> cached;
  for (unsigned char r : resident) cached.push_back((r & 1) != 0);
  return cached;
}

TEST(AuditLogOnDisk, SyncedPagesLeaveThePageCacheExceptTheOneTheFileEndsIn) {
  TempDir dir;
  struct statfs fs_info;
  ASSERT_EQ(statfs(dir.path().c_str(), &fs_info), 0) << std::strerror(errno);
  // On a tmpfs the page cache is the file: there is nothing to drop.
  if (fs_info.f_type == TMPFS_MAGIC) GTEST_SKIP() << "the temporary directory is a tmpfs";
  const fs::path path = dir.path() / "audit.jsonl";
  auto log = OpenOrDie(TestOptions(path));
  ASSERT_NE(log, nullptr);
  for (int i = 0; i < 3; ++i) {
    Batch batch(absl::StrCat("c", i), 1000);
    ASSERT_TRUE(log->Append(TestRequest(), batch.records).ok());
    const std::vector<bool> cached = CachedPages(path);
    ASSERT_GT(cached.size(), 2u) << "batch " << i;
    for (size_t p = 0; p + 1 < cached.size(); ++p) {
      EXPECT_FALSE(cached[p]) << "batch " << i << ": page " << p << " of " << cached.size();
    }
    EXPECT_TRUE(cached.back()) << "batch " << i << ": the last page, which the next append extends";
  }
  log.reset();
  ExpectVerifies(path.string());
}

// ---------------------------------------------------------------------------------------------
// Concurrency, privacy, Find
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
        EXPECT_TRUE(log->Append(TestRequest(request_id), batch.records).ok());
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
      ASSERT_TRUE(log->Append(TestRequest(), records).ok());
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

TEST(AuditFind, ReturnsEveryDecisionAboutOnePersonAndNoOneElses) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  Options options = TestOptions(path);
  options.max_file_bytes = 3000;
  {
    auto log = OpenOrDie(options);
    for (int i = 0; i < 6; ++i) {
      Batch batch("c", 4);  // c-0 .. c-3 in every batch
      ASSERT_TRUE(log->Append(TestRequest(absl::StrCat("r-", i)), batch.records).ok());
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

// A decision about `contact` that relied on the record `record_id` (a consent, or an objection).
DecisionRecord RelyingOn(absl::string_view contact, int64_t index, absl::string_view record_id,
                         bool objection = false) {
  DecisionRecord d;
  d.contact_id = contact;
  d.index = index;
  d.outcome = objection ? "deny" : "allow";
  d.reason = objection ? "objection" : "consent";
  d.rule_policy = "marketing";
  d.rule = d.reason;
  d.evidence_field = objection ? "objections" : "consents";
  d.evidence_index = 0;
  d.evidence_id = record_id;
  d.facts = "3f2a9c0b1d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";
  return d;
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
      ASSERT_TRUE(log->Append(TestRequest(), records).ok());
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

// An access request: the contact id finds the person's decisions, and the ids of the person's
// records (which the log holds only as pseudonyms) name them and find the decisions that relied
// on them under another contact id too.
TEST(AuditFind, NamesTheRecordIdsItIsGivenAndFindsTheDecisionsThatReliedOnThem) {
  TempDir dir;
  const fs::path path = dir.path() / "audit.jsonl";
  {
    auto log = OpenOrDie(TestOptions(path));
    ASSERT_TRUE(log->Append(TestRequest(),
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
    ASSERT_TRUE(log->Append(TestRequest("r-v2"), {RelyingOn("c-0", 0, "anna@example.se")}).ok());
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
  ASSERT_TRUE(reopened->Append(TestRequest("r-3"), {RelyingOn("c-5", 0, "k-5")}).ok());
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
