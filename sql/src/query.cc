// CompileQuery: the policy that covers the outreach, its rules in order as one CASE (first match
// wins), the contact checks the engine makes before deciding, and the answer's columns.
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/descriptor.h"
#include "lawful/sql.h"
#include "schema.h"
#include "translate.h"

namespace lawful::sql {
namespace {

using dsl::Expr;

// Every field a rule or definition reads, as "Message.field" (e.g. "lawful.v1.Consent.channel").
void CollectReads(const Expr& e, std::set<std::string>& out) {
  if (e.kind == dsl::ExprKind::kField && e.kids[0]->type.message != nullptr) {
    out.insert(absl::StrCat(e.kids[0]->type.message->full_name(), ".", e.text));
  }
  for (const auto& k : e.kids) CollectReads(*k, out);
}

std::set<std::string> ReadFields(const dsl::CheckedRules& rules) {
  std::set<std::string> reads;
  for (const dsl::Module& m : rules.modules) {
    for (const auto& d : m.defs) {
      if (d->body) CollectReads(*d->body, reads);
    }
    for (const dsl::PolicyDecl& p : m.policies) {
      for (const dsl::RuleDecl& r : p.rules) {
        for (const Expr* e : {r.when.get(), r.evidence.get(), r.valid_until.get()}) {
          if (e != nullptr) CollectReads(*e, reads);
        }
      }
    }
  }
  return reads;
}

std::string OutOfRange(const std::string& column) {
  return absl::StrCat("(", column, " < ", kFirstInstant, " OR ", column, " >= ", kEndOfInstants,
                      ")");
}

std::string Unset(const std::string& column) {
  return absl::StrCat("(", column, " IS NULL OR ", column, " = '')");
}

// A value the enum `name` (as the rules spell it: "channel") does not declare.
std::string Undeclared(const dsl::CheckedRules& rules, const std::string& column,
                       const std::string& name) {
  std::vector<std::string> names;
  for (const dsl::EnumInfo& info : rules.enums) {
    if (info.name != name) continue;
    for (const auto& [value, number] : info.values) names.push_back(Quote(value));
  }
  return absl::StrCat("(", column, " <> '' AND ", column, " NOT IN (", absl::StrJoin(names, ", "),
                      "))");
}

struct Check {
  std::string field;  // after the element's index: ".purpose", or "" for a list of values
  std::string bad;    // the condition on the row `x`
};

// The path of the first row of `table` (in list order) that fails a check, or NULL.
std::string FirstBadRow(const std::string& table, const std::string& list,
                        const std::vector<Check>& checks) {
  if (checks.empty()) return "";
  const std::string index = absl::StrCat("(SELECT count(*) FROM ", table,
                                         " AS y WHERE y.contact_id = x.contact_id AND y.position "
                                         "< x.position)");
  std::string which = "CASE";
  std::vector<std::string> any;
  for (const Check& c : checks) {
    absl::StrAppend(&which, " WHEN ", c.bad, " THEN ", Quote(list + "["), " || ", index, " || ",
                    Quote("]" + c.field));
    any.push_back(c.bad);
  }
  return absl::StrCat("(SELECT ", which, " END FROM ", table,
                      " AS x WHERE x.contact_id = c.contact_id AND (", absl::StrJoin(any, " OR "),
                      ") ORDER BY x.position LIMIT 1)");
}

std::string IfBad(const std::string& bad, const std::string& path) {
  return absl::StrCat("CASE WHEN ", bad, " THEN ", Quote(path), " END");
}

// The path of the first field the engine refuses, or NULL. First what the contact check refuses
// in any field (a required value unset, an instant outside 0001..9999), then what the fact
// decoder refuses in the fields the rules read (an undeclared value name, a date it cannot
// read); each in field-number order, as lawful.v1.Contact numbers its fields.
std::string ErrorField(const dsl::CheckedRules& rules) {
  const std::set<std::string> reads = ReadFields(rules);
  auto read = [&](const char* message, const char* field) {
    return reads.count(absl::StrCat("lawful.v1.", message, ".", field)) > 0;
  };
  std::vector<std::string> first;
  first.push_back(IfBad(OutOfRange("c.postal_address_verified_at"), "postal_address_verified_at"));
  first.push_back(FirstBadRow(
      "consents", "consents",
      {{".purpose", Unset("x.purpose")},
       {".channel", Unset("x.channel")},
       {".granted_at", absl::StrCat("(x.granted_at IS NULL OR ", OutOfRange("x.granted_at"), ")")},
       {".withdrawn_at", OutOfRange("x.withdrawn_at")}}));
  first.push_back(FirstBadRow(
      "objections", "objections",
      {{".scope", Unset("x.scope")},
       {".lodged_at", absl::StrCat("(x.lodged_at IS NULL OR ", OutOfRange("x.lodged_at"), ")")},
       {".withdrawn_at", OutOfRange("x.withdrawn_at")}}));
  first.push_back(IfBad(OutOfRange("c.erasure_requested_at"), "erasure_requested_at"));
  first.push_back(
      IfBad(OutOfRange("c.relationship_customer_since"), "relationship.customer_since"));
  first.push_back(
      IfBad(OutOfRange("c.relationship_last_purchase_at"), "relationship.last_purchase_at"));
  first.push_back(IfBad(OutOfRange("c.last_activity_at"), "last_activity_at"));

  std::vector<std::string> then;
  if (read("Contact", "birth_date")) {
    then.push_back(
        IfBad(absl::StrCat("(c.birth_date <> '' AND NOT ", ValidDate("c.birth_date"), ")"),
              "birth_date"));
  }
  std::vector<Check> consent;
  if (read("Consent", "channel")) {
    consent.push_back({".channel", Undeclared(rules, "x.channel", "channel")});
  }
  if (read("Consent", "source")) {
    consent.push_back({".source", Undeclared(rules, "x.source", "consent_source")});
  }
  then.push_back(FirstBadRow("consents", "consents", consent));
  if (read("Objection", "scope")) {
    then.push_back(FirstBadRow("objections", "objections",
                               {{".scope", Undeclared(rules, "x.scope", "objection_scope")}}));
  }
  if (read("Contact", "suppressions")) {
    then.push_back(FirstBadRow("suppressions", "suppressions",
                               {{"", Undeclared(rules, "x.suppression", "suppression")}}));
  }
  if (read("Relationship", "opted_out_channels")) {
    then.push_back(FirstBadRow("opted_out_channels", "relationship.opted_out_channels",
                               {{"", Undeclared(rules, "x.channel", "channel")}}));
  }
  std::vector<std::string> all;
  for (auto* part : {&first, &then}) {
    for (std::string& s : *part) {
      if (!s.empty()) all.push_back(std::move(s));
    }
  }
  return absl::StrCat("COALESCE(", absl::StrJoin(all, ",\n      "), ")");
}

std::string InstantLiteral(int64_t ns) {
  return absl::StrCat(
      "TIMESTAMPTZ '",
      absl::FormatTime("%Y-%m-%d %H:%M:%E9S+00", absl::FromUnixNanos(ns), absl::UTCTimeZone()),
      "'");
}

// `at` within an effective period (from inclusive, until exclusive).
std::string InForce(const dsl::Effective& e) {
  std::vector<std::string> parts;
  if (e.from) parts.push_back(absl::StrCat("CAST($1 AS timestamptz) >= ", InstantLiteral(*e.from)));
  if (e.until) {
    parts.push_back(absl::StrCat("CAST($1 AS timestamptz) < ", InstantLiteral(*e.until)));
  }
  return absl::StrJoin(parts, " AND ");
}

dsl::Diagnostic RequestError(std::string message) {
  dsl::Diagnostic d;
  d.code = "sql-request";
  d.message = std::move(message);
  return d;
}

}  // namespace

CompiledQuery CompileQuery(const dsl::CheckedRules& rules, const QueryOutreach& outreach,
                           std::string_view rule_set_version) {
  CompiledQuery out;
  RequestConstants request;
  request.purpose = -1;
  for (size_t i = 0; i < rules.purposes.size(); ++i) {
    if (rules.purposes[i] == outreach.purpose) request.purpose = static_cast<int64_t>(i);
  }
  if (request.purpose < 0) {
    out.diagnostics.push_back(RequestError(
        absl::StrCat("`", outreach.purpose, "` is not a purpose declared by the rule set")));
    return out;
  }
  request.channel = outreach.channel;
  request.notice_type = outreach.notice_type == lawful::v1::NOTICE_TYPE_UNSPECIFIED
                            ? lawful::v1::NOTICE_TYPE_CONTRACT
                            : outreach.notice_type;

  Translator translate(rules, request, out.diagnostics);
  std::vector<std::string> rows = {"(-1, 'error', NULL::text, NULL::text, NULL::text)",
                                   "(0, 'error', NULL, NULL, NULL)"};
  std::string chain = "CASE";
  bool covered = false;
  for (size_t i = 0; i < rules.policies.size() && !covered; ++i) {
    const dsl::PolicyDecl& policy = *rules.policies[i];
    bool for_purpose = false;
    for (int32_t p : rules.policy_purposes[i]) for_purpose |= p == request.purpose;
    if (!for_purpose || (rules.policy_channels[i] & (1u << request.channel)) == 0) continue;
    const std::string in_force = InForce(policy.effective);
    covered = in_force.empty();
    std::string rule_chain = "CASE";
    for (const dsl::RuleDecl& rule : policy.rules) {
      const int k = static_cast<int>(rows.size()) - 1;
      rows.push_back(absl::StrCat("(", k, ", ",
                                  Quote(rule.outcome == Outcome::kAllow ? "allow" : "deny"), ", ",
                                  Quote(rule.reason ? rule.reason->name : rule.name), ", ",
                                  Quote(rule.cite.value_or("")), ", ", Quote(rule.name), ")"));
      if (rule.is_default) {
        absl::StrAppend(&rule_chain, " ELSE ", k, " END");
        break;
      }
      std::string when = translate.Condition(*rule.when);
      const std::string rule_in_force = InForce(rule.effective);
      if (!rule_in_force.empty()) when = absl::StrCat("(", rule_in_force, " AND ", when, ")");
      absl::StrAppend(&rule_chain, "\n      WHEN ", when, " THEN ", k);
    }
    absl::StrAppend(&chain, "\n    WHEN ", in_force.empty() ? "TRUE" : in_force, " THEN ",
                    rule_chain);
  }
  if (!covered && rows.size() == 2) {
    out.diagnostics.push_back(RequestError(
        absl::StrCat("no policy of the rule set covers purpose `", outreach.purpose,
                     "` on channel `", lawful::v1::Channel_Name(outreach.channel), "`")));
  }
  // At an `at` no policy is in force for: the engine refuses the request; the query answers
  // 'error' with error_field 'outreach' for every contact.
  absl::StrAppend(&chain, " ELSE 0 END");
  if (!out.diagnostics.empty()) {
    // A definition is translated at every use: report each place once.
    std::vector<dsl::Diagnostic> once;
    std::set<std::string> seen;
    for (dsl::Diagnostic& d : out.diagnostics) {
      if (seen.insert(absl::StrCat(d.file, ":", d.line, ":", d.column, ":", d.message)).second) {
        once.push_back(std::move(d));
      }
    }
    out.diagnostics = std::move(once);
    return out;
  }

  std::string q =
      absl::StrCat("-- lawful rule set ", std::string(rule_set_version), ": purpose ",
                   outreach.purpose, ", channel ", lawful::v1::Channel_Name(outreach.channel),
                   ", notice type ", lawful::v1::NoticeType_Name(outreach.notice_type),
                   ". Parameter $1: the outreach's instant (timestamptz).\n"
                   "SELECT c.contact_id, r.outcome, r.reason, r.citation, r.rule,\n"
                   "  ",
                   Quote(rule_set_version),
                   " AS rule_set_version,\n"
                   "  CASE WHEN d.k = 0 THEN 'outreach' ELSE e.error_field END AS error_field\n"
                   "FROM contacts AS c\n"
                   "CROSS JOIN LATERAL (SELECT ",
                   ErrorField(rules), " AS error_field OFFSET 0) AS e\n");
  for (const std::string& h : translate.Hoisted()) absl::StrAppend(&q, h, "\n");
  absl::StrAppend(
      &q, "CROSS JOIN LATERAL (SELECT CASE WHEN e.error_field IS NOT NULL THEN -1\n", "  ELSE ",
      chain, " END AS k OFFSET 0) AS d\n", "JOIN (VALUES ", absl::StrJoin(rows, ",\n  "),
      ") AS r (k, outcome, reason, citation, rule) ON r.k = d.k\n", "ORDER BY c.contact_id\n");
  out.text = std::move(q);
  return out;
}

}  // namespace lawful::sql
