// The fact decoder reads only the fields the rules use, straight from the wire format: no
// protobuf parse, no reflection, no field-name lookups per contact.
#include "facts.h"

#include <limits>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "calendar.h"
#include "lawful/v1/contact.pb.h"

namespace lawful {
namespace {

// Marks a singular date or instant slot whose latest occurrence was malformed (see Pending). No
// decoded value is this: dates are YYYYMMDD, and FromTimestamp's lowest value is INT64_MIN + 1
// (saturated) with the next lowest far above.
constexpr int64_t kMalformed = std::numeric_limits<int64_t>::min() + 2;

// Reads a google.protobuf.Timestamp over `seconds` and `nanos`: protobuf merges a message that
// occurs again into the one before it, field by field, so each field read replaces only itself.
bool MergeTimestamp(std::string_view bytes, int64_t& seconds, int32_t& nanos) {
  wire::Reader r(bytes);
  while (!r.done()) {
    uint32_t number, type;
    if (!r.Tag(number, type)) return false;
    if (number != 1 && number != 2) {
      if (!r.Skip(number, type)) return false;
      continue;
    }
    uint64_t v;
    if (type != wire::kVarint || !r.Varint(v)) return false;
    if (number == 1) seconds = static_cast<int64_t>(v);
    if (number == 2) nanos = static_cast<int32_t>(v);
  }
  return true;
}

bool DecodeTimestamp(std::string_view bytes, int64_t& out, const char*& problem) {
  int64_t seconds = 0;
  int32_t nanos = 0;
  problem = "expected a timestamp";
  if (!MergeTimestamp(bytes, seconds, nanos)) return false;
  problem = TimestampProblem(seconds, nanos);
  if (problem != nullptr) return false;
  out = calendar::FromTimestamp(seconds, nanos);
  return true;
}

constexpr char kNotUtf8[] = "the text is not valid UTF-8";

// Within these seconds (years 1685..2255, inside the instant range) FromTimestamp neither
// saturates nor loses the nanos, so SplitInstant gives a decoded slot's seconds and nanos back.
constexpr int64_t kExactSeconds = 9'000'000'000;

bool ExactSeconds(int64_t seconds) { return seconds >= -kExactSeconds && seconds <= kExactSeconds; }

void SplitInstant(int64_t instant, int64_t& seconds, int32_t& nanos) {
  constexpr int64_t kNanosPerSecond = 1'000'000'000;
  seconds = instant / kNanosPerSecond;
  int64_t rest = instant % kNanosPerSecond;
  if (rest < 0) {
    rest += kNanosPerSecond;
    --seconds;
  }
  nanos = static_cast<int32_t>(rest);
}

std::string NotADate(std::string_view s) {
  return absl::StrCat("`", absl::CHexEscape(std::string(s.substr(0, 40))),
                      "` is not a date of the form YYYY-MM-DD");
}

int64_t DefaultOf(FactKind kind) {
  switch (kind) {
    case FactKind::kInstant:
    case FactKind::kDate:
      return kMissing;
    case FactKind::kPurpose:
      return -1;
    default:
      return 0;  // ints, bools, enums; strings: index 0, the empty string
  }
}

// Fills the defaults of every slot reachable from `message` (nested messages share the slots).
void FillDefaults(const FactLayout& layout, int32_t message, std::vector<int64_t>& defaults) {
  for (const FactField& f : layout.messages[message].fields) {
    if (f.kind == FactKind::kMessage) {
      FillDefaults(layout, f.message, defaults);
    } else if (f.kind != FactKind::kRecordList && f.kind != FactKind::kScalarList) {
      if (f.slot >= 0 && static_cast<size_t>(f.slot) < defaults.size())
        defaults[f.slot] = DefaultOf(f.kind);
    }
  }
}

// Fills enums[m] for the layout message `message`, described by `type` (nested messages too).
void FindEnums(const FactLayout& layout, int32_t message, const google::protobuf::Descriptor* type,
               std::vector<std::vector<EnumValues>>& enums) {
  if (message < 0 || static_cast<size_t>(message) >= layout.messages.size()) return;
  const std::vector<FactField>& fields = layout.messages[message].fields;
  if (enums[message].size() == fields.size()) return;  // reached before
  enums[message].assign(fields.size(), EnumValues{});
  for (size_t i = 0; i < fields.size(); ++i) {
    const FactField& f = fields[i];
    const google::protobuf::FieldDescriptor* fd =
        type != nullptr ? type->FindFieldByNumber(static_cast<int>(f.number)) : nullptr;
    if (fd == nullptr) continue;
    if (f.kind == FactKind::kMessage || f.kind == FactKind::kRecordList) {
      FindEnums(layout, f.message, fd->message_type(), enums);
    } else if (const google::protobuf::EnumDescriptor* e = fd->enum_type(); e != nullptr) {
      EnumValues& values = enums[message][i];
      values.type = e;
      for (int v = 0; v < e->value_count(); ++v) {
        const int number = e->value(v)->number();
        if (number >= 0 && number < 64) values.small |= uint64_t{1} << number;
      }
    }
  }
}

}  // namespace

std::string NotDeclared(const EnumValues& values, int32_t number) {
  return absl::StrCat("`", number, "` is not a value of ",
                      values.type != nullptr ? values.type->full_name() : "the enum");
}

// The path to the field being decoded, kept as a chain of stack frames so that building the
// "consents[2].granted_at" string costs nothing unless there is an error.
struct FactDecoder::Frame {
  const Frame* parent;
  const std::string* name;
  int32_t index;  // -1 for a singular field
};

// A singular date or instant slot of the scope being decoded (the contact, or one record) that
// the slot alone cannot describe. Protobuf keeps a singular field's last occurrence and merges a
// message's occurrences field by field; the message path (Evaluator::Decide on a parsed Contact)
// decodes that one merged value, so the bytes must decide as it does:
// - its latest occurrence left it malformed: the slot holds kMalformed and the decode fails with
//   this error unless a later occurrence makes the field valid again;
// - a timestamp whose seconds are not ExactSeconds: the slot's instant does not give the parts
//   back, and a later occurrence merges into them.
// Entries exist only for such fields: a canonical encoding (each field once) of a contact whose
// timestamps fall within ExactSeconds has none.
struct FactDecoder::Pending {
  const int64_t* slot = nullptr;  // where the field is decoded to: identifies it in its scope
  int64_t seconds = 0;            // kInstant: the merged timestamp so far
  int32_t nanos = 0;
  bool malformed = false;
  std::string path;  // when malformed: the error the decode ends with
  std::string message;
};

namespace {
std::string PathOf(const FactDecoder::Frame* frame, const std::string& leaf);

FactDecoder::Pending* FindPending(FactDecoder::PendingList& pending, const int64_t* slot) {
  for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
    if (it->slot == slot) return &*it;
  }
  return nullptr;
}

FactDecoder::Pending& AddPending(FactDecoder::PendingList& pending, const int64_t* slot) {
  FactDecoder::Pending& entry = pending.emplace_back();
  entry.slot = slot;
  return entry;
}

void ErasePending(FactDecoder::PendingList& pending, FactDecoder::Pending* entry) {
  pending.erase(pending.begin() + (entry - pending.data()));
}

// Sets `error` to the first field from `mark` on whose latest occurrence is malformed, if any.
bool FirstMalformed(FactDecoder::PendingList& pending, size_t mark, FactDecoder::Error& error) {
  for (size_t i = mark; i < pending.size(); ++i) {
    if (pending[i].malformed) {
      error.path = std::move(pending[i].path);
      error.message = std::move(pending[i].message);
      return true;
    }
  }
  return false;
}

// Ends the scope of the entries from `mark` on: an error if a field there was left malformed
// (reported as the first malformed value met, which may be in an enclosing scope), else they are
// dropped (a record's slots may move once the next record is added).
bool SettlePending(FactDecoder::PendingList& pending, size_t mark, FactDecoder::Error& error) {
  for (size_t i = mark; i < pending.size(); ++i) {
    if (pending[i].malformed) return !FirstMalformed(pending, 0, error);
  }
  pending.resize(mark);
  return true;
}
}  // namespace

