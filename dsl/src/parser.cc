// Parsing: a rule file's parse tree (grammar.h) into the AST, syntax errors into diagnostics.
#include "parser.h"

#include <algorithm>
#include <charconv>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "grammar.h"

namespace lawful::dsl {

namespace {

using Node = tao::pegtl::parse_tree::node;

class Converter {
 public:
  Converter(uint32_t file, std::vector<Diagnostic>& diagnostics, const std::string& path)
      : file_(file), diagnostics_(diagnostics), path_(path) {}

  void ConvertFile(const Node& root, Module& module) {
    for (const auto& item : root.children) {
      if (item->is_type<grammar::purpose_decl>()) {
        for (const auto& n : item->children) module.purposes.push_back(Named(*n));
      } else if (item->is_type<grammar::const_decl>() || item->is_type<grammar::def_decl>()) {
        module.defs.push_back(ConvertDef(*item));
      } else if (item->is_type<grammar::enum_decl>()) {
        EnumDecl e;
        e.name = Text(*item->children[0]);
        e.span = SpanOf(*item->children[0]);
        for (size_t i = 1; i < item->children.size(); ++i)
          e.values.push_back(Named(*item->children[i]));
        module.enums.push_back(std::move(e));
      } else if (item->is_type<grammar::policy_decl>()) {
        module.policies.push_back(ConvertPolicy(*item));
      } else if (item->is_type<grammar::invariant_decl>()) {
        module.invariants.push_back(ConvertInvariant(*item));
      }
    }
  }

 private:
  std::string Text(const Node& n) {
    std::string text = n.string();
    if (n.is_type<grammar::name>() && text.size() > kMaxIdentifierLength) {
      Error(n, absl::StrCat("a name may be at most ", kMaxIdentifierLength, " characters long"),
            "limit");
    }
    return text;
  }

  Span SpanOf(const Node& n) {
    Span s;
    s.file = file_;
    s.line = static_cast<uint32_t>(n.begin().line);
    s.column = static_cast<uint32_t>(n.begin().column);
    size_t length = n.end().byte - n.begin().byte;
    if (n.end().line != n.begin().line) length = 1;
    s.length = static_cast<uint32_t>(std::max<size_t>(length, 1));
    return s;
  }

  void Error(const Node& n, std::string message, const char* code = "syntax") {
    Span s = SpanOf(n);
    diagnostics_.push_back(
        Diagnostic{Severity::kError, code, path_, s.line, s.column, s.length, std::move(message)});
  }

  NamedSpan Named(const Node& n) { return NamedSpan{Text(n), SpanOf(n)}; }

  std::string Unquote(const Node& n) {
    std::string raw = n.string();
    std::string out;
    for (size_t i = 1; i + 1 < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 2 < raw.size()) {
        char c = raw[++i];
        out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
      } else {
        out += raw[i];
      }
    }
    if (out.size() > kMaxStringLength) {
      Error(n, absl::StrCat("a text may be at most ", kMaxStringLength, " characters long"),
            "limit");
    }
    return out;
  }

