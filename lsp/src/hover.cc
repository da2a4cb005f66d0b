// What hovering a name shows: a definition with its text and comment, a const's value, a rule's
// outcome, reason, citation and note, a contact field's kind with its comment from contact.proto.
#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "analysis.h"
#include "google/protobuf/descriptor.h"
#include "lawful/text.h"
#include "lawful/v1/contact.pb.h"
#include "workspace.h"

namespace lawful::lsp {
namespace {

namespace pb = google::protobuf;

std::string Fence(const std::string& code) { return absl::StrCat("```lawful\n", code, "\n```"); }

// The last line and byte column an expression reaches.
void Extent(const dsl::Expr& e, uint32_t& line, uint32_t& column) {
  const uint32_t end = e.span.column + e.span.length;
  if (e.span.line > line || (e.span.line == line && end > column)) {
    line = e.span.line;
    column = end;
  }
  for (const dsl::ExprPtr& kid : e.kids) {
    if (kid) Extent(*kid, line, column);
  }
}

// A definition's text as written: from its line to the end of its body's last line.
std::string DefinitionText(const std::string& text, const dsl::Def& def) {
  uint32_t line = def.span.line, column = def.span.column;
  if (def.body) Extent(*def.body, line, column);
  size_t start = OffsetOfLine(text, def.span.line);
  size_t end = text.find('\n', OffsetOfLine(text, line));
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string EnumValueName(const dsl::CheckedRules& rules, int32_t enum_id, int64_t number) {
  if (enum_id < 0 || static_cast<size_t>(enum_id) >= rules.enums.size())
    return std::to_string(number);
  for (const auto& [name, value] : rules.enums[enum_id].values) {
    if (value == number) return name;
  }
  return std::to_string(number);
}

std::string DurationText(const CalendarDuration& d) {
  std::vector<std::string> parts;
  if (d.months != 0) {
    parts.push_back(absl::StrCat(d.months, d.months == 1 ? " month" : " months"));
  }
  if (d.days != 0 || parts.empty())
    parts.push_back(absl::StrCat(d.days, d.days == 1 ? " day" : " days"));
  return absl::StrJoin(parts, " + ");
}

std::string ValueText(const dsl::CheckedRules& rules, const dsl::Def& def) {
  const dsl::ConstValue& v = def.constant;
  switch (def.type.kind) {
    case dsl::TypeKind::kBool:
      return v.value ? "true" : "false";
    case dsl::TypeKind::kInt:
      return std::to_string(v.value);
    case dsl::TypeKind::kString: {
      std::string quoted = "\"";
      text::AppendJsonChars(v.text, text::JsonEscaping::kProtobuf, &quoted);
      return quoted + "\"";
    }
    case dsl::TypeKind::kDuration:
      return DurationText(v.duration);
    case dsl::TypeKind::kDate:
      return absl::StrCat(v.value / 10000, "-", absl::StrFormat("%02d", (v.value / 100) % 100), "-",
                          absl::StrFormat("%02d", v.value % 100));
    case dsl::TypeKind::kInstant: {
      std::string out;
      const int64_t ns = v.value;
      int64_t seconds = ns / 1000000000, nanos = ns % 1000000000;
      if (nanos < 0) {
        nanos += 1000000000;
        --seconds;
      }
      if (!text::AppendRfc3339(seconds, static_cast<int32_t>(nanos), &out)) return "";
      return out;
    }
    case dsl::TypeKind::kEnum:
      return EnumValueName(rules, def.type.enum_id, v.value);
    case dsl::TypeKind::kSet: {
      std::vector<std::string> items;
      const int32_t element =
          def.type.element != nullptr && def.type.element->kind == dsl::TypeKind::kEnum
              ? def.type.element->enum_id
              : -1;
      for (int64_t item : v.set)
        items.push_back(element >= 0 ? EnumValueName(rules, element, item) : std::to_string(item));
      return absl::StrCat("{", absl::StrJoin(items, ", "), "}");
    }
    default:
      return "";
  }
}

const char* RequestDoc(const std::string& name) {
  if (name == "at")
    return "`at`: instant — the instant the outreach is sent; every time rule is measured from it.";
  if (name == "purpose") return "`purpose`: purpose — the outreach's purpose.";
  if (name == "channel")
    return "`channel`: channel — `email`, `sms`, `post` or `phone` (a live call by a person).";
  if (name == "notice_type")
    return "`notice_type`: notice_type — the basis the sender declares for a service notice: "
           "`contract` (when the sender gives none), `legal_obligation`, `vital_interest`, "
           "`public_task`.";
  return "`contact`: the person's facts (lawful.v1.Contact), read as `contact.FIELD`.";
}

}  // namespace

std::string FieldKind(const pb::FieldDescriptor* f) {
  std::string kind;
  if (f->message_type() != nullptr) {
    kind = f->message_type()->full_name() == "google.protobuf.Timestamp"
               ? "instant"
               : absl::StrCat(RulesEnumName(f->message_type()->name()), " record");
  } else if (f->enum_type() != nullptr) {
    kind = RulesEnumName(f->enum_type()->name());
  } else if (f->type() == pb::FieldDescriptor::TYPE_BOOL) {
    kind = "condition";
  } else if (f->type() == pb::FieldDescriptor::TYPE_STRING) {
    // Dates and purposes travel as strings; contact.proto marks them (fact_type).
    const lawful::v1::FactType fact = f->options().GetExtension(lawful::v1::fact_type);
    kind = fact == lawful::v1::FACT_TYPE_PURPOSE ? "purpose"
           : fact == lawful::v1::FACT_TYPE_DATE  ? "date"
                                                 : "text";
  } else {
    kind = "number";
  }
  return f->is_repeated() ? absl::StrCat("list of ", kind, f->message_type() ? "s" : " values")
                          : kind;
}

std::string RulesEnumName(const std::string& proto_name) {
  std::string out;
  for (char c : proto_name) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      if (!out.empty()) out += '_';
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      out += c;
    }
  }
  return out;
}

