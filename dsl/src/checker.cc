// The checker: names, fields and types. Field access is resolved against the lawful.v1.Contact
// descriptor, so a field added to the proto is usable in rules without engine changes.
#include "checker.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "fold.h"
#include "google/protobuf/descriptor.h"
#include "lawful/v1/contact.pb.h"
#include "lawful/v1/decision.pb.h"
#include "language_limits.h"

namespace lawful::dsl {

namespace pb = google::protobuf;

bool SameType(const Type& a, const Type& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case TypeKind::kEnum:
      return a.enum_id == b.enum_id;
    case TypeKind::kRecord:
      return a.message == b.message && a.list == b.list && a.path == b.path;
    case TypeKind::kList:
    case TypeKind::kSet:
      return a.element && b.element && SameType(*a.element, *b.element);
    default:
      return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Fact layout
// ---------------------------------------------------------------------------------------------

namespace {
std::string JoinPath(const std::vector<const pb::FieldDescriptor*>& path, size_t n) {
  std::string out;
  for (size_t i = 0; i < n && i < path.size(); ++i) absl::StrAppend(&out, i ? "." : "", path[i]->name());
  return out;
}
}  // namespace

LayoutBuilder::LayoutBuilder() { layout_.messages.emplace_back(); }

int32_t LayoutBuilder::MessageFor(int32_t list, const std::vector<const pb::FieldDescriptor*>& path, size_t depth) {
  if (depth == 0) return list < 0 ? 0 : list_message_[list];
  auto key = std::make_pair(list, JoinPath(path, depth));
  if (auto it = messages_.find(key); it != messages_.end()) return it->second;
  int32_t parent = MessageFor(list, path, depth - 1);
  int32_t index = static_cast<int32_t>(layout_.messages.size());
  layout_.messages.emplace_back();
  FactField f;
  f.number = static_cast<uint32_t>(path[depth - 1]->number());
  f.kind = FactKind::kMessage;
  f.message = index;
  f.name = path[depth - 1]->name();
  layout_.messages[parent].fields.push_back(f);
  messages_[key] = index;
  return index;
}

int32_t LayoutBuilder::Slot(int32_t list, const std::vector<const pb::FieldDescriptor*>& path, FactKind kind) {
  auto key = std::make_pair(list, JoinPath(path, path.size()));
  if (auto it = slots_.find(key); it != slots_.end()) return it->second;
  int32_t slot = list < 0 ? layout_.contact_slots++ : layout_.lists[list].width++;
  int32_t message = MessageFor(list, path, path.size() - 1);
  FactField f;
  f.number = static_cast<uint32_t>(path.back()->number());
  f.kind = kind;
  f.slot = slot;
  f.name = path.back()->name();
  layout_.messages[message].fields.push_back(f);
  slots_[key] = slot;
  return slot;
}

int32_t LayoutBuilder::List(int32_t parent_list, const std::vector<const pb::FieldDescriptor*>& path, FactKind kind,
                            FactKind element) {
  auto key = std::make_pair(parent_list, JoinPath(path, path.size()));
  if (auto it = lists_.find(key); it != lists_.end()) return it->second;
  int32_t id = static_cast<int32_t>(layout_.lists.size());
  ListLayout list;
  list.name = JoinPath(path, path.size());
  list.records = kind == FactKind::kRecordList;
  list.width = list.records ? 0 : 1;
  layout_.lists.push_back(list);
  int32_t element_message = -1;
  if (list.records) {
    element_message = static_cast<int32_t>(layout_.messages.size());
    layout_.messages.emplace_back();
  }
  list_message_.push_back(element_message);
  FactField f;
  f.number = static_cast<uint32_t>(path.back()->number());
  f.kind = kind;
  f.element = element;
  f.slot = id;
  f.message = element_message;
  f.name = path.back()->name();
  layout_.messages[MessageFor(parent_list, path, path.size() - 1)].fields.push_back(f);
  lists_[key] = id;
  // A record's caller-side id lets a decision's evidence point at it.
  if (list.records) {
    const pb::FieldDescriptor* id_field = path.back()->message_type()->FindFieldByName("id");
    if (id_field != nullptr && id_field->type() == pb::FieldDescriptor::TYPE_STRING && !id_field->is_repeated()) {
      layout_.lists[id].id_slot = Slot(id, {id_field}, FactKind::kString);
    }
  }
  return id;
}

// ---------------------------------------------------------------------------------------------
// Checker
// ---------------------------------------------------------------------------------------------

namespace {

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// " (did you mean `x`?)" for the nearest candidate within a third of the name's length.
std::string Suggest(const std::string& name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, name.size() / 3) + 1;
  for (const std::string& c : candidates) {
    size_t d = EditDistance(name, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best.empty() ? "" : absl::StrCat("; did you mean `", best, "`?");
}

// CONSENT_SOURCE_WEB_FORM in enum ConsentSource -> web_form.
std::string EnumValueName(const pb::EnumValueDescriptor* v) {
  std::string prefix;
  for (char c : v->type()->name()) {
    if (absl::ascii_isupper(static_cast<unsigned char>(c)) && !prefix.empty()) prefix += '_';
    prefix += absl::ascii_toupper(static_cast<unsigned char>(c));
  }
  prefix += '_';
  std::string name = v->name();
  if (name.rfind(prefix, 0) == 0) name = name.substr(prefix.size());
  return absl::AsciiStrToLower(name);
}

// ConsentSource -> consent_source.
std::string SnakeCase(const std::string& camel) {
  std::string out;
  for (char c : camel) {
    if (absl::ascii_isupper(static_cast<unsigned char>(c)) && !out.empty()) out += '_';
    out += absl::ascii_tolower(static_cast<unsigned char>(c));
  }
  return out;
}

bool IsTimestamp(const pb::Descriptor* d) { return d->full_name() == "google.protobuf.Timestamp"; }

class Checker {
 public:
  Checker(CheckedRuleSet& out, std::vector<Diagnostic>& diagnostics) : out_(out), diagnostics_(diagnostics) {}

  bool Run() {
    if (!WithinLimits()) return false;
    DeclarePurposes();
    DeclareProtoEnums();
    DeclareUserEnums();
    DeclareDefs();
    for (auto& [name, def] : defs_) CheckDef(*def);
    for (Module& m : out_.modules) {
      for (PolicyDecl& p : m.policies) CheckPolicy(p);
    }
    if (out_.policies.empty() && errors_ == 0) {
      Error(Span{0, 1, 1, 1}, "no-policy", "the rule set declares no policy; write at least one `policy NAME for purposes ... { ... }`");
    }
    return errors_ == 0;
  }

 private:
  // ---- diagnostics ----
  void Report(Severity severity, const Span& span, const std::string& code, std::string message) {
    if (severity == Severity::kError) ++errors_;
    const std::string& file = span.file < out_.files.size() ? out_.files[span.file] : out_.files.front();
    diagnostics_.push_back(Diagnostic{severity, code, file, span.line, span.column, span.length, std::move(message)});
  }
  void Error(const Span& span, const std::string& code, std::string message) {
    Report(Severity::kError, span, code, std::move(message));
  }
  void Warning(const Span& span, const std::string& code, std::string message) {
    Report(Severity::kWarning, span, code, std::move(message));
  }

  // The kind of a value without an article: "purpose", "consent record".
  std::string KindName(const Type& t) {
    switch (t.kind) {
      case TypeKind::kError: return "invalid value";
      case TypeKind::kBool: return "condition (true or false)";
      case TypeKind::kInt: return "number";
      case TypeKind::kString: return "text";
      case TypeKind::kInstant: return "instant";
      case TypeKind::kDate: return "date";
      case TypeKind::kDuration: return "duration";
      case TypeKind::kEnum: return out_.enums[t.enum_id].name;
      case TypeKind::kRecord: return absl::StrCat(SnakeCase(t.message->name()), " record");
      case TypeKind::kList: return absl::StrCat("list of ", t.element ? Plural(*t.element) : "values");
      case TypeKind::kSet: return absl::StrCat("set of ", t.element ? Plural(*t.element) : "values");
    }
    return "value";
  }

  std::string Plural(const Type& t) {
    if (t.kind == TypeKind::kBool) return "conditions";
    return KindName(t) + "s";
  }

  std::string TypeName(const Type& t) {
    std::string kind = KindName(t);
    const bool vowel = std::string("aeiou").find(kind[0]) != std::string::npos;
    return absl::StrCat(vowel ? "an " : "a ", kind);
  }

  // ---- limits ----
  // How many policies and rules a rule set may have: reported at the first one past the limit.
  bool WithinLimits() {
    size_t policies = 0, rules = 0;
    for (const Module& m : out_.modules) {
      for (const PolicyDecl& p : m.policies) {
        if (++policies == kMaxPolicies + 1) {
          Error(p.span, "limit", absl::StrCat("policy `", p.name, "` is one too many: a rule set may have at most ",
                                              kMaxPolicies, " policies"));
        }
        for (const RuleDecl& r : p.rules) {
          if (++rules == kMaxRules + 1) {
            Error(r.name_span, "limit", absl::StrCat("rule `", r.name, "` is one too many: a rule set may have at most ",
                                                     kMaxRules, " rules (`otherwise` rules included)"));
          }
        }
      }
    }
    return errors_ == 0;
  }

  // ---- declarations ----
  void DeclarePurposes() {
    out_.enums.push_back(EnumInfo{"purpose", {}});
    std::map<std::string, Span> seen;
    for (Module& m : out_.modules) {
      for (const NamedSpan& p : m.purposes) {
        if (seen.count(p.name)) {
          Error(p.span, "duplicate", absl::StrCat("purpose `", p.name, "` is declared twice"));
          continue;
        }
        seen[p.name] = p.span;
        out_.enums[0].values.emplace_back(p.name, static_cast<int64_t>(out_.purposes.size()));
        out_.purposes.push_back(p.name);
      }
    }
  }

  int32_t EnumIdFor(const pb::EnumDescriptor* e) {
    if (auto it = proto_enums_.find(e); it != proto_enums_.end()) return it->second;
    EnumInfo info{SnakeCase(e->name()), {}};
    for (int i = 0; i < e->value_count(); ++i) {
      if (e->value(i)->number() == 0) continue;  // UNSPECIFIED is never a meaningful value
      info.values.emplace_back(EnumValueName(e->value(i)), e->value(i)->number());
    }
    int32_t id = static_cast<int32_t>(out_.enums.size());
    out_.enums.push_back(std::move(info));
    proto_enums_[e] = id;
    return id;
  }

  void DeclareProtoEnums() {
    const pb::FileDescriptor* contact_file = lawful::v1::Contact::descriptor()->file();
    for (int i = 0; i < contact_file->enum_type_count(); ++i) {
      if (contact_file->enum_type(i)->name() == "FactType") continue;
      EnumIdFor(contact_file->enum_type(i));
    }
    EnumIdFor(lawful::v1::NoticeType_descriptor());
    channel_enum_ = EnumIdFor(lawful::v1::Channel_descriptor());
    notice_enum_ = EnumIdFor(lawful::v1::NoticeType_descriptor());
  }

  void DeclareUserEnums() {
    for (Module& m : out_.modules) {
      for (const EnumDecl& e : m.enums) {
        if (EnumByName(e.name) >= 0) {
          Error(e.span, "duplicate", absl::StrCat("a type named `", e.name, "` already exists"));
          continue;
        }
        EnumInfo info{e.name, {}};
        for (size_t i = 0; i < e.values.size(); ++i) info.values.emplace_back(e.values[i].name, static_cast<int64_t>(i + 1));
        out_.enums.push_back(std::move(info));
      }
    }
  }

  int32_t EnumByName(const std::string& name) {
    for (size_t i = 0; i < out_.enums.size(); ++i) {
      if (out_.enums[i].name == name) return static_cast<int32_t>(i);
    }
    return -1;
  }

  void DeclareDefs() {
    for (Module& m : out_.modules) {
      for (auto& d : m.defs) {
        if (IsBuiltinName(d->name)) {
          Error(d->span, "reserved", absl::StrCat("`", d->name, "` is a built-in name and cannot be redefined"));
          continue;
        }
        if (defs_.count(d->name)) {
          Error(d->span, "duplicate", absl::StrCat("`", d->name, "` is already defined at ", out_.files[defs_[d->name]->span.file], ":", defs_[d->name]->span.line));
          continue;
        }
        defs_[d->name] = d.get();
      }
    }
  }

  static bool IsBuiltinName(const std::string& n) {
    return n == "at" || n == "purpose" || n == "channel" || n == "notice_type" || n == "contact" ||
           n == "local_date" || n == "years_between";
  }

  // The record list holding messages of type `message` (e.g. consent -> contact.consents).
  bool RecordTypeFor(const pb::Descriptor* message, Type& out) {
    const pb::Descriptor* contact = lawful::v1::Contact::descriptor();
    for (int i = 0; i < contact->field_count(); ++i) {
      const pb::FieldDescriptor* f = contact->field(i);
      if (f->is_repeated() && f->type() == pb::FieldDescriptor::TYPE_MESSAGE && f->message_type() == message) {
        out = Type::Of(TypeKind::kRecord);
        out.message = message;
        out.list = out_.layout.List(-1, {f}, FactKind::kRecordList, FactKind::kInt);
        return true;
      }
    }
    return false;
  }

  std::vector<std::string> TypeNames() {
    std::vector<std::string> names = {"int", "bool", "string", "instant", "date"};
    for (const EnumInfo& e : out_.enums) names.push_back(e.name);
    const pb::Descriptor* contact = lawful::v1::Contact::descriptor();
    for (int i = 0; i < contact->field_count(); ++i) {
      if (contact->field(i)->is_repeated() && contact->field(i)->type() == pb::FieldDescriptor::TYPE_MESSAGE) {
        names.push_back(SnakeCase(contact->field(i)->message_type()->name()));
      }
    }
    return names;
  }

  bool ResolveTypeName(const std::string& name, const Span& span, Type& out) {
    if (name == "int") return out = Type::Of(TypeKind::kInt), true;
    if (name == "bool") return out = Type::Of(TypeKind::kBool), true;
    if (name == "string") return out = Type::Of(TypeKind::kString), true;
    if (name == "instant") return out = Type::Of(TypeKind::kInstant), true;
    if (name == "date") return out = Type::Of(TypeKind::kDate), true;
    if (int32_t e = EnumByName(name); e >= 0) return out = Type::Enum(e), true;
    const pb::Descriptor* contact = lawful::v1::Contact::descriptor();
    for (int i = 0; i < contact->field_count(); ++i) {
      const pb::FieldDescriptor* f = contact->field(i);
      if (f->type() == pb::FieldDescriptor::TYPE_MESSAGE && SnakeCase(f->message_type()->name()) == name &&
          f->is_repeated()) {
        return RecordTypeFor(f->message_type(), out);
      }
    }
    Error(span, "unknown-type", absl::StrCat("unknown type `", name, "`", Suggest(name, TypeNames())));
    return false;
  }

  // ---- definitions ----
  void CheckDef(Def& def) {
    if (def.checked) return;
    if (def.checking) return;  // the caller reports the cycle
    def.checking = true;
    bool ok = true;
    for (Param& p : def.params) {
      if (def.is_const) break;
      if (!ResolveTypeName(p.type_name, p.type_span, p.type)) ok = false;
    }
    Scope scope;
    scope.params = &def.params;
    def.type = ok ? CheckExpr(*def.body, scope, nullptr) : Type::Of(TypeKind::kError);
    if (def.is_const && !def.type.error()) FoldConst(def);
    def.checking = false;
    def.checked = true;
  }

  // Folds a const's body; consts may only use literals, sets, durations and other consts.
  void FoldConst(Def& def) {
    const FoldResult folded = Fold(*def.body, def.constant);
    if (folded.kind == FoldResult::kOk) return;
    if (folded.kind == FoldResult::kInvalid) {
      Error(folded.span, folded.code, folded.message);
    } else {
      Error(def.body->span, "not-constant",
            absl::StrCat("`", def.name, "` is a `const`, so its value must be known when the rules are compiled "
                         "(literals, sets, durations and other consts); use `def` for values that depend on the contact or `at`"));
    }
    def.type = Type::Of(TypeKind::kError);
  }

  // ---- scopes ----
  struct Binding {
    std::string name;
    Type type;
    int32_t id;
  };
  struct Scope {
    std::vector<Param>* params = nullptr;  // of the def being checked
    std::vector<Binding> vars;             // quantifier variables, innermost last
  };

  Type Fail() { return Type::Of(TypeKind::kError); }

  std::vector<std::string> NamesInScope(const Scope& scope) {
    std::vector<std::string> names = {"at", "purpose", "channel", "notice_type", "contact"};
    for (const Binding& b : scope.vars) names.push_back(b.name);
    if (scope.params) {
      for (const Param& p : *scope.params) names.push_back(p.name);
    }
    for (const auto& [name, def] : defs_) names.push_back(name);
    for (const EnumInfo& e : out_.enums) {
      for (const auto& [v, n] : e.values) names.push_back(v);
    }
    return names;
  }

  // Does `name` resolve without context (variable, builtin, def)? Enum values need context.
  bool ResolvesWithoutContext(const Expr& e, const Scope& scope) {
    if (e.kind != ExprKind::kName) return true;
    for (const Binding& b : scope.vars) {
      if (b.name == e.text) return true;
    }
    if (scope.params) {
      for (const Param& p : *scope.params) {
        if (p.name == e.text) return true;
      }
    }
    return IsBuiltinName(e.text) || defs_.count(e.text) > 0;
  }

  // A bare value name (or an `if` choosing between two) takes its type from its context.
  bool NeedsContext(const Expr& e, const Scope& scope) {
    if (e.kind == ExprKind::kIf) return NeedsContext(*e.kids[1], scope) && NeedsContext(*e.kids[2], scope);
    return !ResolvesWithoutContext(e, scope);
  }

  // The one enum holding every value name of `names`, or -1.
  int32_t CommonEnum(const std::vector<const Expr*>& names) {
    std::vector<int32_t> common;
    bool first = true;
    for (const Expr* k : names) {
      if (k->kind != ExprKind::kName) return -1;
      std::vector<int32_t> ids = EnumsWithValue(k->text);
      if (first) {
        common = ids;
        first = false;
        continue;
      }
      std::vector<int32_t> both;
      for (int32_t id : common) {
        if (std::count(ids.begin(), ids.end(), id)) both.push_back(id);
      }
      common = both;
    }
    return common.size() == 1 ? common[0] : -1;
  }

  // Enums having a value named `name`.
  std::vector<int32_t> EnumsWithValue(const std::string& name) {
    std::vector<int32_t> ids;
    for (size_t i = 0; i < out_.enums.size(); ++i) {
      for (const auto& [v, n] : out_.enums[i].values) {
        if (v == name) ids.push_back(static_cast<int32_t>(i));
      }
    }
    return ids;
  }

  Type ResolveEnumValue(Expr& e, int32_t enum_id) {
    for (const auto& [v, n] : out_.enums[enum_id].values) {
      if (v == e.text) {
        e.resolution = Resolution::kEnumValue;
        e.value = n;
        return e.type = Type::Enum(enum_id);
      }
    }
    std::vector<std::string> values;
    for (const auto& [v, n] : out_.enums[enum_id].values) values.push_back(v);
    Error(e.span, "unknown-value",
          absl::StrCat("`", e.text, "` is not a ", out_.enums[enum_id].name, Suggest(e.text, values),
                       values.empty() ? "" : absl::StrCat(" (", out_.enums[enum_id].name, " values: ", absl::StrJoin(values, ", "), ")")));
    return e.type = Fail();
  }

  Type CheckName(Expr& e, Scope& scope, const Type* expected) {
    for (auto it = scope.vars.rbegin(); it != scope.vars.rend(); ++it) {
      if (it->name == e.text) {
        e.resolution = Resolution::kLoopVar;
        e.binding = it->id;
        return e.type = it->type;
      }
    }
    if (scope.params) {
      for (size_t i = 0; i < scope.params->size(); ++i) {
        if ((*scope.params)[i].name == e.text) {
          e.resolution = Resolution::kParam;
          e.binding = static_cast<int32_t>(i);
          return e.type = (*scope.params)[i].type;
        }
      }
    }
    if (e.text == "at") return e.resolution = Resolution::kAt, e.type = Type::Of(TypeKind::kInstant);
    if (e.text == "purpose") return e.resolution = Resolution::kPurpose, e.type = Type::Enum(0);
    if (e.text == "channel") return e.resolution = Resolution::kChannel, e.type = Type::Enum(channel_enum_);
    if (e.text == "notice_type") return e.resolution = Resolution::kNoticeType, e.type = Type::Enum(notice_enum_);
    if (e.text == "contact") {
      e.resolution = Resolution::kContact;
      Type t = Type::Of(TypeKind::kRecord);
      t.message = lawful::v1::Contact::descriptor();
      return e.type = t;
    }
    if (auto it = defs_.find(e.text); it != defs_.end()) {
      Def& def = *it->second;
      if (!def.params.empty()) {
        Error(e.span, "arity", absl::StrCat("`", def.name, "` takes ", def.params.size(), " argument(s): write `", def.name, "(...)`"));
        return e.type = Fail();
      }
      if (def.checking) {
        Error(e.span, "recursive", absl::StrCat("`", def.name, "` refers to itself; definitions may not be recursive"));
        return e.type = Fail();
      }
      CheckDef(def);
      e.resolution = def.is_const ? Resolution::kConst : Resolution::kDef;
      e.def = &def;
      return e.type = def.type;
    }
    if (expected != nullptr && expected->kind == TypeKind::kEnum) return ResolveEnumValue(e, expected->enum_id);
    std::vector<int32_t> enums = EnumsWithValue(e.text);
    if (enums.size() == 1) return ResolveEnumValue(e, enums[0]);
    if (enums.size() > 1) {
      std::vector<std::string> kinds;
      for (int32_t id : enums) kinds.push_back(out_.enums[id].name);
      Error(e.span, "ambiguous",
            absl::StrCat("`", e.text, "` is ambiguous: it is a value of ", absl::StrJoin(kinds, " and of "),
                         "; compare it with a value of the type you mean"));
      return e.type = Fail();
    }
    Error(e.span, "unknown-name", absl::StrCat("unknown name `", e.text, "`", Suggest(e.text, NamesInScope(scope))));
    return e.type = Fail();
  }

  // ---- fields ----
  std::vector<std::string> FieldNames(const pb::Descriptor* d) {
    std::vector<std::string> names;
    for (int i = 0; i < d->field_count(); ++i) names.push_back(d->field(i)->name());
    return names;
  }

  bool ScalarKind(const pb::FieldDescriptor* f, FactKind& kind, Type& type) {
    using FD = pb::FieldDescriptor;
    switch (f->type()) {
      case FD::TYPE_BOOL:
        kind = FactKind::kBool;
        type = Type::Of(TypeKind::kBool);
        return true;
      case FD::TYPE_INT32:
      case FD::TYPE_INT64:
      case FD::TYPE_UINT32:
      case FD::TYPE_UINT64:
        kind = FactKind::kInt;
        type = Type::Of(TypeKind::kInt);
        return true;
      case FD::TYPE_ENUM:
        kind = FactKind::kEnum;
        type = Type::Enum(EnumIdFor(f->enum_type()));
        return true;
      case FD::TYPE_STRING: {
        lawful::v1::FactType fact = f->options().GetExtension(lawful::v1::fact_type);
        if (fact == lawful::v1::FACT_TYPE_DATE) {
          kind = FactKind::kDate;
          type = Type::Of(TypeKind::kDate);
        } else if (fact == lawful::v1::FACT_TYPE_PURPOSE) {
          kind = FactKind::kPurpose;
          type = Type::Enum(0);
        } else {
          kind = FactKind::kString;
          type = Type::Of(TypeKind::kString);
        }
        return true;
      }
      case FD::TYPE_MESSAGE:
        if (IsTimestamp(f->message_type())) {
          kind = FactKind::kInstant;
          type = Type::Of(TypeKind::kInstant);
          return true;
        }
        return false;
      default:
        return false;
    }
  }

  Type CheckField(Expr& e, Scope& scope) {
    Type base = CheckExpr(*e.kids[0], scope, nullptr);
    if (base.error()) return e.type = Fail();
    if (base.kind != TypeKind::kRecord) {
      Error(e.span, "not-a-record", absl::StrCat("`.", e.text, "`: ", TypeName(base), " has no fields"));
      return e.type = Fail();
    }
    const pb::FieldDescriptor* f = base.message->FindFieldByName(e.text);
    if (f == nullptr) {
      Error(e.span, "unknown-field",
            absl::StrCat(SnakeCase(base.message->name()), " has no field `", e.text, "`",
                         Suggest(e.text, FieldNames(base.message))));
      return e.type = Fail();
    }
    std::vector<const pb::FieldDescriptor*> path = base.path;
    path.push_back(f);
    FactKind kind;
    Type scalar;
    if (f->is_repeated()) {
      if (base.list >= 0) {
        Error(e.span, "nested-list", absl::StrCat("lists inside list records (`", e.text, "`) are not supported"));
        return e.type = Fail();
      }
      Type list = Type::Of(TypeKind::kList);
      if (f->type() == pb::FieldDescriptor::TYPE_MESSAGE && !IsTimestamp(f->message_type())) {
        Type element = Type::Of(TypeKind::kRecord);
        element.message = f->message_type();
        element.list = out_.layout.List(-1, path, FactKind::kRecordList, FactKind::kInt);
        list.list = element.list;
        list.element = std::make_shared<Type>(element);
        return e.type = list;
      }
      if (!ScalarKind(f, kind, scalar) || kind == FactKind::kInstant) {
        Error(e.span, "unsupported-field", absl::StrCat("the list field `", e.text, "` has a type rules cannot read yet"));
        return e.type = Fail();
      }
      list.list = out_.layout.List(-1, path, FactKind::kScalarList, kind);
      list.element = std::make_shared<Type>(scalar);
      return e.type = list;
    }
    if (f->type() == pb::FieldDescriptor::TYPE_MESSAGE && !IsTimestamp(f->message_type())) {
      Type nested = Type::Of(TypeKind::kRecord);
      nested.message = f->message_type();
      nested.list = base.list;
      nested.path = path;
      return e.type = nested;
    }
    if (!ScalarKind(f, kind, scalar)) {
      Error(e.span, "unsupported-field", absl::StrCat("the field `", e.text, "` has a type rules cannot read yet"));
      return e.type = Fail();
    }
    out_.field_slot[&e] = out_.layout.Slot(base.list, path, kind);
    return e.type = scalar;
  }

  // ---- expressions ----
  bool Expect(const Expr& e, const Type& t, TypeKind kind, const char* what) {
    if (t.error() || t.kind == kind) return !t.error();
    Error(e.span, "type", absl::StrCat(what, " must be ", TypeName(Type::Of(kind)), ", not ", TypeName(t)));
    return false;
  }

  // A value the rules may use directly (not a group of fields, a list, a set or a duration).
  bool IsPlainValue(const Type& t) {
    return t.kind != TypeKind::kList && t.kind != TypeKind::kSet && t.kind != TypeKind::kDuration &&
           !(t.kind == TypeKind::kRecord && t.list < 0);
  }

  Type CheckSet(Expr& e, Scope& scope, const Type* expected_element) {
    Type element = expected_element ? *expected_element : Type::Of(TypeKind::kError);
    // Without context, bare value names are resolved by the enum all of them belong to.
    if (!expected_element && !e.kids.empty()) {
      std::vector<const Expr*> names;
      bool all_names = true;
      for (const auto& k : e.kids) {
        all_names &= NeedsContext(*k, scope);
        names.push_back(k.get());
      }
      int32_t common = all_names ? CommonEnum(names) : -1;
      if (common >= 0) {
        element = Type::Enum(common);
        expected_element = &element;
      }
    }
    bool ok = true;
    for (size_t i = 0; i < e.kids.size(); ++i) {
      Type t = CheckExpr(*e.kids[i], scope, expected_element);
      if (t.error()) {
        ok = false;
        continue;
      }
      if (t.kind != TypeKind::kEnum && t.kind != TypeKind::kInt) {
        Error(e.kids[i]->span, "type", absl::StrCat("a set holds names of values or numbers, not ", TypeName(t)));
        ok = false;
        continue;
      }
      if (i == 0 && !expected_element) {
        element = t;
        expected_element = &element;
      } else if (!SameType(t, element)) {
        Error(e.kids[i]->span, "type", absl::StrCat("this set must hold ", Plural(element), ", not ", TypeName(t)));
        ok = false;
      }
    }
    // The compiler takes a set's values from the folder, so each must be known now.
    for (size_t i = 0; ok && i < e.kids.size(); ++i) {
      ConstValue value;
      const FoldResult folded = Fold(*e.kids[i], value);
      if (folded.kind == FoldResult::kInvalid) {
        Error(folded.span, folded.code, folded.message);
        ok = false;
      } else if (folded.kind == FoldResult::kNotConstant) {
        Error(e.kids[i]->span, "not-constant",
              "the values of a set must be known when the rules are compiled (value names, numbers, consts); "
              "compare a value that depends on the contact or the request with `==`");
        ok = false;
      }
    }
    if (!ok) return e.type = Fail();
    if (e.kids.empty() && !expected_element) {
      Error(e.span, "type", "an empty set needs a context that says what it holds");
      return e.type = Fail();
    }
    Type set = Type::Of(TypeKind::kSet);
    set.element = std::make_shared<Type>(element);
    return e.type = set;
  }

  Type CheckBinary(Expr& e, Scope& scope) {
    Expr& a = *e.kids[0];
    Expr& b = *e.kids[1];
    switch (e.op) {
      case BinaryOp::kAnd:
      case BinaryOp::kOr: {
        Type ta = CheckExpr(a, scope, nullptr), tb = CheckExpr(b, scope, nullptr);
        bool ok = Expect(a, ta, TypeKind::kBool, e.op == BinaryOp::kAnd ? "each side of `and`" : "each side of `or`");
        ok = Expect(b, tb, TypeKind::kBool, e.op == BinaryOp::kAnd ? "each side of `and`" : "each side of `or`") && ok;
        return e.type = ok ? Type::Of(TypeKind::kBool) : Fail();
      }
      case BinaryOp::kIn:
      case BinaryOp::kNotIn: {
        Type ta, tb;
        if (NeedsContext(a, scope) && b.kind != ExprKind::kSet) {
          // `phone in contact.relationship.opted_out_channels`: the list says what `phone` is.
          tb = CheckExpr(b, scope, nullptr);
          ta = CheckExpr(a, scope, !tb.error() && tb.element ? tb.element.get() : nullptr);
          if (ta.error() || tb.error()) return e.type = Fail();
        } else {
          ta = CheckExpr(a, scope, nullptr);
          if (ta.error()) {
            if (b.kind != ExprKind::kSet) CheckExpr(b, scope, nullptr);
            return e.type = Fail();
          }
          tb = b.kind == ExprKind::kSet ? CheckSet(b, scope, &ta) : CheckExpr(b, scope, nullptr);
        }
        if (tb.error()) return e.type = Fail();
        if ((tb.kind != TypeKind::kSet && tb.kind != TypeKind::kList) ||
            (tb.kind == TypeKind::kList && tb.element->kind == TypeKind::kRecord)) {
          Error(b.span, "type", absl::StrCat("`in` needs a set or a list of values on its right, not ", TypeName(tb)));
          return e.type = Fail();
        }
        if (!SameType(ta, *tb.element)) {
          Error(a.span, "type", absl::StrCat("`in`: ", TypeName(ta), " cannot be in ", TypeName(tb)));
          return e.type = Fail();
        }
        if (tb.kind == TypeKind::kSet && b.kind != ExprKind::kSet && !(b.kind == ExprKind::kName && b.resolution == Resolution::kConst)) {
          Error(b.span, "not-constant", "a set after `in` must be written out or named by a `const`");
          return e.type = Fail();
        }
        return e.type = Type::Of(TypeKind::kBool);
      }
      default:
        break;
    }
    // Comparisons and arithmetic: a bare value name takes its type from the other side.
    Type ta, tb;
    if (NeedsContext(a, scope) && !NeedsContext(b, scope)) {
      tb = CheckExpr(b, scope, nullptr);
      ta = CheckExpr(a, scope, tb.error() ? nullptr : &tb);
    } else {
      ta = CheckExpr(a, scope, nullptr);
      tb = CheckExpr(b, scope, ta.error() ? nullptr : &ta);
    }
    if (ta.error() || tb.error()) return e.type = Fail();
    switch (e.op) {
      case BinaryOp::kEq:
      case BinaryOp::kNe:
        if (!IsPlainValue(ta) || ta.kind == TypeKind::kRecord) {
          Error(a.span, "type", absl::StrCat("cannot compare ", TypeName(ta), " with `", e.op == BinaryOp::kEq ? "==" : "!=", "`"));
          return e.type = Fail();
        }
        if (!SameType(ta, tb)) {
          Error(b.span, "type", absl::StrCat("cannot compare ", TypeName(ta), " with ", TypeName(tb)));
          return e.type = Fail();
        }
        return e.type = Type::Of(TypeKind::kBool);
      case BinaryOp::kLt:
      case BinaryOp::kLe:
      case BinaryOp::kGt:
      case BinaryOp::kGe:
        if (ta.kind != TypeKind::kInt && ta.kind != TypeKind::kInstant && ta.kind != TypeKind::kDate) {
          Error(a.span, "type", absl::StrCat("only numbers, instants and dates can be ordered, not ", TypeName(ta)));
          return e.type = Fail();
        }
        if (!SameType(ta, tb)) {
          Error(b.span, "type", absl::StrCat("cannot compare ", TypeName(ta), " with ", TypeName(tb)));
          return e.type = Fail();
        }
        return e.type = Type::Of(TypeKind::kBool);
      case BinaryOp::kAdd:
      case BinaryOp::kSub:
        if ((ta.kind == TypeKind::kInstant || ta.kind == TypeKind::kDate) && tb.kind == TypeKind::kDuration) {
          if (!IsConstantDuration(b)) {
            Error(b.span, "not-constant", "a duration must be written out (`24 months`) or named by a `const`");
            return e.type = Fail();
          }
          return e.type = ta;
        }
        if (ta.kind == TypeKind::kDuration && tb.kind == TypeKind::kDuration) {
          // The compiler folds every duration sum it moves an instant by, so one that cannot be
          // folded is reported here (one named by a `def` is refused where it is used).
          e.type = ta;
          ConstValue value;
          const FoldResult folded = Fold(e, value);
          if (folded.kind != FoldResult::kInvalid) return e.type;
          Error(folded.span, folded.code, folded.message);
          return e.type = Fail();
        }
        [[fallthrough]];
      case BinaryOp::kMul:
      case BinaryOp::kDiv:
        if (ta.kind == TypeKind::kInt && tb.kind == TypeKind::kInt) return e.type = ta;
        if (ta.kind == TypeKind::kInstant || ta.kind == TypeKind::kDate) {
          Error(b.span, "type", absl::StrCat("an instant or date can only be moved by a duration such as `12 months`, not by ", TypeName(tb)));
        } else {
          Error(e.span, "type", absl::StrCat("arithmetic needs numbers, not ", TypeName(ta), " and ", TypeName(tb)));
        }
        return e.type = Fail();
      default:
        return e.type = Fail();
    }
  }

  bool IsConstantDuration(const Expr& e) {
    if (e.kind == ExprKind::kDuration) return true;
    if (e.kind == ExprKind::kName && e.resolution == Resolution::kConst) return true;
    if (e.kind == ExprKind::kBinary) return IsConstantDuration(*e.kids[0]) && IsConstantDuration(*e.kids[1]);
    return false;
  }

  Type CheckCall(Expr& e, Scope& scope) {
    if (e.text == "local_date" || e.text == "years_between") {
      e.resolution = Resolution::kBuiltin;
      e.builtin = e.text;
      if (e.kids.size() != 2) {
        Error(e.span, "arity", absl::StrCat("`", e.text, "` takes 2 arguments"));
        return e.type = Fail();
      }
      Type a = CheckExpr(*e.kids[0], scope, nullptr), b = CheckExpr(*e.kids[1], scope, nullptr);
      if (e.text == "local_date") {
        bool ok = Expect(*e.kids[0], a, TypeKind::kInstant, "the first argument of `local_date`");
        const Expr* zone = e.kids[1].get();
        if (zone->kind == ExprKind::kName && zone->resolution == Resolution::kConst) zone = zone->def->body.get();
        if (b.error()) return e.type = Fail();
        if (zone->kind != ExprKind::kString) {
          Error(e.kids[1]->span, "type", "the second argument of `local_date` is a time zone name, e.g. \"Europe/Stockholm\"");
          return e.type = Fail();
        }
        absl::TimeZone tz;
        if (!IsTimeZoneName(zone->text) || !absl::LoadTimeZone(zone->text, &tz)) {
          Error(e.kids[1]->span, "unknown-zone", absl::StrCat("unknown time zone `", zone->text, "` (use an IANA name such as \"Europe/Stockholm\")"));
          return e.type = Fail();
        }
        e.text = "local_date";
        e.builtin = zone->text;
        return e.type = ok ? Type::Of(TypeKind::kDate) : Fail();
      }
      bool ok = Expect(*e.kids[0], a, TypeKind::kDate, "the first argument of `years_between`");
      ok = Expect(*e.kids[1], b, TypeKind::kDate, "the second argument of `years_between`") && ok;
      e.builtin = "years_between";
      return e.type = ok ? Type::Of(TypeKind::kInt) : Fail();
    }
    auto it = defs_.find(e.text);
    if (it == defs_.end()) {
      std::vector<std::string> names = {"local_date", "years_between"};
      for (const auto& [n, d] : defs_) names.push_back(n);
      Error(e.span, "unknown-name", absl::StrCat("unknown definition `", e.text, "`", Suggest(e.text, names)));
      for (auto& k : e.kids) CheckExpr(*k, scope, nullptr);
      return e.type = Fail();
    }
    Def& def = *it->second;
    if (def.checking) {
      Error(e.span, "recursive", absl::StrCat("`", def.name, "` calls itself; definitions may not be recursive"));
      return e.type = Fail();
    }
    CheckDef(def);
    if (def.params.size() != e.kids.size()) {
      Error(e.span, "arity", absl::StrCat("`", def.name, "` takes ", def.params.size(), " argument(s), not ", e.kids.size()));
      return e.type = Fail();
    }
    bool ok = true;
    for (size_t i = 0; i < e.kids.size(); ++i) {
      const Type& want = def.params[i].type;
      Type got = CheckExpr(*e.kids[i], scope, want.error() ? nullptr : &want);
      if (got.error() || want.error()) {
        ok = false;
      } else if (!SameType(got, want)) {
        Error(e.kids[i]->span, "type", absl::StrCat("argument `", def.params[i].name, "` of `", def.name, "` must be ",
                                                    TypeName(want), ", not ", TypeName(got)));
        ok = false;
      }
    }
    e.resolution = Resolution::kDef;
    e.def = &def;
    return e.type = ok && !def.type.error() ? def.type : Fail();
  }

  Type CheckQuantifier(Expr& e, Scope& scope) {
    Type coll = CheckExpr(*e.kids[0], scope, nullptr);
    e.id = out_.binders++;
    if (coll.error()) return e.type = Fail();
    if (coll.kind != TypeKind::kList) {
      Error(e.kids[0]->span, "type", absl::StrCat("expected a list field, e.g. `contact.consents`, not ", TypeName(coll)));
      return e.type = Fail();
    }
    if (e.kind == ExprKind::kLatest && coll.element->kind != TypeKind::kRecord) {
      Error(e.kids[0]->span, "type", "`latest` picks a record from a list of records, e.g. `contact.consents`");
      return e.type = Fail();
    }
    scope.vars.push_back(Binding{e.text, *coll.element, e.id});
    Type where = CheckExpr(*e.kids[1], scope, nullptr);
    bool ok = Expect(*e.kids[1], where, TypeKind::kBool, "the condition after `where`");
    if (e.kind == ExprKind::kLatest) {
      Type key = CheckExpr(*e.kids[2], scope, nullptr);
      if (!key.error() && key.kind != TypeKind::kInstant && key.kind != TypeKind::kDate && key.kind != TypeKind::kInt) {
        Error(e.kids[2]->span, "type", absl::StrCat("records are ordered by an instant, a date or a number, not ", TypeName(key)));
        ok = false;
      }
      ok = ok && !key.error();
    }
    scope.vars.pop_back();
    if (!ok) return e.type = Fail();
    switch (e.kind) {
      case ExprKind::kCount: return e.type = Type::Of(TypeKind::kInt);
      case ExprKind::kLatest: return e.type = *coll.element;
      default: return e.type = Type::Of(TypeKind::kBool);
    }
  }

  Type CheckExpr(Expr& e, Scope& scope, const Type* expected) {
    if (++depth_ > kMaxExpressionDepth) {
      --depth_;
      Error(e.span, "limit", "the expression is nested too deeply");
      return e.type = Fail();
    }
    Type t = CheckExprInner(e, scope, expected);
    --depth_;
    return t;
  }

  Type CheckExprInner(Expr& e, Scope& scope, const Type* expected) {
    switch (e.kind) {
      case ExprKind::kBool: return e.type = Type::Of(TypeKind::kBool);
      case ExprKind::kInt: return e.type = Type::Of(TypeKind::kInt);
      case ExprKind::kString: return e.type = Type::Of(TypeKind::kString);
      case ExprKind::kInstant: return e.type = Type::Of(TypeKind::kInstant);
      case ExprKind::kDate: return e.type = Type::Of(TypeKind::kDate);
      case ExprKind::kDuration: return e.type = Type::Of(TypeKind::kDuration);
      case ExprKind::kName: return CheckName(e, scope, expected);
      case ExprKind::kField: return CheckField(e, scope);
      case ExprKind::kCall: return CheckCall(e, scope);
      case ExprKind::kSet:
        return CheckSet(e, scope, expected && expected->kind == TypeKind::kSet ? expected->element.get() : nullptr);
      case ExprKind::kNot: {
        Type t = CheckExpr(*e.kids[0], scope, nullptr);
        return e.type = Expect(*e.kids[0], t, TypeKind::kBool, "the operand of `not`") ? t : Fail();
      }
      case ExprKind::kNeg: {
        Type t = CheckExpr(*e.kids[0], scope, nullptr);
        return e.type = Expect(*e.kids[0], t, TypeKind::kInt, "the operand of `-`") ? t : Fail();
      }
      case ExprKind::kBinary: return CheckBinary(e, scope);
      case ExprKind::kIf: {
        Type c = CheckExpr(*e.kids[0], scope, nullptr);
        bool ok = Expect(*e.kids[0], c, TypeKind::kBool, "the condition after `if`");
        Type a, b;
        Type common;
        if (!expected && NeedsContext(*e.kids[1], scope) && NeedsContext(*e.kids[2], scope)) {
          // `if ... then active else withdrawn`: the enum both names belong to.
          int32_t id = CommonEnum({e.kids[1].get(), e.kids[2].get()});
          if (id >= 0) {
            common = Type::Enum(id);
            expected = &common;
          }
        }
        if (NeedsContext(*e.kids[1], scope) && !NeedsContext(*e.kids[2], scope)) {
          b = CheckExpr(*e.kids[2], scope, expected);
          a = CheckExpr(*e.kids[1], scope, b.error() ? expected : &b);
        } else {
          a = CheckExpr(*e.kids[1], scope, expected);
          b = CheckExpr(*e.kids[2], scope, a.error() ? expected : &a);
        }
        if (!ok || a.error() || b.error()) return e.type = Fail();
        if (!SameType(a, b) || !IsPlainValue(a)) {
          Error(e.kids[2]->span, "type", absl::StrCat("both branches of `if` must give the same kind of value, not ", TypeName(a), " and ", TypeName(b)));
          return e.type = Fail();
        }
        return e.type = a;
      }
      case ExprKind::kAny:
      case ExprKind::kAll:
      case ExprKind::kCount:
      case ExprKind::kLatest:
        return CheckQuantifier(e, scope);
      case ExprKind::kIsMissing:
      case ExprKind::kIsPresent: {
        Type t = CheckExpr(*e.kids[0], scope, nullptr);
        if (t.error()) return e.type = Fail();
        // Instants, dates, `latest` records and results such as a division by zero can be missing;
        // a text is tested for being empty.
        bool can_be_missing = IsPlainValue(t) && !(t.kind == TypeKind::kRecord && !t.path.empty());
        if (!can_be_missing) {
          Error(e.kids[0]->span, "type", absl::StrCat("`is missing` applies to single values, not to ", TypeName(t)));
          return e.type = Fail();
        }
        return e.type = Type::Of(TypeKind::kBool);
      }
    }
    return e.type = Fail();
  }

  // ---- policies ----
  bool ConstSet(Expr& e, int32_t enum_id, const char* what, std::vector<int64_t>& values) {
    Scope scope;
    Type element = Type::Enum(enum_id);
    Type t;
    if (e.kind == ExprKind::kSet) {
      t = CheckSet(e, scope, &element);
    } else {
      t = CheckExpr(e, scope, &element);
    }
    if (t.error()) return false;
    if (e.kind != ExprKind::kSet && !(e.kind == ExprKind::kName && (e.resolution == Resolution::kConst ||
                                                                     e.resolution == Resolution::kEnumValue))) {
      Error(e.span, "not-constant", absl::StrCat(what, " must be written out (e.g. `{newsletter, survey}`) or named by a `const`"));
      return false;
    }
    const Expr* body = &e;
    while (body->kind == ExprKind::kName && body->resolution == Resolution::kConst) body = body->def->body.get();
    if (t.kind == TypeKind::kEnum && t.enum_id == enum_id && body->kind == ExprKind::kName) {
      values.push_back(body->value);
      return true;
    }
    if (t.kind == TypeKind::kSet && t.element->kind == TypeKind::kEnum && t.element->enum_id == enum_id) {
      if (e.kind == ExprKind::kName) {
        values = e.def->constant.set;
      } else {
        for (const auto& k : e.kids) {
          ConstValue value;
          Fold(*k, value);  // CheckSet has folded each already
          values.push_back(value.value);
        }
      }
      return true;
    }
    Error(e.span, "type", absl::StrCat(what, " must be a ", out_.enums[enum_id].name, " or a set of them, not ", TypeName(t)));
    return false;
  }

  void CheckPolicy(PolicyDecl& p) {
    for (const PolicyDecl* other : out_.policies) {
      if (other->name == p.name) Error(p.span, "duplicate", absl::StrCat("policy `", p.name, "` is declared twice"));
    }
    std::vector<int64_t> purposes, channels;
    bool ok = ConstSet(*p.purposes, 0, "the policy's purposes", purposes);
    uint32_t channel_mask = 0;
    if (p.channels) {
      ok = ConstSet(*p.channels, channel_enum_, "the policy's channels", channels) && ok;
      for (int64_t c : channels) channel_mask |= 1u << c;
    } else {
      for (const auto& [name, number] : out_.enums[channel_enum_].values) channel_mask |= 1u << number;
    }
    if (p.effective.from && p.effective.until && *p.effective.until <= *p.effective.from) {
      Error(p.span, "effective", "the policy's `effective until` is not after its `effective from`");
    }
    std::map<std::string, const RuleDecl*> names;
    const RuleDecl* unconditional = nullptr;
    for (RuleDecl& r : p.rules) {
      if (unconditional != nullptr) {
        Warning(r.span, "unreachable", absl::StrCat("rule `", r.name, "` is never reached: rule `", unconditional->name,
                                                    "` on line ", unconditional->span.line, " always applies"));
        unconditional = nullptr;  // one warning per unconditional rule is enough
      }
      if (auto it = names.find(r.name); it != names.end()) {
        Warning(r.name_span, "duplicate-rule", absl::StrCat("policy `", p.name, "` already has a rule named `", r.name,
                                                           "` on line ", it->second->span.line, "; decisions will not tell them apart"));
      } else {
        names[r.name] = &r;
      }
      CheckRule(r);
      if (!r.is_default && r.when && r.when->kind == ExprKind::kBool && r.when->value && !r.effective.from && !r.effective.until) {
        unconditional = &r;
      }
    }
    if (ok) {
      // A policy whose purposes and channels an earlier, undated policy already covers is never chosen.
      for (size_t i = 0; i < out_.policies.size(); ++i) {
        const PolicyDecl& earlier = *out_.policies[i];
        if (earlier.effective.from || earlier.effective.until) continue;
        bool covered = (out_.policy_channels[i] & channel_mask) == channel_mask;
        for (int64_t purpose : purposes) {
          covered &= std::count(out_.policy_purposes[i].begin(), out_.policy_purposes[i].end(), purpose) > 0;
        }
        if (covered) {
          Warning(p.span, "unreachable-policy", absl::StrCat("policy `", p.name, "` is never chosen: policy `", earlier.name,
                                                             "` comes first and covers all its purposes and channels"));
          break;
        }
      }
      std::vector<int32_t> ids(purposes.begin(), purposes.end());
      out_.policies.push_back(&p);
      out_.policy_purposes.push_back(ids);
      out_.policy_channels.push_back(channel_mask);
    }
  }

  void CheckRule(RuleDecl& r) {
    Scope scope;
    if (r.when) {
      Type t = CheckExpr(*r.when, scope, nullptr);
      Expect(*r.when, t, TypeKind::kBool, "a rule's `when` condition");
    }
    if (!r.cite || r.cite->empty()) {
      Error(r.name_span, "missing-citation",
            absl::StrCat("rule `", r.name, "` has no citation; every rule must cite its legal ground, e.g. cite \"GDPR Art. 6(1)(a)\""));
    }
    if (r.evidence) {
      Type t = CheckExpr(*r.evidence, scope, nullptr);
      if (!t.error() && !(t.kind == TypeKind::kRecord && t.list >= 0 && t.path.empty())) {
        Error(r.evidence->span, "type", absl::StrCat("`evidence` names a record of the contact, e.g. a consent, not ", TypeName(t)));
      }
    }
    if (r.valid_until) {
      Type t = CheckExpr(*r.valid_until, scope, nullptr);
      Expect(*r.valid_until, t, TypeKind::kInstant, "`valid until`");
    }
    if (r.effective.from && r.effective.until && *r.effective.until <= *r.effective.from) {
      Error(r.span, "effective", absl::StrCat("rule `", r.name, "`: its `effective until` is not after its `effective from`"));
    }
    if (r.is_default && (r.effective.from || r.effective.until)) {
      Error(r.span, "effective", "the `otherwise` rule always applies; put `effective` dates on the policy instead");
    }
  }

  CheckedRuleSet& out_;
  std::vector<Diagnostic>& diagnostics_;
  int errors_ = 0;
  int depth_ = 0;
  std::map<std::string, Def*> defs_;
  std::map<const pb::EnumDescriptor*, int32_t> proto_enums_;
  int32_t channel_enum_ = -1;
  int32_t notice_enum_ = -1;
};

}  // namespace

bool Check(std::vector<Module> modules, const std::vector<SourceFile>& sources, CheckedRuleSet& out,
           std::vector<Diagnostic>& diagnostics) {
  out.modules = std::move(modules);
  for (const SourceFile& s : sources) out.files.push_back(s.path);
  return Checker(out, diagnostics).Run();
}

}  // namespace lawful::dsl
