// The verifier: the VM runs only programs that pass it. It proves operands are in range, jumps
// land inside the code, the stack depth is the same on every path into an instruction and stays
// within bounds, policies always end in a decision and the prelude in kHalt without touching
// contact facts. Data-dependent indices (record numbers) are bounds-checked by the VM itself.
#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lawful/engine.h"

namespace lawful {
namespace {

constexpr int kMaxStack = 1024;
constexpr int kMaxLocals = 4096;
constexpr int kMaxRegisters = 65536;

enum class Region { kPolicy, kPrelude };

class Verifier {
 public:
  explicit Verifier(Program& p) : p_(p), depth_(p.code.size(), -1), region_(p.code.size(), -1) {}

  absl::Status Run() {
    if (p_.code.empty()) return Error(0, "the program has no code");
    if (p_.spans.size() != p_.code.size()) {
      return absl::InvalidArgumentError("program: spans are not parallel to code");
    }
    if (p_.num_registers < kNumFixedRegisters || p_.num_registers > kMaxRegisters) {
      return absl::InvalidArgumentError("program: register count out of range");
    }
    if (p_.num_locals < 0 || p_.num_locals > kMaxLocals || p_.num_memo_flags < 0 || p_.num_memo_flags > p_.num_locals) {
      return absl::InvalidArgumentError("program: local count out of range");
    }
    for (const Rule& r : p_.rules) {
      if (r.evidence_list >= static_cast<int32_t>(p_.layout.lists.size())) {
        return absl::InvalidArgumentError(absl::StrCat("rule ", r.name, ": evidence list out of range"));
      }
    }
    for (const Policy& policy : p_.policies) {
      for (int32_t purpose : policy.purposes) {
        if (purpose < 0 || purpose >= static_cast<int32_t>(p_.purposes.size())) {
          return absl::InvalidArgumentError(absl::StrCat("policy ", policy.name, ": purpose out of range"));
        }
      }
      for (int32_t rule : policy.rules) {
        if (rule < 0 || rule >= static_cast<int32_t>(p_.rules.size())) {
          return absl::InvalidArgumentError(absl::StrCat("policy ", policy.name, ": rule out of range"));
        }
      }
      if (auto s = Flow(policy.entry, Region::kPolicy); !s.ok()) return s;
    }
    if (auto s = Flow(p_.prelude, Region::kPrelude); !s.ok()) return s;
    p_.max_stack = max_depth_;
    return absl::OkStatus();
  }

 private:
  absl::Status Error(size_t pc, const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat("program: pc ", pc, ": ", what));
  }

  bool InRange(int64_t v, size_t size) { return v >= 0 && static_cast<size_t>(v) < size; }

  absl::Status CheckOperands(size_t pc, const Instr& in, Region region) {
    const OpInfo& info = GetOpInfo(in.op);
    const size_t lists = p_.layout.lists.size();
    switch (info.shape) {
      case OperandShape::kNone:
      case OperandShape::kImm:
        break;
      case OperandShape::kConstInt:
        if (!InRange(in.b, p_.ints.size())) return Error(pc, "int constant out of range");
        break;
      case OperandShape::kConstStr:
        if (!InRange(in.b, p_.strings.size())) return Error(pc, "string constant out of range");
        break;
      case OperandShape::kSlot:
        if (!InRange(in.b, static_cast<size_t>(p_.layout.contact_slots))) return Error(pc, "fact slot out of range");
        break;
      case OperandShape::kReg:
        if (!InRange(in.b, static_cast<size_t>(p_.num_registers))) return Error(pc, "register out of range");
        break;
      case OperandShape::kLocal:
        if (!InRange(in.b, static_cast<size_t>(p_.num_locals))) return Error(pc, "local out of range");
        break;
      case OperandShape::kListField:
        if (!InRange(in.a, lists) || !p_.layout.lists[in.a].records) return Error(pc, "record list out of range");
        if (!InRange(in.b, static_cast<size_t>(p_.layout.lists[in.a].width))) return Error(pc, "record field out of range");
        break;
      case OperandShape::kLocalField:
        if (!InRange(in.a, static_cast<size_t>(p_.num_locals))) return Error(pc, "local out of range");
        if (!InRange(in.c, lists) || !p_.layout.lists[in.c].records) return Error(pc, "record list out of range");
        if (!InRange(in.b, static_cast<size_t>(p_.layout.lists[in.c].width))) return Error(pc, "record field out of range");
        break;
      case OperandShape::kLocalImm:
        if (!InRange(in.a, static_cast<size_t>(p_.num_locals))) return Error(pc, "local out of range");
        break;
      case OperandShape::kJump:
        if (!InRange(in.b, p_.code.size())) return Error(pc, "jump target outside the code");
        break;
      case OperandShape::kLoop:
        if (!InRange(in.a, static_cast<size_t>(p_.num_locals))) return Error(pc, "loop local out of range");
        if (!InRange(in.c, lists)) return Error(pc, "loop list out of range");
        if (!InRange(in.b, p_.code.size())) return Error(pc, "loop exit outside the code");
        break;
      case OperandShape::kDuration:
        if (!InRange(in.b, p_.durations.size())) return Error(pc, "duration constant out of range");
        break;
      case OperandShape::kZone:
        if (!InRange(in.b, p_.zones.size())) return Error(pc, "time zone out of range");
        break;
      case OperandShape::kSet:
        if (!InRange(in.b, p_.sets.size())) return Error(pc, "set constant out of range");
        break;
      case OperandShape::kList:
        if (!InRange(in.b, lists)) return Error(pc, "list out of range");
        break;
      case OperandShape::kRule:
        if (!InRange(in.b, p_.rules.size())) return Error(pc, "rule out of range");
        break;
    }
    if (region == Region::kPrelude) {
      switch (info.shape) {
        case OperandShape::kSlot:
        case OperandShape::kListField:
        case OperandShape::kLocalField:
        case OperandShape::kLoop:
        case OperandShape::kList:
        case OperandShape::kRule:
          return Error(pc, "the prelude may not read contact facts or decide");
        default:
          break;
      }
    } else if (in.op == Op::kStoreReg || in.op == Op::kHalt) {
      return Error(pc, "a policy may not write request registers or halt");
    }
    return absl::OkStatus();
  }

