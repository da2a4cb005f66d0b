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

namespace lawful {
namespace {

// Marks a singular date or instant slot whose latest occurrence was malformed (see Pending). No
// decoded value is this: dates are YYYYMMDD, and FromTimestamp's lowest value is INT64_MIN + 1
// (saturated) with the next lowest far above.
constexpr int64_t kMalformed = std::numeric_limits<int64_t>::min() + 2;

// Reads a google.protobuf.Timestamp over `seconds` and `nanos`: protobuf merges a message that
// occurs again into the one before it, field by field, so each field read replaces only itself.
bool MergeTimestamp(std::string_view bytes, int64_t& seconds, int32_t& nanos) {
  WireReader r(bytes);
  while (!r.done()) {
    uint64_t tag, v;
    if (!r.Varint(tag)) return false;
    if ((tag & 7) != kVarint) {
      if (!r.Skip(tag & 7)) return false;
      continue;
    }
    if (!r.Varint(v)) return false;
    if ((tag >> 3) == 1) seconds = static_cast<int64_t>(v);
    if ((tag >> 3) == 2) nanos = static_cast<int32_t>(v);
  }
  return true;
}

bool ValidNanos(int32_t nanos) { return nanos >= 0 && nanos <= 999'999'999; }

bool DecodeTimestamp(std::string_view bytes, int64_t& out) {
  int64_t seconds = 0;
  int32_t nanos = 0;
  if (!MergeTimestamp(bytes, seconds, nanos) || !ValidNanos(nanos)) return false;
  out = calendar::FromTimestamp(seconds, nanos);
  return true;
}

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
      if (f.slot >= 0 && static_cast<size_t>(f.slot) < defaults.size()) defaults[f.slot] = DefaultOf(f.kind);
    }
  }
}

}  // namespace

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
  for (size_t i = 0; i < layout.lists.size(); ++i) record_defaults_[i].assign(layout.lists[i].width, 0);
  if (!layout.messages.empty()) {
    FillDefaults(layout, 0, contact_defaults_);
    // Each record list's element message fills its own defaults.
    for (const MessageLayout& m : layout.messages) {
      for (const FactField& f : m.fields) {
        if (f.kind == FactKind::kRecordList && f.slot >= 0 && static_cast<size_t>(f.slot) < record_defaults_.size()) {
          FillDefaults(layout, f.message, record_defaults_[f.slot]);
        }
      }
    }
  }
  for (size_t i = 0; i < purposes.size(); ++i) purpose_ids_[purposes[i]] = static_cast<int32_t>(i);
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
  WireReader r(bytes);
  auto fail = [&](const FactField* f, std::string message_text) {
    // A malformed value met before this error was the first error, and still is.
    if (FirstMalformed(pending, 0, error)) return false;
    static const std::string kUnknown = "?";
    error.path = PathOf(parent, f ? f->name : kUnknown);
    error.message = std::move(message_text);
    return false;
  };
  while (!r.done()) {
    uint64_t tag;
    if (!r.Varint(tag)) return fail(nullptr, "the message is truncated or malformed");
    const uint32_t number = static_cast<uint32_t>(tag >> 3);
    const uint32_t wire_type = static_cast<uint32_t>(tag & 7);
    const FactField* field = nullptr;
    for (const FactField& f : layout.fields) {
      if (f.number == number) {
        field = &f;
        break;
      }
    }
    if (field == nullptr) {
      if (!r.Skip(wire_type)) return fail(nullptr, "the message is truncated or malformed");
      continue;
    }
    const FactField& f = *field;
    auto scalar = [&](FactKind kind, int64_t& out, std::string_view* text) -> bool {
      switch (kind) {
        case FactKind::kInt:
        case FactKind::kBool:
        case FactKind::kEnum: {
          uint64_t v;
          if (wire_type != kVarint || !r.Varint(v)) return fail(&f, "expected an integer");
          out = kind == FactKind::kBool ? (v != 0) : static_cast<int64_t>(v);
          if (kind == FactKind::kEnum) out = static_cast<int32_t>(v);
          return true;
        }
        case FactKind::kInstant: {
          std::string_view body;
          if (wire_type != kLengthDelimited || !r.Bytes(body) || !DecodeTimestamp(body, out)) {
            return fail(&f, "expected a timestamp");
          }
          return true;
        }
        case FactKind::kDate: {
          std::string_view s;
          if (wire_type != kLengthDelimited || !r.Bytes(s)) return fail(&f, "expected a date string");
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
          if (wire_type != kLengthDelimited || !r.Bytes(s)) return fail(&f, "expected a string");
          out = static_cast<int64_t>(facts.strings.size());
          facts.strings.push_back(s);
          if (text) *text = s;
          return true;
        }
        case FactKind::kPurpose: {
          std::string_view s;
          if (wire_type != kLengthDelimited || !r.Bytes(s)) return fail(&f, "expected a purpose name");
          auto it = purpose_ids_.find(absl::string_view(s.data(), s.size()));
          out = it == purpose_ids_.end() ? -1 : it->second;
          return true;
        }
        default:
          return fail(&f, "unsupported field kind");
      }
    };
    switch (f.kind) {
      case FactKind::kMessage: {
        std::string_view body;
        if (wire_type != kLengthDelimited || !r.Bytes(body)) return fail(&f, "expected a message");
        Frame frame{parent, &f.name, -1};
        if (!DecodeMessage(f.message, body, slots, facts, &frame, pending, error)) return false;
        break;
      }
      case FactKind::kRecordList: {
        std::string_view body;
        if (wire_type != kLengthDelimited || !r.Bytes(body)) return fail(&f, "expected a message");
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
        const bool packable = f.element == FactKind::kInt || f.element == FactKind::kBool || f.element == FactKind::kEnum;
        if (packable && wire_type == kLengthDelimited) {
          std::string_view body;
          if (!r.Bytes(body)) return fail(&f, "the packed list is truncated");
          WireReader packed(body);
          while (!packed.done()) {
            uint64_t v;
            if (!packed.Varint(v)) return fail(&f, "the packed list is malformed");
            list.data.push_back(f.element == FactKind::kEnum ? static_cast<int32_t>(v) : static_cast<int64_t>(v));
            ++list.count;
          }
        } else {
          int64_t v;
          if (!scalar(f.element, v, nullptr)) return false;
          list.data.push_back(v);
          ++list.count;
        }
        break;
      }
      // A singular date or instant that occurs again replaces (a date) or merges into (a
      // timestamp) the occurrence before, which decides only if it is the last (see Pending).
      case FactKind::kInstant: {
        std::string_view body;
        if (wire_type != kLengthDelimited || !r.Bytes(body)) {
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
        const bool valid = ValidNanos(nanos);
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
          kept->message = "expected a timestamp";
        }
        break;
      }
      case FactKind::kDate: {
        std::string_view s;
        if (wire_type != kLengthDelimited || !r.Bytes(s)) return fail(&f, "expected a date string");
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

absl::Status SplitBatchRequest(std::string_view bytes, lawful::v1::DecideBatchRequest* header,
                               std::vector<std::string_view>* contacts) {
  constexpr uint32_t kOutreach = lawful::v1::DecideBatchRequest::kOutreachFieldNumber;
  constexpr uint32_t kContacts = lawful::v1::DecideBatchRequest::kContactsFieldNumber;
  constexpr uint32_t kVersion = lawful::v1::DecideBatchRequest::kRuleSetVersionFieldNumber;
  header->Clear();
  contacts->clear();
  WireReader r(bytes);
  while (!r.done()) {
    uint64_t tag;
    if (!r.Varint(tag)) return absl::InvalidArgumentError("the request is truncated or malformed");
    const uint32_t number = static_cast<uint32_t>(tag >> 3);
    const uint32_t wire_type = static_cast<uint32_t>(tag & 7);
    std::string_view body;
    if ((number == kOutreach || number == kContacts || number == kVersion) && wire_type == kLengthDelimited) {
      if (!r.Bytes(body)) return absl::InvalidArgumentError("the request is truncated or malformed");
      if (number == kContacts) {
        contacts->push_back(body);
      } else if (number == kOutreach) {
        if (!header->mutable_outreach()->MergeFromString(std::string(body))) {
          return absl::InvalidArgumentError("outreach: malformed message");
        }
      } else {
        header->set_rule_set_version(std::string(body));
      }
    } else if (!r.Skip(wire_type)) {
      return absl::InvalidArgumentError("the request is truncated or malformed");
    }
  }
  return absl::OkStatus();
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
