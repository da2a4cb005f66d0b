// The symbol index: every declaration and every use of a name in a checked rule set, from the
// checker's resolutions (Expr::resolution, Expr::def, the types' descriptors).
#include <algorithm>

#include "analysis.h"
#include "google/protobuf/descriptor.h"

namespace lawful::lsp {
namespace {

std::string KeyOf(const Symbol& s) {
  std::string key = std::to_string(static_cast<int>(s.kind)) + ":";
  if (s.kind == SymbolKind::kParam) key += s.def->name + ".";
  if (s.kind == SymbolKind::kEnumValue) key += std::to_string(s.enum_id) + ".";
  if (s.kind == SymbolKind::kRule) key += s.policy->name + ".";
  if (s.kind == SymbolKind::kField) return key + s.field->full_name();
  return key + s.name;
}

}  // namespace

SymbolIndex::SymbolIndex(const dsl::CheckedRules& rules) {
  // Declarations first, so that a use finds the declared symbol.
  for (const dsl::Module& m : rules.modules) {
    for (const dsl::NamedSpan& p : m.purposes) {
      Symbol s{SymbolKind::kPurpose, p.name};
      s.enum_id = 0;
      if (Find(SymbolKind::kPurpose, p.name) >= 0) continue;  // a duplicate: the checker says so
      s.declared = true;
      s.decl = p.span;
      Add(p.span, Intern(s), true);
    }
    for (const auto& d : m.defs) {
      Symbol s{d->is_const ? SymbolKind::kConst : SymbolKind::kDef, d->name};
      if (Find(s.kind, d->name) >= 0) continue;
      s.def = d.get();
      s.declared = true;
      s.decl = d->span;
      Add(d->span, Intern(s), true);
      for (size_t i = 0; i < d->params.size(); ++i) {
        Symbol p{SymbolKind::kParam, d->params[i].name};
        p.def = d.get();
        p.param = static_cast<int32_t>(i);
        p.declared = true;
        p.decl = d->params[i].span;
        Add(p.decl, Intern(p), true);
      }
    }
    for (const dsl::EnumDecl& e : m.enums) {
      int32_t id = -1;
      for (size_t i = 0; i < rules.enums.size(); ++i) {
        if (rules.enums[i].name == e.name) id = static_cast<int32_t>(i);
      }
      if (Find(SymbolKind::kEnum, e.name) >= 0) continue;
      Symbol s{SymbolKind::kEnum, e.name};
      s.enum_decl = &e;
      s.enum_id = id;
      s.declared = true;
      s.decl = e.span;
      Add(e.span, Intern(s), true);
      for (const dsl::NamedSpan& v : e.values) {
        Symbol value{SymbolKind::kEnumValue, v.name};
        value.enum_decl = &e;
        value.enum_id = id;
        value.declared = true;
        value.decl = v.span;
        Add(v.span, Intern(value), true);
      }
    }
    for (const dsl::PolicyDecl& p : m.policies) {
      Symbol s{SymbolKind::kPolicy, p.name};
      s.policy = &p;
      s.declared = true;
      s.decl = p.span;
      Add(p.span, Intern(s), true);
      for (const dsl::RuleDecl& r : p.rules) {
        Symbol rule{SymbolKind::kRule, r.name};
        rule.policy = &p;
        rule.rule = &r;
        rule.declared = true;
        rule.decl = r.name_span;
        Add(r.name_span, Intern(rule), true);
      }
    }
    for (const dsl::InvariantDecl& inv : m.invariants) {
      Symbol s{SymbolKind::kInvariant, inv.name};
      if (Find(SymbolKind::kInvariant, inv.name) >= 0) continue;
      s.invariant = &inv;
      s.declared = true;
      s.decl = inv.span;
      Add(inv.span, Intern(s), true);
    }
  }
  // Then every use.
  for (const dsl::Module& m : rules.modules) {
    for (const auto& d : m.defs) {
      for (const dsl::Param& p : d->params) {
        int32_t e = Find(SymbolKind::kEnum, p.type_name);
        if (e >= 0) Add(p.type_span, e, false);
      }
      if (d->body) Walk(*d->body, d.get());
    }
    for (const dsl::PolicyDecl& p : m.policies) {
      if (p.purposes) Walk(*p.purposes, nullptr);
      if (p.channels) Walk(*p.channels, nullptr);
      for (const dsl::RuleDecl& r : p.rules) {
        for (const dsl::ExprPtr* e : {&r.when, &r.evidence, &r.valid_until}) {
          if (*e) Walk(**e, nullptr);
        }
      }
    }
    for (const dsl::InvariantDecl& inv : m.invariants) {
      for (const dsl::ExprPtr* e : {&inv.purposes, &inv.channels, &inv.when}) {
        if (*e) Walk(**e, nullptr);
      }
      // `allow only by RULE`: every allow rule of that name, whichever its policy.
      for (const dsl::NamedSpan& r : inv.allowed_by) {
        for (size_t i = 0; i < symbols_.size(); ++i) {
          const Symbol& s = symbols_[i];
          if (s.kind == SymbolKind::kRule && s.name == r.name && s.rule->outcome == Outcome::kAllow)
            Add(r.span, static_cast<int32_t>(i), false);
        }
      }
    }
  }
  std::sort(occurrences_.begin(), occurrences_.end(), [](const Occurrence& a, const Occurrence& b) {
    return std::tie(a.span.file, a.span.line, a.span.column) <
           std::tie(b.span.file, b.span.line, b.span.column);
  });
}

int32_t SymbolIndex::Intern(Symbol symbol) {
  std::string key = KeyOf(symbol);
  auto [it, inserted] = by_key_.emplace(key, static_cast<int32_t>(symbols_.size()));
  if (inserted) symbols_.push_back(std::move(symbol));
  return it->second;
}

int32_t SymbolIndex::Find(SymbolKind kind, const std::string& name) const {
  for (size_t i = 0; i < symbols_.size(); ++i) {
    if (symbols_[i].kind == kind && symbols_[i].name == name && symbols_[i].declared)
      return static_cast<int32_t>(i);
  }
  return -1;
}

void SymbolIndex::Add(const dsl::Span& span, int32_t symbol, bool declaration) {
  if (span.line == 0) return;
  occurrences_.push_back(Occurrence{span, symbol, declaration});
}

void SymbolIndex::Walk(const dsl::Expr& e, const dsl::Def* def) {
  using dsl::ExprKind;
  using dsl::Resolution;
  const bool named = e.kind == ExprKind::kName || e.kind == ExprKind::kCall;
  // A call's span is its name; other names' spans are the name itself.
  dsl::Span name_span = e.span;
  name_span.length = static_cast<uint32_t>(std::max<size_t>(1, e.text.size()));
  if (named && (e.resolution == Resolution::kDef || e.resolution == Resolution::kConst) &&
      e.def != nullptr) {
    int32_t s = Find(e.def->is_const ? SymbolKind::kConst : SymbolKind::kDef, e.def->name);
    if (s >= 0) Add(name_span, s, false);
  } else if (named && e.resolution == Resolution::kParam && def != nullptr && e.binding >= 0 &&
             static_cast<size_t>(e.binding) < def->params.size()) {
    Symbol p{SymbolKind::kParam, def->params[e.binding].name};
    p.def = def;
    p.param = e.binding;
    p.declared = true;
    p.decl = def->params[e.binding].span;
    Add(name_span, Intern(p), false);
  } else if (e.kind == ExprKind::kName && e.resolution == Resolution::kEnumValue) {
    const int32_t id = e.type.enum_id;
    int32_t s = -1;
    if (id == 0) {
      s = Find(SymbolKind::kPurpose, e.text);
    } else {
      for (size_t i = 0; i < symbols_.size() && s < 0; ++i) {
        if (symbols_[i].kind == SymbolKind::kEnumValue && symbols_[i].enum_id == id &&
            symbols_[i].name == e.text)
          s = static_cast<int32_t>(i);
      }
      if (s < 0) {  // a value name of the contact schema's enums (channels, consent sources...)
        Symbol v{SymbolKind::kEnumValue, e.text};
        v.enum_id = id;
        s = Intern(v);
      }
    }
    if (s >= 0) Add(name_span, s, false);
  } else if (named &&
             (e.resolution == Resolution::kAt || e.resolution == Resolution::kPurpose ||
              e.resolution == Resolution::kChannel || e.resolution == Resolution::kNoticeType ||
              e.resolution == Resolution::kContact)) {
    Add(name_span, Intern(Symbol{SymbolKind::kRequest, e.text}), false);
  } else if (named && e.resolution == Resolution::kBuiltin) {
    Add(name_span, Intern(Symbol{SymbolKind::kBuiltin, e.text}), false);
  } else if (e.kind == ExprKind::kField && !e.kids.empty() &&
             e.kids[0]->type.kind == dsl::TypeKind::kRecord && e.kids[0]->type.message != nullptr) {
    const google::protobuf::FieldDescriptor* f = e.kids[0]->type.message->FindFieldByName(e.text);
    if (f != nullptr) {
      Symbol s{SymbolKind::kField, e.text};
      s.field = f;
      Add(name_span, Intern(s), false);
    }
  }
  for (const dsl::ExprPtr& kid : e.kids) {
    if (kid) Walk(*kid, def);
  }
}

const Occurrence* SymbolIndex::At(uint32_t file, uint32_t line, uint32_t column) const {
  for (const Occurrence& o : occurrences_) {
    if (o.span.file == file && o.span.line == line && o.span.column <= column &&
        column <= o.span.column + o.span.length)  // the end too: the cursor right after a name
      return &o;
  }
  return nullptr;
}

std::vector<const Occurrence*> SymbolIndex::References(int32_t symbol) const {
  std::vector<const Occurrence*> out;
  for (const Occurrence& o : occurrences_) {
    if (o.symbol == symbol && o.declaration) out.push_back(&o);
  }
  for (const Occurrence& o : occurrences_) {
    if (o.symbol == symbol && !o.declaration) out.push_back(&o);
  }
  return out;
}

int32_t Analysis::CheckedFile(const std::string& path) const {
  for (size_t i = 0; i < checked_files.size(); ++i) {
    if (checked_files[i].path == path) return static_cast<int32_t>(i);
  }
  return -1;
}

std::unique_ptr<Analysis> Analyze(std::string root, std::vector<dsl::SourceFile> files) {
  auto a = std::make_unique<Analysis>();
  a->root = std::move(root);
  a->files = std::move(files);
  std::vector<dsl::SourceFile> rule_files, invariant_files;
  for (const dsl::SourceFile& f : a->files)
    (dsl::IsInvariantFile(f.path) ? invariant_files : rule_files).push_back(f);
  if (!rule_files.empty()) a->diagnostics = dsl::Compile(rule_files).diagnostics;
  if (!invariant_files.empty()) {
    for (dsl::Diagnostic& d : dsl::CheckInvariantFiles(rule_files, invariant_files))
      a->diagnostics.push_back(std::move(d));
  }
  a->checked_files = a->files;
  dsl::CheckResult checked = dsl::CheckRuleSet(a->checked_files);
  if (checked.rules == nullptr) {
    // Some file does not parse: check the others without it.
    std::vector<dsl::SourceFile> parsing;
    for (const dsl::SourceFile& f : a->files) {
      if (dsl::CheckRuleSet({f}).rules != nullptr) parsing.push_back(f);
    }
    a->checked_files = std::move(parsing);
    if (!a->checked_files.empty()) checked = dsl::CheckRuleSet(a->checked_files);
  }
  a->rules = checked.rules;
  if (a->rules != nullptr) a->index = std::make_unique<SymbolIndex>(*a->rules);
  return a;
}

}  // namespace lawful::lsp
