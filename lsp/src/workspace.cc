// Documents, rule sets and diagnostics: which files make an open file's rule set, and `lawful
// check`'s diagnostics on them in LSP's terms.
#include "workspace.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace lawful::lsp {
namespace {

namespace fs = std::filesystem;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The names quoted in a diagnostic's message: `x`.
std::vector<std::string> QuotedNames(const std::string& message) {
  std::vector<std::string> names;
  for (size_t open = message.find('`'); open != std::string::npos;) {
    size_t close = message.find('`', open + 1);
    if (close == std::string::npos) break;
    names.push_back(message.substr(open + 1, close - open - 1));
    open = message.find('`', close + 1);
  }
  return names;
}

// For a diagnostic about two declarations (a name declared twice, a rule or policy another one
// hides): where the other one is.
json RelatedInformation(const Workspace& w, const Analysis& a, const dsl::Diagnostic& d) {
  json related = json::array();
  static const char* const kCodes[] = {"duplicate", "duplicate-rule", "unreachable",
                                       "unreachable-policy"};
  if (a.index == nullptr ||
      std::find(std::begin(kCodes), std::end(kCodes), d.code) == std::end(kCodes))
    return related;
  // A rule's twin is above it in its own policy; other names may be declared anywhere.
  const bool same_policy = d.code == "duplicate-rule" || d.code == "unreachable";
  for (const std::string& name : QuotedNames(d.message)) {
    const Symbol* found = nullptr;
    for (const Symbol& s : a.index->symbols()) {
      if (!s.declared || s.name != name || s.kind == SymbolKind::kParam) continue;
      const dsl::SourceFile& file = a.checked_files[s.decl.file];
      if (file.path == d.file && s.decl.line == d.line) continue;  // the diagnostic's own
      if (d.code == "unreachable-policy" && s.kind != SymbolKind::kPolicy) continue;
      if (same_policy &&
          (s.kind != SymbolKind::kRule || file.path != d.file || s.decl.line > d.line))
        continue;
      if (found == nullptr || (same_policy && s.decl.line > found->decl.line)) found = &s;
    }
    if (found == nullptr) continue;
    const dsl::SourceFile& file = a.checked_files[found->decl.file];
    related.push_back({{"location",
                        {{"uri", w.UriOf(a, file.path)},
                         {"range", RangeOf(file.text, found->decl.line, found->decl.column,
                                           found->decl.length)}}},
                       {"message", absl::StrCat("`", name, "` is declared here")}});
    return related;
  }
  return related;
}

}  // namespace

std::string PathOfUri(const std::string& uri) {
  constexpr std::string_view kScheme = "file://";
  if (uri.compare(0, kScheme.size(), kScheme) != 0) return "";
  std::string path;
  for (size_t i = kScheme.size(); i < uri.size(); ++i) {
    if (uri[i] == '%' && i + 2 < uri.size() && HexValue(uri[i + 1]) >= 0 &&
        HexValue(uri[i + 2]) >= 0) {
      path += static_cast<char>(HexValue(uri[i + 1]) * 16 + HexValue(uri[i + 2]));
      i += 2;
    } else {
      path += uri[i];
    }
  }
  return path;
}

std::string UriOfPath(const std::string& path) {
  std::string uri = "file://";
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~') {
      uri += static_cast<char>(c);
    } else {
      static const char kHex[] = "0123456789ABCDEF";
      uri += '%';
      uri += kHex[c >> 4];
      uri += kHex[c & 15];
    }
  }
  return uri;
}

void Workspace::Open(const std::string& uri, std::string text) {
  buffers_[uri] = std::move(text);
  Invalidate(uri);
}

void Workspace::Close(const std::string& uri) {
  buffers_.erase(uri);
  Invalidate(uri);
}

std::string* Workspace::Buffer(const std::string& uri) {
  auto it = buffers_.find(uri);
  return it == buffers_.end() ? nullptr : &it->second;
}

std::string Workspace::RootOf(const std::string& uri) const {
  std::string path = PathOfUri(uri);
  if (path.empty()) return "";
  return fs::path(path).parent_path().string();
}

std::string Workspace::RelativePath(const std::string& uri) const {
  std::string path = PathOfUri(uri);
  if (path.empty()) {  // an unsaved, untitled buffer: a rule set of its own
    size_t slash = uri.find_last_of("/:");
    return slash == std::string::npos ? uri : uri.substr(slash + 1);
  }
  return fs::path(path).lexically_relative(RootOf(uri)).generic_string();
}

