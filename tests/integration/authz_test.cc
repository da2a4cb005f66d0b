// Per-caller authorisation end to end: lawfuld with mutual TLS and --authz_file, clients with
// certificates made by openssl at test time. That mutual TLS refuses plaintext and certificate-less
// clients is integration_test.cc's MutualTlsServesClientsWithACertificateOnly.
#include <signal.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/testkit.h"
#include "lawful/v1/service.grpc.pb.h"
#include "lawfuld.h"

namespace lawful::testing {
namespace {

using ::lawful::testkit::CommandResult;
using ::lawful::testkit::ReadFile;
using ::lawful::testkit::RunCommand;
using ::lawful::testkit::TempDir;
using ::lawful::testkit::WriteFile;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

namespace fs = std::filesystem;

// The newsletter service is known by its DNS name, analytics by its certificate's subject; the
// stranger's certificate is signed by the same CA but not listed. Analytics' certificate is made
// for `/CN=analytics/O=Example AB`, which gRPC reports as `O=Example AB,CN=analytics`: the other
// order than this line's, and the same subject.
constexpr char kAuthz[] = R"(# Who may ask lawfuld about what.
newsletter.internal       : newsletter, product_offer
CN=analytics,O=Example AB : *   # the data team asks about everything
)";

constexpr char kContactId[] = "c-0501";
constexpr char kEmail[] = "authz.person@example.com";

v1::Outreach Outreach(const std::string& purpose) {
  v1::Outreach outreach;
  outreach.set_purpose(purpose);
  outreach.set_channel(v1::CHANNEL_EMAIL);
  outreach.mutable_at()->set_seconds(1798794000);  // 2027-01-01T09:00:00Z
  return outreach;
}

v1::Contact Contact() {
  v1::Contact contact;
  contact.set_id(kContactId);
  contact.set_email(kEmail);
  return contact;
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return context;
}

class AuthzTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    certs_ = std::make_unique<Certificates>(dir_.path());
    certs_->AddClient("newsletter", "/CN=newsletter service/O=Example AB",
                      "DNS:newsletter.internal");
    certs_->AddClient("analytics", "/CN=analytics/O=Example AB");
    certs_->AddClient("stranger", "/CN=stranger");
    ASSERT_THAT(certs_->error(), IsEmpty());
    authz_path_ = dir_.path() / "authz";
    WriteFile(authz_path_, kAuthz);
  }

  std::vector<std::string> TlsFlags() const {
    return {"--tls_cert=" + certs_->Path("server.crt"), "--tls_key=" + certs_->Path("server.key"),
            "--tls_client_ca=" + certs_->Path("ca.crt")};
  }

  void Start() {
    std::vector<std::string> flags = TlsFlags();
    flags.push_back("--authz_file=" + authz_path_.string());
    flags.push_back("--watch_interval=0");
    grpc::ChannelArguments arguments;
    arguments.SetSslTargetNameOverride("localhost");
    server_ = std::make_unique<Lawfuld>(fs::path(LAWFUL_SOURCE_DIR) / "rules",
                                        dir_.path() / "lawfuld.log", flags,
                                        certs_->ClientAs("analytics"), arguments);
    ASSERT_THAT(server_->error(), IsEmpty());
  }

  // A stub presenting the certificate made for `caller`.
  std::unique_ptr<v1::Lawful::Stub> As(const std::string& caller) const {
    grpc::ChannelArguments arguments;
    arguments.SetSslTargetNameOverride("localhost");
    arguments.SetInt("lawful.test.caller", static_cast<int>(std::hash<std::string>()(caller)));
    return v1::Lawful::NewStub(
        grpc::CreateCustomChannel(server_->address(), certs_->ClientAs(caller), arguments));
  }

  // One call of `method` as `caller` about `purpose`.
  grpc::Status Call(const std::string& caller, const std::string& method,
                    const std::string& purpose) const {
    std::unique_ptr<v1::Lawful::Stub> stub = As(caller);
    if (method == "Decide") {
      v1::DecideRequest request;
      *request.mutable_outreach() = Outreach(purpose);
      *request.mutable_contact() = Contact();
      v1::DecideResponse response;
      return stub->Decide(Context().get(), request, &response);
    }
    if (method == "DecideBatch") {
      v1::DecideBatchRequest request;
      *request.mutable_outreach() = Outreach(purpose);
      *request.add_contacts() = Contact();
      v1::DecideBatchResponse response;
      return stub->DecideBatch(Context().get(), request, &response);
    }
    if (method == "DecideStream") {
      auto context = Context();
      auto stream = stub->DecideStream(context.get());
      v1::DecideStreamRequest start;
      *start.mutable_start()->mutable_outreach() = Outreach(purpose);
      v1::DecideStreamRequest chunk;
      *chunk.mutable_contacts()->add_contacts() = Contact();
      if (stream->Write(start)) stream->Write(chunk);
      stream->WritesDone();
      v1::DecideStreamResponse response;
      while (stream->Read(&response)) {
      }
      return stream->Finish();
    }
    v1::RuleSetInfo info;
    return stub->GetRuleSet(Context().get(), {}, &info);
  }

  TempDir dir_;
  std::unique_ptr<Certificates> certs_;
  fs::path authz_path_;
  std::unique_ptr<Lawfuld> server_;
};

