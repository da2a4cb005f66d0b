// The compiler: checked modules -> the engine's bytecode. Definitions are inlined at each call;
// values that depend only on the request (`at - 24 months`, `purpose in MARKETING`) are hoisted
// into the per-request prelude; definitions called with request-only arguments are computed at
// most once per contact.
#include <map>

#include "absl/strings/str_cat.h"
#include "checker.h"
#include "fold.h"
#include "language_limits.h"
#include "parser.h"

namespace lawful::dsl {
namespace {

struct Code {
  std::vector<Instr> instrs;
  std::vector<SourceSpan> spans;
};

// Thrown when the program outgrows the engine's limits, and caught by Compile, which reports it
// at the rule being compiled. Stopping at once matters: definitions are copied into every use,
// so code can grow exponentially with a chain of definitions that each use the previous twice.
struct TooLarge {
  const RuleDecl* rule;
  std::string message;
};

class Compiler {
 public:
  // How often each memoizable call (a definition called with request-only arguments) is
  // compiled; a call inside a loop counts twice, since it would run once per record.
  using MemoUses = std::map<std::string, int>;

  // `uses` from a first pass decides which calls are memoized; null for that first pass.
  Compiler(const CheckedRuleSet& checked, const MemoUses* uses) : c_(checked), allowed_(uses) {
    // Memo flags come first among the locals, so the evaluator resets just them per contact.
    if (allowed_ != nullptr) {
      for (const auto& [key, count] : *allowed_) {
        if (count >= 2) memo_[key] = {next_local_++, -1};
      }
      memo_flags_ = next_local_;
    }
  }

  const MemoUses& uses() const { return uses_; }

  Program Run() {
    p_.files = c_.files;
    p_.purposes = c_.purposes;
    for (size_t i = 0; i < c_.policies.size(); ++i) CompilePolicy(*c_.policies[i], c_.policy_purposes[i], c_.policy_channels[i]);
    // The prelude follows the policies' code; its jumps were relative to its own start.
    p_.prelude = static_cast<int32_t>(main_.instrs.size());
    target_ = &prelude_;
    Emit(Op::kHalt, SourceSpan{});
    for (size_t i = 0; i < prelude_.instrs.size(); ++i) {
      Instr in = prelude_.instrs[i];
      OperandShape shape = GetOpInfo(in.op).shape;
      if (shape == OperandShape::kJump || shape == OperandShape::kLoop) in.b += p_.prelude;
      main_.instrs.push_back(in);
      main_.spans.push_back(prelude_.spans[i]);
    }
    p_.code = std::move(main_.instrs);
    p_.spans = std::move(main_.spans);
    p_.num_locals = next_local_;
    p_.num_memo_flags = memo_flags_;
    p_.num_registers = next_register_;
    registers_.resize(next_register_);
    p_.registers = std::move(registers_);
    p_.layout = c_.layout.Build();
    return std::move(p_);
  }

 private:
  // How a definition's parameter is bound at one call: by substitution of the argument (pure
  // and cheap, or request-only) or through a local holding its value.
  struct Frame;
  struct Arg {
    const Expr* expr = nullptr;
    const Frame* frame = nullptr;
    int32_t local = -1;
  };
  struct Frame {
    std::vector<Arg> args;
  };
  struct Binder {
    int32_t local;
    int32_t list;
    bool scalar;
  };

  // ---- emission ----
  SourceSpan ToSource(const Span& s) {
    return SourceSpan{s.file, s.line, s.column, s.line, s.column + s.length};
  }
  int32_t Pc() const { return static_cast<int32_t>(target_->instrs.size()); }
  int32_t Emit(Op op, const SourceSpan& span, int32_t b = 0, uint16_t a = 0, uint8_t c = 0) {
    CheckLimits();
    target_->instrs.push_back(Instr{op, c, a, b});
    target_->spans.push_back(span);
    return Pc() - 1;
  }
  void Patch(int32_t at, int32_t target) { target_->instrs[at].b = target; }
  int32_t NewLocal() { return next_local_++; }

  // Locals and registers are always used by an instruction right after they are made, so checking
  // here, at each instruction, catches all three limits.
  void CheckLimits() const {
    if (main_.instrs.size() + prelude_.instrs.size() >= kMaxInstructions) {
      Fail(absl::StrCat(kMaxInstructions, " compiled instructions: each use of a definition copies its body, "
                        "so a chain of definitions that each use the previous twice doubles at every step"));
    }
    if (next_local_ > kMaxLocals) {
      Fail(absl::StrCat(kMaxLocals, " local values (one per `any`, `all`, `count` and `latest`, and per "
                        "computed argument of a definition, counted in every copy of it)"));
    }
    if (next_register_ > kMaxRegisters) {
      Fail(absl::StrCat(kMaxRegisters, " values computed once per request (such as `at - 24 months`)"));
    }
  }
  [[noreturn]] void Fail(const std::string& limit) const {
    const std::string who = rule_ != nullptr ? absl::StrCat("rule `", rule_->name, "`") : "the prelude";
    throw TooLarge{rule_, absl::StrCat(who, " takes the rule set past ", limit)};
  }

