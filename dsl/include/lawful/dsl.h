// lawful's rules language: source files -> AST with spans -> checker -> compiler into the engine's
// Program. User mistakes come back as Diagnostics (data), never as exceptions or crashes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lawful/engine.h"

namespace google::protobuf {
class Descriptor;
class FieldDescriptor;
}  // namespace google::protobuf

namespace lawful::dsl {

struct SourceFile {
  std::string path;  // as shown in diagnostics and decisions, relative to the rule set's root
  std::string text;
};

enum class Severity { kError, kWarning };

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string code;  // stable identifier, e.g. "unknown-field", "expected"
  std::string file;
  uint32_t line = 0;    // 1-based
  uint32_t column = 0;  // 1-based
  uint32_t length = 1;  // caret width
  std::string message;  // one sentence
};

// `file:line:col: error: message`, then the source line and a caret under the span.
std::string FormatDiagnostic(const Diagnostic& d, const std::vector<SourceFile>& sources);
std::string FormatDiagnostics(const std::vector<Diagnostic>& ds,
                              const std::vector<SourceFile>& sources);

struct CompileResult {
  std::optional<Program> program;  // set when there are no errors
  std::vector<Diagnostic> diagnostics;
  bool ok() const { return program.has_value(); }
};

// Parses, checks and compiles a rule set made of `files` (in the given order).
CompileResult Compile(const std::vector<SourceFile>& files);

// The canonical layout of a rule file (`lawful fmt`): the author's line breaks and comments are
// kept; spacing, indentation, trailing-comment alignment and blank lines are canonical.
// Idempotent. InvalidArgument with diagnostics when the file does not parse.
absl::StatusOr<std::string> FormatSource(const SourceFile& file);

// Reads every `*.lawful` rule file below `dir` (not invariant files), sorted by relative path.
absl::StatusOr<std::vector<SourceFile>> ReadRuleFiles(const std::string& dir);

struct LoadedRuleSet {
  std::shared_ptr<const RuleSet> rule_set;
  std::vector<SourceFile> sources;
  std::vector<Diagnostic> warnings;
};

// Reads, compiles, versions and verifies the rule set in `dir`. On rule errors the status is
// InvalidArgument and its message holds every formatted diagnostic.
absl::StatusOr<LoadedRuleSet> LoadRuleSet(const std::string& dir);

// Compiles, versions and verifies a rule set whose files were read elsewhere (e.g. from a git
// revision by `lawful diff`). The version hashes `files` in the given order with their paths, so
// give them sorted by path relative to the rule set's root, as ReadRuleFiles does: the same files
// then get the same version whichever way they were read. Errors as LoadRuleSet.
absl::StatusOr<LoadedRuleSet> LoadRuleSetFromFiles(std::vector<SourceFile> files);

// The rule-set archive (`lawfuld --archive_dir`): every rule set ever served, kept by version as
// ARCHIVE/<version>/<its files>, so a decision can be re-run years later under the rules that
// made it. Entries are written aside and renamed into place (a crash leaves no half entry), and
// never rewritten: the version is the hash of the files, so an entry's name proves its content.
absl::Status ArchiveRuleSet(const std::string& archive_dir, const LoadedRuleSet& loaded);

// Loads the archived rule set `version`. NotFound when the archive has no such entry; DataLoss
// when the entry's files no longer hash to its version (altered after archiving).
absl::StatusOr<LoadedRuleSet> LoadArchivedRuleSet(const std::string& archive_dir,
                                                  const std::string& version);

// ---- The checked syntax tree ----
// Tools that translate or navigate the rules (the prover, the SQL compiler, the language server)
// read the same tree the compiler reads: every node carries the span it was parsed from; the
// checker fills in types and resolutions.

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

// `invariant NAME [for purposes P] [channels C] [when COND] then deny | allow only by RULES`:
// for every request of those purposes and channels where COND holds, the decision is not allow
// (`deny`), or an allow is made by one of RULES. Invariants decide nothing; `lawful prove` proves
// them over every contact.
struct InvariantDecl {
  std::string name;
  Span span;
  ExprPtr purposes;       // null: every purpose
  ExprPtr channels;       // null: every channel
  ExprPtr when;           // null: every request
  std::string when_text;  // the condition as written: the prover's engine check compiles it
  bool deny = true;       // false: `allow only by allowed_by`
  std::vector<NamedSpan> allowed_by;
  // Filled in by the checker.
  std::vector<int32_t> purpose_ids;
  uint32_t channel_mask = 0;  // bit (1 << channel number)
};

// Invariants live in files of their own, named `*invariants.lawful`: they are not rule files
// (ReadRuleFiles skips them), so they are neither compiled, versioned nor archived.
bool IsInvariantFile(const std::string& path);

// Reads every `*invariants.lawful` file below `dir`, sorted by relative path (none is not an
// error).
absl::StatusOr<std::vector<SourceFile>> ReadInvariantFiles(const std::string& dir);

// The diagnostics of `invariant_files` checked on the rule set of `rule_files`, as `lawful prove`
// loads them: only those located in the invariant files (Compile reports the rule files' own).
// `lawful check` and the language server report these beside the rule set's.
std::vector<Diagnostic> CheckInvariantFiles(const std::vector<SourceFile>& rule_files,
                                            const std::vector<SourceFile>& invariant_files);

// One rule file's declarations, in source order.
struct Module {
  uint32_t file = 0;
  std::vector<NamedSpan> purposes;
  std::vector<std::unique_ptr<Def>> defs;
  std::vector<EnumDecl> enums;
  std::vector<PolicyDecl> policies;
  std::vector<InvariantDecl> invariants;
};

struct EnumInfo {
  std::string name;  // as written in rules: `channel`, `consent_source`, user enums as declared
  std::vector<std::pair<std::string, int64_t>> values;
};

// A rule set after checking: its modules (one a file, in the order given), with every name
// resolved and every expression typed.
struct CheckedRules {
  std::vector<Module> modules;
  std::vector<std::string> files;
  std::vector<std::string> purposes;  // declared, in order; enum 0's values
  std::vector<EnumInfo> enums;        // [0] purpose
  std::vector<const PolicyDecl*> policies;
  std::vector<std::vector<int32_t>> policy_purposes;  // parallel to policies
  std::vector<uint32_t> policy_channels;              // channel bit masks
  std::vector<const InvariantDecl*> invariants;       // checked, in file order
  int32_t binders = 0;
};

struct CheckResult {
  // Set once every file parses, even when checking reports errors: nodes are then resolved and
  // typed as far as checking got (TypeKind::kError where it failed).
  std::shared_ptr<const CheckedRules> rules;
  std::vector<Diagnostic> diagnostics;  // errors and warnings, as Compile reports them
  bool ok() const {
    if (rules == nullptr) return false;
    for (const Diagnostic& d : diagnostics) {
      if (d.severity == Severity::kError) return false;
    }
    return true;
  }
};

// Parses and checks `files` (in the given order) without compiling them.
CheckResult CheckRuleSet(const std::vector<SourceFile>& files);

}  // namespace lawful::dsl
