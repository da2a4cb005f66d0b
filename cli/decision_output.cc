#include "decision_output.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include <google/protobuf/util/json_util.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lawful/text.h"
#include "lawful/v1/decision.pb.h"

namespace lawful::cli {
namespace {

namespace pb = google::protobuf;

struct FieldPrint {
  const pb::FieldDescriptor* field = nullptr;
  ValueKind kind = ValueKind::kUnsupported;
  std::string key;  // "jsonName":
  int message = -1;
  const pb::FieldDescriptor* seconds = nullptr;  // kTimestamp
  const pb::FieldDescriptor* nanos = nullptr;
};

}  // namespace

struct ProtoJsonPrinter::Impl {
  explicit Impl(const pb::Descriptor* type) {
    PlanFor(type);
    options.add_whitespace = false;
    decision_fast_path = type == v1::Decision::descriptor() && DecisionFastPathFits();
  }

  int PlanFor(const pb::Descriptor* type) {
    if (auto it = plan_index.find(type); it != plan_index.end()) return it->second;
    const int index = static_cast<int>(plans.size());
    plan_index[type] = index;
    plans.emplace_back();
    std::vector<FieldPrint> fields;
    for (int i = 0; i < type->field_count(); ++i) {
      FieldPrint f;
      f.field = type->field(i);
      f.kind = ValueKindOf(f.field);
      f.key = absl::StrCat("\"", f.field->json_name(), "\":");
      if (f.kind == ValueKind::kMessage) f.message = PlanFor(f.field->message_type());
      if (f.kind == ValueKind::kTimestamp) {
        f.seconds = f.field->message_type()->FindFieldByNumber(1);
        f.nanos = f.field->message_type()->FindFieldByNumber(2);
      }
      fields.push_back(std::move(f));
    }
    // protobuf prints in the order of the serialized message: by field number.
    std::sort(fields.begin(), fields.end(), [](const FieldPrint& a, const FieldPrint& b) {
      return a.field->number() < b.field->number();
    });
    plans[index] = std::move(fields);
    return index;
  }

  // One value of `f` (element `i` when repeated, else i < 0). False when protobuf must print it.
  bool PrintValue(const FieldPrint& f, const pb::Message& message, int i, std::string* out) {
    const pb::Reflection* r = message.GetReflection();
    const bool repeated = i >= 0;
    switch (f.kind) {
      case ValueKind::kString: {
        const std::string& text = repeated
                                      ? r->GetRepeatedStringReference(message, f.field, i, &scratch)
                                      : r->GetStringReference(message, f.field, &scratch);
        return text::AppendJsonString(text, text::JsonEscaping::kProtobuf, out);
      }
      case ValueKind::kBool:
        out->append(
            (repeated ? r->GetRepeatedBool(message, f.field, i) : r->GetBool(message, f.field))
                ? "true"
                : "false");
        return true;
      case ValueKind::kEnum: {
        const int number = repeated ? r->GetRepeatedEnumValue(message, f.field, i)
                                    : r->GetEnumValue(message, f.field);
        const pb::EnumValueDescriptor* value = f.field->enum_type()->FindValueByNumber(number);
        if (value == nullptr) {
          absl::StrAppend(out, number);  // an unknown value is printed as its number
        } else {
          out->push_back('"');
          out->append(value->name());
          out->push_back('"');
        }
        return true;
      }
      case ValueKind::kInt32:
        absl::StrAppend(out, repeated ? r->GetRepeatedInt32(message, f.field, i)
                                      : r->GetInt32(message, f.field));
        return true;
      case ValueKind::kUInt32:
        absl::StrAppend(out, repeated ? r->GetRepeatedUInt32(message, f.field, i)
                                      : r->GetUInt32(message, f.field));
        return true;
      case ValueKind::kInt64:
        absl::StrAppend(
            out, "\"",
            repeated ? r->GetRepeatedInt64(message, f.field, i) : r->GetInt64(message, f.field),
            "\"");
        return true;
      case ValueKind::kUInt64:
        absl::StrAppend(
            out, "\"",
            repeated ? r->GetRepeatedUInt64(message, f.field, i) : r->GetUInt64(message, f.field),
            "\"");
        return true;
      case ValueKind::kMessage:
        return PrintMessage(
            f.message,
            repeated ? r->GetRepeatedMessage(message, f.field, i) : r->GetMessage(message, f.field),
            out);
      case ValueKind::kTimestamp: {
        const pb::Message& t =
            repeated ? r->GetRepeatedMessage(message, f.field, i) : r->GetMessage(message, f.field);
        const pb::Reflection* tr = t.GetReflection();
        out->push_back('"');
        if (!text::AppendRfc3339(tr->GetInt64(t, f.seconds), tr->GetInt32(t, f.nanos), out)) {
          return false;
        }
        out->push_back('"');
        return true;
      }
      case ValueKind::kUnsupported:
        return false;
    }
    return false;
  }

