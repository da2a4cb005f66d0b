// `lawful sql` against the engine on a real PostgreSQL: the same contacts, stored in the contact
// schema, decided by the compiled query inside the database and by the engine (through the
// deciding layer, on the contacts as read back from the database), must get the same outcome,
// reason, citation, rule, rule-set version and error field, for every purpose, channel and
// notice type: on 20,000 generated contacts, on boundary contacts at several instants, and on
// every fixture case.
#include <map>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "boundary_contacts.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "lawful/decide.h"
#include "lawful/dsl.h"
#include "lawful/engine.h"
#include "lawful/fixtures.h"
#include "lawful/sql.h"
#include "lawful/synth.h"
#include "lawful/testkit.h"
#include "postgres.h"

namespace lawful {
namespace {

using lawful::v1::Contact;

const std::vector<lawful::v1::Channel> kChannels = {
    lawful::v1::CHANNEL_EMAIL, lawful::v1::CHANNEL_SMS, lawful::v1::CHANNEL_POST,
    lawful::v1::CHANNEL_PHONE};
const std::vector<lawful::v1::NoticeType> kNoticeTypes = {
    lawful::v1::NOTICE_TYPE_UNSPECIFIED, lawful::v1::NOTICE_TYPE_CONTRACT,
    lawful::v1::NOTICE_TYPE_LEGAL_OBLIGATION, lawful::v1::NOTICE_TYPE_VITAL_INTEREST,
    lawful::v1::NOTICE_TYPE_PUBLIC_TASK};

testing::Postgres* server = nullptr;

class SqlPostgresTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server = new testing::Postgres();
    absl::StatusOr<dsl::LoadedRuleSet> loaded =
        dsl::LoadRuleSet(std::string(LAWFUL_SOURCE_DIR) + "/rules");
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    rules_ = new dsl::LoadedRuleSet(std::move(*loaded));
    checked_ = new dsl::CheckResult(dsl::CheckRuleSet(rules_->sources));
    ASSERT_TRUE(checked_->ok());
  }
  static void TearDownTestSuite() {
    delete server;  // stops the server, whatever the tests did
    delete checked_;
    delete rules_;
  }
  void SetUp() override { ASSERT_EQ(server->error(), ""); }

