// Accountability in the engine: decisions carry their justification (evidence record, facts
// digest), Explain traces every rule it checked and agrees with Decide, and archived rule sets
// replay byte for byte.
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "lawful/dsl.h"
#include "lawful/synth.h"
#include "lawful/testkit.h"

namespace lawful {
namespace {

using ::lawful::testkit::At;
using ::testing::HasSubstr;

lawful::v1::Contact FromJson(const std::string& json) {
  lawful::v1::Contact contact;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &contact).ok()) << json;
  return contact;
}

class ExplainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = dsl::LoadRuleSet(LAWFUL_SOURCE_DIR "/rules");
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    loaded_ = *std::move(loaded);
  }
  PreparedOutreach Prepare(const char* purpose, lawful::v1::Channel channel, const char* at) {
    auto prepared = loaded_.rule_set->Prepare(
        Outreach{purpose, channel, lawful::v1::NOTICE_TYPE_UNSPECIFIED, At(at)});
    EXPECT_TRUE(prepared.ok()) << prepared.status();
    return *prepared;
  }
  lawful::v1::Explanation Explain(const PreparedOutreach& outreach,
                                  const lawful::v1::Contact& contact) {
    lawful::v1::Explanation e;
    loaded_.rule_set->Explain(outreach, contact.SerializeAsString(), &e);
    return e;
  }
  dsl::LoadedRuleSet loaded_;
};

constexpr char kAt[] = "2026-08-31T10:00:00Z";

// A customer with an active newsletter consent given by web form, and nothing against them.
constexpr char kConsenting[] =
    R"({"id":"c-1","email":"x@example.invalid","lastActivityAt":"2026-08-01T10:00:00Z",
        "consents":[{"id":"old","purpose":"survey","channel":"CHANNEL_EMAIL","grantedAt":"2025-01-01T00:00:00Z"},
                    {"id":"cons-7","purpose":"newsletter","channel":"CHANNEL_EMAIL",
                     "grantedAt":"2026-02-01T09:00:00Z","source":"CONSENT_SOURCE_WEB_FORM"}]})";

// The same person, objecting to direct marketing by phone.
constexpr char kObjecting[] =
    R"({"id":"c-2","lastActivityAt":"2026-08-01T10:00:00Z",
        "objections":[{"id":"obj-1","scope":"OBJECTION_SCOPE_DIRECT_MARKETING",
                       "lodgedAt":"2026-03-02T09:00:00Z","lodgedVia":"phone"}],
        "consents":[{"id":"cons-7","purpose":"newsletter","channel":"CHANNEL_EMAIL",
                     "grantedAt":"2026-02-01T09:00:00Z"}]})";

TEST_F(ExplainTest, AnAllowCarriesTheConsentItReliedOnAndTheFactsDigest) {
  const PreparedOutreach outreach = Prepare("newsletter", lawful::v1::CHANNEL_EMAIL, kAt);
  const lawful::v1::Contact contact = FromJson(kConsenting);
  const std::string bytes = contact.SerializeAsString();
  Evaluator evaluator;
  const Decision d = evaluator.Decide(outreach, bytes);
  lawful::v1::Decision out;
  loaded_.rule_set->ToProto(d, &out, bytes);

  EXPECT_EQ(out.outcome(), lawful::v1::OUTCOME_ALLOW);
  EXPECT_EQ(out.reason(), "consent");
  EXPECT_EQ(out.citation(), "GDPR Art. 6(1)(a)");
  EXPECT_EQ(out.rule().name(), "consent");
  EXPECT_EQ(out.rule().file(), "marketing.lawful");
  EXPECT_GT(out.rule().line(), 0u);
  EXPECT_THAT(out.obligations(), ::testing::ElementsAre("include_opt_out_link"));
  EXPECT_EQ(out.evidence().field(), "consents");
  EXPECT_EQ(out.evidence().index(), 1u);
  EXPECT_EQ(out.evidence().record_id(), "cons-7");
  // The record itself, with the field no rule reads (its source).
  EXPECT_EQ(out.evidence().consent().purpose(), "newsletter");
  EXPECT_EQ(out.evidence().consent().channel(), lawful::v1::CHANNEL_EMAIL);
  EXPECT_EQ(out.evidence().consent().source(), lawful::v1::CONSENT_SOURCE_WEB_FORM);
  EXPECT_EQ(out.evidence().consent().granted_at().seconds(),
            absl::ToUnixSeconds(At("2026-02-01T09:00:00Z")));
  EXPECT_TRUE(out.has_valid_until());
  EXPECT_EQ(out.facts_digest().size(), 64u);
}

