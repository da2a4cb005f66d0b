// End-to-end: a real lawfuld on a free port, its rules in a temporary directory, called through
// the generated stubs and through the lawful CLI.
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/util/json_util.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "lawful/testkit.h"
#include "lawful/v1/service.grpc.pb.h"
#include "lawfuld.h"

namespace lawful::testing {
namespace {

using ::lawful::testkit::CommandResult;
using ::lawful::testkit::Process;
using ::lawful::testkit::ReadFile;
using ::lawful::testkit::RunCommand;
using ::lawful::testkit::RunEval;
using ::lawful::testkit::TempDir;
using ::lawful::testkit::WriteFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

namespace fs = std::filesystem;

// Generous for a sanitizer build on a loaded 2-core machine, still bounded.
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
  Lawfuld& Start(const std::vector<std::string>& extra_flags = {},
                 std::shared_ptr<grpc::ChannelCredentials> credentials = nullptr,
                 const grpc::ChannelArguments& arguments = {}) {
    server_ = std::make_unique<Lawfuld>(rules_dir_, log_path_, extra_flags, credentials, arguments);
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

// A load balancer watching health sees SERVING while lawfuld serves, then NOT_SERVING as soon as
// it starts shutting down (before in-flight calls are cut), so it stops sending new work first.
TEST_F(LawfuldTest, HealthTurnsNotServingWhenShutdownBegins) {
  Lawfuld& server = Start({"--shutdown_grace_seconds=2"});
  auto health = grpc::health::v1::Health::NewStub(server.channel());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(kCallTimeout));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service("lawful.v1.Lawful");
  auto watch = health->Watch(&context, request);
  grpc::health::v1::HealthCheckResponse update;
  ASSERT_TRUE(watch->Read(&update));
  EXPECT_EQ(update.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  server.process().Signal(SIGTERM);
  std::vector<int> seen;
  while (watch->Read(&update)) seen.push_back(update.status());
  EXPECT_THAT(seen, ::testing::Contains(grpc::health::v1::HealthCheckResponse::NOT_SERVING));
  context.TryCancel();
  (void)watch->Finish();
  EXPECT_EQ(server.process().WaitExit(kExitTimeout), std::optional<int>(0));
}

// A client keeps deciding batches while the rules are swapped 20 times, half of the new files
// broken: no call fails, and every answer comes from one whole rule set (all of its decisions
// cite the same version of the rules, and a version always means the same rules).
TEST_F(LawfuldTest, ReloadsUnderLoadNeverFailACallNorMixRuleSets) {
  Lawfuld& server = Start({"--watch_interval=0", "--worker_threads=1"});
  auto tagged = [](int version) {
    std::string rules = kRules;
    for (size_t at = rules.find("cite \""); at != std::string::npos;
         at = rules.find("cite \"", at + 1)) {
      const size_t end = rules.find('"', at + 6);
      rules.insert(end, absl::StrCat(" [v", version, "]"));
    }
    return rules;
  };
  v1::DecideBatchRequest request;
  *request.mutable_outreach() = NewsletterByEmail();
  for (const char* contact :
       {kConsentingContact, kWithdrawnContact, kConsentingContact, kWithdrawnContact}) {
    *request.add_contacts() = ParseContact(contact);
  }

  std::atomic<bool> stop{false};
  std::atomic<int> calls{0}, failures{0}, mixed{0};
  std::mutex mu;
  std::map<std::string, std::string> tag_of_version;  // guarded by mu
  std::set<std::string> tags;                         // guarded by mu
  std::string first_problem;                          // guarded by mu
  std::thread client([&] {
    while (!stop.load()) {
      v1::DecideBatchResponse response;
      const grpc::Status status = server.stub().DecideBatch(Context().get(), request, &response);
      ++calls;
      if (!status.ok()) {
        ++failures;
        std::lock_guard lock(mu);
        if (first_problem.empty()) first_problem = status.error_message();
        continue;
      }
      // The tag a citation carries: "" for the rules the server started with.
      auto tag = [](const std::string& citation) {
        const size_t open = citation.find(" [v");
        return open == std::string::npos ? std::string() : citation.substr(open);
      };
      const std::string first = tag(response.decisions(0).citation());
      std::lock_guard lock(mu);
      for (const v1::Decision& d : response.decisions()) {
        if (tag(d.citation()) != first) ++mixed;
      }
      auto [it, inserted] = tag_of_version.emplace(response.rule_set_version(), first);
      if (!inserted && it->second != first) ++mixed;
      tags.insert(first);
    }
  });
  for (int swap = 0; swap < 20; ++swap) {
    WriteFile(rules_dir_ / "rules.lawful", swap % 2 == 0 ? tagged(swap / 2) : BrokenRules());
    server.process().Signal(SIGHUP);
    absl::SleepFor(absl::Milliseconds(150));
  }
  stop = true;
  client.join();
  std::lock_guard lock(mu);
  EXPECT_EQ(failures.load(), 0) << first_problem;
  EXPECT_EQ(mixed.load(), 0);
  EXPECT_GT(calls.load(), 20);
  EXPECT_GE(tags.size(), 3u) << "the swaps were not seen by the client";
  EXPECT_THAT(GetRuleSet().last_reload_error(),
              HasSubstr("rules.lawful:4:"));  // the last was broken
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
  Process process(
      {LAWFULD_PATH, "--listen=127.0.0.1:0", "--rules=" + rules_dir_.string()},
      Process::Options{.stdin_path = "", .stderr_path = log_path_.string(), .working_dir = ""});
  ASSERT_TRUE(process.started());
  EXPECT_EQ(process.WaitExit(kExitTimeout), std::optional<int>(2));
  EXPECT_THAT(ReadFile(log_path_), HasSubstr("rules.lawful:4:"));
  EXPECT_EQ(process.ReadLine(absl::ZeroDuration()), std::nullopt);  // no startup line
}

// --- The CLI ------------------------------------------------------------------------------

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

// --- Per-contact validation ------------------------------------------------------------------

// A consent whose only flaw is the one the case names.
constexpr char kValidConsent[] =
    R"({"id":"k-9","purpose":"newsletter","channel":"CHANNEL_EMAIL","grantedAt":"2025-05-01T10:00:00Z"})";

TEST_F(LawfuldTest, ContactMissingARequiredFieldGetsItsOwnErrorDecision) {
  Start();
  struct Case {
    std::string json;
    std::string field_path;
  };
  const std::vector<Case> cases = {
      {absl::StrCat(R"({"id":"c-0101","consents":[)", kValidConsent,
                    R"(,{"channel":"CHANNEL_EMAIL","grantedAt":"2025-05-01T10:00:00Z"}]})"),
       "consents[1].purpose"},
      {R"({"id":"c-0102","consents":[{"purpose":"newsletter","grantedAt":"2025-05-01T10:00:00Z"}]})",
       "consents[0].channel"},
      // Without the check this contact would be allowed: the missing granted_at reads as "never".
      {absl::StrCat(R"({"id":"c-0103","consents":[)", kValidConsent, ",", kValidConsent,
                    R"(,{"purpose":"newsletter","channel":"CHANNEL_EMAIL"}]})"),
       "consents[2].granted_at"},
      {absl::StrCat(R"({"id":"c-0104","consents":[)", kValidConsent,
                    R"(],"objections":[{"lodgedAt":"2025-06-01T10:00:00Z"}]})"),
       "objections[0].scope"},
      {absl::StrCat(R"({"id":"c-0105","consents":[)", kValidConsent,
                    R"(],"objections":[{"scope":"OBJECTION_SCOPE_DIRECT_MARKETING"}]})"),
       "objections[0].lodged_at"},
  };
  v1::DecideBatchRequest batch;
  *batch.mutable_outreach() = NewsletterByEmail();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field_path);
    const v1::Decision decision = DecideNewsletter(c.json);
    EXPECT_EQ(decision.outcome(), v1::OUTCOME_ERROR);
    EXPECT_EQ(decision.error().field_path(), c.field_path);
    EXPECT_THAT(decision.error().message(), Not(IsEmpty()));
    EXPECT_EQ(decision.index(), 0u);
    *batch.add_contacts() = ParseContact(kConsentingContact);
    *batch.add_contacts() = ParseContact(c.json);
  }

