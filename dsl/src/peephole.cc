// The peephole pass: fuses the commonest adjacent instruction pairs (reading a record's field,
// comparing with a request register or a small constant) into single instructions, so the VM
// dispatches fewer times per contact. Never fuses across a jump target.
#include <optional>
#include <vector>

#include "checker.h"

namespace lawful::dsl {
namespace {

bool IsJumpShaped(const Instr& in) {
  const OperandShape shape = GetOpInfo(in.op).shape;
  return shape == OperandShape::kJump || shape == OperandShape::kLoop;
}

// The fused form of `first; second`, if there is one.
std::optional<Instr> Fuse(const Instr& first, const Instr& second) {
  if (first.op == Op::kLoadLocal && second.op == Op::kLoadField && first.b <= 0xffff &&
      second.a <= 0xff) {
    return Instr{Op::kLoadLocalField, static_cast<uint8_t>(second.a),
                 static_cast<uint16_t>(first.b), second.b};
  }
  if (first.op == Op::kLoadReq) {
    switch (second.op) {
      case Op::kEq:
        return Instr{Op::kEqReg, 0, 0, first.b};
      case Op::kNe:
        return Instr{Op::kNeReg, 0, 0, first.b};
      case Op::kLt:
        return Instr{Op::kLtReg, 0, 0, first.b};
      case Op::kLe:
        return Instr{Op::kLeReg, 0, 0, first.b};
      case Op::kGt:
        return Instr{Op::kGtReg, 0, 0, first.b};
      case Op::kGe:
        return Instr{Op::kGeReg, 0, 0, first.b};
      default:
        break;
    }
  }
  if (first.op == Op::kPushInt && second.op == Op::kStoreLocal && second.b <= 0xffff) {
    return Instr{Op::kSetLocal, 0, static_cast<uint16_t>(second.b), first.b};
  }
  if (first.op == Op::kStoreLocal && second.op == Op::kLoadLocal && first.b == second.b) {
    return Instr{Op::kTeeLocal, 0, 0, first.b};
  }
  if (first.op == Op::kPushInt && second.op == Op::kEq) return Instr{Op::kEqImm, 0, 0, first.b};
  if (first.op == Op::kPushInt && second.op == Op::kNe) return Instr{Op::kNeImm, 0, 0, first.b};
  return std::nullopt;
}

}  // namespace

void Peephole(Program& p) {
  const size_t n = p.code.size();
  std::vector<bool> target(n + 1, false);
  for (const Instr& in : p.code) {
    if (IsJumpShaped(in) && in.b >= 0 && static_cast<size_t>(in.b) <= n) target[in.b] = true;
  }
  for (const Policy& policy : p.policies) target[policy.entry] = true;
  for (const Rule& rule : p.rules) {
    if (rule.entry >= 0) target[rule.entry] = true;
  }
  target[p.prelude] = true;

  std::vector<Instr> code;
  std::vector<SourceSpan> spans;
  std::vector<int32_t> moved(n + 1, 0);  // old pc -> new pc
  for (size_t i = 0; i < n; ++i) {
    moved[i] = static_cast<int32_t>(code.size());
    std::optional<Instr> fused;
    if (i + 1 < n && !target[i + 1]) fused = Fuse(p.code[i], p.code[i + 1]);
    if (fused) {
      moved[i + 1] = moved[i];
      code.push_back(*fused);
      spans.push_back(p.spans[i]);
      ++i;
    } else {
      code.push_back(p.code[i]);
      spans.push_back(p.spans[i]);
    }
  }
  moved[n] = static_cast<int32_t>(code.size());
  for (Instr& in : code) {
    if (IsJumpShaped(in)) in.b = moved[in.b];
  }
  for (Policy& policy : p.policies) policy.entry = moved[policy.entry];
  for (Rule& rule : p.rules) {
    if (rule.entry >= 0) rule.entry = moved[rule.entry];
  }
  p.prelude = moved[p.prelude];
  p.code = std::move(code);
  p.spans = std::move(spans);
}

}  // namespace lawful::dsl
