#include "translate.h"

#include <cctype>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "schema.h"

namespace lawful::sql {

using dsl::BinaryOp;
using dsl::Expr;
using dsl::ExprKind;
using dsl::Resolution;
using dsl::TypeKind;

namespace {

// The engine's instants are nanoseconds in an int64: years 1678..2261. Calendar arithmetic that
// leaves that range gives a missing value. PostgreSQL holds microseconds: these are the first
// and last microseconds inside the range.
constexpr char kFirstEngineInstant[] = "TIMESTAMPTZ '1677-09-21 00:12:43.145225+00'";
constexpr char kLastEngineInstant[] = "TIMESTAMPTZ '2262-04-11 23:47:16.854775+00'";

std::string IntLiteral(int64_t v) {
  if (v == std::numeric_limits<int64_t>::min()) return "CAST('-9223372036854775808' AS bigint)";
  return v < 0 ? absl::StrCat("(", v, ")") : absl::StrCat(v);
}

std::string CoalesceFalse(const Sql& condition) {
  return condition.nullable ? absl::StrCat("COALESCE(", condition.text, ", FALSE)")
                            : condition.text;
}

// The calendar date of a YYYYMMDD number (years 1 and later).
std::string DateOf(const std::string& ymd) {
  return absl::StrCat("make_date(CAST(", ymd, " / 10000 AS integer), CAST(", ymd,
                      " / 100 % 100 AS integer), CAST(", ymd, " % 100 AS integer))");
}

const char* ComparisonOperator(BinaryOp op) {
  switch (op) {
    case BinaryOp::kEq:
      return "=";
    case BinaryOp::kNe:
      return "<>";
    case BinaryOp::kLt:
      return "<";
    case BinaryOp::kLe:
      return "<=";
    case BinaryOp::kGt:
      return ">";
    default:
      return ">=";
  }
}

}  // namespace

Translator::Translator(const dsl::CheckedRules& rules, RequestConstants request,
                       std::vector<dsl::Diagnostic>& diagnostics)
    : rules_(rules), request_(request), diagnostics_(diagnostics) {}

const Translator::Env* Translator::NewEnv(Env env) {
  envs_.push_back(std::move(env));
  return &envs_.back();
}

std::string Translator::Condition(const Expr& e) {
  const Env* root = NewEnv({});
  return CoalesceFalse(Value(e, *root));
}

Sql Translator::Fail(const Expr& at, const std::string& message) {
  dsl::Diagnostic d;
  d.code = "sql-unsupported";
  d.file = at.span.file < rules_.files.size() ? rules_.files[at.span.file] : "";
  d.line = at.span.line;
  d.column = at.span.column;
  d.length = at.span.length;
  d.message = message;
  diagnostics_.push_back(std::move(d));
  return {"NULL", true};
}

bool Translator::MentionsScope(const std::string& text) const {
  for (const std::string& alias : scope_) {
    const std::string needle = alias + ".";
    for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
      const char before = at == 0 ? ' ' : text[at - 1];
      if (!(std::isalnum(static_cast<unsigned char>(before)) || before == '_')) return true;
    }
  }
  return false;
}

Sql Translator::Hoist(Sql value) {
  if (value.text.find("SELECT") == std::string::npos || MentionsScope(value.text)) return value;
  auto it = hoisted_by_text_.find(value.text);
  if (it == hoisted_by_text_.end()) {
    const std::string alias = absl::StrCat("h", hoisted_.size() + 1);
    hoisted_.push_back(
        absl::StrCat("CROSS JOIN LATERAL (SELECT ", value.text, " AS v OFFSET 0) AS ", alias));
    it = hoisted_by_text_.emplace(value.text, alias + ".v").first;
  }
  return {it->second, value.nullable};
}

Sql Translator::EnumLiteral(int32_t enum_id, int64_t number, const Expr& at) {
  if (enum_id >= 0 && static_cast<size_t>(enum_id) < rules_.enums.size()) {
    for (const auto& [name, value] : rules_.enums[enum_id].values) {
      if (value == number) return {Quote(name), false};
    }
  }
  return Fail(at, absl::StrCat("the value number ", number, " has no name to compare in SQL"));
}