  // In a batch the invalid contacts get their errors and positions; the others are decided.
  v1::DecideBatchResponse response;
  const grpc::Status status = DecideBatch(batch, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.decisions_size(), 2 * static_cast<int>(cases.size()));
  for (size_t i = 0; i < cases.size(); ++i) {
    const v1::Decision& valid = response.decisions(static_cast<int>(2 * i));
    const v1::Decision& invalid = response.decisions(static_cast<int>(2 * i + 1));
    EXPECT_EQ(valid.outcome(), v1::OUTCOME_ALLOW);
    EXPECT_EQ(invalid.outcome(), v1::OUTCOME_ERROR);
    EXPECT_EQ(invalid.index(), 2 * i + 1);
    EXPECT_EQ(invalid.error().field_path(), cases[i].field_path);
  }
  ASSERT_EQ(response.summary_size(), 2);
  EXPECT_EQ(response.summary(0).count(), cases.size());
  EXPECT_EQ(response.summary(1).count(), cases.size());
}

// --- DecideStream ----------------------------------------------------------------------------

using Stream = grpc::ClientReaderWriter<v1::DecideStreamRequest, v1::DecideStreamResponse>;

v1::DecideStreamRequest StartMessage(const v1::Outreach& outreach,
                                     const std::string& pinned_version = "") {
  v1::DecideStreamRequest request;
  *request.mutable_start()->mutable_outreach() = outreach;
  request.mutable_start()->set_rule_set_version(pinned_version);
  return request;
}

v1::DecideStreamRequest ChunkMessage(const std::vector<std::string>& contacts_json) {
  v1::DecideStreamRequest request;
  request.mutable_contacts();  // an empty chunk is still a chunk
  for (const std::string& json : contacts_json) {
    *request.mutable_contacts()->add_contacts() = ParseContact(json);
  }
  return request;
}

// Sends `requests`, half-closes, and reads until the end; returns the final status.
grpc::Status RunStream(v1::Lawful::Stub& stub, const std::vector<v1::DecideStreamRequest>& requests,
                       std::vector<v1::DecideStreamResponse>* responses) {
  auto context = Context();
  std::unique_ptr<Stream> stream = stub.DecideStream(context.get());
  for (const v1::DecideStreamRequest& request : requests) {
    if (!stream->Write(request)) break;  // the server ended the stream; Finish() says why
  }
  stream->WritesDone();
  v1::DecideStreamResponse response;
  while (stream->Read(&response)) responses->push_back(response);
  return stream->Finish();
}

std::string DecisionLine(const v1::Decision& d) {
  return absl::StrCat(d.index(), " ", d.contact_id(), " ", v1::Outcome_Name(d.outcome()), " ",
                      d.outcome() == v1::OUTCOME_ERROR ? d.error().field_path() : d.reason());
}

TEST_F(LawfuldTest, DecideStreamAnswersEachChunkInOrderWithOneRuleSetAndASummary) {
  Lawfuld& server = Start();
  const std::string invalid =
      R"({"id":"c-0106","consents":[{"purpose":"newsletter","channel":"CHANNEL_EMAIL"}]})";
  auto context = Context();
  std::unique_ptr<Stream> stream = server.stub().DecideStream(context.get());
  ASSERT_TRUE(stream->Write(StartMessage(NewsletterByEmail(), server.version())));

  std::vector<std::vector<std::string>> decision_chunks;
  auto exchange = [&](const std::vector<std::string>& contacts) {
    ASSERT_TRUE(stream->Write(ChunkMessage(contacts)));
    v1::DecideStreamResponse response;
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_TRUE(response.has_decisions());
    std::vector<std::string> lines;
    for (const v1::Decision& d : response.decisions().decisions()) lines.push_back(DecisionLine(d));
    decision_chunks.push_back(lines);
  };
  exchange({kUnknownContact, kConsentingContact});

  // A reload in the middle of the stream does not change the rules deciding it.
  std::string amended = kRules;
  amended.replace(amended.find("GDPR Art. 6(1)(a)"), 17, "GDPR Art. 6(1)(a), 7");
  WriteFile(rules_dir_ / "rules.lawful", amended);
  ReloadUntil([&](const v1::RuleSetInfo& info) { return info.version() != server.version(); });

  exchange({});
  exchange({kErasureContact, invalid, kConsentingContact});
  ASSERT_TRUE(stream->WritesDone());
  v1::DecideStreamResponse last;
  ASSERT_TRUE(stream->Read(&last));
  ASSERT_TRUE(last.has_summary());
  v1::DecideStreamResponse none;
  EXPECT_FALSE(stream->Read(&none));
  const grpc::Status status = stream->Finish();
  ASSERT_TRUE(status.ok()) << status.error_message();

  EXPECT_THAT(decision_chunks,
              ElementsAre(ElementsAre("0 c-0005 OUTCOME_DENY no_lawful_basis",
                                      "1 c-0001 OUTCOME_ALLOW consent"),
                          IsEmpty(),
                          ElementsAre("2 c-0003 OUTCOME_DENY erasure_pending",
                                      "3 c-0106 OUTCOME_ERROR consents[0].granted_at",
                                      "4 c-0001 OUTCOME_ALLOW consent")));
  const v1::StreamSummary& summary = last.summary();
  EXPECT_EQ(summary.contacts(), 5u);
  EXPECT_EQ(summary.rule_set_version(), server.version());
  EXPECT_EQ(summary.at().seconds(), Timestamp(kAt).seconds());
  std::vector<std::string> counts;
  for (const v1::ReasonCount& count : summary.summary()) {
    counts.push_back(
        absl::StrCat(v1::Outcome_Name(count.outcome()), " ", count.reason(), " ", count.count()));
  }
  EXPECT_THAT(counts, ElementsAre("OUTCOME_ALLOW consent 2", "OUTCOME_DENY erasure_pending 1",
                                  "OUTCOME_DENY no_lawful_basis 1", "OUTCOME_ERROR  1"));
  // The citation of the rule set the stream started with, not of the reloaded one.
  std::vector<v1::DecideStreamResponse> after;
  ASSERT_TRUE(RunStream(server.stub(),
                        {StartMessage(NewsletterByEmail()), ChunkMessage({kConsentingContact})},
                        &after)
                  .ok());
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].decisions().decisions(0).citation(), "GDPR Art. 6(1)(a), 7");
  EXPECT_NE(after[1].summary().rule_set_version(), server.version());
}