  // A fresh database with the schema and `contacts`; the contacts as read back from it.
  static std::vector<Contact> Store(const std::string& database,
                                    const std::vector<Contact>& contacts) {
    EXPECT_TRUE(server->CreateDatabase(database)) << server->error();
    const std::string conninfo = server->Conninfo(database);
    EXPECT_TRUE(sql::Execute(conninfo, sql::SchemaDdl()).ok());
    const absl::Status loaded = sql::LoadContacts(conninfo, contacts);
    EXPECT_TRUE(loaded.ok()) << loaded;
    std::vector<Contact> read;
    const absl::Status s =
        sql::ReadContacts(conninfo, [&](const Contact& c) { read.push_back(c); });
    EXPECT_TRUE(s.ok()) << s;
    // The I/O is faithful: every contact reads back as it was written.
    std::map<std::string, const Contact*> by_id;
    for (const Contact& c : contacts) by_id[c.id()] = &c;
    EXPECT_EQ(read.size(), contacts.size());
    for (const Contact& c : read) {
      auto it = by_id.find(c.id());
      if (it == by_id.end()) {
        ADD_FAILURE() << "read back an unknown contact " << c.id();
        continue;
      }
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(c, *it->second))
          << "written: " << it->second->ShortDebugString() << "\nread: " << c.ShortDebugString();
    }
    return read;
  }

  // The engine's answer in the query's columns.
  static sql::Row EngineRow(const PreparedOutreach& prepared, const Contact& contact) {
    Evaluator evaluator;
    const std::string bytes = contact.SerializeAsString();
    std::string_view id;
    const Decision d = decide::DecideContact(evaluator, prepared, bytes, &id);
    sql::Row row;
    row.contact_id = contact.id();
    row.outcome = OutcomeName(d.outcome);
    if (d.rule != nullptr) {
      row.reason = d.rule->reason;
      row.citation = d.rule->citation;
      row.rule = d.rule->name;
    }
    row.rule_set_version = rules_->rule_set->version();
    row.error_field = d.error_path;
    return row;
  }

  static std::string Show(const sql::Row& r) {
    return absl::StrCat(r.outcome, " reason=", r.reason, " citation=", r.citation, " rule=", r.rule,
                        " error_field=", r.error_field);
  }

  static bool Same(const sql::Row& a, const sql::Row& b) {
    return std::tie(a.contact_id, a.outcome, a.reason, a.citation, a.rule, a.rule_set_version,
                    a.error_field) == std::tie(b.contact_id, b.outcome, b.reason, b.citation,
                                               b.rule, b.rule_set_version, b.error_field);
  }

  // Runs the compiled query for `outreach` and compares every row with the engine's decision on
  // the same contact. Returns the rows by contact id.
  static std::map<std::string, sql::Row> Compare(const std::string& database,
                                                 const std::vector<Contact>& contacts,
                                                 const Outreach& outreach,
                                                 std::map<std::string, int>* outcomes = nullptr) {
    std::map<std::string, sql::Row> by_id;
    const std::string what = absl::StrCat(
        outreach.purpose, "/", lawful::v1::Channel_Name(outreach.channel), "/",
        lawful::v1::NoticeType_Name(outreach.notice_type), " at ", absl::FormatTime(outreach.at));
    const sql::CompiledQuery query = sql::CompileQuery(
        *checked_->rules, {outreach.purpose, outreach.channel, outreach.notice_type},
        rules_->rule_set->version());
    if (!query.ok()) {
      ADD_FAILURE() << what << ": " << dsl::FormatDiagnostics(query.diagnostics, rules_->sources);
      return by_id;
    }
    absl::StatusOr<std::vector<sql::Row>> rows =
        sql::RunQuery(server->Conninfo(database), query.text, outreach.at);
    if (!rows.ok()) {
      ADD_FAILURE() << what << ": " << rows.status();
      return by_id;
    }
    EXPECT_EQ(rows->size(), contacts.size()) << what;
    for (sql::Row& r : *rows) by_id[r.contact_id] = std::move(r);
    absl::StatusOr<PreparedOutreach> prepared = rules_->rule_set->Prepare(outreach);
    if (!prepared.ok()) {
      ADD_FAILURE() << what << ": " << prepared.status();
      return by_id;
    }
    int shown = 0;
    for (const Contact& c : contacts) {
      const sql::Row engine = EngineRow(*prepared, c);
      if (outcomes != nullptr) ++(*outcomes)[engine.outcome];
      auto it = by_id.find(c.id());
      if (it == by_id.end()) {
        ADD_FAILURE() << what << ": no row for " << c.id();
        continue;
      }
      if (!Same(engine, it->second) && shown++ < 5) {
        ADD_FAILURE() << what << ", contact " << c.ShortDebugString()
                      << "\n  engine: " << Show(engine) << "\n  sql:    " << Show(it->second);
      }
    }
    EXPECT_EQ(shown, 0) << what << ": rows that differ";
    return by_id;
  }

  static std::vector<Outreach> EveryOutreach(absl::Time at) {
    std::vector<Outreach> out;
    for (const std::string& purpose : checked_->rules->purposes) {
      for (lawful::v1::Channel channel : kChannels) {
        for (lawful::v1::NoticeType notice_type : kNoticeTypes) {
          // The notice type is read by the service-notice policy only; the marketing queries
          // differ in nothing else, so one of them stands for all five.
          if (purpose != "service_notice" && notice_type != kNoticeTypes[0]) continue;
          Outreach o;
          o.purpose = purpose;
          o.channel = channel;
          o.notice_type = notice_type;
          o.at = at;
          out.push_back(o);
        }
      }
    }
    return out;
  }

  static dsl::LoadedRuleSet* rules_;
  static dsl::CheckResult* checked_;
};

dsl::LoadedRuleSet* SqlPostgresTest::rules_ = nullptr;
dsl::CheckResult* SqlPostgresTest::checked_ = nullptr;

TEST_F(SqlPostgresTest, GeneratedContactsEveryOutreach) {
  const absl::Time at = testkit::At(testkit::kBenchInstant);
  const std::vector<Contact> contacts = Store("generated", synth::Generate(23, 20000, at));
  ASSERT_EQ(contacts.size(), 20000u);
  // Two backends at a time: the queries are independent.
  const std::vector<Outreach> outreaches = EveryOutreach(at);
  std::map<std::string, int> outcomes[2];
  std::vector<std::thread> workers;
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&, w] {
      for (size_t i = static_cast<size_t>(w); i < outreaches.size(); i += 2) {
        Compare("generated", contacts, outreaches[i], &outcomes[w]);
      }
    });
  }
  for (std::thread& t : workers) t.join();
  // The comparison means something only if both outcomes occur often.
  EXPECT_GT(outcomes[0]["allow"] + outcomes[1]["allow"], 50000);
  EXPECT_GT(outcomes[0]["deny"] + outcomes[1]["deny"], 50000);
}

