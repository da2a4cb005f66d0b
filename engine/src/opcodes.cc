// The opcode table, expanded from the one list in opcodes.def.
#include <array>
#include <cctype>
#include <string>

#include "lawful/engine.h"

namespace lawful {
namespace {

// "kLoadFact" -> "load_fact": the disassembler's spelling.
std::string SnakeName(const char* camel) {
  std::string out;
  for (const char* p = camel + 1; *p != '\0'; ++p) {
    if (std::isupper(static_cast<unsigned char>(*p))) {
      if (!out.empty()) out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(*p)));
    } else {
      out += *p;
    }
  }
  return out;
}

struct OpTable {
  std::array<std::string, kNumOps> names;
  std::array<OpInfo, kNumOps> info;
  OpTable() {
    int i = 0;
#define LAWFUL_OP(name, shape, pops, pushes, doc)                    \
  names[i] = SnakeName(#name);                                       \
  info[i] = OpInfo{names[i].c_str(), OperandShape::shape, pops, pushes, doc}; \
  ++i;
#include "lawful/opcodes.def"
#undef LAWFUL_OP
  }
};

const OpTable& Table() {
  static const OpTable* table = new OpTable();
  return *table;
}

}  // namespace

const OpInfo& GetOpInfo(Op op) { return Table().info[static_cast<size_t>(op)]; }

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAllow:
      return "allow";
    case Outcome::kDeny:
      return "deny";
    case Outcome::kError:
      return "error";
  }
  return "error";
}

}  // namespace lawful
