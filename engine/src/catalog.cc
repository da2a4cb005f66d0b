// The fact catalog (names, kinds, enum types of the slots), the facts digest, and the evidence
// record quoted in decisions.
#include "catalog.h"

#include <openssl/sha.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "calendar.h"
#include "lawful/v1/contact.pb.h"
#include "lawful/v1/names.h"

namespace lawful {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// Fills the catalog entries of the fields of `message` (a FactLayout message, described by `d`),
// prefixing their names with `prefix`. Nested messages share the slot space of their parent.
void Walk(const FactLayout& layout, int32_t message, const Descriptor* d, const std::string& prefix,
          std::vector<FactInfo>& slots, std::vector<ListInfo>& lists, bool top) {
  for (const FactField& f : layout.messages[message].fields) {
    const FieldDescriptor* fd =
        d != nullptr ? d->FindFieldByNumber(static_cast<int>(f.number)) : nullptr;
    const std::string name = prefix + f.name;
    switch (f.kind) {
      case FactKind::kMessage:
        if (f.message >= 0) {
          Walk(layout, f.message, fd != nullptr ? fd->message_type() : nullptr, name + ".", slots,
               lists, false);
        }
        break;
      case FactKind::kRecordList: {
        if (f.slot < 0 || static_cast<size_t>(f.slot) >= lists.size()) break;
        ListInfo& list = lists[f.slot];
        list.name = name;
        list.records = true;
        list.fields.assign(layout.lists[f.slot].width, FactInfo{});
        std::vector<ListInfo> nested;  // lists inside records are not read by the VM
        if (f.message >= 0) {
          Walk(layout, f.message, fd != nullptr ? fd->message_type() : nullptr, "", list.fields,
               nested, false);
        }
        if (top) list.number = f.number;
        if (fd != nullptr && fd->message_type() != nullptr) {
          const Descriptor* evidence = lawful::v1::Evidence::descriptor();
          for (int i = 0; i < evidence->field_count(); ++i) {
            if (evidence->field(i)->message_type() == fd->message_type())
              list.evidence_field = evidence->field(i);
          }
        }
        break;
      }
      case FactKind::kScalarList:
        if (f.slot < 0 || static_cast<size_t>(f.slot) >= lists.size()) break;
        lists[f.slot].name = name;
        lists[f.slot].element =
            FactInfo{name, f.element, fd != nullptr ? fd->enum_type() : nullptr};
        break;
      default:
        if (f.slot >= 0 && static_cast<size_t>(f.slot) < slots.size()) {
          slots[f.slot] = FactInfo{name, f.kind, fd != nullptr ? fd->enum_type() : nullptr};
        }
    }
  }
}

// "CHANNEL_EMAIL" of enum Channel → "email", as the rules spell enum values.
std::string ShortEnumName(const google::protobuf::EnumValueDescriptor& value) {
  return std::string(lawful::v1::ShortName(value.type(), value.number()));
}

// Writes the digest's canonical encoding into a reused buffer: a contact has a few hundred
// values, so each is written in place rather than appended (a std::string append per value cost
// more than hashing the result).
class DigestWriter {
 public:
  explicit DigestWriter(std::string& buffer) : buffer_(buffer) {}

