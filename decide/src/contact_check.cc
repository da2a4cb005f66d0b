// Contact checking on wire bytes: the one place that says whether a contact can be read exactly.
// Driven by the lawful.v1.Contact descriptor (field types, the `required` option), so a field
// added to contact.proto is checked without code here.
#include <algorithm>
#include <bit>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "lawful/decide.h"
#include "lawful/v1/contact.pb.h"

namespace lawful::decide {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// How a field's value sits on the wire.
enum class Shape : uint8_t { kString, kBytes, kVarint, kFixed32, kFixed64, kMessage, kTimestamp };

struct FieldRule {
  uint32_t number = 0;
  Shape shape = Shape::kVarint;
  bool repeated = false;
  int32_t message = -1;  // kMessage: index into Schema::messages
  // Owned by the descriptor pool, which lives as long as the process; pointers keep a rule small,
  // so the walk's lookups stay in few cache lines.
  const std::string* required = nullptr;  // the `required` option's text; null: optional
  const std::string* name = nullptr;      // for paths
  // Where the walk keeps what it must know of this field at the message's end; -1: nothing.
  int8_t required_bit = -1;    // required: its bit in the message's set-fields mask
  int8_t element_slot = -1;    // repeated: its element counter (for paths)
  int8_t timestamp_slot = -1;  // a singular timestamp: its merged value, checked at the end
};

struct MessageRules {
  std::vector<FieldRule> fields;
  std::vector<int16_t> by_number;  // field number -> index into fields, -1 for unknown numbers
  uint64_t required_mask = 0;
  int8_t element_slots = 0;
  int8_t timestamp_slots = 0;
};

// The rules of lawful.v1.Contact and the messages inside it, built once.
class Schema {
 public:
  static const Schema& Contact() {
    static const Schema* const schema = new Schema(lawful::v1::Contact::descriptor());
    return *schema;
  }
  const MessageRules& message(int32_t index) const { return messages_[index]; }

 private:
  explicit Schema(const Descriptor* contact) { Add(contact); }

  int32_t Add(const Descriptor* type) {
    for (size_t i = 0; i < types_.size(); ++i) {
      if (types_[i] == type) return static_cast<int32_t>(i);
    }
    const int32_t index = static_cast<int32_t>(messages_.size());
    types_.push_back(type);
    messages_.emplace_back();
    MessageRules rules;
    uint32_t max_number = 0;
    for (int i = 0; i < type->field_count(); ++i) {
      const FieldDescriptor* fd = type->field(i);
      FieldRule rule;
      rule.number = static_cast<uint32_t>(fd->number());
      rule.repeated = fd->is_repeated();
      rule.name = &fd->name();
      if (fd->options().HasExtension(lawful::v1::required)) {
        rule.required = &fd->options().GetExtension(lawful::v1::required);
      }
      switch (fd->type()) {
        case FieldDescriptor::TYPE_STRING:
          rule.shape = Shape::kString;
          break;
        case FieldDescriptor::TYPE_BYTES:
          rule.shape = Shape::kBytes;
          break;
        case FieldDescriptor::TYPE_FIXED32:
        case FieldDescriptor::TYPE_SFIXED32:
        case FieldDescriptor::TYPE_FLOAT:
          rule.shape = Shape::kFixed32;
          break;
        case FieldDescriptor::TYPE_FIXED64:
        case FieldDescriptor::TYPE_SFIXED64:
        case FieldDescriptor::TYPE_DOUBLE:
          rule.shape = Shape::kFixed64;
          break;
        case FieldDescriptor::TYPE_MESSAGE:
          if (fd->message_type()->full_name() == "google.protobuf.Timestamp") {
            rule.shape = Shape::kTimestamp;
          } else {
            rule.shape = Shape::kMessage;
            rule.message = Add(fd->message_type());
          }
          break;
        default:
          rule.shape = Shape::kVarint;
          break;  // integers, enums, booleans
      }
      max_number = std::max(max_number, rule.number);
      rules.fields.push_back(std::move(rule));
    }
    // The walk's per-message state is a few words, not a record a field: every record of every
    // contact is walked. A message type with more than 64 required, repeated or singular
    // timestamp fields would need a wider state; none comes near.
    for (FieldRule& rule : rules.fields) {
      if (rule.required != nullptr && rules.required_mask != ~uint64_t{0}) {
        rule.required_bit = static_cast<int8_t>(std::countr_one(rules.required_mask));
        rules.required_mask |= uint64_t{1} << rule.required_bit;
      }
      if (rule.repeated && rules.element_slots < 64) rule.element_slot = rules.element_slots++;
      if (rule.shape == Shape::kTimestamp && !rule.repeated && rules.timestamp_slots < 64) {
        rule.timestamp_slot = rules.timestamp_slots++;
      }
    }
    rules.by_number.assign(max_number + 1, -1);
    for (size_t i = 0; i < rules.fields.size(); ++i) {
      rules.by_number[rules.fields[i].number] = static_cast<int16_t>(i);
    }
    messages_[index] = std::move(rules);
    return index;
  }