  int64_t ParseInstantOrDate(const Node& n) {
    std::string text = n.string();
    if (n.is_type<grammar::date_lit>()) {
      absl::CivilDay day;
      if (!absl::ParseCivilTime(text, &day) || absl::FormatCivilTime(day) != text) {
        Error(n, absl::StrCat("`", text, "` is not a real calendar date"));
        return 0;
      }
      return absl::ToUnixNanos(absl::FromCivil(day, absl::UTCTimeZone()));
    }
    absl::Time t;
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, text, &t, &err)) {
      Error(n, absl::StrCat("`", text, "` is not a valid instant"));
      return 0;
    }
    return absl::ToUnixNanos(t);
  }

  std::unique_ptr<Def> ConvertDef(const Node& n) {
    auto def = std::make_unique<Def>();
    def->is_const = n.is_type<grammar::const_decl>();
    def->name = Text(*n.children[0]);
    def->span = SpanOf(*n.children[0]);
    for (size_t i = 1; i + 1 < n.children.size(); ++i) {
      const Node& p = *n.children[i];
      def->params.push_back(Param{Text(*p.children[0]),
                                  Text(*p.children[1]),
                                  SpanOf(*p.children[0]),
                                  SpanOf(*p.children[1]),
                                  {}});
    }
    def->body = ConvertExpr(*n.children.back());
    return def;
  }

  void ConvertEffective(const Node& n, Effective& e) {
    int64_t instant = ParseInstantOrDate(*n.children[0]);
    if (n.is_type<grammar::effective_from>()) {
      e.from = instant;
    } else {
      e.until = instant;
    }
  }

  PolicyDecl ConvertPolicy(const Node& n) {
    PolicyDecl p;
    p.name = Text(*n.children[0]);
    p.span = SpanOf(*n.children[0]);
    for (size_t i = 1; i < n.children.size(); ++i) {
      const Node& c = *n.children[i];
      if (c.is_type<grammar::policy_purposes>()) {
        p.purposes = ConvertExpr(*c.children[0]);
      } else if (c.is_type<grammar::policy_channels>()) {
        p.channels = ConvertExpr(*c.children[0]);
      } else if (c.is_type<grammar::effective_from>() || c.is_type<grammar::effective_until>()) {
        const bool from = c.is_type<grammar::effective_from>();
        if (from ? p.effective.from.has_value() : p.effective.until.has_value()) {
          Error(c, absl::StrCat("policy `", p.name, "` already has an `effective ",
                                from ? "from" : "until", "` date; give each once"));
        }
        ConvertEffective(c, p.effective);
      } else if (c.is_type<grammar::rule>() || c.is_type<grammar::default_rule>()) {
        p.rules.push_back(ConvertRule(c));
      }
    }
    return p;
  }

  InvariantDecl ConvertInvariant(const Node& n) {
    InvariantDecl inv;
    inv.name = Text(*n.children[0]);
    inv.span = SpanOf(*n.children[0]);
    for (size_t i = 1; i < n.children.size(); ++i) {
      const Node& c = *n.children[i];
      if (c.is_type<grammar::invariant_purposes>()) {
        inv.purposes = ConvertExpr(*c.children[0]);
      } else if (c.is_type<grammar::invariant_channels>()) {
        inv.channels = ConvertExpr(*c.children[0]);
      } else if (c.is_type<grammar::invariant_when>()) {
        inv.when = ConvertExpr(*c.children[0]);
        inv.when_text = c.children[0]->string();
      } else if (c.is_type<grammar::invariant_deny>()) {
        inv.deny = true;
      } else if (c.is_type<grammar::invariant_allow_only>()) {
        inv.deny = false;
        for (const auto& r : c.children) {
          if (r->is_type<grammar::name>()) inv.allowed_by.push_back(Named(*r));
        }
      }
    }
    return inv;
  }

  RuleDecl ConvertRule(const Node& n) {
    RuleDecl r;
    r.is_default = n.is_type<grammar::default_rule>();
    r.span = SpanOf(n);
    r.span.length = static_cast<uint32_t>(n.children[0]->string_view().size());
    size_t i = 0;
    r.outcome = n.children[i++]->is_type<grammar::kw_allow>() ? Outcome::kAllow : Outcome::kDeny;
    r.name = Text(*n.children[i]);
    r.name_span = SpanOf(*n.children[i]);
    ++i;
    if (i < n.children.size() && n.children[i]->is_type<grammar::reason_clause>()) {
      r.reason = Named(*n.children[i]->children[0]);
      ++i;
    }
    if (!r.is_default) r.when = ConvertExpr(*n.children[i++]);
    std::vector<std::string> seen;  // one clause of each kind per rule
    if (r.reason) seen.push_back("reason");
    for (; i < n.children.size(); ++i) {
      const Node& c = *n.children[i];
      std::string kind =
          c.children.empty()
              ? std::string(c.type)
              : std::string(c.string_view().substr(0, c.string_view().find_first_of(" \t\r\n")));
      if (c.is_type<grammar::effective_from>() || c.is_type<grammar::effective_until>()) {
        kind = c.is_type<grammar::effective_from>() ? "effective from" : "effective until";
      }
      if (kind == "valid") kind = "valid until";
      if (std::find(seen.begin(), seen.end(), kind) != seen.end()) {
        const bool vowel = std::string("aeiou").find(kind[0]) != std::string::npos;
        Error(c, absl::StrCat("rule `", r.name, "` already has ", vowel ? "an" : "a", " `", kind,
                              "` clause; give each clause once"));
      }
      seen.push_back(kind);
      if (c.is_type<grammar::cite_clause>()) {
        r.cite = Unquote(*c.children[0]);
      } else if (c.is_type<grammar::evidence_clause>()) {
        r.evidence = ConvertExpr(*c.children[0]);
      } else if (c.is_type<grammar::valid_clause>()) {
        r.valid_until = ConvertExpr(*c.children[0]);
      } else if (c.is_type<grammar::obligations_clause>()) {
        for (const auto& o : c.children) r.obligations.push_back(Named(*o));
      } else if (c.is_type<grammar::note_clause>()) {
        r.note = Unquote(*c.children[0]);
      } else if (c.is_type<grammar::reason_clause>()) {
        r.reason = Named(*c.children[0]);
      } else if (c.is_type<grammar::effective_from>() || c.is_type<grammar::effective_until>()) {
        ConvertEffective(c, r.effective);
      }
    }
    return r;
  }

  ExprPtr Make(ExprKind kind, const Node& n) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->span = SpanOf(n);
    return e;
  }

  ExprPtr Binary(BinaryOp op, ExprPtr lhs, ExprPtr rhs, const Node& at) {
    auto e = Make(ExprKind::kBinary, at);
    e->op_span = e->span;
    e->span = lhs->span;
    e->op = op;
    e->kids.push_back(std::move(lhs));
    e->kids.push_back(std::move(rhs));
    return e;
  }

  ExprPtr ConvertExpr(const Node& n) {
    using namespace grammar;
    if (n.is_type<disjunction>() || n.is_type<conjunction>()) {
      BinaryOp op = n.is_type<disjunction>() ? BinaryOp::kOr : BinaryOp::kAnd;
      ExprPtr e = ConvertExpr(*n.children[0]);
      for (size_t i = 1; i < n.children.size(); ++i)
        e = Binary(op, std::move(e), ConvertExpr(*n.children[i]), n);
      return e;
    }
    if (n.is_type<sum>() || n.is_type<product>()) {
      ExprPtr e = ConvertExpr(*n.children[0]);
      for (size_t i = 1; i + 1 < n.children.size(); i += 2) {
        char c = n.children[i]->string_view()[0];
        BinaryOp op = c == '+'   ? BinaryOp::kAdd
                      : c == '-' ? BinaryOp::kSub
                      : c == '*' ? BinaryOp::kMul
                                 : BinaryOp::kDiv;
        e = Binary(op, std::move(e), ConvertExpr(*n.children[i + 1]), *n.children[i]);
      }
      return e;
    }
    if (n.is_type<comparison>()) {
      ExprPtr lhs = ConvertExpr(*n.children[0]);
      if (n.children.size() == 1) return lhs;
      const Node& op = *n.children[1];
      if (op.is_type<is_missing>() || op.is_type<is_present>()) {
        auto e = Make(op.is_type<is_missing>() ? ExprKind::kIsMissing : ExprKind::kIsPresent, op);
        e->span = lhs->span;
        e->kids.push_back(std::move(lhs));
        return e;
      }
      if (op.is_type<is_value>()) {
        auto value = Make(ExprKind::kName, *op.children[0]);
        value->text = Text(*op.children[0]);
        return Binary(BinaryOp::kEq, std::move(lhs), std::move(value), op);
      }
      BinaryOp bop = BinaryOp::kEq;
      if (op.is_type<in_op>()) {
        bop = BinaryOp::kIn;
      } else if (op.is_type<not_in_op>()) {
        bop = BinaryOp::kNotIn;
      } else {
        std::string_view s = op.string_view();
        bop = s == "<="   ? BinaryOp::kLe
              : s == ">=" ? BinaryOp::kGe
              : s == "==" ? BinaryOp::kEq
              : s == "!=" ? BinaryOp::kNe
              : s == "<"  ? BinaryOp::kLt
                          : BinaryOp::kGt;
      }
      return Binary(bop, std::move(lhs), ConvertExpr(*n.children[2]), op);
    }
    if (n.is_type<not_op>() || n.is_type<neg>()) {
      auto e = Make(n.is_type<not_op>() ? ExprKind::kNot : ExprKind::kNeg, n);
      e->kids.push_back(ConvertExpr(*n.children[0]));
      return e;
    }
    if (n.is_type<conditional>()) {
      auto e = Make(ExprKind::kIf, n);
      e->span.length = 2;
      for (const auto& c : n.children) e->kids.push_back(ConvertExpr(*c));
      return e;
    }
    if (n.is_type<postfix>()) {
      ExprPtr e = ConvertExpr(*n.children[0]);
      for (size_t i = 1; i < n.children.size(); ++i) {
        const Node& f = *n.children[i]->children[0];
        auto access = Make(ExprKind::kField, f);
        access->text = Text(f);
        access->kids.push_back(std::move(e));
        e = std::move(access);
      }
      return e;
    }
    if (n.is_type<quantifier>() || n.is_type<latest>()) {
      ExprKind kind = ExprKind::kLatest;
      size_t i = 0;
      if (n.is_type<quantifier>()) {
        std::string_view k = n.children[i++]->string_view();
        kind = k == "any" ? ExprKind::kAny : k == "all" ? ExprKind::kAll : ExprKind::kCount;
      }
      auto e = Make(kind, n);
      e->span.length = kind == ExprKind::kLatest
                           ? 6
                           : static_cast<uint32_t>(n.children[0]->string_view().size());
      e->text = Text(*n.children[i++]);
      for (; i < n.children.size(); ++i) e->kids.push_back(ConvertExpr(*n.children[i]));
      return e;
    }
    if (n.is_type<call>()) {
      auto e = Make(ExprKind::kCall, *n.children[0]);
      e->text = Text(*n.children[0]);
      for (size_t i = 1; i < n.children.size(); ++i) e->kids.push_back(ConvertExpr(*n.children[i]));
      return e;
    }
    if (n.is_type<set_lit>()) {
      auto e = Make(ExprKind::kSet, n);
      e->span.length = 1;
      for (const auto& c : n.children) e->kids.push_back(ConvertExpr(*c));
      return e;
    }
    if (n.is_type<name>()) {
      auto e = Make(ExprKind::kName, n);
      e->text = Text(n);
      return e;
    }
    if (n.is_type<int_lit>()) {
      auto e = Make(ExprKind::kInt, n);
      std::string_view s = n.string_view();
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), e->value);
      if (ec != std::errc() || ptr != s.data() + s.size()) {
        Error(n, absl::StrCat("the number `", n.string(), "` is too large"), "limit");
      }
      return e;
    }
    if (n.is_type<duration_lit>()) {
      auto e = Make(ExprKind::kDuration, n);
      ExprPtr amount = ConvertExpr(*n.children[0]);
      std::string_view unit_text = n.children[1]->string_view();
      if (amount->value > kMaxDurationAmount) {
        Error(n,
              absl::StrCat("a duration may be at most ", kMaxDurationAmount, " ",
                           std::string(unit_text)),
              "limit");
        return e;
      }
      int32_t v = static_cast<int32_t>(amount->value);
      if (unit_text.substr(0, 3) == "day") e->duration.days = v;
      if (unit_text.substr(0, 5) == "month") e->duration.months = v;
      if (unit_text.substr(0, 4) == "year") e->duration.months = v * 12;
      return e;
    }
    if (n.is_type<date_lit>()) {
      auto e = Make(ExprKind::kDate, n);
      ParseInstantOrDate(n);  // reports a date that does not exist
      const std::string text = n.string();
      e->value = std::stoll(text.substr(0, 4)) * 10000 + std::stoll(text.substr(5, 2)) * 100 +
                 std::stoll(text.substr(8, 2));
      return e;
    }
    if (n.is_type<instant_lit>()) {
      auto e = Make(ExprKind::kInstant, n);
      e->value = ParseInstantOrDate(n);
      return e;
    }
    if (n.is_type<string_lit>()) {
      auto e = Make(ExprKind::kString, n);
      e->text = Unquote(n);
      return e;
    }
    if (n.is_type<kw_true>() || n.is_type<kw_false>()) {
      auto e = Make(ExprKind::kBool, n);
      e->value = n.is_type<kw_true>();
      return e;
    }
    // A grammar rule without a conversion is a bug in this file; report it rather than crash.
    Error(n, absl::StrCat("internal error: unexpected `", std::string(n.type), "` node"));
    return Make(ExprKind::kBool, n);
  }

  uint32_t file_;
  std::vector<Diagnostic>& diagnostics_;
  const std::string& path_;
};

}  // namespace

