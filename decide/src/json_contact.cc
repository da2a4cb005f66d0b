// Proto JSON to contact wire bytes without building a message (simdjson, driven by the
// descriptor); see decide.h.
#include "lawful/decide.h"
#include "lawful/text.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace lawful::decide {

const size_t kJsonPadding = simdjson::SIMDJSON_PADDING;

namespace {

namespace pb = google::protobuf;
using simdjson::dom::element;
using simdjson::dom::element_type;

// ---------------------------------------------------------------------------------------------
// RFC 3339
// ---------------------------------------------------------------------------------------------

}  // namespace

namespace {

// ---------------------------------------------------------------------------------------------
// Wire format
// ---------------------------------------------------------------------------------------------

size_t PutVarint(uint64_t value, char* buffer) {
  size_t n = 0;
  while (value >= 0x80) {
    buffer[n++] = static_cast<char>(value | 0x80);
    value >>= 7;
  }
  buffer[n++] = static_cast<char>(value);
  return n;
}

void AppendVarint(std::string* out, uint64_t value) {
  char buffer[10];
  out->append(buffer, PutVarint(value, buffer));
}

std::string WireKey(int number, int wire_type) {
  std::string key;
  AppendVarint(&key, (static_cast<uint64_t>(number) << 3) | static_cast<uint64_t>(wire_type));
  return key;
}

constexpr int kVarintWire = 0;
constexpr int kLengthWire = 2;

// ---------------------------------------------------------------------------------------------
// The plan: what each field of each message type is, worked out once from the descriptors
// ---------------------------------------------------------------------------------------------

struct FieldPlan {
  const pb::FieldDescriptor* field = nullptr;
  std::string_view json_name;  // lowerCamelCase, as protobuf prints it
  std::string_view name;       // as in the .proto
  ValueKind kind = ValueKind::kUnsupported;
  bool repeated = false;
  bool packed = false;    // repeated varints: one length-delimited run, as protobuf writes them
  bool presence = false;  // singular scalar with explicit presence (proto3 `optional`)
  std::string key;        // wire key of one value (of the run, when packed)
  int message = -1;       // kMessage: index into Impl::plans
  // kEnum: every value's name and number. A handful each: a scan beats hashing the name.
  const std::vector<std::pair<std::string, int32_t>>* enum_values = nullptr;
};

struct MessagePlan {
  std::vector<FieldPlan> fields;  // in field-number order, the order protobuf serializes in
};

bool IsVarint(ValueKind kind) {
  return kind == ValueKind::kBool || kind == ValueKind::kEnum || kind == ValueKind::kInt32 ||
         kind == ValueKind::kInt64 || kind == ValueKind::kUInt32 || kind == ValueKind::kUInt64;
}

// Where the transcoder is in the document, for error paths: field names and array positions.
struct PathPart {
  const pb::FieldDescriptor* field;
  int index;  // position in a repeated field, or -1
};

}  // namespace

struct JsonTranscoder::Impl {
  explicit Impl(const pb::Descriptor* root) { PlanFor(root); }

  int PlanFor(const pb::Descriptor* message) {
    if (auto it = plan_index.find(message); it != plan_index.end()) return it->second;
    const int index = static_cast<int>(plans.size());
    plan_index[message] = index;
    plans.emplace_back();
    std::vector<const pb::FieldDescriptor*> fields;
    for (int i = 0; i < message->field_count(); ++i) fields.push_back(message->field(i));
    std::sort(fields.begin(), fields.end(),
              [](auto* a, auto* b) { return a->number() < b->number(); });
    std::vector<FieldPlan> planned;
    for (const pb::FieldDescriptor* field : fields) {
      FieldPlan plan;
      plan.field = field;
      plan.json_name = field->json_name();
      plan.name = field->name();
      plan.kind = ValueKindOf(field);
      plan.repeated = field->is_repeated();
      plan.packed = plan.repeated && IsVarint(plan.kind) && field->is_packed();
      plan.presence = !plan.repeated && field->has_presence() && plan.kind != ValueKind::kMessage &&
                      plan.kind != ValueKind::kTimestamp;
      plan.key =
          WireKey(field->number(), plan.packed || !IsVarint(plan.kind) ? kLengthWire : kVarintWire);
      if (plan.kind == ValueKind::kMessage) plan.message = PlanFor(field->message_type());
      if (plan.kind == ValueKind::kEnum) plan.enum_values = &EnumValues(field->enum_type());
      planned.push_back(std::move(plan));
    }
    plans[index].fields = std::move(planned);  // PlanFor may have grown `plans` meanwhile
    return index;
  }

