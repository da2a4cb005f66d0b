// `lawful eval`'s input and output formats against protobuf itself: the JSON transcoder must
// accept and reject what JsonStringToMessage does and write the bytes SerializeToString writes;
// the decision printer must print what MessageToJsonString prints (CSV: eval_csv_test.cc).
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <google/protobuf/wrappers.pb.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "decision_lines.h"
#include "decision_output.h"
#include "eval_io_test_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lawful/dsl.h"
#include "lawful/engine.h"
#include "lawful/synth.h"
#include "lawful/testkit.h"

namespace lawful::cli {
namespace {

using ::lawful::testkit::At;
using ::lawful::testkit::kTestInstant;

namespace pb = google::protobuf;
using ::testing::HasSubstr;

// What protobuf makes of `json`: the serialized contact, or nothing when it refuses it.
std::optional<std::string> ProtobufBytes(const std::string& json) {
  v1::Contact contact;
  if (!pb::util::JsonStringToMessage(json, &contact).ok()) return std::nullopt;
  return contact.SerializeAsString();
}

TEST(TranscoderTest, WritesTheBytesProtobufWritesForGeneratedContacts) {
  JsonTranscoder transcoder(v1::Contact::descriptor());
  // Camel-case and proto names, with and without the fields at their default values.
  std::vector<pb::util::JsonPrintOptions> styles(4);
  styles[1].preserve_proto_field_names = true;
  styles[2].always_print_primitive_fields = true;
  styles[3].always_print_enums_as_ints = true;
  styles[3].preserve_proto_field_names = true;
  int checked = 0;
  for (const v1::Contact& contact : Contacts(3000)) {
    for (const pb::util::JsonPrintOptions& style : styles) {
      std::string json;
      ASSERT_TRUE(pb::util::MessageToJsonString(contact, &json, style).ok());
      const std::optional<std::string> expected = ProtobufBytes(json);
      ASSERT_TRUE(expected.has_value()) << json;
      const Transcoded ours = Transcode(transcoder, json);
      ASSERT_TRUE(ours.ok) << json << "\n" << ours.error.path << ": " << ours.error.message;
      ASSERT_EQ(ours.bytes, *expected) << json;
      ASSERT_EQ(ours.bytes, contact.SerializeAsString()) << json;
      ++checked;
    }
  }
  EXPECT_EQ(checked, 12000);
}

// Inputs protobuf's parser and the transcoder judge alike, and the field each error names.
TEST(TranscoderTest, AcceptsAndRejectsWhatProtobufDoes) {
  struct Case {
    const char* json;
    bool accepted;
    const char* path;  // when rejected: the field named
  };
  const Case cases[] = {
      {R"({})", true, ""},
      {R"({"id":"a","birth_date":"1990-01-01","lastActivityAt":"2026-01-01T00:00:00Z"})", true, ""},
      {R"({"id":null,"relationship":null,"consents":null})", true, ""},
      {R"({"consents":[null,{"channel":"CHANNEL_SMS"}]})", true, ""},
      {R"({"consents":[{"channel":2}]})", true, ""},
      {R"({"consents":[{"channel":"2"}]})", true, ""},
      {R"({"consents":[{"channel":2.0}]})", true, ""},
      {R"({"consents":[{"channel":99}]})", true, ""},  // proto3 enums are open
      {R"({"consents":[{"channel":-1}]})", true, ""},
      {R"({"consents":[{"channel":0}]})", true, ""},
      {R"({"consents":[{}]})", true, ""},
      {R"({"relationship":{}})", true, ""},
      {R"({"relationship":{"isCustomer":"true","softOptInNoticeGiven":false}})", true, ""},
      {R"({"relationship":{"optedOutChannels":["CHANNEL_SMS",3,null]}})", true, ""},
      {R"({"suppressions":[]})", true, ""},
      {R"({"collectionPurposes":["newsletter","",null]})", true, ""},
      {R"({"id":"\u00e9\ud83d\ude00 \"quoted\" \\ \n"})", true, ""},
      {R"({"consents":[{"grantedAt":"2024-01-01T00:00:00.5Z"}]})", true, ""},
      {R"({"consents":[{"grantedAt":"2024-01-01T00:00:00.123456789123Z"}]})", true, ""},
      {R"({"consents":[{"grantedAt":"2024-01-01T00:00:00+01:00"}]})", true, ""},
      {R"({"consents":[{"grantedAt":"2024-01-01T00:00:00-23:59"}]})", true, ""},
      {R"({"consents":[{"grantedAt":"2024-02-29T23:59:59Z"}]})", true, ""},
      {R"({"consents":[{"grantedAt":"0001-01-01T00:00:00Z"}]})", true, ""},
      {R"({"consents":[{"grantedAt":"9999-12-31T23:59:59.999999999Z"}]})", true, ""},
      {R"({"consents":[{"grantedAt":"1969-12-31T23:59:59.9Z"}]})", true, ""},
      {R"({"consents":[{"grantedAt":"1970-01-01T00:00:00Z"}]})", true, ""},
      {R"( {"id":"a"} )", true, ""},
      // Rejected by both.
      {R"({"favouriteColour":"blue"})", false, "favouriteColour"},
      {R"({"ID":"a"})", false, "ID"},
      {R"({"consents":[{"purpse":"newsletter"}]})", false, "consents[0].purpse"},
      {R"({"id":1})", false, "id"},
      {R"({"id":true})", false, "id"},
      {R"({"relationship":{"isCustomer":1}})", false, "relationship.is_customer"},
      {R"({"relationship":"yes"})", false, "relationship"},
      {R"({"consents":[{"channel":"CHANNEL_FAX"}]})", false, "consents[0].channel"},
      {R"({"consents":[{"channel":"channel_email"}]})", false, "consents[0].channel"},
      {R"({"consents":[{"channel":2147483648}]})", false, "consents[0].channel"},
      {R"({"consents":[{"channel":1.5}]})", false, "consents[0].channel"},
      {R"({"consents":[{},{"grantedAt":"2024-13-01T00:00:00Z"}]})", false,
       "consents[1].granted_at"},
      {R"({"consents":[{"grantedAt":"2024-02-30T00:00:00Z"}]})", false, "consents[0].granted_at"},
      {R"({"consents":[{"grantedAt":"2023-02-29T00:00:00Z"}]})", false, "consents[0].granted_at"},
      {R"({"consents":[{"grantedAt":"2024-01-01T24:00:00Z"}]})", false, "consents[0].granted_at"},
      {R"({"consents":[{"grantedAt":"2024-01-01T23:59:60Z"}]})", false, "consents[0].granted_at"},
      {R"({"consents":[{"grantedAt":"2024-01-01t00:00:00z"}]})", false, "consents[0].granted_at"},
      {R"({"consents":[{"grantedAt":"2024-01-01 00:00:00Z"}]})", false, "consents[0].granted_at"},
      {R"({"consents":[{"grantedAt":"2024-01-01T00:00:00"}]})", false, "consents[0].granted_at"},
      {R"({"consents":[{"grantedAt":"2024-01-01T00:00:00.Z"}]})", false, "consents[0].granted_at"},
      {R"({"consents":[{"grantedAt":"2024-01-01T00:00:00+0100"}]})", false,
       "consents[0].granted_at"},
      {R"({"consents":[{"grantedAt":"2024-01-01T00:00:00+24:00"}]})", false,
       "consents[0].granted_at"},
      {R"({"consents":[{"grantedAt":"0000-01-01T00:00:00Z"}]})", false, "consents[0].granted_at"},
      {R"({"consents":[{"grantedAt":"10000-01-01T00:00:00Z"}]})", false, "consents[0].granted_at"},
      {R"({"consents":[{"grantedAt":""}]})", false, "consents[0].granted_at"},
      {R"({"consents":[{"grantedAt":1}]})", false, "consents[0].granted_at"},
      {R"({"lastActivityAt":" 2024-01-01T00:00:00Z"})", false, "last_activity_at"},
      {R"({"suppressions":["SUPPRESSION_NIX"]})", false, "suppressions[0]"},
      {R"([])", false, ""},
      {R"(1)", false, ""},
      {R"({"id":"a"} x)", false, ""},
      {R"({"id":"a"}{"id":"b"})", false, ""},
      {R"({"id":"\ud800"})", false, ""},
      {R"({"id":)", false, ""},
      {R"()", false, ""},
  };
  JsonTranscoder transcoder(v1::Contact::descriptor());
  for (const Case& c : cases) {
    const std::optional<std::string> expected = ProtobufBytes(c.json);
    const Transcoded ours = Transcode(transcoder, c.json);
    EXPECT_EQ(expected.has_value(), c.accepted) << "protobuf on " << c.json;
    EXPECT_EQ(ours.ok, c.accepted) << c.json << ": " << ours.error.message;
    if (c.accepted && expected.has_value() && ours.ok) {
      EXPECT_EQ(ours.bytes, *expected) << c.json;
    }
    if (!c.accepted) {
      EXPECT_EQ(ours.error.path, c.path) << c.json << ": " << ours.error.message;
      EXPECT_FALSE(ours.error.message.empty()) << c.json;
      EXPECT_TRUE(ours.bytes.empty()) << c.json;
    }
  }
}

// Where the transcoder is deliberately stricter than protobuf's lenient parser: each of these
// is a sign of a broken export rather than a contact, and is rejected naming the field.
TEST(TranscoderTest, IsStricterThanProtobufInDocumentedCorners) {
  struct Case {
    const char* json;
    const char* path;
  };
  const Case cases[] = {
      {R"({"id":"a","id":"b"})", "id"},  // last would win
      {R"({"birthDate":"1990-01-01","birth_date":"1991-01-01"})", "birth_date"},
      {R"({"consents":{"channel":"CHANNEL_SMS"}})", "consents"},  // one value, no array
      {R"({"suppressions":"SUPPRESSION_INTERNAL"})", "suppressions"},
      {R"({"lastActivityAt":{"seconds":1}})", "last_activity_at"},          // an object, no string
      {R"({"lastActivityAt":"2024-1-01T00:00:00Z"})", "last_activity_at"},  // no leading zero
      // Out of the Timestamp range once the offset is applied: protobuf stores it anyway.
      {R"({"lastActivityAt":"0001-01-01T00:00:00+00:01"})", "last_activity_at"},
      {R"({"lastActivityAt":"9999-12-31T23:59:59-00:01"})", "last_activity_at"},
  };
  JsonTranscoder transcoder(v1::Contact::descriptor());
  for (const Case& c : cases) {
    EXPECT_TRUE(ProtobufBytes(c.json).has_value()) << "protobuf now refuses " << c.json;
    const Transcoded ours = Transcode(transcoder, c.json);
    EXPECT_FALSE(ours.ok) << c.json;
    EXPECT_EQ(ours.error.path, c.path) << c.json;
  }
}

TEST(TranscoderTest, ErrorsSayWhatIsWrong) {
  JsonTranscoder transcoder(v1::Contact::descriptor());
  EXPECT_EQ(Transcode(transcoder, R"({"consents":[{},{"grantedAt":"yesterday"}]})").error.message,
            "not an RFC 3339 timestamp such as 2026-03-02T09:00:00Z");
  EXPECT_EQ(Transcode(transcoder, R"({"favouriteColour":"blue"})").error.message, "unknown field");
  EXPECT_EQ(Transcode(transcoder, R"({"emial":"a@example.com"})").error.message,
            "unknown field (did you mean email?)");
  EXPECT_EQ(
      Transcode(transcoder, R"({"consents":[{"grantedat":"2024-01-01T00:00:00Z"}]})").error.message,
      "unknown field (did you mean granted_at?)");
  EXPECT_EQ(Transcode(transcoder, R"({"consents":[{"channel":"CHANNEL_FAX"}]})").error.message,
            "\"CHANNEL_FAX\" is not a lawful.v1.Channel");
  EXPECT_THAT(Transcode(transcoder, R"({"id":)").error.message, HasSubstr("not valid JSON"));
  EXPECT_EQ(Transcode(transcoder, R"({"email":42})").error.message,
            "expected a string, not a number");
}

TEST(Rfc3339Test, AgreesWithProtobufsTimeUtil) {
  std::vector<std::string> texts = {
      "2026-03-02T09:00:00Z",           "2026-03-02T09:00:00.000000001Z",
      "2026-03-02T09:00:00.1+05:30",    "1900-02-28T23:59:59-00:01",
      "2000-02-29T00:00:00Z",           "2100-02-29T00:00:00Z",
      "1600-02-29T12:00:00Z",           "2024-04-31T00:00:00Z",
      "2024-06-30T00:60:00Z",           "2024-06-30T00:00:00+23:59",
      "0001-01-01T00:00:00-00:01",      "9999-12-31T23:59:59+00:01",
      "2024-06-30T00:00:00.1234567890Z"};
  // Instants all over the range, at several precisions.
  for (int64_t s = -62135596800; s < 253402300799; s += 7919 * 86400 + 3607) {
    pb::Timestamp t;
    t.set_seconds(s);
    t.set_nanos(static_cast<int32_t>((s % 1000) * 1000003 % 1000000000));
    if (t.nanos() < 0) t.set_nanos(-t.nanos());
    texts.push_back(pb::util::TimeUtil::ToString(t));
  }
  for (const std::string& text : texts) {
    pb::Timestamp expected;
    const bool protobuf_ok = pb::util::TimeUtil::FromString(text, &expected);
    int64_t seconds = 0;
    int32_t nanos = 0;
    ASSERT_EQ(text::ParseRfc3339(text, &seconds, &nanos), protobuf_ok) << text;
    if (!protobuf_ok) continue;
    EXPECT_EQ(seconds, expected.seconds()) << text;
    EXPECT_EQ(nanos, expected.nanos()) << text;
    std::string printed;
    ASSERT_TRUE(text::AppendRfc3339(seconds, nanos, &printed));
    pb::Timestamp reparsed;
    ASSERT_TRUE(pb::util::TimeUtil::FromString(printed, &reparsed)) << printed;
    EXPECT_EQ(printed, pb::util::TimeUtil::ToString(reparsed));
  }
}

std::string EncodeUtf8(uint32_t c) {
  std::string s;
  if (c < 0x80) {
    s += static_cast<char>(c);
  } else if (c < 0x800) {
    s += static_cast<char>(0xC0 | (c >> 6));
    s += static_cast<char>(0x80 | (c & 63));
  } else if (c < 0x10000) {
    s += static_cast<char>(0xE0 | (c >> 12));
    s += static_cast<char>(0x80 | ((c >> 6) & 63));
    s += static_cast<char>(0x80 | (c & 63));
  } else {
    s += static_cast<char>(0xF0 | (c >> 18));
    s += static_cast<char>(0x80 | ((c >> 12) & 63));
    s += static_cast<char>(0x80 | ((c >> 6) & 63));
    s += static_cast<char>(0x80 | (c & 63));
  }
  return s;
}

// Every Unicode scalar value, 512 at a time, escaped as protobuf escapes it.
TEST(ProtoJsonPrinterTest, EscapesEveryCodePointAsProtobufDoes) {
  pb::StringValue value;
  for (uint32_t first = 0; first < 0x110000; first += 512) {
    std::string text;
    for (uint32_t c = first; c < first + 512 && c < 0x110000; ++c) {
      if (c < 0xD800 || c > 0xDFFF) text += EncodeUtf8(c);
    }
    value.set_value(text);
    std::string expected;
    ASSERT_TRUE(pb::util::MessageToJsonString(value, &expected).ok());
    std::string ours;
    ASSERT_TRUE(text::AppendJsonString(text, text::JsonEscaping::kProtobuf, &ours));
    ASSERT_EQ(ours, expected) << "code points from U+" << std::hex << first;
    // The same escaper writing into memory sized for the longest form.
    std::string raw(text::MaxJsonChars(text.size()), '\0');
    char* const end = text::WriteJsonChars(text, text::JsonEscaping::kProtobuf, raw.data());
    ASSERT_NE(end, nullptr);
    raw.resize(static_cast<size_t>(end - raw.data()));
    ASSERT_EQ(absl::StrCat("\"", raw, "\""), expected)
        << "code points from U+" << std::hex << first;
  }
  std::string out = "x";
  EXPECT_FALSE(text::AppendJsonString("ok \xC3", text::JsonEscaping::kProtobuf,
                                      &out));  // truncated sequence
  EXPECT_FALSE(
      text::AppendJsonString("\xED\xA0\x80", text::JsonEscaping::kProtobuf, &out));  // a surrogate
  EXPECT_FALSE(
      text::AppendJsonString("\xC0\xAF", text::JsonEscaping::kProtobuf, &out));  // overlong
  EXPECT_EQ(out, "x");
}

// Decisions of the shipped rules for every purpose and channel, plus hand-made ones with every
// field, print exactly as MessageToJsonString prints them.
TEST(ProtoJsonPrinterTest, PrintsDecisionsAndContactsAsProtobufDoes) {
  absl::StatusOr<dsl::LoadedRuleSet> loaded = dsl::LoadRuleSet(LAWFUL_SOURCE_DIR "/rules");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  ProtoJsonPrinter printer(v1::Decision::descriptor());
  ProtoJsonPrinter contact_printer(v1::Contact::descriptor());
  pb::util::JsonPrintOptions options;
  Evaluator evaluator;
  const std::vector<v1::Contact> contacts = Contacts(400);
  int checked = 0;
  for (const std::string& purpose : loaded->rule_set->program().purposes) {
    for (const v1::Channel channel :
         {v1::CHANNEL_EMAIL, v1::CHANNEL_SMS, v1::CHANNEL_POST, v1::CHANNEL_PHONE}) {
      absl::StatusOr<PreparedOutreach> prepared = loaded->rule_set->Prepare(
          Outreach{purpose, channel, v1::NOTICE_TYPE_UNSPECIFIED, At(kTestInstant)});
      if (!prepared.ok()) continue;
      for (size_t i = 0; i < contacts.size(); ++i) {
        v1::Decision decision;
        loaded->rule_set->ToProto(evaluator.Decide(*prepared, contacts[i]), &decision);
        decision.set_contact_id(contacts[i].id());
        decision.set_index(static_cast<uint32_t>(i));
        std::string expected, ours;
        ASSERT_TRUE(pb::util::MessageToJsonString(decision, &expected, options).ok());
        printer.Print(decision, &ours);
        ASSERT_EQ(ours, expected);
        ++checked;
      }
    }
  }
  EXPECT_GT(checked, 4000);
  for (const v1::Contact& contact : contacts) {
    std::string expected, ours;
    ASSERT_TRUE(pb::util::MessageToJsonString(contact, &expected, options).ok());
    contact_printer.Print(contact, &ours);
    ASSERT_EQ(ours, expected);
  }

  v1::Decision full;
  full.set_contact_id("<é> \"§\" \u2028 \xF0\x9F\x98\x80");
  full.set_index(4000000000u);
  full.set_outcome(static_cast<v1::Outcome>(42));  // unknown: printed as a number
  full.set_reason("r");
  full.set_citation("MFL 19 §");
  full.mutable_rule()->set_line(1);
  full.add_obligations("a");
  full.add_obligations("");
  full.mutable_evidence();  // present but empty
  full.mutable_valid_until()->set_seconds(-62135596800);
  full.mutable_valid_until()->set_nanos(1000);
  full.mutable_error()->set_message("m\n");
  for (const int32_t nanos : {0, 5000000, 123000, 7}) {
    full.mutable_valid_until()->set_nanos(nanos);
    std::string expected, ours;
    ASSERT_TRUE(pb::util::MessageToJsonString(full, &expected, options).ok());
    printer.Print(full, &ours);
    EXPECT_EQ(ours, expected);
  }
  // Out of protobuf's range: protobuf's own output, whatever it is.
  full.mutable_valid_until()->set_seconds(253402300800);
  std::string expected, ours;
  (void)pb::util::MessageToJsonString(full, &expected, options);
  printer.Print(full, &ours);
  EXPECT_EQ(ours, expected);
}

// In-process lines are written without a message per contact; they must be the bytes of the
// definition (ToProto, then the printer or the CSV row) for every decision of the shipped rules.
TEST(DecisionLineWriterTest, WritesWhatTheDefinitionWrites) {
  absl::StatusOr<dsl::LoadedRuleSet> loaded = dsl::LoadRuleSet(LAWFUL_SOURCE_DIR "/rules");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  const RuleSet& rule_set = *loaded->rule_set;
  for (const bool csv : {false, true}) {
    DecisionLineWriter writer(rule_set, csv);
    ASSERT_TRUE(writer.fast()) << "the shortcut no longer matches ToProto for the shipped rules";
    ProtoJsonPrinter printer(v1::Decision::descriptor());
    Evaluator evaluator;
    const std::vector<v1::Contact> contacts = Contacts(300);
    int checked = 0;
    for (const std::string& purpose : rule_set.program().purposes) {
      for (const v1::Channel channel :
           {v1::CHANNEL_EMAIL, v1::CHANNEL_SMS, v1::CHANNEL_POST, v1::CHANNEL_PHONE}) {
        absl::StatusOr<PreparedOutreach> prepared = rule_set.Prepare(
            Outreach{purpose, channel, v1::NOTICE_TYPE_UNSPECIFIED, At(kTestInstant)});
        if (!prepared.ok()) continue;
        for (size_t i = 0; i < contacts.size(); ++i) {
          const std::string bytes = contacts[i].SerializeAsString();
          const Decision decision = evaluator.Decide(*prepared, bytes);
          v1::Decision message;
          rule_set.ToProto(decision, &message, bytes);
          message.set_contact_id(contacts[i].id());
          message.set_index(static_cast<uint32_t>(i));
          std::string expected, ours;
          if (csv) {
            AppendDecisionCsv(message, &expected);
          } else {
            printer.Print(message, &expected);
            expected.push_back('\n');
          }
          writer.Append(decision, bytes, contacts[i].id(), static_cast<uint32_t>(i), &ours);
          ASSERT_EQ(ours, expected);
          ++checked;
        }
      }
    }
    EXPECT_GT(checked, 3000);
  }
}

TEST(DecisionCsvTest, QuotesCellsThatNeedIt) {
  v1::Decision d;
  d.set_contact_id("c,1");
  d.set_index(3);
  d.set_outcome(v1::OUTCOME_ALLOW);
  d.set_reason("consent");
  d.set_citation("GDPR \"Art.\" 6(1)(a)");
  d.mutable_rule()->set_name("consent");
  d.mutable_rule()->set_policy("marketing");
  d.mutable_rule()->set_file("marketing.lawful");
  d.mutable_rule()->set_line(12);
  d.add_obligations("include_opt_out_link");
  d.add_obligations("log");
  d.mutable_evidence()->set_field("consents");
  d.mutable_evidence()->set_index(1);
  d.mutable_evidence()->set_record_id("k-9");
  d.mutable_valid_until()->set_seconds(1772442000);
  std::string row;
  AppendDecisionCsv(d, &row);
  EXPECT_EQ(
      row,
      "3,\"c,1\",allow,consent,\"GDPR \"\"Art.\"\" 6(1)(a)\",marketing.consent,"
      "marketing.lawful:12,include_opt_out_link|log,consents[1],k-9,2026-03-02T09:00:00Z,,\n");
  v1::Decision error;
  error.set_outcome(v1::OUTCOME_ERROR);
  error.mutable_error()->set_field_path("consents[0].purpose");
  error.mutable_error()->set_message("required");
  row.clear();
  AppendDecisionCsv(error, &row);
  EXPECT_EQ(row, "0,,error,,,,,,,,,consents[0].purpose,required\n");
  const std::string header = kDecisionCsvHeader;
  EXPECT_EQ(std::count(header.begin(), header.end(), ','), std::count(row.begin(), row.end(), ','));
}

}  // namespace
}  // namespace lawful::cli
