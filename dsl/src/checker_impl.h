// The Checker class behind Check(), defined in checker.cc, resolve.cc and check_expr.cc.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "checker.h"

namespace google::protobuf {
class Descriptor;
class EnumDescriptor;
class EnumValueDescriptor;
class FieldDescriptor;
}  // namespace google::protobuf

namespace lawful::dsl {

namespace pb = google::protobuf;

// Names as rules spell them, and suggestions for misspelt ones (resolve.cc).

// "; did you mean `x`?" for the nearest candidate within a third of the name's length.
std::string Suggest(const std::string& name, const std::vector<std::string>& candidates);
// CONSENT_SOURCE_WEB_FORM in enum ConsentSource -> web_form.
std::string EnumValueName(const pb::EnumValueDescriptor* v);
// ConsentSource -> consent_source.
std::string SnakeCase(const std::string& camel);
bool IsTimestamp(const pb::Descriptor* d);

// One pass over the parsed modules; its members share the rule set being checked, the
// diagnostics and the definitions by name.
class Checker {
 public:
  Checker(CheckedRuleSet& out, std::vector<Diagnostic>& diagnostics)
      : out_(out), diagnostics_(diagnostics) {}
  bool Run();

 private:
  // ---- diagnostics ----
  void Report(Severity severity, const Span& span, const std::string& code, std::string message);
  void Error(const Span& span, const std::string& code, std::string message);
  void Warning(const Span& span, const std::string& code, std::string message);
  // The kind of a value without an article: "purpose", "consent record".
  std::string KindName(const Type& t);
  std::string Plural(const Type& t);
  std::string TypeName(const Type& t);

  // ---- limits ----
  // How many policies and rules a rule set may have: reported at the first one past the limit.
  bool WithinLimits();

  // ---- declarations ----
  void DeclarePurposes();
  int32_t EnumIdFor(const pb::EnumDescriptor* e);
  void DeclareProtoEnums();
  void DeclareUserEnums();
  int32_t EnumByName(const std::string& name);
  void DeclareDefs();
  static bool IsBuiltinName(const std::string& n);
  // The record list holding messages of type `message` (e.g. consent -> contact.consents).
  bool RecordTypeFor(const pb::Descriptor* message, Type& out);
  std::vector<std::string> TypeNames();
  bool ResolveTypeName(const std::string& name, const Span& span, Type& out);

  // ---- definitions ----
  void CheckDef(Def& def);
  // Folds a const's body; consts may only use literals, sets, durations and other consts.
  void FoldConst(Def& def);

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
  std::vector<std::string> NamesInScope(const Scope& scope);
  // Does `name` resolve without context (variable, builtin, def)? Enum values need context.
  bool ResolvesWithoutContext(const Expr& e, const Scope& scope);
  // A bare value name (or an `if` choosing between two) takes its type from its context.
  bool NeedsContext(const Expr& e, const Scope& scope);
  // The one enum holding every value name of `names`, or -1.
  int32_t CommonEnum(const std::vector<const Expr*>& names);
  // Enums having a value named `name`.
  std::vector<int32_t> EnumsWithValue(const std::string& name);
  Type ResolveEnumValue(Expr& e, int32_t enum_id);
  Type CheckName(Expr& e, Scope& scope, const Type* expected);

  // ---- fields ----
  std::vector<std::string> FieldNames(const pb::Descriptor* d);
  bool ScalarKind(const pb::FieldDescriptor* f, FactKind& kind, Type& type);
  // `base.field`, resolved against the lawful.v1.Contact descriptor, so a field added to the proto
  // is usable in rules without engine changes.
  Type CheckField(Expr& e, Scope& scope);

  // ---- expressions ----
  bool Expect(const Expr& e, const Type& t, TypeKind kind, const char* what);
  // A value the rules may use directly (not a group of fields, a list, a set or a duration).
  bool IsPlainValue(const Type& t);
  Type CheckSet(Expr& e, Scope& scope, const Type* expected_element);
  Type CheckBinary(Expr& e, Scope& scope);
  bool IsConstantDuration(const Expr& e);
  Type CheckCall(Expr& e, Scope& scope);
  Type CheckQuantifier(Expr& e, Scope& scope);
  Type CheckExpr(Expr& e, Scope& scope, const Type* expected);
  Type CheckExprInner(Expr& e, Scope& scope, const Type* expected);

  // ---- policies ----
  bool ConstSet(Expr& e, int32_t enum_id, const char* what, std::vector<int64_t>& values);
  void CheckPolicy(PolicyDecl& p);
  void CheckRule(RuleDecl& r);
  void CheckInvariants(Module& m);

  CheckedRuleSet& out_;
  std::vector<Diagnostic>& diagnostics_;
  int errors_ = 0;
  int depth_ = 0;
  std::map<std::string, Def*> defs_;
  std::map<const pb::EnumDescriptor*, int32_t> proto_enums_;
  int32_t channel_enum_ = -1;
  int32_t notice_enum_ = -1;
};

}  // namespace lawful::dsl