TEST_F(LawfuldTest, DecideStreamRejectsBadStreamsNamingTheField) {
  Lawfuld& server = Start({"--max_batch_size=3"});
  v1::Outreach no_purpose = NewsletterByEmail();
  no_purpose.clear_purpose();
  v1::Outreach no_channel = NewsletterByEmail();
  no_channel.clear_channel();
  v1::Outreach undeclared = NewsletterByEmail();
  undeclared.set_purpose("telemarketing");
  const v1::DecideStreamRequest chunk = ChunkMessage({kConsentingContact});
  struct Case {
    std::string name;
    std::vector<v1::DecideStreamRequest> requests;
    grpc::StatusCode code;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"chunk first", {chunk}, grpc::StatusCode::INVALID_ARGUMENT, "start"},
      {"nothing sent", {}, grpc::StatusCode::INVALID_ARGUMENT, "start"},
      {"no purpose",
       {StartMessage(no_purpose), chunk},
       grpc::StatusCode::INVALID_ARGUMENT,
       "start.outreach.purpose"},
      {"no channel",
       {StartMessage(no_channel), chunk},
       grpc::StatusCode::INVALID_ARGUMENT,
       "start.outreach.channel"},
      {"undeclared purpose",
       {StartMessage(undeclared), chunk},
       grpc::StatusCode::INVALID_ARGUMENT,
       "telemarketing"},
      {"second start",
       {StartMessage(NewsletterByEmail()), StartMessage(NewsletterByEmail())},
       grpc::StatusCode::INVALID_ARGUMENT,
       "start"},
      {"chunk over the limit",
       {StartMessage(NewsletterByEmail()), ChunkMessage({kConsentingContact, kConsentingContact,
                                                         kConsentingContact, kConsentingContact})},
       grpc::StatusCode::RESOURCE_EXHAUSTED,
       "contacts"},
      {"pinned version",
       {StartMessage(NewsletterByEmail(), std::string(64, '0')), chunk},
       grpc::StatusCode::FAILED_PRECONDITION,
       server.version()},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<v1::DecideStreamResponse> responses;
    const grpc::Status status = RunStream(server.stub(), c.requests, &responses);
    EXPECT_EQ(status.error_code(), c.code) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
    for (const v1::DecideStreamResponse& response : responses) EXPECT_FALSE(response.has_summary());
  }
  // A chunk at the limit is fine.
  std::vector<v1::DecideStreamResponse> responses;
  const grpc::Status ok =
      RunStream(server.stub(),
                {StartMessage(NewsletterByEmail()),
                 ChunkMessage({kConsentingContact, kConsentingContact, kConsentingContact})},
                &responses);
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  ASSERT_EQ(responses.size(), 2u);
  EXPECT_EQ(responses[1].summary().contacts(), 3u);
}