Sql Translator::Constant(const dsl::Type& type, const dsl::ConstValue& v, const Expr& at) {
  switch (type.kind) {
    case TypeKind::kBool:
      return {v.value != 0 ? "TRUE" : "FALSE", false};
    case TypeKind::kInt:
      return {IntLiteral(v.value), false};
    case TypeKind::kString:
      return {Quote(v.text), false};
    case TypeKind::kEnum:
      return EnumLiteral(type.enum_id, v.value, at);
    case TypeKind::kInstant: {
      if (v.value % 1000 != 0) {
        return Fail(at, "PostgreSQL holds instants to the microsecond: this one has nanoseconds");
      }
      return {absl::StrCat("TIMESTAMPTZ '",
                           absl::FormatTime("%Y-%m-%d %H:%M:%E6S+00", absl::FromUnixNanos(v.value),
                                            absl::UTCTimeZone()),
                           "'"),
              false};
    }
    case TypeKind::kDate:
      return {IntLiteral(v.value), false};
    default:
      return Fail(at, "a set or a duration is used only with `in` or to move a date or an instant");
  }
}

Sql Translator::Value(const Expr& e, const Env& env) {
  switch (e.kind) {
    case ExprKind::kBool:
    case ExprKind::kInt:
    case ExprKind::kString:
    case ExprKind::kInstant:
    case ExprKind::kDate: {
      dsl::ConstValue v;
      v.value = e.value;
      v.text = e.text;
      return Constant(e.type, v, e);
    }
    case ExprKind::kName:
      return Name(e, env);
    case ExprKind::kField:
      return Field(e, env);
    case ExprKind::kCall:
      return Call(e, env);
    case ExprKind::kNot:
      return {absl::StrCat("(NOT ", CoalesceFalse(Value(*e.kids[0], env)), ")"), false};
    case ExprKind::kNeg: {
      const Sql a = Value(*e.kids[0], env);
      const std::string v = absl::StrCat("(-CAST(", a.text, " AS numeric))");
      return {absl::StrCat("(CASE WHEN ", v,
                           " BETWEEN -9223372036854775808 AND 9223372036854775807 THEN CAST(", v,
                           " AS bigint) END)"),
              true};
    }
    case ExprKind::kBinary:
      return Binary(e, env);
    case ExprKind::kIf: {
      if (e.type.kind == TypeKind::kRecord) {
        return Fail(e, "an `if` choosing between records has no SQL form here");
      }
      const std::string c = CoalesceFalse(Value(*e.kids[0], env));
      const Sql a = Value(*e.kids[1], env), b = Value(*e.kids[2], env);
      return {absl::StrCat("(CASE WHEN ", c, " THEN ", a.text, " ELSE ", b.text, " END)"),
              a.nullable || b.nullable};
    }
    case ExprKind::kAny:
    case ExprKind::kAll:
    case ExprKind::kCount:
      return Quantifier(e, env);
    case ExprKind::kIsMissing:
    case ExprKind::kIsPresent:
      return Missing(e, env);
    default:
      return Fail(e, "a record, a set, a list or a duration is not a value a query can return");
  }
}

Sql Translator::Name(const Expr& e, const Env& env) {
  switch (e.resolution) {
    case Resolution::kAt:
      return {"CAST($1 AS timestamptz)", false};
    case Resolution::kPurpose:
      return EnumLiteral(0, request_.purpose, e);
    case Resolution::kChannel:
      return EnumLiteral(e.type.enum_id, request_.channel, e);
    case Resolution::kNoticeType:
      return EnumLiteral(e.type.enum_id, request_.notice_type, e);
    case Resolution::kEnumValue:
      return EnumLiteral(e.type.enum_id, e.value, e);
    case Resolution::kConst:
      return Constant(e.def->type, e.def->constant, e);
    case Resolution::kDef:
      if (e.type.kind == TypeKind::kRecord) break;
      return DefBody(*e.def, *NewEnv({}));
    case Resolution::kParam: {
      const Env::Arg& arg = env.args[static_cast<size_t>(e.binding)];
      return Value(*arg.expr, *arg.env);
    }
    case Resolution::kLoopVar: {
      auto it = env.binders.find(e.binding);
      if (it == env.binders.end() || it->second.value_column.empty()) break;
      const Env::Binder& b = it->second;
      return {absl::StrCat("COALESCE(", b.alias, ".", b.value_column, ", '')"), false};
    }
    default:
      break;
  }
  return Fail(e, absl::StrCat("`", e.text, "` is a record: a query reads it through its fields"));
}

