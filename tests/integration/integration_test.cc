// End-to-end: a real lawfuld on a free port, its rules in a temporary directory, called through
// the generated stubs and through the lawful CLI.
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include <cstring>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "lawful/v1/service.grpc.pb.h"
#include "process.h"

namespace lawful::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

namespace fs = std::filesystem;

// Generous for a sanitizer build on a loaded 2-core machine, still bounded.
constexpr absl::Duration kStartTimeout = absl::Seconds(15);
constexpr absl::Duration kCallTimeout = absl::Seconds(10);
constexpr absl::Duration kExitTimeout = absl::Seconds(15);

constexpr char kRules[] = R"rules(purpose newsletter, product_offer

policy marketing for purposes {newsletter, product_offer} {
  deny erasure_pending when contact.erasure_requested_at <= at
    cite "GDPR Art. 17(1)"
  allow consent when any c in contact.consents where c.purpose == purpose and c.channel == channel and c.granted_at <= at and not (c.withdrawn_at <= at)
    cite "GDPR Art. 6(1)(a)"
  otherwise deny no_lawful_basis
    cite "GDPR Art. 6(1)"
}
)rules";

// The same rules with an unknown field on line 4.
std::string BrokenRules() {
  std::string rules = kRules;
  rules.replace(rules.find("erasure_requested_at"), 20, "erasure_requsted_at");
  return rules;
}

// The instant every test decides at, unless it tests the server's clock.
constexpr char kAt[] = "2026-03-02T09:00:00Z";

// Contacts as callers send them, in proto JSON.
constexpr char kConsentingContact[] =
    R"({"id":"c-0001","email":"astrid.lindqvist@example.com","consents":[)"
    R"({"id":"k-1","purpose":"newsletter","channel":"CHANNEL_EMAIL",)"
    R"("grantedAt":"2025-05-01T10:00:00Z"}]})";
constexpr char kWithdrawnContact[] =
    R"({"id":"c-0002","email":"erik.johansson@example.com","consents":[)"
    R"({"id":"k-2","purpose":"newsletter","channel":"CHANNEL_EMAIL",)"
    R"("grantedAt":"2025-05-01T10:00:00Z","withdrawnAt":"2026-01-15T08:30:00Z"}]})";
constexpr char kErasureContact[] =
    R"({"id":"c-0003","email":"maja.berg@example.com","consents":[)"
    R"({"id":"k-3","purpose":"newsletter","channel":"CHANNEL_EMAIL",)"
    R"("grantedAt":"2025-05-01T10:00:00Z"}],"erasureRequestedAt":"2026-02-20T12:00:00Z"})";
constexpr char kSmsOnlyContact[] = R"({"id":"c-0004","phone":"+46701234567","consents":[)"
                                   R"({"id":"k-4","purpose":"newsletter","channel":"CHANNEL_SMS",)"
                                   R"("grantedAt":"2025-05-01T10:00:00Z"}]})";
constexpr char kUnknownContact[] = R"({"id":"c-0005","email":"nils.holm@example.com"})";

v1::Contact ParseContact(const std::string& json) {
  v1::Contact contact;
  const auto status = google::protobuf::util::JsonStringToMessage(json, &contact);
  EXPECT_TRUE(status.ok()) << status.ToString() << " in " << json;
  return contact;
}

