// The compiler's expressions: values, conditions as jumps, calls, quantifiers, hoisting.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "compiler_impl.h"

namespace lawful::dsl {

// ---- expressions ----

void Compiler::Compile(const Expr& e, const Frame* frame) {
  if (target_ == &main_ && !Trivial(e) && Storable(e.type) && IsRequestConstant(e, frame)) {
    Hoist(e, frame);
    return;
  }
  CompileDirect(e, frame);
}

void Compiler::Land(Jumps& jumps) {
  for (int32_t j : jumps.pending) Patch(j, Pc());
  jumps.pending.clear();
}

void Compiler::Branch(const Expr& e, const Frame* frame, bool when, Jumps& jumps) {
  const bool hoisted = target_ == &main_ && !Trivial(e) && IsRequestConstant(e, frame);
  if (!hoisted && e.kind == ExprKind::kBinary &&
      (e.op == BinaryOp::kAnd || e.op == BinaryOp::kOr)) {
    const bool is_and = e.op == BinaryOp::kAnd;
    if (is_and != when) {
      // `a and b` jumps when false as soon as either is false; `a or b` when true likewise.
      Branch(*e.kids[0], frame, when, jumps);
      Branch(*e.kids[1], frame, when, jumps);
    } else {
      Jumps skip;
      Branch(*e.kids[0], frame, !when, skip);
      Branch(*e.kids[1], frame, when, jumps);
      Land(skip);
    }
    return;
  }
  if (!hoisted && e.kind == ExprKind::kNot) {
    Branch(*e.kids[0], frame, !when, jumps);
    return;
  }
  if (!hoisted && (e.kind == ExprKind::kCall || e.kind == ExprKind::kName) &&
      e.resolution == Resolution::kDef) {
    CallDef(e, *e.def, frame, ToSource(e.span), &jumps, when);
    return;
  }
  if (!hoisted && e.kind == ExprKind::kName && e.resolution == Resolution::kParam &&
      frame->args[e.binding].local < 0) {
    const Arg& arg = frame->args[e.binding];
    Branch(*arg.expr, arg.frame, when, jumps);
    return;
  }
  if (!hoisted && (e.kind == ExprKind::kAny || e.kind == ExprKind::kAll)) {
    BranchQuantifier(e, frame, when, jumps);
    return;
  }
  Compile(e, frame);
  const int32_t pc =
      Emit(when ? Op::kJumpIfTrue : Op::kJumpIfFalse, ToSource(e.span), std::max(jumps.target, 0));
  if (jumps.target < 0) jumps.pending.push_back(pc);
}

FactKind Compiler::DisplayKind(const Type& t) {
  switch (t.kind) {
    case TypeKind::kBool:
      return FactKind::kBool;
    case TypeKind::kInstant:
      return FactKind::kInstant;
    case TypeKind::kDate:
      return FactKind::kDate;
    case TypeKind::kString:
      return FactKind::kString;
    case TypeKind::kEnum:
      return t.enum_id == 0 ? FactKind::kPurpose : FactKind::kEnum;
    default:
      return FactKind::kInt;
  }
}

SourceSpan Compiler::Extent(const Expr& e) {
  SourceSpan span = ToSource(e.span);
  std::vector<const Expr*> todo = {&e};
  while (!todo.empty()) {
    const Expr* x = todo.back();
    todo.pop_back();
    const SourceSpan s = ToSource(x->span);
    if (s.file != span.file || s.line != span.line) return ToSource(e.span);
    span.column = std::min(span.column, s.column);
    span.end_column = std::max(span.end_column, s.end_column);
    for (const auto& k : x->kids) todo.push_back(k.get());
  }
  return span;
}

void Compiler::Hoist(const Expr& e, const Frame* frame) {
  std::string key = Render(e, frame);
  int32_t reg;
  if (auto it = hoisted_.find(key); it != hoisted_.end()) {
    reg = it->second;
  } else {
    reg = next_register_++;
    registers_.resize(next_register_);
    registers_[reg] = Program::RegisterInfo{DisplayKind(e.type), Extent(e)};
    Code* saved = target_;
    target_ = &prelude_;
    CompileDirect(e, frame);
    Emit(Op::kStoreReg, ToSource(e.span), reg);
    target_ = saved;
    hoisted_[key] = reg;
  }
  Emit(Op::kLoadReq, ToSource(e.span), reg);
}

void Compiler::CompileDirect(const Expr& e, const Frame* frame) {
  const SourceSpan span = ToSource(e.span);
  switch (e.kind) {
    case ExprKind::kBool:
    case ExprKind::kInt:
    case ExprKind::kDate:
    case ExprKind::kInstant:
      PushInt(e.value, span);
      return;
    case ExprKind::kString:
      Emit(Op::kPushStr, span, Intern(p_.strings, e.text));
      return;
    case ExprKind::kDuration:
    case ExprKind::kSet:
      return;  // only as operands; the checker allows nothing else
    case ExprKind::kName:
      CompileName(e, frame, span);
      return;
    case ExprKind::kField: {
      const Expr& base = *e.kids[0];
      if (e.type.kind == TypeKind::kRecord) {
        // A nested message of a record: still that record.
        if (e.type.list >= 0) Compile(base, frame);
        return;
      }
      if (e.type.kind == TypeKind::kList) return;  // used by quantifiers and `in` through its type
      int32_t slot = c_.field_slot.at(&e);
      if (base.type.list < 0) {
        Emit(Op::kLoadFact, span, slot);
      } else {
        Compile(base, frame);
        Emit(Op::kLoadField, span, slot, static_cast<uint16_t>(base.type.list));
      }
      return;
    }
    case ExprKind::kCall:
      if (e.resolution == Resolution::kBuiltin) {
        Compile(*e.kids[0], frame);
        if (e.text == "local_date") {
          Emit(Op::kLocalDate, span, Intern(p_.zones, e.builtin));
        } else {
          Compile(*e.kids[1], frame);
          Emit(Op::kYearsBetween, span);
        }
        return;
      }
      CallDef(e, *e.def, frame, span);
      return;
    case ExprKind::kNot:
      Compile(*e.kids[0], frame);
      Emit(Op::kNot, span);
      return;
    case ExprKind::kNeg:
      Compile(*e.kids[0], frame);
      Emit(Op::kNeg, span);
      return;
    case ExprKind::kBinary:
      CompileBinary(e, frame, span);
      return;
    case ExprKind::kIf: {
      Jumps to_else;
      Branch(*e.kids[0], frame, false, to_else);
      Compile(*e.kids[1], frame);
      int32_t to_end = Emit(Op::kJump, span);
      Land(to_else);
      Compile(*e.kids[2], frame);
      Patch(to_end, Pc());
      return;
    }
    case ExprKind::kAny:
    case ExprKind::kAll:
    case ExprKind::kCount:
    case ExprKind::kLatest:
      CompileQuantifier(e, frame, span);
      return;
    case ExprKind::kIsMissing:
    case ExprKind::kIsPresent: {
      const Expr& operand = *e.kids[0];
      Compile(operand, frame);
      if (operand.type.kind == TypeKind::kString) {
        Emit(Op::kStrIsEmpty, span);
      } else if (operand.type.kind == TypeKind::kRecord) {
        Emit(Op::kPushInt, span, 0);
        Emit(Op::kLt, span);  // no record: index -1
      } else {
        Emit(Op::kIsMissing, span);
      }
      if (e.kind == ExprKind::kIsPresent) Emit(Op::kNot, span);
      return;
    }
  }
}

void Compiler::CompileName(const Expr& e, const Frame* frame, const SourceSpan& span) {
  switch (e.resolution) {
    case Resolution::kAt:
      Emit(Op::kLoadReq, span, kRegAt);
      return;
    case Resolution::kPurpose:
      Emit(Op::kLoadReq, span, kRegPurpose);
      return;
    case Resolution::kChannel:
      Emit(Op::kLoadReq, span, kRegChannel);
      return;
    case Resolution::kNoticeType:
      Emit(Op::kLoadReq, span, kRegNoticeType);
      return;
    case Resolution::kEnumValue:
      PushInt(e.value, span);
      return;
    case Resolution::kConst:
      if (e.def->type.kind == TypeKind::kString) {
        Emit(Op::kPushStr, span, Intern(p_.strings, e.def->constant.text));
      } else {
        PushInt(e.def->constant.value, span);
      }
      return;
    case Resolution::kDef:
      CallDef(e, *e.def, frame, span);
      return;
    case Resolution::kParam: {
      const Arg& arg = frame->args[e.binding];
      if (arg.local >= 0) {
        Emit(Op::kLoadLocal, span, arg.local);
      } else {
        Compile(*arg.expr, arg.frame);
      }
      return;
    }
    case Resolution::kLoopVar: {
      const Binder& b = binders_.at(e.binding);
      Emit(Op::kLoadLocal, span, b.local);
      if (b.scalar) Emit(Op::kLoadElem, span, b.list);
      return;
    }
    default:
      return;  // `contact` pushes nothing: its fields are slots
  }
}

void Compiler::CallDef(const Expr& call, const Def& def, const Frame* frame, const SourceSpan& span,
                       Jumps* branch, bool when) {
  if (++inline_depth_ > 64) {  // defensive: the checker rejects recursion
    --inline_depth_;
    Emit(Op::kPushMissing, span);
    return;
  }
  bool request_only_args = true;
  for (const auto& k : call.kids) request_only_args &= IsRequestConstant(*k, frame);
  // A definition called with request-only arguments gives one value per contact: compute it at
  // most once, the first time a rule needs it.
  int32_t memo_flag = -1, memo_value = -1, skip = -1;
  if (request_only_args && target_ == &main_ && Storable(def.type)) {
    std::string key = Render(call, frame);
    uses_[key] += loop_depth_ > 0 ? 2 : 1;
    auto it = memo_.find(key);
    if (it != memo_.end()) {
      if (it->second.second < 0) it->second.second = NewLocal();
      memo_flag = it->second.first;
      memo_value = it->second.second;
      Emit(Op::kLoadLocal, span, memo_flag);
      skip = Emit(Op::kJumpIfTrue, span);
    }
  }
  Frame callee;
  for (const auto& k : call.kids) {
    Arg arg{k.get(), frame, -1};
    bool substitute = IsRequestConstant(*k, frame) || k->kind == ExprKind::kName;
    if (!substitute) {
      arg.local = NewLocal();
      Compile(*k, frame);
      Emit(Op::kStoreLocal, ToSource(k->span), arg.local);
    }
    callee.args.push_back(arg);
  }
  if (branch != nullptr && memo_flag < 0) {
    Branch(*def.body, &callee, when, *branch);
    --inline_depth_;
    return;
  }
  Compile(*def.body, &callee);
  if (memo_flag >= 0) {
    Emit(Op::kStoreLocal, span, memo_value);
    Emit(Op::kPushInt, span, 1);
    Emit(Op::kStoreLocal, span, memo_flag);
    Patch(skip, Pc());
    Emit(Op::kLoadLocal, span, memo_value);
  }
  if (branch != nullptr) {
    const int32_t pc =
        Emit(when ? Op::kJumpIfTrue : Op::kJumpIfFalse, span, std::max(branch->target, 0));
    if (branch->target < 0) branch->pending.push_back(pc);
  }
  --inline_depth_;
}

void Compiler::CompileBinary(const Expr& e, const Frame* frame, const SourceSpan& span) {
  const Expr& a = *e.kids[0];
  const Expr& b = *e.kids[1];
  switch (e.op) {
    case BinaryOp::kAnd:
    case BinaryOp::kOr: {
      Compile(a, frame);
      int32_t jump = Emit(e.op == BinaryOp::kAnd ? Op::kAndJump : Op::kOrJump, span);
      Compile(b, frame);
      Patch(jump, Pc());
      return;
    }
    case BinaryOp::kIn:
    case BinaryOp::kNotIn:
      Compile(a, frame);
      if (b.type.kind == TypeKind::kSet) {
        Emit(Op::kInSet, span, Intern(p_.sets, SetOf(b)));
      } else {
        Emit(Op::kInList, span, b.type.list);
      }
      if (e.op == BinaryOp::kNotIn) Emit(Op::kNot, span);
      return;
    case BinaryOp::kAdd:
    case BinaryOp::kSub:
      if (b.type.kind == TypeKind::kDuration) {
        Compile(a, frame);
        int32_t d = Intern(p_.durations, DurationOf(b));
        bool add = e.op == BinaryOp::kAdd;
        Op op = a.type.kind == TypeKind::kDate ? (add ? Op::kDateAdd : Op::kDateSub)
                                               : (add ? Op::kInstantAdd : Op::kInstantSub);
        Emit(op, span, d);
        return;
      }
      break;
    default:
      break;
  }
  Compile(a, frame);
  Compile(b, frame);
  const bool strings = a.type.kind == TypeKind::kString;
  switch (e.op) {
    case BinaryOp::kEq:
      Emit(strings ? Op::kStrEq : Op::kEq, span);
      return;
    case BinaryOp::kNe:
      Emit(strings ? Op::kStrNe : Op::kNe, span);
      return;
    case BinaryOp::kLt:
      Emit(Op::kLt, span);
      return;
    case BinaryOp::kLe:
      Emit(Op::kLe, span);
      return;
    case BinaryOp::kGt:
      Emit(Op::kGt, span);
      return;
    case BinaryOp::kGe:
      Emit(Op::kGe, span);
      return;
    case BinaryOp::kAdd:
      Emit(Op::kAdd, span);
      return;
    case BinaryOp::kSub:
      Emit(Op::kSub, span);
      return;
    case BinaryOp::kMul:
      Emit(Op::kMul, span);
      return;
    case BinaryOp::kDiv:
      Emit(Op::kDiv, span);
      return;
    default:
      return;
  }
}

void Compiler::BranchQuantifier(const Expr& e, const Frame* frame, bool when, Jumps& jumps) {
  const SourceSpan span = ToSource(e.span);
  const Type& coll = e.kids[0]->type;
  const int32_t index = NewLocal();
  auto saved = binders_.find(e.id) != binders_.end() ? std::optional<Binder>(binders_.at(e.id))
                                                     : std::nullopt;
  binders_[e.id] = Binder{index, coll.list, coll.element->kind != TypeKind::kRecord};
  ++loop_depth_;
  const bool any = e.kind == ExprKind::kAny;
  Emit(Op::kPushInt, span, -1);
  Emit(Op::kStoreLocal, span, index);
  const int32_t loop =
      Emit(Op::kLoopNext, span, 0, static_cast<uint16_t>(index), static_cast<uint8_t>(coll.list));
  Jumps next{loop, {}};
  Branch(*e.kids[1], frame, !any, next);  // not decisive for this record: next one
  // Decisive record found: the value is `any` (true for any, false for all).
  if (any == when) {
    const int32_t pc = Emit(Op::kJump, span, std::max(jumps.target, 0));
    if (jumps.target < 0) jumps.pending.push_back(pc);
    Patch(loop, Pc());
  } else {
    Jumps after;
    after.pending.push_back(Emit(Op::kJump, span));
    Patch(loop, Pc());
    // Records exhausted: the value is false for any, true for all, which equals `when` here.
    const int32_t pc = Emit(Op::kJump, span, std::max(jumps.target, 0));
    if (jumps.target < 0) jumps.pending.push_back(pc);
    Land(after);
  }
  --loop_depth_;
  if (saved) {
    binders_[e.id] = *saved;
  } else {
    binders_.erase(e.id);
  }
}

void Compiler::CompileQuantifier(const Expr& e, const Frame* frame, const SourceSpan& span) {
  const Type& coll = e.kids[0]->type;
  const int32_t list = coll.list;
  const bool scalar = coll.element->kind != TypeKind::kRecord;
  const int32_t index = NewLocal();
  auto saved = binders_.find(e.id) != binders_.end() ? std::optional<Binder>(binders_.at(e.id))
                                                     : std::nullopt;
  binders_[e.id] = Binder{index, list, scalar};
  ++loop_depth_;
  const auto loop_next = [&]() {
    return Emit(Op::kLoopNext, span, 0, static_cast<uint16_t>(index), static_cast<uint8_t>(list));
  };
  Emit(Op::kPushInt, span, -1);
  Emit(Op::kStoreLocal, span, index);
  switch (e.kind) {
    case ExprKind::kAny:
    case ExprKind::kAll: {
      const bool any = e.kind == ExprKind::kAny;
      int32_t loop = loop_next();
      Jumps next{loop, {}};
      Branch(*e.kids[1], frame, !any, next);
      Emit(Op::kPushInt, span, any ? 1 : 0);
      int32_t to_end = Emit(Op::kJump, span);
      Patch(loop, Pc());
      Emit(Op::kPushInt, span, any ? 0 : 1);
      Patch(to_end, Pc());
      break;
    }
    case ExprKind::kCount: {
      int32_t n = NewLocal();
      Emit(Op::kPushInt, span, 0);
      Emit(Op::kStoreLocal, span, n);
      int32_t loop = loop_next();
      Jumps next{loop, {}};
      Branch(*e.kids[1], frame, false, next);
      Emit(Op::kLoadLocal, span, n);
      Emit(Op::kPushInt, span, 1);
      Emit(Op::kAdd, span);
      Emit(Op::kStoreLocal, span, n);
      Emit(Op::kJump, span, loop);
      Patch(loop, Pc());
      Emit(Op::kLoadLocal, span, n);
      break;
    }
    case ExprKind::kLatest: {
      // Keeps the first record with the greatest key among those matching `where`.
      int32_t best = NewLocal(), best_key = NewLocal();
      Emit(Op::kPushInt, span, -1);
      Emit(Op::kStoreLocal, span, best);
      Emit(Op::kPushMissing, span);
      Emit(Op::kStoreLocal, span, best_key);
      int32_t loop = loop_next();
      Jumps next{loop, {}};
      Branch(*e.kids[1], frame, false, next);
      Compile(*e.kids[2], frame);
      Emit(Op::kDup, span);
      Emit(Op::kLoadLocal, span, best_key);
      Emit(Op::kGtRaw, span);
      int32_t to_drop = Emit(Op::kJumpIfFalse, span);
      Emit(Op::kStoreLocal, span, best_key);
      Emit(Op::kLoadLocal, span, index);
      Emit(Op::kStoreLocal, span, best);
      Emit(Op::kJump, span, loop);
      Patch(to_drop, Pc());
      Emit(Op::kPop, span);
      Emit(Op::kJump, span, loop);
      Patch(loop, Pc());
      Emit(Op::kLoadLocal, span, best);
      break;
    }
    default:
      break;
  }
  --loop_depth_;
  if (saved) {
    binders_[e.id] = *saved;
  } else {
    binders_.erase(e.id);
  }
}

}  // namespace lawful::dsl