void Workspace::Invalidate(const std::string& uri) {
  std::string root = RootOf(uri);
  if (root.empty()) root = uri;
  analyses_.erase(root);
}

std::string Workspace::UriOf(const Analysis& a, const std::string& path) const {
  if (!a.buffer_uri.empty()) return a.buffer_uri;
  std::string full = (fs::path(a.root) / path).string();
  for (const auto& [uri, text] : buffers_) {
    if (PathOfUri(uri) == full) return uri;
  }
  return UriOfPath(full);
}

const Analysis& Workspace::AnalysisOf(const std::string& uri) {
  std::string root = RootOf(uri);
  if (root.empty()) {  // not a file: the buffer alone
    auto& slot = analyses_[uri];
    if (slot == nullptr) {
      std::string* text = Buffer(uri);
      auto a = Analyze("", {dsl::SourceFile{RelativePath(uri), text ? *text : ""}});
      a->buffer_uri = uri;
      slot = std::move(a);
    }
    return *slot;
  }
  auto& slot = analyses_[root];
  if (slot != nullptr) return *slot;
  std::vector<dsl::SourceFile> files;
  if (read_files_) {
    absl::StatusOr<std::vector<dsl::SourceFile>> on_disk = dsl::ReadRuleFiles(root);
    if (on_disk.ok()) files = *std::move(on_disk);
    absl::StatusOr<std::vector<dsl::SourceFile>> invariants = dsl::ReadInvariantFiles(root);
    if (invariants.ok()) files.insert(files.end(), invariants->begin(), invariants->end());
  }
  for (const auto& [buffer_uri, text] : buffers_) {
    std::string path = PathOfUri(buffer_uri);
    if (path.empty()) continue;
    std::string relative = fs::path(path).lexically_relative(root).generic_string();
    if (relative.empty() || relative.starts_with("..") || !relative.ends_with(".lawful")) continue;
    auto it = std::find_if(files.begin(), files.end(),
                           [&](const dsl::SourceFile& f) { return f.path == relative; });
    if (it != files.end()) {
      it->text = text;
    } else {
      files.push_back(dsl::SourceFile{relative, text});
    }
  }
  // Rule files by path, then invariant files by path, as `lawful prove` checks them.
  std::sort(files.begin(), files.end(), [](const dsl::SourceFile& a, const dsl::SourceFile& b) {
    return std::pair(dsl::IsInvariantFile(a.path), a.path) <
           std::pair(dsl::IsInvariantFile(b.path), b.path);
  });
  slot = Analyze(root, std::move(files));
  if (slot->rules != nullptr && slot->checked_files.size() == slot->files.size())
    complete_[root] = slot;
  return *slot;
}

const Analysis& Workspace::NamesOf(const std::string& uri) {
  const Analysis& current = AnalysisOf(uri);
  if (current.rules != nullptr && current.checked_files.size() == current.files.size())
    return current;
  auto it = complete_.find(RootOf(uri));
  return it != complete_.end() ? *it->second : current;
}

std::vector<json> PublishDiagnostics(Workspace& w, const Analysis& a, const std::string& trigger) {
  std::map<std::string, json> by_uri;
  std::map<std::string, const std::string*> text_of;
  for (const dsl::SourceFile& f : a.files) {
    std::string uri = w.UriOf(a, f.path);
    by_uri[uri] = json::array();
    text_of[uri] = &f.text;
  }
  for (const dsl::Diagnostic& d : a.diagnostics) {
    std::string uri = trigger;
    for (const dsl::SourceFile& f : a.files) {
      if (f.path == d.file) uri = w.UriOf(a, f.path);
    }
    static const std::string kEmpty;
    const std::string& text = text_of.count(uri) ? *text_of[uri] : kEmpty;
    json diagnostic = {{"range", RangeOf(text, d.line, d.column, d.length)},
                       {"severity", d.severity == dsl::Severity::kError ? 1 : 2},
                       {"code", d.code},
                       {"source", "lawful"},
                       {"message", d.message}};
    json related = RelatedInformation(w, a, d);
    if (!related.empty()) diagnostic["relatedInformation"] = std::move(related);
    by_uri[uri].push_back(std::move(diagnostic));
  }
  std::vector<json> out;
  for (auto& [uri, diagnostics] : by_uri) {
    out.push_back({{"jsonrpc", "2.0"},
                   {"method", "textDocument/publishDiagnostics"},
                   {"params", {{"uri", uri}, {"diagnostics", std::move(diagnostics)}}}});
  }
  return out;
}

}  // namespace lawful::lsp