TEST_F(ExplainTest, TheFactsDigestCoversExactlyTheFactsTheRulesRead) {
  const PreparedOutreach outreach = Prepare("newsletter", lawful::v1::CHANNEL_EMAIL, kAt);
  Evaluator evaluator;
  auto digest = [&](const lawful::v1::Contact& contact) {
    lawful::v1::Decision out;
    loaded_.rule_set->ToProto(evaluator.Decide(outreach, contact), &out);
    return out.facts_digest();
  };
  const lawful::v1::Contact base = FromJson(kConsenting);
  const std::string reference = digest(base);
  ASSERT_FALSE(reference.empty());

  // Same facts, different bytes: fields in another order, and a field no rule reads changed.
  lawful::v1::Contact reordered;
  {
    std::string bytes;
    lawful::v1::Contact tail;
    *tail.mutable_consents() = base.consents();
    lawful::v1::Contact head = base;
    head.clear_consents();
    bytes = tail.SerializeAsString() + head.SerializeAsString();  // consents first on the wire
    ASSERT_TRUE(reordered.ParseFromString(bytes));
    Decision d = evaluator.Decide(outreach, bytes);
    lawful::v1::Decision out;
    loaded_.rule_set->ToProto(d, &out);
    EXPECT_EQ(out.facts_digest(), reference);
  }
  lawful::v1::Contact unread = base;
  unread.set_country("NO");  // no rule reads the country
  EXPECT_EQ(digest(unread), reference);
  // Nor the contact's own id: it is no fact the rules decide on, and leaving it out means a
  // digest in the audit log cannot be used to confirm a guessed id.
  unread.set_id("c-9");
  EXPECT_EQ(digest(unread), reference);

  struct Change {
    const char* what;
    void (*apply)(lawful::v1::Contact&);
  };
  const Change changes[] = {
      {"a consent withdrawn",
       [](lawful::v1::Contact& c) {
         c.mutable_consents(1)->mutable_withdrawn_at()->set_seconds(1);
       }},
      {"a consent's id", [](lawful::v1::Contact& c) { c.mutable_consents(1)->set_id("cons-8"); }},
      {"last activity",
       [](lawful::v1::Contact& c) { c.mutable_last_activity_at()->set_seconds(2); }},
      {"a consent more", [](lawful::v1::Contact& c) { *c.add_consents() = c.consents(0); }},
  };
  for (const Change& change : changes) {
    lawful::v1::Contact changed = base;
    change.apply(changed);
    EXPECT_NE(digest(changed), reference) << change.what;
  }
}

TEST_F(ExplainTest, ADenialIsExplainedRuleByRuleEndingAtTheDecidingRule) {
  const PreparedOutreach outreach = Prepare("newsletter", lawful::v1::CHANNEL_EMAIL, kAt);
  const lawful::v1::Explanation e = Explain(outreach, FromJson(kObjecting));
  EXPECT_EQ(e.decision().outcome(), lawful::v1::OUTCOME_DENY);
  EXPECT_EQ(e.decision().reason(), "objection");
  EXPECT_EQ(e.rule_set_version(), loaded_.rule_set->version());
  EXPECT_EQ(e.decision().rule_set_version(), loaded_.rule_set->version());
  EXPECT_EQ(e.policy(), "marketing");
  ASSERT_EQ(e.checks_size(), 2);
  EXPECT_EQ(e.checks(0).rule().name(), "erasure_pending");
  EXPECT_FALSE(e.checks(0).fired());
  EXPECT_EQ(e.checks(1).rule().name(), "objection");
  EXPECT_TRUE(e.checks(1).fired());
  EXPECT_THAT(e.checks(1).text(), HasSubstr("deny objection when objects_to(purpose)"));
  std::vector<std::string> seen;
  for (const auto& s : e.checks(1).seen()) seen.push_back(absl::StrCat(s.name(), " = ", s.value()));
  EXPECT_THAT(seen, ::testing::IsSupersetOf({"objections = 1 record",
                                             "objections[0].scope = direct_marketing",
                                             "objections[0].lodged_at = 2026-03-02T09:00:00Z"}));
  EXPECT_THAT(e.summary(), HasSubstr("Denied (objection; GDPR Art. 21(3)) by rule `objection`"));
  EXPECT_THAT(e.summary(), HasSubstr("objections[0].lodged_at 2026-03-02T09:00:00Z"));
  EXPECT_THAT(e.summary(), HasSubstr(loaded_.rule_set->version()));
}

TEST_F(ExplainTest, AnAllowNamesTheRecordAndEveryGateBeforeIt) {
  const PreparedOutreach outreach = Prepare("newsletter", lawful::v1::CHANNEL_EMAIL, kAt);
  const lawful::v1::Explanation e = Explain(outreach, FromJson(kConsenting));
  ASSERT_GT(e.checks_size(), 5);
  for (int i = 0; i + 1 < e.checks_size(); ++i)
    EXPECT_FALSE(e.checks(i).fired()) << e.checks(i).rule().name();
  EXPECT_TRUE(e.checks(e.checks_size() - 1).fired());
  EXPECT_EQ(e.checks(e.checks_size() - 1).rule().name(), "consent");
  EXPECT_THAT(e.summary(),
              HasSubstr("It relied on consents[1] (id cons-7): purpose newsletter, channel email, "
                        "granted_at 2026-02-01T09:00:00Z, source web_form."));
  // Hoisted cut-offs are shown by the rule text that computes them.
  bool retention = false;
  for (const auto& check : e.checks()) {
    for (const auto& s : check.seen()) retention |= s.name() == "at - RETENTION";
  }
  EXPECT_TRUE(retention);
}

