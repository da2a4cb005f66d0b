// Requests about the name under the cursor (hover, definition, references, rename) and about a
// whole document (symbols, formatting).
#include <algorithm>
#include <regex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "workspace.h"

namespace lawful::lsp {
namespace {

struct Target {
  const Analysis* analysis = nullptr;
  const Occurrence* occurrence = nullptr;  // null when the cursor is on no name
  const Symbol* symbol = nullptr;
};

std::string UriParam(const json& params) {
  return params.at("textDocument").at("uri").get<std::string>();
}

// The analysed text of the document (the checked copy: what positions refer to).
const dsl::SourceFile* CheckedSource(Workspace& w, const Analysis& a, const std::string& uri,
                                     int32_t* file) {
  *file = a.CheckedFile(w.RelativePath(uri));
  return *file < 0 ? nullptr : &a.checked_files[*file];
}

Target TargetAt(Workspace& w, const json& params) {
  const std::string uri = UriParam(params);
  Target t;
  t.analysis = &w.AnalysisOf(uri);
  int32_t file = -1;
  const dsl::SourceFile* source = CheckedSource(w, *t.analysis, uri, &file);
  if (source == nullptr || t.analysis->index == nullptr) return t;
  const json& p = params.at("position");
  const Position position{p.at("line").get<uint32_t>(), p.at("character").get<uint32_t>()};
  const size_t offset = OffsetOf(source->text, position);
  const uint32_t column =
      static_cast<uint32_t>(offset - OffsetOfLine(source->text, position.line + 1)) + 1;
  t.occurrence = t.analysis->index->At(static_cast<uint32_t>(file), position.line + 1, column);
  if (t.occurrence != nullptr) t.symbol = &t.analysis->index->symbols()[t.occurrence->symbol];
  return t;
}

json Location(Workspace& w, const Analysis& a, const dsl::Span& span) {
  const dsl::SourceFile& f = a.checked_files[span.file];
  return {{"uri", w.UriOf(a, f.path)},
          {"range", RangeOf(f.text, span.line, span.column, span.length)}};
}

bool Renamable(const Symbol& s) {
  return s.kind == SymbolKind::kConst || s.kind == SymbolKind::kDef;
}

void RequireRenamable(const Target& t) {
  if (t.symbol == nullptr) throw RequestError(kRequestFailed, "there is no name here to rename");
  if (t.symbol->kind == SymbolKind::kPurpose) {
    throw RequestError(kRequestFailed,
                       "a purpose is a value callers store in consents and fixtures use: find its "
                       "references instead of renaming it");
  }
  if (!Renamable(*t.symbol))
    throw RequestError(kRequestFailed, "only a `def` or a `const` can be renamed");
}

bool IsReserved(const std::string& name) {
  static const char* const kReserved[] = {
      "and",     "or",      "not",         "in",        "is",         "any",          "all",
      "count",   "latest",  "where",       "by",        "if",         "then",         "else",
      "true",    "false",   "missing",     "present",   "policy",     "const",        "def",
      "enum",    "deny",    "allow",       "otherwise", "when",       "cite",         "at",
      "purpose", "channel", "notice_type", "contact",   "local_date", "years_between"};
  for (const char* r : kReserved) {
    if (name == r) return true;
  }
  return false;
}

json SymbolJson(const std::string& name, int kind, const json& range, const json& selection,
                json children = json::array()) {
  return {{"name", name},
          {"kind", kind},
          {"range", range},
          {"selectionRange", selection},
          {"children", std::move(children)}};
}

}  // namespace

json Hover(Workspace& w, const json& params) {
  Target t = TargetAt(w, params);
  if (t.symbol == nullptr) return nullptr;
  int32_t file = -1;
  const dsl::SourceFile* source = CheckedSource(w, *t.analysis, UriParam(params), &file);
  const dsl::Span& span = t.occurrence->span;
  return {{"contents", {{"kind", "markdown"}, {"value", HoverText(*t.analysis, *t.symbol)}}},
          {"range", RangeOf(source->text, span.line, span.column, span.length)}};
}

json Definition(Workspace& w, const json& params) {
  Target t = TargetAt(w, params);
  if (t.symbol == nullptr || !t.symbol->declared) return nullptr;
  return Location(w, *t.analysis, t.symbol->decl);
}

json References(Workspace& w, const json& params) {
  Target t = TargetAt(w, params);
  json out = json::array();
  if (t.symbol == nullptr) return out;
  const bool declaration =
      params.contains("context") && params["context"].value("includeDeclaration", true);
  for (const Occurrence* o : t.analysis->index->References(t.occurrence->symbol)) {
    if (o->declaration && !declaration) continue;
    out.push_back(Location(w, *t.analysis, o->span));
  }
  return out;
}

json PrepareRename(Workspace& w, const json& params) {
  Target t = TargetAt(w, params);
  RequireRenamable(t);
  int32_t file = -1;
  const dsl::SourceFile* source = CheckedSource(w, *t.analysis, UriParam(params), &file);
  const dsl::Span& span = t.occurrence->span;
  return {{"range", RangeOf(source->text, span.line, span.column, span.length)},
          {"placeholder", t.symbol->name}};
}

json Rename(Workspace& w, const json& params) {
  Target t = TargetAt(w, params);
  RequireRenamable(t);
  const std::string name = params.at("newName").get<std::string>();
  static const std::regex kName("[A-Za-z_][A-Za-z0-9_]{0,127}");
  if (!std::regex_match(name, kName) || IsReserved(name)) {
    throw RequestError(kRequestFailed,
                       absl::StrCat("`", name, "` is not a name a rule file can declare"));
  }
  for (const Symbol& s : t.analysis->index->symbols()) {
    if (s.declared && s.name == name && s.kind != SymbolKind::kRule &&
        s.kind != SymbolKind::kPolicy && s.kind != SymbolKind::kInvariant &&
        (s.kind != SymbolKind::kParam || s.def == t.symbol->def)) {
      throw RequestError(kRequestFailed, absl::StrCat("`", name, "` is already declared"));
    }
  }
  json changes = json::object();
  for (const Occurrence* o : t.analysis->index->References(t.occurrence->symbol)) {
    const json location = Location(w, *t.analysis, o->span);
    changes[location["uri"].get<std::string>()].push_back(
        {{"range", location["range"]}, {"newText", name}});
  }
  return {{"changes", std::move(changes)}};
}

json DocumentSymbols(Workspace& w, const json& params) {
  const std::string uri = UriParam(params);
  const Analysis& a = w.AnalysisOf(uri);
  json out = json::array();
  int32_t file = -1;
  const dsl::SourceFile* source = CheckedSource(w, a, uri, &file);
  if (source == nullptr || a.rules == nullptr) return out;
  const std::string& text = source->text;
  const dsl::Module& m = a.rules->modules[file];
  auto range = [&](const dsl::Span& s) { return RangeOf(text, s.line, s.column, s.length); };
  // A declaration's whole range: from its line to the line before the next declaration.
  auto lines = [&](uint32_t first, size_t end) {
    return json{{"start", ToJson(PositionOf(text, OffsetOfLine(text, first)))},
                {"end", ToJson(PositionOf(text, end))}};
  };
  constexpr int kClass = 5, kMethod = 6, kProperty = 7, kEnum = 10, kFunction = 12, kConstant = 14,
                kEnumMember = 22;
  for (const dsl::NamedSpan& p : m.purposes)
    out.push_back(SymbolJson(p.name, kEnumMember, range(p.span), range(p.span)));
  for (const auto& d : m.defs) {
    out.push_back(
        SymbolJson(d->name, d->is_const ? kConstant : kFunction, range(d->span), range(d->span)));
  }
  for (const dsl::EnumDecl& e : m.enums)
    out.push_back(SymbolJson(e.name, kEnum, range(e.span), range(e.span)));
  for (size_t i = 0; i < m.policies.size(); ++i) {
    const dsl::PolicyDecl& p = m.policies[i];
    const size_t policy_end =
        i + 1 < m.policies.size() ? OffsetOfLine(text, m.policies[i + 1].span.line) : text.size();
    size_t close = text.rfind('}', policy_end == 0 ? 0 : policy_end - 1);
    const size_t end = close == std::string::npos ? policy_end : close + 1;
    json rules = json::array();
    for (size_t r = 0; r < p.rules.size(); ++r) {
      const dsl::RuleDecl& rule = p.rules[r];
      size_t rule_end = r + 1 < p.rules.size() ? OffsetOfLine(text, p.rules[r + 1].span.line)
                                               : (close == std::string::npos ? end : close);
      while (rule_end > 0 && (text[rule_end - 1] == '\n' || text[rule_end - 1] == ' ')) --rule_end;
      json detail_range =
          lines(rule.span.line, std::max(rule_end, OffsetOfLine(text, rule.span.line)));
      json symbol = SymbolJson(rule.name, kMethod, detail_range, range(rule.name_span));
      symbol["detail"] =
          absl::StrCat(rule.is_default ? "otherwise " : "", OutcomeName(rule.outcome),
                       rule.cite ? absl::StrCat(" — ", *rule.cite) : "");
      rules.push_back(std::move(symbol));
    }
    out.push_back(SymbolJson(p.name, kClass, lines(p.span.line, end), range(p.span), rules));
  }
  // An invariant: from its line to its last line that is neither blank nor a comment (the comment
  // above the next one is that one's).
  for (size_t i = 0; i < m.invariants.size(); ++i) {
    const dsl::InvariantDecl& inv = m.invariants[i];
    uint32_t last = i + 1 < m.invariants.size()
                        ? m.invariants[i + 1].span.line - 1
                        : static_cast<uint32_t>(std::count(text.begin(), text.end(), '\n') + 1);
    auto line_text = [&](uint32_t n) {
      const size_t begin = OffsetOfLine(text, n);
      const size_t newline = text.find('\n', begin);
      return text.substr(begin, newline == std::string::npos ? std::string::npos : newline - begin);
    };
    while (last > inv.span.line) {
      const std::string l = line_text(last);
      const size_t first = l.find_first_not_of(" \t\r");
      if (first != std::string::npos && l[first] != '#') break;
      --last;
    }
    const size_t end = OffsetOfLine(text, last) + line_text(last).size();
    std::vector<std::string> by;
    for (const dsl::NamedSpan& r : inv.allowed_by) by.push_back(r.name);
    json symbol = SymbolJson(inv.name, kProperty, lines(inv.span.line, end), range(inv.span));
    symbol["detail"] =
        inv.deny ? "then deny" : absl::StrCat("then allow only by ", absl::StrJoin(by, ", "));
    out.push_back(std::move(symbol));
  }
  return out;
}

json Formatting(Workspace& w, const json& params) {
  const std::string uri = UriParam(params);
  const std::string* buffer = w.Buffer(uri);
  std::string text;
  if (buffer != nullptr) {
    text = *buffer;
  } else {
    const Analysis& a = w.AnalysisOf(uri);
    for (const dsl::SourceFile& f : a.files) {
      if (f.path == w.RelativePath(uri)) text = f.text;
    }
  }
  absl::StatusOr<std::string> formatted = dsl::FormatSource({w.RelativePath(uri), text});
  if (!formatted.ok())
    throw RequestError(kRequestFailed, std::string(formatted.status().message()));
  if (*formatted == text) return json::array();
  return json::array(
      {{{"range", {{"start", ToJson(Position{})}, {"end", ToJson(PositionOf(text, text.size()))}}},
        {"newText", *formatted}}});
}

}  // namespace lawful::lsp