  std::vector<const Descriptor*> types_;
  std::vector<MessageRules> messages_;
};

// One step of the path to the value being checked; a chain of stack frames, so that a path
// string is built only for a problem.
struct Step {
  const Step* parent;
  const FieldRule* field;
  int32_t index;  // the element of a repeated field, or -1
};

constexpr char kMalformed[] = "the message is truncated or malformed";

class Checker {
 public:
  explicit Checker(const Schema& schema) : schema_(schema) {}

  // Checks the message `type` in `bytes`, found at `at` (null: the contact itself). A malformed
  // message is reported at itself; nothing after the fault can be read.
  void Message(int32_t type, std::string_view bytes, const Step* at) {
    const MessageRules& rules = schema_.message(type);
    // What the end of the message needs: which required fields are set as a parse would leave
    // them (the last occurrence of a scalar, any occurrence of a message), the elements of each
    // repeated field so far, and each singular timestamp merged over its occurrences, field by
    // field, as a parse does. On the stack: a heap allocation a record would cost more than
    // the check.
    struct MergedTimestamp {
      bool seen = false;
      int64_t seconds = 0;
      int64_t nanos = 0;
    };
    uint64_t set = 0;
    absl::InlinedVector<int32_t, 8> elements(static_cast<size_t>(rules.element_slots), 0);
    absl::InlinedVector<MergedTimestamp, 4> timestamps(static_cast<size_t>(rules.timestamp_slots));
    wire::Reader r(bytes);
    while (!r.done()) {
      uint32_t number, wire_type;
      if (!r.Tag(number, wire_type)) return Report(at, nullptr, -1, kMalformed);
      const int16_t index = number < rules.by_number.size() ? rules.by_number[number] : -1;
      if (index < 0) {  // unknown field numbers are skipped, as a parse keeps them unread
        if (!r.Skip(number, wire_type)) return Report(at, nullptr, -1, kMalformed);
        continue;
      }
      const FieldRule& field = rules.fields[index];
      const int32_t element = field.element_slot >= 0 ? elements[field.element_slot]++ : -1;
      bool present = true;  // whether this occurrence leaves the field set
      std::string_view body;
      uint64_t v;
      switch (field.shape) {
        case Shape::kVarint:
          if (field.repeated && wire_type == wire::kLengthDelimited) {  // packed
            if (!r.Bytes(body)) return Report(at, &field, -1, kMalformed);
            int32_t& count = elements[field.element_slot];
            --count;
            for (wire::Reader packed(body); !packed.done(); ++count) {
              if (!packed.Varint(v)) return Report(at, &field, -1, "the packed list is malformed");
            }
            present = !body.empty();
            break;
          }
          if (wire_type != wire::kVarint) return WrongType(at, field, element, "an integer");
          if (!r.Varint(v)) return Report(at, &field, element, kMalformed);
          present = v != 0;
          break;
        case Shape::kFixed32:
        case Shape::kFixed64: {
          const uint32_t expected =
              field.shape == Shape::kFixed32 ? wire::kFixed32 : wire::kFixed64;
          if (wire_type != expected) return WrongType(at, field, element, "a fixed-size number");
          if (!r.Skip(number, wire_type)) return Report(at, &field, element, kMalformed);
          break;
        }
        case Shape::kString:
        case Shape::kBytes:
          if (wire_type != wire::kLengthDelimited) return WrongType(at, field, element, "a string");
          if (!r.Bytes(body)) return Report(at, &field, element, kMalformed);
          present = !body.empty();
          if (field.shape == Shape::kString && !IsValidUtf8(body)) {
            Report(at, &field, element, "the text is not valid UTF-8");
            if (at == nullptr && number == lawful::v1::Contact::kIdFieldNumber) id_valid_ = false;
          } else if (at == nullptr && number == lawful::v1::Contact::kIdFieldNumber) {
            id_ = body;  // the last occurrence, as a parse keeps it
          }
          break;
        case Shape::kTimestamp: {
          if (wire_type != wire::kLengthDelimited)
            return WrongType(at, field, element, "a timestamp");
          if (!r.Bytes(body)) return Report(at, &field, element, kMalformed);
          const Step here{at, &field, element};
          if (field.timestamp_slot < 0) {
            int64_t seconds = 0, nanos = 0;
            if (Timestamp(body, &here, &seconds, &nanos)) Range(at, field, element, seconds, nanos);
          } else {
            MergedTimestamp& t = timestamps[field.timestamp_slot];
            t.seen = Timestamp(body, &here, &t.seconds, &t.nanos) || t.seen;
          }
          break;
        }
        case Shape::kMessage: {
          if (wire_type != wire::kLengthDelimited)
            return WrongType(at, field, element, "a message");
          if (!r.Bytes(body)) return Report(at, &field, element, kMalformed);
          const Step here{at, &field, element};
          Message(field.message, body, &here);  // a malformed record is reported at the record
          break;
        }
      }
      if (field.required_bit >= 0) {
        const uint64_t bit = uint64_t{1} << field.required_bit;
        set = present ? set | bit : set & ~bit;
      }
    }
    if (rules.timestamp_slots == 0 && (set & rules.required_mask) == rules.required_mask) return;
    for (const FieldRule& field : rules.fields) {
      if (field.timestamp_slot >= 0 && timestamps[field.timestamp_slot].seen) {
        const MergedTimestamp& t = timestamps[field.timestamp_slot];
        Range(at, field, -1, t.seconds, t.nanos);
      }
      if (field.required_bit >= 0 && (set & (uint64_t{1} << field.required_bit)) == 0) {
        Report(at, &field, -1, *field.required);
      }
    }
  }

