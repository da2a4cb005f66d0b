// The checker's typing of expressions: operators, sets, calls, quantifiers and `if`.
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "checker_impl.h"
#include "fold.h"
#include "language_limits.h"

namespace lawful::dsl {

// ---- expressions ----

bool Checker::Expect(const Expr& e, const Type& t, TypeKind kind, const char* what) {
  if (t.error() || t.kind == kind) return !t.error();
  Error(e.span, "type",
        absl::StrCat(what, " must be ", TypeName(Type::Of(kind)), ", not ", TypeName(t)));
  return false;
}

bool Checker::IsPlainValue(const Type& t) {
  return t.kind != TypeKind::kList && t.kind != TypeKind::kSet && t.kind != TypeKind::kDuration &&
         !(t.kind == TypeKind::kRecord && t.list < 0);
}

Type Checker::CheckSet(Expr& e, Scope& scope, const Type* expected_element) {
  Type element = expected_element ? *expected_element : Type::Of(TypeKind::kError);
  // Without context, bare value names are resolved by the enum all of them belong to.
  if (!expected_element && !e.kids.empty()) {
    std::vector<const Expr*> names;
    bool all_names = true;
    for (const auto& k : e.kids) {
      all_names &= NeedsContext(*k, scope);
      names.push_back(k.get());
    }
    int32_t common = all_names ? CommonEnum(names) : -1;
    if (common >= 0) {
      element = Type::Enum(common);
      expected_element = &element;
    }
  }
  bool ok = true;
  for (size_t i = 0; i < e.kids.size(); ++i) {
    Type t = CheckExpr(*e.kids[i], scope, expected_element);
    if (t.error()) {
      ok = false;
      continue;
    }
    if (t.kind != TypeKind::kEnum && t.kind != TypeKind::kInt) {
      Error(e.kids[i]->span, "type",
            absl::StrCat("a set holds names of values or numbers, not ", TypeName(t)));
      ok = false;
      continue;
    }
    if (i == 0 && !expected_element) {
      element = t;
      expected_element = &element;
    } else if (!SameType(t, element)) {
      Error(e.kids[i]->span, "type",
            absl::StrCat("this set must hold ", Plural(element), ", not ", TypeName(t)));
      ok = false;
    }
  }
  // The compiler takes a set's values from the folder, so each must be known now.
  for (size_t i = 0; ok && i < e.kids.size(); ++i) {
    ConstValue value;
    const FoldResult folded = Fold(*e.kids[i], value);
    if (folded.kind == FoldResult::kInvalid) {
      Error(folded.span, folded.code, folded.message);
      ok = false;
    } else if (folded.kind == FoldResult::kNotConstant) {
      Error(e.kids[i]->span, "not-constant",
            "the values of a set must be known when the rules are compiled (value names, numbers, "
            "consts); "
            "compare a value that depends on the contact or the request with `==`");
      ok = false;
    }
  }
  if (!ok) return e.type = Fail();
  if (e.kids.empty() && !expected_element) {
    Error(e.span, "type", "an empty set needs a context that says what it holds");
    return e.type = Fail();
  }
  Type set = Type::Of(TypeKind::kSet);
  set.element = std::make_shared<Type>(element);
  return e.type = set;
}

Type Checker::CheckBinary(Expr& e, Scope& scope) {
  Expr& a = *e.kids[0];
  Expr& b = *e.kids[1];
  switch (e.op) {
    case BinaryOp::kAnd:
    case BinaryOp::kOr: {
      Type ta = CheckExpr(a, scope, nullptr), tb = CheckExpr(b, scope, nullptr);
      bool ok = Expect(a, ta, TypeKind::kBool,
                       e.op == BinaryOp::kAnd ? "each side of `and`" : "each side of `or`");
      ok = Expect(b, tb, TypeKind::kBool,
                  e.op == BinaryOp::kAnd ? "each side of `and`" : "each side of `or`") &&
           ok;
      return e.type = ok ? Type::Of(TypeKind::kBool) : Fail();
    }
    case BinaryOp::kIn:
    case BinaryOp::kNotIn: {
      Type ta, tb;
      if (NeedsContext(a, scope) && b.kind != ExprKind::kSet) {
        // `phone in contact.relationship.opted_out_channels`: the list says what `phone` is.
        tb = CheckExpr(b, scope, nullptr);
        ta = CheckExpr(a, scope, !tb.error() && tb.element ? tb.element.get() : nullptr);
        if (ta.error() || tb.error()) return e.type = Fail();
      } else {
        ta = CheckExpr(a, scope, nullptr);
        if (ta.error()) {
          if (b.kind != ExprKind::kSet) CheckExpr(b, scope, nullptr);
          return e.type = Fail();
        }
        tb = b.kind == ExprKind::kSet ? CheckSet(b, scope, &ta) : CheckExpr(b, scope, nullptr);
      }
      if (tb.error()) return e.type = Fail();
      if ((tb.kind != TypeKind::kSet && tb.kind != TypeKind::kList) ||
          (tb.kind == TypeKind::kList && tb.element->kind == TypeKind::kRecord)) {
        Error(
            b.span, "type",
            absl::StrCat("`in` needs a set or a list of values on its right, not ", TypeName(tb)));
        return e.type = Fail();
      }
      if (!SameType(ta, *tb.element)) {
        Error(a.span, "type", absl::StrCat("`in`: ", TypeName(ta), " cannot be in ", TypeName(tb)));
        return e.type = Fail();
      }
      if (tb.kind == TypeKind::kSet && b.kind != ExprKind::kSet &&
          !(b.kind == ExprKind::kName && b.resolution == Resolution::kConst)) {
        Error(b.span, "not-constant", "a set after `in` must be written out or named by a `const`");
        return e.type = Fail();
      }
      return e.type = Type::Of(TypeKind::kBool);
    }
    default:
      break;
  }
  // Comparisons and arithmetic: a bare value name takes its type from the other side.
  Type ta, tb;
  if (NeedsContext(a, scope) && !NeedsContext(b, scope)) {
    tb = CheckExpr(b, scope, nullptr);
    ta = CheckExpr(a, scope, tb.error() ? nullptr : &tb);
  } else {
    ta = CheckExpr(a, scope, nullptr);
    tb = CheckExpr(b, scope, ta.error() ? nullptr : &ta);
  }
  if (ta.error() || tb.error()) return e.type = Fail();
  switch (e.op) {
    case BinaryOp::kEq:
    case BinaryOp::kNe:
      if (!IsPlainValue(ta) || ta.kind == TypeKind::kRecord) {
        Error(a.span, "type",
              absl::StrCat("cannot compare ", TypeName(ta), " with `",
                           e.op == BinaryOp::kEq ? "==" : "!=", "`"));
        return e.type = Fail();
      }
      if (!SameType(ta, tb)) {
        Error(b.span, "type",
              absl::StrCat("cannot compare ", TypeName(ta), " with ", TypeName(tb)));
        return e.type = Fail();
      }
      return e.type = Type::Of(TypeKind::kBool);
    case BinaryOp::kLt:
    case BinaryOp::kLe:
    case BinaryOp::kGt:
    case BinaryOp::kGe:
      if (ta.kind != TypeKind::kInt && ta.kind != TypeKind::kInstant &&
          ta.kind != TypeKind::kDate) {
        Error(a.span, "type",
              absl::StrCat("only numbers, instants and dates can be ordered, not ", TypeName(ta)));
        return e.type = Fail();
      }
      if (!SameType(ta, tb)) {
        Error(b.span, "type",
              absl::StrCat("cannot compare ", TypeName(ta), " with ", TypeName(tb)));
        return e.type = Fail();
      }
      return e.type = Type::Of(TypeKind::kBool);
    case BinaryOp::kAdd:
    case BinaryOp::kSub:
      if ((ta.kind == TypeKind::kInstant || ta.kind == TypeKind::kDate) &&
          tb.kind == TypeKind::kDuration) {
        if (!IsConstantDuration(b)) {
          Error(b.span, "not-constant",
                "a duration must be written out (`24 months`) or named by a `const`");
          return e.type = Fail();
        }
        return e.type = ta;
      }
      if (ta.kind == TypeKind::kDuration && tb.kind == TypeKind::kDuration) {
        // The compiler folds every duration sum it moves an instant by, so one that cannot be
        // folded is reported here (one named by a `def` is refused where it is used).
        e.type = ta;
        ConstValue value;
        const FoldResult folded = Fold(e, value);
        if (folded.kind != FoldResult::kInvalid) return e.type;
        Error(folded.span, folded.code, folded.message);
        return e.type = Fail();
      }
      [[fallthrough]];
    case BinaryOp::kMul:
    case BinaryOp::kDiv:
      if (ta.kind == TypeKind::kInt && tb.kind == TypeKind::kInt) return e.type = ta;
      if (ta.kind == TypeKind::kInstant || ta.kind == TypeKind::kDate) {
        Error(b.span, "type",
              absl::StrCat(
                  "an instant or date can only be moved by a duration such as `12 months`, not by ",
                  TypeName(tb)));
      } else {
        Error(e.span, "type",
              absl::StrCat("arithmetic needs numbers, not ", TypeName(ta), " and ", TypeName(tb)));
      }
      return e.type = Fail();
    default:
      return e.type = Fail();
  }
}

bool Checker::IsConstantDuration(const Expr& e) {
  if (e.kind == ExprKind::kDuration) return true;
  if (e.kind == ExprKind::kName && e.resolution == Resolution::kConst) return true;
  if (e.kind == ExprKind::kBinary)
    return IsConstantDuration(*e.kids[0]) && IsConstantDuration(*e.kids[1]);
  return false;
}

Type Checker::CheckCall(Expr& e, Scope& scope) {
  if (e.text == "local_date" || e.text == "years_between") {
    e.resolution = Resolution::kBuiltin;
    e.builtin = e.text;
    if (e.kids.size() != 2) {
      Error(e.span, "arity", absl::StrCat("`", e.text, "` takes 2 arguments"));
      return e.type = Fail();
    }
    Type a = CheckExpr(*e.kids[0], scope, nullptr), b = CheckExpr(*e.kids[1], scope, nullptr);
    if (e.text == "local_date") {
      bool ok = Expect(*e.kids[0], a, TypeKind::kInstant, "the first argument of `local_date`");
      const Expr* zone = e.kids[1].get();
      if (zone->kind == ExprKind::kName && zone->resolution == Resolution::kConst)
        zone = zone->def->body.get();
      if (b.error()) return e.type = Fail();
      if (zone->kind != ExprKind::kString) {
        Error(e.kids[1]->span, "type",
              "the second argument of `local_date` is a time zone name, e.g. \"Europe/Stockholm\"");
        return e.type = Fail();
      }
      absl::TimeZone tz;
      if (!IsTimeZoneName(zone->text) || !absl::LoadTimeZone(zone->text, &tz)) {
        Error(e.kids[1]->span, "unknown-zone",
              absl::StrCat("unknown time zone `", zone->text,
                           "` (use an IANA name such as \"Europe/Stockholm\")"));
        return e.type = Fail();
      }
      e.text = "local_date";
      e.builtin = zone->text;
      return e.type = ok ? Type::Of(TypeKind::kDate) : Fail();
    }
    bool ok = Expect(*e.kids[0], a, TypeKind::kDate, "the first argument of `years_between`");
    ok = Expect(*e.kids[1], b, TypeKind::kDate, "the second argument of `years_between`") && ok;
    e.builtin = "years_between";
    return e.type = ok ? Type::Of(TypeKind::kInt) : Fail();
  }
  auto it = defs_.find(e.text);
  if (it == defs_.end()) {
    std::vector<std::string> names = {"local_date", "years_between"};
    for (const auto& [n, d] : defs_) names.push_back(n);
    Error(e.span, "unknown-name",
          absl::StrCat("unknown definition `", e.text, "`", Suggest(e.text, names)));
    for (auto& k : e.kids) CheckExpr(*k, scope, nullptr);
    return e.type = Fail();
  }
  Def& def = *it->second;
  if (def.checking) {
    Error(e.span, "recursive",
          absl::StrCat("`", def.name, "` calls itself; definitions may not be recursive"));
    return e.type = Fail();
  }
  CheckDef(def);
  if (def.params.size() != e.kids.size()) {
    Error(e.span, "arity",
          absl::StrCat("`", def.name, "` takes ", def.params.size(), " argument(s), not ",
                       e.kids.size()));
    return e.type = Fail();
  }
  bool ok = true;
  for (size_t i = 0; i < e.kids.size(); ++i) {
    const Type& want = def.params[i].type;
    Type got = CheckExpr(*e.kids[i], scope, want.error() ? nullptr : &want);
    if (got.error() || want.error()) {
      ok = false;
    } else if (!SameType(got, want)) {
      Error(e.kids[i]->span, "type",
            absl::StrCat("argument `", def.params[i].name, "` of `", def.name, "` must be ",
                         TypeName(want), ", not ", TypeName(got)));
      ok = false;
    }
  }
  e.resolution = Resolution::kDef;
  e.def = &def;
  return e.type = ok && !def.type.error() ? def.type : Fail();
}

Type Checker::CheckQuantifier(Expr& e, Scope& scope) {
  Type coll = CheckExpr(*e.kids[0], scope, nullptr);
  e.id = out_.binders++;
  if (coll.error()) return e.type = Fail();
  if (coll.kind != TypeKind::kList) {
    Error(e.kids[0]->span, "type",
          absl::StrCat("expected a list field, e.g. `contact.consents`, not ", TypeName(coll)));
    return e.type = Fail();
  }
  if (e.kind == ExprKind::kLatest && coll.element->kind != TypeKind::kRecord) {
    Error(e.kids[0]->span, "type",
          "`latest` picks a record from a list of records, e.g. `contact.consents`");
    return e.type = Fail();
  }
  scope.vars.push_back(Binding{e.text, *coll.element, e.id});
  Type where = CheckExpr(*e.kids[1], scope, nullptr);
  bool ok = Expect(*e.kids[1], where, TypeKind::kBool, "the condition after `where`");
  if (e.kind == ExprKind::kLatest) {
    Type key = CheckExpr(*e.kids[2], scope, nullptr);
    if (!key.error() && key.kind != TypeKind::kInstant && key.kind != TypeKind::kDate &&
        key.kind != TypeKind::kInt) {
      Error(e.kids[2]->span, "type",
            absl::StrCat("records are ordered by an instant, a date or a number, not ",
                         TypeName(key)));
      ok = false;
    }
    ok = ok && !key.error();
  }
  scope.vars.pop_back();
  if (!ok) return e.type = Fail();
  switch (e.kind) {
    case ExprKind::kCount:
      return e.type = Type::Of(TypeKind::kInt);
    case ExprKind::kLatest:
      return e.type = *coll.element;
    default:
      return e.type = Type::Of(TypeKind::kBool);
  }
}

Type Checker::CheckExpr(Expr& e, Scope& scope, const Type* expected) {
  if (++depth_ > kMaxExpressionDepth) {
    --depth_;
    Error(e.span, "limit", "the expression is nested too deeply");
    return e.type = Fail();
  }
  Type t = CheckExprInner(e, scope, expected);
  --depth_;
  return t;
}

Type Checker::CheckExprInner(Expr& e, Scope& scope, const Type* expected) {
  switch (e.kind) {
    case ExprKind::kBool:
      return e.type = Type::Of(TypeKind::kBool);
    case ExprKind::kInt:
      return e.type = Type::Of(TypeKind::kInt);
    case ExprKind::kString:
      return e.type = Type::Of(TypeKind::kString);
    case ExprKind::kInstant:
      return e.type = Type::Of(TypeKind::kInstant);
    case ExprKind::kDate:
      return e.type = Type::Of(TypeKind::kDate);
    case ExprKind::kDuration:
      return e.type = Type::Of(TypeKind::kDuration);
    case ExprKind::kName:
      return CheckName(e, scope, expected);
    case ExprKind::kField:
      return CheckField(e, scope);
    case ExprKind::kCall:
      return CheckCall(e, scope);
    case ExprKind::kSet:
      return CheckSet(
          e, scope,
          expected && expected->kind == TypeKind::kSet ? expected->element.get() : nullptr);
    case ExprKind::kNot: {
      Type t = CheckExpr(*e.kids[0], scope, nullptr);
      return e.type = Expect(*e.kids[0], t, TypeKind::kBool, "the operand of `not`") ? t : Fail();
    }
    case ExprKind::kNeg: {
      Type t = CheckExpr(*e.kids[0], scope, nullptr);
      return e.type = Expect(*e.kids[0], t, TypeKind::kInt, "the operand of `-`") ? t : Fail();
    }
    case ExprKind::kBinary:
      return CheckBinary(e, scope);
    case ExprKind::kIf: {
      Type c = CheckExpr(*e.kids[0], scope, nullptr);
      bool ok = Expect(*e.kids[0], c, TypeKind::kBool, "the condition after `if`");
      Type a, b;
      Type common;
      if (!expected && NeedsContext(*e.kids[1], scope) && NeedsContext(*e.kids[2], scope)) {
        // `if ... then active else withdrawn`: the enum both names belong to.
        int32_t id = CommonEnum({e.kids[1].get(), e.kids[2].get()});
        if (id >= 0) {
          common = Type::Enum(id);
          expected = &common;
        }
      }
      if (NeedsContext(*e.kids[1], scope) && !NeedsContext(*e.kids[2], scope)) {
        b = CheckExpr(*e.kids[2], scope, expected);
        a = CheckExpr(*e.kids[1], scope, b.error() ? expected : &b);
      } else {
        a = CheckExpr(*e.kids[1], scope, expected);
        b = CheckExpr(*e.kids[2], scope, a.error() ? expected : &a);
      }
      if (!ok || a.error() || b.error()) return e.type = Fail();
      if (!SameType(a, b) || !IsPlainValue(a)) {
        Error(e.kids[2]->span, "type",
              absl::StrCat("both branches of `if` must give the same kind of value, not ",
                           TypeName(a), " and ", TypeName(b)));
        return e.type = Fail();
      }
      return e.type = a;
    }
    case ExprKind::kAny:
    case ExprKind::kAll:
    case ExprKind::kCount:
    case ExprKind::kLatest:
      return CheckQuantifier(e, scope);
    case ExprKind::kIsMissing:
    case ExprKind::kIsPresent: {
      Type t = CheckExpr(*e.kids[0], scope, nullptr);
      if (t.error()) return e.type = Fail();
      // Instants, dates, `latest` records and results such as a division by zero can be missing;
      // a text is tested for being empty.
      bool can_be_missing = IsPlainValue(t) && !(t.kind == TypeKind::kRecord && !t.path.empty());
      if (!can_be_missing) {
        Error(e.kids[0]->span, "type",
              absl::StrCat("`is missing` applies to single values, not to ", TypeName(t)));
        return e.type = Fail();
      }
      return e.type = Type::Of(TypeKind::kBool);
    }
  }
  return e.type = Fail();
}

}  // namespace lawful::dsl
