// The disassembler: one instruction a line, operands named by their shape, and the rule source
// line above each block of instructions compiled from it.
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lawful/engine.h"

namespace lawful {
namespace {

std::string Operands(const Program& p, const Instr& in) {
  switch (GetOpInfo(in.op).shape) {
    case OperandShape::kNone:
      return "";
    case OperandShape::kImm:
      return absl::StrCat(in.b);
    case OperandShape::kConstInt:
      return absl::StrCat("#", in.b, " (", p.ints[in.b], ")");
    case OperandShape::kConstStr:
      return absl::StrCat("#", in.b, " \"", absl::CHexEscape(p.strings[in.b]), "\"");
    case OperandShape::kSlot:
      return absl::StrCat("slot ", in.b);
    case OperandShape::kReg:
      switch (in.b) {
        case kRegAt:
          return "r0 (at)";
        case kRegPurpose:
          return "r1 (purpose)";
        case kRegChannel:
          return "r2 (channel)";
        case kRegNoticeType:
          return "r3 (notice_type)";
        default:
          return absl::StrCat("r", in.b);
      }
    case OperandShape::kLocal:
      return absl::StrCat("l", in.b);
    case OperandShape::kListField:
      return absl::StrCat(p.layout.lists[in.a].name, ".", in.b);
    case OperandShape::kLocalField:
      return absl::StrCat("l", in.a, " ", p.layout.lists[in.c].name, ".", in.b);
    case OperandShape::kLocalImm:
      return absl::StrCat("l", in.a, " = ", in.b);
    case OperandShape::kJump:
      return absl::StrFormat("-> %04d", in.b);
    case OperandShape::kLoop:
      return absl::StrFormat("l%d over %s, done -> %04d", in.a, p.layout.lists[in.c].name, in.b);
    case OperandShape::kDuration: {
      const CalendarDuration& d = p.durations[in.b];
      return absl::StrCat(d.months, " months ", d.days, " days");
    }
    case OperandShape::kZone:
      return p.zones[in.b];
    case OperandShape::kSet:
      return absl::StrCat("{", absl::StrJoin(p.sets[in.b], ", "), "}");
    case OperandShape::kList:
      return p.layout.lists[in.b].name;
    case OperandShape::kRule: {
      const Rule& r = p.rules[in.b];
      return absl::StrCat(r.outcome == Outcome::kAllow ? "allow " : "deny ", r.reason, " (", r.name,
                          ")");
    }
  }
  return "";
}

}  // namespace

std::string Disassemble(const Program& p, const std::vector<std::string>& sources) {
  std::vector<std::vector<std::string>> lines(sources.size());
  for (size_t i = 0; i < sources.size(); ++i) lines[i] = absl::StrSplit(sources[i], '\n');

  std::string out;
  for (const Policy& policy : p.policies) {
    absl::StrAppendFormat(&out, "policy %s: entry %04d\n", policy.name, policy.entry);
  }
  absl::StrAppendFormat(&out, "prelude: entry %04d, %d registers, %d locals\n\n", p.prelude,
                        p.num_registers, p.num_locals);
  uint32_t last_file = ~0u, last_line = ~0u;
  for (size_t pc = 0; pc < p.code.size(); ++pc) {
    const Instr& in = p.code[pc];
    const SourceSpan& span = pc < p.spans.size() ? p.spans[pc] : SourceSpan{};
    if (span.line != 0 && (span.file != last_file || span.line != last_line)) {
      last_file = span.file;
      last_line = span.line;
      std::string file = span.file < p.files.size() ? p.files[span.file] : "?";
      std::string text;
      if (span.file < lines.size() && span.line - 1 < lines[span.file].size()) {
        text = absl::StrCat("  ", absl::StripAsciiWhitespace(lines[span.file][span.line - 1]));
      }
      absl::StrAppendFormat(&out, "; %s:%d%s\n", file, span.line, text);
    }
    std::string line =
        absl::StrFormat("%04d  %-14s %s", pc, GetOpInfo(in.op).name, Operands(p, in));
    absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(line), "\n");
  }
  return out;
}

}  // namespace lawful