// The server reads the next chunk only after writing the answer to the previous one: a client
// that writes without reading is held back by flow control instead of filling the server's
// memory. Contacts with long ids make the answers large so the transport's buffers fill quickly.
TEST_F(LawfuldTest, DecideStreamHoldsBackAWriterThatDoesNotRead) {
  Lawfuld& server = Start();
  constexpr int kChunks = 400;
  constexpr int kPerChunk = 100;
  v1::DecideStreamRequest chunk;
  for (int i = 0; i < kPerChunk; ++i) {
    v1::Contact* contact = chunk.mutable_contacts()->add_contacts();
    *contact = ParseContact(kConsentingContact);
    contact->set_id(std::string(4000, 'x'));
  }
  grpc::ClientContext context;  // no deadline: the writer may be held back on purpose
  std::unique_ptr<Stream> stream = server.stub().DecideStream(&context);
  ASSERT_TRUE(stream->Write(StartMessage(NewsletterByEmail())));
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; i < kChunks; ++i) {
      if (!stream->Write(chunk)) return;
      ++written;
    }
    stream->WritesDone();
  });
  // Unbounded buffering would take all 400 chunks (160 MB of answers) in well under this time.
  absl::SleepFor(absl::Seconds(3));
  const int held_at = written.load();
  EXPECT_LT(held_at, kChunks);

  // Reading releases the writer; every chunk is answered, in order.
  int chunks = 0;
  uint64_t next_index = 0;
  v1::DecideStreamResponse response;
  bool summary = false;
  while (stream->Read(&response)) {
    if (response.has_summary()) {
      summary = true;
      EXPECT_EQ(response.summary().contacts(), uint64_t{kChunks} * kPerChunk);
      continue;
    }
    ++chunks;
    for (const v1::Decision& d : response.decisions().decisions()) {
      if (d.index() != next_index) ADD_FAILURE() << "index " << d.index() << " at " << next_index;
      ++next_index;
    }
  }
  writer.join();
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(chunks, kChunks);
  EXPECT_TRUE(summary);
  EXPECT_EQ(written.load(), kChunks);
}