  const std::vector<std::pair<std::string, int32_t>>& EnumValues(const pb::EnumDescriptor* type) {
    auto& values = enums[type];
    if (values == nullptr) {
      values = std::make_unique<std::vector<std::pair<std::string, int32_t>>>();
      for (int i = 0; i < type->value_count(); ++i) {
        values->emplace_back(type->value(i)->name(), type->value(i)->number());
      }
    }
    return *values;
  }

  // The field a JSON key names: its JSON (lowerCamelCase) name or its proto name. The search
  // starts at `hint`, the field after the previous key's: writers usually keep field order.
  static int Find(const MessagePlan& plan, std::string_view key, size_t hint) {
    const size_t count = plan.fields.size();
    for (size_t k = 0, i = hint < count ? hint : 0; k < count; ++k, i = i + 1 < count ? i + 1 : 0) {
      const FieldPlan& field = plan.fields[i];
      if (key == field.json_name || key == field.name) return static_cast<int>(i);
    }
    return -1;
  }

  // "unknown field", with the field the key was probably meant to be.
  static std::string UnknownField(const MessagePlan& plan, std::string_view key) {
    std::string_view best;
    size_t best_distance = 3;  // suggest only near misses
    for (const FieldPlan& field : plan.fields) {
      for (const std::string_view name : {field.json_name, field.name}) {
        const size_t distance = EditDistance(key, name);
        if (distance < best_distance) {
          best_distance = distance;
          best = field.name;
        }
      }
    }
    if (best.empty()) return "unknown field";
    return absl::StrCat("unknown field (did you mean ", absl::string_view(best.data(), best.size()),
                        "?)");
  }

