// The VM, one opcode at a time, on hand-built programs; the fact decoder on repeated fields; and
// the verifier's refusals.
#include <algorithm>
#include <functional>
#include <iterator>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "calendar.h"
#include "gmock/gmock.h"
#include "google/protobuf/timestamp.pb.h"
#include "gtest/gtest.h"
#include "lawful/engine.h"
#include "lawful/testkit.h"
#include "lawful/v1/contact.pb.h"

namespace lawful {
namespace {

using ::lawful::testkit::At;
using testing::HasSubstr;

Instr I(Op op, int32_t b = 0, uint16_t a = 0, uint8_t c = 0) { return Instr{op, c, a, b}; }

// A program whose policy tests one condition: rule 0 ("yes", allow) when it holds, else rule 1.
// Facts: slot 0 = last_activity_at, slot 1 = email, slot 2 = birth_date; list 0 = consents
// (record slots: 0 purpose, 1 granted_at, 2 id); list 1 = suppressions.
Program ConditionProgram(std::vector<Instr> condition) {
  Program p;
  p.purposes = {"newsletter", "survey"};
  p.files = {"test.lawful"};
  p.rules.push_back(Rule{"yes", "yes", "p", Outcome::kAllow, "cite yes", {}, "", {}, 0});
  p.rules.push_back(Rule{"no", "no", "p", Outcome::kDeny, "cite no", {}, "", {}, -1});
  Policy policy;
  policy.name = "p";
  policy.purposes = {0, 1};
  policy.channels = 0b11110;
  policy.rules = {0, 1};
  p.policies.push_back(policy);
  p.code = std::move(condition);
  const int32_t no = static_cast<int32_t>(p.code.size()) + 5;
  p.code.push_back(I(Op::kJumpIfFalse, no));
  p.code.push_back(I(Op::kPushInt, 0));  // evidence: consents[0]
  p.code.push_back(I(Op::kPushMissing));
  p.code.push_back(I(Op::kDecide, 0));
  p.code.push_back(I(Op::kHalt));  // unreachable filler keeps `no` stable
  p.code.push_back(I(Op::kPushInt, -1));
  p.code.push_back(I(Op::kPushMissing));
  p.code.push_back(I(Op::kDecide, 1));
  p.prelude = static_cast<int32_t>(p.code.size());
  p.code.push_back(I(Op::kHalt));
  p.spans.resize(p.code.size());
  p.num_locals = 4;
  p.durations = {{1, 0}, {0, 1}, {24, 0}};
  p.zones = {"Europe/Stockholm"};
  p.sets = {{1, 3, 4}};
  p.strings = {"a@example.com", ""};
  p.ints = {absl::ToUnixNanos(At("2026-03-02T09:00:00Z")), std::numeric_limits<int64_t>::max()};

  FactLayout& l = p.layout;
  l.messages.resize(2);
  l.contact_slots = 3;
  l.messages[0].fields = {
      FactField{13, FactKind::kInstant, FactKind::kInt, 0, -1, "last_activity_at"},
      FactField{4, FactKind::kString, FactKind::kInt, 1, -1, "email"},
      FactField{2, FactKind::kDate, FactKind::kInt, 2, -1, "birth_date"},
      FactField{8, FactKind::kRecordList, FactKind::kInt, 0, 1, "consents"},
      FactField{10, FactKind::kScalarList, FactKind::kEnum, 1, -1, "suppressions"},
  };
  l.messages[1].fields = {
      FactField{2, FactKind::kPurpose, FactKind::kInt, 0, -1, "purpose"},
      FactField{4, FactKind::kInstant, FactKind::kInt, 1, -1, "granted_at"},
      FactField{1, FactKind::kString, FactKind::kInt, 2, -1, "id"},
  };
  l.lists = {ListLayout{"consents", true, 3, 2}, ListLayout{"suppressions", false, 1, -1}};
  return p;
}

lawful::v1::Contact SampleContact() {
  lawful::v1::Contact c;
  c.set_id("c-1");
  c.set_email("a@example.com");
  c.set_birth_date("2013-03-02");
  c.mutable_last_activity_at()->set_seconds(absl::ToUnixSeconds(At("2026-01-01T00:00:00Z")));
  auto* consent = c.add_consents();
  consent->set_id("k-7");
  consent->set_purpose("survey");
  consent->mutable_granted_at()->set_seconds(absl::ToUnixSeconds(At("2025-06-01T00:00:00Z")));
  auto* other = c.add_consents();
  other->set_purpose("not-declared");
  other->mutable_granted_at()->set_seconds(absl::ToUnixSeconds(At("2025-07-01T00:00:00Z")));
  c.add_suppressions(lawful::v1::SUPPRESSION_NIX_PHONE);
  c.add_suppressions(lawful::v1::SUPPRESSION_SPAR_DIRECT_MARKETING);
  return c;
}

// A decision holds pointers into its rule set, so the test keeps the rule set alive.
struct Decided : Decision {
  std::shared_ptr<const RuleSet> rule_set;
};

absl::StatusOr<Decided> DecideWith(std::vector<Instr> condition,
                                   const lawful::v1::Contact& contact = SampleContact()) {
  auto rule_set = RuleSet::Create(ConditionProgram(std::move(condition)), "v1");
  if (!rule_set.ok()) return rule_set.status();
  Outreach o{"newsletter", lawful::v1::CHANNEL_EMAIL, lawful::v1::NOTICE_TYPE_UNSPECIFIED,
             At("2026-03-02T09:00:00Z")};
  auto prepared = (*rule_set)->Prepare(o);
  if (!prepared.ok()) return prepared.status();
  Evaluator evaluator;
  Decided d{evaluator.Decide(*prepared, contact), *rule_set};
  return d;
}

struct OpCase {
  const char* name;
  std::vector<Instr> condition;
  bool holds;
};

class OpcodeTest : public testing::TestWithParam<OpCase> {};

TEST_P(OpcodeTest, Evaluates) {
  const OpCase& c = GetParam();
  absl::StatusOr<Decided> d = DecideWith(c.condition);
  ASSERT_TRUE(d.ok()) << d.status();
  ASSERT_NE(d->rule, nullptr);
  EXPECT_EQ(d->rule->name, c.holds ? "yes" : "no");
}

INSTANTIATE_TEST_SUITE_P(
    Table, OpcodeTest,
    testing::Values(
        OpCase{"push_int_true", {I(Op::kPushInt, 1)}, true},
        OpCase{"push_int_false", {I(Op::kPushInt, 0)}, false},
        OpCase{"push_const", {I(Op::kPushConst, 1), I(Op::kPushInt, 0), I(Op::kGt)}, true},
        OpCase{"lt", {I(Op::kPushInt, 2), I(Op::kPushInt, 3), I(Op::kLt)}, true},
        OpCase{"le_equal", {I(Op::kPushInt, 3), I(Op::kPushInt, 3), I(Op::kLe)}, true},
        OpCase{"gt", {I(Op::kPushInt, 3), I(Op::kPushInt, 3), I(Op::kGt)}, false},
        OpCase{"ge", {I(Op::kPushInt, 3), I(Op::kPushInt, 3), I(Op::kGe)}, true},
        OpCase{"eq", {I(Op::kPushInt, -4), I(Op::kPushInt, -4), I(Op::kEq)}, true},
        OpCase{"ne", {I(Op::kPushInt, 4), I(Op::kPushInt, 5), I(Op::kNe)}, true},
        OpCase{
            "missing_compares_false", {I(Op::kPushMissing), I(Op::kPushInt, 3), I(Op::kLt)}, false},
        OpCase{"missing_not_equal_to_missing",
               {I(Op::kPushMissing), I(Op::kPushMissing), I(Op::kEq)},
               false},
        OpCase{"missing_ne_is_false_too",
               {I(Op::kPushMissing), I(Op::kPushInt, 1), I(Op::kNe)},
               false},
        OpCase{"gt_raw_orders_missing_first",
               {I(Op::kPushInt, -5), I(Op::kPushMissing), I(Op::kGtRaw)},
               true},
        OpCase{"not", {I(Op::kPushInt, 0), I(Op::kNot)}, true},
        OpCase{
            "add",
            {I(Op::kPushInt, 2), I(Op::kPushInt, 3), I(Op::kAdd), I(Op::kPushInt, 5), I(Op::kEq)},
            true},
        OpCase{
            "sub",
            {I(Op::kPushInt, 2), I(Op::kPushInt, 3), I(Op::kSub), I(Op::kPushInt, -1), I(Op::kEq)},
            true},
        OpCase{
            "mul",
            {I(Op::kPushInt, 4), I(Op::kPushInt, 3), I(Op::kMul), I(Op::kPushInt, 12), I(Op::kEq)},
            true},
        OpCase{
            "div",
            {I(Op::kPushInt, 7), I(Op::kPushInt, 2), I(Op::kDiv), I(Op::kPushInt, 3), I(Op::kEq)},
            true},
        OpCase{"div_by_zero_is_missing",
               {I(Op::kPushInt, 7), I(Op::kPushInt, 0), I(Op::kDiv), I(Op::kIsMissing)},
               true},
        OpCase{"overflow_is_missing",
               {I(Op::kPushConst, 1), I(Op::kPushInt, 1), I(Op::kAdd), I(Op::kIsMissing)},
               true},
        OpCase{"neg", {I(Op::kPushInt, 7), I(Op::kNeg), I(Op::kPushInt, -7), I(Op::kEq)}, true},
        OpCase{"dup_pop", {I(Op::kPushInt, 1), I(Op::kDup), I(Op::kPop)}, true},
        OpCase{"locals",
               {I(Op::kPushInt, 9), I(Op::kStoreLocal, 2), I(Op::kLoadLocal, 2), I(Op::kPushInt, 9),
                I(Op::kEq)},
               true},
        OpCase{"and_jump_short_circuits",
               {I(Op::kPushInt, 0), I(Op::kAndJump, 3), I(Op::kPushInt, 1)},
               false},
        OpCase{"and_jump_continues",
               {I(Op::kPushInt, 1), I(Op::kAndJump, 3), I(Op::kPushInt, 1)},
               true},
        OpCase{"or_jump_short_circuits",
               {I(Op::kPushInt, 1), I(Op::kOrJump, 3), I(Op::kPushInt, 0)},
               true},
        OpCase{"or_jump_continues",
               {I(Op::kPushInt, 0), I(Op::kOrJump, 3), I(Op::kPushInt, 0)},
               false},
        OpCase{"jump", {I(Op::kJump, 2), I(Op::kPushInt, 0), I(Op::kPushInt, 1)}, true},
        OpCase{"jump_if_true",
               {I(Op::kPushInt, 1), I(Op::kJumpIfTrue, 4), I(Op::kPushInt, 0), I(Op::kJump, 5),
                I(Op::kPushInt, 1)},
               true},
        OpCase{"load_req_at", {I(Op::kLoadReq, kRegAt), I(Op::kPushConst, 0), I(Op::kEq)}, true},
        OpCase{"load_req_purpose",
               {I(Op::kLoadReq, kRegPurpose), I(Op::kPushInt, 0), I(Op::kEq)},
               true},
        OpCase{
            "load_req_channel",
            {I(Op::kLoadReq, kRegChannel), I(Op::kPushInt, lawful::v1::CHANNEL_EMAIL), I(Op::kEq)},
            true},
        OpCase{"notice_type_defaults_to_contract",
               {I(Op::kLoadReq, kRegNoticeType), I(Op::kPushInt, lawful::v1::NOTICE_TYPE_CONTRACT),
                I(Op::kEq)},
               true},
        OpCase{
            "load_fact_instant", {I(Op::kLoadFact, 0), I(Op::kLoadReq, kRegAt), I(Op::kLt)}, true},
        OpCase{"instant_sub_months",
               {I(Op::kLoadReq, kRegAt), I(Op::kInstantSub, 2), I(Op::kLoadFact, 0), I(Op::kLt)},
               true},
        OpCase{"instant_add_days",
               {I(Op::kLoadFact, 0), I(Op::kInstantAdd, 1), I(Op::kLoadFact, 0), I(Op::kGt)},
               true},
        OpCase{"date_add_and_sub",
               {I(Op::kLoadFact, 2), I(Op::kDateAdd, 0), I(Op::kDateSub, 0), I(Op::kLoadFact, 2),
                I(Op::kEq)},
               true},
        OpCase{"thirteenth_birthday_in_stockholm",
               {I(Op::kLoadFact, 2), I(Op::kLoadReq, kRegAt), I(Op::kLocalDate, 0),
                I(Op::kYearsBetween), I(Op::kPushInt, 13), I(Op::kEq)},
               true},
        OpCase{"str_eq_fact_and_constant",
               {I(Op::kLoadFact, 1), I(Op::kPushStr, 0), I(Op::kStrEq)},
               true},
        OpCase{"str_ne", {I(Op::kLoadFact, 1), I(Op::kPushStr, 1), I(Op::kStrNe)}, true},
        OpCase{"str_is_empty", {I(Op::kPushStr, 1), I(Op::kStrIsEmpty)}, true},
        OpCase{"in_set", {I(Op::kPushInt, 3), I(Op::kInSet, 0)}, true},
        OpCase{"not_in_set", {I(Op::kPushInt, 2), I(Op::kInSet, 0)}, false},
        OpCase{"in_list",
               {I(Op::kPushInt, lawful::v1::SUPPRESSION_SPAR_DIRECT_MARKETING), I(Op::kInList, 1)},
               true},
        OpCase{"not_in_list",
               {I(Op::kPushInt, lawful::v1::SUPPRESSION_INTERNAL), I(Op::kInList, 1)},
               false},
        OpCase{"list_len", {I(Op::kListLen, 0), I(Op::kPushInt, 2), I(Op::kEq)}, true},
        OpCase{"load_elem",
               {I(Op::kPushInt, 1), I(Op::kLoadElem, 1),
                I(Op::kPushInt, lawful::v1::SUPPRESSION_SPAR_DIRECT_MARKETING), I(Op::kEq)},
               true},
        OpCase{"load_elem_out_of_range_is_missing",
               {I(Op::kPushInt, 7), I(Op::kLoadElem, 1), I(Op::kIsMissing)},
               true},
        OpCase{"load_field_purpose_id",
               {I(Op::kPushInt, 0), I(Op::kLoadField, 0, 0), I(Op::kPushInt, 1), I(Op::kEq)},
               true},
        OpCase{"undeclared_purpose_is_minus_one",
               {I(Op::kPushInt, 1), I(Op::kLoadField, 0, 0), I(Op::kPushInt, -1), I(Op::kEq)},
               true},
        OpCase{"load_field_of_no_record_is_missing",
               {I(Op::kPushInt, -1), I(Op::kLoadField, 1, 0), I(Op::kIsMissing)},
               true},
        OpCase{"load_local_field",
               {I(Op::kPushInt, 0), I(Op::kStoreLocal, 3), I(Op::kLoadLocalField, 0, 3, 0),
                I(Op::kPushInt, 1), I(Op::kEq)},
               true},
        OpCase{"load_local_field_of_no_record",
               {I(Op::kPushInt, -1), I(Op::kStoreLocal, 3), I(Op::kLoadLocalField, 1, 3, 0),
                I(Op::kIsMissing)},
               true},
        OpCase{"eq_reg",
               {I(Op::kPushInt, lawful::v1::CHANNEL_EMAIL), I(Op::kEqReg, kRegChannel)},
               true},
        OpCase{
            "ne_reg", {I(Op::kPushInt, lawful::v1::CHANNEL_SMS), I(Op::kNeReg, kRegChannel)}, true},
        OpCase{"lt_reg", {I(Op::kLoadFact, 0), I(Op::kLtReg, kRegAt)}, true},
        OpCase{"le_reg", {I(Op::kLoadReq, kRegAt), I(Op::kLeReg, kRegAt)}, true},
        OpCase{"gt_reg", {I(Op::kLoadFact, 0), I(Op::kGtReg, kRegAt)}, false},
        OpCase{"ge_reg_missing", {I(Op::kPushMissing), I(Op::kGeReg, kRegAt)}, false},
        OpCase{"set_local", {I(Op::kSetLocal, 5, 2), I(Op::kLoadLocal, 2), I(Op::kEqImm, 5)}, true},
        OpCase{"tee_local",
               {I(Op::kPushInt, 4), I(Op::kTeeLocal, 1), I(Op::kLoadLocal, 1), I(Op::kEq)},
               true},
        OpCase{"eq_imm", {I(Op::kPushInt, 7), I(Op::kEqImm, 7)}, true},
        OpCase{"ne_imm", {I(Op::kPushInt, 7), I(Op::kNeImm, 7)}, false},
        OpCase{"ne_imm_missing", {I(Op::kPushMissing), I(Op::kNeImm, 7)}, false},
        // count consents: l0 = index, l1 = count
        OpCase{"loop_next_counts_records",
               {I(Op::kPushInt, -1), I(Op::kStoreLocal, 0), I(Op::kPushInt, 0),
                I(Op::kStoreLocal, 1), I(Op::kLoopNext, 10, 0, 0), I(Op::kLoadLocal, 1),
                I(Op::kPushInt, 1), I(Op::kAdd), I(Op::kStoreLocal, 1), I(Op::kJump, 4),
                I(Op::kLoadLocal, 1), I(Op::kPushInt, 2), I(Op::kEq)},
               true}),
    [](const testing::TestParamInfo<OpCase>& p) { return std::string(p.param.name); });

TEST(Evaluator, DecisionCarriesEvidenceAndRule) {
  absl::StatusOr<Decided> d = DecideWith({I(Op::kPushInt, 1)});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->outcome, Outcome::kAllow);
  EXPECT_EQ(d->evidence_index, 0);
  EXPECT_EQ(d->evidence_id, "k-7");
  lawful::v1::Decision proto;
  d->rule_set->ToProto(*d, &proto);
  EXPECT_EQ(proto.outcome(), lawful::v1::OUTCOME_ALLOW);
  EXPECT_EQ(proto.reason(), "yes");
  EXPECT_EQ(proto.citation(), "cite yes");
  EXPECT_EQ(proto.evidence().field(), "consents");
  EXPECT_EQ(proto.evidence().record_id(), "k-7");
}

TEST(Evaluator, MalformedFactsGiveAnErrorDecisionWithThePath) {
  lawful::v1::Contact c = SampleContact();
  c.set_birth_date("2013-02-30");
  absl::StatusOr<Decided> d = DecideWith({I(Op::kPushInt, 1)}, c);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->outcome, Outcome::kError);
  EXPECT_EQ(d->error_path, "birth_date");
  EXPECT_THAT(d->error_message, HasSubstr("YYYY-MM-DD"));

