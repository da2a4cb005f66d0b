// Completion from what the cursor follows: a field after `.` (from the contact's descriptor), a
// value name where a comparison or a set needs one, otherwise keywords and the declared names.
// It reads the text before the cursor, since the line being typed rarely parses.
#include <regex>
#include <set>

#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "lawful/v1/contact.pb.h"
#include "workspace.h"

namespace lawful::lsp {
namespace {

namespace pb = google::protobuf;

constexpr int kMethod = 2, kFunction = 3, kField = 5, kVariable = 6, kKeyword = 14,
              kEnumMember = 20, kConstant = 21;

json Item(const std::string& label, int kind, const std::string& detail = "") {
  json item = {{"label", label}, {"kind", kind}};
  if (!detail.empty()) item["detail"] = detail;
  return item;
}

const pb::FieldDescriptor* FieldOfPath(const pb::Descriptor* message,
                                       const std::vector<std::string>& path) {
  const pb::FieldDescriptor* field = nullptr;
  for (const std::string& name : path) {
    if (message == nullptr) return nullptr;
    field = message->FindFieldByName(name);
    if (field == nullptr) return nullptr;
    message = field->message_type();
  }
  return field;
}

std::vector<std::string> Split(const std::string& chain) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot = chain.find('.'); dot != std::string::npos; dot = chain.find('.', start)) {
    parts.push_back(chain.substr(start, dot - start));
    start = dot + 1;
  }
  parts.push_back(chain.substr(start));
  return parts;
}

// The message a name stands for before a `.`: the contact, a parameter of a record kind
// (`c: consent`), or a variable bound over a list (`any c in contact.consents`).
const pb::Descriptor* MessageOfName(const std::string& text, const std::string& name) {
  const pb::Descriptor* contact = lawful::v1::Contact::descriptor();
  if (name == "contact") return contact;
  std::smatch m;
  const std::regex param("\\b" + name + "\\s*:\\s*([A-Za-z_]\\w*)");
  const std::regex bound("\\b(?:any|all|count|latest)\\s+" + name +
                         "\\s+in\\s+contact\\.([\\w.]+)");
  std::string best;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), bound);
       it != std::sregex_iterator(); ++it) {
    const pb::FieldDescriptor* f = FieldOfPath(contact, Split((*it)[1]));
    if (f != nullptr && f->message_type() != nullptr) return f->message_type();
  }
  if (std::regex_search(text, m, param)) {
    for (int i = 0; i < contact->field_count(); ++i) {
      const pb::Descriptor* d = contact->field(i)->message_type();
      if (d != nullptr && RulesEnumName(d->name()) == m[1].str()) return d;
    }
  }
  return nullptr;
}

// The enum of the value written before `==`, `!=` or `in {`, or -1.
int32_t EnumOfLeft(const Analysis& a, const std::string& text, const std::string& left) {
  if (a.rules == nullptr) return -1;
  const dsl::CheckedRules& rules = *a.rules;
  auto by_name = [&](const std::string& name) {
    for (size_t i = 0; i < rules.enums.size(); ++i) {
      if (rules.enums[i].name == name) return static_cast<int32_t>(i);
    }
    return -1;
  };
  if (left == "purpose" || left == "channel" || left == "notice_type") return by_name(left);
  std::vector<std::string> path = Split(left);
  if (path.size() > 1) {
    const pb::Descriptor* base = MessageOfName(text, path[0]);
    path.erase(path.begin());
    const pb::FieldDescriptor* f = base ? FieldOfPath(base, path) : nullptr;
    if (f == nullptr) return -1;
    if (f->enum_type() != nullptr) return by_name(RulesEnumName(f->enum_type()->name()));
    if (f->options().GetExtension(lawful::v1::fact_type) == lawful::v1::FACT_TYPE_PURPOSE) return 0;
    return -1;
  }
  std::string name = path[0];
  size_t paren = name.find('(');
  if (paren != std::string::npos) name = name.substr(0, paren);
  for (const dsl::Module& m : rules.modules) {
    for (const auto& d : m.defs) {
      if (d->name == name && d->type.kind == dsl::TypeKind::kEnum) return d->type.enum_id;
    }
  }
  return -1;
}

void AddEnumValues(const Analysis& a, int32_t id, json& items) {
  for (const auto& [name, number] : a.rules->enums[id].values)
    items.push_back(Item(name, kEnumMember, a.rules->enums[id].name));
}

}  // namespace

