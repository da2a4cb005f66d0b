// The checked rules as solver terms: the request and a contact with at most K records per
// repeated field become variables; every definition, rule and policy becomes a term over them,
// with the engine's semantics (missing values, first match wins, the calendar).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <z3++.h>

#include "calendar_smt.h"
#include "lawful/dsl.h"

namespace lawful::prove {

// A value of the rules: `v` is a Boolean term for conditions and an integer term for everything
// else (texts are numbered, see Encoder::TextOf; a record is its index in its list).
struct Value {
  explicit Value(z3::context& ctx) : v(ctx), present(ctx) {}
  dsl::TypeKind kind = dsl::TypeKind::kError;
  z3::expr v;
  z3::expr present;  // false when missing
  // Records: their list ("" for the contact itself), their message and the fields leading to it.
  std::string list;
  const google::protobuf::Descriptor* message = nullptr;
  std::vector<const google::protobuf::FieldDescriptor*> path;
  // A list field (the full path from the contact); sets and durations (constant).
  std::vector<z3::expr> set;
  CalendarDuration duration;
  dsl::Type element;  // a list's elements
};

// One variable of the contact: a field of the contact, of one of a list's records, or one element
// of a list of values.
struct Fact {
  std::string list;  // "" for a field of the contact
  int index = -1;    // the record's or element's position in `list`
  std::vector<const google::protobuf::FieldDescriptor*> path;  // from the contact or the record
  dsl::TypeKind kind;
  int32_t enum_id = -1;
  z3::expr value;
  z3::expr present;
};

struct ListVars {
  std::vector<const google::protobuf::FieldDescriptor*> path;  // from the contact
  bool records = false;
  std::vector<z3::expr> exists;  // exists[k]: the list has more than k entries
};

// Whether a rule decides a request: its policy is chosen, no rule above it applied, it is in
// force at `at` and its condition holds.
struct RuleTerm {
  const dsl::PolicyDecl* policy;
  const dsl::RuleDecl* rule;
  z3::expr decides;
};

class Encoder {
 public:
  Encoder(z3::context& ctx, const dsl::CheckedRules& rules, int max_records);

  // The request: `at` in whole seconds, the purpose's index, channel and notice type numbers.
  z3::expr at, purpose, channel, notice_type;

  // Every rule of every policy, in order (built once).
  const std::vector<RuleTerm>& Rules();
  // The condition an invariant's `when` denotes for the request and contact; true without one.
  z3::expr Premise(const dsl::InvariantDecl& invariant);
  // Domain constraints on every variable created so far (valid dates, required fields, ...).
  const z3::expr_vector& facts() const { return facts_; }
  const std::vector<Fact>& contact_facts() const { return contact_facts_; }
  const std::map<std::string, ListVars>& lists() const { return lists_; }
  // The text numbered `id` (0 is the empty text; rules' text literals keep their own).
  std::string TextOf(int64_t id, const std::string& field) const;
  const dsl::CheckedRules& rules() const { return rules_; }
  const Calendar& calendar() const { return calendar_; }

 private:
  using Args = std::vector<Value>;
  Value Eval(const dsl::Expr& e, const Args* args);
  Value EvalName(const dsl::Expr& e, const Args* args);
  Value EvalConst(const dsl::Def& def);
  Value EvalDef(const dsl::Def& def, const std::vector<std::unique_ptr<dsl::Expr>>& kids,
                const Args* args);
  Value EvalField(const dsl::Expr& e, const Args* args);
  Value EvalBinary(const dsl::Expr& e, const Args* args);
  Value EvalQuantifier(const dsl::Expr& e, const Args* args);
  Value EvalCall(const dsl::Expr& e, const Args* args);
  z3::expr Membership(const Value& x, const Value& collection);
  Value ReadFact(const Value& record, const google::protobuf::FieldDescriptor* field,
                 const dsl::Type& type);
  const Fact& FactAt(const std::string& list, int index,
                     const std::vector<const google::protobuf::FieldDescriptor*>& path,
                     const dsl::Type& type);
  ListVars& List(const std::string& name,
                 const std::vector<const google::protobuf::FieldDescriptor*>& path, bool records);
  z3::expr Domain(const z3::expr& v, const dsl::Type& type);
  int64_t TextId(const std::string& text);
  z3::expr InForce(const dsl::Effective& e);
  Value Bool(const z3::expr& b);
  Value Plain(dsl::TypeKind kind, const z3::expr& v, const z3::expr& present);

  z3::context& ctx_;
  const dsl::CheckedRules& rules_;
  int max_records_;
  z3::expr_vector facts_;
  Calendar calendar_;
  std::vector<Fact> contact_facts_;
  std::map<std::string, ListVars> lists_;
  std::map<std::string, int64_t> texts_;  // the rules' text literals
  std::map<int32_t, Value> loop_vars_;    // by binder id
  std::vector<RuleTerm> rule_terms_;
};

}  // namespace lawful::prove