  c = SampleContact();
  c.mutable_consents(1)->mutable_granted_at()->set_nanos(-1);
  d = DecideWith({I(Op::kPushInt, 1)}, c);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->outcome, Outcome::kError);
  EXPECT_EQ(d->error_path, "consents[1].granted_at");
}

TEST(Evaluator, TruncatedBytesAreAnErrorNotACrash) {
  auto rule_set = RuleSet::Create(ConditionProgram({I(Op::kPushInt, 1)}), "v1");
  ASSERT_TRUE(rule_set.ok());
  auto prepared =
      (*rule_set)->Prepare({"newsletter", lawful::v1::CHANNEL_EMAIL, {}, absl::UnixEpoch()});
  ASSERT_TRUE(prepared.ok());
  std::string bytes = SampleContact().SerializeAsString();
  Evaluator evaluator;
  for (size_t n = 0; n < bytes.size(); ++n) {
    Decision d = evaluator.Decide(*prepared, std::string_view(bytes.data(), n));
    EXPECT_TRUE(d.outcome == Outcome::kError || d.rule != nullptr) << n;
  }
}

// Protobuf reads a singular field that occurs more than once (legal: e.g. two contacts
// concatenated) as its last occurrence, merging message occurrences field by field. The message
// path (Decide on a parsed Contact) sees only that result, so the bytes must decode to it too.
// RepeatProgram adds to ConditionProgram's layout consents[].channel (record slot 3) and
// relationship.customer_since (contact slot 3, through a nested message); ints[2] and ints[3] are
// the instants kSeconds + 7 ns and kSeconds + 1 day + 7 ns.
constexpr int64_t kSeconds = 1'748'736'000;  // 2025-06-01T00:00:00Z