json Completion(Workspace& w, const json& params) {
  const std::string uri = params.at("textDocument").at("uri").get<std::string>();
  const std::string* buffer = w.Buffer(uri);
  const Analysis& a = w.NamesOf(uri);
  std::string text;
  if (buffer != nullptr) text = *buffer;
  const json& p = params.at("position");
  const Position position{p.at("line").get<uint32_t>(), p.at("character").get<uint32_t>()};
  const size_t offset = OffsetOf(text, position);
  const std::string line = text.substr(OffsetOfLine(text, position.line + 1),
                                       offset - OffsetOfLine(text, position.line + 1));
  json items = json::array();
  std::smatch m;
  static const std::regex kFieldAccess("([A-Za-z_]\\w*(?:\\.[A-Za-z_]\\w*)*)\\.\\w*$");
  static const std::regex kCompare("([A-Za-z_][\\w.]*(?:\\([^()]*\\))?)\\s*(?:==|!=)\\s*\\w*$");
  static const std::regex kInSet(
      "([A-Za-z_][\\w.]*(?:\\([^()]*\\))?)\\s+(?:not\\s+)?in\\s+\\{[^}]*$");
  static const std::regex kPolicyPurposes("\\bfor\\s+purposes\\s+\\{?[\\w,\\s]*$");
  static const std::regex kPolicyChannels("\\bchannels\\s+\\{?[\\w,\\s]*$");
  static const std::regex kAllowedBy("\\ballow\\s+only\\s+by\\s+[\\w,\\s]*$");
  if (std::regex_search(line, m, kFieldAccess)) {
    std::vector<std::string> path = Split(m[1]);
    const pb::Descriptor* message = MessageOfName(text, path[0]);
    path.erase(path.begin());
    if (message != nullptr && !path.empty()) {
      const pb::FieldDescriptor* f = FieldOfPath(message, path);
      message = f != nullptr ? f->message_type() : nullptr;
    }
    if (message == nullptr || message->full_name() == "google.protobuf.Timestamp") return items;
    for (int i = 0; i < message->field_count(); ++i) {
      const pb::FieldDescriptor* f = message->field(i);
      json item = Item(f->name(), kField, FieldKind(f));
      std::string doc = FieldComment(f);
      if (!doc.empty()) item["documentation"] = {{"kind", "markdown"}, {"value", doc}};
      items.push_back(std::move(item));
    }
    return items;
  }
  if (a.rules != nullptr) {
    if (std::regex_search(line, m, kAllowedBy) && a.index != nullptr) {
      // An invariant's `allow only by`: the allow rules, each name once.
      std::set<std::string> seen;
      for (const Symbol& s : a.index->symbols()) {
        if (s.kind == SymbolKind::kRule && s.rule->outcome == Outcome::kAllow &&
            seen.insert(s.name).second)
          items.push_back(
              Item(s.name, kMethod, absl::StrCat("allow rule of `", s.policy->name, "`")));
      }
      return items;
    }
    if (std::regex_search(line, m, kPolicyPurposes)) {
      AddEnumValues(a, 0, items);
      for (const dsl::Module& mod : a.rules->modules) {
        for (const auto& d : mod.defs) {
          if (d->is_const) items.push_back(Item(d->name, kConstant, "const"));
        }
      }
      return items;
    }
    if (std::regex_search(line, m, kPolicyChannels)) {
      int32_t id = EnumOfLeft(a, text, "channel");
      if (id >= 0) AddEnumValues(a, id, items);
      return items;
    }
    if (std::regex_search(line, m, kCompare) || std::regex_search(line, m, kInSet)) {
      int32_t id = EnumOfLeft(a, text, m[1]);
      if (id >= 0) {
        AddEnumValues(a, id, items);
        return items;
      }
    }
  }
  static const char* const kKeywords[] = {
      "purpose",  "const",     "def",    "enum",     "policy",    "for",         "purposes",
      "channels", "effective", "from",   "until",    "deny",      "allow",       "otherwise",
      "when",     "cite",      "reason", "evidence", "valid",     "obligations", "note",
      "and",      "or",        "not",    "in",       "is",        "missing",     "present",
      "any",      "all",       "count",  "latest",   "where",     "by",          "if",
      "then",     "else",      "true",   "false",    "invariant", "only"};
  for (const char* k : kKeywords) items.push_back(Item(k, kKeyword));
  for (const char* r : {"at", "purpose", "channel", "notice_type", "contact"})
    items.push_back(Item(r, kVariable, "the request"));
  items.push_back(Item("local_date", kFunction, "local_date(t: instant, zone: text): date"));
  items.push_back(Item("years_between", kFunction, "years_between(from: date, to: date): number"));
  if (a.index == nullptr) return items;
  for (const Symbol& s : a.index->symbols()) {
    if (!s.declared) continue;
    if (s.kind == SymbolKind::kConst) items.push_back(Item(s.name, kConstant, "const"));
    if (s.kind == SymbolKind::kDef) {
      json item = Item(s.name, kMethod, "def");
      if (!s.def->params.empty()) {
        std::string snippet = s.name + "(";
        for (size_t i = 0; i < s.def->params.size(); ++i) {
          snippet +=
              (i ? ", ${" : "${") + std::to_string(i + 1) + ":" + s.def->params[i].name + "}";
        }
        item["insertText"] = snippet + ")";
        item["insertTextFormat"] = 2;
      }
      items.push_back(std::move(item));
    }
    if (s.kind == SymbolKind::kPurpose) items.push_back(Item(s.name, kEnumMember, "purpose"));
    if (s.kind == SymbolKind::kEnumValue) items.push_back(Item(s.name, kEnumMember, "value"));
  }
  return items;
}

}  // namespace lawful::lsp