Sql Translator::DefBody(const dsl::Def& def, const Env& callee) {
  // A definition that reads the contact's lists but no variable of an enclosing `any`, `all`,
  // `count` or `latest` is the same for the whole contact: worked out once per contact.
  return Hoist(Value(*def.body, callee));
}

bool Translator::RecordBase(const Expr& e, const Env& env, Base& out) {
  if (e.kind == ExprKind::kName) {
    switch (e.resolution) {
      case Resolution::kContact:
        // Assigned as a one-character string: GCC 12 at -O3 warns (-Wrestrict, a false positive,
        // GCC bug 105329) on assigning the one-character literal.
        out.alias = std::string(1, 'c');
        out.table = "contacts";
        return true;
      case Resolution::kLoopVar: {
        auto it = env.binders.find(e.binding);
        if (it == env.binders.end()) break;
        out.alias = it->second.alias;
        out.table = it->second.table;
        return true;
      }
      case Resolution::kParam: {
        const Env::Arg& arg = env.args[static_cast<size_t>(e.binding)];
        return RecordBase(*arg.expr, *arg.env, out);
      }
      case Resolution::kDef:
        return RecordBase(*e.def->body, *NewEnv({}), out);
      default:
        break;
    }
  } else if (e.kind == ExprKind::kCall && e.resolution == Resolution::kDef) {
    Env callee;
    for (const auto& k : e.kids) callee.args.push_back({k.get(), &env});
    return RecordBase(*e.def->body, *NewEnv(std::move(callee)), out);
  } else if (e.kind == ExprKind::kField) {
    return RecordBase(*e.kids[0], env, out);  // a nested message: its fields are columns
  } else if (e.kind == ExprKind::kLatest) {
    out.latest = &e;
    out.env = &env;
    std::string value_column;
    return List(*e.kids[0], env, out.table, value_column);
  }
  Fail(e, "this record has no SQL form here");
  return false;
}

bool Translator::List(const Expr& e, const Env& env, std::string& table,
                      std::string& value_column) {
  if (e.kind == ExprKind::kName && e.resolution == Resolution::kParam) {
    const Env::Arg& arg = env.args[static_cast<size_t>(e.binding)];
    return List(*arg.expr, *arg.env, table, value_column);
  }
  if (e.kind == ExprKind::kName && e.resolution == Resolution::kDef) {
    return List(*e.def->body, *NewEnv({}), table, value_column);
  }
  if (e.kind == ExprKind::kField && e.kids[0]->type.kind == TypeKind::kRecord &&
      e.kids[0]->type.list < 0) {
    std::vector<std::string> path;
    for (const auto* f : e.kids[0]->type.path) path.push_back(f->name());
    path.push_back(e.text);
    if (const ListTable* l = FindListTable(absl::StrJoin(path, "."))) {
      table = std::string(l->table);
      value_column = std::string(l->value_column);
      return true;
    }
  }
  Fail(e, "the SQL schema has no table for this list");
  return false;
}

std::string Translator::Over(const Expr& binder, const Env& env, const Env*& inner) {
  Env::Binder b;
  List(*binder.kids[0], env, b.table, b.value_column);
  b.alias = absl::StrCat("lb", ++next_alias_);
  Env scoped = env;
  scoped.binders[binder.id] = b;
  inner = NewEnv(std::move(scoped));
  scope_.push_back(b.alias);
  return absl::StrCat("FROM ", b.table, " AS ", b.alias, " WHERE ", b.alias,
                      ".contact_id = c.contact_id");
}