Program RepeatProgram(std::vector<Instr> condition) {
  Program p = ConditionProgram(std::move(condition));
  FactLayout& l = p.layout;
  l.contact_slots = 4;
  l.messages[0].fields.push_back(
      FactField{12, FactKind::kMessage, FactKind::kInt, -1, 2, "relationship"});
  l.messages[1].fields.push_back(FactField{3, FactKind::kEnum, FactKind::kInt, 3, -1, "channel"});
  l.messages.push_back(
      MessageLayout{{FactField{2, FactKind::kInstant, FactKind::kInt, 3, -1, "customer_since"}}});
  l.lists[0].width = 4;
  p.ints.push_back(kSeconds * 1'000'000'000 + 7);
  p.ints.push_back((kSeconds + 86'400) * 1'000'000'000 + 7);
  return p;
}

std::string Ts(int64_t seconds, int32_t nanos) {
  google::protobuf::Timestamp t;
  t.set_seconds(seconds);
  t.set_nanos(nanos);
  return t.SerializeAsString();
}

std::string TsSeconds(int64_t seconds) { return Ts(seconds, 0); }
std::string TsNanos(int32_t nanos) { return Ts(0, nanos); }

// A length-delimited field, written by hand for what protobuf never writes itself (an empty
// string, a field twice in one message).
std::string Field(uint32_t number, const std::string& body) {
  std::string out;
  auto varint = [&](uint64_t v) {
    for (; v >= 0x80; v >>= 7) out.push_back(static_cast<char>(v | 0x80));
    out.push_back(static_cast<char>(v));
  };
  varint(uint64_t{number} << 3 | 2);
  varint(body.size());
  return out + body;
}

std::string Consent(const std::string& fields) { return Field(8, fields); }

struct RepeatCase {
  const char* name;
  std::string contact;           // wire bytes that repeat a singular field
  std::vector<Instr> condition;  // holds (allow) if the field reads as protobuf reads it
  Outcome expected;
  const char* error_path = "";  // for kError
};

// The case's name is in the test's; its bytes would print as a dump of the struct.
void PrintTo(const RepeatCase& c, std::ostream* os) { *os << c.name; }

class RepeatedFieldTest : public testing::TestWithParam<RepeatCase> {};

TEST_P(RepeatedFieldTest, BytesDecideAsTheParsedMessage) {
  const RepeatCase& c = GetParam();
  auto rule_set = RuleSet::Create(RepeatProgram(c.condition), "v1");
  ASSERT_TRUE(rule_set.ok()) << rule_set.status();
  auto prepared =
      (*rule_set)->Prepare({"newsletter", lawful::v1::CHANNEL_EMAIL, {}, absl::UnixEpoch()});
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  lawful::v1::Contact parsed;
  ASSERT_TRUE(parsed.ParseFromString(c.contact));
  Evaluator evaluator;
  const Decision from_message = evaluator.Decide(*prepared, parsed);
  const Decision from_bytes = evaluator.Decide(*prepared, c.contact);

  EXPECT_EQ(from_bytes.outcome, c.expected)
      << from_bytes.error_path << ": " << from_bytes.error_message;
  EXPECT_EQ(from_bytes.error_path, c.error_path);
  EXPECT_EQ(from_message.outcome, from_bytes.outcome)
      << from_message.error_path << ": " << from_message.error_message;
  EXPECT_EQ(from_message.rule, from_bytes.rule);
  EXPECT_EQ(from_message.error_path, from_bytes.error_path);
  EXPECT_EQ(from_message.error_message, from_bytes.error_message);
  EXPECT_EQ(from_message.has_facts_digest, from_bytes.has_facts_digest);
  EXPECT_TRUE(std::equal(std::begin(from_message.facts_digest), std::end(from_message.facts_digest),
                         std::begin(from_bytes.facts_digest)));
}

// Condition pieces: contact slot 0 = last_activity_at, 1 = email, 2 = birth_date,
// 3 = relationship.customer_since; consents[0] field 1 = granted_at, 3 = channel.
std::vector<Instr> FactIsConst(int32_t slot, int32_t constant) {
  return {I(Op::kLoadFact, slot), I(Op::kPushConst, constant), I(Op::kEq)};
}
std::vector<Instr> ConsentFieldIsConst(int32_t field, int32_t constant) {
  return {I(Op::kPushInt, 0), I(Op::kLoadField, field, 0), I(Op::kPushConst, constant), I(Op::kEq)};
}

INSTANTIATE_TEST_SUITE_P(
    Table, RepeatedFieldTest,
    testing::Values(
        RepeatCase{"string_last_wins",
                   Field(4, "x@example.com") + Field(4, "a@example.com"),
                   {I(Op::kLoadFact, 1), I(Op::kPushStr, 0), I(Op::kStrEq)},
                   Outcome::kAllow},
        RepeatCase{
            "enum_last_wins_in_a_record",
            Consent("\x18\x02"    // channel: SMS
                    "\x18\x01"),  // channel: EMAIL
            {I(Op::kPushInt, 0), I(Op::kLoadField, 3, 0), I(Op::kEqImm, lawful::v1::CHANNEL_EMAIL)},
            Outcome::kAllow},
        RepeatCase{"date_malformed_then_valid",
                   Field(2, "2013-02-30") + Field(2, "2013-03-02"),
                   {I(Op::kLoadFact, 2), I(Op::kEqImm, 20130302)},
                   Outcome::kAllow},
        RepeatCase{"date_valid_then_malformed",
                   Field(2, "2013-03-02") + Field(2, "2013-02-30"),
                   {I(Op::kPushInt, 1)},
                   Outcome::kError,
                   "birth_date"},
        RepeatCase{"date_malformed_then_empty",
                   Field(2, "not a date") + Field(2, ""),
                   {I(Op::kLoadFact, 2), I(Op::kIsMissing)},
                   Outcome::kAllow},
        RepeatCase{"date_valid_then_empty",
                   Field(2, "2013-03-02") + Field(2, ""),
                   {I(Op::kLoadFact, 2), I(Op::kIsMissing)},
                   Outcome::kAllow},
        RepeatCase{"date_malformed_twice_then_valid",
                   Field(2, "x") + Field(2, "2013-02-30") + Field(2, "2013-03-02"),
                   {I(Op::kLoadFact, 2), I(Op::kEqImm, 20130302)},
                   Outcome::kAllow},
        RepeatCase{"timestamp_merges_seconds_and_nanos",
                   Field(13, TsSeconds(kSeconds)) + Field(13, TsNanos(7)), FactIsConst(0, 2),
                   Outcome::kAllow},
        RepeatCase{"timestamp_later_seconds_keep_the_nanos",
                   Field(13, Ts(kSeconds, 7)) + Field(13, TsSeconds(kSeconds + 86'400)),
                   FactIsConst(0, 3), Outcome::kAllow},
        RepeatCase{"timestamp_malformed_nanos_then_valid",
                   Field(13, Ts(kSeconds, -1)) + Field(13, TsNanos(7)), FactIsConst(0, 2),
                   Outcome::kAllow},
        RepeatCase{"timestamp_valid_then_malformed_nanos",
                   Field(13, TsSeconds(kSeconds)) + Field(13, TsNanos(1'000'000'000)),
                   {I(Op::kPushInt, 1)},
                   Outcome::kError,
                   "last_activity_at"},
        RepeatCase{"timestamp_beyond_the_instant_range_then_seconds",
                   Field(13, Ts(int64_t{1} << 50, 7)) + Field(13, TsSeconds(kSeconds)),
                   FactIsConst(0, 2), Outcome::kAllow},
        RepeatCase{"timestamp_in_a_nested_message_merges",
                   Field(12, Field(2, TsSeconds(kSeconds))) + Field(12, Field(2, TsNanos(7))),
                   FactIsConst(3, 2), Outcome::kAllow},
        RepeatCase{"timestamp_twice_in_a_record",
                   Consent(Field(4, TsSeconds(kSeconds)) + Field(4, TsNanos(7))),
                   ConsentFieldIsConst(1, 2), Outcome::kAllow},
        RepeatCase{"timestamp_malformed_then_valid_in_a_record",
                   Consent(Field(4, Ts(kSeconds, -5)) + Field(4, TsNanos(7))),
                   ConsentFieldIsConst(1, 2), Outcome::kAllow},
        RepeatCase{"timestamp_valid_then_malformed_in_a_record",
                   Consent(Field(4, Ts(kSeconds, 7)) + Field(4, TsNanos(-1))),
                   {I(Op::kPushInt, 1)},
                   Outcome::kError,
                   "consents[0].granted_at"},
        // Each record is its own message: a later record does not repair an earlier one.
        RepeatCase{"malformed_record_not_repaired_by_the_next",
                   Consent(Field(4, Ts(kSeconds, -1))) + Consent(Field(4, TsNanos(7))),
                   {I(Op::kPushInt, 1)},
                   Outcome::kError,
                   "consents[0].granted_at"},
        // The first malformed value met is the error, as the message path reports it.
        RepeatCase{"malformed_date_before_a_malformed_record",
                   Field(2, "2013-02-30") + Consent(Field(4, Ts(kSeconds, -1))),
                   {I(Op::kPushInt, 1)},
                   Outcome::kError,
                   "birth_date"},
        // Protobuf keeps an occurrence of the wrong wire type as an unknown field and writes it
        // back, so the message path meets it too: a later valid occurrence does not clear it.
        RepeatCase{"wrong_wire_type_then_valid",
                   "\x20\x01" + Field(4, "a@example.com"),  // email as a varint, then a string
                   {I(Op::kPushInt, 1)},
                   Outcome::kError,
                   "email"},
        // Two whole contacts concatenated: singular fields from the second, records from both.
        RepeatCase{"contacts_concatenated",
                   SampleContact().SerializeAsString() + Field(4, "b@example.com") +
                       Field(2, "2000-01-01") + Consent(Field(4, TsSeconds(kSeconds))),
                   {I(Op::kListLen, 0), I(Op::kEqImm, 3), I(Op::kAndJump, 9), I(Op::kLoadFact, 2),
                    I(Op::kEqImm, 20000101), I(Op::kAndJump, 9), I(Op::kLoadFact, 1),
                    I(Op::kPushStr, 0), I(Op::kStrNe)},
                   Outcome::kAllow}),
    [](const testing::TestParamInfo<RepeatCase>& p) { return std::string(p.param.name); });

TEST(Prepare, RejectsUndeclaredPurposeAndMissingChannel) {
  auto rule_set = RuleSet::Create(ConditionProgram({I(Op::kPushInt, 1)}), "v1");
  ASSERT_TRUE(rule_set.ok());
  auto bad = (*rule_set)->Prepare({"profiling", lawful::v1::CHANNEL_EMAIL, {}, absl::UnixEpoch()});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("outreach.purpose"));
  bad =
      (*rule_set)->Prepare({"newsletter", lawful::v1::CHANNEL_UNSPECIFIED, {}, absl::UnixEpoch()});
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("outreach.channel"));
  bad = (*rule_set)->Prepare({"", lawful::v1::CHANNEL_EMAIL, {}, absl::UnixEpoch()});
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("outreach.purpose"));
}

struct VerifyCase {
  const char* name;
  std::vector<Instr> condition;
  const char* error;
};

class VerifierTest : public testing::TestWithParam<VerifyCase> {};

TEST_P(VerifierTest, Rejects) {
  const VerifyCase& c = GetParam();
  Program p = ConditionProgram(c.condition);
  absl::Status s = Verify(p);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(c.error));
}

INSTANTIATE_TEST_SUITE_P(
    Table, VerifierTest,
    testing::Values(
        VerifyCase{"underflow", {I(Op::kLt)}, "stack underflow"},
        VerifyCase{"jump_outside", {I(Op::kPushInt, 1), I(Op::kJump, 9999)}, "jump target outside"},
        VerifyCase{"bad_const", {I(Op::kPushConst, 99)}, "int constant out of range"},
        VerifyCase{"bad_string", {I(Op::kPushStr, 99)}, "string constant out of range"},
        VerifyCase{"bad_slot", {I(Op::kLoadFact, 3)}, "fact slot out of range"},
        VerifyCase{"bad_register", {I(Op::kLoadReq, 4)}, "register out of range"},
        VerifyCase{"bad_local", {I(Op::kLoadLocal, 4)}, "local out of range"},
        VerifyCase{"bad_list", {I(Op::kListLen, 2)}, "list out of range"},
        VerifyCase{"scalar_list_has_no_fields",
                   {I(Op::kPushInt, 0), I(Op::kLoadField, 0, 1)},
                   "record list out of range"},
        VerifyCase{"bad_record_field",
                   {I(Op::kPushInt, 0), I(Op::kLoadField, 3, 0)},
                   "record field out of range"},
        VerifyCase{"bad_duration",
                   {I(Op::kLoadReq, 0), I(Op::kInstantAdd, 7)},
                   "duration constant out of range"},
        VerifyCase{
            "bad_zone", {I(Op::kLoadReq, 0), I(Op::kLocalDate, 1)}, "time zone out of range"},
        VerifyCase{"bad_set", {I(Op::kPushInt, 0), I(Op::kInSet, 1)}, "set constant out of range"},
        VerifyCase{"bad_rule",
                   {I(Op::kPushInt, 0), I(Op::kPushInt, 0), I(Op::kDecide, 2)},
                   "rule out of range"},
        VerifyCase{
            "depth_differs",
            {I(Op::kPushInt, 1), I(Op::kJumpIfFalse, 3), I(Op::kPushInt, 1), I(Op::kPushInt, 1)},
            "differs"},
        VerifyCase{"leftover_at_decide",
                   {I(Op::kPushInt, 1), I(Op::kPushInt, 1)},
                   "leaves values on the stack"},
        VerifyCase{"policy_halts", {I(Op::kHalt)}, "may not write request registers or halt"},
        VerifyCase{"policy_writes_register",
                   {I(Op::kPushInt, 1), I(Op::kStoreReg, 0), I(Op::kPushInt, 1)},
                   "may not write"},
        VerifyCase{
            "bad_local_field", {I(Op::kLoadLocalField, 9, 0, 0)}, "record field out of range"},
        VerifyCase{"local_field_on_scalar_list",
                   {I(Op::kLoadLocalField, 0, 0, 1)},
                   "record list out of range"},
        VerifyCase{
            "bad_set_local", {I(Op::kSetLocal, 1, 4), I(Op::kPushInt, 1)}, "local out of range"},
        VerifyCase{"unknown_opcode", {Instr{static_cast<Op>(200), 0, 0, 0}}, "unknown opcode"},
        // Termination: the only way back is to the head of a loop that holds the jump, loops nest,
        // and nothing inside a loop writes its index (I(kLoopNext, exit, index local, list)).
        VerifyCase{"jump_back_outside_a_loop",
                   {I(Op::kPushInt, 1), I(Op::kJumpIfTrue, 0), I(Op::kPushInt, 1)},
                   "jump back"},
        VerifyCase{"jump_to_itself", {I(Op::kJump, 0)}, "jump back"},
        VerifyCase{"loop_exit_before_it",
                   {I(Op::kSetLocal, -1, 0), I(Op::kLoopNext, 0, 0, 1), I(Op::kPushInt, 1)},
                   "exit must follow it"},
        VerifyCase{"loop_index_written_inside",
                   {I(Op::kSetLocal, -1, 0), I(Op::kLoopNext, 4, 0, 1), I(Op::kSetLocal, -1, 0),
                    I(Op::kJump, 1), I(Op::kPushInt, 1)},
                   "index is written inside the loop"},
        VerifyCase{
            "loops_overlap",
            {I(Op::kSetLocal, -1, 0), I(Op::kSetLocal, -1, 1), I(Op::kLoopNext, 5, 0, 1),
             I(Op::kLoopNext, 6, 1, 1), I(Op::kJump, 2), I(Op::kJump, 3), I(Op::kPushInt, 1)},
            "overlap without nesting"}),
    [](const testing::TestParamInfo<VerifyCase>& p) { return std::string(p.param.name); });

TEST(Verifier, PreludeMayNotReadFacts) {
  Program p = ConditionProgram({I(Op::kPushInt, 1)});
  p.code.back() = I(Op::kLoadFact, 0);
  p.code.push_back(I(Op::kPop));
  p.code.push_back(I(Op::kHalt));
  p.spans.resize(p.code.size());
  EXPECT_THAT(std::string(Verify(p).message()), HasSubstr("prelude may not read contact facts"));
}

// Found by the program fuzzer: a prelude that overwrote the purpose register made Explain's
// summary index the purposes with it. Prepare sets those registers; nothing may change them.
TEST(Verifier, PreludeMayNotWriteTheRequestsOwnRegisters) {
  for (int32_t reg : {kRegAt, kRegPurpose, kRegChannel, kRegNoticeType}) {
    Program p = ConditionProgram({I(Op::kPushInt, 1)});
    p.code.back() = I(Op::kPushInt, 99);
    p.code.push_back(I(Op::kStoreReg, reg));
    p.code.push_back(I(Op::kHalt));
    p.spans.resize(p.code.size());
    EXPECT_THAT(std::string(Verify(p).message()),
                HasSubstr("may not write the request's own registers"))
        << reg;
  }
}

TEST(Verifier, ControlMayNotFallOffTheEnd) {
  Program p = ConditionProgram({I(Op::kPushInt, 1)});
  p.code.back() = I(Op::kPushInt, 1);
  p.spans.resize(p.code.size());
  EXPECT_THAT(std::string(Verify(p).message()), HasSubstr("falls off the end"));
}

TEST(Verifier, AcceptsALoopThatHoldsItsJumpBack) {
  Program p = ConditionProgram(
      {I(Op::kSetLocal, -1, 0), I(Op::kLoopNext, 3, 0, 1), I(Op::kJump, 1), I(Op::kPushInt, 1)});
  EXPECT_TRUE(Verify(p).ok());
}

// Explain clears the memo flags at each rule; a loop counting in one could start over for ever.
TEST(Verifier, LoopIndexMayNotBeAMemoFlag) {
  Program p = ConditionProgram(
      {I(Op::kSetLocal, -1, 0), I(Op::kLoopNext, 3, 0, 1), I(Op::kJump, 1), I(Op::kPushInt, 1)});
  p.num_memo_flags = 1;
  EXPECT_THAT(std::string(Verify(p).message()), HasSubstr("may not be a memo flag"));
}

// A loop whose index starts at INT64_MAX used to wrap around to INT64_MIN and run 2^63 times (and
// was undefined behaviour): the index now never moves past the list's length.
TEST(Evaluator, LoopIndexNeverWrapsAround) {
  absl::StatusOr<Decided> d =
      DecideWith({I(Op::kPushConst, 1), I(Op::kStoreLocal, 0), I(Op::kLoopNext, 4, 0, 1),
                  I(Op::kJump, 2), I(Op::kPushInt, 1)});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->rule->name, "yes");
}

// Found by fuzz/program_fuzzer (a CI fuzz smoke timed out): a loop whose index was stored as
// -INT64_MAX before it counted up one by one for ever; the first step now starts it at 0.
TEST(Evaluator, LoopIndexStoredFarBelowZeroStartsAtTheFirstElement) {
  absl::StatusOr<Decided> d =
      DecideWith({I(Op::kPushConst, 1), I(Op::kNeg), I(Op::kStoreLocal, 0),
                  I(Op::kLoopNext, 5, 0, 1), I(Op::kJump, 3), I(Op::kPushInt, 1)});
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->rule->name, "yes");
}

