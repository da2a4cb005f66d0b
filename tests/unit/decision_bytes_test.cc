// The answers the batch paths send as bytes are exactly what protobuf would write for the same
// decision, and a batch answers each contact as deciding it alone does: the same bytes, the same
// summary, the same audit record.
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lawful/decide.h"
#include "lawful/dsl.h"
#include "lawful/synth.h"
#include "lawful/testkit.h"

namespace lawful::decide {
namespace {

using ::lawful::testkit::At;

struct Outreaches {
  std::shared_ptr<const RuleSet> rules;
  std::vector<PreparedOutreach> prepared;
  std::vector<std::string> contacts;  // serialized
};

const Outreaches& Shipped() {
  static const Outreaches* const shipped = [] {
    auto* out = new Outreaches;
    auto loaded = dsl::LoadRuleSet(LAWFUL_SOURCE_DIR "/rules");
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    out->rules = loaded->rule_set;
    const absl::Time at = At(testkit::kBenchInstant);
    for (const char* purpose :
         {"newsletter", "product_offer", "survey", "profiling", "service_notice"}) {
      for (lawful::v1::Channel channel : {lawful::v1::CHANNEL_EMAIL, lawful::v1::CHANNEL_SMS,
                                          lawful::v1::CHANNEL_POST, lawful::v1::CHANNEL_PHONE}) {
        auto prepared = out->rules->Prepare(
            Outreach{purpose, channel, lawful::v1::NOTICE_TYPE_LEGAL_OBLIGATION, at});
        EXPECT_TRUE(prepared.ok()) << prepared.status();
        out->prepared.push_back(*std::move(prepared));
      }
    }
    for (const lawful::v1::Contact& contact : synth::Generate(7, 1500, at)) {
      out->contacts.push_back(contact.SerializeAsString());
    }
    // An ERROR among them: a consent without its purpose.
    lawful::v1::Contact broken;
    broken.set_id("c-broken");
    broken.add_consents()->set_channel(lawful::v1::CHANNEL_EMAIL);
    out->contacts.push_back(broken.SerializeAsString());
    return out;
  }();
  return *shipped;
}

TEST(DecisionBytes, AreWhatProtobufWouldSerialize) {
  const Outreaches& shipped = Shipped();
  Evaluator evaluator;
  std::map<std::string, int> seen;  // which optional parts the decisions exercised
  for (const PreparedOutreach& outreach : shipped.prepared) {
    for (size_t i = 0; i < shipped.contacts.size(); ++i) {
      std::string_view id;
      const Decision decision = DecideContact(evaluator, outreach, shipped.contacts[i], &id);
      std::string bytes;
      AppendDecision(*shipped.rules, decision, shipped.contacts[i], id, static_cast<uint32_t>(i),
                     &bytes);
      lawful::v1::Decision message;
      ASSERT_TRUE(message.ParseFromString(bytes));
      ASSERT_EQ(message.SerializeAsString(), bytes) << message.ShortDebugString();
      if (message.has_evidence()) ++seen["evidence"];
      if (message.has_valid_until()) ++seen["valid_until"];
      if (message.obligations_size() > 0) ++seen["obligations"];
      if (message.has_error()) ++seen["error"];
      if (!message.facts_digest().empty()) ++seen["facts_digest"];
    }
  }
  for (const char* part : {"evidence", "valid_until", "obligations", "error", "facts_digest"}) {
    EXPECT_GT(seen[part], 0) << "no decision had " << part << ": the test no longer covers it";
  }
}

TEST(DecisionBytes, ABatchAnswersEachContactAsDecidingItAloneDoes) {
  const Outreaches& shipped = Shipped();
  std::vector<std::string_view> contacts(shipped.contacts.begin(), shipped.contacts.end());
  BatchEvaluator pool(2);
  Evaluator evaluator;
  constexpr uint64_t kFirstIndex = 1000;  // as in a stream's later chunk
  for (const PreparedOutreach& outreach : {shipped.prepared[0], shipped.prepared[13]}) {
    BatchAnswers answers;
    ASSERT_TRUE(DecideBatch(pool, outreach, contacts, kFirstIndex, &answers, nullptr, [](size_t) {
                  return absl::OkStatus();
                }).ok());
    // More contacts than one part holds: the parts join in order.
    ASSERT_GT(answers.parts.size(), 1u);
    std::string alone_bytes;
    ReasonTally alone_tally;
    for (size_t i = 0; i < contacts.size(); ++i) {
      std::string_view id;
      const Decision decision = DecideContact(evaluator, outreach, contacts[i], &id);
      std::string body;
      AppendDecision(*shipped.rules, decision, contacts[i], id,
                     static_cast<uint32_t>(kFirstIndex + i), &body);
      wire::AppendBytesField(kDecisionsField, body, &alone_bytes);
      alone_tally.Add(decision.outcome,
                      decision.outcome == Outcome::kError ? "" : decision.rule->reason, 1);
    }
    EXPECT_EQ(answers.Joined(), alone_bytes);
    lawful::v1::DecideBatchResponse batch_summary, alone_summary;
    answers.tally.Summarize(batch_summary.mutable_summary());
    alone_tally.Summarize(alone_summary.mutable_summary());
    EXPECT_EQ(batch_summary.ShortDebugString(), alone_summary.ShortDebugString());
    EXPECT_GT(batch_summary.summary_size(), 1);
  }
}

// The audit record made from the engine's decision (the batch paths) says what the one made
// from the answered message (audit::RecordOf) says.
TEST(DecisionBytes, TheAuditRecordOfADecisionIsTheRecordOfItsAnswer) {
  const Outreaches& shipped = Shipped();
  Evaluator evaluator;
  for (const PreparedOutreach& outreach : shipped.prepared) {
    for (size_t i = 0; i < shipped.contacts.size(); i += 7) {
      std::string_view id;
      const Decision decision = DecideContact(evaluator, outreach, shipped.contacts[i], &id);
      lawful::v1::Decision message;
      ToMessage(*shipped.rules, decision, shipped.contacts[i], id, static_cast<uint32_t>(i),
                &message);
      audit::DecisionRecord from_message, from_decision;
      audit::RecordOf(message, &from_message);
      RecordOf(*shipped.rules, decision, id, i, message.facts_digest(), &from_decision);
      auto fields = [](const audit::DecisionRecord& r) {
        return std::vector<std::string>{
            std::string(r.contact_id),     std::to_string(r.index),
            std::string(r.outcome),        std::string(r.reason),
            std::string(r.rule_policy),    std::string(r.rule),
            std::string(r.evidence_field), std::to_string(r.evidence_index),
            std::string(r.evidence_id),    std::string(r.facts)};
      };
      ASSERT_EQ(fields(from_decision), fields(from_message)) << message.ShortDebugString();
    }
  }
}

}  // namespace
}  // namespace lawful::decide
