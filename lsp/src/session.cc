// The JSON-RPC loop: framing, dispatch, and the answer to every malformed message (an error
// response, never a crash).
#include <charconv>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lawful/lsp.h"
#include "workspace.h"

namespace lawful::lsp {

// A message larger than this is refused rather than allocated (the shipped rules are ~10 kB).
constexpr size_t kMaxMessageBytes = 64 << 20;

std::optional<std::string> FrameReader::Next() {
  std::string line;
  size_t length = 0;
  bool have_length = false, bad = false, any_header = false;
  while (true) {
    if (!std::getline(in_, line)) return std::nullopt;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) {
      if (!any_header) continue;  // stray blank lines between messages
      break;
    }
    any_header = true;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) {
      bad = true;
      continue;
    }
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(line.substr(0, colon)),
                               "Content-Length")) {
      std::string value(absl::StripAsciiWhitespace(line.substr(colon + 1)));
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), length);
      have_length = ec == std::errc() && end == value.data() + value.size();
    }
  }
  if (bad || !have_length || length > kMaxMessageBytes) return std::string();
  std::string body(length, '\0');
  in_.read(body.data(), static_cast<std::streamsize>(length));
  if (static_cast<size_t>(in_.gcount()) != length) return std::nullopt;
  return body;
}

std::string Frame(std::string_view body) {
  return absl::StrCat("Content-Length: ", body.size(), "\r\n\r\n",
                      absl::string_view(body.data(), body.size()));
}

std::vector<std::string> SplitFrames(std::string_view bytes) {
  std::istringstream in{std::string(bytes)};
  FrameReader reader(in);
  std::vector<std::string> bodies;
  while (std::optional<std::string> body = reader.Next()) bodies.push_back(*std::move(body));
  return bodies;
}

struct Session::State {
  Workspace workspace;
  bool initialized = false;
  bool shut_down = false;
  std::optional<int> exit_code;
};

Session::Session(bool read_files) : state_(std::make_unique<State>()) {
  state_->workspace.set_read_files(read_files);
}
Session::~Session() = default;

std::optional<int> Session::exit_code() const { return state_->exit_code; }

namespace {

json Capabilities() {
  return {
      {"textDocumentSync",
       {{"openClose", true}, {"change", 2}, {"save", {{"includeText", false}}}}},
      {"hoverProvider", true},
      {"definitionProvider", true},
      {"referencesProvider", true},
      {"renameProvider", {{"prepareProvider", true}}},
      {"documentSymbolProvider", true},
      {"documentFormattingProvider", true},
      {"completionProvider", {{"triggerCharacters", {".", " ", "{"}}}},
  };
}

json ErrorResponse(const json& id, int code, const std::string& message) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}};
}

// Applies one textDocument/didChange content change (whole text, or a range) to `text`.
void ApplyChange(std::string& text, const json& change) {
  if (!change.contains("range")) {
    text = change.at("text").get<std::string>();
    return;
  }
  const json& range = change.at("range");
  auto position = [](const json& p) {
    return Position{p.at("line").get<uint32_t>(), p.at("character").get<uint32_t>()};
  };
  size_t start = OffsetOf(text, position(range.at("start")));
  size_t end = std::max(start, OffsetOf(text, position(range.at("end"))));
  text.replace(start, end - start, change.at("text").get<std::string>());
}

}  // namespace

