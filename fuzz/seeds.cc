// Writes the fuzz targets' seed corpora: `lawful_fuzz_seeds SOURCE_DIR OUT_DIR` fills
// OUT_DIR/rules (the shipped rule files, alone and joined into one rule set, and the golden
// every-construct file), OUT_DIR/program (those rule sets compiled and encoded),
// OUT_DIR/request (every contact of the rule fixtures, of examples/contacts.jsonl and of the
// synthetic generator, alone and as DecideBatchRequests) and OUT_DIR/lsp (an editor's session
// with each shipped rule file: open, edit, every request, shutdown). Generated, never committed:
// the binary files follow the rules and the protos as they change.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "google/protobuf/util/json_util.h"
#include "harness.h"
#include "lawful/dsl.h"
#include "lawful/fixtures.h"
#include "lawful/lsp.h"
#include "lawful/synth.h"
#include "lawful/text.h"
#include "program_codec.h"

namespace {

namespace fs = std::filesystem;

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

int written = 0;
void Write(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
  ++written;
}

// An editor's session with one rule file, framed as `lawful lsp` reads it.
std::string EditorSession(const std::string& name, const std::string& text) {
  std::string quoted;
  lawful::text::AppendJsonString(text, lawful::text::JsonEscaping::kProtobuf, &quoted);
  const std::string document = absl::StrCat(R"({"textDocument":{"uri":"untitled:)", name, R"("}})");
  const std::string at = absl::StrCat(R"({"textDocument":{"uri":"untitled:)", name,
                                      R"("},"position":{"line":3,"character":9}})");
  const std::vector<std::string> messages = {
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}})",
      R"({"jsonrpc":"2.0","method":"initialized","params":{}})",
      absl::StrCat(
          R"({"jsonrpc":"2.0","method":"textDocument/didOpen","params":{"textDocument":{"uri":"untitled:)",
          name, R"(","languageId":"lawful","version":1,"text":)", quoted, "}}}"),
      absl::StrCat(
          R"({"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"untitled:)",
          name,
          R"(","version":2},"contentChanges":[{"range":{"start":{"line":3,"character":0},"end":{"line":3,"character":4}},"text":"def x = contact."}]}})"),
      absl::StrCat(R"({"jsonrpc":"2.0","id":2,"method":"textDocument/hover","params":)", at, "}"),
      absl::StrCat(R"({"jsonrpc":"2.0","id":3,"method":"textDocument/definition","params":)", at,
                   "}"),
      absl::StrCat(R"({"jsonrpc":"2.0","id":4,"method":"textDocument/references","params":)", at,
                   "}"),
      absl::StrCat(R"({"jsonrpc":"2.0","id":5,"method":"textDocument/completion","params":)", at,
                   "}"),
      absl::StrCat(R"({"jsonrpc":"2.0","id":6,"method":"textDocument/rename","params":)",
                   at.substr(0, at.size() - 1), R"(,"newName":"y"}})"),
      absl::StrCat(R"({"jsonrpc":"2.0","id":7,"method":"textDocument/documentSymbol","params":)",
                   document, "}"),
      absl::StrCat(R"({"jsonrpc":"2.0","id":8,"method":"textDocument/formatting","params":)",
                   document, "}"),
      R"({"jsonrpc":"2.0","id":9,"method":"shutdown"})",
      R"({"jsonrpc":"2.0","method":"exit"})"};
  std::string out;
  for (const std::string& m : messages) out += lawful::lsp::Frame(m);
  return out;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "lawful_fuzz_seeds: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) return Fail("usage: lawful_fuzz_seeds SOURCE_DIR OUT_DIR");
  const fs::path source = argv[1], out = argv[2];

  // Rules: each file, the whole rule set as one input (files joined by NUL, as rules_fuzzer
  // splits them), and the golden file that uses every construct of the language.
  absl::StatusOr<std::vector<lawful::dsl::SourceFile>> shipped =
      lawful::dsl::ReadRuleFiles((source / "rules").string());
  if (!shipped.ok()) return Fail(shipped.status().ToString());
  std::vector<std::string> texts;
  for (const lawful::dsl::SourceFile& f : *shipped) {
    Write(out / "rules", f.path, f.text);
    texts.push_back(f.text);
  }
  Write(out / "rules", "shipped_rule_set", absl::StrJoin(texts, std::string(1, '\0')));
  for (const lawful::dsl::SourceFile& f : *shipped)
    Write(out / "lsp", f.path, EditorSession(f.path, f.text));
  const std::string golden = Read(source / "tests/golden/every_construct.lawful");
  Write(out / "rules", "every_construct", golden);

  // Programs: the same rule sets compiled.
  const std::vector<std::pair<std::string, std::vector<lawful::dsl::SourceFile>>> sets = {
      {"shipped", *shipped}, {"every_construct", {{"every_construct.lawful", golden}}}};
  for (const auto& [name, files] : sets) {
    lawful::dsl::CompileResult compiled = lawful::dsl::Compile(files);
    if (!compiled.ok()) return Fail(absl::StrCat(name, " does not compile"));
    compiled.program->sources
        .clear();  // only Explain quotes them; mutations are better spent elsewhere
    Write(out / "program", name, lawful::fuzz::EncodeProgram(*compiled.program));
  }

  // Requests: contacts alone and in batches.
  std::vector<std::pair<std::string, lawful::v1::Contact>> contacts;
  absl::StatusOr<std::vector<lawful::fixtures::Fixture>> fixtures = lawful::fixtures::LoadFixtures(
      (source / "rules" / lawful::fixtures::kFixturesFolder).string());
  if (!fixtures.ok()) return Fail(fixtures.status().ToString());
  for (const lawful::fixtures::Fixture& f : *fixtures) {
    contacts.emplace_back(absl::StrCat("fixture_", fs::path(f.file).stem().string(), "_", f.line),
                          f.contact);
  }
  int line = 0;
  for (absl::string_view json :
       absl::StrSplit(Read(source / "examples/contacts.jsonl"), '\n', absl::SkipEmpty())) {
    lawful::v1::Contact c;
    if (!google::protobuf::util::JsonStringToMessage(std::string(json), &c).ok())
      return Fail("examples/contacts.jsonl does not parse");
    contacts.emplace_back(absl::StrCat("example_", ++line), c);
  }
  int n = 0;
  for (const lawful::v1::Contact& c :
       lawful::synth::Generate(/*seed=*/7, /*count=*/32, lawful::fuzz::FixedAt())) {
    contacts.emplace_back(absl::StrCat("synth_", ++n), c);
  }
  lawful::v1::DecideBatchRequest batch;
  int batches = 0;
  auto flush = [&] {
    Write(out / "request", absl::StrCat("batch_", ++batches), batch.SerializeAsString());
    batch.clear_contacts();
  };
  for (const auto& [name, contact] : contacts) {
    Write(out / "request", name, contact.SerializeAsString());
    *batch.add_contacts() = contact;
    if (batch.contacts_size() == 8) flush();
    // The batches cycle through the shipped purposes and channels.
    static const char* const kPurposes[] = {"newsletter", "product_offer", "survey", "profiling",
                                            "service_notice"};
    batch.mutable_outreach()->set_purpose(kPurposes[batches % 5]);
    batch.mutable_outreach()->set_channel(static_cast<lawful::v1::Channel>(1 + batches % 4));
    batch.mutable_outreach()->mutable_at()->set_seconds(
        absl::ToUnixSeconds(lawful::fuzz::FixedAt()));
  }
  if (batch.contacts_size() > 0) flush();
  std::printf("lawful_fuzz_seeds: %d seeds in %s\n", written, out.c_str());
  return 0;
}
