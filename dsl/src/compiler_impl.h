// The Compiler class behind CompileChecked(), defined in compiler.cc and compile_expr.cc.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "checker.h"

namespace lawful::dsl {

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

// Definitions are inlined at each call; values that depend only on the request (`at - 24 months`,
// `purpose in MARKETING`) are hoisted into the per-request prelude; definitions called with
// request-only arguments are computed at most once per contact.
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
  Program Run();

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
  SourceSpan ToSource(const Span& s);
  int32_t Pc() const { return static_cast<int32_t>(target_->instrs.size()); }
  int32_t Emit(Op op, const SourceSpan& span, int32_t b = 0, uint16_t a = 0, uint8_t c = 0);
  void Patch(int32_t at, int32_t target) { target_->instrs[at].b = target; }
  int32_t NewLocal() { return next_local_++; }
  // Locals and registers are always used by an instruction right after they are made, so checking
  // here, at each instruction, catches all three limits.
  void CheckLimits() const;
  [[noreturn]] void Fail(const std::string& limit) const;

  template <typename T>
  int32_t Intern(std::vector<T>& pool, const T& value) {
    for (size_t i = 0; i < pool.size(); ++i) {
      if (pool[i] == value) return static_cast<int32_t>(i);
    }
    pool.push_back(value);
    return static_cast<int32_t>(pool.size() - 1);
  }

  void PushInt(int64_t v, const SourceSpan& span);

  // ---- analysis ----
  static bool IsLiteral(const Expr& e);
  bool IsRequestConstant(const Expr& e, const Frame* frame);
  // A canonical text for an expression under its bindings: the key for hoisting and memoizing.
  std::string Render(const Expr& e, const Frame* frame);
  // Not worth a register: a literal or a plain name (a definition's body is not plain).
  bool Trivial(const Expr& e);
  bool Storable(const Type& t);

  // ---- constants ----
  // The checker has folded every duration sum and set literal (a const's too), so these cannot
  // fail.
  CalendarDuration DurationOf(const Expr& e);
  std::vector<int64_t> SetOf(const Expr& e);

  // ---- expressions ----
  void Compile(const Expr& e, const Frame* frame);

  // Where a condition jumps: a known target (a loop's head), or forward jumps patched later.
  struct Jumps {
    int32_t target = -1;
    std::vector<int32_t> pending;
  };
  void Land(Jumps& jumps);
  // Compiles condition `e` for control flow: jumps when it equals `when`, falls through
  // otherwise. `and`/`or`/`not` become jumps instead of values, so a failing gate costs one
  // branch, not a chain of value tests.
  void Branch(const Expr& e, const Frame* frame, bool when, Jumps& jumps);
  // How Explain shows a hoisted value of type `t`.
  static FactKind DisplayKind(const Type& t);
  // The source extent of `e` (an expression's own span covers only its operator or name): from
  // its leftmost to its rightmost token, when they share a line; else just its own span.
  SourceSpan Extent(const Expr& e);
  void Hoist(const Expr& e, const Frame* frame);
  void CompileDirect(const Expr& e, const Frame* frame);
  void CompileName(const Expr& e, const Frame* frame, const SourceSpan& span);
  // Inlines a call to `def`. With `branch`, a call that is not memoized is compiled as a
  // condition jumping to `branch` when it equals `when`.
  void CallDef(const Expr& call, const Def& def, const Frame* frame, const SourceSpan& span,
               Jumps* branch = nullptr, bool when = false);
  void CompileBinary(const Expr& e, const Frame* frame, const SourceSpan& span);
  // `any`/`all` as a condition: the loop exits straight to the jump target, no value in between.
  // any(P) holds once P holds for a record; all(P) fails once P fails for one.
  void BranchQuantifier(const Expr& e, const Frame* frame, bool when, Jumps& jumps);
  void CompileQuantifier(const Expr& e, const Frame* frame, const SourceSpan& span);

  // ---- policies ----
  // A register holding whether `at` lies within [from, until): computed once per request.
  int32_t EffectiveRegister(const Effective& eff, const SourceSpan& span);
  void CompilePolicy(const PolicyDecl& decl, const std::vector<int32_t>& purposes,
                     uint32_t channels);

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
  std::vector<Program::RegisterInfo> registers_ = {{FactKind::kInstant, {}},
                                                   {FactKind::kPurpose, {}},
                                                   {FactKind::kEnum, {}},
                                                   {FactKind::kEnum, {}}};
  std::map<std::string, std::pair<int32_t, int32_t>> memo_;
  std::map<int32_t, Binder> binders_;
};

}  // namespace lawful::dsl