  // Appends `"key":value` for `f` when it is set (after a comma unless `*first`).
  bool PrintField(const FieldPrint& f, const pb::Message& message, std::string* out, bool* first) {
    const pb::Reflection* r = message.GetReflection();
    // HasField is false for a proto3 scalar at its default value, as the printer needs.
    const int size = f.field->is_repeated() ? r->FieldSize(message, f.field) : -1;
    if (size == 0 || (size < 0 && !r->HasField(message, f.field))) return true;
    if (!*first) out->push_back(',');
    *first = false;
    out->append(f.key);
    if (size < 0) return PrintValue(f, message, -1, out);
    out->push_back('[');
    for (int i = 0; i < size; ++i) {
      if (i > 0) out->push_back(',');
      if (!PrintValue(f, message, i, out)) return false;
    }
    out->push_back(']');
    return true;
  }

  bool PrintMessage(int plan, const pb::Message& message, std::string* out) {
    out->push_back('{');
    bool first = true;
    for (const FieldPrint& f : plans[plan]) {
      if (!PrintField(f, message, out, &first)) return false;
    }
    out->push_back('}');
    return true;
  }

  // ------------------------------------------------------------------------------------------
  // lawful.v1.Decision, the line `lawful eval` prints millions of: its fields through the
  // generated accessors instead of reflection. Fields added to decision.proto later (numbers
  // above the ones known here) go through the plan above, so nothing is ever left out; a change
  // to a known field turns this path off altogether (see DecisionFastPathFits).
  // ------------------------------------------------------------------------------------------

  // Whether the messages a decision holds still have the fields this path was written for, and
  // the fields it must leave to the plan: those after the known ones, in Decision and Evidence.
  bool DecisionFastPathFits() {
    struct Known {
      const pb::Descriptor* type;
      std::vector<std::pair<int, const char*>> fields;  // number, json name
      std::vector<FieldPrint>* extras;                  // null: no other field allowed
    };
    const Known known[] = {
        {v1::Decision::descriptor(),
         {{1, "contactId"},
          {2, "index"},
          {3, "outcome"},
          {4, "reason"},
          {5, "citation"},
          {6, "rule"},
          {7, "obligations"},
          {8, "evidence"},
          {9, "validUntil"},
          {10, "error"}},
         &decision_extras},
        {v1::RuleRef::descriptor(),
         {{1, "name"}, {2, "policy"}, {3, "file"}, {4, "line"}},
         nullptr},
        {v1::Evidence::descriptor(),
         {{1, "field"}, {2, "index"}, {3, "recordId"}},
         &evidence_extras},
        {v1::ContactError::descriptor(), {{1, "fieldPath"}, {2, "message"}}, nullptr},
    };
    for (const Known& k : known) {
      int highest = 0;
      for (const auto& [number, json_name] : k.fields) {
        const pb::FieldDescriptor* field = k.type->FindFieldByNumber(number);
        if (field == nullptr || field->json_name() != json_name) return false;
        highest = std::max(highest, number);
      }
      const int plan = PlanFor(k.type);
      for (const FieldPrint& f : plans[plan]) {
        const bool is_known = std::any_of(
            k.fields.begin(), k.fields.end(),
            [&](const auto& known_field) { return known_field.first == f.field->number(); });
        if (is_known) continue;
        if (k.extras == nullptr || f.field->number() <= highest) return false;
        k.extras->push_back(f);
      }
    }
    return true;
  }

