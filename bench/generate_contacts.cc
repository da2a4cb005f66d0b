// Writes synthetic contacts (lawful::synth) as JSONL, one lawful.v1.Contact in proto JSON per
// line: the input of the `lawful eval` benchmark (scripts/bench-eval.sh) and of anyone who wants
// a large realistic file to try the CLI on.
//
//   lawful_generate_contacts --count=1000000 --seed=1 --at=2026-03-02T09:00:00Z > contacts.jsonl
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/time/time.h"
#include "decision_output.h"
#include "lawful/synth.h"

ABSL_FLAG(int64_t, count, 1000, "how many contacts to write");
ABSL_FLAG(uint64_t, seed, 1, "the generator's seed: the same seed writes the same contacts");
ABSL_FLAG(std::string, at, "2026-03-02T09:00:00Z",
          "the instant the contacts are generated around (RFC 3339)");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  absl::Time at;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, absl::GetFlag(FLAGS_at), &at, &error)) {
    std::fprintf(stderr, "lawful_generate_contacts: --at: %s\n", error.c_str());
    return 2;
  }
  lawful::synth::ContactGenerator generator(absl::GetFlag(FLAGS_seed), at);
  // The same bytes as protobuf's MessageToJsonString, several times faster.
  lawful::cli::ProtoJsonPrinter printer(lawful::v1::Contact::descriptor());
  lawful::v1::Contact contact;
  std::string lines;
  const int64_t count = absl::GetFlag(FLAGS_count);
  for (int64_t i = 0; i < count; ++i) {
    generator.Next(contact);
    printer.Print(contact, &lines);
    lines.push_back('\n');
    if (lines.size() >= (1 << 20) || i + 1 == count) {
      if (std::fwrite(lines.data(), 1, lines.size(), stdout) != lines.size()) return 1;
      lines.clear();
    }
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}
