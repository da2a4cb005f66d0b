// A contact's facts as the VM reads them: flat int64 slots and lists of records, decoded straight
// from the contact's protobuf wire bytes by a table built from the program's FactLayout.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "lawful/engine.h"

namespace lawful {

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

 private:
  bool DecodeMessage(int32_t message, std::string_view bytes, int64_t* slots, Facts& facts,
                     Frame* parent, Error& error) const;

  const FactLayout& layout_;
  std::vector<int64_t> contact_defaults_;
  std::vector<std::vector<int64_t>> record_defaults_;
  absl::flat_hash_map<std::string, int32_t> purpose_ids_;
};

}  // namespace lawful