  // Appends the key of the next field, after a comma unless it is the first.
  static void Key(const char* key, std::string* out, bool* first) {
    if (!*first) out->push_back(',');
    *first = false;
    out->append(key);
  }

  // Appends "key":"value" unless the value is empty, which proto3 JSON leaves out. False when
  // the value is not UTF-8.
  static bool StringField(const char* key, const std::string& value, std::string* out,
                          bool* first) {
    if (value.empty()) return true;
    Key(key, out, first);
    return text::AppendJsonString(value, text::JsonEscaping::kProtobuf, out);
  }

  void PrintEnum(const pb::EnumDescriptor* type, int number, std::string* out) {
    const pb::EnumValueDescriptor* value = type->FindValueByNumber(number);
    if (value == nullptr) {
      absl::StrAppend(out, number);
      return;
    }
    out->push_back('"');
    out->append(value->name());
    out->push_back('"');
  }

  bool PrintDecision(const v1::Decision& d, std::string* out) {
    out->push_back('{');
    bool first = true;
    if (!StringField("\"contactId\":", d.contact_id(), out, &first)) return false;
    if (d.index() != 0) {
      Key("\"index\":", out, &first);
      absl::StrAppend(out, d.index());
    }
    if (d.outcome() != 0) {
      Key("\"outcome\":", out, &first);
      PrintEnum(v1::Outcome_descriptor(), d.outcome(), out);
    }
    if (!StringField("\"reason\":", d.reason(), out, &first) ||
        !StringField("\"citation\":", d.citation(), out, &first)) {
      return false;
    }
    if (d.has_rule()) {
      Key("\"rule\":{", out, &first);
      const v1::RuleRef& r = d.rule();
      bool inner = true;
      if (!StringField("\"name\":", r.name(), out, &inner) ||
          !StringField("\"policy\":", r.policy(), out, &inner) ||
          !StringField("\"file\":", r.file(), out, &inner)) {
        return false;
      }
      if (r.line() != 0) {
        Key("\"line\":", out, &inner);
        absl::StrAppend(out, r.line());
      }
      out->push_back('}');
    }
    if (d.obligations_size() > 0) {
      Key("\"obligations\":[", out, &first);
      for (int i = 0; i < d.obligations_size(); ++i) {
        if (i > 0) out->push_back(',');
        if (!text::AppendJsonString(d.obligations(i), text::JsonEscaping::kProtobuf, out))
          return false;
      }
      out->push_back(']');
    }
    if (d.has_evidence()) {
      Key("\"evidence\":{", out, &first);
      const v1::Evidence& e = d.evidence();
      bool inner = true;
      if (!StringField("\"field\":", e.field(), out, &inner)) return false;
      if (e.index() != 0) {
        Key("\"index\":", out, &inner);
        absl::StrAppend(out, e.index());
      }
      if (!StringField("\"recordId\":", e.record_id(), out, &inner)) return false;
      for (const FieldPrint& f : evidence_extras) {
        if (!PrintField(f, e, out, &inner)) return false;
      }
      out->push_back('}');
    }
    if (d.has_valid_until()) {
      Key("\"validUntil\":\"", out, &first);
      if (!text::AppendRfc3339(d.valid_until().seconds(), d.valid_until().nanos(), out))
        return false;
      out->push_back('"');
    }
    if (d.has_error()) {
      Key("\"error\":{", out, &first);
      bool inner = true;
      if (!StringField("\"fieldPath\":", d.error().field_path(), out, &inner) ||
          !StringField("\"message\":", d.error().message(), out, &inner)) {
        return false;
      }
      out->push_back('}');
    }
    for (const FieldPrint& f : decision_extras) {
      if (!PrintField(f, d, out, &first)) return false;
    }
    out->push_back('}');
    return true;
  }

