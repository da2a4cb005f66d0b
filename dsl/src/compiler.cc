// The compiler: checked modules -> the engine's bytecode; expressions are in compile_expr.cc.
#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "compiler_impl.h"
#include "fold.h"
#include "language_limits.h"
#include "parser.h"

namespace lawful::dsl {

Program Compiler::Run() {
  p_.files = c_.files;
  p_.purposes = c_.purposes;
  for (size_t i = 0; i < c_.policies.size(); ++i)
    CompilePolicy(*c_.policies[i], c_.policy_purposes[i], c_.policy_channels[i]);
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

// ---- emission ----

SourceSpan Compiler::ToSource(const Span& s) {
  return SourceSpan{s.file, s.line, s.column, s.line, s.column + s.length};
}

int32_t Compiler::Emit(Op op, const SourceSpan& span, int32_t b, uint16_t a, uint8_t c) {
  CheckLimits();
  target_->instrs.push_back(Instr{op, c, a, b});
  target_->spans.push_back(span);
  return Pc() - 1;
}

void Compiler::CheckLimits() const {
  if (main_.instrs.size() + prelude_.instrs.size() >= kMaxInstructions) {
    Fail(absl::StrCat(
        kMaxInstructions,
        " compiled instructions: each use of a definition copies its body, "
        "so a chain of definitions that each use the previous twice doubles at every step"));
  }
  if (next_local_ > kMaxLocals) {
    Fail(absl::StrCat(kMaxLocals,
                      " local values (one per `any`, `all`, `count` and `latest`, and per "
                      "computed argument of a definition, counted in every copy of it)"));
  }
  if (next_register_ > kMaxRegisters) {
    Fail(absl::StrCat(kMaxRegisters,
                      " values computed once per request (such as `at - 24 months`)"));
  }
}

void Compiler::Fail(const std::string& limit) const {
  const std::string who =
      rule_ != nullptr ? absl::StrCat("rule `", rule_->name, "`") : "the prelude";
  throw TooLarge{rule_, absl::StrCat(who, " takes the rule set past ", limit)};
}

void Compiler::PushInt(int64_t v, const SourceSpan& span) {
  if (v >= INT32_MIN && v <= INT32_MAX) {
    Emit(Op::kPushInt, span, static_cast<int32_t>(v));
  } else {
    Emit(Op::kPushConst, span, Intern(p_.ints, v));
  }
}

// ---- analysis ----

bool Compiler::IsLiteral(const Expr& e) {
  return e.kind == ExprKind::kBool || e.kind == ExprKind::kInt || e.kind == ExprKind::kString ||
         e.kind == ExprKind::kInstant || e.kind == ExprKind::kDate;
}

bool Compiler::IsRequestConstant(const Expr& e, const Frame* frame) {
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

std::string Compiler::Render(const Expr& e, const Frame* frame) {
  std::string out =
      absl::StrCat("(", static_cast<int>(e.kind), ":", static_cast<int>(e.op), ":", e.value, ":",
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

bool Compiler::Trivial(const Expr& e) {
  return IsLiteral(e) || (e.kind == ExprKind::kName && e.resolution != Resolution::kDef);
}

bool Compiler::Storable(const Type& t) {
  return t.kind != TypeKind::kSet && t.kind != TypeKind::kDuration && t.kind != TypeKind::kList &&
         !(t.kind == TypeKind::kRecord && t.list < 0);
}

// ---- constants ----

CalendarDuration Compiler::DurationOf(const Expr& e) {
  ConstValue value;
  Fold(e, value);
  return value.duration;
}

std::vector<int64_t> Compiler::SetOf(const Expr& e) {
  ConstValue value;
  Fold(e, value);
  return value.set;
}

// ---- policies ----

int32_t Compiler::EffectiveRegister(const Effective& eff, const SourceSpan& span) {
  int32_t reg = next_register_++;
  registers_.resize(next_register_);
  // Shown as effective dates.
  registers_[reg] = Program::RegisterInfo{FactKind::kBool, SourceSpan{}};
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

void Compiler::CompilePolicy(const PolicyDecl& decl, const std::vector<int32_t>& purposes,
                             uint32_t channels) {
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

namespace {

// Parses every file and checks the rule set. Null when a file does not parse or the rule set is
// out of limits; otherwise the checked set, errors or not.
std::shared_ptr<CheckedRuleSet> ParseAndCheck(const std::vector<SourceFile>& files,
                                              std::vector<Diagnostic>& diagnostics, bool& ok) {
  ok = false;
  if (files.empty()) {
    diagnostics.push_back(Diagnostic{Severity::kError, "no-policy", "", 1, 1, 1,
                                     "a rule set needs at least one rule file"});
    return nullptr;
  }
  if (files.size() > kMaxFiles) {
    diagnostics.push_back(
        Diagnostic{Severity::kError, "limit", files[kMaxFiles].path, 1, 1, 1,
                   absl::StrCat("this file is one too many: a rule set may have at most ",
                                kMaxFiles, " files")});
    return nullptr;
  }
  std::vector<Module> modules(files.size());
  bool parsed = true;
  for (size_t i = 0; i < files.size(); ++i) {
    parsed = Parse(files[i], static_cast<uint32_t>(i), modules[i], diagnostics) && parsed;
  }
  if (!parsed) return nullptr;
  auto checked = std::make_shared<CheckedRuleSet>();
  ok = Check(std::move(modules), files, *checked, diagnostics);
  return checked;
}

}  // namespace

CheckResult CheckRuleSet(const std::vector<SourceFile>& files) {
  CheckResult result;
  bool ok = false;
  result.rules = ParseAndCheck(files, result.diagnostics, ok);
  return result;
}

std::vector<Diagnostic> CheckInvariantFiles(const std::vector<SourceFile>& rule_files,
                                            const std::vector<SourceFile>& invariant_files) {
  std::vector<SourceFile> all = rule_files;
  all.insert(all.end(), invariant_files.begin(), invariant_files.end());
  std::vector<Diagnostic> out;
  for (Diagnostic& d : CheckRuleSet(all).diagnostics) {
    if (IsInvariantFile(d.file)) out.push_back(std::move(d));
  }
  return out;
}

CompileResult Compile(const std::vector<SourceFile>& files) {
  CompileResult result;
  bool ok = false;
  std::shared_ptr<const CheckedRuleSet> checked_set = ParseAndCheck(files, result.diagnostics, ok);
  if (!ok) return result;
  const CheckedRuleSet& checked = *checked_set;
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
    result.diagnostics.push_back(
        Diagnostic{Severity::kError, "internal", files.front().path, 1, 1, 1,
                   absl::StrCat("internal error: the compiled rule set does not verify (",
                                verified.message(), "); please report it")});
    return result;
  }
  // Explain quotes the rules as written.
  for (const SourceFile& file : files) result.program->sources.push_back(file.text);
  return result;
}

}  // namespace lawful::dsl
