// `lawful fmt`: one canonical layout for rule files. It keeps the author's line breaks and every
// comment (a lawyer's note is never lost) and canonicalizes everything else: spacing between
// tokens, indentation by context, aligned trailing comments, single blank lines.
#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lawful/dsl.h"
#include "parser.h"

namespace lawful::dsl {
namespace {

enum class TokenKind {
  kWord,
  kNumber,
  kLiteral,
  kString,
  kOperator,
  kOpen,
  kClose,
  kComma,
  kDot,
  kColon,
  kComment
};

struct Token {
  TokenKind kind;
  std::string text;
};

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Splits one line into tokens. False when the line cannot be tokenized (it will not parse either).
bool Tokenize(const std::string& line, std::vector<Token>& out) {
  size_t i = 0;
  while (i < line.size()) {
    char c = line[i];
    if (c == ' ' || c == '\t' || c == '\r') {
      ++i;
    } else if (c == '#') {
      std::string comment = line.substr(i);
      while (!comment.empty() &&
             (comment.back() == ' ' || comment.back() == '\t' || comment.back() == '\r'))
        comment.pop_back();
      out.push_back({TokenKind::kComment, comment});
      return true;
    } else if (c == '"') {
      size_t j = i + 1;
      while (j < line.size() && line[j] != '"') j += line[j] == '\\' ? 2 : 1;
      if (j >= line.size()) return false;
      out.push_back({TokenKind::kString, line.substr(i, j + 1 - i)});
      i = j + 1;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      // Dates and instants (2026-03-02, 2026-03-02T09:00:00Z) are one token.
      const bool date = i + 5 < line.size() && line[i + 4] == '-' &&
                        std::isdigit(static_cast<unsigned char>(line[i + 5])) &&
                        std::all_of(line.begin() + i, line.begin() + i + 4, [](char d) {
                          return std::isdigit(static_cast<unsigned char>(d));
                        });
      size_t j = i;
      while (j < line.size() && (IsWordChar(line[j]) ||
                                 (date && std::string("-:.").find(line[j]) != std::string::npos)))
        ++j;
      out.push_back({date ? TokenKind::kLiteral : TokenKind::kNumber, line.substr(i, j - i)});
      i = j;
    } else if (IsWordChar(c)) {
      size_t j = i;
      while (j < line.size() && IsWordChar(line[j])) ++j;
      out.push_back({TokenKind::kWord, line.substr(i, j - i)});
      i = j;
    } else if (c == '(' || c == '{') {
      out.push_back({TokenKind::kOpen, std::string(1, c)});
      ++i;
    } else if (c == ')' || c == '}') {
      out.push_back({TokenKind::kClose, std::string(1, c)});
      ++i;
    } else if (c == ',') {
      out.push_back({TokenKind::kComma, ","});
      ++i;
    } else if (c == '.') {
      out.push_back({TokenKind::kDot, "."});
      ++i;
    } else if (c == ':') {
      out.push_back({TokenKind::kColon, ":"});
      ++i;
    } else if (std::string("=!<>+-*/").find(c) != std::string::npos) {
      size_t len = (i + 1 < line.size() && line[i + 1] == '=' && c != '+' && c != '-' && c != '*' &&
                    c != '/')
                       ? 2
                       : 1;
      out.push_back({TokenKind::kOperator, line.substr(i, len)});
      i += len;
    } else {
      return false;
    }
  }
  return true;
}

bool IsKeywordBeforeOperand(const std::string& w) {
  static const char* const kWords[] = {"when",     "and",      "or",       "not",  "in", "where",
                                       "by",       "if",       "then",     "else", "is", "until",
                                       "evidence", "purposes", "channels", "from"};
  return std::find_if(std::begin(kWords), std::end(kWords),
                      [&](const char* k) { return w == k; }) != std::end(kWords);
}

// Joins a line's tokens with canonical spacing (comments excluded).
std::string Join(const std::vector<Token>& tokens) {
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const Token& t = tokens[i];
    if (t.kind == TokenKind::kComment) continue;
    if (i > 0) {
      const Token& prev = tokens[i - 1];
      bool space = true;
      const bool prev_unary_minus =
          prev.kind == TokenKind::kOperator && prev.text == "-" &&
          (i < 2 || tokens[i - 2].kind == TokenKind::kOperator ||
           tokens[i - 2].kind == TokenKind::kOpen || tokens[i - 2].kind == TokenKind::kComma ||
           (tokens[i - 2].kind == TokenKind::kWord && IsKeywordBeforeOperand(tokens[i - 2].text)));
      if (t.kind == TokenKind::kComma || t.kind == TokenKind::kDot || t.kind == TokenKind::kColon)
        space = false;
      if (prev.kind == TokenKind::kDot) space = false;
      if (prev.kind == TokenKind::kOpen) space = false;
      if (t.kind == TokenKind::kClose) space = false;
      if (prev_unary_minus) space = false;
      // A call or a parameter list: `f(`; but `not (`, `and (`, `when (` keep their space.
      if (t.kind == TokenKind::kOpen && t.text == "(" && (prev.kind == TokenKind::kWord) &&
          !IsKeywordBeforeOperand(prev.text)) {
        space = false;
      }
      // `}` of a one-line set or enum follows its last element directly; `{ a, b }` stays tight.
      if (prev.kind == TokenKind::kOpen && prev.text == "{") space = false;
      if (space) out += ' ';
    }
    out += t.text;
  }
  return out;
}

bool StartsWith(const std::vector<Token>& tokens, std::initializer_list<const char*> words) {
  if (tokens.empty() || tokens[0].kind != TokenKind::kWord) return false;
  for (const char* w : words) {
    if (tokens[0].text == w) return true;
  }
  return false;
}

struct Line {
  std::vector<Token> tokens;
  std::string code;     // canonical text without the comment
  std::string comment;  // trailing or whole-line comment
  int source_indent = 0;
  int indent = 0;
  bool blank = false;
};

}  // namespace

