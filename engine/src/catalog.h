// What the engine knows about the facts a rule set reads, beyond their slots: each slot's field
// path, kind and enum type (to show values as a lawyer reads them), each list's place in the
// Contact message (to quote an evidence record), and the canonical encoding behind the facts
// digest. Built once per rule set from its FactLayout and the lawful.v1.Contact descriptor.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/descriptor.h>

#include "facts.h"
#include "lawful/engine.h"
#include "vm.h"

namespace lawful {

struct FactInfo {
  std::string path;  // "relationship.is_customer"; within a record: "granted_at"
  FactKind kind = FactKind::kInt;
  const google::protobuf::EnumDescriptor* enum_type = nullptr;
};

struct ListInfo {
  std::string name;  // "consents"
  bool records = false;
  std::vector<FactInfo> fields;  // records: one per slot of a record
  FactInfo element;              // scalar lists: the element
  // Top-level Contact field number of a record list (0 when nested), and the Evidence field
  // that quotes one of its records (null when Evidence has none for this message type).
  uint32_t number = 0;
  const google::protobuf::FieldDescriptor* evidence_field = nullptr;
};

struct RuleSet::Catalog {
  Catalog(const Program& program);

  std::vector<FactInfo> slots;              // parallel to the contact's slots
  std::vector<ListInfo> lists;              // parallel to FactLayout::lists
  std::vector<int32_t> rule_at_pc;          // the rule whose checking starts at pc, or -1
  std::vector<std::string> register_names;  // "at", ..., then the hoisted values' rule text
};

// The shared end of Evaluate and Explain: a VM result made a Decision (evidence, digest).
Decision Conclude(const Program& program, const RuleSet::Catalog& catalog, const Facts& facts,
                  const vm::Result& result, bool digest, std::string& scratch);

// SHA-256 over the canonical encoding of `facts` ("lawful facts v2": every slot and list, each
// value a varint (0: missing, else zigzag + 1), lists by count then values, strings by length and
// content).
void FactsDigest(const RuleSet::Catalog& catalog, const Facts& facts, std::string& scratch,
                 uint8_t out[32]);

// A value as the rules compare it: 2026-03-02, 2026-03-02T09:00:00Z, email, "text", missing.
std::string Display(const Program& program, const Facts& facts, const FactInfo& info,
                    int64_t value);

std::string Hex(const uint8_t* bytes, size_t size);
void AppendHex(const uint8_t* bytes, size_t size, std::string* out);

// The `index`th occurrence of length-delimited field `number` in a serialized message.
bool NthField(std::string_view message, uint32_t number, int32_t index, std::string_view& out);

}  // namespace lawful