// Counts the log lines of `method` calls that ended with `status`.
int CountLogLines(const fs::path& log_path, const std::string& method, const std::string& status) {
  int count = 0;
  const std::regex line(absl::StrCat("lawfuld: ", method, " contacts=\\d+ status=", status, " "));
  for (const std::string& text : Lines(ReadFile(log_path))) count += std::regex_search(text, line);
  return count;
}

template <typename Predicate>
bool WaitFor(Predicate done, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(50));
  }
  return true;
}

TEST_F(LawfuldTest, CancelledStreamEndsOnTheServer) {
  Lawfuld& server = Start();
  grpc::ClientContext context;
  std::unique_ptr<Stream> stream = server.stub().DecideStream(&context);
  ASSERT_TRUE(stream->Write(StartMessage(NewsletterByEmail())));
  ASSERT_TRUE(stream->Write(ChunkMessage({kConsentingContact})));
  v1::DecideStreamResponse response;
  ASSERT_TRUE(stream->Read(&response));
  context.TryCancel();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
  // The server ends its side (and logs it) without waiting for a half-close that never comes.
  EXPECT_TRUE(WaitFor([&] { return CountLogLines(log_path_, "DecideStream", "CANCELLED") == 1; },
                      kCallTimeout))
      << ReadFile(log_path_);
}

// --- Deadlines --------------------------------------------------------------------------------

// DecideBatch as raw bytes, for requests the generated stub cannot produce.
grpc::Status CallDecideBatchRaw(const std::shared_ptr<grpc::Channel>& channel,
                                const std::string& bytes,
                                v1::DecideBatchResponse* answer = nullptr) {
  grpc::GenericStub stub(channel);
  grpc::Slice slice(bytes);
  const grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  std::unique_ptr<grpc::ClientContext> context = Context();
  stub.UnaryCall(context.get(), "/lawful.v1.Lawful/DecideBatch", grpc::StubOptions(), &request,
                 &response, [&done](grpc::Status status) { done.set_value(std::move(status)); });
  const grpc::Status status = done.get_future().get();
  if (answer != nullptr && status.ok()) {
    std::vector<grpc::Slice> slices;
    std::string bytes_back;
    if (response.Dump(&slices).ok()) {
      for (const grpc::Slice& s : slices)
        bytes_back.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    answer->ParseFromString(bytes_back);
  }
  return status;
}

TEST_F(LawfuldTest, DecideBatchRefusesMalformedRequestsAndAnswersMalformedContactsWithErrors) {
  Start();
  // Not a message at all: a tag with wire type 7.
  grpc::Status status = CallDecideBatchRaw(server_->channel(), std::string("\xff\xff\x07", 3));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();

  // A contact whose length runs past the end of the request: the envelope cannot be read.
  v1::DecideBatchRequest batch;
  *batch.mutable_outreach() = NewsletterByEmail();
  *batch.add_contacts() = ParseContact(kConsentingContact);
  const std::string well_formed = batch.SerializeAsString();
  status = CallDecideBatchRaw(server_->channel(), well_formed + std::string("\x12\x40\x0a", 3));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("contacts"));

  // The second contact's consent claims more bytes than the contact holds: that contact is its
  // own ERROR, naming the record, and the first is decided.
  const char broken[] = {0x12, 0x03, 0x42, 0x05, 0x12};  // contacts: {consents: 5 bytes of 1}
  v1::DecideBatchResponse response;
  status = CallDecideBatchRaw(server_->channel(), well_formed + std::string(broken, sizeof(broken)),
                              &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.decisions_size(), 2);
  EXPECT_EQ(response.decisions(0).outcome(), v1::OUTCOME_ALLOW);
  EXPECT_EQ(response.decisions(1).outcome(), v1::OUTCOME_ERROR);
  EXPECT_EQ(response.decisions(1).index(), 1u);
  EXPECT_EQ(response.decisions(1).error().field_path(), "consents[0]");
  EXPECT_THAT(response.decisions(1).error().message(), HasSubstr("malformed"));
}

