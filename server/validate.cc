#include "validate.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace lawful::server {
namespace {

// Built only for a problem: valid contacts, the hot path, allocate nothing here.
ContactProblem Problem(const char* list, int index, const char* field, const char* message) {
  return ContactProblem{absl::StrCat(list, "[", index, "].", field), message};
}

// The protobuf wire format, just as far as ValidateContactBytes needs it.
enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5,
};

class WireReader {
 public:
  explicit WireReader(std::string_view bytes) : next_(bytes.data()), end_(next_ + bytes.size()) {}

  bool done() const { return next_ == end_; }

  bool Varint(uint64_t* value) {
    uint64_t result = 0;
    for (int shift = 0; shift < 64 && next_ != end_; shift += 7) {
      const uint8_t byte = static_cast<uint8_t>(*next_++);
      result |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) {
        *value = result;
        return true;
      }
    }
    return false;
  }

  // The next field's number and wire type; false at a malformed tag.
  bool Tag(uint32_t* number, uint32_t* wire_type) {
    uint64_t tag;
    if (!Varint(&tag) || tag > UINT32_MAX || (tag >> 3) == 0) return false;
    *number = static_cast<uint32_t>(tag >> 3);
    *wire_type = static_cast<uint32_t>(tag & 7);
    return true;
  }

  bool Bytes(std::string_view* body) {
    uint64_t size;
    if (!Varint(&size) || size > static_cast<uint64_t>(end_ - next_)) return false;
    *body = std::string_view(next_, static_cast<size_t>(size));
    next_ += size;
    return true;
  }

  // Skips the value of a field of `wire_type` whose tag was just read (`number` closes a group).
  bool Skip(uint32_t number, uint32_t wire_type, int depth = 0) {
    uint64_t ignored;
    std::string_view body;
    switch (wire_type) {
      case kVarint:
        return Varint(&ignored);
      case kFixed64:
        return Advance(8);
      case kLengthDelimited:
        return Bytes(&body);
      case kFixed32:
        return Advance(4);
      case kStartGroup: {
        // Protobuf's own parser limits nesting to 100 as well.
        if (depth >= 100) return false;
        uint32_t inner_number, inner_type;
        while (Tag(&inner_number, &inner_type)) {
          if (inner_type == kEndGroup) return inner_number == number;
          if (!Skip(inner_number, inner_type, depth + 1)) return false;
        }
        return false;
      }
      default:  // an end-group without its start, or wire types 6 and 7
        return false;
    }
  }

 private:
  bool Advance(size_t n) {
    if (static_cast<size_t>(end_ - next_) < n) return false;
    next_ += n;
    return true;
  }

  const char* next_;
  const char* end_;
};

// Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF). The ids
// a decision echoes must be valid UTF-8 strings in the answer; the raw batch path, which skips
// protobuf's parse, checks them here instead.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t more;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      more = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      more = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      more = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i <= more) return false;
    for (size_t k = 1; k <= more; ++k) {
      const unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    static constexpr uint32_t kLeast[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kLeast[more] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += more + 1;
  }
  return true;
}

// What ValidateContact checks of one consent: last occurrence wins for scalars, as in a parse;
// a field with an unexpected wire type is an unknown field, as in a parse. `problem` may be null.
bool CheckConsent(std::string_view bytes, int index, std::optional<ContactProblem>* problem) {
  using Consent = lawful::v1::Consent;
  bool has_purpose = false;
  int32_t channel = lawful::v1::CHANNEL_UNSPECIFIED;
  bool has_granted_at = false;
  bool id_is_utf8 = true;
  WireReader r(bytes);
  uint32_t number, wire_type;
  while (!r.done()) {
    if (!r.Tag(&number, &wire_type)) return false;
    if (number == Consent::kIdFieldNumber && wire_type == kLengthDelimited) {
      std::string_view id;
      if (!r.Bytes(&id)) return false;
      id_is_utf8 = IsValidUtf8(id);
    } else if (number == Consent::kPurposeFieldNumber && wire_type == kLengthDelimited) {
      std::string_view purpose;
      if (!r.Bytes(&purpose)) return false;
      has_purpose = !purpose.empty();
    } else if (number == Consent::kChannelFieldNumber && wire_type == kVarint) {
      uint64_t value;
      if (!r.Varint(&value)) return false;
      channel = static_cast<int32_t>(value);
    } else if (number == Consent::kGrantedAtFieldNumber && wire_type == kLengthDelimited) {
      std::string_view granted_at;
      if (!r.Bytes(&granted_at)) return false;
      has_granted_at = true;
    } else if (!r.Skip(number, wire_type)) {
      return false;
    }
  }
  // Null when an earlier record already has a problem: only well-formedness matters then.
  if (problem == nullptr) return true;
  if (!id_is_utf8) {
    *problem = Problem("consents", index, "id", "the record's id is not valid UTF-8");
  } else if (!has_purpose) {
    *problem =
        Problem("consents", index, "purpose", "a consent must name the purpose consented to");
  } else if (channel == lawful::v1::CHANNEL_UNSPECIFIED) {
    *problem =
        Problem("consents", index, "channel", "a consent must name the channel consented to");
  } else if (!has_granted_at) {
    *problem = Problem("consents", index, "granted_at", "a consent must say when it was given");
  }
  return true;
}