std::string Translator::LatestFrom(const Base& base, std::string& alias) {
  const Expr& e = *base.latest;
  const Env* inner = nullptr;
  std::string from = Over(e, *base.env, inner);
  alias = scope_.back();
  const std::string where = CoalesceFalse(Value(*e.kids[1], *inner));
  const Sql key = Value(*e.kids[2], *inner);
  scope_.pop_back();
  // The greatest key wins; among equal keys the first in the list; a missing key never.
  return absl::StrCat(from, " AND ", where, " AND ", key.text, " IS NOT NULL ORDER BY ", key.text,
                      " DESC, ", alias, ".position LIMIT 1");
}

Sql Translator::Field(const Expr& e, const Env& env) {
  const Expr& object = *e.kids[0];
  if (e.type.kind == TypeKind::kRecord || e.type.kind == TypeKind::kList) {
    return Fail(e,
                "a group of fields or a list is read through `any`, `all`, `count`, "
                "`latest` or `in`");
  }
  Base base;
  if (object.type.kind != TypeKind::kRecord || !RecordBase(object, env, base)) {
    return {"NULL", true};
  }
  std::vector<std::string> path;
  for (const auto* f : object.type.path) path.push_back(f->name());
  path.push_back(e.text);
  const std::string column = absl::StrJoin(path, "_");
  if (!HasColumn(base.table, column)) {
    return Fail(e, absl::StrCat("the SQL schema has no column `", base.table, ".", column,
                                "` for this field"));
  }
  std::string alias = base.alias;
  std::string from;
  if (base.latest != nullptr) from = LatestFrom(base, alias);
  const std::string col = absl::StrCat(alias, ".", column);
  Sql read;
  switch (e.type.kind) {
    case TypeKind::kString:
    case TypeKind::kEnum:
      read = {absl::StrCat("COALESCE(", col, ", '')"), false};
      break;
    case TypeKind::kBool:
      read = {absl::StrCat("COALESCE(", col, ", FALSE)"), false};
      break;
    case TypeKind::kDate:
      read = {absl::StrCat("(CASE WHEN ", ValidDate(col), " THEN CAST(replace(", col,
                           ", '-', '') AS bigint) END)"),
              true};
      break;
    default:
      read = {col, true};
      break;
  }
  if (base.latest == nullptr) return read;
  // The field of the record `latest` took; when it took none, texts read empty, conditions
  // false, and everything else is missing (value names included).
  Sql taken = {absl::StrCat("(SELECT ", read.text, " ", from, ")"), true};
  if (e.type.kind == TypeKind::kString || e.type.kind == TypeKind::kBool) {
    taken = {absl::StrCat("COALESCE(", taken.text,
                          e.type.kind == TypeKind::kBool ? ", FALSE)" : ", '')"),
             false};
  }
  return Hoist(taken);
}

Sql Translator::Quantifier(const Expr& e, const Env& env) {
  const Env* inner = nullptr;
  const std::string from = Over(e, env, inner);
  const std::string where = CoalesceFalse(Value(*e.kids[1], *inner));
  scope_.pop_back();
  switch (e.kind) {
    case ExprKind::kAny:
      return {absl::StrCat("EXISTS (SELECT 1 ", from, " AND ", where, ")"), false};
    case ExprKind::kAll:
      return {absl::StrCat("NOT EXISTS (SELECT 1 ", from, " AND NOT ", where, ")"), false};
    default:
      return {absl::StrCat("(SELECT count(*) ", from, " AND ", where, ")"), false};
  }
}

Sql Translator::Missing(const Expr& e, const Env& env) {
  const Expr& k = *e.kids[0];
  const bool present = e.kind == ExprKind::kIsPresent;
  std::string missing;
  if (k.type.kind == TypeKind::kRecord) {
    Base base;
    if (!RecordBase(k, env, base)) return {"FALSE", false};
    if (base.latest == nullptr) {
      missing = "FALSE";
    } else {
      std::string alias;
      missing = absl::StrCat("NOT EXISTS (SELECT 1 ", LatestFrom(base, alias), ")");
    }
  } else {
    const Sql v = Value(k, env);
    if (k.type.kind == TypeKind::kString) {
      missing = absl::StrCat("(", v.text, " = '')");
    } else if (k.type.kind == TypeKind::kBool || !v.nullable) {
      missing = "FALSE";
    } else {
      missing = absl::StrCat("(", v.text, " IS NULL)");
    }
  }
  return {present ? absl::StrCat("(NOT ", missing, ")") : missing, false};
}