TEST_F(LawfuldTest, ParseOnlyAnswersDecideBatchWithTheVersionAlone) {
  Start({"--parse_only"});
  v1::DecideBatchRequest batch;
  *batch.mutable_outreach() = NewsletterByEmail();
  *batch.add_contacts() = ParseContact(kConsentingContact);
  *batch.add_contacts() = ParseContact(kConsentingContact);
  v1::DecideBatchResponse response;
  const grpc::Status status = DecideBatch(batch, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.rule_set_version(), server_->version());
  EXPECT_EQ(response.decisions_size(), 0);
  EXPECT_EQ(response.summary_size(), 0);
}

TEST_F(LawfuldTest, DecideBatchPastItsDeadlineIsAbandoned) {
  Lawfuld& server = Start();
  v1::DecideBatchRequest request;
  *request.mutable_outreach() = NewsletterByEmail();
  for (int i = 0; i < 100000; ++i) *request.add_contacts() = ParseContact(kConsentingContact);

  // The answer is larger than a client accepts by default.
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(-1);
  auto stub = v1::Lawful::NewStub(
      grpc::CreateCustomChannel(server.address(), grpc::InsecureChannelCredentials(), arguments));

  // How long the call takes end to end, and how long of that the server spends deciding.
  v1::DecideBatchResponse response;
  const absl::Time begin = absl::Now();
  const grpc::Status first = stub->DecideBatch(Context().get(), request, &response);
  ASSERT_TRUE(first.ok()) << first.error_message();
  const absl::Duration total = absl::Now() - begin;
  std::smatch match;
  const std::string log = ReadFile(log_path_);
  ASSERT_TRUE(std::regex_search(
      log, match, std::regex(R"(DecideBatch contacts=100000 status=OK duration_ms=([0-9.]+))")))
      << log;
  const absl::Duration deciding = absl::Milliseconds(std::stod(match[1].str()));

  // Deadlines that pass while the server decides: it stops between slices and says so. When the
  // server's work starts within the call is not known (and a loaded machine moves it), so
  // deadlines are swept across the whole call, a twentieth of it apart, until one lands inside the
  // deciding (which takes most of the call); each is a real call, so an early OK proves nothing
  // about the later ones. At most 30 calls.
  int abandoned = 0;
  const absl::Duration step = std::max(total / 20, absl::Milliseconds(1));
  EXPECT_GT(deciding, step) << "the sweep could step over the deciding";
  for (absl::Duration after = step; after < total * 1.5 && abandoned == 0; after += step) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + after));
    const grpc::Status status = stub->DecideBatch(&context, request, &response);
    if (status.ok()) continue;
    EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
    WaitFor(
        [&] {
          return (abandoned = CountLogLines(log_path_, "DecideBatch", "DEADLINE_EXCEEDED")) > 0;
        },
        absl::Milliseconds(300));
  }
  EXPECT_GT(abandoned, 0) << ReadFile(log_path_);
  // The server is still serving.
  EXPECT_EQ(DecideNewsletter(kConsentingContact).outcome(), v1::OUTCOME_ALLOW);
}

// --- Watching the rules directory -------------------------------------------------------------

TEST_F(LawfuldTest, WatcherReloadsChangedRulesAndKeepsThemWhenBroken) {
  Lawfuld& server = Start({"--watch_interval=1"});
  std::string amended = kRules;
  amended.replace(amended.find("GDPR Art. 6(1)(a)"), 17, "GDPR Art. 6(1)(a), 7");
  WriteFile(rules_dir_ / "rules.lawful", amended);
  std::string reloaded_version;
  EXPECT_TRUE(WaitFor(
      [&] {
        reloaded_version = GetRuleSet().version();
        return reloaded_version != server.version();
      },
      kCallTimeout));
  EXPECT_EQ(DecideNewsletter(kConsentingContact).citation(), "GDPR Art. 6(1)(a), 7");

  WriteFile(rules_dir_ / "rules.lawful", BrokenRules());
  v1::RuleSetInfo failed;
  EXPECT_TRUE(WaitFor(
      [&] {
        failed = GetRuleSet();
        return !failed.last_reload_error().empty();
      },
      kCallTimeout));
  EXPECT_EQ(failed.version(), reloaded_version);
  EXPECT_THAT(failed.last_reload_error(), HasSubstr("rules.lawful:4:"));
  EXPECT_EQ(DecideNewsletter(kConsentingContact).outcome(), v1::OUTCOME_ALLOW);

  // A new file is a change too.
  WriteFile(rules_dir_ / "rules.lawful", kRules);
  WriteFile(rules_dir_ / "more.lawful", "purpose service_notice\n");
  EXPECT_TRUE(WaitFor(
      [&] {
        const v1::RuleSetInfo info = GetRuleSet();
        return info.files_size() == 2 && info.last_reload_error().empty();
      },
      kCallTimeout));
}

