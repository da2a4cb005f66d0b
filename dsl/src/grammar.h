// The rules language's grammar (PEGTL): one struct per grammar rule, and the parse tree's nodes.
#pragma once

#include "language_limits.h"
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
struct comment : seq<one<'#'>, until<eolf>> {};  // `# ...` to the end of the line
struct blank : sor<pegtl::ascii::space, comment> {};
struct _ : star<blank> {};  // optional white space
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
// Not reserved: they only have a meaning where they stand (`purpose` is also the request's
// purpose).
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
LAWFUL_KEYWORD(invariant, "invariant")
LAWFUL_KEYWORD(only, "only")
#undef LAWFUL_KEYWORD

struct reserved
    : sor<kw_and, kw_or, kw_not, kw_in, kw_is, kw_any, kw_all, kw_count, kw_latest, kw_where, kw_by,
          kw_if, kw_then, kw_else, kw_true, kw_false, kw_missing, kw_present, kw_policy, kw_const,
          kw_def, kw_enum, kw_deny, kw_allow, kw_otherwise, kw_when, kw_cite> {};
struct name : seq<not_at<reserved>, ident_first, star<ident_rest>> {};  // an identifier
struct comma : seq<_, one<','>, _> {};

// ---- literals ----
struct digits : plus<pegtl::ascii::digit> {};
struct expect_whole_number : not_at<one<'.'>, pegtl::ascii::digit> {};
struct int_lit : seq<digits, must<expect_whole_number>> {};
template <int N>
struct ndigits : pegtl::rep<N, pegtl::ascii::digit> {};
struct date_text : seq<ndigits<4>, one<'-'>, ndigits<2>, one<'-'>, ndigits<2>> {};
// 2026-03-02T09:00:00Z (UTC)
struct instant_lit : seq<date_text, one<'T'>, ndigits<2>, one<':'>, ndigits<2>, one<':'>,
                         ndigits<2>, opt<one<'.'>, digits>, one<'Z'>> {};
struct date_lit : seq<date_text, not_at<ident_rest>> {};  // 2026-03-02
struct unit
    : sor<TAO_PEGTL_KEYWORD("days"), TAO_PEGTL_KEYWORD("day"), TAO_PEGTL_KEYWORD("months"),
          TAO_PEGTL_KEYWORD("month"), TAO_PEGTL_KEYWORD("years"), TAO_PEGTL_KEYWORD("year")> {};
struct duration_lit : seq<int_lit, _, unit> {};  // 24 months
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
// any c in contact.consents where ...
struct quantifier : seq<quantifier_kind, _, must<expect_var>, _, must<expect_in>, _,
                        must<expect_collection>, _, must<expect_where>, _, must<expect_expr>> {};
struct latest
    : seq<kw_latest, _, must<expect_var>, _, must<expect_in>, _, must<expect_collection>, _,
          must<expect_where>, _, must<expect_expr>, _, must<expect_by>, _, must<expect_key>> {};
struct primary : sor<paren, set_lit, quantifier, latest, instant_lit, date_lit, duration_lit,
                     int_lit, string_lit, bool_lit, call, name> {};
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
struct cmp_tail : sor<seq<cmp_op, _, must<expect_sum>>, seq<not_in_op, _, must<expect_sum>>,
                      seq<in_op, _, must<expect_sum>>, is_missing, is_present, is_value,
                      seq<pegtl::at<one<'='>>, must<expect_double_eq>>> {};
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
struct conditional : seq<kw_if, _, must<expect_expr>, _, must<expect_then>, _, must<expect_expr>, _,
                         must<expect_else>, _, must<expect_expr>> {};
struct expr : sor<conditional, disjunction> {};

// ---- declarations ----
struct expect_name : seq<name> {};
struct name_list : seq<must<expect_name>, star<comma, must<expect_name>>> {};
struct purpose_decl : seq<kw_purpose, _, name_list> {};  // purpose newsletter, survey
struct expect_assign : one<'='> {};
struct const_decl
    : seq<kw_const, _, must<expect_name>, _, must<expect_assign>, _, must<expect_expr>> {};