absl::StatusOr<std::string> FormatSource(const SourceFile& file) {
  // Only the syntax matters here: a file of a rule set may use definitions of another file.
  {
    Module module;
    std::vector<Diagnostic> diagnostics;
    if (!Parse(file, 0, module, diagnostics))
      return absl::InvalidArgumentError(FormatDiagnostics(diagnostics, {file}));
  }

  std::vector<Line> lines;
  for (absl::string_view raw : absl::StrSplit(file.text, '\n')) {
    Line line;
    std::string text(raw);
    while (!text.empty() && (text.back() == '\r' || text.back() == ' ' || text.back() == '\t'))
      text.pop_back();
    for (char c : text) {
      if (c == ' ') {
        ++line.source_indent;
      } else if (c == '\t') {
        line.source_indent += 2;
      } else {
        break;
      }
    }
    if (!Tokenize(text, line.tokens))
      return absl::InvalidArgumentError(absl::StrCat(file.path, ": cannot tokenize `", text, "`"));
    line.blank = line.tokens.empty();
    line.code = Join(line.tokens);
    if (!line.tokens.empty() && line.tokens.back().kind == TokenKind::kComment)
      line.comment = line.tokens.back().text;
    lines.push_back(std::move(line));
  }

  // Indentation by context: top level 0 (continuations 2), rules 2, clauses 4, a rule's
  // continuation lines 6; a continuation indented deeper than that in the source keeps one
  // extra level (+4), so nested conditions stay readable and the result is stable.
  std::vector<bool> braces;  // open braces; true for a block (policy, enum) opened at a line's end
  bool in_rule = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    Line& line = lines[i];
    if (line.blank) continue;
    const bool comment_only = line.code.empty();
    const std::vector<Token>* tokens = &line.tokens;
    if (comment_only) {
      // A comment line takes the indentation of the next code line.
      size_t j = i + 1;
      while (j < lines.size() && (lines[j].blank || lines[j].code.empty())) ++j;
      if (j < lines.size()) tokens = &lines[j].tokens;
    }
    const bool in_block = std::count(braces.begin(), braces.end(), true) > 0;
    const bool closes_block = !tokens->empty() && (*tokens)[0].kind == TokenKind::kClose &&
                              (*tokens)[0].text == "}" && !braces.empty() && braces.back();
    int base;
    bool continuation = false;
    if (closes_block) {
      base = 0;
    } else if (!in_block) {
      continuation =
          !StartsWith(*tokens, {"purpose", "const", "def", "enum", "policy", "invariant"});
      base = continuation ? 2 : 0;
    } else if (StartsWith(*tokens, {"deny", "allow", "otherwise"})) {
      base = 2;
    } else if (in_rule && StartsWith(*tokens, {"cite", "evidence", "valid", "obligations", "note",
                                               "reason", "effective"})) {
      base = 4;
    } else {
      continuation = in_rule;
      base = in_rule ? 6 : 2;
    }
    line.indent = base;
    if (continuation && line.source_indent > base) line.indent = base + 4;
    if (comment_only) continue;
    if (in_block && StartsWith(line.tokens, {"deny", "allow", "otherwise"})) in_rule = true;
    for (size_t k = 0; k < line.tokens.size(); ++k) {
      const Token& t = line.tokens[k];
      const bool last =
          k + 1 == line.tokens.size() || line.tokens[k + 1].kind == TokenKind::kComment;
      if (t.kind == TokenKind::kOpen && t.text == "{") braces.push_back(last);
      if (t.kind == TokenKind::kClose && t.text == "}" && !braces.empty()) braces.pop_back();
    }
    if (std::count(braces.begin(), braces.end(), true) == 0) in_rule = false;
  }

  // Aligned trailing comments across consecutive lines that all have one.
  for (size_t i = 0; i < lines.size();) {
    auto trailing = [&](size_t k) {
      return !lines[k].blank && !lines[k].code.empty() && !lines[k].comment.empty();
    };
    if (!trailing(i)) {
      ++i;
      continue;
    }
    size_t j = i;
    size_t width = 0;
    while (j < lines.size() && trailing(j)) {
      width = std::max(width, lines[j].indent + lines[j].code.size());
      ++j;
    }
    for (size_t k = i; k < j; ++k) {
      size_t used = lines[k].indent + lines[k].code.size();
      lines[k].code += std::string(width - used + 2, ' ') + lines[k].comment;
    }
    i = j;
  }

  std::string out;
  bool previous_blank = true;  // drops blank lines at the top
  for (size_t i = 0; i < lines.size(); ++i) {
    const Line& line = lines[i];
    if (line.blank) {
      if (!previous_blank) {
        // No blank line right before a closing brace either.
        size_t j = i + 1;
        while (j < lines.size() && lines[j].blank) ++j;
        const bool before_close = j < lines.size() && !lines[j].tokens.empty() &&
                                  lines[j].tokens[0].kind == TokenKind::kClose;
        if (j < lines.size() && !before_close) out += '\n';
      }
      previous_blank = true;
      continue;
    }
    std::string text = line.code.empty() ? line.comment : line.code;
    out += std::string(line.indent, ' ') + text + '\n';
    previous_blank = !line.tokens.empty() && line.tokens.back().kind == TokenKind::kOpen &&
                     line.tokens.back().text == "{";
  }

  // Safety net: the formatted text must still parse. (Tests prove it compiles to the same program.)
  SourceFile formatted{file.path, out};
  Module module;
  std::vector<Diagnostic> diagnostics;
  if (!Parse(formatted, 0, module, diagnostics)) {
    return absl::InternalError(
        absl::StrCat(file.path, ": formatting would break the file; please report this:\n",
                     FormatDiagnostics(diagnostics, {formatted})));
  }
  return out;
}

}  // namespace lawful::dsl