FactDecoder::FactDecoder(const FactLayout& layout, const std::vector<std::string>& purposes)
    : layout_(layout) {
  contact_defaults_.assign(layout.contact_slots, 0);
  record_defaults_.resize(layout.lists.size());
  for (size_t i = 0; i < layout.lists.size(); ++i)
    record_defaults_[i].assign(layout.lists[i].width, 0);
  if (!layout.messages.empty()) {
    FillDefaults(layout, 0, contact_defaults_);
    // Each record list's element message fills its own defaults.
    for (const MessageLayout& m : layout.messages) {
      for (const FactField& f : m.fields) {
        if (f.kind == FactKind::kRecordList && f.slot >= 0 &&
            static_cast<size_t>(f.slot) < record_defaults_.size()) {
          FillDefaults(layout, f.message, record_defaults_[f.slot]);
        }
      }
    }
  }
  for (size_t i = 0; i < purposes.size(); ++i) purpose_ids_[purposes[i]] = static_cast<int32_t>(i);
  enums_.resize(layout.messages.size());
  FindEnums(layout, 0, lawful::v1::Contact::descriptor(), enums_);
  for (size_t m = 0; m < layout.messages.size(); ++m) {
    enums_[m].resize(layout.messages[m].fields.size());  // messages no path reaches
  }
}

