// The checker's passes over declarations, definitions, policies and rules (Check() in checker.h).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "checker_impl.h"
#include "fold.h"
#include "google/protobuf/descriptor.h"
#include "language_limits.h"
#include "lawful/v1/contact.pb.h"
#include "lawful/v1/decision.pb.h"

namespace lawful::dsl {

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

bool Checker::Run() {
  if (!WithinLimits()) return false;
  DeclarePurposes();
  DeclareProtoEnums();
  DeclareUserEnums();
  DeclareDefs();
  for (auto& [name, def] : defs_) CheckDef(*def);
  for (Module& m : out_.modules) {
    for (PolicyDecl& p : m.policies) CheckPolicy(p);
  }
  for (Module& m : out_.modules) CheckInvariants(m);
  if (out_.policies.empty() && errors_ == 0) {
    Error(Span{0, 1, 1, 1}, "no-policy",
          "the rule set declares no policy; write at least one `policy NAME for purposes ... { ... "
          "}`");
  }
  return errors_ == 0;
}

// ---- diagnostics ----

void Checker::Report(Severity severity, const Span& span, const std::string& code,
                     std::string message) {
  if (severity == Severity::kError) ++errors_;
  const std::string& file =
      span.file < out_.files.size() ? out_.files[span.file] : out_.files.front();
  diagnostics_.push_back(
      Diagnostic{severity, code, file, span.line, span.column, span.length, std::move(message)});
}

void Checker::Error(const Span& span, const std::string& code, std::string message) {
  Report(Severity::kError, span, code, std::move(message));
}

void Checker::Warning(const Span& span, const std::string& code, std::string message) {
  Report(Severity::kWarning, span, code, std::move(message));
}

std::string Checker::KindName(const Type& t) {
  switch (t.kind) {
    case TypeKind::kError:
      return "invalid value";
    case TypeKind::kBool:
      return "condition (true or false)";
    case TypeKind::kInt:
      return "number";
    case TypeKind::kString:
      return "text";
    case TypeKind::kInstant:
      return "instant";
    case TypeKind::kDate:
      return "date";
    case TypeKind::kDuration:
      return "duration";
    case TypeKind::kEnum:
      return out_.enums[t.enum_id].name;
    case TypeKind::kRecord:
      return absl::StrCat(SnakeCase(t.message->name()), " record");
    case TypeKind::kList:
      return absl::StrCat("list of ", t.element ? Plural(*t.element) : "values");
    case TypeKind::kSet:
      return absl::StrCat("set of ", t.element ? Plural(*t.element) : "values");
  }
  return "value";
}

std::string Checker::Plural(const Type& t) {
  if (t.kind == TypeKind::kBool) return "conditions";
  return KindName(t) + "s";
}

std::string Checker::TypeName(const Type& t) {
  std::string kind = KindName(t);
  const bool vowel = std::string("aeiou").find(kind[0]) != std::string::npos;
  return absl::StrCat(vowel ? "an " : "a ", kind);
}

// ---- limits ----

bool Checker::WithinLimits() {
  size_t policies = 0, rules = 0;
  for (const Module& m : out_.modules) {
    for (const PolicyDecl& p : m.policies) {
      if (++policies == kMaxPolicies + 1) {
        Error(p.span, "limit",
              absl::StrCat("policy `", p.name, "` is one too many: a rule set may have at most ",
                           kMaxPolicies, " policies"));
      }
      for (const RuleDecl& r : p.rules) {
        if (++rules == kMaxRules + 1) {
          Error(r.name_span, "limit",
                absl::StrCat("rule `", r.name, "` is one too many: a rule set may have at most ",
                             kMaxRules, " rules (`otherwise` rules included)"));
        }
      }
    }
  }
  return errors_ == 0;
}

// ---- declarations ----

void Checker::DeclarePurposes() {
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

int32_t Checker::EnumIdFor(const pb::EnumDescriptor* e) {
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

void Checker::DeclareProtoEnums() {
  const pb::FileDescriptor* contact_file = lawful::v1::Contact::descriptor()->file();
  for (int i = 0; i < contact_file->enum_type_count(); ++i) {
    if (contact_file->enum_type(i)->name() == "FactType") continue;
    EnumIdFor(contact_file->enum_type(i));
  }
  EnumIdFor(lawful::v1::NoticeType_descriptor());
  channel_enum_ = EnumIdFor(lawful::v1::Channel_descriptor());
  notice_enum_ = EnumIdFor(lawful::v1::NoticeType_descriptor());
}

void Checker::DeclareUserEnums() {
  for (Module& m : out_.modules) {
    for (const EnumDecl& e : m.enums) {
      if (EnumByName(e.name) >= 0) {
        Error(e.span, "duplicate", absl::StrCat("a type named `", e.name, "` already exists"));
        continue;
      }
      EnumInfo info{e.name, {}};
      for (size_t i = 0; i < e.values.size(); ++i)
        info.values.emplace_back(e.values[i].name, static_cast<int64_t>(i + 1));
      out_.enums.push_back(std::move(info));
    }
  }
}

int32_t Checker::EnumByName(const std::string& name) {
  for (size_t i = 0; i < out_.enums.size(); ++i) {
    if (out_.enums[i].name == name) return static_cast<int32_t>(i);
  }
  return -1;
}

void Checker::DeclareDefs() {
  for (Module& m : out_.modules) {
    for (auto& d : m.defs) {
      if (IsBuiltinName(d->name)) {
        Error(d->span, "reserved",
              absl::StrCat("`", d->name, "` is a built-in name and cannot be redefined"));
        continue;
      }
      if (defs_.count(d->name)) {
        Error(d->span, "duplicate",
              absl::StrCat("`", d->name, "` is already defined at ",
                           out_.files[defs_[d->name]->span.file], ":", defs_[d->name]->span.line));
        continue;
      }
      defs_[d->name] = d.get();
    }
  }
}

bool Checker::IsBuiltinName(const std::string& n) {
  return n == "at" || n == "purpose" || n == "channel" || n == "notice_type" || n == "contact" ||
         n == "local_date" || n == "years_between";
}

bool Checker::RecordTypeFor(const pb::Descriptor* message, Type& out) {
  const pb::Descriptor* contact = lawful::v1::Contact::descriptor();
  for (int i = 0; i < contact->field_count(); ++i) {
    const pb::FieldDescriptor* f = contact->field(i);
    if (f->is_repeated() && f->type() == pb::FieldDescriptor::TYPE_MESSAGE &&
        f->message_type() == message) {
      out = Type::Of(TypeKind::kRecord);
      out.message = message;
      out.list = out_.layout.List(-1, {f}, FactKind::kRecordList, FactKind::kInt);
      return true;
    }
  }
  return false;
}

std::vector<std::string> Checker::TypeNames() {
  std::vector<std::string> names = {"int", "bool", "string", "instant", "date"};
  for (const EnumInfo& e : out_.enums) names.push_back(e.name);
  const pb::Descriptor* contact = lawful::v1::Contact::descriptor();
  for (int i = 0; i < contact->field_count(); ++i) {
    if (contact->field(i)->is_repeated() &&
        contact->field(i)->type() == pb::FieldDescriptor::TYPE_MESSAGE) {
      names.push_back(SnakeCase(contact->field(i)->message_type()->name()));
    }
  }
  return names;
}

bool Checker::ResolveTypeName(const std::string& name, const Span& span, Type& out) {
  if (name == "int") return out = Type::Of(TypeKind::kInt), true;
  if (name == "bool") return out = Type::Of(TypeKind::kBool), true;
  if (name == "string") return out = Type::Of(TypeKind::kString), true;
  if (name == "instant") return out = Type::Of(TypeKind::kInstant), true;
  if (name == "date") return out = Type::Of(TypeKind::kDate), true;
  if (int32_t e = EnumByName(name); e >= 0) return out = Type::Enum(e), true;
  const pb::Descriptor* contact = lawful::v1::Contact::descriptor();
  for (int i = 0; i < contact->field_count(); ++i) {
    const pb::FieldDescriptor* f = contact->field(i);
    if (f->type() == pb::FieldDescriptor::TYPE_MESSAGE &&
        SnakeCase(f->message_type()->name()) == name && f->is_repeated()) {
      return RecordTypeFor(f->message_type(), out);
    }
  }
  Error(span, "unknown-type",
        absl::StrCat("unknown type `", name, "`", Suggest(name, TypeNames())));
  return false;
}

// ---- definitions ----

void Checker::CheckDef(Def& def) {
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

void Checker::FoldConst(Def& def) {
  const FoldResult folded = Fold(*def.body, def.constant);
  if (folded.kind == FoldResult::kOk) return;
  if (folded.kind == FoldResult::kInvalid) {
    Error(folded.span, folded.code, folded.message);
  } else {
    Error(def.body->span, "not-constant",
          absl::StrCat("`", def.name,
                       "` is a `const`, so its value must be known when the rules are compiled "
                       "(literals, sets, durations and other consts); use `def` for values that "
                       "depend on the contact or `at`"));
  }
  def.type = Type::Of(TypeKind::kError);
}

// ---- policies ----

bool Checker::ConstSet(Expr& e, int32_t enum_id, const char* what, std::vector<int64_t>& values) {
  Scope scope;
  Type element = Type::Enum(enum_id);
  Type t;
  if (e.kind == ExprKind::kSet) {
    t = CheckSet(e, scope, &element);
  } else {
    t = CheckExpr(e, scope, &element);
  }
  if (t.error()) return false;
  if (e.kind != ExprKind::kSet &&
      !(e.kind == ExprKind::kName &&
        (e.resolution == Resolution::kConst || e.resolution == Resolution::kEnumValue))) {
    Error(e.span, "not-constant",
          absl::StrCat(what,
                       " must be written out (e.g. `{newsletter, survey}`) or named by a `const`"));
    return false;
  }
  const Expr* body = &e;
  while (body->kind == ExprKind::kName && body->resolution == Resolution::kConst)
    body = body->def->body.get();
  if (t.kind == TypeKind::kEnum && t.enum_id == enum_id && body->kind == ExprKind::kName) {
    values.push_back(body->value);
    return true;
  }
  if (t.kind == TypeKind::kSet && t.element->kind == TypeKind::kEnum &&
      t.element->enum_id == enum_id) {
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
  Error(e.span, "type",
        absl::StrCat(what, " must be a ", out_.enums[enum_id].name, " or a set of them, not ",
                     TypeName(t)));
  return false;
}

void Checker::CheckPolicy(PolicyDecl& p) {
  for (const PolicyDecl* other : out_.policies) {
    if (other->name == p.name)
      Error(p.span, "duplicate", absl::StrCat("policy `", p.name, "` is declared twice"));
  }
  std::vector<int64_t> purposes, channels;
  bool ok = ConstSet(*p.purposes, 0, "the policy's purposes", purposes);
  uint32_t channel_mask = 0;
  if (p.channels) {
    ok = ConstSet(*p.channels, channel_enum_, "the policy's channels", channels) && ok;
    for (int64_t c : channels) channel_mask |= 1u << c;
  } else {
    for (const auto& [name, number] : out_.enums[channel_enum_].values)
      channel_mask |= 1u << number;
  }
  if (p.effective.from && p.effective.until && *p.effective.until <= *p.effective.from) {
    Error(p.span, "effective", "the policy's `effective until` is not after its `effective from`");
  }
  std::map<std::string, const RuleDecl*> names;
  const RuleDecl* unconditional = nullptr;
  for (RuleDecl& r : p.rules) {
    if (unconditional != nullptr) {
      Warning(r.span, "unreachable",
              absl::StrCat("rule `", r.name, "` is never reached: rule `", unconditional->name,
                           "` on line ", unconditional->span.line, " always applies"));
      unconditional = nullptr;  // one warning per unconditional rule is enough
    }
    if (auto it = names.find(r.name); it != names.end()) {
      Warning(r.name_span, "duplicate-rule",
              absl::StrCat("policy `", p.name, "` already has a rule named `", r.name, "` on line ",
                           it->second->span.line, "; decisions will not tell them apart"));
    } else {
      names[r.name] = &r;
    }
    CheckRule(r);
    if (!r.is_default && r.when && r.when->kind == ExprKind::kBool && r.when->value &&
        !r.effective.from && !r.effective.until) {
      unconditional = &r;
    }
  }
  if (ok) {
    // A policy whose purposes and channels an earlier, undated policy already covers is never
    // chosen.
    for (size_t i = 0; i < out_.policies.size(); ++i) {
      const PolicyDecl& earlier = *out_.policies[i];
      if (earlier.effective.from || earlier.effective.until) continue;
      bool covered = (out_.policy_channels[i] & channel_mask) == channel_mask;
      for (int64_t purpose : purposes) {
        covered &=
            std::count(out_.policy_purposes[i].begin(), out_.policy_purposes[i].end(), purpose) > 0;
      }
      if (covered) {
        Warning(p.span, "unreachable-policy",
                absl::StrCat("policy `", p.name, "` is never chosen: policy `", earlier.name,
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

void Checker::CheckRule(RuleDecl& r) {
  Scope scope;
  if (r.when) {
    Type t = CheckExpr(*r.when, scope, nullptr);
    Expect(*r.when, t, TypeKind::kBool, "a rule's `when` condition");
  }
  if (!r.cite || r.cite->empty()) {
    Error(r.name_span, "missing-citation",
          absl::StrCat("rule `", r.name,
                       "` has no citation; every rule must cite its legal ground, e.g. cite \"GDPR "
                       "Art. 6(1)(a)\""));
  }
  if (r.evidence) {
    Type t = CheckExpr(*r.evidence, scope, nullptr);
    if (!t.error() && !(t.kind == TypeKind::kRecord && t.list >= 0 && t.path.empty())) {
      Error(r.evidence->span, "type",
            absl::StrCat("`evidence` names a record of the contact, e.g. a consent, not ",
                         TypeName(t)));
    }
  }
  if (r.valid_until) {
    Type t = CheckExpr(*r.valid_until, scope, nullptr);
    Expect(*r.valid_until, t, TypeKind::kInstant, "`valid until`");
  }
  if (r.effective.from && r.effective.until && *r.effective.until <= *r.effective.from) {
    Error(r.span, "effective",
          absl::StrCat("rule `", r.name,
                       "`: its `effective until` is not after its `effective from`"));
  }
  if (r.is_default && (r.effective.from || r.effective.until)) {
    Error(r.span, "effective",
          "the `otherwise` rule always applies; put `effective` dates on the policy instead");
  }
}

// Invariants stand in files of their own, apart from the rules they constrain: a rule file's
// bytes are its version, and a property of the rules must not change what they decide.
void Checker::CheckInvariants(Module& m) {
  const std::string& path = out_.files[m.file];
  if (!IsInvariantFile(path)) {
    for (const InvariantDecl& inv : m.invariants) {
      Error(inv.span, "invariant-file",
            absl::StrCat("invariant `", inv.name,
                         "` must stand in a file whose name ends in `invariants.lawful`, apart "
                         "from the rules"));
    }
    return;
  }
  auto misplaced = [&](const Span& span, const std::string& what) {
    Error(span, "invariant-file",
          absl::StrCat("an invariants file holds only invariants; move this ", what,
                       " to a rule file"));
  };
  for (const NamedSpan& p : m.purposes) misplaced(p.span, "purpose");
  for (const auto& d : m.defs) misplaced(d->span, d->is_const ? "const" : "def");
  for (const EnumDecl& e : m.enums) misplaced(e.span, "enum");
  for (const PolicyDecl& p : m.policies) misplaced(p.span, "policy");
  std::vector<std::string> allow_rules;
  for (const PolicyDecl* p : out_.policies) {
    for (const RuleDecl& r : p->rules) {
      if (r.outcome == Outcome::kAllow) allow_rules.push_back(r.name);
    }
  }
  for (InvariantDecl& inv : m.invariants) {
    for (const InvariantDecl* other : out_.invariants) {
      if (other->name == inv.name)
        Error(inv.span, "duplicate", absl::StrCat("invariant `", inv.name, "` is declared twice"));
    }
    std::vector<int64_t> values;
    bool ok = true;
    if (inv.purposes) {
      ok = ConstSet(*inv.purposes, 0, "the invariant's purposes", values);
      inv.purpose_ids.assign(values.begin(), values.end());
    } else {
      for (size_t i = 0; i < out_.purposes.size(); ++i)
        inv.purpose_ids.push_back(static_cast<int32_t>(i));
    }
    values.clear();
    if (inv.channels) {
      ok = ConstSet(*inv.channels, channel_enum_, "the invariant's channels", values) && ok;
      for (int64_t c : values) inv.channel_mask |= 1u << c;
    } else {
      for (const auto& [name, number] : out_.enums[channel_enum_].values)
        inv.channel_mask |= 1u << number;
    }
    if (inv.when) {
      Scope scope;
      Type t = CheckExpr(*inv.when, scope, nullptr);
      ok = Expect(*inv.when, t, TypeKind::kBool, "an invariant's `when` condition") && ok;
    }
    for (const NamedSpan& r : inv.allowed_by) {
      if (std::count(allow_rules.begin(), allow_rules.end(), r.name) == 0) {
        ok = false;
        Error(
            r.span, "unknown-rule",
            absl::StrCat("no `allow` rule is named `", r.name, "`", Suggest(r.name, allow_rules)));
      }
    }
    if (ok) out_.invariants.push_back(&inv);
  }
}

bool Check(std::vector<Module> modules, const std::vector<SourceFile>& sources, CheckedRuleSet& out,
           std::vector<Diagnostic>& diagnostics) {
  out.modules = std::move(modules);
  for (const SourceFile& s : sources) out.files.push_back(s.path);
  return Checker(out, diagnostics).Run();
}

}  // namespace lawful::dsl