struct expect_colon : one<':'> {};
struct expect_type : seq<name> {};
struct param : seq<name, _, must<expect_colon>, _, must<expect_type>> {};
struct expect_param : seq<param> {};
struct params
    : seq<one<'('>, _, opt<param, star<comma, must<expect_param>>>, _, must<expect_rparen>> {};
struct def_decl : seq<kw_def, _, must<expect_name>, _, opt<params>, _, must<expect_assign>, _,
                      must<expect_expr>> {};
struct expect_lbrace : one<'{'> {};
struct expect_rbrace : one<'}'> {};
struct enum_decl : seq<kw_enum, _, must<expect_name>, _, must<expect_lbrace>, _, name_list, _,
                       must<expect_rbrace>> {};

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
struct clause : sor<cite_clause, evidence_clause, valid_clause, obligations_clause, note_clause,
                    reason_clause, effective> {};
struct clauses : star<clause, _> {};

struct outcome : sor<kw_deny, kw_allow> {};
struct expect_when : kw_when {};
struct rule : seq<outcome, _, must<expect_name>, _, opt<reason_clause, _>, must<expect_when>, _,
                  must<expect_expr>, _, clauses> {};
struct expect_outcome : seq<outcome> {};
struct default_rule : seq<kw_otherwise, _, must<expect_outcome>, _, must<expect_name>, _, clauses> {
};
struct expect_default_rule : seq<default_rule> {};
struct expect_for : kw_for {};
struct expect_purposes : kw_purposes {};
struct policy_purposes : seq<must<expect_expr>> {};
struct policy_channels : seq<kw_channels, _, must<expect_expr>> {};
struct policy_decl
    : seq<kw_policy, _, must<expect_name>, _, must<expect_for>, _, must<expect_purposes>, _,
          policy_purposes, _, opt<policy_channels, _>, star<effective, _>, must<expect_lbrace>, _,
          star<rule, _>, must<expect_default_rule>, _, must<expect_rbrace>> {};

// invariant NAME [for purposes P] [channels C] [when COND] then deny | allow only by RULE, ...
// A legal property the prover checks over every contact; it never decides anything.
struct invariant_purposes : seq<kw_for, _, must<expect_purposes>, _, must<expect_expr>> {};
struct invariant_channels : seq<kw_channels, _, must<expect_expr>> {};
struct invariant_when : seq<kw_when, _, must<expect_expr>> {};
struct expect_only : kw_only {};
struct expect_by_rules : kw_by {};
struct invariant_deny : kw_deny {};
struct invariant_allow_only
    : seq<kw_allow, _, must<expect_only>, _, must<expect_by_rules>, _, name_list> {};
struct expect_verdict : sor<invariant_allow_only, invariant_deny> {};
struct invariant_decl : seq<kw_invariant, _, must<expect_name>, _, opt<invariant_purposes, _>,
                            opt<invariant_channels, _>, opt<invariant_when, _>, must<expect_then>,
                            _, must<expect_verdict>> {};

struct item : sor<purpose_decl, const_decl, def_decl, enum_decl, policy_decl, invariant_decl> {};
struct expect_item : eof {};
struct file : seq<_, star<item, _>, must<expect_item>> {};

// ---- error messages for the error points ----
// Rules named expect_* are error points: when one fails the parser stops with its message, so a
// rule author reads what was expected, not "parse error".
struct errors {
  template <typename Rule>
  static constexpr const char* message = nullptr;
};
#define LAWFUL_ERROR(rule, text) \
  template <>                    \
  constexpr const char* errors::message<rule> = text;
LAWFUL_ERROR(expect_expr, "expected an expression")
LAWFUL_ERROR(expect_escape,
             "unknown escape in a text: write `\\\\` for a backslash, `\\\"` for a quote, `\\n` "
             "for a new line")
LAWFUL_ERROR(expect_whole_number,
             "numbers are whole numbers; decimals such as 2.5 are not supported")
LAWFUL_ERROR(expect_no_chain, "comparisons cannot be chained: write `a < b and b < c`")
LAWFUL_ERROR(expect_rparen, "expected `)`")
LAWFUL_ERROR(expect_set_end, "expected `,` or `}` to end the set")
LAWFUL_ERROR(expect_string_end, "expected `\"` to end the text (a text cannot span lines)")
LAWFUL_ERROR(expect_var,
             "expected a name for each record, e.g. `c` in `any c in contact.consents where ...`")