  std::string_view id() const { return id_valid_ ? id_ : std::string_view(); }
  bool has_problem() const { return has_problem_; }
  ContactProblem TakeProblem() { return std::move(problem_); }

 private:
  // Merges a google.protobuf.Timestamp's seconds (1) and nanos (2) into `seconds` and `nanos`.
  // False when it is malformed (reported at `here`).
  bool Timestamp(std::string_view body, const Step* here, int64_t* seconds, int64_t* nanos) {
    wire::Reader r(body);
    while (!r.done()) {
      uint32_t number, wire_type;
      uint64_t v;
      if (!r.Tag(number, wire_type)) return Report(here, nullptr, -1, kMalformed), false;
      if (number != 1 && number != 2) {
        if (!r.Skip(number, wire_type)) return Report(here, nullptr, -1, kMalformed), false;
        continue;
      }
      if (wire_type != wire::kVarint || !r.Varint(v)) {
        return Report(here, nullptr, -1, "the timestamp's seconds and nanos must be integers"),
               false;
      }
      if (number == 1) *seconds = static_cast<int64_t>(v);
      if (number == 2) *nanos = static_cast<int32_t>(v);
    }
    return true;
  }

  void Range(const Step* at, const FieldRule& field, int32_t element, int64_t seconds,
             int64_t nanos) {
    if (const char* problem = TimestampProblem(seconds, nanos)) {
      Report(at, &field, element, problem);
    }
  }

  void WrongType(const Step* at, const FieldRule& field, int32_t element, const char* expected) {
    Report(at, &field, element, absl::StrCat("expected ", expected, " (wrong wire type)"));
  }

  // Keeps the problem that comes first in the contact's canonical order (by field number, then
  // element), so a contact gets the same problem whatever order its fields come in.
  void Report(const Step* at, const FieldRule* field, int32_t element, std::string_view message) {
    std::vector<const Step*> chain;
    for (const Step* s = at; s != nullptr; s = s->parent) chain.push_back(s);
    std::reverse(chain.begin(), chain.end());
    std::vector<std::pair<uint32_t, int32_t>> key;
    for (const Step* s : chain) key.emplace_back(s->field->number, s->index);
    if (field != nullptr) key.emplace_back(field->number, element);
    if (has_problem_ && !(key < problem_key_)) return;
    std::string path;
    auto append = [&path](const FieldRule& f, int32_t index) {
      if (!path.empty()) path += '.';
      path += *f.name;
      if (index >= 0) absl::StrAppend(&path, "[", index, "]");
    };
    for (const Step* s : chain) append(*s->field, s->index);
    if (field != nullptr) append(*field, element);
    has_problem_ = true;
    problem_key_ = std::move(key);
    problem_ = ContactProblem{std::move(path), std::string(message)};
  }

  const Schema& schema_;
  std::string_view id_;
  bool id_valid_ = true;
  bool has_problem_ = false;
  std::vector<std::pair<uint32_t, int32_t>> problem_key_;
  ContactProblem problem_;
};

}  // namespace

std::optional<ContactProblem> CheckContact(std::string_view bytes, std::string_view* id) {
  Checker checker(Schema::Contact());
  checker.Message(0, bytes, nullptr);
  *id = checker.id();
  if (!checker.has_problem()) return std::nullopt;
  return checker.TakeProblem();
}

}  // namespace lawful::decide
