// A contact's facts as the VM reads them: flat int64 slots and lists of records, decoded straight
// from the contact's protobuf wire bytes by a table built from the program's FactLayout.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "lawful/engine.h"

namespace lawful {

// The protobuf wire format, read in place: what the fact decoder and the evidence quoting share.
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

class WireReader {
 public:
  explicit WireReader(std::string_view bytes)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}

  bool done() const { return p_ >= end_; }

  bool Varint(uint64_t& out) {
    out = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p_ >= end_) return false;
      uint8_t byte = *p_++;
      out |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }

  bool Bytes(std::string_view& out) {
    uint64_t len;
    if (!Varint(len) || len > static_cast<uint64_t>(end_ - p_)) return false;
    out = std::string_view(reinterpret_cast<const char*>(p_), len);
    p_ += len;
    return true;
  }

  bool Skip(uint32_t wire_type) {
    uint64_t ignored;
    std::string_view bytes;
    switch (wire_type) {
      case kVarint: return Varint(ignored);
      case kFixed64: return Advance(8);
      case kLengthDelimited: return Bytes(bytes);
      case kFixed32: return Advance(4);
      default: return false;  // groups (3, 4) are not used by lawful's protos
    }
  }

 private:
  bool Advance(size_t n) {
    if (static_cast<size_t>(end_ - p_) < n) return false;
    p_ += n;
    return true;
  }
  const uint8_t* p_;
  const uint8_t* end_;
};


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
  std::vector<int64_t> contact_defaults_;
  std::vector<std::vector<int64_t>> record_defaults_;
  absl::flat_hash_map<std::string, int32_t> purpose_ids_;
};

}  // namespace lawful