  static size_t EditDistance(std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        const size_t above = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
        diagonal = above;
      }
    }
    return row[b.size()];
  }

  bool Fail(std::string_view field_name, std::string message) {
    error->path.clear();
    for (const PathPart& part : path) {
      if (!error->path.empty()) error->path.push_back('.');
      error->path.append(part.field->name());
      if (part.index >= 0) absl::StrAppend(&error->path, "[", part.index, "]");
    }
    if (!field_name.empty()) {
      if (!error->path.empty()) error->path.push_back('.');
      error->path.append(field_name);
    }
    error->message = std::move(message);
    return false;
  }
  bool Fail(std::string message) { return Fail({}, std::move(message)); }

  static const char* JsonTypeName(element value) {
    switch (value.type()) {
      case element_type::ARRAY:
        return "an array";
      case element_type::OBJECT:
        return "an object";
      case element_type::STRING:
        return "a string";
      case element_type::BOOL:
        return "a boolean";
      case element_type::NULL_VALUE:
        return "null";
      default:
        return "a number";
    }
  }

  // An integer given as a JSON number (integral, even when written 1.0 or 1e0) or as a string of
  // digits, within [min, max]: protobuf reads integers and enum numbers either way.
  static bool ReadInteger(element value, int64_t min, uint64_t max, int64_t* signed_out,
                          uint64_t* unsigned_out) {
    int64_t i = 0;
    uint64_t u = 0;
    bool negative = false;
    switch (value.type()) {
      case element_type::INT64:
        i = value.get_int64().value_unsafe();
        negative = i < 0;
        u = static_cast<uint64_t>(i);
        break;
      case element_type::UINT64:
        u = value.get_uint64().value_unsafe();
        break;
      case element_type::DOUBLE: {
        const double d = value.get_double().value_unsafe();
        if (!(d == std::floor(d)) || d < -9.2233720368547758e18 || d >= 1.8446744073709552e19) {
          return false;
        }
        negative = d < 0;
        if (negative) {
          i = static_cast<int64_t>(d);
          u = static_cast<uint64_t>(i);
        } else {
          u = static_cast<uint64_t>(d);
        }
        break;
      }
      case element_type::STRING: {
        const std::string_view text = value.get_string().value_unsafe();
        const absl::string_view digits(text.data(), text.size());
        if (!text.empty() && text[0] == '-') {
          if (!absl::SimpleAtoi(digits, &i)) return false;
          negative = i < 0;
          u = static_cast<uint64_t>(i);
        } else if (!absl::SimpleAtoi(digits, &u)) {
          return false;
        }
        break;
      }
      default:
        return false;
    }
    if (negative) {
      if (i < min) return false;
    } else if (u > max) {
      return false;
    }
    *signed_out = negative ? i : static_cast<int64_t>(u);
    *unsigned_out = u;
    return true;
  }

  // The varint of one scalar value; false (error set) when the value does not fit the field.
  bool ScalarVarint(const FieldPlan& plan, element value, uint64_t* varint) {
    int64_t i = 0;
    uint64_t u = 0;
    switch (plan.kind) {
      case ValueKind::kBool: {
        if (value.type() == element_type::BOOL) {
          *varint = value.get_bool().value_unsafe() ? 1 : 0;
          return true;
        }
        // protobuf also reads the strings "true" and "false".
        if (value.type() == element_type::STRING) {
          const std::string_view text = value.get_string().value_unsafe();
          if (text == "true" || text == "false") {
            *varint = text == "true" ? 1 : 0;
            return true;
          }
        }
        return Fail(absl::StrCat("expected true or false, not ", JsonTypeName(value)));
      }
      case ValueKind::kEnum: {
        if (value.type() == element_type::STRING) {
          const std::string_view name = value.get_string().value_unsafe();
          for (const auto& [value_name, number] : *plan.enum_values) {
            if (name == value_name) {
              *varint = static_cast<uint64_t>(static_cast<int64_t>(number));
              return true;
            }
          }
        }
        if (ReadInteger(value, std::numeric_limits<int32_t>::min(),
                        std::numeric_limits<int32_t>::max(), &i, &u)) {
          *varint = static_cast<uint64_t>(i);  // negative int32: sign-extended, 10 bytes
          return true;
        }
        if (value.type() == element_type::STRING) {
          const std::string_view name = value.get_string().value_unsafe();
          return Fail(absl::StrCat("\"", absl::string_view(name.data(), name.size()),
                                   "\" is not a ", plan.field->enum_type()->full_name()));
        }
        return Fail(absl::StrCat("expected a ", plan.field->enum_type()->full_name(), " name, not ",
                                 JsonTypeName(value)));
      }
      case ValueKind::kInt32:
        if (!ReadInteger(value, std::numeric_limits<int32_t>::min(),
                         std::numeric_limits<int32_t>::max(), &i, &u)) {
          return Fail("expected a 32-bit integer");
        }
        *varint = static_cast<uint64_t>(i);
        return true;
      case ValueKind::kInt64:
        if (!ReadInteger(value, std::numeric_limits<int64_t>::min(),
                         std::numeric_limits<int64_t>::max(), &i, &u)) {
          return Fail("expected a 64-bit integer");
        }
        *varint = static_cast<uint64_t>(i);
        return true;
      case ValueKind::kUInt32:
        if (!ReadInteger(value, 0, std::numeric_limits<uint32_t>::max(), &i, &u)) {
          return Fail("expected an unsigned 32-bit integer");
        }
        *varint = u;
        return true;
      case ValueKind::kUInt64:
        if (!ReadInteger(value, 0, std::numeric_limits<uint64_t>::max(), &i, &u)) {
          return Fail("expected an unsigned 64-bit integer");
        }
        *varint = u;
        return true;
      default:
        return Fail("not a varint field");  // unreachable: callers check IsVarint
    }
  }

  // Appends one value of `plan`'s field (one element, when repeated) with its wire key.
  // `implicit_default` skips the defaults proto3 does not serialize (singular fields only).
  bool EncodeValue(const FieldPlan& plan, element value, bool implicit_default, std::string* out) {
    switch (plan.kind) {
      case ValueKind::kString: {
        if (value.type() != element_type::STRING) {
          return Fail(absl::StrCat("expected a string, not ", JsonTypeName(value)));
        }
        const std::string_view text = value.get_string().value_unsafe();
        if (implicit_default && text.empty()) return true;
        out->append(plan.key);
        AppendVarint(out, text.size());
        out->append(text);
        return true;
      }
      case ValueKind::kTimestamp: {
        int64_t seconds = 0;
        int32_t nanos = 0;
        if (value.type() != element_type::STRING ||
            !text::ParseRfc3339(value.get_string().value_unsafe(), &seconds, &nanos)) {
          return Fail(value.type() == element_type::STRING
                          ? "not an RFC 3339 timestamp such as 2026-03-02T09:00:00Z"
                          : absl::StrCat("expected an RFC 3339 timestamp string, not ",
                                         JsonTypeName(value)));
        }
        char body[24];
        size_t size = 0;
        if (seconds != 0) {
          body[size++] = 0x08;
          size += PutVarint(static_cast<uint64_t>(seconds), body + size);
        }
        if (nanos != 0) {
          body[size++] = 0x10;
          size += PutVarint(static_cast<uint64_t>(nanos), body + size);
        }
        out->append(plan.key);
        out->push_back(static_cast<char>(size));
        out->append(body, size);
        return true;
      }
      case ValueKind::kMessage: {
        simdjson::dom::object object;
        if (value.get_object().get(object) != simdjson::SUCCESS) {
          return Fail(absl::StrCat("expected an object, not ", JsonTypeName(value)));
        }
        out->append(plan.key);
        out->push_back(0);  // the length, fixed below; one byte covers most records
        const size_t body = out->size();
        if (!EncodeObject(plan.message, object, out)) return false;
        const size_t length = out->size() - body;
        char buffer[10];
        const size_t n = PutVarint(length, buffer);
        (*out)[body - 1] = buffer[0];
        if (n > 1) out->insert(body, buffer + 1, n - 1);
        return true;
      }
      case ValueKind::kUnsupported:
        return Fail("lawful eval cannot read this field's type");
      default: {
        uint64_t varint = 0;
        if (!ScalarVarint(plan, value, &varint)) return false;
        if (implicit_default && varint == 0) return true;
        out->append(plan.key);
        AppendVarint(out, varint);
        return true;
      }
    }
  }

  bool EncodeField(const FieldPlan& plan, element value, std::string* out) {
    if (!plan.repeated) {
      return EncodeValue(
          plan, value,
          !plan.presence && plan.kind != ValueKind::kMessage && plan.kind != ValueKind::kTimestamp,
          out);
    }
    path.push_back({plan.field, -1});
    simdjson::dom::array array;
    if (value.get_array().get(array) != simdjson::SUCCESS) {
      return Fail(absl::StrCat("expected an array, not ", JsonTypeName(value)));
    }
    int index = 0;
    if (plan.packed) {
      std::string& run = packed;
      run.clear();
      for (element item : array) {
        path.back().index = index++;
        if (item.is_null()) continue;  // protobuf skips nulls in arrays
        uint64_t varint = 0;
        if (!ScalarVarint(plan, item, &varint)) return false;
        AppendVarint(&run, varint);
      }
      if (!run.empty()) {
        out->append(plan.key);
        AppendVarint(out, run.size());
        out->append(run);
      }
    } else {
      for (element item : array) {
        path.back().index = index++;
        if (item.is_null()) continue;
        if (!EncodeValue(plan, item, /*implicit_default=*/false, out)) return false;
      }
    }
    path.pop_back();
    return true;
  }

  bool EncodeObject(int message, simdjson::dom::object object, std::string* out) {
    const MessagePlan& plan = plans[message];
    const size_t count = plan.fields.size();
    absl::InlinedVector<element, 16> values(count);
    absl::InlinedVector<bool, 16> seen(count, false);
    size_t hint = 0;
    for (simdjson::dom::key_value_pair member : object) {
      const int f = Find(plan, member.key, hint);
      if (f < 0) return Fail(member.key, UnknownField(plan, member.key));
      hint = static_cast<size_t>(f) + 1;
      if (seen[f]) return Fail(plan.fields[f].field->name(), "given twice");
      seen[f] = true;
      values[f] = member.value;
    }
    for (size_t f = 0; f < count; ++f) {
      if (!seen[f] || values[f].is_null()) continue;  // null: not set, as protobuf reads it
      const FieldPlan& field = plan.fields[f];
      if (field.repeated) {
        if (!EncodeField(field, values[f], out)) return false;
        continue;
      }
      path.push_back({field.field, -1});
      if (!EncodeField(field, values[f], out)) return false;
      path.pop_back();
    }
    return true;
  }

  std::vector<MessagePlan> plans;
  absl::flat_hash_map<const pb::Descriptor*, int> plan_index;
  absl::flat_hash_map<const pb::EnumDescriptor*,
                      std::unique_ptr<std::vector<std::pair<std::string, int32_t>>>>
      enums;
  simdjson::dom::parser parser;
  std::vector<PathPart> path;
  std::string packed;
  FieldError* error = nullptr;
};

JsonTranscoder::JsonTranscoder(const pb::Descriptor* message)
    : impl_(std::make_unique<Impl>(message)) {}

JsonTranscoder::~JsonTranscoder() = default;

bool JsonTranscoder::Transcode(std::string_view json, std::string* out, FieldError* error) {
  Impl& impl = *impl_;
  impl.error = error;
  impl.path.clear();
  error->column.clear();
  element document;
  if (const auto code = impl.parser.parse(json.data(), json.size(), false).get(document);
      code != simdjson::SUCCESS) {
    error->path.clear();
    error->message = absl::StrCat("not valid JSON (", simdjson::error_message(code), ")");
    return false;
  }
  simdjson::dom::object object;
  if (document.get_object().get(object) != simdjson::SUCCESS) {
    error->path.clear();
    error->message = absl::StrCat("expected a JSON object, not ", Impl::JsonTypeName(document));
    return false;
  }
  const size_t before = out->size();
  if (!impl.EncodeObject(0, object, out)) {
    out->resize(before);
    return false;
  }
  return true;
}

}  // namespace lawful::decide