google::protobuf::Timestamp Timestamp(const std::string& rfc3339) {
  absl::Time t;
  std::string error;
  EXPECT_TRUE(absl::ParseTime(absl::RFC3339_full, rfc3339, &t, &error)) << error;
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

v1::Outreach NewsletterByEmail() {
  v1::Outreach outreach;
  outreach.set_purpose("newsletter");
  outreach.set_channel(v1::CHANNEL_EMAIL);
  *outreach.mutable_at() = Timestamp(kAt);
  return outreach;
}

void WriteFile(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A directory removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::path(::testing::TempDir()) / "lawful-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// A running lawfuld, stopped (SIGKILL if need be) when the object goes away.
class Lawfuld {
 public:
  // Starts lawfuld on a free port and waits for its startup line. On failure, `error` says why.
  Lawfuld(const fs::path& rules_dir, const fs::path& log_path,
          const std::vector<std::string>& extra_flags = {}) {
    std::vector<std::string> argv = {LAWFULD_PATH, "--listen=127.0.0.1:0",
                                     "--rules=" + rules_dir.string()};
    argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
    process_ = std::make_unique<Process>(
        argv, Process::Options{.stdin_path = "", .stderr_path = log_path.string()});
    if (!process_->started()) {
      error_ = "lawfuld did not start";
      return;
    }
    const std::optional<std::string> line = process_->ReadLine(kStartTimeout);
    if (!line.has_value()) {
      error_ = "no startup line; log: " + ReadFile(log_path);
      return;
    }
    static const std::regex kStartup(
        R"(lawfuld: listening on 127\.0\.0\.1:(\d+), serving rule set ([0-9a-f]+) \((\d+) files\))");
    std::smatch match;
    if (!std::regex_match(*line, match, kStartup)) {
      error_ = "unexpected startup line: " + *line;
      return;
    }
    address_ = "127.0.0.1:" + match[1].str();
    version_ = match[2].str();
    files_ = std::stoi(match[3].str());
    channel_ = grpc::CreateChannel(address_, grpc::InsecureChannelCredentials());
    if (!channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
      error_ = "cannot connect to " + address_;
      return;
    }
    stub_ = v1::Lawful::NewStub(channel_);
  }

  const std::string& error() const { return error_; }
  const std::string& address() const { return address_; }
  const std::string& version() const { return version_; }
  int files() const { return files_; }
  Process& process() { return *process_; }
  v1::Lawful::Stub& stub() { return *stub_; }
  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }

 private:
  std::unique_ptr<Process> process_;
  std::string error_;
  std::string address_;
  std::string version_;
  int files_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Lawful::Stub> stub_;
};

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() +
                        absl::ToChronoMilliseconds(kCallTimeout));
  return context;
}

class LawfuldTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    rules_dir_ = dir_.path() / "rules";
    fs::create_directory(rules_dir_);
    WriteFile(rules_dir_ / "rules.lawful", kRules);
    log_path_ = dir_.path() / "lawfuld.log";
  }

  // Starts lawfuld on the rules in rules_dir_; fails the test when it does not come up.
  Lawfuld& Start(const std::vector<std::string>& extra_flags = {}) {
    server_ = std::make_unique<Lawfuld>(rules_dir_, log_path_, extra_flags);
    EXPECT_THAT(server_->error(), IsEmpty());
    return *server_;
  }

  grpc::Status Decide(const v1::DecideRequest& request, v1::DecideResponse* response) {
    return server_->stub().Decide(Context().get(), request, response);
  }
  grpc::Status DecideBatch(const v1::DecideBatchRequest& request,
                           v1::DecideBatchResponse* response) {
    return server_->stub().DecideBatch(Context().get(), request, response);
  }
  v1::RuleSetInfo GetRuleSet() {
    v1::RuleSetInfo info;
    const grpc::Status status = server_->stub().GetRuleSet(Context().get(), {}, &info);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return info;
  }

  // Decides one contact for a newsletter by e-mail at kAt.
  v1::Decision DecideNewsletter(const std::string& contact_json) {
    v1::DecideRequest request;
    *request.mutable_outreach() = NewsletterByEmail();
    *request.mutable_contact() = ParseContact(contact_json);
    v1::DecideResponse response;
    const grpc::Status status = Decide(request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.decision();
  }

  // Sends SIGHUP and waits until GetRuleSet satisfies `done`.
  template <typename Predicate>
  v1::RuleSetInfo ReloadUntil(Predicate done) {
    server_->process().Signal(SIGHUP);
    const absl::Time deadline = absl::Now() + kCallTimeout;
    v1::RuleSetInfo info = GetRuleSet();
    while (!done(info) && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(50));
      info = GetRuleSet();
    }
    EXPECT_TRUE(done(info)) << "reload not observed; rule set " << info.version();
    return info;
  }

  TempDir dir_;
  fs::path rules_dir_;
  fs::path log_path_;
  std::unique_ptr<Lawfuld> server_;
};

TEST_F(LawfuldTest, StartupLineNamesPortAndRuleSet) {
  Lawfuld& server = Start();
  EXPECT_THAT(server.version(), SizeIs(64));  // hex SHA-256
  EXPECT_EQ(server.files(), 1);
}

