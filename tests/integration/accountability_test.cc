// Accountability end to end, against real lawfuld processes: every decision a caller receives is
// in the audit log first (pseudonymized, chained, verifiable), a server killed mid-stream leaves a
// log that verifies and holds every decision the client got, a full or read-only disk fails calls
// instead of losing records, and an archived rule set replays a logged decision exactly.
#include <sys/mount.h>

#include <atomic>
#include <filesystem>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "lawful/audit.h"
#include "lawful/synth.h"
#include "lawful/testkit.h"
#include "lawfuld.h"

namespace lawful::testing {
namespace {

using ::lawful::testkit::At;
using ::lawful::testkit::CommandResult;
using ::lawful::testkit::ReadFile;
using ::lawful::testkit::RunCommand;
using ::lawful::testkit::TempDir;
using ::lawful::testkit::WriteFile;
namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr char kAt[] = "2026-08-31T10:00:00Z";

v1::Outreach Newsletter() {
  v1::Outreach outreach;
  outreach.set_purpose("newsletter");
  outreach.set_channel(v1::CHANNEL_EMAIL);
  outreach.mutable_at()->set_seconds(absl::ToUnixSeconds(At(kAt)));
  return outreach;
}

// Contacts whose ids, e-mail addresses and record ids are easy to look for in the log. Their
// consents' and objections' ids are what callers put there: e-mail addresses, or the contact id.
std::vector<v1::Contact> Contacts(uint64_t seed, size_t count) {
  std::vector<v1::Contact> contacts = synth::Generate(seed, count, At(kAt));
  for (size_t i = 0; i < contacts.size(); ++i) {
    v1::Contact& c = contacts[i];
    c.set_id(absl::StrCat("person-", seed, "-", i));
    c.set_email(absl::StrCat("person.", seed, ".", i, "@audit-test.invalid"));
    for (int k = 0; k < c.consents_size(); ++k) {
      c.mutable_consents(k)->set_id(
          absl::StrCat("consent-", k, ".person.", seed, ".", i, "@audit-test.invalid"));
    }
    for (int k = 0; k < c.objections_size(); ++k) {
      c.mutable_objections(k)->set_id(k == 0 ? c.id()
                                             : absl::StrCat("objection-", k, ".", c.email()));
    }
  }
  return contacts;
}

// The key file of a test's audit log, and the key as the library reads it.
struct AuditKey {
  explicit AuditKey(const fs::path& dir) : path(dir / "audit.key") {
    WriteFile(path, std::string(64, 'a') +
                        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n");
    auto loaded = audit::LoadKey(path.string());
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    if (loaded.ok()) key = *std::move(loaded);
  }
  fs::path path;
  audit::Key key;
};

// The decision lines of a log: pseudonym and index of each, in order.
struct Logged {
  std::string contact;
  int64_t index;
  std::string outcome, reason, rule, record, facts, request_id, rule_set;
};
std::vector<Logged> ReadDecisionLines(const fs::path& log) {
  // A call's request line carries what its decisions share; its decision lines follow it.
  static const std::regex kRequest(
      R"re("event":"request".*"request_id":"([^"]*)","rule_set":"([0-9a-f]+)")re");
  static const std::regex kDecision(
      R"re("contact":"([0-9A-Za-z_-]{22})","index":(\d+),"outcome":"(\w+)","reason":"([^"]*)","rule":"([^"]*)")re"
      R"re((?:,"evidence":"[a-z]+\[\d+\]")?(?:,"record":"([0-9A-Za-z_-]{22})")?,"facts":"([0-9a-f]*)")re");
  std::vector<Logged> lines;
  std::stringstream text(ReadFile(log));
  std::string line, request_id, rule_set;
  while (std::getline(text, line)) {
    std::smatch m;
    if (std::regex_search(line, m, kRequest)) {
      request_id = m[1];
      rule_set = m[2];
    } else if (std::regex_search(line, m, kDecision)) {
      lines.push_back(
          Logged{m[1], std::stoll(m[2]), m[3], m[4], m[5], m[6], m[7], request_id, rule_set});
    }
  }
  return lines;
}

const char* OutcomeWord(v1::Outcome outcome) {
  return outcome == v1::OUTCOME_ALLOW ? "allow" : outcome == v1::OUTCOME_DENY ? "deny" : "error";
}

std::vector<std::string> AuditFlags(const fs::path& log, const AuditKey& key,
                                    const fs::path& archive) {
  return {"--audit_log=" + log.string(), "--audit_key_file=" + key.path.string(),
          "--archive_dir=" + archive.string()};
}

// A lawfuld on the shipped rules with an audit log, its key and an archive, in a fresh directory.
struct AuditedLawfuld {
  TempDir dir;
  AuditKey key{dir.path()};
  fs::path log = dir.path() / "audit.log";
  Lawfuld server{LAWFUL_SOURCE_DIR "/rules", dir.path() / "lawfuld.log",
                 AuditFlags(log, key, dir.path() / "archive")};
};

TEST(Accountability, EveryDecisionAnsweredIsRecordedFirstAndTheLogVerifies) {
  AuditedLawfuld audited;
  ASSERT_EQ(audited.server.error(), "");
  const TempDir& dir = audited.dir;
  const AuditKey& key = audited.key;
  const fs::path& log = audited.log;
  Lawfuld& server = audited.server;

  std::vector<v1::Decision> answered;
  std::vector<std::string> ids;

  // Decide, with the caller's request id.
  const std::vector<v1::Contact> one = Contacts(1, 1);
  {
    v1::DecideRequest request;
    *request.mutable_outreach() = Newsletter();
    *request.mutable_contact() = one[0];
    v1::DecideResponse response;
    grpc::ClientContext context;
    context.AddMetadata("x-request-id", "campaign-2026-08/1");
    ASSERT_TRUE(server.stub().Decide(&context, request, &response).ok());
    const auto& sent_back = context.GetServerInitialMetadata();
    ASSERT_EQ(sent_back.count("x-request-id"), 1u);
    EXPECT_EQ(std::string(sent_back.find("x-request-id")->second.data(),
                          sent_back.find("x-request-id")->second.size()),
              "campaign-2026-08/1");
    EXPECT_EQ(response.decision().facts_digest().size(), 64u);
    answered.push_back(response.decision());
    ids.push_back(one[0].id());
  }
  // A batch: the decisions carry digest and, for allows on consent, the consent itself.
  const std::vector<v1::Contact> batch = Contacts(2, 300);
  {
    v1::DecideBatchRequest request;
    *request.mutable_outreach() = Newsletter();
    for (const auto& c : batch) *request.add_contacts() = c;
    v1::DecideBatchResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(server.stub().DecideBatch(&context, request, &response).ok());
    ASSERT_EQ(response.decisions_size(), 300);
    int quoted = 0;
    for (int i = 0; i < response.decisions_size(); ++i) {
      const v1::Decision& d = response.decisions(i);
      EXPECT_EQ(d.facts_digest().size(), d.outcome() == v1::OUTCOME_ERROR ? 0u : 64u);
      if (d.reason() == "consent") {
        ASSERT_TRUE(d.evidence().has_consent()) << d.DebugString();
        EXPECT_EQ(d.evidence().consent().id(), d.evidence().record_id());
        EXPECT_EQ(d.evidence().consent().purpose(), "newsletter");
        EXPECT_TRUE(d.evidence().consent().has_granted_at());
        ++quoted;
      }
      answered.push_back(d);
      ids.push_back(batch[i].id());
    }
    EXPECT_GT(quoted, 0) << "no consent-based allow among the generated contacts";
  }
  // A stream of three chunks.
  const std::vector<v1::Contact> streamed = Contacts(3, 150);
  {
    grpc::ClientContext context;
    auto stream = server.stub().DecideStream(&context);
    v1::DecideStreamRequest start;
    *start.mutable_start()->mutable_outreach() = Newsletter();
    ASSERT_TRUE(stream->Write(start));
    for (int chunk = 0; chunk < 3; ++chunk) {
      v1::DecideStreamRequest request;
      for (int i = chunk * 50; i < chunk * 50 + 50; ++i)
        *request.mutable_contacts()->add_contacts() = streamed[i];
      ASSERT_TRUE(stream->Write(request));
      v1::DecideStreamResponse response;
      ASSERT_TRUE(stream->Read(&response));
      for (const v1::Decision& d : response.decisions().decisions()) {
        answered.push_back(d);
        ids.push_back(streamed[d.index()].id());
      }
    }
    stream->WritesDone();
    v1::DecideStreamResponse summary;
    ASSERT_TRUE(stream->Read(&summary));
    ASSERT_TRUE(stream->Finish().ok());
  }
  // Explain answers a decision too, and records it.
  {
    v1::ExplainRequest request;
    *request.mutable_outreach() = Newsletter();
    *request.mutable_contact() = one[0];
    v1::Explanation explanation;
    grpc::ClientContext context;
    ASSERT_TRUE(server.stub().Explain(&context, request, &explanation).ok());
    EXPECT_EQ(explanation.decision().facts_digest(), answered[0].facts_digest());
    EXPECT_EQ(explanation.decision().reason(), answered[0].reason());
    EXPECT_GT(explanation.checks_size(), 0);
    EXPECT_THAT(explanation.summary(), HasSubstr(server.version()));
    answered.push_back(explanation.decision());
    ids.push_back(one[0].id());
  }

  // Every decision answered, in order, each with its pseudonym, outcome, reason, rule and digest.
  const std::vector<Logged> logged = ReadDecisionLines(log);
  ASSERT_EQ(logged.size(), answered.size())
      << "server log: " << ReadFile(dir.path() / "lawfuld.log");
  for (size_t i = 0; i < answered.size(); ++i) {
    SCOPED_TRACE(absl::StrCat("decision ", i, " about ", ids[i]));
    EXPECT_EQ(logged[i].contact, key.key.Pseudonym(ids[i]));
    EXPECT_EQ(logged[i].index, answered[i].index());
    EXPECT_EQ(logged[i].outcome, OutcomeWord(answered[i].outcome()));
    if (answered[i].outcome() != v1::OUTCOME_ERROR) {
      EXPECT_EQ(logged[i].reason, answered[i].reason());
      EXPECT_EQ(logged[i].rule,
                absl::StrCat(answered[i].rule().policy(), ".", answered[i].rule().name()));
    }
    EXPECT_EQ(logged[i].facts, answered[i].facts_digest());
    EXPECT_EQ(logged[i].rule_set, server.version());
    // The record decided on, by its pseudonym only.
    const std::string& record_id = answered[i].evidence().record_id();
    EXPECT_EQ(logged[i].record, record_id.empty() ? "" : key.key.Pseudonym(record_id));
  }
  EXPECT_EQ(logged[0].request_id, "campaign-2026-08/1");
  EXPECT_THAT(logged[1].request_id, ::testing::StartsWith("lawfuld-"));  // made by the server

  // No direct identifier in the log: neither an id nor an e-mail address it was sent, nor the id
  // of a record (a consent, an objection) a decision relied on.
  const std::string text = ReadFile(log);
  for (const auto* contacts : {&one, &batch, &streamed}) {
    for (const v1::Contact& c : *contacts) {
      EXPECT_EQ(text.find(c.id()), std::string::npos) << c.id();
      EXPECT_EQ(text.find(c.email()), std::string::npos) << c.email();
      for (const v1::Consent& consent : c.consents()) {
        EXPECT_EQ(text.find(consent.id()), std::string::npos) << consent.id();
      }
      for (const v1::Objection& objection : c.objections()) {
        EXPECT_EQ(text.find(objection.id()), std::string::npos) << objection.id();
      }
    }
  }
  EXPECT_EQ(text.find("@audit-test.invalid"), std::string::npos);

  // The chain verifies, and an access request finds exactly one person's decisions.
  auto report = audit::Verify(key.key, {log.string()});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok()) << report->problem->ToString();
  EXPECT_EQ(report->decisions, answered.size());
  auto found = audit::Find(key.key, one[0].id(), {log.string()});
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(found->records.size(), 2u);  // Decide and Explain
  // And, given the id of a record a decision relied on, finds that decision and names the record.
  const auto relied = std::find_if(answered.begin(), answered.end(), [](const v1::Decision& d) {
    return d.evidence().record_id().find('@') != std::string::npos;
  });
  ASSERT_NE(relied, answered.end()) << "no decision relied on a record with an e-mail-like id";
  found =
      audit::Find(key.key, "", {log.string()}, {.record_ids = {relied->evidence().record_id()}});
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->records.size(), 1u);
  EXPECT_EQ(found->records[0].contact, key.key.Pseudonym(ids[relied - answered.begin()]));
  EXPECT_EQ(found->records[0].record_id, relied->evidence().record_id());

  // The served rule set is in the archive under its version.
  EXPECT_TRUE(fs::is_directory(dir.path() / "archive" / server.version()));
}

// A stream of batches, the server killed with SIGKILL in the middle of it, then restarted on the
// same log: the log verifies (a torn tail cut and reported) and holds a record of every decision
// the client received before the kill.
// A call's request line records the outreach its decisions share, the notice type included when
// one was given; the decision lines follow it, one per contact, in order.
TEST(Accountability, ARequestLineRecordsTheOutreachItsDecisionsShare) {
  AuditedLawfuld a;
  ASSERT_EQ(a.server.error(), "");
  const std::vector<v1::Contact> contacts = Contacts(7, 3);
  for (const v1::NoticeType notice :
       {v1::NOTICE_TYPE_LEGAL_OBLIGATION, v1::NOTICE_TYPE_UNSPECIFIED}) {
    v1::DecideBatchRequest request;
    request.mutable_outreach()->set_purpose("service_notice");
    request.mutable_outreach()->set_channel(v1::CHANNEL_SMS);
    request.mutable_outreach()->set_notice_type(notice);
    request.mutable_outreach()->mutable_at()->set_seconds(absl::ToUnixSeconds(At(kAt)));
    for (const auto& c : contacts) *request.add_contacts() = c;
    v1::DecideBatchResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(a.server.stub().DecideBatch(&context, request, &response).ok());
  }
  std::vector<std::string> lines = absl::StrSplit(ReadFile(a.log), '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u + 2 * (1 + contacts.size()));  // start, then two calls
  EXPECT_THAT(lines[1], HasSubstr(absl::StrCat(R"("rule_set":")", a.server.version(),
                                               R"(","purpose":"service_notice","channel":"sms",)",
                                               R"("notice_type":"legal_obligation","at":")", kAt,
                                               R"(","decisions":3,)")));
  EXPECT_THAT(lines[5], HasSubstr(R"("channel":"sms","at":")"));  // no notice type given
  for (size_t i = 0; i < contacts.size(); ++i) {
    EXPECT_THAT(lines[2 + i],
                HasSubstr(absl::StrCat(R"("contact":")", a.key.key.Pseudonym(contacts[i].id()),
                                       R"(","index":)", i, ",")));
  }
}

TEST(Accountability, AServerKilledMidStreamLeavesAVerifiableLogWithEveryDecisionReceived) {
  TempDir dir;
  AuditKey key(dir.path());
  const fs::path log = dir.path() / "audit.log";
  const std::vector<v1::Contact> contacts = Contacts(4, 400);
  std::vector<v1::Decision> received;
  {
    Lawfuld server(LAWFUL_SOURCE_DIR "/rules", dir.path() / "first.log",
                   AuditFlags(log, key, dir.path() / "archive"));
    ASSERT_EQ(server.error(), "");
    grpc::ClientContext context;
    auto stream = server.stub().DecideStream(&context);
    v1::DecideStreamRequest start;
    *start.mutable_start()->mutable_outreach() = Newsletter();
    ASSERT_TRUE(stream->Write(start));
    // Chunks of 400 until 40 answers came back; then the kill, with chunks still in flight.
    v1::DecideStreamRequest chunk;
    for (const auto& c : contacts) *chunk.mutable_contacts()->add_contacts() = c;
    std::atomic<bool> stop{false};
    std::thread writer([&] {
      while (!stop.load() && stream->Write(chunk)) {
      }
    });
    v1::DecideStreamResponse response;
    int chunks = 0;
    while (chunks < 40 && stream->Read(&response)) {
      for (const auto& d : response.decisions().decisions()) received.push_back(d);
      ++chunks;
    }
    ASSERT_EQ(chunks, 40);
    server.process().Signal(SIGKILL);
    while (stream->Read(&response)) {  // whatever was already on its way
      for (const auto& d : response.decisions().decisions()) received.push_back(d);
    }
    stop = true;
    context.TryCancel();
    writer.join();
    EXPECT_EQ(server.process().WaitExit(absl::Seconds(10)), 128 + SIGKILL);
  }
  // The restart: Open cuts any torn tail (the server logs it) and the chain goes on.
  Lawfuld restarted(LAWFUL_SOURCE_DIR "/rules", dir.path() / "second.log",
                    AuditFlags(log, key, dir.path() / "archive"));
  ASSERT_EQ(restarted.error(), "");
  {
    v1::DecideRequest request;
    *request.mutable_outreach() = Newsletter();
    *request.mutable_contact() = contacts[0];
    v1::DecideResponse response;
    grpc::ClientContext context;
    ASSERT_TRUE(restarted.stub().Decide(&context, request, &response).ok());
  }
  auto report = audit::Verify(key.key, {log.string()});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok()) << report->problem->ToString();

  std::set<std::pair<std::string, int64_t>> recorded;
  for (const Logged& l : ReadDecisionLines(log)) recorded.insert({l.contact, l.index});
  ASSERT_GE(received.size(), 40u * contacts.size());
  size_t missing = 0;
  for (const v1::Decision& d : received) {
    missing += recorded.count({key.key.Pseudonym(d.contact_id()), d.index()}) == 0;
  }
  EXPECT_EQ(missing, 0u) << "of " << received.size() << " decisions received";
}

// A tmpfs of our own: small enough to fill, and remountable read-only. Mounting needs root with
// CAP_SYS_ADMIN; where that is missing the tests that need it say so and skip.
class SmallDisk {
 public:
  SmallDisk(const fs::path& dir, const char* size) : path_(dir / "disk") {
    fs::create_directories(path_);
    mounted_ =
        ::mount("tmpfs", path_.c_str(), "tmpfs", 0, absl::StrCat("size=", size).c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  bool MakeReadOnly() {
    return ::mount("tmpfs", path_.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, nullptr) == 0;
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  bool mounted_ = false;
};

grpc::Status Batch(Lawfuld& server, const std::vector<v1::Contact>& contacts,
                   v1::DecideBatchResponse* response) {
  v1::DecideBatchRequest request;
  *request.mutable_outreach() = Newsletter();
  for (const auto& c : contacts) *request.add_contacts() = c;
  grpc::ClientContext context;
  return server.stub().DecideBatch(&context, request, response);
}

// Batches until one fails; every decision of every batch answered OK must be in the log.
void ExpectFailureLosesNothing(Lawfuld& server, const fs::path& log, const AuditKey& key,
                               const std::function<void(int)>& before_batch) {
  const std::vector<v1::Contact> contacts = Contacts(5, 50);
  std::vector<v1::Decision> answered;
  grpc::Status failed;
  for (int i = 0; i < 200 && failed.ok(); ++i) {
    before_batch(i);
    v1::DecideBatchResponse response;
    const grpc::Status status = Batch(server, contacts, &response);
    if (status.ok()) {
      answered.insert(answered.end(), response.decisions().begin(), response.decisions().end());
    } else {
      failed = status;
    }
  }
  ASSERT_FALSE(failed.ok()) << "the disk never failed";
  EXPECT_EQ(failed.error_code(), grpc::StatusCode::UNAVAILABLE) << failed.error_message();
  EXPECT_THAT(failed.error_message(), HasSubstr("audit log"));
  // The server is still up and says why in its own log.
  v1::GetRuleSetRequest request;
  v1::RuleSetInfo info;
  grpc::ClientContext context;
  EXPECT_TRUE(server.stub().GetRuleSet(&context, request, &info).ok());

  auto report = audit::Verify(key.key, {log.string()});
  ASSERT_TRUE(report.ok()) << report.status();
  std::set<std::pair<std::string, int64_t>> recorded;
  for (const Logged& l : ReadDecisionLines(log)) recorded.insert({l.contact, l.index});
  size_t missing = 0;
  for (const v1::Decision& d : answered)
    missing += recorded.count({key.key.Pseudonym(d.contact_id()), d.index()}) == 0;
  EXPECT_EQ(missing, 0u) << "of " << answered.size() << " decisions answered";
}

TEST(Accountability, AFullDiskFailsCallsAndLosesNoRecord) {
  TempDir dir;
  SmallDisk disk(dir.path(), "64k");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (needs CAP_SYS_ADMIN)";
  AuditKey key(dir.path());
  const fs::path log = disk.path() / "audit.log";
  Lawfuld server(LAWFUL_SOURCE_DIR "/rules", dir.path() / "lawfuld.log",
                 AuditFlags(log, key, dir.path() / "archive"));
  ASSERT_EQ(server.error(), "");
  ExpectFailureLosesNothing(server, log, key, [](int) {});
  EXPECT_THAT(ReadFile(dir.path() / "lawfuld.log"), HasSubstr("audit log write failed"));
}

// Linux refuses to remount a file system read-only while a file on it is open for writing, so a
// disk that turns read-only under a running server is covered by the audit library's injected
// EROFS (tests/unit/audit_test.cc). Here: a log on a read-only disk keeps the server from
// starting at all, so no call can be answered unrecorded.
TEST(Accountability, ALogOnAReadOnlyDiskKeepsTheServerFromAnswering) {
  TempDir dir;
  SmallDisk disk(dir.path(), "4m");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (needs CAP_SYS_ADMIN)";
  AuditKey key(dir.path());
  const fs::path log = disk.path() / "audit.log";
  {
    // A log that was written while the disk was writable...
    Lawfuld server(LAWFUL_SOURCE_DIR "/rules", dir.path() / "first.log",
                   AuditFlags(log, key, dir.path() / "archive"));
    ASSERT_EQ(server.error(), "");
    v1::DecideBatchResponse response;
    ASSERT_TRUE(Batch(server, Contacts(6, 20), &response).ok());
  }
  ASSERT_TRUE(disk.MakeReadOnly());
  // ... and the disk read-only at the next start.
  const CommandResult result =
      RunCommand({LAWFULD_PATH, "--listen=127.0.0.1:0", "--rules=" LAWFUL_SOURCE_DIR "/rules",
                  "--audit_log=" + log.string(), "--audit_key_file=" + key.path.string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("ead-only file system"));
  EXPECT_EQ(result.out.find("listening"), std::string::npos);
  auto report = audit::Verify(key.key, {log.string()});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->ok());
  EXPECT_EQ(report->decisions, 20u);
}

TEST(Accountability, AnAuditLogThatCannotBeOpenedStopsTheServerFromStarting) {
  TempDir dir;
  AuditKey key(dir.path());
  const CommandResult result =
      RunCommand({LAWFULD_PATH, "--listen=127.0.0.1:0", "--rules=" LAWFUL_SOURCE_DIR "/rules",
                  "--audit_log=" + (dir.path() / "no/such/dir/audit.log").string(),
                  "--audit_key_file=" + key.path.string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("audit.log"));
  const CommandResult no_key =
      RunCommand({LAWFULD_PATH, "--listen=127.0.0.1:0", "--rules=" LAWFUL_SOURCE_DIR "/rules",
                  "--audit_log=" + (dir.path() / "audit.log").string()});
  EXPECT_EQ(no_key.exit_code, 1);
  EXPECT_THAT(no_key.err, HasSubstr("--audit_log needs --audit_key_file"));
}

// A decision logged under one rule set, the rules changed and reloaded, then the logged decision
// replayed from the archive — by the Explain RPC and by `lawful explain --archive_dir` — gives the
// same outcome, reason, rule and facts digest as the record.
TEST(Accountability, AnArchivedRuleSetReplaysALoggedDecision) {
  TempDir dir;
  AuditKey key(dir.path());
  const fs::path rules = dir.path() / "rules";
  fs::create_directories(rules);
  for (const char* file : {"common.lawful", "marketing.lawful", "service_notices.lawful"}) {
    fs::copy_file(fs::path(LAWFUL_SOURCE_DIR "/rules") / file, rules / file);
  }
  const fs::path log = dir.path() / "audit.log";
  const fs::path archive = dir.path() / "archive";
  Lawfuld server(rules, dir.path() / "lawfuld.log", AuditFlags(log, key, archive));
  ASSERT_EQ(server.error(), "");
  const std::string before = server.version();

  // A contact inactive for 30 months: retained under a 36-month period, not under 24.
  v1::Contact contact;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(
                  R"({"id":"replay-1","lastActivityAt":"2024-02-20T10:00:00Z",
                      "consents":[{"id":"k-1","purpose":"newsletter","channel":"CHANNEL_EMAIL",
                                   "grantedAt":"2023-01-01T00:00:00Z"}]})",
                  &contact)
                  .ok());
  v1::DecideRequest request;
  *request.mutable_outreach() = Newsletter();
  *request.mutable_contact() = contact;
  v1::DecideResponse first;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(server.stub().Decide(&context, request, &first).ok());
  }
  ASSERT_EQ(first.decision().reason(), "retention_expired");

  // The legal team extends retention; the server reloads and now decides otherwise.
  std::string common = ReadFile(rules / "common.lawful");
  ASSERT_NE(common.find("24 months"), std::string::npos);
  WriteFile(rules / "common.lawful", absl::StrReplaceAll(common, {{"24 months", "36 months"}}));
  server.process().Signal(SIGHUP);
  std::string after;
  for (int i = 0; i < 100 && (after.empty() || after == before); ++i) {
    absl::SleepFor(absl::Milliseconds(50));
    v1::RuleSetInfo info;
    grpc::ClientContext context;
    if (server.stub().GetRuleSet(&context, v1::GetRuleSetRequest(), &info).ok())
      after = info.version();
  }
  ASSERT_NE(after, before);
  v1::DecideResponse now;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(server.stub().Decide(&context, request, &now).ok());
  }
  EXPECT_NE(now.decision().reason(), "retention_expired");

  // The record of the first decision, as an auditor finds it years later.
  auto found = audit::Find(key.key, "replay-1", {log.string()});
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_GE(found->records.size(), 1u);
  const audit::Record& record = found->records.front();
  EXPECT_EQ(record.rule_set, before);
  EXPECT_EQ(record.reason, "retention_expired");

  // Replayed by the server, pinned to the archived version.
  v1::ExplainRequest explain;
  *explain.mutable_outreach() = Newsletter();
  *explain.mutable_contact() = contact;
  explain.set_rule_set_version(record.rule_set);
  v1::Explanation replay;
  {
    grpc::ClientContext context;
    const grpc::Status status = server.stub().Explain(&context, explain, &replay);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_EQ(replay.rule_set_version(), before);
  EXPECT_EQ(replay.decision().reason(), record.reason);
  EXPECT_EQ(absl::StrCat(replay.decision().rule().policy(), ".", replay.decision().rule().name()),
            record.rule);
  EXPECT_EQ(replay.decision().facts_digest(), record.facts);
  // An unknown version is NOT_FOUND.
  explain.set_rule_set_version(std::string(64, 'f'));
  {
    grpc::ClientContext context;
    EXPECT_EQ(server.stub().Explain(&context, explain, &replay).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }

  // Replayed offline from the archive by the CLI.
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(contact, &json).ok());
  WriteFile(dir.path() / "contact.json", json);
  const CommandResult cli = RunCommand(
      {LAWFUL_CLI_PATH, "explain", "--purpose=newsletter", "--channel=email",
       std::string("--at=") + kAt, "--archive_dir=" + archive.string(),
       "--rule_set=" + record.rule_set, "--json", (dir.path() / "contact.json").string()});
  ASSERT_EQ(cli.exit_code, 0) << cli.err;
  v1::Explanation offline;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(cli.out, &offline).ok()) << cli.out;
  EXPECT_EQ(offline.decision().reason(), record.reason);
  EXPECT_EQ(offline.decision().facts_digest(), record.facts);
  EXPECT_EQ(offline.rule_set_version(), before);
}

// `lawful eval --audit_log` records every decision it writes, in-process and through a server,
// and stops (exit 3) rather than write a decision the log could not take.
TEST(Accountability, EvalRecordsEveryDecisionItWrites) {
  TempDir dir;
  AuditKey key(dir.path());
  std::string jsonl;
  const std::vector<v1::Contact> contacts = Contacts(7, 500);
  for (const v1::Contact& c : contacts) {
    std::string line;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(c, &line).ok());
    absl::StrAppend(&jsonl, line, "\n");
  }
  WriteFile(dir.path() / "contacts.jsonl", jsonl);
  Lawfuld server(LAWFUL_SOURCE_DIR "/rules", dir.path() / "lawfuld.log");
  ASSERT_EQ(server.error(), "");
  struct Case {
    std::string name;
    std::string source;
  };
  for (const Case& c : {Case{"in-process", "--rules=" LAWFUL_SOURCE_DIR "/rules"},
                        Case{"through lawfuld", "--server=" + server.address()}}) {
    SCOPED_TRACE(c.name);
    const fs::path log = dir.path() / (c.name + ".audit.log");
    const CommandResult run = RunCommand(
        {LAWFUL_CLI_PATH, "eval", "--purpose=newsletter", "--channel=email",
         std::string("--at=") + kAt, c.source, "--audit_log=" + log.string(),
         "--audit_key_file=" + key.path.string(), (dir.path() / "contacts.jsonl").string()});
    ASSERT_EQ(run.exit_code, 0) << run.err;
    std::vector<v1::Decision> written;
    std::stringstream out(run.out);
    std::string line;
    while (std::getline(out, line)) {
      ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &written.emplace_back()).ok())
          << line;
    }
    ASSERT_EQ(written.size(), contacts.size());
    const std::vector<Logged> logged = ReadDecisionLines(log);
    ASSERT_EQ(logged.size(), written.size());
    for (size_t i = 0; i < written.size(); ++i) {
      EXPECT_EQ(logged[i].contact, key.key.Pseudonym(contacts[i].id()));
      EXPECT_EQ(logged[i].index, static_cast<int64_t>(i));
      EXPECT_EQ(logged[i].outcome, OutcomeWord(written[i].outcome()));
      EXPECT_EQ(logged[i].facts, written[i].facts_digest());
      EXPECT_EQ(logged[i].rule_set, server.version());
    }
    auto report = audit::Verify(key.key, {log.string()});
    ASSERT_TRUE(report.ok()) << report.status();
    EXPECT_TRUE(report->ok());
    EXPECT_EQ(ReadFile(log).find(contacts[0].id()), std::string::npos);
  }

  SmallDisk disk(dir.path(), "64k");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (needs CAP_SYS_ADMIN)";
  const CommandResult full =
      RunCommand({LAWFUL_CLI_PATH, "eval", "--purpose=newsletter", "--channel=email",
                  std::string("--at=") + kAt, "--rules=" LAWFUL_SOURCE_DIR "/rules",
                  "--audit_log=" + (disk.path() / "audit.log").string(),
                  "--audit_key_file=" + key.path.string(), "--threads=1",
                  (dir.path() / "contacts.jsonl").string()});
  EXPECT_EQ(full.exit_code, 3) << full.err;
  EXPECT_THAT(full.err, HasSubstr("audit log cannot be written"));
  // Whatever was written is on record.
  const std::vector<Logged> logged = ReadDecisionLines(disk.path() / "audit.log");
  const size_t lines = static_cast<size_t>(std::count(full.out.begin(), full.out.end(), '\n'));
  EXPECT_LT(lines, contacts.size());
  EXPECT_LE(lines, logged.size());
}

}  // namespace
}  // namespace lawful::testing
