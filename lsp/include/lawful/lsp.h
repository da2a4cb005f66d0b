// lawful's language server (`lawful lsp`): the Language Server Protocol over a byte stream, on
// the same parser, checker and formatter as `lawful check` and `lawful fmt` (no second grammar).
//
// The rule set of an open file is every `*.lawful` file below that file's directory, as `lawful
// check DIR` reads it, with the editor's unsaved buffers in place of their files. Diagnostics are
// `lawful check`'s, converted from the checker's byte columns to LSP's UTF-16 code units.
#pragma once

#include <istream>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace lawful::lsp {

// Content-Length framing (the LSP base protocol) over a byte stream.
class FrameReader {
 public:
  explicit FrameReader(std::istream& in) : in_(in) {}
  // The next message's body. Nullopt at the end of the stream. A header block that is not LSP
  // framing (no or a bad Content-Length) gives an empty body, which the session answers with a
  // JSON-RPC parse error, and reading goes on at the next header block.
  std::optional<std::string> Next();

 private:
  std::istream& in_;
};

// `Content-Length: N\r\n\r\n` + body.
std::string Frame(std::string_view body);

// Cuts a byte buffer into message bodies as FrameReader does (the fuzz target's entry point).
std::vector<std::string> SplitFrames(std::string_view bytes);

// One editor's session: open documents, their rule sets, and the answers to its messages. Not
// thread-safe; one session a connection.
class Session {
 public:
  // `read_files` false: a rule set is its open buffers only, nothing is read from disk (the fuzz
  // target, whose URIs are arbitrary).
  explicit Session(bool read_files = true);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Handles one JSON-RPC message body and returns the messages to send back, in order (a
  // response, notifications such as published diagnostics). A body that is not JSON or not a
  // JSON-RPC message gets a JSON-RPC error; nothing here throws.
  std::vector<std::string> Receive(std::string_view body);

  // After an `exit` notification: the process's exit code (0 when `shutdown` came first).
  std::optional<int> exit_code() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Serves one session on `in`/`out` until `exit` or the end of the input. Returns the exit code:
// 0 after shutdown and exit, 1 otherwise.
int Serve(std::istream& in, std::ostream& out);

}  // namespace lawful::lsp
