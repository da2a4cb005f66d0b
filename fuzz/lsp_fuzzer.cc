// Arbitrary bytes as what an editor sends `lawful lsp`: cut into messages by the server's own
// framing, each handled by one session (its rule sets are the open buffers only: nothing is read
// from disk). The promises checked: no crash, no exception, no hang; every reply is a JSON-RPC
// 2.0 object in valid JSON; a request that is answered is answered once, with its own id.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "harness.h"
#include "lawful/lsp.h"
#include "nlohmann/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using json = nlohmann::json;
  using lawful::fuzz::Require;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  lawful::lsp::Session session(/*read_files=*/false);
  for (const std::string& body : lawful::lsp::SplitFrames(bytes)) {
    const json request = json::parse(body, nullptr, /*allow_exceptions=*/false);
    int responses = 0;
    for (const std::string& reply : session.Receive(body)) {
      const json message = json::parse(reply, nullptr, /*allow_exceptions=*/false);
      Require(message.is_object(), "a reply is a JSON object");
      Require(message.value("jsonrpc", "") == "2.0", "a reply is JSON-RPC 2.0");
      Require(lawful::lsp::SplitFrames(lawful::lsp::Frame(reply)).size() == 1,
              "a framed reply reads back as one message");
      if (message.contains("method")) continue;  // a notification (diagnostics)
      ++responses;
      if (request.is_object() && request.contains("id") && !message["id"].is_null())
        Require(message["id"] == request["id"], "a response carries its request's id");
    }
    Require(responses <= 1, "a message gets at most one response");
    if (session.exit_code()) break;
  }
  return 0;
}