TEST_F(LawfuldTest, DecideAllowsWithConsentAndCitesTheRule) {
  Lawfuld& server = Start();
  v1::DecideRequest request;
  *request.mutable_outreach() = NewsletterByEmail();
  *request.mutable_contact() = ParseContact(kConsentingContact);
  v1::DecideResponse response;
  const grpc::Status status = Decide(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();

  const v1::Decision& decision = response.decision();
  EXPECT_EQ(decision.outcome(), v1::OUTCOME_ALLOW);
  EXPECT_EQ(decision.reason(), "consent");
  EXPECT_EQ(decision.citation(), "GDPR Art. 6(1)(a)");
  EXPECT_EQ(decision.contact_id(), "c-0001");
  EXPECT_EQ(decision.rule().name(), "consent");
  EXPECT_EQ(decision.rule().policy(), "marketing");
  EXPECT_EQ(decision.rule().file(), "rules.lawful");
  EXPECT_EQ(decision.rule().line(), 6u);
  EXPECT_EQ(response.rule_set_version(), server.version());
  EXPECT_EQ(response.at().seconds(), Timestamp(kAt).seconds());
}

TEST_F(LawfuldTest, DecideDeniesWithoutAValidConsent) {
  Start();
  const v1::Decision unknown = DecideNewsletter(kUnknownContact);
  EXPECT_EQ(unknown.outcome(), v1::OUTCOME_DENY);
  EXPECT_EQ(unknown.reason(), "no_lawful_basis");
  EXPECT_EQ(unknown.citation(), "GDPR Art. 6(1)");
  EXPECT_EQ(unknown.contact_id(), "c-0005");

  const v1::Decision withdrawn = DecideNewsletter(kWithdrawnContact);
  EXPECT_EQ(withdrawn.outcome(), v1::OUTCOME_DENY);
  EXPECT_EQ(withdrawn.reason(), "no_lawful_basis");

  // Consent for SMS does not cover e-mail.
  const v1::Decision sms_only = DecideNewsletter(kSmsOnlyContact);
  EXPECT_EQ(sms_only.outcome(), v1::OUTCOME_DENY);
  EXPECT_EQ(sms_only.reason(), "no_lawful_basis");

  // An erasure request outranks a valid consent.
  const v1::Decision erasure = DecideNewsletter(kErasureContact);
  EXPECT_EQ(erasure.outcome(), v1::OUTCOME_DENY);
  EXPECT_EQ(erasure.reason(), "erasure_pending");
  EXPECT_EQ(erasure.citation(), "GDPR Art. 17(1)");
  EXPECT_EQ(erasure.rule().line(), 4u);
}

TEST_F(LawfuldTest, DecideWithoutAtUsesAndEchoesTheServerClock) {
  Start();
  v1::DecideRequest request;
  *request.mutable_outreach() = NewsletterByEmail();
  request.mutable_outreach()->clear_at();
  *request.mutable_contact() = ParseContact(kConsentingContact);
  const int64_t before = absl::ToUnixSeconds(absl::Now());
  v1::DecideResponse response;
  const grpc::Status status = Decide(request, &response);
  const int64_t after = absl::ToUnixSeconds(absl::Now());
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(response.has_at());
  EXPECT_GE(response.at().seconds(), before);
  EXPECT_LE(response.at().seconds(), after);
  EXPECT_EQ(response.decision().outcome(), v1::OUTCOME_ALLOW);
}

TEST_F(LawfuldTest, DecideBatchKeepsInputOrderAndSummarizesMostFrequentFirst) {
  Lawfuld& server = Start();
  v1::DecideBatchRequest request;
  *request.mutable_outreach() = NewsletterByEmail();
  for (const char* json : {kUnknownContact, kConsentingContact, kWithdrawnContact, kErasureContact,
                           kSmsOnlyContact, kConsentingContact}) {
    *request.add_contacts() = ParseContact(json);
  }
  v1::DecideBatchResponse response;
  const grpc::Status status = DecideBatch(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();

  ASSERT_EQ(response.decisions_size(), 6);
  std::vector<std::string> got;
  for (int i = 0; i < response.decisions_size(); ++i) {
    const v1::Decision& decision = response.decisions(i);
    EXPECT_EQ(decision.index(), static_cast<uint32_t>(i));
    got.push_back(absl::StrCat(decision.contact_id(), " ", v1::Outcome_Name(decision.outcome()),
                               " ", decision.reason()));
  }
  EXPECT_THAT(
      got, ElementsAre("c-0005 OUTCOME_DENY no_lawful_basis", "c-0001 OUTCOME_ALLOW consent",
                       "c-0002 OUTCOME_DENY no_lawful_basis", "c-0003 OUTCOME_DENY erasure_pending",
                       "c-0004 OUTCOME_DENY no_lawful_basis", "c-0001 OUTCOME_ALLOW consent"));

  std::vector<std::string> summary;
  for (const v1::ReasonCount& count : response.summary()) {
    summary.push_back(
        absl::StrCat(v1::Outcome_Name(count.outcome()), " ", count.reason(), " ", count.count()));
  }
  EXPECT_THAT(summary, ElementsAre("OUTCOME_DENY no_lawful_basis 3", "OUTCOME_ALLOW consent 2",
                                   "OUTCOME_DENY erasure_pending 1"));
  EXPECT_EQ(response.rule_set_version(), server.version());
  EXPECT_EQ(response.at().seconds(), Timestamp(kAt).seconds());
}

TEST_F(LawfuldTest, InvalidOutreachIsRejectedNamingTheField) {
  Start();
  struct Case {
    std::string name;
    v1::DecideRequest request;
    std::string field;
  };
  std::vector<Case> cases;
  {
    Case c{"missing outreach", {}, "outreach"};
    *c.request.mutable_contact() = ParseContact(kConsentingContact);
    cases.push_back(c);
  }
  {
    Case c{"empty purpose", {}, "outreach.purpose"};
    *c.request.mutable_outreach() = NewsletterByEmail();
    c.request.mutable_outreach()->clear_purpose();
    *c.request.mutable_contact() = ParseContact(kConsentingContact);
    cases.push_back(c);
  }
  {
    Case c{"undeclared purpose", {}, "purpose"};
    *c.request.mutable_outreach() = NewsletterByEmail();
    c.request.mutable_outreach()->set_purpose("telemarketing");
    *c.request.mutable_contact() = ParseContact(kConsentingContact);
    cases.push_back(c);
  }
  {
    Case c{"unspecified channel", {}, "outreach.channel"};
    *c.request.mutable_outreach() = NewsletterByEmail();
    c.request.mutable_outreach()->clear_channel();
    *c.request.mutable_contact() = ParseContact(kConsentingContact);
    cases.push_back(c);
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::DecideResponse response;
    const grpc::Status status = Decide(c.request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr(c.field));

    // The batch call checks the outreach the same way.
    v1::DecideBatchRequest batch;
    if (c.request.has_outreach()) *batch.mutable_outreach() = c.request.outreach();
    *batch.add_contacts() = c.request.contact();
    v1::DecideBatchResponse batch_response;
    const grpc::Status batch_status = DecideBatch(batch, &batch_response);
    EXPECT_EQ(batch_status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(batch_status.error_message(), HasSubstr(c.field));
  }
}

TEST_F(LawfuldTest, PinnedRuleSetVersionMustMatch) {
  Lawfuld& server = Start();
  v1::DecideRequest request;
  *request.mutable_outreach() = NewsletterByEmail();
  *request.mutable_contact() = ParseContact(kConsentingContact);
  request.set_rule_set_version(std::string(64, '0'));
  v1::DecideResponse response;
  grpc::Status status = Decide(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr(server.version()));

  request.set_rule_set_version(server.version());
  status = Decide(request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.decision().outcome(), v1::OUTCOME_ALLOW);
}

TEST_F(LawfuldTest, BatchLargerThanTheLimitIsRefused) {
  Start({"--max_batch_size=3"});
  v1::DecideBatchRequest request;
  *request.mutable_outreach() = NewsletterByEmail();
  for (int i = 0; i < 3; ++i) *request.add_contacts() = ParseContact(kConsentingContact);
  v1::DecideBatchResponse response;
  grpc::Status status = DecideBatch(request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.decisions_size(), 3);

  *request.add_contacts() = ParseContact(kConsentingContact);
  status = DecideBatch(request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("contacts"));
}

TEST_F(LawfuldTest, GetRuleSetDescribesTheServedRules) {
  Lawfuld& server = Start();
  const absl::Time now = absl::Now();
  const v1::RuleSetInfo info = GetRuleSet();
  EXPECT_EQ(info.version(), server.version());
  EXPECT_THAT(info.files(), ElementsAre("rules.lawful"));
  EXPECT_THAT(info.purposes(), ElementsAre("newsletter", "product_offer"));
  EXPECT_NEAR(static_cast<double>(info.loaded_at().seconds()),
              static_cast<double>(absl::ToUnixSeconds(now)), 60);
  EXPECT_THAT(info.last_reload_error(), IsEmpty());

  ASSERT_EQ(info.policies_size(), 1);
  const v1::PolicyInfo& policy = info.policies(0);
  EXPECT_EQ(policy.name(), "marketing");
  EXPECT_THAT(policy.purposes(), ElementsAre("newsletter", "product_offer"));
  std::vector<std::string> rules;
  for (const v1::RuleInfo& rule : policy.rules()) {
    EXPECT_EQ(rule.rule().policy(), "marketing");
    EXPECT_EQ(rule.rule().file(), "rules.lawful");
    EXPECT_EQ(rule.reason(), rule.rule().name());
    rules.push_back(absl::StrCat(rule.rule().name(), " line ", rule.rule().line(), " ",
                                 v1::Outcome_Name(rule.outcome()), " ", rule.citation()));
  }
  EXPECT_THAT(rules, ElementsAre("erasure_pending line 4 OUTCOME_DENY GDPR Art. 17(1)",
                                 "consent line 6 OUTCOME_ALLOW GDPR Art. 6(1)(a)",
                                 "no_lawful_basis line 8 OUTCOME_DENY GDPR Art. 6(1)"));
}

TEST_F(LawfuldTest, HealthServiceReportsServing) {
  Lawfuld& server = Start();
  auto health = grpc::health::v1::Health::NewStub(server.channel());
  for (const std::string service : {"", "lawful.v1.Lawful"}) {
    SCOPED_TRACE(service);
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    const grpc::Status status = health->Check(Context().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
}

TEST_F(LawfuldTest, SighupReloadsAndAFailedReloadKeepsTheOldRules) {
  Lawfuld& server = Start();
  std::string amended = kRules;
  amended.replace(amended.find("GDPR Art. 6(1)(a)"), 17, "GDPR Art. 6(1)(a), 7");
  WriteFile(rules_dir_ / "rules.lawful", amended);
  const v1::RuleSetInfo reloaded =
      ReloadUntil([&](const v1::RuleSetInfo& info) { return info.version() != server.version(); });
  EXPECT_THAT(reloaded.last_reload_error(), IsEmpty());
  EXPECT_EQ(DecideNewsletter(kConsentingContact).citation(), "GDPR Art. 6(1)(a), 7");

  WriteFile(rules_dir_ / "rules.lawful", BrokenRules());
  const v1::RuleSetInfo failed =
      ReloadUntil([](const v1::RuleSetInfo& info) { return !info.last_reload_error().empty(); });
  EXPECT_EQ(failed.version(), reloaded.version());
  EXPECT_THAT(failed.last_reload_error(), HasSubstr("rules.lawful:4:"));
  const v1::Decision still_served = DecideNewsletter(kConsentingContact);
  EXPECT_EQ(still_served.outcome(), v1::OUTCOME_ALLOW);
  EXPECT_EQ(still_served.citation(), "GDPR Art. 6(1)(a), 7");

  // Fixing the files and reloading again clears the error.
  WriteFile(rules_dir_ / "rules.lawful", kRules);
  const v1::RuleSetInfo fixed =
      ReloadUntil([](const v1::RuleSetInfo& info) { return info.last_reload_error().empty(); });
  EXPECT_EQ(fixed.version(), server.version());
}

TEST_F(LawfuldTest, SigtermExitsZeroAndTheLogHoldsNoContactData) {
  // This test's channel stays connected and idle; an idle client answers the server's GOAWAY
  // only when its backup poller runs (every 5 s), so the grace period is what bounds the exit.
  Lawfuld& server = Start({"--shutdown_grace_seconds=1"});
  DecideNewsletter(kConsentingContact);
  v1::DecideBatchRequest batch;
  *batch.mutable_outreach() = NewsletterByEmail();
  *batch.add_contacts() = ParseContact(kErasureContact);
  *batch.add_contacts() = ParseContact(kSmsOnlyContact);
  v1::DecideBatchResponse response;
  ASSERT_TRUE(DecideBatch(batch, &response).ok());

  server.process().Signal(SIGTERM);
  EXPECT_EQ(server.process().WaitExit(kExitTimeout), std::optional<int>(0));

  const std::string log = ReadFile(log_path_);
  EXPECT_THAT(log, HasSubstr("Decide contacts=1 status=OK"));
  EXPECT_THAT(log, HasSubstr("DecideBatch contacts=2 status=OK"));
  for (const char* personal :
       {"c-0001", "c-0003", "c-0004", "astrid", "maja", "example.com", "+46701234567", "k-1"}) {
    EXPECT_THAT(log, Not(HasSubstr(personal)));
  }
}

TEST_F(LawfuldTest, RulesThatDoNotCompileStopStartupWithExitTwo) {
  WriteFile(rules_dir_ / "rules.lawful", BrokenRules());
  Process process({LAWFULD_PATH, "--listen=127.0.0.1:0", "--rules=" + rules_dir_.string()},
                  Process::Options{.stdin_path = "", .stderr_path = log_path_.string()});
  ASSERT_TRUE(process.started());
  EXPECT_EQ(process.WaitExit(kExitTimeout), std::optional<int>(2));
  EXPECT_THAT(ReadFile(log_path_), HasSubstr("rules.lawful:4:"));
  EXPECT_EQ(process.ReadLine(absl::ZeroDuration()), std::nullopt);  // no startup line
}

// --- The CLI ------------------------------------------------------------------------------

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

std::vector<v1::Decision> ParseDecisions(const std::string& jsonl) {
  std::vector<v1::Decision> decisions;
  for (const std::string& line : Lines(jsonl)) {
    v1::Decision decision;
    const auto status = google::protobuf::util::JsonStringToMessage(line, &decision);
    EXPECT_TRUE(status.ok()) << status.ToString() << " in " << line;
    decisions.push_back(decision);
  }
  return decisions;
}

std::vector<std::string> Summaries(const std::vector<v1::Decision>& decisions) {
  std::vector<std::string> out;
  for (const v1::Decision& d : decisions) {
    out.push_back(absl::StrCat(d.index(), " ", d.contact_id(), " ", v1::Outcome_Name(d.outcome()),
                               " ", d.reason()));
  }
  return out;
}

class CliTest : public LawfuldTest {
 protected:
  CommandResult Eval(const std::vector<std::string>& flags, const std::string& input,
                     const std::string& stdin_path = "") {
    std::vector<std::string> argv = {LAWFUL_CLI_PATH, "eval", "--purpose=newsletter",
                                     "--channel=email", absl::StrCat("--at=", kAt)};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back(input);
    return RunCommand(argv, stdin_path);
  }
};

TEST_F(CliTest, EvalViaServerAndOfflineGiveTheSameDecisions) {
  Lawfuld& server = Start();
  const fs::path input = dir_.path() / "contacts.jsonl";
  WriteFile(input, absl::StrCat(kConsentingContact, "\n", kErasureContact, "\n\n",
                                kWithdrawnContact, "\n"));

  const CommandResult via_server = Eval({"--server=" + server.address()}, input.string());
  ASSERT_EQ(via_server.exit_code, 0) << via_server.err;
  EXPECT_THAT(Summaries(ParseDecisions(via_server.out)),
              ElementsAre("0 c-0001 OUTCOME_ALLOW consent", "1 c-0003 OUTCOME_DENY erasure_pending",
                          "2 c-0002 OUTCOME_DENY no_lawful_basis"));
  EXPECT_THAT(via_server.err, HasSubstr(server.version()));

  const CommandResult offline = Eval({"--rules=" + rules_dir_.string()}, input.string());
  ASSERT_EQ(offline.exit_code, 0) << offline.err;
  EXPECT_EQ(offline.out, via_server.out);

  // `-` reads stdin.
  const CommandResult from_stdin = Eval({"--rules=" + rules_dir_.string()}, "-", input.string());
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(from_stdin.out, via_server.out);
}

TEST_F(CliTest, EvalNumbersContactsAcrossServerChunks) {
  Lawfuld& server = Start();
  // More than two DecideBatch calls of 1000.
  constexpr int kContacts = 2345;
  std::string jsonl;
  for (int i = 0; i < kContacts; ++i) {
    jsonl += absl::StrCat(i % 3 == 0 ? kConsentingContact : kUnknownContact, "\n");
  }
  const fs::path input = dir_.path() / "many.jsonl";
  WriteFile(input, jsonl);

  const CommandResult via_server = Eval({"--server=" + server.address()}, input.string());
  ASSERT_EQ(via_server.exit_code, 0) << via_server.err;
  const std::vector<v1::Decision> decisions = ParseDecisions(via_server.out);
  ASSERT_THAT(decisions, SizeIs(kContacts));
  for (int i = 0; i < kContacts; ++i) {
    EXPECT_EQ(decisions[i].index(), static_cast<uint32_t>(i));
    EXPECT_EQ(decisions[i].outcome(), i % 3 == 0 ? v1::OUTCOME_ALLOW : v1::OUTCOME_DENY) << i;
  }
  const CommandResult offline = Eval({"--rules=" + rules_dir_.string()}, input.string());
  ASSERT_EQ(offline.exit_code, 0) << offline.err;
  EXPECT_EQ(offline.out, via_server.out);
}

TEST_F(CliTest, EvalReportsMalformedLinesAndExitsOne) {
  const fs::path input = dir_.path() / "contacts.jsonl";
  WriteFile(input, absl::StrCat(kConsentingContact, "\n", R"({"id": "c-0009", "email": )", "\n",
                                R"({"id":"c-0010","favouriteColour":"blue"})", "\n",
                                kUnknownContact, "\n"));
  const CommandResult result = Eval({"--rules=" + rules_dir_.string()}, input.string());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr(":2:"));
  EXPECT_THAT(result.err, HasSubstr(":3:"));  // unknown fields are not silently dropped
  EXPECT_THAT(
      Summaries(ParseDecisions(result.out)),
      ElementsAre("0 c-0001 OUTCOME_ALLOW consent", "1 c-0005 OUTCOME_DENY no_lawful_basis"));
}

TEST_F(CliTest, EvalRejectsBadFlags) {
  const fs::path input = dir_.path() / "contacts.jsonl";
  WriteFile(input, absl::StrCat(kConsentingContact, "\n"));
  const CommandResult fax =
      Eval({"--rules=" + rules_dir_.string(), "--channel=fax"}, input.string());
  EXPECT_EQ(fax.exit_code, 1);
  EXPECT_THAT(fax.err, HasSubstr("--channel"));
  EXPECT_THAT(fax.out, IsEmpty());

  const CommandResult neither = Eval({}, input.string());
  EXPECT_EQ(neither.exit_code, 1);
  EXPECT_THAT(neither.err, HasSubstr("--rules"));
}

TEST_F(CliTest, CheckReportsErrorsWithTheirLocation) {
  const CommandResult ok = RunCommand({LAWFUL_CLI_PATH, "check", rules_dir_.string()});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_THAT(ok.out, HasSubstr("ok"));

  WriteFile(rules_dir_ / "rules.lawful", BrokenRules());
  const CommandResult broken = RunCommand({LAWFUL_CLI_PATH, "check", rules_dir_.string()});
  EXPECT_EQ(broken.exit_code, 2);
  EXPECT_TRUE(
      std::regex_search(broken.out + broken.err, std::regex(R"(rules\.lawful:4:\d+: error: )")))
      << broken.out << broken.err;
  EXPECT_THAT(broken.err, HasSubstr("erasure_requsted_at"));
}

// `lawful check` on the rule author's commonest mistakes: a located, one-sentence error, exit 2.
TEST_F(CliTest, CheckLocatesTyposTypeErrorsMissingBracesAndUnknownFields) {
  struct Mistake {
    const char* from;
    const char* to;
    const char* want;  // file:line:col: error: message
  };
  const Mistake mistakes[] = {
      {"deny erasure_pending when", "deny erasure_pending whn",
       "rules.lawful:4:24: error: expected `when` followed by the rule's condition"},
      {"contact.erasure_requested_at <= at", "contact.email <= at",
       "rules.lawful:4:37: error: only numbers, instants and dates can be ordered, not a text"},
      {"    cite \"GDPR Art. 6(1)\"\n}", "    cite \"GDPR Art. 6(1)\"\n",
       "rules.lawful:11:1: error: expected `}` to close the policy (nothing may follow its `otherwise` rule)"},
      {"erasure_requested_at", "erasure_requsted_at",
       "rules.lawful:4:37: error: contact has no field `erasure_requsted_at`; did you mean `erasure_requested_at`?"},
  };
  for (const Mistake& m : mistakes) {
    std::string rules = kRules;
    rules.replace(rules.find(m.from), std::strlen(m.from), m.to);
    WriteFile(rules_dir_ / "rules.lawful", rules);
    const CommandResult result = RunCommand({LAWFUL_CLI_PATH, "check", rules_dir_.string()});
    EXPECT_EQ(result.exit_code, 2) << m.to;
    EXPECT_THAT(result.err, HasSubstr(m.want)) << result.err;
    // The source line and a caret follow the message.
    EXPECT_THAT(result.err, HasSubstr("^")) << result.err;
  }
}

TEST_F(CliTest, TestRunsFixturesAndReportsFailures) {
  fs::create_directories(rules_dir_ / "fixtures");
  WriteFile(rules_dir_ / "fixtures" / "cases.yaml", R"yaml(
- note: A consent for the newsletter by e-mail allows it.
  outreach: {purpose: newsletter, channel: email, at: 2026-03-02T09:00:00Z}
  contact:
    consents: [{purpose: newsletter, channel: email, granted_at: 2025-05-01T10:00:00Z}]
  expect: {decision: allow, reason: consent, citation: "GDPR Art. 6(1)(a)"}
- note: Deliberately wrong, to see the failure reported.
  outreach: {purpose: newsletter, channel: email, at: 2026-03-02T09:00:00Z}
  contact: {}
  expect: {decision: allow, reason: consent}
)yaml");
  const CommandResult result = RunCommand({LAWFUL_CLI_PATH, "test", "--coverage", rules_dir_.string()});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_THAT(result.out, HasSubstr("cases.yaml:7: FAIL"));
  EXPECT_THAT(result.out, HasSubstr("no_lawful_basis"));
  EXPECT_THAT(result.out, HasSubstr("erasure_pending"));  // never reached: listed by --coverage
  EXPECT_THAT(result.out, HasSubstr("1 passed, 1 failed"));
}

TEST_F(CliTest, FmtCheckFindsNonCanonicalFiles) {
  const CommandResult canonical = RunCommand({LAWFUL_CLI_PATH, "fmt", "--check", rules_dir_.string()});
  EXPECT_EQ(canonical.exit_code, 0) << canonical.out << canonical.err;
  WriteFile(rules_dir_ / "rules.lawful", std::string("purpose   newsletter\n"));
  const CommandResult check = RunCommand({LAWFUL_CLI_PATH, "fmt", "--check", rules_dir_.string()});
  EXPECT_EQ(check.exit_code, 1);
  const CommandResult fix = RunCommand({LAWFUL_CLI_PATH, "fmt", rules_dir_.string()});
  EXPECT_EQ(fix.exit_code, 0) << fix.err;
  EXPECT_EQ(ReadFile(rules_dir_ / "rules.lawful"), "purpose newsletter\n");
  const CommandResult again = RunCommand({LAWFUL_CLI_PATH, "fmt", "--check", rules_dir_.string()});
  EXPECT_EQ(again.exit_code, 0);
}

TEST_F(CliTest, DisasmPrintsTheProgram) {
  const CommandResult result = RunCommand({LAWFUL_CLI_PATH, "disasm", rules_dir_.string()});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  // The listing quotes the source lines the code came from.
  EXPECT_THAT(result.out, HasSubstr("otherwise deny no_lawful_basis"));
}

TEST_F(CliTest, HelpListsSubcommands) {
  const CommandResult help = RunCommand({LAWFUL_CLI_PATH, "help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* subcommand : {"check", "disasm", "eval"}) {
    EXPECT_THAT(help.out, HasSubstr(absl::StrCat("lawful ", subcommand)));
  }
  const CommandResult eval_help = RunCommand({LAWFUL_CLI_PATH, "eval", "--help"});
  EXPECT_THAT(eval_help.out, HasSubstr("--purpose"));

  const CommandResult unknown = RunCommand({LAWFUL_CLI_PATH, "frobnicate"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_THAT(unknown.err, HasSubstr("frobnicate"));
}

}  // namespace
}  // namespace lawful::testing