  template <typename T>
  int32_t Intern(std::vector<T>& pool, const T& value) {
    for (size_t i = 0; i < pool.size(); ++i) {
      if (pool[i] == value) return static_cast<int32_t>(i);
    }
    pool.push_back(value);
    return static_cast<int32_t>(pool.size() - 1);
  }

  void PushInt(int64_t v, const SourceSpan& span) {
    if (v >= INT32_MIN && v <= INT32_MAX) {
      Emit(Op::kPushInt, span, static_cast<int32_t>(v));
    } else {
      Emit(Op::kPushConst, span, Intern(p_.ints, v));
    }
  }

  // ---- analysis ----
  static bool IsLiteral(const Expr& e) {
    return e.kind == ExprKind::kBool || e.kind == ExprKind::kInt || e.kind == ExprKind::kString ||
           e.kind == ExprKind::kInstant || e.kind == ExprKind::kDate;
  }

  bool IsRequestConstant(const Expr& e, const Frame* frame) {
    if (IsLiteral(e)) return true;
    switch (e.kind) {
      case ExprKind::kDuration:
      case ExprKind::kSet:
        return true;
      case ExprKind::kName:
        switch (e.resolution) {
          case Resolution::kAt:
          case Resolution::kPurpose:
          case Resolution::kChannel:
          case Resolution::kNoticeType:
          case Resolution::kConst:
          case Resolution::kEnumValue:
            return true;
          case Resolution::kParam: {
            const Arg& arg = frame->args[e.binding];
            return arg.local < 0 && IsRequestConstant(*arg.expr, arg.frame);
          }
          case Resolution::kDef: {
            Frame empty;
            return IsRequestConstant(*e.def->body, &empty);
          }
          default:
            return false;
        }
        break;
      case ExprKind::kCall: {
        for (const auto& k : e.kids) {
          if (!IsRequestConstant(*k, frame)) return false;
        }
        if (e.resolution == Resolution::kBuiltin) return true;
        Frame callee;
        for (const auto& k : e.kids) callee.args.push_back(Arg{k.get(), frame, -1});
        return IsRequestConstant(*e.def->body, &callee);
      }
      case ExprKind::kField:
      case ExprKind::kAny:
      case ExprKind::kAll:
      case ExprKind::kCount:
      case ExprKind::kLatest:
        return false;
      default:
        for (const auto& k : e.kids) {
          if (!IsRequestConstant(*k, frame)) return false;
        }
        return true;
    }
  }

  // A canonical text for an expression under its bindings: the key for hoisting and memoizing.
  std::string Render(const Expr& e, const Frame* frame) {
    std::string out = absl::StrCat("(", static_cast<int>(e.kind), ":", static_cast<int>(e.op), ":", e.value, ":",
                                   e.duration.months, ":", e.duration.days, ":", e.text, ":", e.builtin);
    if (e.kind == ExprKind::kName && e.resolution == Resolution::kParam) {
      const Arg& arg = frame->args[e.binding];
      if (arg.local >= 0) return absl::StrCat(out, ":l", arg.local, ")");
      return absl::StrCat(out, Render(*arg.expr, arg.frame), ")");
    }
    if (e.kind == ExprKind::kName && e.resolution == Resolution::kLoopVar) {
      return absl::StrCat(out, ":b", binders_.at(e.binding).local, ")");
    }
    if (e.def != nullptr) absl::StrAppend(&out, ":d", reinterpret_cast<uintptr_t>(e.def));
    for (const auto& k : e.kids) absl::StrAppend(&out, Render(*k, frame));
    return out + ")";
  }

  // Not worth a register: a literal or a plain name (a definition's body is not plain).
  bool Trivial(const Expr& e) {
    return IsLiteral(e) || (e.kind == ExprKind::kName && e.resolution != Resolution::kDef);
  }

  bool Storable(const Type& t) {
    return t.kind != TypeKind::kSet && t.kind != TypeKind::kDuration && t.kind != TypeKind::kList &&
           !(t.kind == TypeKind::kRecord && t.list < 0);
  }

