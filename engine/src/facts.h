// A contact's facts as the VM reads them: flat int64 slots and lists of records, decoded straight
// from the contact's protobuf wire bytes by a table built from the program's FactLayout.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "google/protobuf/descriptor.h"
#include "lawful/engine.h"

namespace lawful {

// The numbers an enum field's type declares. Proto3 enums are open, so any number parses; a number
// the type does not declare is a fact the engine cannot read exactly, and the contact is an error.
struct EnumValues {
  const google::protobuf::EnumDescriptor* type = nullptr;  // null: no proto enum, any number reads
  uint64_t small = 0;                                      // bit n set: n (0..63) is declared

  bool Declares(int32_t number) const {
    if (type == nullptr) return true;
    if (number >= 0 && number < 64) return (small >> number) & 1;
    return type->FindValueByNumber(number) != nullptr;
  }
};

// "`77` is not a value of lawful.v1.ObjectionScope".
std::string NotDeclared(const EnumValues& values, int32_t number);

struct FactList {
  std::vector<int64_t> data;  // count * width values
  int32_t count = 0;
};

struct Facts {
  std::vector<int64_t> slots;
  std::vector<FactList> lists;
  // Views into the contact's bytes; index 0 is always the empty string. String values in slots
  // are indices into this table.
  std::vector<std::string_view> strings;
};

// Decodes contacts for one program. Built once per rule set; Decode is reentrant.
class FactDecoder {
 public:
  FactDecoder(const FactLayout& layout, const std::vector<std::string>& purposes);

  struct Error {
    std::string path;
    std::string message;
  };

  // Decodes `bytes` into `facts`, reusing its storage. False with `error` set when a field the
  // rules read is malformed; the views in `facts` point into `bytes`.
  bool Decode(std::string_view bytes, Facts& facts, Error& error) const;

  // One step of the path to the field being decoded (see facts.cc).
  struct Frame;
  // What a singular field's slot cannot hold between its occurrences (see facts.cc). Held
  // inline: a contact with a few such fields (a timestamp past 2255, say) allocates nothing.
  struct Pending;
  using PendingList = absl::InlinedVector<Pending, 4>;

 private:
  bool DecodeMessage(int32_t message, std::string_view bytes, int64_t* slots, Facts& facts,
                     Frame* parent, PendingList& pending, Error& error) const;

  const FactLayout& layout_;
  // Parallel to layout_.messages[m].fields: the declared numbers of each enum field.
  std::vector<std::vector<EnumValues>> enums_;
  std::vector<int64_t> contact_defaults_;
  std::vector<std::vector<int64_t>> record_defaults_;
  absl::flat_hash_map<std::string, int32_t> purpose_ids_;
};

}  // namespace lawful