  // A varint: at most 10 bytes.
  void Varint(uint64_t v) {
    Room(10);
    char* p = buffer_.data() + size_;
    while (v >= 0x80) {
      *p++ = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<char>(v);
    size_ = static_cast<size_t>(p - buffer_.data());
  }

  // One value: 0 for a missing one (kMissing), zigzag(v) + 1 otherwise, so small numbers, enums,
  // booleans and absent facts, which most slots hold, take one byte. Injective: kMissing is the
  // one value whose zigzag + 1 does not fit.
  void Int(int64_t v) {
    if (v == kMissing) return Varint(0);
    Varint(((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)) + 1);
  }

  void Bytes(std::string_view s) {
    Varint(s.size());
    Room(s.size());
    if (!s.empty()) std::memcpy(buffer_.data() + size_, s.data(), s.size());
    size_ += s.size();
  }

  void Value(const Facts& facts, FactKind kind, int64_t v) {
    if (kind == FactKind::kString) {
      // By content, so the digest does not depend on the order strings were met in the bytes.
      Bytes(v >= 0 && static_cast<size_t>(v) < facts.strings.size() ? facts.strings[v] : "");
    } else {
      Int(v);
    }
  }

  std::string_view written() const { return std::string_view(buffer_.data(), size_); }

 private:
  void Room(size_t more) {
    if (buffer_.size() - size_ < more)
      buffer_.resize(std::max(2 * buffer_.size(), size_ + more + 256));
  }

  std::string& buffer_;
  size_t size_ = 0;
};

}  // namespace

RuleSet::Catalog::Catalog(const Program& program) {
  const FactLayout& layout = program.layout;
  slots.assign(layout.contact_slots, FactInfo{});
  lists.assign(layout.lists.size(), ListInfo{});
  for (size_t i = 0; i < layout.lists.size(); ++i) lists[i].name = layout.lists[i].name;
  if (!layout.messages.empty()) {
    Walk(layout, 0, lawful::v1::Contact::descriptor(), "", slots, lists, true);
  }
  rule_at_pc.assign(program.code.size() + 1, -1);
  for (size_t r = 0; r < program.rules.size(); ++r) {
    const int32_t entry = program.rules[r].entry;
    if (entry >= 0 && static_cast<size_t>(entry) < rule_at_pc.size())
      rule_at_pc[entry] = static_cast<int32_t>(r);
  }
  register_names = {"at", "purpose", "channel", "notice_type"};
  register_names.resize(std::max<size_t>(program.num_registers, register_names.size()));
  for (size_t reg = kNumFixedRegisters;
       reg < program.registers.size() && reg < register_names.size(); ++reg) {
    const SourceSpan& span = program.registers[reg].span;
    std::string text;
    if (span.file < program.sources.size() && span.line > 0) {
      // The expression as written, when it sits on one line (multi-line spans have length 1).
      std::string_view source = program.sources[span.file];
      size_t offset = 0;
      for (uint32_t line = 1; line < span.line && offset != std::string_view::npos; ++line) {
        offset = source.find('\n', offset);
        if (offset != std::string_view::npos) ++offset;
      }
      const size_t length = span.end_column > span.column ? span.end_column - span.column : 0;
      if (offset != std::string_view::npos && span.column > 0 &&
          offset + span.column - 1 + length <= source.size()) {
        text = std::string(source.substr(offset + span.column - 1, length));
        // A call's or a set's extent ends at its last element: close its brackets.
        size_t end = offset + span.column - 1 + length;
        int open = 0;
        for (char c : text) open += (c == '(' || c == '{') ? 1 : (c == ')' || c == '}') ? -1 : 0;
        while (open > 0 && end < source.size() && source[end] != '\n') {
          const char c = source[end++];
          text.push_back(c);
          if (c == ')' || c == '}') --open;
        }
      }
    }
    if (text.empty() && span.line == 0) text = "at is within the effective dates";
    if (text.empty()) {
      const std::string& file = span.file < program.files.size() ? program.files[span.file] : "?";
      text = absl::StrCat("the value computed at ", file, ":", span.line);
    }
    register_names[reg] = std::move(text);
  }
}

void AppendHex(const uint8_t* bytes, size_t size, std::string* out) {
  static const char kHex[] = "0123456789abcdef";
  const size_t at = out->size();
  out->resize(at + 2 * size);
  char* p = out->data() + at;
  for (size_t i = 0; i < size; ++i) {
    p[2 * i] = kHex[bytes[i] >> 4];
    p[2 * i + 1] = kHex[bytes[i] & 15];
  }
}

std::string Hex(const uint8_t* bytes, size_t size) {
  std::string hex;
  AppendHex(bytes, size, &hex);
  return hex;
}

void FactsDigest(const RuleSet::Catalog& catalog, const Facts& facts, std::string& scratch,
                 uint8_t out[32]) {
  DigestWriter w(scratch);
  w.Bytes("lawful facts v2");
  for (size_t i = 0; i < facts.slots.size(); ++i) {
    w.Value(facts, i < catalog.slots.size() ? catalog.slots[i].kind : FactKind::kInt,
            facts.slots[i]);
  }
  for (size_t l = 0; l < facts.lists.size() && l < catalog.lists.size(); ++l) {
    const FactList& list = facts.lists[l];
    const ListInfo& info = catalog.lists[l];
    w.Varint(static_cast<uint64_t>(list.count));
    const size_t width = info.records ? std::max<size_t>(info.fields.size(), 1) : 1;
    for (size_t k = 0; k < list.data.size(); ++k) {
      const FactKind kind = info.records ? info.fields[k % width].kind : info.element.kind;
      w.Value(facts, kind, list.data[k]);
    }
  }
  const std::string_view encoded = w.written();
  // SHA-256 without the EVP layer, which allocates a context per call: that cost as much as
  // hashing a contact's ~150 bytes.
  SHA256_CTX ctx;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, encoded.data(), encoded.size());
  SHA256_Final(out, &ctx);
}