TEST_F(LawfuldTest, WatchIntervalZeroLeavesReloadsToSighup) {
  Lawfuld& server = Start({"--watch_interval=0"});
  std::string amended = kRules;
  amended.replace(amended.find("GDPR Art. 6(1)(a)"), 17, "GDPR Art. 6(1)(a), 7");
  WriteFile(rules_dir_ / "rules.lawful", amended);
  // Longer than the default interval: a watcher would have reloaded by now.
  absl::SleepFor(absl::Seconds(3));
  EXPECT_EQ(GetRuleSet().version(), server.version());
  ReloadUntil([&](const v1::RuleSetInfo& info) { return info.version() != server.version(); });
}

// --- TLS ----------------------------------------------------------------------------------------

// A channel's first call fails fast instead of waiting for a connection that will not come.
grpc::Status TryDecide(const std::string& address,
                       const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                       v1::DecideResponse* response) {
  grpc::ChannelArguments arguments;
  arguments.SetSslTargetNameOverride("localhost");
  auto stub = v1::Lawful::NewStub(grpc::CreateCustomChannel(address, credentials, arguments));
  v1::DecideRequest request;
  *request.mutable_outreach() = NewsletterByEmail();
  *request.mutable_contact() = ParseContact(kConsentingContact);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return stub->Decide(&context, request, response);
}