Sql Translator::Binary(const Expr& e, const Env& env) {
  switch (e.op) {
    case BinaryOp::kOr:
    case BinaryOp::kAnd:
      return {absl::StrCat("(", CoalesceFalse(Value(*e.kids[0], env)),
                           e.op == BinaryOp::kOr ? " OR " : " AND ",
                           CoalesceFalse(Value(*e.kids[1], env)), ")"),
              false};
    case BinaryOp::kIn:
    case BinaryOp::kNotIn:
      return In(e, env);
    case BinaryOp::kAdd:
    case BinaryOp::kSub:
    case BinaryOp::kMul:
    case BinaryOp::kDiv:
      return Arithmetic(e, env);
    default:
      return Compare(e, env);
  }
}

Sql Translator::Compare(const Expr& e, const Env& env) {
  const Sql a = Value(*e.kids[0], env), b = Value(*e.kids[1], env);
  if (e.kids[0]->type.kind == TypeKind::kEnum && e.kids[0]->type.enum_id == 0 &&
      a.text.find('\'') != 0 && b.text.find('\'') != 0) {
    // Two purposes read from the facts: names the rules do not declare all read as one value
    // in the engine, so compare them that way.
    return Fail(e, "comparing two purposes read from the facts has no SQL form here");
  }
  return {CoalesceFalse({absl::StrCat("(", a.text, " ", ComparisonOperator(e.op), " ", b.text, ")"),
                         a.nullable || b.nullable}),
          false};
}

Sql Translator::In(const Expr& e, const Env& env) {
  const Sql a = Value(*e.kids[0], env);
  const Expr& set = *e.kids[1];
  const bool negate = e.op == BinaryOp::kNotIn;
  std::string test;
  if (set.type.kind == TypeKind::kList) {
    std::string table, value_column;
    if (!List(set, env, table, value_column)) return {"FALSE", false};
    const std::string alias = absl::StrCat("lb", ++next_alias_);
    test = absl::StrCat("EXISTS (SELECT 1 FROM ", table, " AS ", alias, " WHERE ", alias,
                        ".contact_id = c.contact_id AND COALESCE(", alias, ".", value_column,
                        ", '') = ", a.text, ")");
  } else {
    std::vector<std::string> values;
    if (set.kind == ExprKind::kSet) {
      for (const auto& k : set.kids) values.push_back(Value(*k, env).text);
    } else if (set.kind == ExprKind::kName && set.resolution == Resolution::kConst) {
      const dsl::Type& element = *set.type.element;
      for (int64_t v : set.def->constant.set) {
        dsl::ConstValue one;
        one.value = v;
        values.push_back(Constant(element, one, set).text);
      }
    } else {
      return Fail(set, "this set has no SQL form here");
    }
    test =
        values.empty()
            ? "FALSE"
            : CoalesceFalse({absl::StrCat("(", a.text, " IN (", absl::StrJoin(values, ", "), "))"),
                             a.nullable});
  }
  return {negate ? absl::StrCat("(NOT ", test, ")") : test, false};
}

bool Translator::Duration(const Expr& e, CalendarDuration& out) {
  if (e.kind == ExprKind::kDuration) {
    out = e.duration;
    return true;
  }
  if (e.kind == ExprKind::kName && e.resolution == Resolution::kConst) {
    out = e.def->constant.duration;
    return true;
  }
  if (e.kind == ExprKind::kBinary && (e.op == BinaryOp::kAdd || e.op == BinaryOp::kSub)) {
    CalendarDuration a, b;
    if (!Duration(*e.kids[0], a) || !Duration(*e.kids[1], b)) return false;
    const int sign = e.op == BinaryOp::kAdd ? 1 : -1;
    out.months = a.months + sign * b.months;
    out.days = a.days + sign * b.days;
    return true;
  }
  Fail(e, "a duration must be written out or named by a `const` to have an SQL form");
  return false;
}