Decision Conclude(const Program& p, const RuleSet::Catalog& catalog, const Facts& facts,
                  const vm::Result& r, bool digest, std::string& scratch) {
  Decision d;
  d.rule = &p.rules[r.rule];
  d.outcome = d.rule->outcome;
  d.valid_until = r.valid_until;
  if (d.rule->evidence_list >= 0 && r.evidence >= 0) {
    const FactList& list = facts.lists[d.rule->evidence_list];
    const ListLayout& layout = p.layout.lists[d.rule->evidence_list];
    if (r.evidence < list.count) {
      d.evidence_index = static_cast<int32_t>(r.evidence);
      if (layout.id_slot >= 0) {
        int64_t id = list.data[r.evidence * layout.width + layout.id_slot];
        if (id >= 0 && static_cast<size_t>(id) < facts.strings.size())
          d.evidence_id = std::string(facts.strings[id]);
      }
    }
  }
  if (digest) {
    FactsDigest(catalog, facts, scratch, d.facts_digest);
    d.has_facts_digest = true;
  }
  return d;
}

std::string Display(const Program& program, const Facts& facts, const FactInfo& info, int64_t v) {
  switch (info.kind) {
    case FactKind::kInstant:
      return calendar::FormatInstant(v);
    case FactKind::kDate:
      return calendar::FormatDate(v);
    case FactKind::kBool:
      return v == kMissing ? "missing" : (v != 0 ? "true" : "false");
    case FactKind::kPurpose:
      if (v == kMissing) return "missing";
      return v >= 0 && static_cast<size_t>(v) < program.purposes.size() ? program.purposes[v]
                                                                        : "an undeclared purpose";
    case FactKind::kString: {
      if (v == kMissing) return "missing";
      std::string_view s;
      if (v >= 0 && static_cast<size_t>(v) < facts.strings.size()) s = facts.strings[v];
      if (v < 0 && static_cast<size_t>(-(v + 1)) < program.strings.size())
        s = program.strings[-(v + 1)];
      return absl::StrCat("\"", absl::CHexEscape(std::string(s)), "\"");
    }
    case FactKind::kEnum:
      if (v == kMissing) return "missing";
      if (info.enum_type != nullptr && v >= INT32_MIN && v <= INT32_MAX) {
        if (const auto* value = info.enum_type->FindValueByNumber(static_cast<int>(v)))
          return ShortEnumName(*value);
      }
      return absl::StrCat(v);
    default:
      return v == kMissing ? "missing" : absl::StrCat(v);
  }
}

// The `index`th occurrence of length-delimited field `number` in `message`.
bool NthField(std::string_view message, uint32_t number, int32_t index, std::string_view& out) {
  wire::Reader r(message);
  int32_t seen = 0;
  while (!r.done()) {
    uint32_t field, type;
    if (!r.Tag(field, type)) return false;
    if (field == number && type == wire::kLengthDelimited) {
      if (!r.Bytes(out)) return false;
      if (seen++ == index) return true;
    } else if (!r.Skip(field, type)) {
      return false;
    }
  }
  return false;
}

}  // namespace lawful
