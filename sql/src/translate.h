// Expressions of the checked rules as PostgreSQL expressions over one row `c` of contacts.
//
// Two-valued logic, as the engine's: a condition is never NULL (a comparison involving a missing
// value is FALSE, so `not (x <= at)` holds for a missing x); a value may be NULL when missing.
// Dates are YYYYMMDD numbers, as the engine holds them. Texts, true/false fields and value names
// read from a record are never missing (unset reads as
// '', FALSE and '' respectively); only the fields of a `latest` that found no record are.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "lawful/dsl.h"
#include "lawful/sql.h"
#include "schema.h"

namespace lawful::sql {

struct Sql {
  std::string text;
  bool nullable = false;
};

// What the request fixes: the names `purpose`, `channel` and `notice_type` are constants.
struct RequestConstants {
  int64_t purpose = 0;  // index into CheckedRules::purposes
  int64_t channel = 0;
  int64_t notice_type = 1;
};

class Translator {
 public:
  Translator(const dsl::CheckedRules& rules, RequestConstants request,
             std::vector<dsl::Diagnostic>& diagnostics);

  // A condition (never NULL).
  std::string Condition(const dsl::Expr& e);

  // Values that depend on the contact only, worked out once per contact (section 17.8 of the
  // language manual): `CROSS JOIN LATERAL (SELECT ... AS v OFFSET 0) hN` clauses, in order.
  const std::vector<std::string>& Hoisted() const { return hoisted_; }

 private:
  struct Env {
    struct Arg {
      const dsl::Expr* expr;
      const Env* env;
    };
    struct Binder {
      std::string alias;
      std::string table;
      std::string value_column;  // a list of values: the element's column
    };
    std::vector<Arg> args;
    std::map<int32_t, Binder> binders;  // by binder id
  };
  // What a record-typed expression stands for: a row under `alias`, or the result of `latest`.
  struct Base {
    std::string alias;
    std::string table;
    const dsl::Expr* latest = nullptr;  // with `env`, the env it is translated in
    const Env* env = nullptr;
  };

  Sql Value(const dsl::Expr& e, const Env& env);
  Sql Name(const dsl::Expr& e, const Env& env);
  Sql Field(const dsl::Expr& e, const Env& env);
  Sql Binary(const dsl::Expr& e, const Env& env);
  Sql Compare(const dsl::Expr& e, const Env& env);
  Sql In(const dsl::Expr& e, const Env& env);
  Sql Arithmetic(const dsl::Expr& e, const Env& env);
  Sql Call(const dsl::Expr& e, const Env& env);
  Sql Quantifier(const dsl::Expr& e, const Env& env);
  Sql Missing(const dsl::Expr& e, const Env& env);
  Sql DefBody(const dsl::Def& def, const Env& callee);
  Sql Constant(const dsl::Type& type, const dsl::ConstValue& v, const dsl::Expr& at);
  Sql EnumLiteral(int32_t enum_id, int64_t number, const dsl::Expr& at);

  bool RecordBase(const dsl::Expr& e, const Env& env, Base& out);
  bool List(const dsl::Expr& e, const Env& env, std::string& table, std::string& value_column);
  // FROM and WHERE of a correlated subquery over a list's rows, the binder's alias in `alias`.
  // Pushes the alias on scope_; the caller pops it.
  std::string Over(const dsl::Expr& binder, const Env& env, const Env*& inner);
  // FROM ... LIMIT 1 of the record a `latest` takes; its alias in `alias`.
  std::string LatestFrom(const Base& base, std::string& alias);
  bool Duration(const dsl::Expr& e, CalendarDuration& out);

  const Env* NewEnv(Env env);
  // Stands a value with a subquery that reads no enclosing variable in for a lateral column.
  Sql Hoist(Sql value);
  bool MentionsScope(const std::string& text) const;
  Sql Fail(const dsl::Expr& at, const std::string& message);

  const dsl::CheckedRules& rules_;
  RequestConstants request_;
  std::vector<dsl::Diagnostic>& diagnostics_;
  std::deque<Env> envs_;
  std::vector<std::string> scope_;  // aliases of the binders being translated
  std::vector<std::string> hoisted_;
  std::map<std::string, std::string> hoisted_by_text_;
  int next_alias_ = 0;
};

}  // namespace lawful::sql
