// The opcode table, expanded from the one list in opcodes.def.
#include <array>
#include <cctype>
#include <string>

#include "lawful/engine.h"
#include "lawful/v1/names.h"

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
#define LAWFUL_OP(name, shape, pops, pushes, doc)                             \
  names[i] = SnakeName(#name);                                                \
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
  // The descriptor's names are std::strings, kept for the life of the process: data() ends in NUL.
  return lawful::v1::ShortName(ToProto(outcome)).data();
}

lawful::v1::Outcome ToProto(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAllow:
      return lawful::v1::OUTCOME_ALLOW;
    case Outcome::kDeny:
      return lawful::v1::OUTCOME_DENY;
    case Outcome::kError:
      return lawful::v1::OUTCOME_ERROR;
  }
  return lawful::v1::OUTCOME_UNSPECIFIED;
}

void ToProto(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t seconds = absl::ToUnixSeconds(t);
  out->set_seconds(seconds);
  out->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
}

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

}  // namespace lawful