std::string CommentAbove(const std::string& text, uint32_t line) {
  std::vector<std::string> lines;
  for (uint32_t l = line; l > 1; --l) {
    size_t start = OffsetOfLine(text, l - 1);
    size_t end = text.find('\n', start);
    std::string s = text.substr(start, end == std::string::npos ? std::string::npos : end - start);
    size_t first = s.find_first_not_of(" \t\r");
    if (first == std::string::npos || s[first] != '#') break;
    s = s.substr(first + 1);
    if (!s.empty() && s[0] == ' ') s.erase(0, 1);
    while (!s.empty() && (s.back() == '\r' || s.back() == ' ')) s.pop_back();
    lines.push_back(s);
  }
  std::reverse(lines.begin(), lines.end());
  return absl::StrJoin(lines, "\n");
}

std::string HoverText(const Analysis& a, const Symbol& s) {
  const dsl::CheckedRules& rules = *a.rules;
  auto text_of = [&](const dsl::Span& span) -> const std::string& {
    return a.checked_files[span.file].text;
  };
  auto with_comment = [&](std::string out, const dsl::Span& span) {
    std::string comment = CommentAbove(text_of(span), span.line);
    if (!comment.empty()) absl::StrAppend(&out, "\n\n", comment);
    absl::StrAppend(&out, "\n\n*", a.checked_files[span.file].path, ":", span.line, "*");
    return out;
  };
  switch (s.kind) {
    case SymbolKind::kConst: {
      std::string out = Fence(DefinitionText(text_of(s.decl), *s.def));
      std::string value = ValueText(rules, *s.def);
      if (!value.empty()) absl::StrAppend(&out, "\n\nValue: `", value, "`");
      return with_comment(out, s.decl);
    }
    case SymbolKind::kDef:
      return with_comment(Fence(DefinitionText(text_of(s.decl), *s.def)), s.decl);
    case SymbolKind::kParam: {
      const dsl::Param& p = s.def->params[s.param];
      return Fence(absl::StrCat(p.name, ": ", p.type_name)) +
             absl::StrCat("\n\nParameter of `", s.def->name, "`");
    }
    case SymbolKind::kPurpose:
      return with_comment(Fence(absl::StrCat("purpose ", s.name)), s.decl);
    case SymbolKind::kEnum: {
      std::vector<std::string> values;
      for (const dsl::NamedSpan& v : s.enum_decl->values) values.push_back(v.name);
      return with_comment(
          Fence(absl::StrCat("enum ", s.name, " {", absl::StrJoin(values, ", "), "}")), s.decl);
    }
    case SymbolKind::kEnumValue: {
      std::string kind = s.enum_id >= 0 && static_cast<size_t>(s.enum_id) < rules.enums.size()
                             ? rules.enums[s.enum_id].name
                             : "value";
      std::string out = absl::StrCat("`", s.name, "`: a value of `", kind, "`");
      if (s.declared) return with_comment(out, s.enum_decl->span);
      return out;
    }
    case SymbolKind::kPolicy: {
      std::string out = Fence(absl::StrCat("policy ", s.name));
      absl::StrAppend(&out, "\n\n", s.policy->rules.size(), " rules");
      return with_comment(out, s.decl);
    }
    case SymbolKind::kRule: {
      const dsl::RuleDecl& r = *s.rule;
      std::string out = Fence(
          absl::StrCat(r.is_default ? "otherwise " : "", OutcomeName(r.outcome), " ", r.name));
      absl::StrAppend(&out, "\n\nIn policy `", s.policy->name, "`.");
      absl::StrAppend(&out, "\n\nReason: `", r.reason ? r.reason->name : r.name, "`");
      if (r.cite) absl::StrAppend(&out, "\n\nCitation: ", *r.cite);
      if (!r.note.empty()) absl::StrAppend(&out, "\n\nNote: ", r.note);
      return with_comment(out, r.span);
    }
    case SymbolKind::kField: {
      std::string out = Fence(absl::StrCat(s.field->name(), ": ", FieldKind(s.field)));
      absl::StrAppend(&out, "\n\n`", s.field->full_name(), "`");
      std::string comment = FieldComment(s.field);
      if (!comment.empty()) absl::StrAppend(&out, "\n\n", comment);
      return out;
    }
    case SymbolKind::kInvariant: {
      const dsl::InvariantDecl& inv = *s.invariant;
      std::vector<std::string> by;
      for (const dsl::NamedSpan& r : inv.allowed_by) by.push_back(r.name);
      std::string out =
          Fence(absl::StrCat("invariant ", s.name, "\n  then ",
                             inv.deny ? "deny" : "allow only by ", absl::StrJoin(by, ", ")));
      absl::StrAppend(&out, "\n\nProven over every contact by `lawful prove`; decides nothing.");
      return with_comment(out, s.decl);
    }
    case SymbolKind::kRequest:
      return RequestDoc(s.name);
    case SymbolKind::kBuiltin:
      return s.name == "local_date"
                 ? Fence("local_date(t: instant, zone: text): date") +
                       "\n\nThe calendar date of instant `t` in time zone `zone`."
                 : Fence("years_between(from: date, to: date): number") +
                       "\n\nCompleted years from `from` to `to` (an age).";
  }
  return "";
}

}  // namespace lawful::lsp
