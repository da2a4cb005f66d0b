// The VM's dispatch loop. Built with computed goto where the compiler supports it
// (LAWFUL_COMPUTED_GOTO=1), else a switch; both expand from opcodes.def.
#include "vm.h"

#include <algorithm>

#include "calendar.h"

#ifndef LAWFUL_COMPUTED_GOTO
#if defined(__GNUC__)
#define LAWFUL_COMPUTED_GOTO 1
#else
#define LAWFUL_COMPUTED_GOTO 0
#endif
#endif

namespace lawful::vm {
namespace {

inline bool Present(int64_t a, int64_t b) { return a != kMissing && b != kMissing; }

inline std::string_view StringOf(const Program& p, const Facts& f, int64_t v) {
  // Fact strings are non-negative indices; constants are -(index + 1); anything else
  // (a missing record's field) reads as the empty string.
  if (v >= 0) return static_cast<size_t>(v) < f.strings.size() ? f.strings[v] : std::string_view();
  if (v == kMissing) return {};
  size_t k = static_cast<size_t>(-(v + 1));
  return k < p.strings.size() ? std::string_view(p.strings[k]) : std::string_view();
}

// Missing in, missing out; a result without a value (overflow, division by zero, a collision with
// the missing marker: lawful/engine.h's Checked* functions decide) reads as missing too.
template <bool (*Op)(int64_t, int64_t, int64_t*)>
inline int64_t Arithmetic(int64_t a, int64_t b) {
  if (a == kMissing || b == kMissing) return kMissing;
  int64_t r;
  return Op(a, b, &r) ? r : kMissing;
}

// The untraced loop's hooks: empty, inlined, gone.
struct NoTrace {
  void Step(int32_t, int64_t*) {}
  void Fact(int32_t, int64_t) {}
  void Field(int32_t, int64_t, int32_t, int64_t) {}
  void Elements(int32_t) {}
  void Register(int32_t, int64_t) {}
};

template <typename Trace>
Result Loop(const Program& program, const std::vector<absl::TimeZone>& zones, int32_t pc,
            int64_t* registers, const Facts& facts, int64_t* stack, int64_t* locals, Trace& trace) {
  const Instr* const code = program.code.data();
  const Instr* ip = code + pc;
  int64_t* sp = stack;  // points one past the top

#define PUSH(v) (*sp++ = (v))
#define POP() (*--sp)
#define TOP() (sp[-1])

  // The dispatch loop is laid out by hand, one short instruction a line, so that it reads as the
  // opcode table it implements.
  // clang-format off
#if LAWFUL_COMPUTED_GOTO
  static const void* const kTargets[] = {
#define LAWFUL_OP(name, shape, pops, pushes, doc) &&op_##name,
#include "lawful/opcodes.def"
#undef LAWFUL_OP
  };
#define DISPATCH()                                       \
  {                                                      \
    trace.Step(static_cast<int32_t>(ip - code), locals); \
    goto* kTargets[static_cast<int>(ip->op)];            \
  }
#define CASE(name) op_##name:
  DISPATCH();
#else
#define DISPATCH() continue
#define CASE(name) case Op::name:
  for (;;) {
  trace.Step(static_cast<int32_t>(ip - code), locals);
  switch (ip->op) {
#endif
#define NEXT() \
  {             \
    ++ip;       \
    DISPATCH(); \
  }
#define JUMP(target)        \
  {                         \
    ip = code + (target);   \
    DISPATCH();             \
  }
#define COMPARE(expr)             \
  {                               \
    int64_t b = POP();            \
    int64_t a = TOP();            \
    TOP() = Present(a, b) && (expr); \
    NEXT();                       \
  }

  CASE(kPushInt) { PUSH(ip->b); NEXT(); }
  CASE(kPushConst) { PUSH(program.ints[ip->b]); NEXT(); }
  CASE(kPushStr) { PUSH(-static_cast<int64_t>(ip->b) - 1); NEXT(); }
  CASE(kPushMissing) { PUSH(kMissing); NEXT(); }
  CASE(kLoadFact) {
    trace.Fact(ip->b, facts.slots[ip->b]);
    PUSH(facts.slots[ip->b]);
    NEXT();
  }
  CASE(kLoadReq) {
    trace.Register(ip->b, registers[ip->b]);
    PUSH(registers[ip->b]);
    NEXT();
  }
  CASE(kLoadLocal) { PUSH(locals[ip->b]); NEXT(); }
  CASE(kStoreLocal) { locals[ip->b] = POP(); NEXT(); }
  CASE(kStoreReg) { registers[ip->b] = POP(); NEXT(); }
  CASE(kLoadField) {
    const FactList& list = facts.lists[ip->a];
    int64_t index = TOP();
    const int64_t width = program.layout.lists[ip->a].width;
    TOP() = index >= 0 && index < list.count ? list.data[index * width + ip->b] : kMissing;
    trace.Field(ip->a, index, ip->b, TOP());
    NEXT();
  }
  CASE(kDup) { int64_t v = TOP(); PUSH(v); NEXT(); }
  CASE(kPop) { --sp; NEXT(); }

  CASE(kJump) JUMP(ip->b);
  CASE(kJumpIfFalse) {
    if (!POP()) JUMP(ip->b);
    NEXT();
  }
  CASE(kJumpIfTrue) {
    if (POP()) JUMP(ip->b);
    NEXT();
  }
  CASE(kAndJump) {
    if (!TOP()) JUMP(ip->b);
    --sp;
    NEXT();
  }
  CASE(kOrJump) {
    if (TOP()) JUMP(ip->b);
    --sp;
    NEXT();
  }
  CASE(kLoopNext) {
    trace.Elements(ip->c);
    int64_t& index = locals[ip->a];
    const int32_t count = facts.lists[ip->c].count;
    // Never past the count: an index that starts there (or at INT64_MAX) must not wrap around,
    // and never from below -1 (where compiled loops start) one step at a time: an index stored
    // as -2^63 before the loop would run 2^63 times. Either way the loop would run for ever (the
    // verifier's termination proof counts on this).
    if (index < 0) {
      index = 0;
    } else if (index < count) {
      ++index;
    }
    if (index >= count) JUMP(ip->b);
    NEXT();
  }

  CASE(kNot) { TOP() = !TOP(); NEXT(); }
  CASE(kEq) COMPARE(a == b)
  CASE(kNe) COMPARE(a != b)
  CASE(kLt) COMPARE(a < b)
  CASE(kLe) COMPARE(a <= b)
  CASE(kGt) COMPARE(a > b)
  CASE(kGe) COMPARE(a >= b)
  CASE(kGtRaw) {
    int64_t b = POP();
    TOP() = TOP() > b;
    NEXT();
  }
  CASE(kStrEq) {
    int64_t b = POP();
    TOP() = StringOf(program, facts, TOP()) == StringOf(program, facts, b);
    NEXT();
  }
  CASE(kStrNe) {
    int64_t b = POP();
    TOP() = StringOf(program, facts, TOP()) != StringOf(program, facts, b);
    NEXT();
  }
  CASE(kIsMissing) { TOP() = TOP() == kMissing; NEXT(); }
  CASE(kStrIsEmpty) { TOP() = StringOf(program, facts, TOP()).empty(); NEXT(); }

  CASE(kAdd) {
    int64_t b = POP();
    TOP() = Arithmetic<CheckedAdd>(TOP(), b);
    NEXT();
  }
  CASE(kSub) {
    int64_t b = POP();
    TOP() = Arithmetic<CheckedSub>(TOP(), b);
    NEXT();
  }
  CASE(kMul) {
    int64_t b = POP();
    TOP() = Arithmetic<CheckedMul>(TOP(), b);
    NEXT();
  }
  CASE(kDiv) {
    int64_t b = POP();
    TOP() = Arithmetic<CheckedDiv>(TOP(), b);
    NEXT();
  }
  CASE(kNeg) {
    int64_t r;
    TOP() = CheckedNeg(TOP(), &r) ? r : kMissing;  // missing (INT64_MIN) fails, so stays missing
    NEXT();
  }

  CASE(kInstantAdd) { TOP() = calendar::AddToInstant(TOP(), program.durations[ip->b], +1); NEXT(); }
  CASE(kInstantSub) { TOP() = calendar::AddToInstant(TOP(), program.durations[ip->b], -1); NEXT(); }
  CASE(kDateAdd) { TOP() = calendar::AddToDate(TOP(), program.durations[ip->b], +1); NEXT(); }
  CASE(kDateSub) { TOP() = calendar::AddToDate(TOP(), program.durations[ip->b], -1); NEXT(); }
  CASE(kLocalDate) { TOP() = calendar::LocalDate(TOP(), zones[ip->b]); NEXT(); }
  CASE(kYearsBetween) {
    int64_t b = POP();
    TOP() = calendar::YearsBetween(TOP(), b);
    NEXT();
  }

  CASE(kInSet) {
    const std::vector<int64_t>& set = program.sets[ip->b];
    int64_t v = TOP();
    TOP() = v != kMissing && std::binary_search(set.begin(), set.end(), v);
    NEXT();
  }
  CASE(kInList) {
    const FactList& list = facts.lists[ip->b];
    trace.Elements(ip->b);
    int64_t v = TOP();
    bool found = false;
    if (v != kMissing) {
      for (int32_t i = 0; i < list.count; ++i) {
        if (list.data[i] == v) {
          found = true;
          break;
        }
      }
    }
    TOP() = found;
    NEXT();
  }
  CASE(kListLen) {
    trace.Elements(ip->b);
    PUSH(facts.lists[ip->b].count);
    NEXT();
  }
  CASE(kLoadElem) {
    const FactList& list = facts.lists[ip->b];
    trace.Elements(ip->b);
    int64_t index = TOP();
    TOP() = index >= 0 && index < list.count ? list.data[index] : kMissing;
    NEXT();
  }

  CASE(kLoadLocalField) {
    const FactList& list = facts.lists[ip->c];
    const int64_t index = locals[ip->a];
    const int64_t width = program.layout.lists[ip->c].width;
    PUSH(index >= 0 && index < list.count ? list.data[index * width + ip->b] : kMissing);
    trace.Field(ip->c, index, ip->b, TOP());
    NEXT();
  }
  CASE(kSetLocal) { locals[ip->a] = ip->b; NEXT(); }
  CASE(kTeeLocal) { locals[ip->b] = TOP(); NEXT(); }
#define COMPARE_WITH(value, expr) \
  {                               \
    int64_t b = (value);          \
    int64_t a = TOP();            \
    TOP() = Present(a, b) && (expr); \
    NEXT();                       \
  }
  CASE(kEqReg) trace.Register(ip->b, registers[ip->b]);
  COMPARE_WITH(registers[ip->b], a == b)
  CASE(kNeReg) trace.Register(ip->b, registers[ip->b]);
  COMPARE_WITH(registers[ip->b], a != b)
  CASE(kLtReg) trace.Register(ip->b, registers[ip->b]);
  COMPARE_WITH(registers[ip->b], a < b)
  CASE(kLeReg) trace.Register(ip->b, registers[ip->b]);
  COMPARE_WITH(registers[ip->b], a <= b)
  CASE(kGtReg) trace.Register(ip->b, registers[ip->b]);
  COMPARE_WITH(registers[ip->b], a > b)
  CASE(kGeReg) trace.Register(ip->b, registers[ip->b]);
  COMPARE_WITH(registers[ip->b], a >= b)
  CASE(kEqImm) COMPARE_WITH(ip->b, a == b)
  CASE(kNeImm) COMPARE_WITH(ip->b, a != b)
#undef COMPARE_WITH

  CASE(kDecide) {
    Result result;
    result.rule = ip->b;
    result.valid_until = POP();
    result.evidence = POP();
    return result;
  }
  CASE(kHalt) { return Result{}; }

#if !LAWFUL_COMPUTED_GOTO
  }
  }
#endif
#undef PUSH
#undef POP
#undef TOP
#undef DISPATCH
#undef CASE
#undef NEXT
#undef JUMP
#undef COMPARE
// clang-format on
}

}  // namespace

Result Run(const Program& program, const std::vector<absl::TimeZone>& zones, int32_t pc,
           int64_t* registers, const Facts& facts, int64_t* stack, int64_t* locals) {
  NoTrace none;
  return Loop(program, zones, pc, registers, facts, stack, locals, none);
}

Result RunTraced(const Program& program, const std::vector<absl::TimeZone>& zones, int32_t pc,
                 int64_t* registers, const Facts& facts, int64_t* stack, int64_t* locals,
                 Tracer& tracer) {
  return Loop(program, zones, pc, registers, facts, stack, locals, tracer);
}

}  // namespace lawful::vm
