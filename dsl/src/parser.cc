// The rules language grammar (PEGTL) and the conversion of its parse tree into the AST.
// One struct per grammar rule; rules named expect_* are error points: when they fail the parser
// stops with their message, so a rule author reads what was expected, not "parse error".
#include "parser.h"

#include <algorithm>
#include <charconv>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "tao/pegtl.hpp"
#include "tao/pegtl/contrib/limit_depth.hpp"
#include "tao/pegtl/contrib/parse_tree.hpp"

namespace lawful::dsl {
namespace grammar {

namespace pegtl = tao::pegtl;
using pegtl::eof;
using pegtl::eolf;
using pegtl::list;
using pegtl::must;
using pegtl::not_at;
using pegtl::one;
using pegtl::opt;
using pegtl::plus;
using pegtl::ranges;
using pegtl::seq;
using pegtl::sor;
using pegtl::star;
using pegtl::until;

// ---- lexical ----
struct comment : seq<one<'#'>, until<eolf>> {};                  // `# ...` to the end of the line
struct blank : sor<pegtl::ascii::space, comment> {};
struct _ : star<blank> {};                                        // optional white space
struct ident_first : ranges<'a', 'z', 'A', 'Z', '_'> {};
struct ident_rest : ranges<'a', 'z', 'A', 'Z', '0', '9', '_'> {};

#define LAWFUL_KEYWORD(name, text) \
  struct kw_##name : TAO_PEGTL_KEYWORD(text) {};
LAWFUL_KEYWORD(and, "and")
LAWFUL_KEYWORD(or, "or")
LAWFUL_KEYWORD(not, "not")
LAWFUL_KEYWORD(in, "in")
LAWFUL_KEYWORD(is, "is")
LAWFUL_KEYWORD(any, "any")
LAWFUL_KEYWORD(all, "all")
LAWFUL_KEYWORD(count, "count")
LAWFUL_KEYWORD(latest, "latest")
LAWFUL_KEYWORD(where, "where")
LAWFUL_KEYWORD(by, "by")
LAWFUL_KEYWORD(if, "if")
LAWFUL_KEYWORD(then, "then")
LAWFUL_KEYWORD(else, "else")
LAWFUL_KEYWORD(true, "true")
LAWFUL_KEYWORD(false, "false")
LAWFUL_KEYWORD(missing, "missing")
LAWFUL_KEYWORD(present, "present")
LAWFUL_KEYWORD(policy, "policy")
LAWFUL_KEYWORD(const, "const")
LAWFUL_KEYWORD(def, "def")
LAWFUL_KEYWORD(enum, "enum")
LAWFUL_KEYWORD(deny, "deny")
LAWFUL_KEYWORD(allow, "allow")
LAWFUL_KEYWORD(otherwise, "otherwise")
LAWFUL_KEYWORD(when, "when")
LAWFUL_KEYWORD(cite, "cite")
// Not reserved: they only have a meaning where they stand (`purpose` is also the request's purpose).
LAWFUL_KEYWORD(purpose, "purpose")
LAWFUL_KEYWORD(for, "for")
LAWFUL_KEYWORD(purposes, "purposes")
LAWFUL_KEYWORD(channels, "channels")
LAWFUL_KEYWORD(effective, "effective")
LAWFUL_KEYWORD(from, "from")
LAWFUL_KEYWORD(until, "until")
LAWFUL_KEYWORD(evidence, "evidence")
LAWFUL_KEYWORD(valid, "valid")
LAWFUL_KEYWORD(obligations, "obligations")
LAWFUL_KEYWORD(note, "note")
LAWFUL_KEYWORD(reason, "reason")
#undef LAWFUL_KEYWORD

struct reserved : sor<kw_and, kw_or, kw_not, kw_in, kw_is, kw_any, kw_all, kw_count, kw_latest, kw_where,
                      kw_by, kw_if, kw_then, kw_else, kw_true, kw_false, kw_missing, kw_present, kw_policy,
                      kw_const, kw_def, kw_enum, kw_deny, kw_allow, kw_otherwise, kw_when, kw_cite> {};
struct name : seq<not_at<reserved>, ident_first, star<ident_rest>> {};  // an identifier
struct comma : seq<_, one<','>, _> {};

// ---- literals ----
struct digits : plus<pegtl::ascii::digit> {};
struct expect_whole_number : not_at<one<'.'>, pegtl::ascii::digit> {};
struct int_lit : seq<digits, must<expect_whole_number>> {};
template <int N>
struct ndigits : pegtl::rep<N, pegtl::ascii::digit> {};
struct date_text : seq<ndigits<4>, one<'-'>, ndigits<2>, one<'-'>, ndigits<2>> {};
struct instant_lit : seq<date_text, one<'T'>, ndigits<2>, one<':'>, ndigits<2>, one<':'>, ndigits<2>,
                         opt<one<'.'>, digits>, one<'Z'>> {};   // 2026-03-02T09:00:00Z (UTC)
struct date_lit : seq<date_text, not_at<ident_rest>> {};      // 2026-03-02
struct unit : sor<TAO_PEGTL_KEYWORD("days"), TAO_PEGTL_KEYWORD("day"), TAO_PEGTL_KEYWORD("months"),
                  TAO_PEGTL_KEYWORD("month"), TAO_PEGTL_KEYWORD("years"), TAO_PEGTL_KEYWORD("year")> {};
struct duration_lit : seq<int_lit, _, unit> {};                  // 24 months
struct expect_escape : one<'"', '\\', 'n', 't'> {};
struct escape : seq<one<'\\'>, must<expect_escape>> {};
struct string_char : sor<escape, pegtl::not_one<'"', '\\', '\n', '\r'>> {};
struct expect_string_end : one<'"'> {};
struct string_lit : seq<one<'"'>, star<string_char>, expect_string_end> {};
struct bool_lit : sor<kw_true, kw_false> {};

// ---- expressions, loosest binding last ----
struct expr;
struct expect_expr : seq<expr> {};
struct expect_rparen : one<')'> {};
struct expect_set_end : one<'}'> {};
struct paren : seq<one<'('>, _, must<expect_expr>, _, must<expect_rparen>> {};
struct set_lit : seq<one<'{'>, _, opt<list<expr, comma>>, _, must<expect_set_end>> {};
struct call : seq<name, _, one<'('>, _, opt<list<expr, comma>>, _, must<expect_rparen>> {};

struct postfix;
struct sum;
struct expect_var : seq<name> {};
struct expect_in : kw_in {};
struct expect_collection : seq<postfix> {};
struct expect_where : kw_where {};
struct expect_by : kw_by {};
struct expect_key : seq<sum> {};
struct quantifier_kind : sor<kw_any, kw_all, kw_count> {};
struct quantifier : seq<quantifier_kind, _, must<expect_var>, _, must<expect_in>, _, must<expect_collection>, _, must<expect_where>, _,
                        must<expect_expr>> {};   // any c in contact.consents where ...
struct latest : seq<kw_latest, _, must<expect_var>, _, must<expect_in>, _, must<expect_collection>, _, must<expect_where>, _,
                    must<expect_expr>, _, must<expect_by>, _, must<expect_key>> {};
struct primary : sor<paren, set_lit, quantifier, latest, instant_lit, date_lit, duration_lit, int_lit,
                     string_lit, bool_lit, call, name> {};
struct expect_field : seq<name> {};
struct field : seq<_, one<'.'>, _, must<expect_field>> {};
struct postfix : seq<primary, star<field>> {};
struct expect_unary;
struct neg : seq<one<'-'>, _, must<expect_unary>> {};
struct unary : sor<neg, postfix> {};
struct expect_unary : seq<unary> {};
struct mul_op : one<'*', '/'> {};
struct product : seq<unary, star<_, mul_op, _, must<expect_unary>>> {};
struct expect_product : seq<product> {};
struct add_op : one<'+', '-'> {};
struct sum : seq<product, star<_, add_op, _, must<expect_product>>> {};
struct expect_sum : seq<sum> {};
struct cmp_op : sor<TAO_PEGTL_STRING("<="), TAO_PEGTL_STRING(">="), TAO_PEGTL_STRING("=="),
                    TAO_PEGTL_STRING("!="), one<'<'>, one<'>'>> {};
struct in_op : kw_in {};
struct not_in_op : seq<kw_not, _, kw_in> {};
struct is_missing : seq<kw_is, _, kw_missing> {};
struct is_present : seq<kw_is, _, kw_present> {};
struct expect_value_name : seq<name> {};
struct is_value : seq<kw_is, _, must<expect_value_name>> {};
struct expect_double_eq : TAO_PEGTL_STRING("==") {};
struct cmp_tail : sor<seq<cmp_op, _, must<expect_sum>>, seq<not_in_op, _, must<expect_sum>>, seq<in_op, _, must<expect_sum>>,
                      is_missing, is_present, is_value, seq<pegtl::at<one<'='>>, must<expect_double_eq>>> {};
struct expect_no_chain : not_at<_, sor<cmp_op, in_op>> {};
struct comparison : seq<sum, opt<_, cmp_tail, must<expect_no_chain>>> {};
struct expect_negation;
struct not_op : seq<kw_not, _, must<expect_negation>> {};
struct logical_not : sor<not_op, comparison> {};
struct expect_negation : seq<logical_not> {};
struct conjunction : seq<logical_not, star<_, kw_and, _, must<expect_negation>>> {};
struct expect_conjunction : seq<conjunction> {};
struct disjunction : seq<conjunction, star<_, kw_or, _, must<expect_conjunction>>> {};
struct expect_then : kw_then {};
struct expect_else : kw_else {};
struct conditional : seq<kw_if, _, must<expect_expr>, _, must<expect_then>, _, must<expect_expr>, _, must<expect_else>, _, must<expect_expr>> {};
struct expr : sor<conditional, disjunction> {};

// ---- declarations ----
struct expect_name : seq<name> {};
struct name_list : seq<must<expect_name>, star<comma, must<expect_name>>> {};
struct purpose_decl : seq<kw_purpose, _, name_list> {};       // purpose newsletter, survey
struct expect_assign : one<'='> {};
struct const_decl : seq<kw_const, _, must<expect_name>, _, must<expect_assign>, _, must<expect_expr>> {};
struct expect_colon : one<':'> {};
struct expect_type : seq<name> {};
struct param : seq<name, _, must<expect_colon>, _, must<expect_type>> {};
struct expect_param : seq<param> {};
struct params : seq<one<'('>, _, opt<param, star<comma, must<expect_param>>>, _, must<expect_rparen>> {};
struct def_decl : seq<kw_def, _, must<expect_name>, _, opt<params>, _, must<expect_assign>, _, must<expect_expr>> {};
struct expect_lbrace : one<'{'> {};
struct expect_rbrace : one<'}'> {};
struct enum_decl : seq<kw_enum, _, must<expect_name>, _, must<expect_lbrace>, _, name_list, _, must<expect_rbrace>> {};

struct expect_datetime : sor<instant_lit, date_lit> {};
struct effective_from : seq<kw_from, _, must<expect_datetime>> {};
struct effective_until : seq<kw_until, _, must<expect_datetime>> {};
struct expect_from_until : sor<effective_from, effective_until> {};
struct effective : seq<kw_effective, _, must<expect_from_until>> {};

struct expect_cite_text : seq<string_lit> {};
struct cite_clause : seq<kw_cite, _, must<expect_cite_text>> {};
struct evidence_clause : seq<kw_evidence, _, must<expect_expr>> {};
struct expect_until : kw_until {};
struct valid_clause : seq<kw_valid, _, must<expect_until>, _, must<expect_expr>> {};
struct obligations_clause : seq<kw_obligations, _, name_list> {};
struct expect_note_text : seq<string_lit> {};
struct note_clause : seq<kw_note, _, must<expect_note_text>> {};
struct reason_clause : seq<kw_reason, _, must<expect_name>> {};
struct clause : sor<cite_clause, evidence_clause, valid_clause, obligations_clause, note_clause, reason_clause,
                    effective> {};
struct clauses : star<clause, _> {};

struct outcome : sor<kw_deny, kw_allow> {};
struct expect_when : kw_when {};
struct rule : seq<outcome, _, must<expect_name>, _, opt<reason_clause, _>, must<expect_when>, _, must<expect_expr>, _, clauses> {};
struct expect_outcome : seq<outcome> {};
struct default_rule : seq<kw_otherwise, _, must<expect_outcome>, _, must<expect_name>, _, clauses> {};
struct expect_default_rule : seq<default_rule> {};
struct expect_for : kw_for {};
struct expect_purposes : kw_purposes {};
struct policy_purposes : seq<must<expect_expr>> {};
struct policy_channels : seq<kw_channels, _, must<expect_expr>> {};
struct policy_decl : seq<kw_policy, _, must<expect_name>, _, must<expect_for>, _, must<expect_purposes>, _, policy_purposes, _,
                         opt<policy_channels, _>, star<effective, _>, must<expect_lbrace>, _, star<rule, _>,
                         must<expect_default_rule>, _, must<expect_rbrace>> {};

struct item : sor<purpose_decl, const_decl, def_decl, enum_decl, policy_decl> {};
struct expect_item : eof {};
struct file : seq<_, star<item, _>, must<expect_item>> {};

// ---- error messages for the error points ----
struct errors {
  template <typename Rule>
  static constexpr const char* message = nullptr;
};
#define LAWFUL_ERROR(rule, text) \
  template <>                   \
  constexpr const char* errors::message<rule> = text;
LAWFUL_ERROR(expect_expr, "expected an expression")
LAWFUL_ERROR(expect_escape, "unknown escape in a text: write `\\\\` for a backslash, `\\\"` for a quote, `\\n` for a new line")
LAWFUL_ERROR(expect_whole_number, "numbers are whole numbers; decimals such as 2.5 are not supported")
LAWFUL_ERROR(expect_no_chain, "comparisons cannot be chained: write `a < b and b < c`")
LAWFUL_ERROR(expect_rparen, "expected `)`")
LAWFUL_ERROR(expect_set_end, "expected `,` or `}` to end the set")
LAWFUL_ERROR(expect_string_end, "expected `\"` to end the text (a text cannot span lines)")
LAWFUL_ERROR(expect_var, "expected a name for each record, e.g. `c` in `any c in contact.consents where ...`")
LAWFUL_ERROR(expect_in, "expected `in` followed by a list, e.g. `in contact.consents`")
LAWFUL_ERROR(expect_collection, "expected a list field, e.g. `contact.consents`")
LAWFUL_ERROR(expect_where, "expected `where` followed by a condition")
LAWFUL_ERROR(expect_by, "expected `by` followed by the field that orders the records, e.g. `by c.granted_at`")
LAWFUL_ERROR(expect_key, "expected the field that orders the records, e.g. `c.granted_at`")
LAWFUL_ERROR(expect_field, "expected a field name after `.`")
LAWFUL_ERROR(expect_unary, "expected a value")
LAWFUL_ERROR(expect_product, "expected a value")
LAWFUL_ERROR(expect_sum, "expected a value to compare with")
LAWFUL_ERROR(expect_value_name, "expected a value name after `is`, or `missing` or `present`")
LAWFUL_ERROR(expect_double_eq, "use `==` to compare two values (a single `=` only appears in `const` and `def`)")
LAWFUL_ERROR(expect_negation, "expected a condition")
LAWFUL_ERROR(expect_conjunction, "expected a condition")
LAWFUL_ERROR(expect_then, "expected `then`")
LAWFUL_ERROR(expect_else, "expected `else` (every `if` has both branches)")
LAWFUL_ERROR(expect_name, "expected a name (letters, digits and `_`, not a reserved word)")
LAWFUL_ERROR(expect_assign, "expected `=`")
LAWFUL_ERROR(expect_colon, "expected `:` and the parameter's type, e.g. `c: consent`")
LAWFUL_ERROR(expect_type, "expected a type name, e.g. `consent`, `purpose`, `channel`, `instant`")
LAWFUL_ERROR(expect_param, "expected a parameter, e.g. `c: consent`")
LAWFUL_ERROR(expect_lbrace, "expected `{`")
LAWFUL_ERROR(expect_rbrace, "expected `}` to close the policy (nothing may follow its `otherwise` rule)")
LAWFUL_ERROR(expect_datetime, "expected a date like 2027-01-01 or an instant like 2027-01-01T00:00:00Z")
LAWFUL_ERROR(expect_from_until, "expected `from` or `until` after `effective`")
LAWFUL_ERROR(expect_cite_text, "expected the citation as a quoted text, e.g. cite \"GDPR Art. 6(1)(a)\"")
LAWFUL_ERROR(expect_until, "expected `until` after `valid`")
LAWFUL_ERROR(expect_note_text, "expected the note as a quoted text")
LAWFUL_ERROR(expect_when, "expected `when` followed by the rule's condition")
LAWFUL_ERROR(expect_outcome, "expected `deny` or `allow` after `otherwise`")
LAWFUL_ERROR(expect_default_rule,
             "expected a clause (`cite`, `evidence`, `valid until`, `obligations`, `note`, `reason`), another rule "
             "(`deny ...` or `allow ...`), or the policy's closing `otherwise` rule")
LAWFUL_ERROR(expect_for, "expected `for purposes ...` after the policy's name")
LAWFUL_ERROR(expect_purposes, "expected `purposes` after `for`")
LAWFUL_ERROR(expect_item, "expected a declaration: `purpose`, `const`, `def`, `enum` or `policy`")
#undef LAWFUL_ERROR

// ---- which rules become parse-tree nodes ----
template <typename Rule>
using selector = pegtl::parse_tree::selector<
    Rule,
    pegtl::parse_tree::store_content::on<
        name, int_lit, instant_lit, date_lit, unit, duration_lit, string_lit, kw_true, kw_false, set_lit, call,
        quantifier_kind, quantifier, latest, field, postfix, neg, mul_op, product, add_op, sum, cmp_op, in_op,
        not_in_op, is_missing, is_present, is_value, comparison, not_op, conjunction, disjunction, conditional,
        purpose_decl, const_decl, param, def_decl, enum_decl, effective_from, effective_until, cite_clause,
        evidence_clause, valid_clause, obligations_clause, note_clause, reason_clause, kw_deny, kw_allow, rule,
        default_rule, policy_purposes, policy_channels, policy_decl>>;

// Nesting limit: hostile input (10,000 parentheses) must not overflow the stack.
template <typename Rule>
struct depth_limit : pegtl::limit_depth<kMaxGrammarDepth> {};

template <typename Rule>
using control = pegtl::must_if<errors, pegtl::normal, false>::control<Rule>;

}  // namespace grammar

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
        for (size_t i = 1; i < item->children.size(); ++i) e.values.push_back(Named(*item->children[i]));
        module.enums.push_back(std::move(e));
      } else if (item->is_type<grammar::policy_decl>()) {
        module.policies.push_back(ConvertPolicy(*item));
      }
    }
  }

 private:
  std::string Text(const Node& n) {
    std::string text = n.string();
    if (n.is_type<grammar::name>() && text.size() > kMaxIdentifierLength) {
      Error(n, absl::StrCat("a name may be at most ", kMaxIdentifierLength, " characters long"), "limit");
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
    diagnostics_.push_back(Diagnostic{Severity::kError, code, path_, s.line, s.column, s.length, std::move(message)});
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
      Error(n, absl::StrCat("a text may be at most ", kMaxStringLength, " characters long"), "limit");
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
      def->params.push_back(Param{Text(*p.children[0]), Text(*p.children[1]), SpanOf(*p.children[0]), SpanOf(*p.children[1]), {}});
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
          Error(c, absl::StrCat("policy `", p.name, "` already has an `effective ", from ? "from" : "until",
                                "` date; give each once"));
        }
        ConvertEffective(c, p.effective);
      } else if (c.is_type<grammar::rule>() || c.is_type<grammar::default_rule>()) {
        p.rules.push_back(ConvertRule(c));
      }
    }
    return p;
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
      std::string kind = c.children.empty() ? std::string(c.type) : std::string(c.string_view().substr(0, c.string_view().find_first_of(" \t\r\n")));
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
      for (size_t i = 1; i < n.children.size(); ++i) e = Binary(op, std::move(e), ConvertExpr(*n.children[i]), n);
      return e;
    }
    if (n.is_type<sum>() || n.is_type<product>()) {
      ExprPtr e = ConvertExpr(*n.children[0]);
      for (size_t i = 1; i + 1 < n.children.size(); i += 2) {
        char c = n.children[i]->string_view()[0];
        BinaryOp op = c == '+' ? BinaryOp::kAdd : c == '-' ? BinaryOp::kSub : c == '*' ? BinaryOp::kMul : BinaryOp::kDiv;
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
        bop = s == "<=" ? BinaryOp::kLe : s == ">=" ? BinaryOp::kGe : s == "==" ? BinaryOp::kEq
            : s == "!=" ? BinaryOp::kNe : s == "<" ? BinaryOp::kLt : BinaryOp::kGt;
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
      e->span.length = kind == ExprKind::kLatest ? 6 : static_cast<uint32_t>(n.children[0]->string_view().size());
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
        Error(n, absl::StrCat("a duration may be at most ", kMaxDurationAmount, " ", std::string(unit_text)), "limit");
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
      e->value = std::stoll(text.substr(0, 4)) * 10000 + std::stoll(text.substr(5, 2)) * 100 + std::stoll(text.substr(8, 2));
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

bool Parse(const SourceFile& source, uint32_t file, Module& module, std::vector<Diagnostic>& diagnostics) {
  module.file = file;
  if (source.text.size() > kMaxFileBytes) {
    diagnostics.push_back(Diagnostic{Severity::kError, "limit", source.path, 1, 1, 1,
                                     absl::StrCat("the file is ", source.text.size(), " bytes; a rule file may be at most ",
                                                  kMaxFileBytes, " bytes")});
    return false;
  }
  tao::pegtl::memory_input in(source.text, source.path);
  try {
    auto root = tao::pegtl::parse_tree::parse<grammar::file, grammar::selector, grammar::depth_limit,
                                              grammar::control>(in);
    if (!root) {
      diagnostics.push_back(Diagnostic{Severity::kError, "syntax", source.path, 1, 1, 1, "the file could not be parsed"});
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
    diagnostics.push_back(Diagnostic{Severity::kError, code, source.path, static_cast<uint32_t>(pos.line),
                                     static_cast<uint32_t>(pos.column), 1, std::move(message)});
    return false;
  } catch (const std::exception& e) {
    diagnostics.push_back(Diagnostic{Severity::kError, "internal", source.path, 1, 1, 1,
                                     absl::StrCat("internal parser error: ", e.what())});
    return false;
  }
}

}  // namespace lawful::dsl