bool Parse(const SourceFile& source, uint32_t file, Module& module,
           std::vector<Diagnostic>& diagnostics) {
  module.file = file;
  if (source.text.size() > kMaxFileBytes) {
    diagnostics.push_back(
        Diagnostic{Severity::kError, "limit", source.path, 1, 1, 1,
                   absl::StrCat("the file is ", source.text.size(),
                                " bytes; a rule file may be at most ", kMaxFileBytes, " bytes")});
    return false;
  }
  tao::pegtl::memory_input in(source.text, source.path);
  try {
    auto root = tao::pegtl::parse_tree::parse<grammar::file, grammar::selector,
                                              grammar::depth_limit, grammar::control>(in);
    if (!root) {
      diagnostics.push_back(Diagnostic{Severity::kError, "syntax", source.path, 1, 1, 1,
                                       "the file could not be parsed"});
      return false;
    }
    size_t before = diagnostics.size();
    Converter(file, diagnostics, source.path).ConvertFile(*root, module);
    return diagnostics.size() == before;
  } catch (const tao::pegtl::parse_error& e) {
    const auto& pos = e.positions().front();
    std::string message(e.message());
    const char* code = "syntax";
    if (message == "maximum parser rule nesting depth exceeded") {
      message = "the expression is nested too deeply; split it into named definitions (`def`)";
      code = "limit";
    }
    diagnostics.push_back(Diagnostic{Severity::kError, code, source.path,
                                     static_cast<uint32_t>(pos.line),
                                     static_cast<uint32_t>(pos.column), 1, std::move(message)});
    return false;
  } catch (const std::exception& e) {
    diagnostics.push_back(Diagnostic{Severity::kError, "internal", source.path, 1, 1, 1,
                                     absl::StrCat("internal parser error: ", e.what())});
    return false;
  }
}

}  // namespace lawful::dsl