  std::vector<std::vector<FieldPrint>> plans;
  absl::flat_hash_map<const pb::Descriptor*, int> plan_index;
  bool decision_fast_path = false;
  std::vector<FieldPrint> decision_extras;
  std::vector<FieldPrint> evidence_extras;
  pb::util::JsonPrintOptions options;
  std::string scratch;
  std::string fallback;
};

ProtoJsonPrinter::ProtoJsonPrinter(const pb::Descriptor* type)
    : impl_(std::make_unique<Impl>(type)) {}

ProtoJsonPrinter::~ProtoJsonPrinter() = default;

void ProtoJsonPrinter::Print(const pb::Message& message, std::string* out) {
  const size_t start = out->size();
  if (impl_->decision_fast_path) {
    if (const auto* decision = dynamic_cast<const v1::Decision*>(&message);
        decision != nullptr && impl_->PrintDecision(*decision, out)) {
      return;
    }
    out->resize(start);
  }
  if (impl_->PrintMessage(0, message, out)) return;
  out->resize(start);
  impl_->fallback.clear();
  // protobuf reports what it cannot print (a Timestamp out of range) in its status; the line
  // then holds what it printed, as MessageToJsonString's callers would see.
  (void)pb::util::MessageToJsonString(message, &impl_->fallback, impl_->options);
  out->append(impl_->fallback);
}

void AppendCsvCell(std::string_view cell, std::string* out) {
  if (cell.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(cell);
    return;
  }
  out->push_back('"');
  for (const char c : cell) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

void AppendDecisionCsvRuleColumns(const lawful::v1::Decision& d, std::string* out) {
  switch (d.outcome()) {
    case lawful::v1::OUTCOME_ALLOW:
      out->append("allow,");
      break;
    case lawful::v1::OUTCOME_DENY:
      out->append("deny,");
      break;
    case lawful::v1::OUTCOME_ERROR:
      out->append("error,");
      break;
    default:
      absl::StrAppend(out, static_cast<int>(d.outcome()), ",");
  }
  AppendCsvCell(d.reason(), out);
  out->push_back(',');
  AppendCsvCell(d.citation(), out);
  out->push_back(',');
  if (d.has_rule()) {
    AppendCsvCell(absl::StrCat(d.rule().policy(), ".", d.rule().name()), out);
    out->push_back(',');
    AppendCsvCell(absl::StrCat(d.rule().file(), ":", d.rule().line()), out);
  } else {
    out->push_back(',');
  }
  out->push_back(',');
  std::string obligations;
  for (const std::string& obligation : d.obligations()) {
    if (!obligations.empty()) obligations.push_back('|');
    obligations.append(obligation);
  }
  AppendCsvCell(obligations, out);
}

void AppendDecisionCsv(const lawful::v1::Decision& d, std::string* out) {
  absl::StrAppend(out, d.index(), ",");
  AppendCsvCell(d.contact_id(), out);
  out->push_back(',');
  AppendDecisionCsvRuleColumns(d, out);
  out->push_back(',');
  if (d.has_evidence()) {
    AppendCsvCell(absl::StrCat(d.evidence().field(), "[", d.evidence().index(), "]"), out);
    out->push_back(',');
    AppendCsvCell(d.evidence().record_id(), out);
  } else {
    out->push_back(',');
  }
  out->push_back(',');
  if (d.has_valid_until()) {
    text::AppendRfc3339(d.valid_until().seconds(), d.valid_until().nanos(), out);
  }
  out->push_back(',');
  AppendCsvCell(d.error().field_path(), out);
  out->push_back(',');
  AppendCsvCell(d.error().message(), out);
  out->push_back('\n');
}

}  // namespace lawful::cli