// Found by fuzz/program_fuzzer: the verifier checked only reachable instructions, and the
// disassembler, which prints every one, read past Program::rules for an unreachable kDecide.
TEST(Verifier, ChecksUnreachableInstructionsToo) {
  Program p = ConditionProgram({I(Op::kPushInt, 1)});
  p.code[5] = I(Op::kDecide, 99);  // the unreachable filler after the first decision
  EXPECT_THAT(std::string(Verify(p).message()), HasSubstr("pc 5: rule out of range"));
}

// The fact layout drives the decoder's writes, so the verifier checks it like the code.
struct LayoutCase {
  const char* name;
  std::function<void(FactLayout&)> change;
  const char* error;
};

class LayoutVerifierTest : public testing::TestWithParam<LayoutCase> {};

TEST_P(LayoutVerifierTest, Rejects) {
  Program p = ConditionProgram({I(Op::kPushInt, 1)});
  GetParam().change(p.layout);
  absl::Status s = Verify(p);
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr(GetParam().error));
}

// ConditionProgram's layout: message 0 = contact (fields: 0 last_activity_at, 1 email,
// 2 birth_date, 3 consents, 4 suppressions), message 1 = consent; list 0 = consents (width 3),
// list 1 = suppressions.
INSTANTIATE_TEST_SUITE_P(
    Table, LayoutVerifierTest,
    testing::Values(
        LayoutCase{"too_many_contact_slots", [](FactLayout& l) { l.contact_slots = 1 << 20; },
                   "contact slot count"},
        LayoutCase{"record_width_negative", [](FactLayout& l) { l.lists[0].width = -1; },
                   "width out of range"},
        LayoutCase{"scalar_list_wider_than_one", [](FactLayout& l) { l.lists[1].width = 2; },
                   "width out of range"},
        LayoutCase{"id_slot_outside_record", [](FactLayout& l) { l.lists[0].id_slot = 3; },
                   "id slot out of range"},
        LayoutCase{"slot_outside_contact", [](FactLayout& l) { l.messages[0].fields[0].slot = 3; },
                   "slot out of range"},
        LayoutCase{"slot_outside_record", [](FactLayout& l) { l.messages[1].fields[0].slot = 3; },
                   "slot out of range"},
        LayoutCase{"negative_slot", [](FactLayout& l) { l.messages[0].fields[1].slot = -2; },
                   "slot out of range"},
        LayoutCase{"records_into_scalar_list",
                   [](FactLayout& l) { l.messages[0].fields[3].slot = 1; }, "of another kind"},
        LayoutCase{"list_filled_twice",
                   [](FactLayout& l) {
                     l.messages[0].fields.push_back(
                         {9, FactKind::kRecordList, FactKind::kInt, 0, 1, "again"});
                   },
                   "filled twice"},
        LayoutCase{"message_out_of_range",
                   [](FactLayout& l) { l.messages[0].fields[3].message = 5; },
                   "message out of range"},
        LayoutCase{"messages_form_a_cycle",
                   [](FactLayout& l) {
                     l.messages[1].fields.push_back(
                         {7, FactKind::kMessage, FactKind::kInt, -1, 1, "self"});
                   },
                   "cycle"},
        LayoutCase{"unknown_kind",
                   [](FactLayout& l) { l.messages[0].fields[0].kind = static_cast<FactKind>(99); },
                   "unknown kind"},
        LayoutCase{"scalar_list_of_messages",
                   [](FactLayout& l) { l.messages[0].fields[4].element = FactKind::kMessage; },
                   "non-scalars"}),
    [](const testing::TestParamInfo<LayoutCase>& p) { return std::string(p.param.name); });