std::vector<std::string> Session::Receive(std::string_view body) {
  State& s = *state_;
  std::vector<json> out;
  json message = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (message.is_discarded()) {
    return {ErrorResponse(nullptr, kParseError, "the message is not JSON").dump()};
  }
  const bool valid_id = !message.is_object() || !message.contains("id") ||
                        message["id"].is_number_integer() || message["id"].is_string() ||
                        message["id"].is_null();
  if (!message.is_object() || !valid_id ||
      (message.contains("method") && !message["method"].is_string())) {
    return {
        ErrorResponse(nullptr, kInvalidRequest, "the message is not a JSON-RPC request").dump()};
  }
  if (!message.contains("method")) return {};  // a response to a request we never send
  const std::string method = message["method"].get<std::string>();
  const bool is_request = message.contains("id");
  const json id = is_request ? message["id"] : json();
  // By reference: a deeply nested value is parsed and freed without recursion, but copying it
  // would recurse.
  static const json kNoParams = json::object();
  const json& params = message.contains("params") ? message["params"] : kNoParams;
  auto respond = [&](json result) {
    out.push_back({{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}});
  };
  try {
    if (method == "initialize") {
      s.initialized = true;
      respond({{"capabilities", Capabilities()},
               {"serverInfo", {{"name", "lawful"}, {"version", "0.1.0"}}}});
    } else if (method == "exit") {
      s.exit_code = s.shut_down ? 0 : 1;
    } else if (!s.initialized) {
      if (is_request) out.push_back(ErrorResponse(id, kServerNotInitialized, "not initialized"));
    } else if (method == "initialized" || method == "$/cancelRequest" || method == "$/setTrace" ||
               method == "workspace/didChangeConfiguration") {
      // Nothing to do.
    } else if (method == "shutdown") {
      s.shut_down = true;
      respond(nullptr);
    } else if (method == "textDocument/didOpen" || method == "textDocument/didChange" ||
               method == "textDocument/didSave" || method == "textDocument/didClose") {
      const std::string uri = params.at("textDocument").at("uri").get<std::string>();
      if (method == "textDocument/didOpen") {
        s.workspace.Open(uri, params.at("textDocument").at("text").get<std::string>());
      } else if (method == "textDocument/didChange") {
        std::string* text = s.workspace.Buffer(uri);
        if (text == nullptr) throw RequestError(kInvalidParams, "the document is not open");
        for (const json& change : params.at("contentChanges")) ApplyChange(*text, change);
        s.workspace.Invalidate(uri);
      } else if (method == "textDocument/didSave") {
        s.workspace.Invalidate(uri);
      } else {
        s.workspace.Close(uri);
      }
      const Analysis& a = s.workspace.AnalysisOf(uri);
      for (json& n : PublishDiagnostics(s.workspace, a, uri)) out.push_back(std::move(n));
    } else if (method == "textDocument/hover") {
      respond(Hover(s.workspace, params));
    } else if (method == "textDocument/definition") {
      respond(Definition(s.workspace, params));
    } else if (method == "textDocument/references") {
      respond(References(s.workspace, params));
    } else if (method == "textDocument/prepareRename") {
      respond(PrepareRename(s.workspace, params));
    } else if (method == "textDocument/rename") {
      respond(Rename(s.workspace, params));
    } else if (method == "textDocument/documentSymbol") {
      respond(DocumentSymbols(s.workspace, params));
    } else if (method == "textDocument/formatting") {
      respond(Formatting(s.workspace, params));
    } else if (method == "textDocument/completion") {
      respond(Completion(s.workspace, params));
    } else if (is_request) {
      out.push_back(ErrorResponse(id, kMethodNotFound, absl::StrCat("unknown method ", method)));
    }
  } catch (const RequestError& e) {
    out.clear();
    if (is_request) out.push_back(ErrorResponse(id, e.code, e.what()));
  } catch (const json::exception& e) {
    out.clear();
    if (is_request) out.push_back(ErrorResponse(id, kInvalidParams, e.what()));
  } catch (const std::exception& e) {
    out.clear();
    if (is_request) out.push_back(ErrorResponse(id, kInternalError, e.what()));
  }
  std::vector<std::string> bodies;
  // Invalid UTF-8 in a document is replaced, not thrown, when the answer quotes it.
  for (const json& m : out)
    bodies.push_back(m.dump(-1, ' ', false, json::error_handler_t::replace));
  return bodies;
}

int Serve(std::istream& in, std::ostream& out) {
  Session session;
  FrameReader reader(in);
  while (std::optional<std::string> body = reader.Next()) {
    for (const std::string& reply : session.Receive(*body)) out << Frame(reply);
    out.flush();
    if (session.exit_code()) return *session.exit_code();
  }
  return 1;
}

}  // namespace lawful::lsp