bool FactDecoder::Decode(std::string_view bytes, Facts& facts, Error& error) const {
  facts.slots.assign(contact_defaults_.begin(), contact_defaults_.end());
  facts.lists.resize(layout_.lists.size());
  for (FactList& list : facts.lists) {
    list.data.clear();
    list.count = 0;
  }
  facts.strings.clear();
  facts.strings.emplace_back();
  if (layout_.messages.empty()) return true;
  PendingList pending;
  if (!DecodeMessage(0, bytes, facts.slots.data(), facts, nullptr, pending, error)) return false;
  return pending.empty() || SettlePending(pending, 0, error);
}

bool FactDecoder::DecodeMessage(int32_t message, std::string_view bytes, int64_t* slots,
                                Facts& facts, Frame* parent, PendingList& pending,
                                Error& error) const {
  const MessageLayout& layout = layout_.messages[message];
  wire::Reader r(bytes);
  auto fail = [&](const FactField* f, std::string message_text) {
    // A malformed value met before this error was the first error, and still is.
    if (FirstMalformed(pending, 0, error)) return false;
    static const std::string kUnknown = "?";
    error.path = PathOf(parent, f ? f->name : kUnknown);
    error.message = std::move(message_text);
    return false;
  };
  while (!r.done()) {
    uint32_t number, wire_type;
    if (!r.Tag(number, wire_type)) return fail(nullptr, "the message is truncated or malformed");
    const FactField* field = nullptr;
    for (const FactField& f : layout.fields) {
      if (f.number == number) {
        field = &f;
        break;
      }
    }
    if (field == nullptr) {
      if (!r.Skip(number, wire_type)) return fail(nullptr, "the message is truncated or malformed");
      continue;
    }
    const FactField& f = *field;
    auto scalar = [&](FactKind kind, int64_t& out, std::string_view* text) -> bool {
      switch (kind) {
        case FactKind::kInt:
        case FactKind::kBool:
        case FactKind::kEnum: {
          uint64_t v;
          if (wire_type != wire::kVarint || !r.Varint(v)) return fail(&f, "expected an integer");
          out = kind == FactKind::kBool ? (v != 0) : static_cast<int64_t>(v);
          if (kind == FactKind::kEnum) {
            out = static_cast<int32_t>(v);
            const EnumValues& values = enums_[message][&f - layout.fields.data()];
            if (!values.Declares(out)) return fail(&f, NotDeclared(values, out));
          }
          return true;
        }
        case FactKind::kInstant: {
          std::string_view body;
          const char* problem = "expected a timestamp";
          if (wire_type != wire::kLengthDelimited || !r.Bytes(body) ||
              !DecodeTimestamp(body, out, problem)) {
            return fail(&f, problem);
          }
          return true;
        }
        case FactKind::kDate: {
          std::string_view s;
          if (wire_type != wire::kLengthDelimited || !r.Bytes(s))
            return fail(&f, "expected a date string");
          if (s.empty()) {
            out = kMissing;
            return true;
          }
          auto date = calendar::ParseDate(s);
          if (!date) return fail(&f, NotADate(s));
          out = *date;
          return true;
        }
        case FactKind::kString: {
          std::string_view s;
          if (wire_type != wire::kLengthDelimited || !r.Bytes(s))
            return fail(&f, "expected a string");
          if (!IsValidUtf8(s)) return fail(&f, kNotUtf8);
          out = static_cast<int64_t>(facts.strings.size());
          facts.strings.push_back(s);
          if (text) *text = s;
          return true;
        }
        case FactKind::kPurpose: {
          std::string_view s;
          if (wire_type != wire::kLengthDelimited || !r.Bytes(s)) {
            return fail(&f, "expected a purpose name");
          }
          if (!IsValidUtf8(s)) return fail(&f, kNotUtf8);
          auto it = purpose_ids_.find(absl::string_view(s.data(), s.size()));
          out = it == purpose_ids_.end() ? -1 : it->second;
          return true;
        }
        default:
          return fail(&f, "unsupported field kind");
      }
    };
    // A repeated integer, boolean or enum: an enum number its type does not declare is an error,
    // reported at the element ("suppressions[2]").
    auto list_element = [&](const FactField& list_field, FactList& list, uint64_t v) -> bool {
      if (list_field.element == FactKind::kEnum) {
        const int32_t value = static_cast<int32_t>(v);
        const EnumValues& values = enums_[message][&list_field - layout.fields.data()];
        if (!values.Declares(value)) {
          if (FirstMalformed(pending, 0, error)) return false;
          error.path = absl::StrCat(PathOf(parent, list_field.name), "[", list.count, "]");
          error.message = NotDeclared(values, value);
          return false;
        }
        list.data.push_back(value);
      } else {
        list.data.push_back(static_cast<int64_t>(v));
      }
      ++list.count;
      return true;
    };
    switch (f.kind) {
      case FactKind::kMessage: {
        std::string_view body;
        if (wire_type != wire::kLengthDelimited || !r.Bytes(body))
          return fail(&f, "expected a message");
        Frame frame{parent, &f.name, -1};
        if (!DecodeMessage(f.message, body, slots, facts, &frame, pending, error)) return false;
        break;
      }
      case FactKind::kRecordList: {
        std::string_view body;
        if (wire_type != wire::kLengthDelimited || !r.Bytes(body))
          return fail(&f, "expected a message");
        FactList& list = facts.lists[f.slot];
        const std::vector<int64_t>& defaults = record_defaults_[f.slot];
        const size_t base = list.data.size();
        list.data.insert(list.data.end(), defaults.begin(), defaults.end());
        Frame frame{parent, &f.name, list.count};
        ++list.count;
        const size_t mark = pending.size();
        if (!DecodeMessage(f.message, body, list.data.data() + base, facts, &frame, pending,
                           error)) {
          return false;
        }
        // Each record is a message of its own: no later occurrence can reach its fields.
        if (pending.size() > mark && !SettlePending(pending, mark, error)) return false;
        break;
      }
      case FactKind::kScalarList: {
        FactList& list = facts.lists[f.slot];
        const bool packable = f.element == FactKind::kInt || f.element == FactKind::kBool ||
                              f.element == FactKind::kEnum;
        if (packable && wire_type == wire::kLengthDelimited) {
          std::string_view body;
          if (!r.Bytes(body)) return fail(&f, "the packed list is truncated");
          wire::Reader packed(body);
          while (!packed.done()) {
            uint64_t v;
            if (!packed.Varint(v)) return fail(&f, "the packed list is malformed");
            if (!list_element(f, list, v)) return false;
          }
        } else {
          if (packable) {
            uint64_t v;
            if (wire_type != wire::kVarint || !r.Varint(v)) return fail(&f, "expected an integer");
            if (!list_element(f, list, v)) return false;
          } else {
            int64_t v;
            if (!scalar(f.element, v, nullptr)) return false;
            list.data.push_back(v);
            ++list.count;
          }
        }
        break;
      }
      // A singular date or instant that occurs again replaces (a date) or merges into (a
      // timestamp) the occurrence before, which decides only if it is the last (see Pending).
      case FactKind::kInstant: {
        std::string_view body;
        if (wire_type != wire::kLengthDelimited || !r.Bytes(body)) {
          return fail(&f, "expected a timestamp");
        }
        int64_t& slot = slots[f.slot];
        int64_t seconds = 0;
        int32_t nanos = 0;
        Pending* kept = nullptr;
        if (slot != kMissing) {  // it occurred before (a present timestamp is never kMissing)
          kept = FindPending(pending, &slot);
          if (kept != nullptr) {
            seconds = kept->seconds;
            nanos = kept->nanos;
          } else {
            SplitInstant(slot, seconds, nanos);
          }
        }
        if (!MergeTimestamp(body, seconds, nanos)) return fail(&f, "expected a timestamp");
        const char* const problem = TimestampProblem(seconds, nanos);
        const bool valid = problem == nullptr;
        if (valid && ExactSeconds(seconds)) {
          slot = calendar::FromTimestamp(seconds, nanos);
          if (kept != nullptr) ErasePending(pending, kept);
          break;
        }
        if (kept == nullptr) kept = &AddPending(pending, &slot);
        kept->seconds = seconds;
        kept->nanos = nanos;
        kept->malformed = !valid;
        if (valid) {
          slot = calendar::FromTimestamp(seconds, nanos);
        } else {
          slot = kMalformed;
          kept->path = PathOf(parent, f.name);
          kept->message = problem;
        }
        break;
      }
      case FactKind::kDate: {
        std::string_view s;
        if (wire_type != wire::kLengthDelimited || !r.Bytes(s))
          return fail(&f, "expected a date string");
        int64_t& slot = slots[f.slot];
        Pending* kept = slot == kMalformed ? FindPending(pending, &slot) : nullptr;
        const std::optional<int64_t> date = s.empty() ? kMissing : calendar::ParseDate(s);
        if (date) {
          slot = *date;
          if (kept != nullptr) ErasePending(pending, kept);
          break;
        }
        if (kept == nullptr) kept = &AddPending(pending, &slot);
        slot = kMalformed;
        kept->malformed = true;
        kept->path = PathOf(parent, f.name);
        kept->message = NotADate(s);
        break;
      }
      default: {
        int64_t v;
        if (!scalar(f.kind, v, nullptr)) return false;
        slots[f.slot] = v;
        break;
      }
    }
  }
  return true;
}

namespace {
std::string PathOf(const FactDecoder::Frame* frame, const std::string& leaf) {
  std::vector<const FactDecoder::Frame*> chain;
  for (; frame != nullptr; frame = frame->parent) chain.push_back(frame);
  std::string path;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    absl::StrAppend(&path, *(*it)->name);
    if ((*it)->index >= 0) absl::StrAppend(&path, "[", (*it)->index, "]");
    path += '.';
  }
  return path + leaf;
}
}  // namespace

}  // namespace lawful