LAWFUL_ERROR(expect_in, "expected `in` followed by a list, e.g. `in contact.consents`")
LAWFUL_ERROR(expect_collection, "expected a list field, e.g. `contact.consents`")
LAWFUL_ERROR(expect_where, "expected `where` followed by a condition")
LAWFUL_ERROR(expect_by,
             "expected `by` followed by the field that orders the records, e.g. `by c.granted_at`")
LAWFUL_ERROR(expect_key, "expected the field that orders the records, e.g. `c.granted_at`")
LAWFUL_ERROR(expect_field, "expected a field name after `.`")
LAWFUL_ERROR(expect_unary, "expected a value")
LAWFUL_ERROR(expect_product, "expected a value")
LAWFUL_ERROR(expect_sum, "expected a value to compare with")
LAWFUL_ERROR(expect_value_name, "expected a value name after `is`, or `missing` or `present`")
LAWFUL_ERROR(expect_double_eq,
             "use `==` to compare two values (a single `=` only appears in `const` and `def`)")
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
LAWFUL_ERROR(expect_rbrace,
             "expected `}` to close the policy (nothing may follow its `otherwise` rule)")
LAWFUL_ERROR(expect_datetime,
             "expected a date like 2027-01-01 or an instant like 2027-01-01T00:00:00Z")
LAWFUL_ERROR(expect_from_until, "expected `from` or `until` after `effective`")
LAWFUL_ERROR(expect_cite_text,
             "expected the citation as a quoted text, e.g. cite \"GDPR Art. 6(1)(a)\"")
LAWFUL_ERROR(expect_until, "expected `until` after `valid`")
LAWFUL_ERROR(expect_note_text, "expected the note as a quoted text")
LAWFUL_ERROR(expect_when, "expected `when` followed by the rule's condition")
LAWFUL_ERROR(expect_outcome, "expected `deny` or `allow` after `otherwise`")
LAWFUL_ERROR(expect_default_rule,
             "expected a clause (`cite`, `evidence`, `valid until`, `obligations`, `note`, "
             "`reason`), another rule "
             "(`deny ...` or `allow ...`), or the policy's closing `otherwise` rule")
LAWFUL_ERROR(expect_for, "expected `for purposes ...` after the policy's name")
LAWFUL_ERROR(expect_purposes, "expected `purposes` after `for`")
LAWFUL_ERROR(expect_item,
             "expected a declaration: `purpose`, `const`, `def`, `enum`, `policy` or `invariant`")
LAWFUL_ERROR(expect_only,
             "expected `only by` and the rules that may allow, e.g. `allow only by consent`")
LAWFUL_ERROR(expect_by_rules,
             "expected `by` and the rules that may allow, e.g. `allow only by consent`")
LAWFUL_ERROR(expect_verdict, "expected what must hold: `deny`, or `allow only by RULE, RULE`")
#undef LAWFUL_ERROR

// ---- which rules become parse-tree nodes ----
template <typename Rule>
using selector = pegtl::parse_tree::selector<
    Rule,
    pegtl::parse_tree::store_content::on<
        name, int_lit, instant_lit, date_lit, unit, duration_lit, string_lit, kw_true, kw_false,
        set_lit, call, quantifier_kind, quantifier, latest, field, postfix, neg, mul_op, product,
        add_op, sum, cmp_op, in_op, not_in_op, is_missing, is_present, is_value, comparison, not_op,
        conjunction, disjunction, conditional, purpose_decl, const_decl, param, def_decl, enum_decl,
        effective_from, effective_until, cite_clause, evidence_clause, valid_clause,
        obligations_clause, note_clause, reason_clause, kw_deny, kw_allow, rule, default_rule,
        policy_purposes, policy_channels, policy_decl, invariant_purposes, invariant_channels,
        invariant_when, invariant_deny, invariant_allow_only, invariant_decl>>;

// Nesting limit: hostile input (10,000 parentheses) must not overflow the stack.
template <typename Rule>
struct depth_limit : pegtl::limit_depth<kMaxGrammarDepth> {};

template <typename Rule>
using control = pegtl::must_if<errors, pegtl::normal, false>::control<Rule>;

}  // namespace grammar

}  // namespace lawful::dsl
