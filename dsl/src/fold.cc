// Constant folding with the VM's checked arithmetic; see fold.h.
#include "fold.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"

namespace lawful::dsl {
namespace {

const char* Symbol(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return "+";
    case BinaryOp::kSub:
      return "-";
    case BinaryOp::kMul:
      return "*";
    case BinaryOp::kDiv:
      return "/";
    default:
      return "?";
  }
}

// An operand as the reader would write it: `5 - (-3)`, not `5 - -3`.
std::string Operand(int64_t v, bool right) {
  return v < 0 && right ? absl::StrCat("(", v, ")") : absl::StrCat(v);
}

FoldResult NotConstant() {
  FoldResult r;
  r.kind = FoldResult::kNotConstant;
  return r;
}

FoldResult Invalid(const Span& span, const char* code, std::string message) {
  return FoldResult{FoldResult::kInvalid, span, code, std::move(message)};
}

FoldResult IntOverflow(const Span& span, const std::string& what) {
  const int64_t max = std::numeric_limits<int64_t>::max();
  return Invalid(
      span, "overflow",
      absl::StrCat(what, " is outside the numbers rules can hold (", -max, " to ", max, ")"));
}

FoldResult DurationOverflow(const Expr& e, int32_t a, int32_t b, const char* unit) {
  return Invalid(
      e.op_span, "overflow",
      absl::StrCat("`", Symbol(e.op), "` overflows: ", a, " ", unit, " ", Symbol(e.op), " ",
                   Operand(b, true), " ", unit, " is outside what a duration can hold (",
                   std::numeric_limits<int32_t>::min(), " to ", std::numeric_limits<int32_t>::max(),
                   " ", unit, ")"));
}

// A duration's months and days are 32-bit (lawful::CalendarDuration): the sum is taken in 64 bits,
// where it cannot overflow, and must fit back.
FoldResult AddDurations(const Expr& e, const CalendarDuration& a, const CalendarDuration& b,
                        CalendarDuration& out) {
  const int64_t sign = e.op == BinaryOp::kAdd ? 1 : -1;
  const int64_t months = int64_t{a.months} + sign * b.months,
                days = int64_t{a.days} + sign * b.days;
  auto fits = [](int64_t x) {
    return x >= std::numeric_limits<int32_t>::min() && x <= std::numeric_limits<int32_t>::max();
  };
  if (!fits(months)) return DurationOverflow(e, a.months, b.months, "months");
  if (!fits(days)) return DurationOverflow(e, a.days, b.days, "days");
  out = CalendarDuration{static_cast<int32_t>(months), static_cast<int32_t>(days)};
  return {};
}

FoldResult FoldInt(const Expr& e, int64_t a, int64_t b, int64_t& out) {
  bool ok = false;
  switch (e.op) {
    case BinaryOp::kAdd:
      ok = CheckedAdd(a, b, &out);
      break;
    case BinaryOp::kSub:
      ok = CheckedSub(a, b, &out);
      break;
    case BinaryOp::kMul:
      ok = CheckedMul(a, b, &out);
      break;
    case BinaryOp::kDiv:
      ok = CheckedDiv(a, b, &out);
      break;
    default:
      return NotConstant();
  }
  if (ok) return {};
  const std::string shown =
      absl::StrCat(Operand(a, false), " ", Symbol(e.op), " ", Operand(b, true));
  if (e.op == BinaryOp::kDiv && b == 0) {
    return Invalid(e.op_span, "division-by-zero",
                   absl::StrCat("`/` divides by zero: ", shown, " has no value"));
  }
  return IntOverflow(e.op_span, absl::StrCat("`", Symbol(e.op), "` overflows: ", shown));
}

}  // namespace

FoldResult Fold(const Expr& e, ConstValue& v) {
  switch (e.kind) {
    case ExprKind::kBool:
    case ExprKind::kInt:
    case ExprKind::kInstant:
    case ExprKind::kDate:
      v.value = e.value;
      return {};
    case ExprKind::kString:
      v.text = e.text;
      return {};
    case ExprKind::kDuration:
      v.duration = e.duration;
      return {};
    case ExprKind::kName:
      if (e.resolution == Resolution::kEnumValue) {
        v.value = e.value;
        return {};
      }
      if (e.resolution == Resolution::kConst && e.def->checked && !e.def->type.error()) {
        v = e.def->constant;
        return {};
      }
      return NotConstant();
    case ExprKind::kSet:
      for (const auto& k : e.kids) {
        ConstValue element;
        if (FoldResult r = Fold(*k, element); r.kind != FoldResult::kOk) return r;
        v.set.push_back(element.value);
      }
      std::sort(v.set.begin(), v.set.end());
      v.set.erase(std::unique(v.set.begin(), v.set.end()), v.set.end());
      return {};
    case ExprKind::kNeg: {
      ConstValue a;
      if (FoldResult r = Fold(*e.kids[0], a); r.kind != FoldResult::kOk) return r;
      if (!CheckedNeg(a.value, &v.value))
        return IntOverflow(e.span, absl::StrCat("`-` overflows: -(", a.value, ")"));
      return {};
    }
    case ExprKind::kBinary: {
      ConstValue a, b;
      if (FoldResult r = Fold(*e.kids[0], a); r.kind != FoldResult::kOk) return r;
      if (FoldResult r = Fold(*e.kids[1], b); r.kind != FoldResult::kOk) return r;
      if (e.type.kind == TypeKind::kDuration &&
          (e.op == BinaryOp::kAdd || e.op == BinaryOp::kSub)) {
        return AddDurations(e, a.duration, b.duration, v.duration);
      }
      if (e.type.kind != TypeKind::kInt) return NotConstant();
      return FoldInt(e, a.value, b.value, v.value);
    }
    default:
      return NotConstant();
  }
}

}  // namespace lawful::dsl