Sql Translator::Arithmetic(const Expr& e, const Env& env) {
  const TypeKind kind = e.type.kind;
  if (kind == TypeKind::kInstant || kind == TypeKind::kDate) {
    const bool moved_first = e.kids[0]->type.kind == kind;
    const Expr& moved = moved_first ? *e.kids[0] : *e.kids[1];
    CalendarDuration d;
    if (!Duration(moved_first ? *e.kids[1] : *e.kids[0], d)) return {"NULL", true};
    const Sql a = Value(moved, env);
    const char* sign = e.op == BinaryOp::kSub ? " - " : " + ";
    // Months first, clamped to the month's end, then days: the engine's calendar, in UTC.
    if (kind == TypeKind::kDate) {
      return {
          absl::StrCat("CAST(to_char(", DateOf(a.text), sign, "INTERVAL '", d.months, " months'",
                       sign, "INTERVAL '", d.days, " days', 'YYYYMMDD') AS bigint)"),
          a.nullable};
    }
    const std::string v =
        absl::StrCat("((", a.text, " AT TIME ZONE 'UTC'", sign, "INTERVAL '", d.months, " months'",
                     sign, "INTERVAL '", d.days, " days') AT TIME ZONE 'UTC')");
    return {absl::StrCat("(CASE WHEN ", v, " BETWEEN ", kFirstEngineInstant, " AND ",
                         kLastEngineInstant, " THEN ", v, " END)"),
            true};
  }
  if (kind != TypeKind::kInt) return Fail(e, "durations are added only inside a duration");
  const Sql a = Value(*e.kids[0], env), b = Value(*e.kids[1], env);
  const std::string x = absl::StrCat("CAST(", a.text, " AS numeric)");
  const std::string y = absl::StrCat("CAST(", b.text, " AS numeric)");
  std::string v;
  switch (e.op) {
    case BinaryOp::kAdd:
      v = absl::StrCat("(", x, " + ", y, ")");
      break;
    case BinaryOp::kSub:
      v = absl::StrCat("(", x, " - ", y, ")");
      break;
    case BinaryOp::kMul:
      v = absl::StrCat("(", x, " * ", y, ")");
      break;
    default:  // the remainder dropped, towards zero; by zero: missing
      v = absl::StrCat("TRUNC(", x, " / NULLIF(", y, ", 0))");
      break;
  }
  return {absl::StrCat("(CASE WHEN ", v, " BETWEEN -9223372036854775808 AND 9223372036854775807",
                       " THEN CAST(", v, " AS bigint) END)"),
          true};
}

Sql Translator::Call(const Expr& e, const Env& env) {
  if (e.resolution == Resolution::kDef) {
    if (e.type.kind == TypeKind::kRecord) {
      return Fail(e, "a record is read through its fields");
    }
    Env callee;
    for (const auto& k : e.kids) callee.args.push_back({k.get(), &env});
    return DefBody(*e.def, *NewEnv(std::move(callee)));
  }
  if (e.text == "local_date") {
    // The checker resolved the zone (a text or a text `const`) into `builtin`.
    const Sql t = Value(*e.kids[0], env);
    return {absl::StrCat("CAST(to_char(", t.text, " AT TIME ZONE ", Quote(e.builtin),
                         ", 'YYYYMMDD') AS bigint)"),
            t.nullable};
  }
  if (e.builtin == "years_between") {
    const Sql from = Value(*e.kids[0], env), to = Value(*e.kids[1], env);
    // Completed years on YYYYMMDD numbers, floored: 29 February's birthday passes on 1 March.
    return {absl::StrCat("CAST(FLOOR(CAST(", to.text, " - ", from.text,
                         " AS numeric) / 10000) AS bigint)"),
            from.nullable || to.nullable};
  }
  return Fail(e, absl::StrCat("`", e.text, "` has no SQL form"));
}

}  // namespace lawful::sql