  // Walks every path from `entry`, recording the stack depth at each instruction.
  absl::Status Flow(int32_t entry, Region region) {
    if (!InRange(entry, p_.code.size())) return Error(0, "entry point outside the code");
    std::vector<std::pair<size_t, int>> work;
    auto reach = [&](size_t pc, int depth, size_t from) -> absl::Status {
      if (pc >= p_.code.size()) return Error(from, "control falls off the end of the code");
      if (depth_[pc] == -1) {
        depth_[pc] = depth;
        region_[pc] = static_cast<int>(region);
        work.emplace_back(pc, depth);
      } else if (depth_[pc] != depth) {
        return Error(pc, absl::StrCat("stack depth ", depth, " differs from ", depth_[pc], " on another path"));
      } else if (region_[pc] != static_cast<int>(region)) {
        return Error(pc, "the prelude and a policy share code");
      }
      return absl::OkStatus();
    };
    if (auto s = reach(static_cast<size_t>(entry), 0, 0); !s.ok()) return s;
    while (!work.empty()) {
      auto [pc, depth] = work.back();
      work.pop_back();
      const Instr& in = p_.code[pc];
      if (static_cast<int>(in.op) >= kNumOps) return Error(pc, "unknown opcode");
      if (auto s = CheckOperands(pc, in, region); !s.ok()) return s;
      const OpInfo& info = GetOpInfo(in.op);
      if (depth < info.pops) return Error(pc, "stack underflow");
      int after = depth - info.pops + info.pushes;
      if (after > kMaxStack) return Error(pc, "stack overflow");
      max_depth_ = std::max(max_depth_, after);
      switch (in.op) {
        case Op::kDecide:
          if (after != 0) return Error(pc, "a decision leaves values on the stack");
          break;
        case Op::kHalt:
          if (after != 0) return Error(pc, "the prelude ends with values on the stack");
          break;
        case Op::kJump:
          if (auto s = reach(static_cast<size_t>(in.b), after, pc); !s.ok()) return s;
          break;
        case Op::kJumpIfFalse:
        case Op::kJumpIfTrue:
        case Op::kLoopNext:
          if (auto s = reach(static_cast<size_t>(in.b), after, pc); !s.ok()) return s;
          if (auto s = reach(pc + 1, after, pc); !s.ok()) return s;
          break;
        case Op::kAndJump:
        case Op::kOrJump:
          // Taken: the tested value stays; not taken: it is popped.
          if (auto s = reach(static_cast<size_t>(in.b), depth, pc); !s.ok()) return s;
          if (auto s = reach(pc + 1, depth - 1, pc); !s.ok()) return s;
          break;
        default:
          if (auto s = reach(pc + 1, after, pc); !s.ok()) return s;
          break;
      }
    }
    return absl::OkStatus();
  }

  Program& p_;
  std::vector<int> depth_;
  std::vector<int> region_;
  int max_depth_ = 0;
};

}  // namespace

absl::Status Verify(Program& program) { return Verifier(program).Run(); }

}  // namespace lawful