  // ---- constants ----
  // The checker has folded every duration sum and set literal (a const's too), so these cannot fail.
  CalendarDuration DurationOf(const Expr& e) {
    ConstValue value;
    Fold(e, value);
    return value.duration;
  }

  std::vector<int64_t> SetOf(const Expr& e) {
    ConstValue value;
    Fold(e, value);
    return value.set;
  }

  // ---- expressions ----
  void Compile(const Expr& e, const Frame* frame) {
    if (target_ == &main_ && !Trivial(e) && Storable(e.type) && IsRequestConstant(e, frame)) {
      Hoist(e, frame);
      return;
    }
    CompileDirect(e, frame);
  }

  // Where a condition jumps: a known target (a loop's head), or forward jumps patched later.
  struct Jumps {
    int32_t target = -1;
    std::vector<int32_t> pending;
  };

  void Land(Jumps& jumps) {
    for (int32_t j : jumps.pending) Patch(j, Pc());
    jumps.pending.clear();
  }

  // Compiles condition `e` for control flow: jumps when it equals `when`, falls through
  // otherwise. `and`/`or`/`not` become jumps instead of values, so a failing gate costs one
  // branch, not a chain of value tests.
  void Branch(const Expr& e, const Frame* frame, bool when, Jumps& jumps) {
    const bool hoisted = target_ == &main_ && !Trivial(e) && IsRequestConstant(e, frame);
    if (!hoisted && e.kind == ExprKind::kBinary && (e.op == BinaryOp::kAnd || e.op == BinaryOp::kOr)) {
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
    if (!hoisted && (e.kind == ExprKind::kCall || e.kind == ExprKind::kName) && e.resolution == Resolution::kDef) {
      CallDef(e, *e.def, frame, ToSource(e.span), &jumps, when);
      return;
    }
    if (!hoisted && e.kind == ExprKind::kName && e.resolution == Resolution::kParam && frame->args[e.binding].local < 0) {
      const Arg& arg = frame->args[e.binding];
      Branch(*arg.expr, arg.frame, when, jumps);
      return;
    }
    if (!hoisted && (e.kind == ExprKind::kAny || e.kind == ExprKind::kAll)) {
      BranchQuantifier(e, frame, when, jumps);
      return;
    }
    Compile(e, frame);
    const int32_t pc = Emit(when ? Op::kJumpIfTrue : Op::kJumpIfFalse, ToSource(e.span), std::max(jumps.target, 0));
    if (jumps.target < 0) jumps.pending.push_back(pc);
  }

  // How Explain shows a hoisted value of type `t`.
  static FactKind DisplayKind(const Type& t) {
    switch (t.kind) {
      case TypeKind::kBool: return FactKind::kBool;
      case TypeKind::kInstant: return FactKind::kInstant;
      case TypeKind::kDate: return FactKind::kDate;
      case TypeKind::kString: return FactKind::kString;
      case TypeKind::kEnum: return t.enum_id == 0 ? FactKind::kPurpose : FactKind::kEnum;
      default: return FactKind::kInt;
    }
  }

  // The source extent of `e` (an expression's own span covers only its operator or name): from
  // its leftmost to its rightmost token, when they share a line; else just its own span.
  SourceSpan Extent(const Expr& e) {
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

  void Hoist(const Expr& e, const Frame* frame) {
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

  void CompileDirect(const Expr& e, const Frame* frame) {
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
          if (e.type.list >= 0) Compile(base, frame);  // a nested message of a record: still that record
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

  void CompileName(const Expr& e, const Frame* frame, const SourceSpan& span) {
    switch (e.resolution) {
      case Resolution::kAt: Emit(Op::kLoadReq, span, kRegAt); return;
      case Resolution::kPurpose: Emit(Op::kLoadReq, span, kRegPurpose); return;
      case Resolution::kChannel: Emit(Op::kLoadReq, span, kRegChannel); return;
      case Resolution::kNoticeType: Emit(Op::kLoadReq, span, kRegNoticeType); return;
      case Resolution::kEnumValue: PushInt(e.value, span); return;
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

  // Inlines a call to `def`. With `branch`, a call that is not memoized is compiled as a
  // condition jumping to `branch` when it equals `when`.
  void CallDef(const Expr& call, const Def& def, const Frame* frame, const SourceSpan& span,
               Jumps* branch = nullptr, bool when = false) {
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
      const int32_t pc = Emit(when ? Op::kJumpIfTrue : Op::kJumpIfFalse, span, std::max(branch->target, 0));
      if (branch->target < 0) branch->pending.push_back(pc);
    }
    --inline_depth_;
  }

  void CompileBinary(const Expr& e, const Frame* frame, const SourceSpan& span) {
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
      case BinaryOp::kEq: Emit(strings ? Op::kStrEq : Op::kEq, span); return;
      case BinaryOp::kNe: Emit(strings ? Op::kStrNe : Op::kNe, span); return;
      case BinaryOp::kLt: Emit(Op::kLt, span); return;
      case BinaryOp::kLe: Emit(Op::kLe, span); return;
      case BinaryOp::kGt: Emit(Op::kGt, span); return;
      case BinaryOp::kGe: Emit(Op::kGe, span); return;
      case BinaryOp::kAdd: Emit(Op::kAdd, span); return;
      case BinaryOp::kSub: Emit(Op::kSub, span); return;
      case BinaryOp::kMul: Emit(Op::kMul, span); return;
      case BinaryOp::kDiv: Emit(Op::kDiv, span); return;
      default: return;
    }
  }

  // `any`/`all` as a condition: the loop exits straight to the jump target, no value in between.
  // any(P) holds once P holds for a record; all(P) fails once P fails for one.
  void BranchQuantifier(const Expr& e, const Frame* frame, bool when, Jumps& jumps) {
    const SourceSpan span = ToSource(e.span);
    const Type& coll = e.kids[0]->type;
    const int32_t index = NewLocal();
    auto saved = binders_.find(e.id) != binders_.end() ? std::optional<Binder>(binders_.at(e.id)) : std::nullopt;
    binders_[e.id] = Binder{index, coll.list, coll.element->kind != TypeKind::kRecord};
    ++loop_depth_;
    const bool any = e.kind == ExprKind::kAny;
    Emit(Op::kPushInt, span, -1);
    Emit(Op::kStoreLocal, span, index);
    const int32_t loop = Emit(Op::kLoopNext, span, 0, static_cast<uint16_t>(index), static_cast<uint8_t>(coll.list));
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

  void CompileQuantifier(const Expr& e, const Frame* frame, const SourceSpan& span) {
    const Type& coll = e.kids[0]->type;
    const int32_t list = coll.list;
    const bool scalar = coll.element->kind != TypeKind::kRecord;
    const int32_t index = NewLocal();
    auto saved = binders_.find(e.id) != binders_.end() ? std::optional<Binder>(binders_.at(e.id)) : std::nullopt;
    binders_[e.id] = Binder{index, list, scalar};
    ++loop_depth_;
    const auto loop_next = [&]() { return Emit(Op::kLoopNext, span, 0, static_cast<uint16_t>(index), static_cast<uint8_t>(list)); };
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

  // ---- policies ----
  // A register holding whether `at` lies within [from, until): computed once per request.
  int32_t EffectiveRegister(const Effective& eff, const SourceSpan& span) {
    int32_t reg = next_register_++;
    registers_.resize(next_register_);
    registers_[reg] = Program::RegisterInfo{FactKind::kBool, SourceSpan{}};  // shown as effective dates
    Code* saved = target_;
    target_ = &prelude_;
    bool first = true;
    auto bound = [&](int64_t instant, Op op) {
      Emit(Op::kLoadReq, span, kRegAt);
      PushInt(instant, span);
      Emit(op, span);
      if (!first) Emit(Op::kMul, span);  // both conditions hold: the product of two 0/1 values
      first = false;
    };
    if (eff.from) bound(*eff.from, Op::kGe);
    if (eff.until) bound(*eff.until, Op::kLt);
    Emit(Op::kStoreReg, span, reg);
    target_ = saved;
    return reg;
  }

  void CompilePolicy(const PolicyDecl& decl, const std::vector<int32_t>& purposes, uint32_t channels) {
    target_ = &main_;
    Policy policy;
    policy.name = decl.name;
    policy.purposes = purposes;
    policy.channels = channels;
    policy.effective_from = decl.effective.from.value_or(kMissing);
    policy.effective_until = decl.effective.until.value_or(kMissing);
    policy.entry = Pc();
    policy.span = ToSource(decl.span);
    Frame top;
    for (const RuleDecl& r : decl.rules) {
      rule_ = &r;
      Rule rule;
      rule.name = r.name;
      rule.reason = r.reason ? r.reason->name : r.name;
      rule.policy = decl.name;
      rule.outcome = r.outcome;
      rule.citation = r.cite.value_or("");
      for (const NamedSpan& o : r.obligations) rule.obligations.push_back(o.name);
      rule.note = r.note;
      rule.span = ToSource(r.span);
      if (r.evidence) rule.evidence_list = r.evidence->type.list;
      rule.entry = Pc();
      const int32_t rule_index = static_cast<int32_t>(p_.rules.size());
      p_.rules.push_back(rule);
      policy.rules.push_back(rule_index);

      const SourceSpan span = ToSource(r.span);
      std::vector<int32_t> to_next;
      if (r.effective.from || r.effective.until) {
        Emit(Op::kLoadReq, span, EffectiveRegister(r.effective, span));
        to_next.push_back(Emit(Op::kJumpIfFalse, span));
      }
      if (r.when) {
        Jumps skip;
        Branch(*r.when, &top, false, skip);
        to_next.insert(to_next.end(), skip.pending.begin(), skip.pending.end());
      }
      if (r.evidence) {
        Compile(*r.evidence, &top);
      } else {
        Emit(Op::kPushInt, span, -1);
      }
      if (r.valid_until) {
        Compile(*r.valid_until, &top);
      } else {
        Emit(Op::kPushMissing, span);
      }
      Emit(Op::kDecide, span, rule_index);
      for (int32_t j : to_next) Patch(j, Pc());
    }
    p_.policies.push_back(std::move(policy));
  }

  const CheckedRuleSet& c_;
  Program p_;
  Code main_, prelude_;
  Code* target_ = &main_;
  int32_t next_local_ = 0;
  int32_t next_register_ = kNumFixedRegisters;
  int inline_depth_ = 0;
  int loop_depth_ = 0;
  const RuleDecl* rule_ = nullptr;  // the rule being compiled, where limits are reported
  const MemoUses* allowed_;
  MemoUses uses_;
  int32_t memo_flags_ = 0;
  std::map<std::string, int32_t> hoisted_;
  // The request's own registers, then one per hoisted value (see Program::registers).
  std::vector<Program::RegisterInfo> registers_ = {{FactKind::kInstant, {}}, {FactKind::kPurpose, {}},
                                                   {FactKind::kEnum, {}}, {FactKind::kEnum, {}}};
  std::map<std::string, std::pair<int32_t, int32_t>> memo_;
  std::map<int32_t, Binder> binders_;
};

}  // namespace

Program CompileChecked(const CheckedRuleSet& checked) {
  // Two passes: the first counts the memoizable calls, the second memoizes those that would
  // otherwise run more than once per contact.
  Compiler counting(checked, nullptr);
  counting.Run();
  Compiler::MemoUses uses = counting.uses();
  Program program = Compiler(checked, &uses).Run();
  Peephole(program);
  return program;
}

CompileResult Compile(const std::vector<SourceFile>& files) {
  CompileResult result;
  if (files.empty()) {
    result.diagnostics.push_back(Diagnostic{Severity::kError, "no-policy", "", 1, 1, 1, "a rule set needs at least one rule file"});
    return result;
  }
  if (files.size() > kMaxFiles) {
    result.diagnostics.push_back(Diagnostic{Severity::kError, "limit", files[kMaxFiles].path, 1, 1, 1,
                                            absl::StrCat("this file is one too many: a rule set may have at most ",
                                                         kMaxFiles, " files")});
    return result;
  }
  std::vector<Module> modules(files.size());
  bool ok = true;
  for (size_t i = 0; i < files.size(); ++i) {
    ok = Parse(files[i], static_cast<uint32_t>(i), modules[i], result.diagnostics) && ok;
  }
  if (!ok) return result;
  CheckedRuleSet checked;
  if (!Check(std::move(modules), files, checked, result.diagnostics)) return result;
  try {
    result.program = CompileChecked(checked);
  } catch (const TooLarge& e) {
    Diagnostic d{Severity::kError, "limit", files.front().path, 1, 1, 1, e.message};
    if (e.rule != nullptr) {
      d.file = files[e.rule->span.file].path;
      d.line = e.rule->span.line;
      d.column = e.rule->span.column;
      d.length = e.rule->span.length;
    }
    result.diagnostics.push_back(std::move(d));
    return result;
  }
  // The engine verifies the program again when it loads it. Verifying here too turns a program it
  // would refuse (a compiler bug, or a limit nothing above checks) into a diagnostic instead of a
  // load error without a place.
  if (absl::Status verified = Verify(*result.program); !verified.ok()) {
    result.program.reset();
    result.diagnostics.push_back(Diagnostic{Severity::kError, "internal", files.front().path, 1, 1, 1,
                                            absl::StrCat("internal error: the compiled rule set does not verify (",
                                                         verified.message(), "); please report it")});
    return result;
  }
  // Explain quotes the rules as written.
  for (const SourceFile& file : files) result.program->sources.push_back(file.text);
  return result;
}

}  // namespace lawful::dsl
