// lawful lsp: how long after a change an editor gets the diagnostics of the whole shipped rule
// set (the target: 50 ms), and a hover and a completion on it. In-process on one session, as
// `lawful lsp` runs it minus the pipe; the shipped rules' three files are open, one is edited.
#include <fstream>
#include <sstream>
#include <string>

#include "benchmark/benchmark.h"
#include "lawful/lsp.h"
#include "lawful/text.h"

namespace {

const std::string kRules = LAWFUL_SOURCE_DIR "/rules/";

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string Quoted(const std::string& text) {
  std::string out;
  lawful::text::AppendJsonString(text, lawful::text::JsonEscaping::kProtobuf, &out);
  return out;
}

std::string Uri(const std::string& file) { return "file://" + kRules + file; }

// A session with the shipped rule files open.
void OpenShippedRules(lawful::lsp::Session& session) {
  session.Receive(R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{}})");
  for (const char* file : {"common.lawful", "marketing.lawful", "service_notices.lawful"}) {
    session.Receive(
        R"({"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":")" +
        Uri(file) + R"(","languageId":"lawful","version":1,"text":)" + Quoted(Read(kRules + file)) +
        "}}}");
  }
}

// didChange of marketing.lawful (the whole text, as VS Code sends a small edit's result) until
// the rule set's diagnostics are back.
void BM_DiagnosticsAfterChange(benchmark::State& state) {
  lawful::lsp::Session session;
  OpenShippedRules(session);
  const std::string text = Read(kRules + "marketing.lawful");
  const std::string edits[2] = {Quoted(text), Quoted(text + "\n# an edit\n")};
  int version = 2;
  for (auto _ : state) {
    std::vector<std::string> out = session.Receive(
        R"({"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":")" +
        Uri("marketing.lawful") + R"(","version":)" + std::to_string(version) +
        R"(},"contentChanges":[{"text":)" + edits[version % 2] + "}]}}");
    ++version;
    if (out.size() != 3) state.SkipWithError("expected diagnostics for the three files");
    benchmark::DoNotOptimize(out);
  }
}
BENCHMARK(BM_DiagnosticsAfterChange)->Unit(benchmark::kMillisecond);

// A hover on `consent_state` in marketing.lawful, the analysis cached.
void BM_Hover(benchmark::State& state) {
  lawful::lsp::Session session;
  OpenShippedRules(session);
  const std::string hover =
      R"({"jsonrpc":"2.0","id":2,"method":"textDocument/hover","params":{"textDocument":{"uri":")" +
      Uri("marketing.lawful") + R"("},"position":{"line":13,"character":35}}})";
  for (auto _ : state) benchmark::DoNotOptimize(session.Receive(hover));
}
BENCHMARK(BM_Hover)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