TEST_F(AuthzTest, EachCallerMayAskAboutItsPurposesOnly) {
  ASSERT_NO_FATAL_FAILURE(Start());
  struct Case {
    std::string caller;
    std::string method;
    std::string purpose;
    grpc::StatusCode code;
    std::vector<std::string> message;  // what a denial names
  };
  const std::vector<Case> cases = {
      {"newsletter", "Decide", "newsletter", grpc::StatusCode::OK, {}},
      {"newsletter", "DecideBatch", "product_offer", grpc::StatusCode::OK, {}},
      {"newsletter", "DecideStream", "newsletter", grpc::StatusCode::OK, {}},
      {"newsletter",
       "Decide",
       "profiling",
       grpc::StatusCode::PERMISSION_DENIED,
       {"newsletter.internal", "profiling"}},
      {"newsletter",
       "DecideBatch",
       "profiling",
       grpc::StatusCode::PERMISSION_DENIED,
       {"newsletter.internal", "profiling"}},
      {"newsletter",
       "DecideStream",
       "profiling",
       grpc::StatusCode::PERMISSION_DENIED,
       {"newsletter.internal", "profiling"}},
      {"analytics", "Decide", "profiling", grpc::StatusCode::OK, {}},
      {"analytics", "DecideStream", "survey", grpc::StatusCode::OK, {}},
      {"stranger",
       "Decide",
       "newsletter",
       grpc::StatusCode::PERMISSION_DENIED,
       {"CN=stranger", "not listed"}},
      {"stranger",
       "DecideBatch",
       "newsletter",
       grpc::StatusCode::PERMISSION_DENIED,
       {"CN=stranger"}},
      {"stranger",
       "DecideStream",
       "newsletter",
       grpc::StatusCode::PERMISSION_DENIED,
       {"CN=stranger"}},
      // The rule set itself is no secret from an authenticated caller.
      {"stranger", "GetRuleSet", "", grpc::StatusCode::OK, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.caller, " ", c.method, " ", c.purpose));
    const grpc::Status status = Call(c.caller, c.method, c.purpose);
    EXPECT_EQ(status.error_code(), c.code) << status.error_message();
    for (const std::string& part : c.message) {
      EXPECT_THAT(status.error_message(), HasSubstr(part));
    }
    // A denial says who asked about what, and nothing of the contacts.
    EXPECT_THAT(status.error_message(), AllOf(Not(HasSubstr(kContactId)), Not(HasSubstr(kEmail))));
  }
}

TEST_F(AuthzTest, ASubjectMatchesInAnyOrderAndEitherSpelling) {
  WriteFile(authz_path_, R"(# Subjects in another order than the certificates'.
/O=Example AB/OU=Data/CN=reporting : survey
cn=billing, o=Example\, Inc.      : newsletter
)");
  certs_->AddClient("reporting", "/CN=reporting/OU=Data/O=Example AB");
  certs_->AddClient("reporting_without_ou", "/CN=reporting/O=Example AB");
  certs_->AddClient("reporting_with_l", "/CN=reporting/OU=Data/O=Example AB/L=Stockholm");
  certs_->AddClient("billing", "/O=Example, Inc./CN=billing");
  certs_->AddClient("billing_without_inc", "/O=Example/CN=billing");
  ASSERT_THAT(certs_->error(), IsEmpty());
  ASSERT_NO_FATAL_FAILURE(Start());
  struct Case {
    std::string caller;
    std::string purpose;
    grpc::StatusCode code;
    std::string message;  // part of a denial
  };
  const std::vector<Case> cases = {
      {"reporting", "survey", grpc::StatusCode::OK, ""},
      {"reporting", "newsletter", grpc::StatusCode::PERMISSION_DENIED,
       "caller `O=Example AB,OU=Data,CN=reporting` may not ask about purpose `newsletter` "
       "(--authz_file line 2 grants: survey)"},
      // One attribute fewer, or one more, is another subject.
      {"reporting_without_ou", "survey", grpc::StatusCode::PERMISSION_DENIED,
       "caller `O=Example AB,CN=reporting` is not listed"},
      {"reporting_with_l", "survey", grpc::StatusCode::PERMISSION_DENIED,
       "caller `L=Stockholm,O=Example AB,OU=Data,CN=reporting` is not listed"},
      // gRPC escapes the comma: `CN=billing,O=Example\, Inc.`.
      {"billing", "newsletter", grpc::StatusCode::OK, ""},
      {"billing_without_inc", "newsletter", grpc::StatusCode::PERMISSION_DENIED,
       "caller `CN=billing,O=Example` is not listed"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.caller, " ", c.purpose));
    const grpc::Status status = Call(c.caller, "Decide", c.purpose);
    EXPECT_EQ(status.error_code(), c.code) << status.error_message();
    EXPECT_THAT(status.error_message(), HasSubstr(c.message));
  }
}

