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
    std::vector<std::string> identities;  // the caller's certificate names
    std::string purpose;
    bool allowed;
    std::string denial;  // part of the message when refused
  };
  const std::vector<Case> cases = {
      {{"CN=newsletter service", "newsletter service", "newsletter.internal"},
       "newsletter",
       true,
       ""},
      {{"newsletter.internal"}, "product_offer", true, ""},
      {{"CN=newsletter service", "newsletter.internal"},
       "profiling",
       false,
       "caller `newsletter.internal` may not ask about purpose `profiling` (--authz_file line 2 "
       "grants: newsletter, product_offer)"},
      {{"spiffe://example.org/crm"}, "survey", true, ""},
      {{"spiffe://example.org/crm"}, "newsletter", false, "line 4 grants: survey"},
      {{"CN=analytics,O=Example AB", "analytics"}, "profiling", true, ""},
      {{"CN=analytics,O=Example AB"}, "anything_at_all", true, ""},
      {{"::1"}, "service_notice", true, ""},
      // A name that only resembles a listed one is not it.
      {{"CN=analytics", "analytics"},
       "newsletter",
       false,
       "caller `CN=analytics` is not listed in --authz_file (certificate names: CN=analytics, "
       "analytics)"},
      {{}, "newsletter", false, "caller `(no client certificate)` is not listed"},
      // An empty purpose checks the caller only: the request's own check names the field.
      {{"newsletter.internal"}, "", true, ""},
      {{"stranger"}, "", false, "not listed"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.purpose);
    const absl::Status status = policy->Check(c.identities, c.purpose);
    EXPECT_EQ(status.ok(), c.allowed) << status;
    if (!c.allowed) {
      EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
      EXPECT_THAT(status.message(), HasSubstr(c.denial));
    }
  }
}

TEST(AuthzPolicy, LoadNamesAFileThatCannotBeRead) {
  const absl::StatusOr<AuthzPolicy> policy = AuthzPolicy::Load("/nonexistent/authz");
  ASSERT_FALSE(policy.ok());
  EXPECT_THAT(policy.status().message(), HasSubstr("/nonexistent/authz: cannot read"));
}

}  // namespace
}  // namespace lawful::server
