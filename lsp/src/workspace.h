// The editor's documents and the rule sets they belong to, and the requests answered from them.
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>

#include "analysis.h"
#include "nlohmann/json.hpp"

namespace lawful::lsp {

using json = nlohmann::json;

// A request that cannot be answered: sent back as a JSON-RPC error.
struct RequestError : std::runtime_error {
  RequestError(int c, const std::string& message) : std::runtime_error(message), code(c) {}
  int code;
};
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kServerNotInitialized = -32002;
inline constexpr int kRequestFailed = -32803;

class Workspace {
 public:
  // Whether a rule set includes the files on disk beside the open buffers.
  void set_read_files(bool read_files) { read_files_ = read_files; }
  // Open buffers, by URI.
  void Open(const std::string& uri, std::string text);
  void Close(const std::string& uri);
  std::string* Buffer(const std::string& uri);

  // The rule set holding `uri`, analysed with the current buffers (cached until a buffer of that
  // rule set changes).
  const Analysis& AnalysisOf(const std::string& uri);
  // The analysis to take declared names from while a file does not parse: the last one in which
  // every file parsed (completion offers the names of the line being typed's file too).
  const Analysis& NamesOf(const std::string& uri);
  // The rule set's root directory for a document.
  std::string RootOf(const std::string& uri) const;
  // Drops the cached analysis of the rule set holding `uri`.
  void Invalidate(const std::string& uri);

  // The URI of a file of an analysed rule set (an open buffer keeps the editor's spelling).
  std::string UriOf(const Analysis& a, const std::string& path) const;
  // The path of `uri` relative to its rule set's root.
  std::string RelativePath(const std::string& uri) const;

 private:
  bool read_files_ = true;
  std::map<std::string, std::string> buffers_;                       // uri -> text
  std::map<std::string, std::shared_ptr<const Analysis>> analyses_;  // root -> analysis
  std::map<std::string, std::shared_ptr<const Analysis>> complete_;  // root -> every file parsed
};

// file:///a/b%20c.lawful -> /a/b c.lawful; empty for other schemes.
std::string PathOfUri(const std::string& uri);
std::string UriOfPath(const std::string& path);

// textDocument/publishDiagnostics for every file of the rule set (empty lists clear old ones).
std::vector<json> PublishDiagnostics(Workspace& w, const Analysis& a, const std::string& trigger);

// The requests, each from its params to its result.
json Hover(Workspace& w, const json& params);
json Definition(Workspace& w, const json& params);
json References(Workspace& w, const json& params);
json PrepareRename(Workspace& w, const json& params);
json Rename(Workspace& w, const json& params);
json DocumentSymbols(Workspace& w, const json& params);
json Formatting(Workspace& w, const json& params);
json Completion(Workspace& w, const json& params);

// A field's kind as the rules see it: "instant", "list of consent records", ...
std::string FieldKind(const google::protobuf::FieldDescriptor* f);

}  // namespace lawful::lsp
