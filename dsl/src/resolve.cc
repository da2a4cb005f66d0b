// The checker's name and field resolution: what each name and `.field` in a rule refers to.
#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "checker_impl.h"
#include "google/protobuf/descriptor.h"
#include "lawful/v1/contact.pb.h"

namespace lawful::dsl {

namespace {

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] =
          std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

}  // namespace

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

std::string SnakeCase(const std::string& camel) {
  std::string out;
  for (char c : camel) {
    if (absl::ascii_isupper(static_cast<unsigned char>(c)) && !out.empty()) out += '_';
    out += absl::ascii_tolower(static_cast<unsigned char>(c));
  }
  return out;
}

bool IsTimestamp(const pb::Descriptor* d) { return d->full_name() == "google.protobuf.Timestamp"; }

// ---- scopes ----

std::vector<std::string> Checker::NamesInScope(const Scope& scope) {
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

bool Checker::ResolvesWithoutContext(const Expr& e, const Scope& scope) {
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

bool Checker::NeedsContext(const Expr& e, const Scope& scope) {
  if (e.kind == ExprKind::kIf)
    return NeedsContext(*e.kids[1], scope) && NeedsContext(*e.kids[2], scope);
  return !ResolvesWithoutContext(e, scope);
}

int32_t Checker::CommonEnum(const std::vector<const Expr*>& names) {
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

std::vector<int32_t> Checker::EnumsWithValue(const std::string& name) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < out_.enums.size(); ++i) {
    for (const auto& [v, n] : out_.enums[i].values) {
      if (v == name) ids.push_back(static_cast<int32_t>(i));
    }
  }
  return ids;
}

Type Checker::ResolveEnumValue(Expr& e, int32_t enum_id) {
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
                     values.empty() ? ""
                                    : absl::StrCat(" (", out_.enums[enum_id].name,
                                                   " values: ", absl::StrJoin(values, ", "), ")")));
  return e.type = Fail();
}

Type Checker::CheckName(Expr& e, Scope& scope, const Type* expected) {
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
  if (e.text == "channel")
    return e.resolution = Resolution::kChannel, e.type = Type::Enum(channel_enum_);
  if (e.text == "notice_type")
    return e.resolution = Resolution::kNoticeType, e.type = Type::Enum(notice_enum_);
  if (e.text == "contact") {
    e.resolution = Resolution::kContact;
    Type t = Type::Of(TypeKind::kRecord);
    t.message = lawful::v1::Contact::descriptor();
    return e.type = t;
  }
  if (auto it = defs_.find(e.text); it != defs_.end()) {
    Def& def = *it->second;
    if (!def.params.empty()) {
      Error(e.span, "arity",
            absl::StrCat("`", def.name, "` takes ", def.params.size(), " argument(s): write `",
                         def.name, "(...)`"));
      return e.type = Fail();
    }
    if (def.checking) {
      Error(e.span, "recursive",
            absl::StrCat("`", def.name, "` refers to itself; definitions may not be recursive"));
      return e.type = Fail();
    }
    CheckDef(def);
    e.resolution = def.is_const ? Resolution::kConst : Resolution::kDef;
    e.def = &def;
    return e.type = def.type;
  }
  if (expected != nullptr && expected->kind == TypeKind::kEnum)
    return ResolveEnumValue(e, expected->enum_id);
  std::vector<int32_t> enums = EnumsWithValue(e.text);
  if (enums.size() == 1) return ResolveEnumValue(e, enums[0]);
  if (enums.size() > 1) {
    std::vector<std::string> kinds;
    for (int32_t id : enums) kinds.push_back(out_.enums[id].name);
    Error(e.span, "ambiguous",
          absl::StrCat("`", e.text, "` is ambiguous: it is a value of ",
                       absl::StrJoin(kinds, " and of "),
                       "; compare it with a value of the type you mean"));
    return e.type = Fail();
  }
  Error(e.span, "unknown-name",
        absl::StrCat("unknown name `", e.text, "`", Suggest(e.text, NamesInScope(scope))));
  return e.type = Fail();
}

// ---- fields ----

std::vector<std::string> Checker::FieldNames(const pb::Descriptor* d) {
  std::vector<std::string> names;
  for (int i = 0; i < d->field_count(); ++i) names.push_back(d->field(i)->name());
  return names;
}

bool Checker::ScalarKind(const pb::FieldDescriptor* f, FactKind& kind, Type& type) {
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

Type Checker::CheckField(Expr& e, Scope& scope) {
  Type base = CheckExpr(*e.kids[0], scope, nullptr);
  if (base.error()) return e.type = Fail();
  if (base.kind != TypeKind::kRecord) {
    Error(e.span, "not-a-record",
          absl::StrCat("`.", e.text, "`: ", TypeName(base), " has no fields"));
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
      Error(e.span, "nested-list",
            absl::StrCat("lists inside list records (`", e.text, "`) are not supported"));
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
      Error(e.span, "unsupported-field",
            absl::StrCat("the list field `", e.text, "` has a type rules cannot read yet"));
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
    Error(e.span, "unsupported-field",
          absl::StrCat("the field `", e.text, "` has a type rules cannot read yet"));
    return e.type = Fail();
  }
  out_.field_slot[&e] = out_.layout.Slot(base.list, path, kind);
  return e.type = scalar;
}

}  // namespace lawful::dsl