TEST(Verifier, TimeZonesAreNamesNeverPaths) {
  for (const char* name :
       {"UTC", "Europe/Stockholm", "America/Argentina/Buenos_Aires", "Etc/GMT+1", "EST5EDT"}) {
    EXPECT_TRUE(IsTimeZoneName(name)) << name;
  }
  for (const char* name : {"", "/dev/stdin", "../etc/passwd", "Europe/../../x", "Europe//Stockholm",
                           "Europe/", "Europe/Stock holm", "file:/etc/localtime"}) {
    EXPECT_FALSE(IsTimeZoneName(name)) << name;
  }
  Program p = ConditionProgram({I(Op::kPushInt, 1)});
  p.zones = {"/dev/stdin"};  // loading it would block on the standard input
  EXPECT_THAT(std::string(Verify(p).message()), HasSubstr("is not a time zone name"));
}

TEST(Verifier, AcceptsAndMeasuresTheStack) {
  Program p = ConditionProgram(
      {I(Op::kPushInt, 1), I(Op::kPushInt, 2), I(Op::kPushInt, 3), I(Op::kAdd), I(Op::kAdd)});
  ASSERT_TRUE(Verify(p).ok());
  EXPECT_EQ(p.max_stack, 3);
}

TEST(Disassembler, NamesEveryOpcodeFromTheOneList) {
  for (int i = 0; i < kNumOps; ++i) {
    const OpInfo& info = GetOpInfo(static_cast<Op>(i));
    const std::string name = info.name;
    EXPECT_FALSE(name.empty());
    EXPECT_EQ(name, absl::AsciiStrToLower(name)) << "disassembler names are snake_case";
  }
  EXPECT_EQ(std::string(GetOpInfo(Op::kLoadFact).name), "load_fact");
  Program p = ConditionProgram({I(Op::kPushInt, 1)});
  ASSERT_TRUE(Verify(p).ok());
  std::string text = Disassemble(p);
  EXPECT_THAT(text, HasSubstr("decide         allow yes (yes)"));
  EXPECT_THAT(text, HasSubstr("push_int       1"));
}

}  // namespace
}  // namespace lawful
