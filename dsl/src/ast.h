// The rules language's syntax tree. Every node carries the span it was parsed from; the checker
// fills in types and resolutions, the compiler reads them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lawful/engine.h"

namespace google::protobuf {
class Descriptor;
class FieldDescriptor;
}  // namespace google::protobuf

namespace lawful::dsl {

struct Span {
  uint32_t file = 0;
  uint32_t line = 0;    // 1-based
  uint32_t column = 0;  // 1-based
  uint32_t length = 1;
};

// ---- types (filled in by the checker) ----
enum class TypeKind : uint8_t {
  kError,  // already reported; suppresses cascades
  kBool,
  kInt,
  kString,
  kInstant,
  kDate,
  kDuration,
  kEnum,    // enum_id: index into the checker's enum table (purposes are enum 0)
  kRecord,  // a proto message; list >= 0 for records of a contact list, -1 for the contact itself
  kList,    // a repeated field: element in `element`
  kSet,     // a constant set of `element`
};

struct Type {
  TypeKind kind = TypeKind::kError;
  int32_t enum_id = -1;
  const google::protobuf::Descriptor* message = nullptr;  // kRecord
  int32_t list = -1;  // kRecord: the list whose records these are; kList: the list
  // kRecord: the fields leading from the record (or contact) to this nested message.
  std::vector<const google::protobuf::FieldDescriptor*> path;
  std::shared_ptr<Type> element;  // kList, kSet

  static Type Of(TypeKind k) {
    Type t;
    t.kind = k;
    return t;
  }
  static Type Enum(int32_t id) {
    Type t;
    t.kind = TypeKind::kEnum;
    t.enum_id = id;
    return t;
  }
  bool error() const { return kind == TypeKind::kError; }
};

bool SameType(const Type& a, const Type& b);

enum class BinaryOp : uint8_t {
  kOr,
  kAnd,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,
  kAdd,
  kSub,
  kMul,
  kDiv,
  kIn,
  kNotIn
};

enum class ExprKind : uint8_t {
  kBool,
  kInt,
  kString,
  kInstant,
  kDate,
  kDuration,
  kName,       // text: an identifier
  kField,      // kids[0].text
  kCall,       // text(kids...)
  kSet,        // {kids...}
  kNot,        // kids[0]
  kNeg,        // kids[0]
  kBinary,     // kids[0] op kids[1]
  kIf,         // if kids[0] then kids[1] else kids[2]
  kAny,        // var in kids[0] where kids[1]
  kAll,        // var in kids[0] where kids[1]
  kCount,      // var in kids[0] where kids[1]
  kLatest,     // latest var in kids[0] where kids[1] by kids[2]
  kIsMissing,  // kids[0]
  kIsPresent,  // kids[0]
};

// What a name or call resolved to.
enum class Resolution : uint8_t {
  kNone,
  kAt,
  kPurpose,
  kChannel,
  kNoticeType,
  kContact,
  kConst,
  kDef,
  kParam,
  kLoopVar,
  kEnumValue,
  kBuiltin,
};

struct Def;

struct Expr {
  ExprKind kind;
  Span span;
  std::string text;   // identifier, field name, string literal, bound variable
  int64_t value = 0;  // int, bool, instant (ns), date (days), enum value number
  CalendarDuration duration;
  BinaryOp op = BinaryOp::kEq;
  Span op_span;  // kBinary: the operator (`span` starts at the left operand), for arithmetic errors
  std::vector<std::unique_ptr<Expr>> kids;

  // Filled in by the checker.
  Type type;
  Resolution resolution = Resolution::kNone;
  const Def* def = nullptr;  // kDef, kConst
  int32_t binding = -1;      // kParam: parameter index; kLoopVar: binder id (the binding node's id)
  int32_t id = -1;           // kAny/kAll/kCount/kLatest: this binder's id
  std::string builtin;       // kBuiltin: its name
};
using ExprPtr = std::unique_ptr<Expr>;

struct Param {
  std::string name;
  std::string type_name;
  Span span;       // the parameter's name
  Span type_span;  // its type
  Type type;       // checker
};

// The folded value of a `const`.
struct ConstValue {
  int64_t value = 0;          // int, bool, instant, date, enum value
  std::vector<int64_t> set;   // kSet, sorted
  CalendarDuration duration;  // kDuration
  std::string text;           // kString
};

// `const NAME = expr` (folded at compile time) or `def name(params) = expr`.
struct Def {
  bool is_const = false;
  std::string name;
  Span span;
  std::vector<Param> params;
  ExprPtr body;
  Type type;             // checker: the body's type
  ConstValue constant;   // checker: a const's folded value
  bool checked = false;  // checker bookkeeping: cycles and once-only checks
  bool checking = false;
};

struct NamedSpan {
  std::string name;
  Span span;
};

struct EnumDecl {
  std::string name;
  Span span;
  std::vector<NamedSpan> values;
};

struct Effective {
  std::optional<int64_t> from;   // instant
  std::optional<int64_t> until;  // instant, exclusive
};

struct RuleDecl {
  bool is_default = false;
  Outcome outcome = Outcome::kDeny;
  std::string name;
  Span span;  // the rule's first token
  Span name_span;
  ExprPtr when;  // null for the default
  std::optional<std::string> cite;
  ExprPtr evidence;
  ExprPtr valid_until;
  std::vector<NamedSpan> obligations;
  std::string note;
  std::optional<NamedSpan> reason;
  Effective effective;
};

struct PolicyDecl {
  std::string name;
  Span span;
  ExprPtr purposes;
  ExprPtr channels;  // null: every channel
  Effective effective;
  std::vector<RuleDecl> rules;  // the default last
};

// One rule file's declarations, in source order.
struct Module {
  uint32_t file = 0;
  std::vector<NamedSpan> purposes;
  std::vector<std::unique_ptr<Def>> defs;
  std::vector<EnumDecl> enums;
  std::vector<PolicyDecl> policies;
};

}  // namespace lawful::dsl