TEST_F(AuthzTest, ANameMatchesEachKindOfSubjectAlternativeName) {
  WriteFile(authz_path_, R"(spiffe://example.org/crm : survey
crm@example.org          : newsletter
10.1.2.3                 : product_offer
# What gRPC 1.51 writes in its list of SANs for a SAN of any other type: no name of the caller.
other types of SAN       : *
)");
  certs_->AddClient("crm", "/CN=crm",
                    "URI:spiffe://example.org/crm,email:crm@example.org,IP:10.1.2.3");
  certs_->AddClient("upn", "/CN=upn", "otherName:1.3.6.1.4.1.311.20.2.3;UTF8:upn@example.org");
  ASSERT_THAT(certs_->error(), IsEmpty());
  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_EQ(Call("crm", "Decide", "survey").error_code(), grpc::StatusCode::OK);
  EXPECT_EQ(Call("crm", "Decide", "newsletter").error_code(), grpc::StatusCode::OK);
  EXPECT_EQ(Call("crm", "Decide", "product_offer").error_code(), grpc::StatusCode::OK);
  EXPECT_EQ(Call("crm", "Decide", "profiling").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  const grpc::Status upn = Call("upn", "Decide", "profiling");
  EXPECT_EQ(upn.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(upn.error_message(),
              HasSubstr("caller `CN=upn` is not listed in --authz_file (certificate names: "
                        "CN=upn, upn)"));
}

TEST_F(AuthzTest, SighupReloadsThePolicyAndABrokenFileKeepsTheOldOne) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_EQ(Call("newsletter", "Decide", "profiling").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  WriteFile(authz_path_, absl::StrCat(kAuthz, "newsletter.internal : profiling\n"));
  server_->process().Signal(SIGHUP);
  // A caller listed twice is an error: the old policy stays.
  const std::string failed = "authz:4: `newsletter.internal` is listed twice (first on line 2)";
  for (const absl::Time deadline = absl::Now() + absl::Seconds(10);
       ReadFile(dir_.path() / "lawfuld.log").find(failed) == std::string::npos &&
       absl::Now() < deadline;) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_THAT(ReadFile(dir_.path() / "lawfuld.log"), HasSubstr(failed));
  EXPECT_EQ(Call("newsletter", "Decide", "profiling").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  WriteFile(authz_path_, "newsletter.internal : newsletter, profiling\n");
  server_->process().Signal(SIGHUP);
  grpc::StatusCode code = grpc::StatusCode::PERMISSION_DENIED;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(10);
       code != grpc::StatusCode::OK && absl::Now() < deadline;
       absl::SleepFor(absl::Milliseconds(100))) {
    code = Call("newsletter", "Decide", "profiling").error_code();
  }
  EXPECT_EQ(code, grpc::StatusCode::OK);
  EXPECT_EQ(Call("analytics", "Decide", "newsletter").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AuthzTest, AnUnusableAuthzFileStopsStartup) {
  struct Case {
    std::string name;
    std::string authz;  // the file's text; empty: no file at all
    bool with_client_ca;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"no client CA", kAuthz, false, "--authz_file needs --tls_client_ca"},
      {"a line without a colon", "newsletter.internal : newsletter\nanalytics everything\n", true,
       "authz:2: expected `<certificate identity> : <purpose>"},
      {"no purpose", "newsletter.internal :\n", true, "authz:1: no purpose listed"},
      {"a subject that does not parse", "newsletter.internal : newsletter\n/CN=analytics/O : *\n",
       true, "authz:2: `/CN=analytics/O` is not a certificate subject: `O` has no `=`"},
      {"a purpose that is no name", "newsletter.internal : news letter\n", true,
       "authz:1: `news letter` is not a purpose name"},
      {"no caller", "# nobody\n", true, "lists no caller"},
      {"no file", "", true, "cannot read"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    if (c.authz.empty()) {
      fs::remove(authz_path_);
    } else {
      WriteFile(authz_path_, c.authz);
    }
    std::vector<std::string> argv = {LAWFULD_PATH, "--listen=127.0.0.1:0",
                                     "--rules=" + (fs::path(LAWFUL_SOURCE_DIR) / "rules").string(),
                                     "--authz_file=" + authz_path_.string()};
    for (const std::string& flag : TlsFlags()) {
      if (c.with_client_ca || flag.rfind("--tls_client_ca", 0) != 0) argv.push_back(flag);
    }
    const CommandResult result = RunCommand(argv);
    EXPECT_EQ(result.exit_code, 1) << result.err;
    EXPECT_THAT(result.err, HasSubstr(c.message));
    EXPECT_THAT(result.out, IsEmpty());  // never listened
  }
}

}  // namespace
}  // namespace lawful::testing