bool CheckObjection(std::string_view bytes, int index, std::optional<ContactProblem>* problem) {
  using Objection = lawful::v1::Objection;
  int32_t scope = lawful::v1::OBJECTION_SCOPE_UNSPECIFIED;
  bool has_lodged_at = false;
  bool id_is_utf8 = true;
  WireReader r(bytes);
  uint32_t number, wire_type;
  while (!r.done()) {
    if (!r.Tag(&number, &wire_type)) return false;
    if (number == Objection::kIdFieldNumber && wire_type == kLengthDelimited) {
      std::string_view id;
      if (!r.Bytes(&id)) return false;
      id_is_utf8 = IsValidUtf8(id);
    } else if (number == Objection::kScopeFieldNumber && wire_type == kVarint) {
      uint64_t value;
      if (!r.Varint(&value)) return false;
      scope = static_cast<int32_t>(value);
    } else if (number == Objection::kLodgedAtFieldNumber && wire_type == kLengthDelimited) {
      std::string_view lodged_at;
      if (!r.Bytes(&lodged_at)) return false;
      has_lodged_at = true;
    } else if (!r.Skip(number, wire_type)) {
      return false;
    }
  }
  if (problem == nullptr) return true;
  if (!id_is_utf8) {
    *problem = Problem("objections", index, "id", "the record's id is not valid UTF-8");
  } else if (scope == lawful::v1::OBJECTION_SCOPE_UNSPECIFIED) {
    *problem = Problem("objections", index, "scope", "an objection must say what it covers");
  } else if (!has_lodged_at) {
    *problem =
        Problem("objections", index, "lodged_at", "an objection must say when it was lodged");
  }
  return true;
}

}  // namespace

bool ValidateContactBytes(std::string_view bytes, std::string_view* id,
                          std::optional<ContactProblem>* problem) {
  using Contact = lawful::v1::Contact;
  *id = std::string_view();
  problem->reset();
  // ValidateContact reports consents before objections, whatever their order on the wire: the
  // first objection problem is held back until every consent has been seen.
  std::optional<ContactProblem> objection_problem;
  int consents = 0;
  int objections = 0;
  WireReader r(bytes);
  uint32_t number, wire_type;
  while (!r.done()) {
    if (!r.Tag(&number, &wire_type)) return false;
    if (wire_type == kLengthDelimited &&
        (number == Contact::kIdFieldNumber || number == Contact::kConsentsFieldNumber ||
         number == Contact::kObjectionsFieldNumber)) {
      std::string_view body;
      if (!r.Bytes(&body)) return false;
      if (number == Contact::kIdFieldNumber) {
        *id = body;
      } else if (number == Contact::kConsentsFieldNumber) {
        if (!CheckConsent(body, consents++, problem->has_value() ? nullptr : problem)) {
          return false;
        }
      } else if (!CheckObjection(body, objections++,
                                 objection_problem.has_value() ? nullptr : &objection_problem)) {
        return false;
      }
    } else if (!r.Skip(number, wire_type)) {
      return false;
    }
  }
  if (!problem->has_value()) *problem = std::move(objection_problem);
  if (!IsValidUtf8(*id)) {
    // Not echoed: the answer's contact_id must be a valid string.
    *id = std::string_view();
    *problem = ContactProblem{"id", "the contact's id is not valid UTF-8"};
  }
  return true;
}

std::optional<ContactProblem> ValidateContact(const lawful::v1::Contact& contact) {
  for (int i = 0; i < contact.consents_size(); ++i) {
    const lawful::v1::Consent& consent = contact.consents(i);
    if (consent.purpose().empty()) {
      return Problem("consents", i, "purpose", "a consent must name the purpose consented to");
    }
    if (consent.channel() == lawful::v1::CHANNEL_UNSPECIFIED) {
      return Problem("consents", i, "channel", "a consent must name the channel consented to");
    }
    if (!consent.has_granted_at()) {
      return Problem("consents", i, "granted_at", "a consent must say when it was given");
    }
  }
  for (int i = 0; i < contact.objections_size(); ++i) {
    const lawful::v1::Objection& objection = contact.objections(i);
    if (objection.scope() == lawful::v1::OBJECTION_SCOPE_UNSPECIFIED) {
      return Problem("objections", i, "scope", "an objection must say what it covers");
    }
    if (!objection.has_lodged_at()) {
      return Problem("objections", i, "lodged_at", "an objection must say when it was lodged");
    }
  }
  return std::nullopt;
}

}  // namespace lawful::server
