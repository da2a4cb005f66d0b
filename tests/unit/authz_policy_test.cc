// The --authz_file format: what parses, what is refused (with file:line), and who may ask about
// what.
#include <string>
#include <vector>

#include "authz.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace lawful::server {
namespace {

using ::testing::HasSubstr;

TEST(AuthzPolicy, RefusesMalformedFilesNamingTheLine) {
  struct Case {
    std::string text;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"newsletter.internal newsletter\n",
       "authz:1: expected `<certificate identity> : <purpose>, <purpose>, ...`"},
      {"# who\n\n : newsletter\n", "authz:3: the caller's certificate identity is missing"},
      {"newsletter.internal :   # nothing\n",
       "authz:1: no purpose listed for `newsletter.internal`"},
      {"a : newsletter\nb : news-letter\n", "authz:2: `news-letter` is not a purpose name"},
      {"a : newsletter,\n", "authz:1: `` is not a purpose name"},
      {"a : 1st\n", "authz:1: `1st` is not a purpose name"},
      {"a : newsletter\nb : survey\na : profiling\n",
       "authz:3: `a` is listed twice (first on line 1)"},
      // A subject that does not parse is refused where it is written.
      {"a : newsletter\n/ : survey\n",
       "authz:2: `/` is not a certificate subject: it names no attribute"},
      {"/CN=a//O=b : survey\n",
       "authz:1: `/CN=a//O=b` is not a certificate subject: an empty attribute"},
      {"CN=a,O=b, : survey\n",
       "authz:1: `CN=a,O=b,` is not a certificate subject: an empty attribute"},
      {"CN=a+ : survey\n", "authz:1: `CN=a+` is not a certificate subject: an empty attribute"},
      {"CN=a,O : survey\n", "authz:1: `CN=a,O` is not a certificate subject: `O` has no `=`"},
      {"CN=billing,O=Example, Inc. : survey\n",
       "authz:1: `CN=billing,O=Example, Inc.` is not a certificate subject: `Inc.` has no `=`"},
      {"/CN=a/O= : survey\n",
       "authz:1: `/CN=a/O=` is not a certificate subject: `O=` has no value"},
      {"CN=a,C N=b : survey\n",
       "authz:1: `CN=a,C N=b` is not a certificate subject: `C N` is not an attribute type"},
      {"/CN=a/2.5.=b : survey\n", "`2.5.` is not an attribute type"},
      {"/CN=a/O\\x=b : survey\n",
       "authz:1: `/CN=a/O\\x=b` is not a certificate subject: `\\` in the attribute type"},
      {"CN=a\\: survey\n",
       "authz:1: `CN=a\\` is not a certificate subject: `\\` at the end escapes nothing"},
      // The same subject twice, however spelt, is listed twice.
      {"CN=analytics,O=Example AB : survey\n/o=Example AB/cn=analytics : newsletter\n",
       "authz:2: `/o=Example AB/cn=analytics` is listed twice (first on line 1)"},
      {"", "authz: lists no caller"},
      {"# only comments\n   \n", "authz: lists no caller"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const absl::StatusOr<AuthzPolicy> policy = AuthzPolicy::Parse(c.text, "authz");
    ASSERT_FALSE(policy.ok());
    EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(policy.status().message(), HasSubstr(c.error));
  }
}

TEST(AuthzPolicy, GrantsWhatTheLinesSay) {
  // Identities with colons (URIs, IPv6) split at the last one; comments and blank lines go.
  const absl::StatusOr<AuthzPolicy> policy = AuthzPolicy::Parse(
      "# callers\n"
      "newsletter.internal : newsletter, product_offer\n"
      "\n"
      "spiffe://example.org/crm:survey   # a URI SAN\n"
      "CN=analytics,O=Example AB : *\n"
      "::1 : service_notice\n",
      "authz");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(policy->callers(), 4u);
  struct Case {
    PeerCertificate peer;  // as gRPC reports the caller's certificate
    std::string purpose;
    bool allowed;
    std::string denial;  // part of the message when refused
  };
  const std::vector<Case> cases = {
      {{"CN=newsletter service", {"newsletter service", "newsletter.internal"}},
       "newsletter",
       true,
       ""},
      {{"", {"newsletter.internal"}}, "product_offer", true, ""},
      {{"CN=newsletter service", {"newsletter.internal"}},
       "profiling",
       false,
       "caller `newsletter.internal` may not ask about purpose `profiling` (--authz_file line 2 "
       "grants: newsletter, product_offer)"},
      {{"", {"spiffe://example.org/crm"}}, "survey", true, ""},
      {{"", {"spiffe://example.org/crm"}}, "newsletter", false, "line 4 grants: survey"},
      {{"CN=analytics,O=Example AB", {"analytics"}}, "profiling", true, ""},
      {{"CN=analytics,O=Example AB", {}}, "anything_at_all", true, ""},
      // gRPC prints `/CN=analytics/O=Example AB` the other way round: the same subject.
      {{"O=Example AB,CN=analytics", {"analytics"}}, "profiling", true, ""},
      {{"", {"::1"}}, "service_notice", true, ""},
      // A name that only resembles a listed one is not it.
      {{"CN=analytics", {"analytics"}},
       "newsletter",
       false,
       "caller `CN=analytics` is not listed in --authz_file (certificate names: CN=analytics, "
       "analytics)"},
      // A subject line matches the certificate's subject only, never a name spelt like it.
      {{"CN=mallory", {"CN=analytics,O=Example AB"}},
       "newsletter",
       false,
       "caller `CN=mallory` is not listed"},
      {{}, "newsletter", false, "caller `(no client certificate)` is not listed"},
      // An empty purpose checks the caller only: the request's own check names the field.
      {{"", {"newsletter.internal"}}, "", true, ""},
      {{"", {"stranger"}}, "", false, "not listed"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.peer.subject + " " + c.purpose);
    const absl::Status status = policy->Check(c.peer, c.purpose);
    EXPECT_EQ(status.ok(), c.allowed) << status;
    if (!c.allowed) {
      EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
      EXPECT_THAT(status.message(), HasSubstr(c.denial));
    }
  }
}

TEST(AuthzPolicy, MatchesASubjectAsASetOfTypeValuePairs) {
  struct Case {
    std::string line;     // the identity in the file
    std::string subject;  // the caller's, as gRPC reports it
    bool matches;
  };
  const std::vector<Case> cases = {
      // Both spellings, both orders. gRPC reports `/CN=analytics/O=Example AB` as the last line.
      {"CN=analytics,O=Example AB", "CN=analytics,O=Example AB", true},
      {"CN=analytics,O=Example AB", "O=Example AB,CN=analytics", true},
      {"O=Example AB,CN=analytics", "O=Example AB,CN=analytics", true},
      {"/CN=analytics/O=Example AB", "O=Example AB,CN=analytics", true},
      {"/O=Example AB/CN=analytics", "O=Example AB,CN=analytics", true},
      // ... and a peer's subject in the slash form (what older gRPC releases printed).
      {"CN=analytics,O=Example AB", "/O=Example AB/CN=analytics", true},
      // Blanks around types and values do not count.
      {"O = Example AB, CN = analytics", "O=Example AB,CN=analytics", true},
      {"/ CN=analytics / O=Example AB ", "O=Example AB,CN=analytics", true},
      // Attribute types in any case; values exactly.
      {"cn=analytics,o=Example AB", "O=Example AB,CN=analytics", true},
      {"/Cn=analytics/o=Example AB", "O=Example AB,CN=analytics", true},
      {"CN=analytics,O=Example AB", "o=Example AB,cn=analytics", true},
      {"CN=Analytics,O=Example AB", "O=Example AB,CN=analytics", false},
      {"CN=analytics,O=example ab", "O=Example AB,CN=analytics", false},
      {"CN=analytics,O=Example  AB", "O=Example AB,CN=analytics", false},
      // A missing or an extra attribute: no match.
      {"CN=analytics", "O=Example AB,CN=analytics", false},
      {"/CN=analytics/O=Example AB/OU=Data", "O=Example AB,CN=analytics", false},
      {"CN=analytics,O=Example AB", "OU=Data,O=Example AB,CN=analytics", false},
      {"CN=analytics,O=Example AB", "CN=analytics", false},
      {"CN=analytics,OU=Example AB", "O=Example AB,CN=analytics", false},
      // Repeated types: each value counts.
      {"DC=example,DC=org,CN=a", "CN=a,DC=org,DC=example", true},
      {"/DC=org/DC=example/CN=a", "CN=a,DC=org,DC=example", true},
      {"DC=example,CN=a", "CN=a,DC=org,DC=example", false},
      {"DC=example,DC=net,CN=a", "CN=a,DC=org,DC=example", false},
      // Escaped commas in the comma form; a comma is an ordinary character in the slash form.
      {"CN=billing,O=Example\\, Inc.", "O=Example\\, Inc.,CN=billing", true},
      {"O=Example\\, Inc.,CN=billing", "O=Example\\, Inc.,CN=billing", true},
      {"/CN=billing/O=Example, Inc.", "O=Example\\, Inc.,CN=billing", true},
      {"/CN=billing/O=Example\\, Inc.", "O=Example\\, Inc.,CN=billing", true},
      {"CN=billing,O=Example", "O=Example\\, Inc.,CN=billing", false},
      {"CN=billing,O=Example\\, Inc.", "O=Example,CN=billing", false},
      // The other escapes: `\+`, `\/`, `\#` (no comment), `\\`, an escaped blank, hex pairs.
      {"CN=a\\+b", "CN=a\\+b", true},
      {"/CN=a\\/b", "CN=a/b", true},
      {"CN=a/b", "CN=a/b", true},
      {"O=Team \\#1,CN=a", "CN=a,O=Team #1", true},
      {"CN=\\#1", "CN=\\#1", true},
      {"CN=back\\\\slash", "CN=back\\\\slash", true},
      {"OU=\\ x", "OU=\\ x", true},
      {"OU= x", "OU=\\ x", false},
      {"CN=x\\ ", "CN=x\\ ", true},
      {"CN=x", "CN=x\\ ", false},
      {"CN=St\xc3\xa9phane", "CN=St\\C3\\A9phane", true},
      {"/CN=St\xc3\xa9phane", "CN=St\\c3\\a9phane", true},
      // Multi-valued RDNs: `+` separates pairs like `,` and `/`.
      {"CN=a+UID=42,O=x", "O=x,UID=42+CN=a", true},
      {"/O=x/UID=42+CN=a", "O=x,UID=42+CN=a", true},
      {"/O=x/UID=42/CN=a", "O=x,UID=42+CN=a", true},
      // Types by OID, as gRPC prints one OpenSSL has no name for.
      {"2.5.4.97=VATSE-1,CN=a", "CN=a,2.5.4.97=VATSE-1", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.line + " vs " + c.subject);
    const absl::StatusOr<AuthzPolicy> policy =
        AuthzPolicy::Parse(c.line + " : newsletter\n", "authz");
    ASSERT_TRUE(policy.ok()) << policy.status();
    const absl::Status status = policy->Check({c.subject, {}}, "newsletter");
    EXPECT_EQ(status.ok(), c.matches) << status;
  }
}

TEST(AuthzPolicy, APeerSubjectThatDoesNotParseMatchesNoSubject) {
  // `CN=a+b` would be CN=a plus an attribute `b` without a value: no subject, not `CN=a\+b`.
  const absl::StatusOr<AuthzPolicy> policy = AuthzPolicy::Parse("CN=a\\+b : newsletter\n", "authz");
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_TRUE(policy->Check({"CN=a\\+b", {}}, "newsletter").ok());
  const absl::Status status = policy->Check({"CN=a+b", {"a+b"}}, "newsletter");
  EXPECT_THAT(status.message(), HasSubstr("caller `CN=a+b` is not listed"));
}

TEST(AuthzPolicy, SubjectsAndNamesAreToldApartByTheirFirstCharacters) {
  // `/...` and `<type>=...` are subjects; anything else, URIs with a query included, is a name.
  const absl::StatusOr<AuthzPolicy> policy = AuthzPolicy::Parse(
      "analytics : profiling\n"
      "spiffe://example.org/crm?team=a : survey\n"
      "CN=reporting : newsletter   # a comment\n"
      "CN=report\\#2 : product_offer # \\# escapes a `#`\n",
      "authz");
  ASSERT_TRUE(policy.ok()) << policy.status();
  // A name line matches the common name gRPC reports, not a subject.
  EXPECT_TRUE(policy->Check({"CN=analytics", {"analytics"}}, "profiling").ok());
  EXPECT_FALSE(policy->Check({"CN=analytics", {}}, "profiling").ok());
  EXPECT_TRUE(policy->Check({"", {"spiffe://example.org/crm?team=a"}}, "survey").ok());
  // A subject line matches the subject, not a common name.
  EXPECT_TRUE(policy->Check({"CN=reporting", {"reporting"}}, "newsletter").ok());
  EXPECT_FALSE(policy->Check({"CN=someone", {"CN=reporting"}}, "newsletter").ok());
  EXPECT_TRUE(policy->Check({"CN=report#2", {}}, "product_offer").ok());
}

TEST(AuthzPolicy, ParsesASubjectIntoSortedLowerCasedPairs) {
  const CertificateSubject expected = {
      {"cn", "a, b"}, {"dc", "example"}, {"dc", "org"}, {"o", "Example AB"}};
  for (const std::string spelt :
       {"/CN=a, b/O=Example AB/DC=org/DC=example", "DC=example,DC=org,O=Example AB,CN=a\\, b",
        "dc=org+Dc=example, o=Example AB, cn=a\\2C b",
        "/O=Example AB/CN=a, b/DC=org/DC=example/DC=org"}) {
    SCOPED_TRACE(spelt);
    const absl::StatusOr<CertificateSubject> subject = ParseCertificateSubject(spelt);
    ASSERT_TRUE(subject.ok()) << subject.status();
    EXPECT_EQ(*subject, expected);
  }
}

TEST(AuthzPolicy, LoadNamesAFileThatCannotBeRead) {
  const absl::StatusOr<AuthzPolicy> policy = AuthzPolicy::Load("/nonexistent/authz");
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(policy.status().message(), HasSubstr("/nonexistent/authz: cannot read"));
}

}  // namespace
}  // namespace lawful::server
