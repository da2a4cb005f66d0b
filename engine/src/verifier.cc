// The verifier: the VM runs only programs that pass it. It proves operands are in range (of every
// instruction, reachable or not: the disassembler prints them all), jumps land inside the code,
// the stack depth is the same on every path into an instruction and stays within bounds, policies
// always end in a decision and the prelude in kHalt without touching contact facts, every loop
// ends (CheckLoops), and the fact layout keeps the decoder inside its slots and lists
// (CheckLayout). Data-dependent indices (record numbers) are bounds-checked by the VM itself.
#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lawful/engine.h"

namespace lawful {
namespace {

// Fact layout bounds: far above what the contact schema can ask for, low enough that a hostile
// program cannot make the decoder allocate gigabytes per contact.
constexpr int kMaxSlots = 65536;
constexpr size_t kMaxLists = 65536;
constexpr size_t kMaxMessages = 65536;

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
    if (p_.num_locals < 0 || p_.num_locals > kMaxLocals || p_.num_memo_flags < 0 ||
        p_.num_memo_flags > p_.num_locals) {
      return absl::InvalidArgumentError("program: local count out of range");
    }
    if (auto s = CheckLayout(); !s.ok()) return s;
    for (const std::string& zone : p_.zones) {
      if (!IsTimeZoneName(zone)) {
        return absl::InvalidArgumentError(
            absl::StrCat("program: `", zone, "` is not a time zone name"));
      }
    }
    for (size_t pc = 0; pc < p_.code.size(); ++pc) {
      if (static_cast<int>(p_.code[pc].op) >= kNumOps) return Error(pc, "unknown opcode");
      if (auto s = CheckOperands(pc, p_.code[pc]); !s.ok()) return s;
    }
    if (auto s = CheckLoops(); !s.ok()) return s;
    for (const Rule& r : p_.rules) {
      if (r.evidence_list >= static_cast<int32_t>(p_.layout.lists.size())) {
        return absl::InvalidArgumentError(
            absl::StrCat("rule ", r.name, ": evidence list out of range"));
      }
      // Explain only compares pcs with it, but a wild entry would make its trace meaningless.
      if (r.entry < -1 || r.entry >= static_cast<int32_t>(p_.code.size())) {
        return absl::InvalidArgumentError(absl::StrCat("rule ", r.name, ": entry out of range"));
      }
    }
    for (const Policy& policy : p_.policies) {
      for (int32_t purpose : policy.purposes) {
        if (purpose < 0 || purpose >= static_cast<int32_t>(p_.purposes.size())) {
          return absl::InvalidArgumentError(
              absl::StrCat("policy ", policy.name, ": purpose out of range"));
        }
      }
      for (int32_t rule : policy.rules) {
        if (rule < 0 || rule >= static_cast<int32_t>(p_.rules.size())) {
          return absl::InvalidArgumentError(
              absl::StrCat("policy ", policy.name, ": rule out of range"));
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

  absl::Status CheckOperands(size_t pc, const Instr& in) {
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
        if (!InRange(in.b, static_cast<size_t>(p_.layout.contact_slots)))
          return Error(pc, "fact slot out of range");
        break;
      case OperandShape::kReg:
        if (!InRange(in.b, static_cast<size_t>(p_.num_registers)))
          return Error(pc, "register out of range");
        // The request's own registers (at, purpose, channel, notice type) are set by Prepare and
        // mean what they say for every reader (Explain names them); only hoisted ones are written.
        if (in.op == Op::kStoreReg && in.b < kNumFixedRegisters) {
          return Error(
              pc,
              "code may not write the request's own registers (at, purpose, channel, notice type)");
        }
        break;
      case OperandShape::kLocal:
        if (!InRange(in.b, static_cast<size_t>(p_.num_locals)))
          return Error(pc, "local out of range");
        break;
      case OperandShape::kListField:
        if (!InRange(in.a, lists) || !p_.layout.lists[in.a].records)
          return Error(pc, "record list out of range");
        if (!InRange(in.b, static_cast<size_t>(p_.layout.lists[in.a].width)))
          return Error(pc, "record field out of range");
        break;
      case OperandShape::kLocalField:
        if (!InRange(in.a, static_cast<size_t>(p_.num_locals)))
          return Error(pc, "local out of range");
        if (!InRange(in.c, lists) || !p_.layout.lists[in.c].records)
          return Error(pc, "record list out of range");
        if (!InRange(in.b, static_cast<size_t>(p_.layout.lists[in.c].width)))
          return Error(pc, "record field out of range");
        break;
      case OperandShape::kLocalImm:
        if (!InRange(in.a, static_cast<size_t>(p_.num_locals)))
          return Error(pc, "local out of range");
        break;
      case OperandShape::kJump:
        if (!InRange(in.b, p_.code.size())) return Error(pc, "jump target outside the code");
        break;
      case OperandShape::kLoop:
        if (!InRange(in.a, static_cast<size_t>(p_.num_locals)))
          return Error(pc, "loop local out of range");
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
    return absl::OkStatus();
  }

  // What the prelude and the policies may each do.
  absl::Status CheckRegion(size_t pc, const Instr& in, Region region) {
    const OpInfo& info = GetOpInfo(in.op);
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

  static bool WritesLocal(const Instr& in, int32_t local) {
    switch (in.op) {
      case Op::kStoreLocal:
      case Op::kTeeLocal:
        return in.b == local;
      case Op::kSetLocal:
      case Op::kLoopNext:
        return in.a == local;
      default:
        return false;
    }
  }

  // Every loop ends. A loop is a kLoopNext at pc T whose exit E lies after it; its body is
  // [T, E). The rules:
  //   1. an edge back (to its own pc or before) comes from inside a body and goes to its head T;
  //   2. bodies nest (two bodies are disjoint or one holds the other);
  //   3. inside a body only its kLoopNext writes the loop's index, which is not a memo flag
  //      (Explain resets those while it runs).
  // Why that suffices: in an endless run, let T be the least pc visited endlessly often. Edges
  // into T from above are back edges, so T heads a loop with body [T, E). The run cannot leave
  // the body for good (it returns to T), nor leave and come back: coming back needs a back edge
  // from beyond E into [T, E), whose head would have a body reaching past E, against rule 2.
  // So from some point on the run stays in [T, E), where only T's kLoopNext writes the index;
  // each pass through T moves the index up to the list's length, which no code changes, and the
  // pass after that exits to E. Contradiction: every run ends.
  absl::Status CheckLoops() {
    std::vector<int32_t> open;  // heads of the bodies that hold the current pc, innermost last
    for (size_t pc = 0; pc < p_.code.size(); ++pc) {
      while (!open.empty() && static_cast<size_t>(p_.code[open.back()].b) <= pc) open.pop_back();
      const Instr& in = p_.code[pc];
      const OperandShape shape = GetOpInfo(in.op).shape;
      if (shape == OperandShape::kJump && static_cast<size_t>(in.b) <= pc) {
        const Instr& head = p_.code[in.b];
        if (head.op != Op::kLoopNext || static_cast<size_t>(head.b) <= pc) {
          return Error(pc, "a jump back must go to the head of a loop that holds it");
        }
      }
      if (in.op != Op::kLoopNext) continue;
      if (static_cast<size_t>(in.b) <= pc) return Error(pc, "a loop's exit must follow it");
      if (!open.empty() && in.b > p_.code[open.back()].b)
        return Error(pc, "loops overlap without nesting");
      if (in.a < p_.num_memo_flags) return Error(pc, "a loop's index may not be a memo flag");
      for (size_t i = pc + 1; i < static_cast<size_t>(in.b); ++i) {
        if (WritesLocal(p_.code[i], in.a))
          return Error(i, "the loop's index is written inside the loop");
      }
      open.push_back(static_cast<int32_t>(pc));
    }
    return absl::OkStatus();
  }

  absl::Status LayoutError(const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat("program: fact layout: ", what));
  }

  // The decoder writes a scalar field at its slot in the enclosing record (or in the contact),
  // appends records and elements to lists, and recurses into nested messages. So: lists have a
  // sane width and an id slot inside it; each list is filled by one field of its own kind; nested
  // messages form no cycle (no endless recursion, and no list nested in a record of itself, whose
  // storage would move under the decoder); every scalar slot lies inside every record or contact
  // its message can be decoded into.
  absl::Status CheckLayout() {
    const FactLayout& l = p_.layout;
    if (l.contact_slots < 0 || l.contact_slots > kMaxSlots)
      return LayoutError("contact slot count out of range");
    if (l.lists.size() > kMaxLists || l.messages.size() > kMaxMessages)
      return LayoutError("too many lists or messages");
    for (const ListLayout& list : l.lists) {
      if (list.width < 1 || list.width > kMaxSlots || (!list.records && list.width != 1)) {
        return LayoutError(absl::StrCat("list ", list.name, ": width out of range"));
      }
      if (list.id_slot < -1 || list.id_slot >= list.width)
        return LayoutError(absl::StrCat("list ", list.name, ": id slot out of range"));
    }
    const size_t messages = l.messages.size();
    std::vector<int> filled(l.lists.size(), 0);
    std::vector<int> parents(messages, 0);
    for (const MessageLayout& m : l.messages) {
      for (const FactField& f : m.fields) {
        const bool nested = f.kind == FactKind::kMessage || f.kind == FactKind::kRecordList;
        const bool list = f.kind == FactKind::kRecordList || f.kind == FactKind::kScalarList;
        if (f.kind > FactKind::kScalarList)
          return LayoutError(absl::StrCat("field ", f.name, ": unknown kind"));
        if (nested && !InRange(f.message, messages))
          return LayoutError(absl::StrCat("field ", f.name, ": message out of range"));
        if (list && (!InRange(f.slot, l.lists.size()) ||
                     l.lists[f.slot].records != (f.kind == FactKind::kRecordList) ||
                     ++filled[f.slot] > 1)) {
          return LayoutError(absl::StrCat("field ", f.name,
                                          ": list out of range, of another kind, or filled twice"));
        }
        if (f.kind == FactKind::kScalarList && f.element >= FactKind::kMessage) {
          return LayoutError(absl::StrCat("field ", f.name, ": a scalar list of non-scalars"));
        }
        if (!nested && !list && f.slot < 0)
          return LayoutError(absl::StrCat("field ", f.name, ": slot out of range"));
        if (nested) ++parents[f.message];
      }
    }
    // Kahn's algorithm: messages in an order where each comes after every message holding it;
    // along the way each learns the smallest slot space it is decoded into.
    std::vector<int64_t> space(messages, -1);  // -1: never decoded into anything
    if (messages > 0) space[0] = l.contact_slots;
    std::vector<size_t> ready;
    for (size_t m = 0; m < messages; ++m) {
      if (parents[m] == 0) ready.push_back(m);
    }
    size_t ordered = 0;
    while (!ready.empty()) {
      const size_t m = ready.back();
      ready.pop_back();
      ++ordered;
      for (const FactField& f : l.messages[m].fields) {
        int64_t child_space = -1;
        if (f.kind == FactKind::kMessage) {
          child_space = space[m];
        } else if (f.kind == FactKind::kRecordList) {
          child_space = l.lists[f.slot].width;
        } else if (f.kind != FactKind::kScalarList && space[m] >= 0 && f.slot >= space[m]) {
          return LayoutError(absl::StrCat("field ", f.name, ": slot out of range"));
        }
        if (f.kind != FactKind::kMessage && f.kind != FactKind::kRecordList) continue;
        int64_t& s = space[f.message];
        if (child_space >= 0) s = s < 0 ? child_space : std::min(s, child_space);
        if (--parents[f.message] == 0) ready.push_back(static_cast<size_t>(f.message));
      }
    }
    if (ordered != messages) return LayoutError("nested messages form a cycle");
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
        return Error(pc, absl::StrCat("stack depth ", depth, " differs from ", depth_[pc],
                                      " on another path"));
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
      if (auto s = CheckRegion(pc, in, region); !s.ok()) return s;
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

bool IsTimeZoneName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  bool component_start = true;
  for (char c : name) {
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool other = (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '+';
    if (c == '/' && !component_start) {
      component_start = true;
    } else if (letter || (other && !component_start)) {
      component_start = false;
    } else {
      return false;  // a component starts with a letter: no "", ".", ".." or absolute path
    }
  }
  return !component_start;
}

}  // namespace lawful