TEST_F(LawfuldTest, MutualTlsServesClientsWithACertificateOnly) {
  const fs::path cert_dir = dir_.path() / "certs";
  fs::create_directory(cert_dir);
  const Certificates certs(cert_dir);
  ASSERT_THAT(certs.error(), IsEmpty());
  grpc::ChannelArguments arguments;
  arguments.SetSslTargetNameOverride("localhost");
  Lawfuld& server =
      Start({"--tls_cert=" + certs.Path("server.crt"), "--tls_key=" + certs.Path("server.key"),
             "--tls_client_ca=" + certs.Path("ca.crt")},
            certs.Client(/*with_certificate=*/true), arguments);
  ASSERT_THAT(server.error(), IsEmpty());

  v1::DecideResponse response;
  const grpc::Status served = TryDecide(server.address(), certs.Client(true), &response);
  ASSERT_TRUE(served.ok()) << served.error_message();
  EXPECT_EQ(response.decision().outcome(), v1::OUTCOME_ALLOW);

  const grpc::Status no_certificate = TryDecide(server.address(), certs.Client(false), &response);
  EXPECT_FALSE(no_certificate.ok());
  EXPECT_NE(no_certificate.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const grpc::Status plaintext =
      TryDecide(server.address(), grpc::InsecureChannelCredentials(), &response);
  EXPECT_FALSE(plaintext.ok());
  EXPECT_EQ(CountLogLines(log_path_, "Decide", "OK"), 1);
}

TEST_F(LawfuldTest, TlsWithoutClientCaServesAnyTlsClientButNoPlaintext) {
  const fs::path cert_dir = dir_.path() / "certs";
  fs::create_directory(cert_dir);
  const Certificates certs(cert_dir);
  ASSERT_THAT(certs.error(), IsEmpty());
  grpc::ChannelArguments arguments;
  arguments.SetSslTargetNameOverride("localhost");
  Lawfuld& server =
      Start({"--tls_cert=" + certs.Path("server.crt"), "--tls_key=" + certs.Path("server.key")},
            certs.Client(false), arguments);
  ASSERT_THAT(server.error(), IsEmpty());
  v1::DecideResponse response;
  const grpc::Status served = TryDecide(server.address(), certs.Client(false), &response);
  EXPECT_TRUE(served.ok()) << served.error_message();
  EXPECT_FALSE(TryDecide(server.address(), grpc::InsecureChannelCredentials(), &response).ok());

  // Half a key pair is a startup error, not a silent fall-back to plaintext.
  const CommandResult half =
      RunCommand({LAWFULD_PATH, "--listen=127.0.0.1:0", "--rules=" + rules_dir_.string(),
                  "--tls_cert=" + certs.Path("server.crt")});
  EXPECT_EQ(half.exit_code, 1);
  EXPECT_THAT(half.err, HasSubstr("--tls_key"));
}

// --- Load balancing -------------------------------------------------------------------------

TEST_F(LawfuldTest, RoundRobinSpreadsCallsOverTwoServers) {
  const fs::path log_a = dir_.path() / "a.log";
  const fs::path log_b = dir_.path() / "b.log";
  Lawfuld a(rules_dir_, log_a);
  Lawfuld b(rules_dir_, log_b);
  ASSERT_THAT(a.error(), IsEmpty());
  ASSERT_THAT(b.error(), IsEmpty());
  auto port = [](const std::string& address) { return address.substr(address.rfind(':') + 1); };

  grpc::ChannelArguments arguments;
  arguments.SetServiceConfigJSON(R"({"loadBalancingConfig":[{"round_robin":{}}]})");
  auto channel = grpc::CreateCustomChannel(
      absl::StrCat("ipv4:127.0.0.1:", port(a.address()), ",127.0.0.1:", port(b.address())),
      grpc::InsecureChannelCredentials(), arguments);
  auto stub = v1::Lawful::NewStub(channel);
  // round_robin only picks connections that are ready, and on a loaded machine the second may
  // come up a little after the first: call in rounds of 20 until both have served (bounded).
  int calls = 0, on_a = 0, on_b = 0;
  for (int round = 0; round < 50 && (on_a == 0 || on_b == 0); ++round) {
    for (int i = 0; i < 20; ++i, ++calls) {
      v1::DecideRequest request;
      *request.mutable_outreach() = NewsletterByEmail();
      *request.mutable_contact() = ParseContact(i % 2 == 0 ? kConsentingContact : kErasureContact);
      v1::DecideResponse response;
      const grpc::Status status = stub->Decide(Context().get(), request, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
      EXPECT_EQ(response.decision().reason(), i % 2 == 0 ? "consent" : "erasure_pending");
      EXPECT_EQ(response.rule_set_version(), a.version());
    }
    on_a = CountLogLines(log_a, "Decide", "OK");
    on_b = CountLogLines(log_b, "Decide", "OK");
  }
  EXPECT_EQ(on_a + on_b, calls);
  EXPECT_GT(on_a, 0);
  EXPECT_GT(on_b, 0);
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
    return RunEval(LAWFUL_CLI_PATH, kAt, flags, input, stdin_path);
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
                          "3 c-0002 OUTCOME_DENY no_lawful_basis"));  // index: line - 1
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
      ElementsAre("0 c-0001 OUTCOME_ALLOW consent", "3 c-0005 OUTCOME_DENY no_lawful_basis"));
}

TEST_F(CliTest, EvalRejectsBadFlags) {
  const fs::path input = dir_.path() / "contacts.jsonl";
  WriteFile(input, absl::StrCat(kConsentingContact, "\n"));
  const CommandResult fax =
      Eval({"--rules=" + rules_dir_.string(), "--channel=fax"}, input.string());
  EXPECT_EQ(fax.exit_code, 2);  // usage errors
  EXPECT_THAT(fax.err, HasSubstr("--channel"));
  EXPECT_THAT(fax.out, IsEmpty());

  const CommandResult neither = Eval({}, input.string());
  EXPECT_EQ(neither.exit_code, 2);
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
       "rules.lawful:11:1: error: expected `}` to close the policy (nothing may follow its "
       "`otherwise` rule)"},
      {"erasure_requested_at", "erasure_requsted_at",
       "rules.lawful:4:37: error: contact has no field `erasure_requsted_at`; did you mean "
       "`erasure_requested_at`?"},
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
  const CommandResult result =
      RunCommand({LAWFUL_CLI_PATH, "test", "--coverage", rules_dir_.string()});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_THAT(result.out, HasSubstr("cases.yaml:7: FAIL"));
  EXPECT_THAT(result.out, HasSubstr("no_lawful_basis"));
  EXPECT_THAT(result.out, HasSubstr("erasure_pending"));  // never reached: listed by --coverage
  EXPECT_THAT(result.out, HasSubstr("1 passed, 1 failed"));
}

TEST_F(CliTest, FmtCheckFindsNonCanonicalFiles) {
  const CommandResult canonical =
      RunCommand({LAWFUL_CLI_PATH, "fmt", "--check", rules_dir_.string()});
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
