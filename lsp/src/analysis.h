// The language server's view of one rule set: its files (open buffers in place of files on disk),
// `lawful check`'s diagnostics, the checked tree and an index of every name in it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lawful/dsl.h"
#include "positions.h"

namespace google::protobuf {
class Descriptor;
class FieldDescriptor;
}  // namespace google::protobuf

namespace lawful::lsp {

// What a name in the rules stands for.
enum class SymbolKind {
  kPurpose,
  kConst,
  kDef,
  kParam,
  kEnum,
  kEnumValue,  // a user enum's value, or a proto enum's value name (no declaration in the rules)
  kPolicy,
  kRule,
  kField,    // a field of lawful.v1.Contact or of one of its messages
  kRequest,  // at, purpose, channel, notice_type, contact
  kBuiltin,  // local_date, years_between
  kInvariant,
};

struct Symbol {
  Symbol(SymbolKind k, std::string n) : kind(k), name(std::move(n)) {}
  SymbolKind kind;
  std::string name;
  bool declared = false;  // declared in the rules: `decl` is its name's place
  dsl::Span decl;
  const dsl::Def* def = nullptr;                             // kConst, kDef, kParam (its def)
  const dsl::EnumDecl* enum_decl = nullptr;                  // kEnum, kEnumValue of a user enum
  int32_t enum_id = -1;                                      // kEnum, kEnumValue
  const dsl::PolicyDecl* policy = nullptr;                   // kPolicy, kRule
  const dsl::RuleDecl* rule = nullptr;                       // kRule
  const dsl::InvariantDecl* invariant = nullptr;             // kInvariant
  const google::protobuf::FieldDescriptor* field = nullptr;  // kField
  int32_t param = -1;                                        // kParam
};

// One place a symbol's name is written.
struct Occurrence {
  dsl::Span span;
  int32_t symbol;
  bool declaration;
};

// Every name of a checked rule set, with where it is written.
class SymbolIndex {
 public:
  explicit SymbolIndex(const dsl::CheckedRules& rules);
  const std::vector<Symbol>& symbols() const { return symbols_; }
  const std::vector<Occurrence>& occurrences() const { return occurrences_; }
  // The occurrence covering byte column `column` (1-based) of `line` in `file`, or null.
  const Occurrence* At(uint32_t file, uint32_t line, uint32_t column) const;
  // Every occurrence of `symbol`, declaration first.
  std::vector<const Occurrence*> References(int32_t symbol) const;
  // The declared symbol of `kind` named `name`, or -1.
  int32_t Find(SymbolKind kind, const std::string& name) const;

 private:
  int32_t Intern(Symbol symbol);
  void Add(const dsl::Span& span, int32_t symbol, bool declaration);
  void Walk(const dsl::Expr& e, const dsl::Def* def);

  std::vector<Symbol> symbols_;
  std::map<std::string, int32_t> by_key_;
  std::vector<Occurrence> occurrences_;
};

// A rule set as the editor currently has it.
struct Analysis {
  std::string root;        // the directory; file paths are relative to it
  std::string buffer_uri;  // set when the rule set is one buffer that is not a file (untitled)
  // The rule files sorted by path, as ReadRuleFiles gives them, then the invariant files.
  std::vector<dsl::SourceFile> files;
  std::vector<dsl::Diagnostic> diagnostics;  // exactly `lawful check`'s
  // The checked tree and its index. When a file does not parse, the files that do are checked
  // without it, so navigation keeps working in the rest of the rule set.
  std::vector<dsl::SourceFile> checked_files;
  std::shared_ptr<const dsl::CheckedRules> rules;
  std::unique_ptr<SymbolIndex> index;

  // The index of `path` in checked_files, or -1.
  int32_t CheckedFile(const std::string& path) const;
};

// Checks `files` (relative to `root`; rule files, then invariant files) as `lawful check` does and
// indexes what parses.
std::unique_ptr<Analysis> Analyze(std::string root, std::vector<dsl::SourceFile> files);

// The doc comment of a field of contact.proto (its leading comment, from a descriptor set built
// with source info and embedded in the binary), or empty.
std::string FieldComment(const google::protobuf::FieldDescriptor* field);

// The `#` comment lines right above `line` (1-based) of `text`, without the `#`s.
std::string CommentAbove(const std::string& text, uint32_t line);

// Markdown for the symbol under an occurrence.
std::string HoverText(const Analysis& analysis, const Symbol& symbol);

// ConsentSource -> consent_source: how the rules name a proto enum.
std::string RulesEnumName(const std::string& proto_name);

}  // namespace lawful::lsp
