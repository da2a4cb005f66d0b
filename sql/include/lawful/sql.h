// lawful's rules run where the contacts live: the checked rule set compiled into one SQL query
// over a documented relational schema of lawful.v1.Contact, and the PostgreSQL I/O that loads and
// reads contacts in that schema (so the engine and the query can be compared on the same rows).
//
// One semantics: the query decides exactly as the engine does (docs/language.md). The policy and
// its rules in order, first match wins; calendar months clamped to the month's end; ages on the
// zone's calendar date; a missing fact makes every comparison false. A contact whose stored facts
// the engine would refuse gets outcome 'error' with the offending field's path. A construct the
// dialect cannot express is a located Diagnostic, never a different query.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "lawful/dsl.h"
#include "lawful/v1/contact.pb.h"
#include "lawful/v1/decision.pb.h"

namespace lawful::sql {

// The DDL of the contact schema (docs: sql/README.md): one table per list of lawful.v1.Contact,
// each list's records keyed by (contact_id, position).
std::string SchemaDdl();

// What the query is compiled for; `at` stays a parameter ($1, timestamptz).
struct QueryOutreach {
  std::string purpose;
  lawful::v1::Channel channel = lawful::v1::CHANNEL_UNSPECIFIED;
  lawful::v1::NoticeType notice_type = lawful::v1::NOTICE_TYPE_UNSPECIFIED;
};

struct CompiledQuery {
  std::string text;  // set when there are no errors
  std::vector<dsl::Diagnostic> diagnostics;
  bool ok() const { return !text.empty(); }
};

// One query returning, per row of `contacts`: contact_id, outcome ('allow', 'deny' or 'error'),
// reason, citation, rule, rule_set_version, error_field (the offending field's path for
// 'error'), ordered by contact_id. An undeclared purpose or an uncovered purpose and channel
// are diagnostics without a place (line 0).
CompiledQuery CompileQuery(const dsl::CheckedRules& rules, const QueryOutreach& outreach,
                           std::string_view rule_set_version);

// ---- PostgreSQL (libpq) ----

// One row of the compiled query's answer.
struct Row {
  std::string contact_id;
  std::string outcome;
  std::string reason;
  std::string citation;
  std::string rule;
  std::string rule_set_version;
  std::string error_field;
};

// Runs `ddl_or_statements` (several statements separated by `;`).
absl::Status Execute(const std::string& conninfo, const std::string& statements);

// Appends `contacts` to the schema's tables (COPY). Enums are written in the rules' spelling
// (`email`), an enum number the proto does not declare as `#<number>` (a value the query
// refuses, as the engine does); unset values as NULL.
absl::Status LoadContacts(const std::string& conninfo,
                          const std::vector<lawful::v1::Contact>& contacts);

// Reads every contact of the schema, in contact_id order, as the engine would receive it. A
// stored value that has no proto form (an enum name the proto does not declare) becomes an enum
// number it does not declare, so the engine refuses it as the query does.
absl::Status ReadContacts(const std::string& conninfo,
                          absl::FunctionRef<void(const lawful::v1::Contact&)> contact);

// Runs a compiled query at `at`.
absl::StatusOr<std::vector<Row>> RunQuery(const std::string& conninfo, const std::string& query,
                                          absl::Time at);

}  // namespace lawful::sql