TEST_F(ExplainTest, ExplainDecidesExactlyAsDecideOnAGeneratedCampaign) {
  const absl::Time at = At("2026-08-31T21:30:00Z");
  const std::vector<lawful::v1::Contact> contacts = synth::Generate(7, 1500, at);
  int compared = 0;
  for (const char* purpose : {"newsletter", "product_offer", "profiling", "service_notice"}) {
    for (lawful::v1::Channel channel :
         {lawful::v1::CHANNEL_EMAIL, lawful::v1::CHANNEL_POST, lawful::v1::CHANNEL_PHONE}) {
      auto prepared = loaded_.rule_set->Prepare(
          Outreach{purpose, channel, lawful::v1::NOTICE_TYPE_UNSPECIFIED, at});
      ASSERT_TRUE(prepared.ok()) << prepared.status();
      Evaluator evaluator;
      for (const auto& contact : contacts) {
        const std::string bytes = contact.SerializeAsString();
        lawful::v1::Decision decided;
        loaded_.rule_set->ToProto(evaluator.Decide(*prepared, bytes), &decided, bytes);
        decided.set_rule_set_version(loaded_.rule_set->version());
        lawful::v1::Explanation e;
        loaded_.rule_set->Explain(*prepared, bytes, &e);
        ASSERT_TRUE(google::protobuf::util::MessageDifferencer::Equals(decided, e.decision()))
            << purpose << " " << contact.id() << "\n"
            << decided.DebugString() << "\n"
            << e.decision().DebugString();
        ASSERT_GT(e.checks_size(), 0);
        EXPECT_EQ(e.checks(e.checks_size() - 1).rule().name(), decided.rule().name());
        ++compared;
      }
    }
  }
  EXPECT_EQ(compared, 4 * 3 * 1500);
}

TEST_F(ExplainTest, AnInvalidContactIsExplainedAsNotDecided) {
  const PreparedOutreach outreach = Prepare("newsletter", lawful::v1::CHANNEL_EMAIL, kAt);
  lawful::v1::Contact contact = FromJson(kConsenting);
  contact.set_birth_date("2026-13-45");
  const lawful::v1::Explanation e = Explain(outreach, contact);
  EXPECT_EQ(e.decision().outcome(), lawful::v1::OUTCOME_ERROR);
  EXPECT_EQ(e.decision().error().field_path(), "birth_date");
  EXPECT_EQ(e.checks_size(), 0);
  EXPECT_THAT(e.summary(), HasSubstr("Not decided: the contact's birth_date is invalid"));
}

// ---- the rule-set archive ----

std::string TempDir(const std::string& name) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/lawful-", name, "-", ::getpid());
  std::filesystem::remove_all(dir);
  return dir;
}

TEST_F(ExplainTest, AnArchivedRuleSetReplaysUnderItsVersion) {
  const std::string archive = TempDir("archive");
  ASSERT_TRUE(dsl::ArchiveRuleSet(archive, loaded_).ok());
  ASSERT_TRUE(dsl::ArchiveRuleSet(archive, loaded_).ok());  // idempotent
  auto replayed = dsl::LoadArchivedRuleSet(archive, loaded_.rule_set->version());
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(replayed->rule_set->version(), loaded_.rule_set->version());

  const PreparedOutreach now = Prepare("newsletter", lawful::v1::CHANNEL_EMAIL, kAt);
  auto then =
      replayed->rule_set->Prepare(Outreach{"newsletter", lawful::v1::CHANNEL_EMAIL, {}, At(kAt)});
  ASSERT_TRUE(then.ok());
  const lawful::v1::Contact contact = FromJson(kConsenting);
  lawful::v1::Explanation a = Explain(now, contact), b;
  replayed->rule_set->Explain(*then, contact.SerializeAsString(), &b);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(a.decision(), b.decision()));

  struct Case {
    std::string version;
    absl::StatusCode code;
  };
  const Case cases[] = {
      {std::string(64, '0'), absl::StatusCode::kNotFound},
      {"../../etc", absl::StatusCode::kInvalidArgument},
      {"ABC", absl::StatusCode::kInvalidArgument},
  };
  for (const Case& c : cases)
    EXPECT_EQ(dsl::LoadArchivedRuleSet(archive, c.version).status().code(), c.code) << c.version;

  // An entry whose files were edited after archiving no longer proves its name.
  std::ofstream(std::filesystem::path(archive) / loaded_.rule_set->version() / "common.lawful",
                std::ios::app)
      << "\n# edited\n";
  EXPECT_EQ(dsl::LoadArchivedRuleSet(archive, loaded_.rule_set->version()).status().code(),
            absl::StatusCode::kDataLoss);
  std::filesystem::remove_all(archive);
}

}  // namespace
}  // namespace lawful