TEST_F(SqlPostgresTest, BoundaryContactsAtMonthEndsLeapDaysAndDaylightSaving) {
  const std::vector<absl::Time> instants = {
      testkit::At("2026-08-31T21:30:00Z"),  // 23:30 in Stockholm; every month window clamps
      testkit::At("2026-05-31T22:30:00Z"),  // already 1 June in Stockholm
      testkit::At("2028-02-29T12:00:00Z"),  // a leap day
      testkit::At("2026-03-29T01:30:00Z"),  // the hour summer time starts in Stockholm
  };
  std::vector<Contact> all;
  for (size_t i = 0; i < instants.size(); ++i) {
    for (Contact& c : BoundaryContacts(instants[i], absl::StrCat("at", i))) all.push_back(c);
  }
  const std::vector<Contact> contacts = Store("boundaries", all);
  std::map<std::string, int> outcomes;
  for (absl::Time at : instants) {
    for (const Outreach& o : EveryOutreach(at)) Compare("boundaries", contacts, o, &outcomes);
  }
  EXPECT_GT(outcomes["allow"], 0);
  EXPECT_GT(outcomes["deny"], 0);
  EXPECT_GT(outcomes["error"], 0);
}

// `lawful eval --from_postgres` decides the stored contacts as the query does.
TEST_F(SqlPostgresTest, EvalFromPostgresAgreesWithTheQuery) {
  const absl::Time at = testkit::At("2026-05-31T22:30:00Z");
  const std::vector<Contact> contacts = Store("eval_from_postgres", BoundaryContacts(at, "b"));
  for (const char* channel : {"email", "phone"}) {
    SCOPED_TRACE(channel);
    Outreach outreach;
    outreach.purpose = "newsletter";
    outreach.channel =
        channel == std::string("email") ? lawful::v1::CHANNEL_EMAIL : lawful::v1::CHANNEL_PHONE;
    outreach.at = at;
    std::map<std::string, sql::Row> rows = Compare("eval_from_postgres", contacts, outreach);
    const testkit::CommandResult r = testkit::RunCommand(
        {LAWFUL_CLI, "eval", "--rules=" + std::string(LAWFUL_SOURCE_DIR) + "/rules",
         "--purpose=newsletter", std::string("--channel=") + channel, "--at=2026-05-31T22:30:00Z",
         "--from_postgres=" + server->Conninfo("eval_from_postgres")});
    std::set<std::string> decided;
    for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
      lawful::v1::Decision d;
      ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(std::string(line), &d).ok());
      decided.insert(d.contact_id());
      const sql::Row& row = rows[d.contact_id()];
      const std::string outcome = d.outcome() == lawful::v1::OUTCOME_ALLOW  ? "allow"
                                  : d.outcome() == lawful::v1::OUTCOME_DENY ? "deny"
                                                                            : "error";
      EXPECT_EQ(row.outcome, outcome) << line;
      EXPECT_EQ(row.reason, d.reason()) << line;
      EXPECT_EQ(row.rule, d.rule().name()) << line;
      EXPECT_EQ(row.error_field, d.error().field_path()) << line;
    }
    // A contact with an instant after 9999 has no proto JSON: eval rejects its line (exit 1),
    // and the query answers 'error' for it. Never allowed on either path.
    for (const Contact& c : contacts) {
      if (decided.count(c.id()) == 0) {
        EXPECT_EQ(rows[c.id()].outcome, "error") << c.id();
      }
    }
    EXPECT_GE(decided.size(), contacts.size() - 2);
    EXPECT_EQ(r.exit_code, decided.size() == contacts.size() ? 0 : 1) << r.err;
  }
}

TEST_F(SqlPostgresTest, EveryFixtureCase) {
  absl::StatusOr<std::vector<fixtures::Fixture>> cases =
      fixtures::LoadFixtures(std::string(LAWFUL_SOURCE_DIR) + "/rules/fixtures");
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_GT(cases->size(), 50u);
  std::vector<Contact> contacts;
  for (size_t i = 0; i < cases->size(); ++i) {
    Contact c = (*cases)[i].contact;
    c.set_id(absl::StrCat("case", i));
    contacts.push_back(std::move(c));
  }
  const std::vector<Contact> stored = Store("fixtures", contacts);
  std::map<std::string, const Contact*> by_id;
  for (const Contact& c : stored) by_id[c.id()] = &c;
  for (size_t i = 0; i < cases->size(); ++i) {
    const fixtures::Fixture& f = (*cases)[i];
    SCOPED_TRACE(absl::StrCat(f.file, ":", f.line, ": ", f.note));
    const std::string id = absl::StrCat("case", i);
    // The case's own outreach, on the whole table (every other case's contact too).
    std::map<std::string, sql::Row> rows = Compare("fixtures", stored, f.outreach);
    const sql::Row& row = rows[id];
    EXPECT_EQ(row.outcome, OutcomeName(f.expect.outcome));
    if (!f.expect.reason.empty()) {
      EXPECT_EQ(row.reason, f.expect.reason);
    }
    if (!f.expect.rule.empty()) {
      EXPECT_EQ(row.rule, f.expect.rule);
    }
    if (!f.expect.citation.empty()) {
      EXPECT_EQ(row.citation, f.expect.citation);
    }
    if (!f.expect.error_path.empty()) {
      EXPECT_EQ(row.error_field, f.expect.error_path);
    }
  }
}

}  // namespace
}  // namespace lawful
