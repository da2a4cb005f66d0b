// `lawful sql` at scale: N synthetic contacts loaded into the contact schema of a PostgreSQL
// database, decided by the compiled query inside the database, and by the engine in this process
// on the same contacts (as read back from the database). Prints both times and the query plan.
//
//   lawful_sql_bench --conninfo='host=/tmp/pg port=5432 dbname=bench' --contacts=1000000
//
// The database must be empty or hold the schema; with --load=false the contacts already there
// are used.
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "lawful/decide.h"
#include "lawful/dsl.h"
#include "lawful/sql.h"
#include "lawful/synth.h"
#include "lawful/testkit.h"

ABSL_FLAG(std::string, conninfo, "", "libpq connection string of the benchmark's database.");
ABSL_FLAG(int64_t, contacts, 1000000, "synthetic contacts to load.");
ABSL_FLAG(bool, load, true, "create the schema and load the contacts first.");
ABSL_FLAG(std::string, purpose, "newsletter", "the outreach's purpose.");

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "lawful_sql_bench: %s\n", message.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string conninfo = absl::GetFlag(FLAGS_conninfo);
  const absl::Time at = lawful::testkit::At(lawful::testkit::kBenchInstant);
  if (conninfo.empty()) return Fail("--conninfo is required");
  if (absl::GetFlag(FLAGS_load)) {
    auto start = std::chrono::steady_clock::now();
    if (absl::Status s = lawful::sql::Execute(conninfo, lawful::sql::SchemaDdl()); !s.ok()) {
      return Fail(std::string(s.message()));
    }
    const int64_t n = absl::GetFlag(FLAGS_contacts);
    lawful::synth::ContactGenerator generator(1, at);
    for (int64_t done = 0; done < n;) {
      std::vector<lawful::v1::Contact> part;
      for (; done < n && part.size() < 100000; ++done) part.push_back(generator.Next());
      if (absl::Status s = lawful::sql::LoadContacts(conninfo, part); !s.ok()) {
        return Fail(std::string(s.message()));
      }
    }
    if (absl::Status s = lawful::sql::Execute(conninfo, "VACUUM ANALYZE"); !s.ok()) {
      return Fail(std::string(s.message()));
    }
    std::printf("loaded %lld contacts in %.1f s\n", static_cast<long long>(n), Seconds(start));
  }

  absl::StatusOr<lawful::dsl::LoadedRuleSet> rules =
      lawful::dsl::LoadRuleSet(std::string(LAWFUL_SOURCE_DIR) + "/rules");
  if (!rules.ok()) return Fail(std::string(rules.status().message()));
  const lawful::dsl::CheckResult checked = lawful::dsl::CheckRuleSet(rules->sources);
  const std::string purpose = absl::GetFlag(FLAGS_purpose);
  const lawful::sql::CompiledQuery query = lawful::sql::CompileQuery(
      *checked.rules, {purpose, lawful::v1::CHANNEL_EMAIL, lawful::v1::NOTICE_TYPE_UNSPECIFIED},
      rules->rule_set->version());
  if (!query.ok()) return Fail("the query does not compile");

  // The plan, as PostgreSQL runs it (EXPLAIN ANALYZE executes the query once).
  const std::string at_text = absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", at, absl::UTCTimeZone());
  std::string explain = query.text;
  explain.replace(explain.find("SELECT c.contact_id"), 6, "EXPLAIN (ANALYZE, COSTS OFF) SELECT");
  {
    absl::StatusOr<std::vector<lawful::sql::Row>> plan =
        lawful::sql::RunQuery(conninfo, explain, at);
    if (!plan.ok()) return Fail(std::string(plan.status().message()));
    std::printf("-- plan (%s by e-mail at %s)\n", purpose.c_str(), at_text.c_str());
    for (const lawful::sql::Row& r : *plan) std::printf("%s\n", r.contact_id.c_str());
  }

  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::vector<lawful::sql::Row>> rows =
      lawful::sql::RunQuery(conninfo, query.text, at);
  if (!rows.ok()) return Fail(std::string(rows.status().message()));
  const double in_database = Seconds(start);

  start = std::chrono::steady_clock::now();
  std::vector<std::string> contacts;
  if (absl::Status s = lawful::sql::ReadContacts(
          conninfo,
          [&](const lawful::v1::Contact& c) { contacts.push_back(c.SerializeAsString()); });
      !s.ok()) {
    return Fail(std::string(s.message()));
  }
  const double reading = Seconds(start);
  lawful::Outreach outreach;
  outreach.purpose = purpose;
  outreach.channel = lawful::v1::CHANNEL_EMAIL;
  outreach.at = at;
  absl::StatusOr<lawful::PreparedOutreach> prepared = rules->rule_set->Prepare(outreach);
  if (!prepared.ok()) return Fail(std::string(prepared.status().message()));
  lawful::Evaluator evaluator;
  start = std::chrono::steady_clock::now();
  size_t allowed = 0, same = 0;
  for (size_t i = 0; i < contacts.size(); ++i) {
    std::string_view id;
    const lawful::Decision d =
        lawful::decide::DecideContact(evaluator, *prepared, contacts[i], &id);
    allowed += d.outcome == lawful::Outcome::kAllow;
    same += i < rows->size() && (*rows)[i].outcome == lawful::OutcomeName(d.outcome);
  }
  const double engine = Seconds(start);
  std::printf("contacts: %zu, rows: %zu, allowed: %zu, same outcome: %zu\n", contacts.size(),
              rows->size(), allowed, same);
  std::printf("PostgreSQL, the compiled query (one backend): %.2f s\n", in_database);
  std::printf("reading the contacts out of PostgreSQL (ReadContacts): %.2f s\n", reading);
  std::printf("the engine, one thread, on the contacts read out: %.2f s\n", engine);
  return same == contacts.size() && rows->size() == contacts.size() ? 0 : 1;
}
